"""Slide-level features from a tumour-probability heatmap.

A slide classifier does not look at pixels: it looks at a handful of numbers that summarize the
heatmap of a slide. The six features of the course (after the CAMELYON16 winners, Wang et al. 2016) are,
for a probability threshold ``t``:

1. the highest probability on the slide,
2. the mean of the probabilities above 0 (the tissue that the CNN found at least a little suspicious),
3. the number of heatmap pixels above ``t``,
4. and 5. the major and minor axis of the largest object (connected pixels above ``t``): the lengths
   of the axes of the ellipse with the same second moments as the object,
6. the pixel count of the largest object.

Because the slide label is defined by a size in millimetres (ITC up to 0.2 mm, micro up to 2 mm), this
module also gives the sizes in mm and mm2 using the heatmap's um per pixel, the longest diameter of the
largest object (the longest distance across its pixel squares), the number of objects, the mean
probability inside objects and the tumour area over the tissue area, at the thresholds 0.5 and 0.9.

Examples
--------
>>> import numpy as np
>>> from camelyon.features import core_features
>>> p = np.zeros((8, 8), np.float32); p[2:4, 2:6] = 0.75
>>> f = core_features(p, threshold=0.5)
>>> f["max_probability"], f["pixels_above"], f["largest_area_px"]
(0.75, 8, 8)
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from skimage.measure import label as label_objects
from skimage.measure import regionprops

from camelyon.csv_cells import escape_cell, unescape_cell
from camelyon.errors import CamelyonError
from camelyon.heatmap import Heatmap
from minicnn.io import atomic_write

__all__ = [
    "THRESHOLDS",
    "core_features",
    "largest_diameter_px",
    "heatmap_features",
    "feature_names",
    "compute_feature_table",
    "write_features_csv",
    "read_features_csv",
]

#: Default probability thresholds at which the object features are measured.
THRESHOLDS = (0.5, 0.9)

#: Names of the per-threshold features, suffixed by ``_t50`` / ``_t90`` in a feature table.
_PER_THRESHOLD = (
    "pixels_above",
    "n_objects",
    "largest_major_axis_px",
    "largest_minor_axis_px",
    "largest_area_px",
    "largest_major_axis_mm",
    "largest_minor_axis_mm",
    "largest_diameter_mm",
    "largest_area_mm2",
    "area_above_mm2",
    "tumour_tissue_ratio",
    "mean_probability_in_objects",
)
_GLOBAL = ("max_probability", "mean_positive_probability", "tissue_area_mm2")


def core_features(probability: np.ndarray, threshold: float = 0.5) -> dict:
    """The six features of the course on one probability map.

    Parameters
    ----------
    probability : ndarray of shape (H, W)
        Tumour probability per heatmap pixel, in [0, 1] (0 outside tissue).
    threshold : float
        A pixel belongs to an object when its probability is above ``threshold``.
        Objects are 8-connected groups of such pixels.

    Returns
    -------
    dict
        ``max_probability`` (float, 0 for an empty map), ``mean_positive_probability`` (mean of the
        values > 0; 0 when there are none), ``pixels_above`` (int), ``largest_major_axis_px`` and
        ``largest_minor_axis_px`` (float, heatmap pixels; axes of the ellipse with the same second
        moments as the largest object, as ``skimage.measure.regionprops`` defines them; 0 without
        objects), ``largest_area_px`` (int, pixel count of the largest object), plus ``labels``
        (ndarray (H, W) of int, 0 = background, objects numbered from 1) and ``largest_label``
        (int, 0 without objects) for further measurements.
    """
    p = np.asarray(probability, dtype=np.float64)
    if p.ndim != 2:
        raise CamelyonError(f"probability map must be 2-D (H, W), got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise CamelyonError("probability map contains NaN or infinite values")
    ### BEGIN SOLUTION (S07)
    max_probability = float(p.max()) if p.size else 0.0
    positive = p[p > 0]
    mean_positive = float(positive.mean()) if positive.size else 0.0
    above = p > threshold
    pixels_above = int(above.sum())
    labels = label_objects(above, connectivity=2)
    major = minor = 0.0
    largest_area = 0
    largest_label = 0
    if pixels_above > 0:
        counts = np.bincount(labels.ravel())
        counts[0] = 0  # background
        largest_label = int(np.argmax(counts))
        largest_area = int(counts[largest_label])
        region = regionprops((labels == largest_label).astype(np.uint8))[0]
        major = float(region.axis_major_length)
        minor = float(region.axis_minor_length)
    ### END SOLUTION
    return {
        "max_probability": max_probability,
        "mean_positive_probability": mean_positive,
        "pixels_above": pixels_above,
        "largest_major_axis_px": major,
        "largest_minor_axis_px": minor,
        "largest_area_px": largest_area,
        "labels": labels,
        "largest_label": largest_label,
    }


def largest_diameter_px(mask: np.ndarray) -> float:
    """Longest distance across an object drawn as pixel squares, in pixels.

    The object's pixels are unit squares; the diameter is the largest distance between two of
    their corners (so one pixel measures sqrt(2), a 1 x 5 bar measures sqrt(26)). This is the
    heatmap counterpart of the "largest diameter" that defines the CAMELYON17 slide labels.

    Parameters
    ----------
    mask : ndarray of shape (H, W), bool
        The object's pixels.

    Returns
    -------
    float
        0 for an empty mask.
    """
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return 0.0
    corners = np.concatenate([
        np.stack([rows + dr, cols + dc], axis=1) for dr in (0, 1) for dc in (0, 1)
    ]).astype(np.float64)
    corners = np.unique(corners, axis=0)
    if len(corners) > 64:
        # Only the convex hull's vertices can be the ends of the longest chord.
        from scipy.spatial import ConvexHull

        corners = corners[ConvexHull(corners).vertices]
    diff = corners[:, None, :] - corners[None, :, :]
    return float(np.sqrt((diff ** 2).sum(-1)).max())


def _suffix(threshold: float) -> str:
    return f"_t{int(round(threshold * 100)):02d}"


def feature_names(thresholds: Sequence[float] = THRESHOLDS) -> list[str]:
    """Column names of :func:`heatmap_features`, in a fixed order."""
    names = list(_GLOBAL)
    for t in thresholds:
        names += [n + _suffix(t) for n in _PER_THRESHOLD]
    return names


def heatmap_features(heatmap: Heatmap, thresholds: Sequence[float] = THRESHOLDS) -> dict:
    """All slide features of one heatmap.

    Parameters
    ----------
    heatmap : Heatmap
        Probability (H, W) and tissue (H, W) maps; ``um_per_px`` gives the size of one heatmap pixel.
    thresholds : sequence of float
        Probability thresholds for the object features (default 0.5 and 0.9).

    Returns
    -------
    dict
        Keys in the order of :func:`feature_names`; sizes in heatmap pixels (``_px``), mm and mm2.
        ``tumour_tissue_ratio`` is pixels above the threshold over tissue pixels (0 without tissue).
    """
    if not heatmap.um_per_px or heatmap.um_per_px <= 0:
        raise CamelyonError(f"heatmap of {heatmap.slide}: um_per_px must be > 0, got {heatmap.um_per_px}")
    mm_per_px = heatmap.um_per_px / 1000.0
    prob = heatmap.probability
    tissue_px = int(heatmap.tissue.sum())
    out: dict = {}
    for i, t in enumerate(thresholds):
        core = core_features(prob, t)
        if i == 0:
            out["max_probability"] = core["max_probability"]
            out["mean_positive_probability"] = core["mean_positive_probability"]
            out["tissue_area_mm2"] = tissue_px * mm_per_px ** 2
        labels = core["labels"]
        n_objects = int(labels.max())
        largest = labels == core["largest_label"] if core["largest_label"] else np.zeros_like(labels, bool)
        in_objects = prob[labels > 0]
        s = _suffix(t)
        out["pixels_above" + s] = core["pixels_above"]
        out["n_objects" + s] = n_objects
        out["largest_major_axis_px" + s] = core["largest_major_axis_px"]
        out["largest_minor_axis_px" + s] = core["largest_minor_axis_px"]
        out["largest_area_px" + s] = core["largest_area_px"]
        out["largest_major_axis_mm" + s] = core["largest_major_axis_px"] * mm_per_px
        out["largest_minor_axis_mm" + s] = core["largest_minor_axis_px"] * mm_per_px
        out["largest_diameter_mm" + s] = largest_diameter_px(largest) * mm_per_px
        out["largest_area_mm2" + s] = core["largest_area_px"] * mm_per_px ** 2
        out["area_above_mm2" + s] = core["pixels_above"] * mm_per_px ** 2
        out["tumour_tissue_ratio" + s] = core["pixels_above"] / tissue_px if tissue_px else 0.0
        out["mean_probability_in_objects" + s] = float(in_objects.mean()) if in_objects.size else 0.0
    return {name: out[name] for name in feature_names(thresholds)}


def _features_of_file(path: str) -> tuple[str, dict]:
    """Worker: load one heatmap file and compute its features (module level for process pools)."""
    hm = Heatmap.load(path)
    return hm.slide, heatmap_features(hm)


def compute_feature_table(
    heatmap_paths: Iterable[str | os.PathLike],
    *,
    workers: int | None = 1,
    scheduler: str | None = None,
    progress: bool = True,
) -> tuple[list[str], list[str], np.ndarray]:
    """Features of many heatmap files.

    Parameters
    ----------
    heatmap_paths : iterable of path
        ``.npz`` files written by :meth:`Heatmap.save`.
    workers : int or None
        Worker processes (1 = this process; None = every core).
    scheduler : str, optional
        Dask scheduler address to compute on a cluster instead (see :func:`camelyon.executor.map_slides`).
    progress : bool
        Show a progress bar.

    Returns
    -------
    slides : list of str
        Slide file names, sorted.
    names : list of str
        Feature names (:func:`feature_names`).
    X : ndarray of shape (n_slides, n_features), float64

    Raises
    ------
    CamelyonError
        When a heatmap cannot be read; the message names every failed file.
    """
    from camelyon.executor import map_slides

    paths = [str(p) for p in heatmap_paths]
    rows: dict[str, dict] = {}
    failed = []
    for res in map_slides(_features_of_file, paths, workers=workers, scheduler=scheduler, desc="features",
                          progress=progress):
        if res.ok:
            slide, feats = res.value
            rows[slide] = feats
        else:
            res.raise_if_unwritten()
            failed.append(f"{res.item}: {res.error}")
    if failed:
        raise CamelyonError("could not compute features of " + "; ".join(failed))
    slides = sorted(rows)
    names = feature_names()
    X = np.array([[rows[s][n] for n in names] for s in slides], dtype=np.float64).reshape(len(slides), len(names))
    return slides, names, X


def write_features_csv(path: str | os.PathLike, slides: Sequence[str], names: Sequence[str], X: np.ndarray,
                       labels: Sequence[str] | None = None) -> Path:
    """Write a cohort's feature table as CSV (``slide,[label,]<features>``), atomically.

    Parameters
    ----------
    path : path
        Output CSV.
    slides : sequence of str
        One slide name per row.
    names : sequence of str
        Feature names (columns of ``X``).
    X : ndarray of shape (n_slides, n_features)
    labels : sequence of str, optional
        Reference slide labels, written as a ``label`` column when given.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape != (len(slides), len(names)):
        raise CamelyonError(f"feature table has shape {X.shape}, expected ({len(slides)}, {len(names)})")
    if labels is not None and len(labels) != len(slides):
        raise CamelyonError(f"{len(labels)} labels for {len(slides)} slides")

    def write_rows(fh) -> None:
        w = csv.writer(fh)
        w.writerow(["slide"] + (["label"] if labels is not None else []) + [escape_cell(n) for n in names])
        for i, slide in enumerate(slides):
            w.writerow([escape_cell(slide)] + ([escape_cell(labels[i])] if labels is not None else [])
                       + [repr(float(v)) for v in X[i]])

    return atomic_write(path, write_rows, mode="w", newline="")


