"""CAMELYON16 task 1 from heatmap features: a slide classifier instead of the heatmap maximum.

The pipeline's default slide probability is the highest value of the smoothed heatmap
(:func:`camelyon.camelyon16.detection.slide_probability`). The 2016 winners instead described each
slide's heatmap by a few dozen features (largest tumour region, area above thresholds, ...) and trained a
random forest on the *training* slides' heatmaps. This module does the same with the project's parts:

1. the features of :func:`camelyon.features.heatmap_features` (thresholds 0.5 and 0.9);
2. the label of each training slide from its annotation: ``negative`` for ``training/normal``, else the
   class of its largest annotated tumour region by its longest diameter (``itc`` <= 0.2 mm, ``micro`` <=
   2 mm, ``macro``), so the forest also learns how small lesions look;
3. :class:`camelyon.slide_classifier.SlideClassifier` (a balanced random forest, seeded);
4. the tumour probability of a test slide = 1 - P(negative).

Caveat: the tile CNN was trained on tiles of the same training slides, so their heatmaps are cleaner than
those of unseen slides; the forest may then trust weak signals less than it should.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from camelyon.errors import CamelyonError

__all__ = ["training_slide_label", "fit_slide_scorer", "tumour_probabilities", "load_heatmaps"]


def training_slide_label(layout, stem: str) -> str:
    """``negative`` for a normal training slide, else the size class of its largest tumour annotation."""
    from camelyon.annotations import largest_diameter_mm, read_annotations
    from camelyon.slide import Slide
    from camelyon.staging import slide_label_from_diameter

    if layout.roles.get(stem) == "normal":
        return "negative"
    ann = layout.annotation_of(stem)
    if ann is None:
        raise CamelyonError(f"training slide {stem} is in training/tumor but has no lesion annotation")
    with Slide(layout.slides[stem]) as slide:
        if not slide.has_mpp:
            raise CamelyonError(f"{layout.slides[stem]}: no resolution (um/px): cannot size its lesions")
        mpp = slide.mpp
    diameters = [largest_diameter_mm(a.coordinates, mpp) for a in read_annotations(ann).tumour()]
    label = slide_label_from_diameter(max(diameters, default=None))
    return "itc" if label == "negative" else label  # a tumour slide whose annotation is a dot or a sliver


def _feature_table(heatmaps: dict) -> tuple[list[str], np.ndarray]:
    from camelyon.features import feature_names, heatmap_features

    names = feature_names()
    rows = [list(heatmap_features(hm).values()) for hm in heatmaps.values()]
    return names, np.asarray(rows, dtype=np.float64).reshape(len(rows), len(names))


def fit_slide_scorer(heatmaps: dict, labels: dict, *, kind: str = "forest", n_estimators: int = 200,
                     seed: int = 0):
    """Fit the slide classifier on training slides.

    Parameters
    ----------
    heatmaps : dict
        Slide stem -> :class:`camelyon.heatmap.Heatmap` of a training slide.
    labels : dict
        Slide stem -> ``negative`` / ``itc`` / ``micro`` / ``macro`` (:func:`training_slide_label`).
    kind, n_estimators, seed
        The classifier (``forest`` or ``tree``), its trees and its ``random_state``.

    Returns
    -------
    camelyon.slide_classifier.SlideClassifier
    """
    from camelyon.slide_classifier import SlideClassifier

    missing = [s for s in heatmaps if s not in labels]
    if missing:
        raise CamelyonError(f"no training label for {', '.join(missing[:5])}")
    names, X = _feature_table(heatmaps)
    clf = SlideClassifier(kind, n_estimators=n_estimators, random_state=seed)
    return clf.fit(X, [labels[s] for s in heatmaps], feature_names=names)


def tumour_probabilities(clf, heatmaps: dict) -> dict:
    """Slide stem -> tumour probability (1 - P(negative)) of each heatmap under the fitted classifier."""
    if not heatmaps:
        return {}
    names, X = _feature_table(heatmaps)
    proba = clf.predict_proba(X, feature_names=names)
    classes = [str(c) for c in clf.classes_]
    p_negative = proba[:, classes.index("negative")] if "negative" in classes else np.zeros(len(X))
    return {stem: float(np.clip(1.0 - p, 0.0, 1.0)) for stem, p in zip(heatmaps, p_negative, strict=True)}


def load_heatmaps(folder: Path, stems) -> dict:
    """Slide stem -> Heatmap of ``folder/<stem>.npz`` for each stem."""
    from camelyon.heatmap import Heatmap

    return {stem: Heatmap.load(Path(folder) / f"{stem}.npz") for stem in stems}
