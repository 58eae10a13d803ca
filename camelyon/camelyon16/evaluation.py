"""``camelyon evaluate16``: both CAMELYON16 scores of a submission on a data folder.

Which slides are scored: the test slides of a CAMELYON16 layout (``testing/images``) when there are
any, else every slide the layout lists (:func:`camelyon.camelyon16.layout.detect_layout`).
Which are tumour slides, in this order: the ``--reference`` CSV, ``testing/reference.csv``, the
training folder (``tumor/`` or ``normal/``), else whether the slide has a lesion annotation.
A tumour slide's evaluation mask comes from ``MASKS/<stem>_mask.tif`` (or ``<stem>_Mask.tif``,
``<stem>.tif``) when a mask folder is given, else from its annotation file (ASAP XML or GeoJSON).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from camelyon.camelyon16.froc import FP_RATES, SlideHits, froc_curve, froc_score, score_slide, slide_auc
from camelyon.camelyon16.layout import detect_layout
from camelyon.camelyon16.reference import (
    Detections,
    read_detections,
    read_probabilities,
    read_reference,
    slide_key,
)
from camelyon.errors import CamelyonError
from camelyon.messages import count_noun

__all__ = ["Evaluation16", "evaluate16", "find_mask_file"]


@dataclass
class Evaluation16:
    """The scores of one evaluation.

    Attributes
    ----------
    froc : float or None
        Mean sensitivity at 1/4 ... 8 FP per slide (None without detections).
    sensitivities : dict
        FP-per-slide rate -> sensitivity.
    fp_per_slide, sensitivity, thresholds : ndarray
        The FROC curve.
    auc : float or None
        Slide-level ROC AUC (None without probabilities).
    auc_ci : (float, float) or None
        Bootstrap interval of ``auc``.
    slides : dict
        Slide stem -> counts (detections, TP, FP, repeat, ITC, lesions, lesions hit, tumour).
    layout : str
        What :meth:`Layout.describe` said.
    """

    froc: float | None = None
    sensitivities: dict = field(default_factory=dict)
    fp_per_slide: np.ndarray | None = None
    sensitivity: np.ndarray | None = None
    thresholds: np.ndarray | None = None
    auc: float | None = None
    auc_ci: tuple | None = None
    auc_confidence: float = 0.95
    slides: dict = field(default_factory=dict)
    layout: str = ""
    missing_detections: list = field(default_factory=list)
    unmatched_detections: list = field(default_factory=list)

    @property
    def n_lesions(self) -> int:
        return sum(s["lesions"] for s in self.slides.values())

    def summary(self) -> str:
        """The lines the command prints (``FROC <value>``, ``slide AUC <value>``, details)."""
        lines = []
        n_tumour = sum(1 for s in self.slides.values() if s["tumour"])
        if self.froc is not None:
            lines.append(f"FROC {self.froc:.4f}")
            lines.append("  sensitivity at " + ", ".join(f"{_rate(r)}: {v:.3f}" for r, v in self.sensitivities.items())
                         + " FP/slide")
            tot = {k: sum(s[k] for s in self.slides.values()) for k in ("TP", "FP", "repeat", "ITC", "itc_regions")}
            lines.append(f"  {count_noun(len(self.slides), 'slide')} ({n_tumour} tumour), "
                         f"{count_noun(self.n_lesions, 'lesion')} (+{tot['itc_regions']} ITC regions); detections: "
                         f"{tot['TP']} TP, {tot['FP']} FP, {tot['repeat']} repeat hits, {tot['ITC']} on ITC regions")
        if self.auc is not None:
            lo, hi = self.auc_ci
            lines.append(f"slide AUC {self.auc:.4f}")
            lines.append(f"  {self.auc_confidence:.0%} bootstrap interval {lo:.4f} - {hi:.4f} over "
                         f"{count_noun(len(self.slides), 'slide')} ({n_tumour} tumour)")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "froc": self.froc,
            "sensitivities": {_rate(r): v for r, v in self.sensitivities.items()},
            "auc": self.auc,
            "auc_ci": list(self.auc_ci) if self.auc_ci else None,
            "n_slides": len(self.slides),
            "n_lesions": self.n_lesions,
            "curve": None if self.fp_per_slide is None else {
                "fp_per_slide": self.fp_per_slide.tolist(), "sensitivity": self.sensitivity.tolist(),
                "threshold": [None if not np.isfinite(t) else float(t) for t in self.thresholds]},
            "slides": self.slides,
            "layout": self.layout,
            "slides_without_detections_file": self.missing_detections,
            "detection_files_without_slide": self.unmatched_detections,
        }


def _rate(r: float) -> str:
    return {0.25: "1/4", 0.5: "1/2"}.get(float(r), f"{float(r):g}")


def find_mask_file(masks_dir: Path, stem: str) -> Path | None:
    """``<stem>_mask.tif``, ``<stem>_Mask.tif`` or ``<stem>.tif`` (any case) in ``masks_dir``."""
    wanted = {f"{stem}_mask".lower(), stem.lower()}
    for f in sorted(masks_dir.iterdir()):
        if f.suffix.lower() in (".tif", ".tiff") and f.stem.lower() in wanted:
            return f
    return None


def _detection_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise CamelyonError(f"detections folder not found: {folder}")
    out = {}
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix.lower() == ".csv" and not f.name.startswith("."):
            out[slide_key(f.name)] = f
    return out


def evaluate16(data_dir, detections: str | os.PathLike | None = None, probabilities=None, reference=None,
               masks=None, n_bootstrap: int = 2000, confidence: float = 0.95, seed: int = 0,
               log=None, slide_mpp: bool = False) -> Evaluation16:
    """Score CAMELYON16 lesion detections (FROC) and slide probabilities (AUC).

    Parameters
    ----------
    data_dir : path
        Slides and their lesion annotations (any layout :func:`detect_layout` knows).
    detections : path, optional
        Folder of ``<slide stem>.csv`` files of ``probability,X,Y`` rows; a slide without a file has
        no detections.
    probabilities : path, optional
        ``image,probability`` CSV; every scored slide needs a row.
    reference : path, optional
        CSV of ``name,Tumor|Normal`` rows saying which slides are tumour slides.
    masks : path, optional
        Folder of evaluation-mask TIFFs used instead of the annotations.
    n_bootstrap, confidence, seed
        Bootstrap of the AUC interval.
    log : callable, optional
        Receives progress lines (the layout found).
    slide_mpp : bool
        Not official: scale the evaluation mask to each slide's own level-0 um/px instead of the
        0.243 um/px the challenge assumed (see :func:`mask_from_annotations`); for synthetic slides.

    Returns
    -------
    Evaluation16
    """
    if detections is None and probabilities is None:
        raise CamelyonError("nothing to evaluate: give detections (FROC) and/or probabilities (slide AUC)")
    layout = detect_layout(data_dir)
    if log:
        log(layout.describe())
    slides = layout.testing or layout.slides
    is_tumour = _tumour_slides(layout, slides, reference)
    result = Evaluation16(layout=layout.describe())
    if detections is not None:
        _score_detections(result, layout, slides, is_tumour, Path(detections), masks, slide_mpp)
    else:
        for stem in slides:
            result.slides[stem] = {"tumour": bool(is_tumour[stem]), "lesions": 0}
    if probabilities is not None:
        _score_probabilities(result, slides, is_tumour, probabilities, n_bootstrap, confidence, seed)
    return result


def _tumour_slides(layout, slides: dict, reference) -> dict:
    """Slide stem -> whether it is a tumour slide: from ``reference`` (or the layout's
    ``testing/reference.csv`` for test slides), else the training folder, else whether it has an annotation."""
    ref_rows = read_reference(reference) if reference else None
    if ref_rows is None and layout.kind == "camelyon16" and layout.reference is not None and layout.testing:
        ref_rows = read_reference(layout.reference)
    is_tumour = {}
    for stem in slides:
        if ref_rows is not None:
            row = ref_rows.get(slide_key(stem))
            if row is None:
                raise CamelyonError(f"{reference or layout.reference}: no row for slide {stem}")
            is_tumour[stem] = row["tumour"]
        elif layout.roles.get(stem) in ("normal", "tumour"):
            is_tumour[stem] = layout.roles[stem] == "tumour"
        else:
            is_tumour[stem] = layout.annotation_of(stem) is not None
    return is_tumour


def _evaluation_mask(layout, stem: str, path: Path, masks_dir: Path | None, slide_mpp: bool):
    """The level-5 evaluation mask of a tumour slide: its mask TIFF when ``masks_dir`` has one, else built
    from its annotation (ASAP XML or GeoJSON)."""
    from camelyon.annotations import read_annotations
    from camelyon.camelyon16.evaluation_mask import mask_from_annotations, mask_from_tiff

    mfile = find_mask_file(masks_dir, stem) if masks_dir else None
    if mfile is not None:
        return mask_from_tiff(mfile)
    ann = layout.annotation_of(stem)
    if ann is None:
        raise CamelyonError(
            f"{stem} is a tumour slide but has no annotation in "
            f"{', '.join(map(str, layout.annotation_dirs)) or 'lesion_annotations/ (none found)'}"
            + (f" nor a mask in {masks_dir}" if masks_dir else "")
            + ": its lesions are unknown")
    dims, mpp = _dimensions(path)
    return mask_from_annotations(read_annotations(ann), dims, str(ann), slide_um_per_px=mpp if slide_mpp else None)


def _score_detections(result: Evaluation16, layout, slides: dict, is_tumour: dict, detections: Path, masks,
                      slide_mpp: bool) -> None:
    """Lesion-level FROC of the ``<stem>.csv`` files in ``detections`` into ``result``."""
    files = _detection_files(detections)
    masks_dir = Path(masks) if masks else None
    if masks_dir is not None and not masks_dir.is_dir():
        raise CamelyonError(f"mask folder not found: {masks_dir}")
    hits: list[SlideHits] = []
    for stem, path in slides.items():
        mask = _evaluation_mask(layout, stem, path, masks_dir, slide_mpp) if is_tumour[stem] else None
        det_file = files.get(slide_key(stem))
        if det_file is None:
            result.missing_detections.append(stem)
        d = read_detections(det_file) if det_file is not None else Detections.empty()
        h = score_slide(stem, d.probability, d.x, d.y, mask, d.where)
        hits.append(h)
        result.slides[stem] = h.counts()
    known = {slide_key(s) for s in slides}
    result.unmatched_detections = sorted(str(f) for k, f in files.items() if k not in known)
    fp, se, thr = froc_curve(hits)
    score, at = froc_score(fp, se, FP_RATES)
    result.froc, result.sensitivities = score, at
    result.fp_per_slide, result.sensitivity, result.thresholds = fp, se, thr


def _score_probabilities(result: Evaluation16, slides: dict, is_tumour: dict, probabilities, n_bootstrap: int,
                         confidence: float, seed: int) -> None:
    """Slide-level ROC AUC (with its bootstrap interval) of the ``image,probability`` CSV into ``result``."""
    probs = read_probabilities(probabilities)
    missing = [s for s in slides if slide_key(s) not in probs]
    if missing:
        raise CamelyonError(f"{probabilities}: no probability for {count_noun(len(missing), 'slide')} "
                            f"({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''})")
    y = np.array([is_tumour[s] for s in slides], dtype=bool)
    s = np.array([probs[slide_key(st)] for st in slides], dtype=np.float64)
    result.auc, result.auc_ci = slide_auc(y, s, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed)
    result.auc_confidence = confidence
    for st, p in zip(slides, s, strict=True):
        result.slides[st]["probability"] = float(p)


def _dimensions(path: Path) -> tuple[tuple[int, int], float | None]:
    from camelyon.slide import Slide

    with Slide(path) as slide:
        return slide.dimensions, (float(np.mean(slide.mpp)) if slide.has_mpp else None)