def read_features_csv(path: str | os.PathLike) -> tuple[list[str], list[str], np.ndarray, list[str] | None]:
    """Read a table written by :func:`write_features_csv`.

    Returns
    -------
    slides : list of str
    names : list of str
    X : ndarray of shape (n_slides, n_features), float64
    labels : list of str or None
        The ``label`` column when the file has one.

    Raises
    ------
    CamelyonError
        Missing file, wrong header, or a value that is not a finite number (names file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise CamelyonError(f"feature table not found: {path}")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return _read_features(path, csv.reader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CamelyonError(f"{path}: not a readable feature table (UTF-8 CSV): {exc}") from None


def _read_features(path: Path, reader) -> tuple[list[str], list[str], np.ndarray, list[str] | None]:
    header = next(reader, None)
    if not header or header[0] != "slide":
        raise CamelyonError(f"{path}:1: expected a header starting with 'slide', got {header}")
    has_label = len(header) > 1 and header[1] == "label"
    first = 2 if has_label else 1
    names = [unescape_cell(n) for n in header[first:]]
    slides, labels, rows = [], [], []
    for line_no, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise CamelyonError(f"{path}:{line_no}: expected {len(header)} columns, got {len(row)}")
        try:
            values = [float(v) for v in row[first:]]
        except ValueError as exc:
            raise CamelyonError(f"{path}:{line_no}: {exc}") from None
        if not all(math.isfinite(v) for v in values):
            raise CamelyonError(f"{path}:{line_no}: feature values must be finite numbers")
        slides.append(unescape_cell(row[0]))
        if has_label:
            labels.append(unescape_cell(row[1]))
        rows.append(values)
    X = np.array(rows, dtype=np.float64).reshape(len(rows), len(names))
    return slides, names, X, (labels if has_label else None)
