"""The CAMELYON16 evaluation mask: which lesion, if any, a detection falls on.

The challenge's evaluation (``Evaluation_FROC.py`` of the CAMELYON16 repository) works on a mask at
pyramid level 5 (downsample 32) and takes level 0 as 0.243 um/px whatever the scanner:

1. tumour pixels of the level-5 mask are grown: a pixel joins when its Euclidean distance to tumour
   is below ``75 / (0.243 * 2**5 * 2)`` = 4.82 px (a 37.5 um radius; 75 um is about five tumour
   cells, so two lesions closer than that merge);
2. holes in the grown mask are filled;
3. regions are labelled with 8-connectivity (``skimage.measure.label(connectivity=2)``);
4. a region whose ``regionprops`` major axis is below ``275 / (0.243 * 2**5)`` = 35.37 px (200 um,
   the ITC limit, plus the 75 um growth) is an isolated-tumour-cell (ITC) region: detections on it
   are neither hits nor false positives, and it is not counted as a lesion.

This module builds that mask from lesion annotations (ASAP XML or QuPath GeoJSON, tumour areas
minus the ``_2`` exclusions, rasterized directly at level 5 with the pixel-centre rule) or reads it
from an evaluation-mask TIFF (tumour: any non-zero value of the first channel; the official masks
use 255). The official script rasterizes at level 0 and reads the pyramid's level 5, so outlines
can differ from ours by one level-5 pixel (32 level-0 px) at the border.

To save memory the distance transform, the hole filling and the labelling run on the tumour's
bounding box grown by ``ceil(radius) + 1`` px; this gives the same labels, in the same order, as
running them on the whole level-5 mask (nothing outside that box is within the radius, and the
background ring around the box is connected to the outside).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from camelyon.errors import CamelyonError

__all__ = [
    "EVALUATION_LEVEL",
    "LEVEL0_UM_PER_PX",
    "GROWTH_UM",
    "ITC_AXIS_UM",
    "growth_radius_px",
    "itc_axis_px",
    "label_evaluation_mask",
    "itc_regions",
    "EvaluationMask",
    "mask_from_annotations",
    "mask_from_tiff",
]

#: Pyramid level of the evaluation mask (downsample 2**5 = 32).
EVALUATION_LEVEL = 5
#: Level-0 resolution the official evaluation assumes for every slide (um/px).
LEVEL0_UM_PER_PX = 0.243
#: Distance (um) over which tumour is grown before lesions are labelled; half of it is the radius.
GROWTH_UM = 75.0
#: Regions whose major axis is below this (um; 200 um ITC limit + 75 um growth) are ITC.
ITC_AXIS_UM = 275.0


def growth_radius_px(level: int = EVALUATION_LEVEL, level0_um_per_px: float = LEVEL0_UM_PER_PX) -> float:
    """Growth radius in mask pixels: ``75 / (0.243 * 2**level * 2)`` (4.8225 at level 5)."""
    return GROWTH_UM / (level0_um_per_px * 2**level * 2)


def itc_axis_px(level: int = EVALUATION_LEVEL, level0_um_per_px: float = LEVEL0_UM_PER_PX) -> float:
    """ITC major-axis limit in mask pixels: ``275 / (0.243 * 2**level)`` (35.365 at level 5)."""
    return ITC_AXIS_UM / (level0_um_per_px * 2**level)


def label_evaluation_mask(tumour: np.ndarray, radius: float | None = None) -> np.ndarray:
    """Grow tumour by ``radius``, fill holes and label regions with 8-connectivity.

    Parameters
    ----------
    tumour : ndarray of shape (H, W), bool
        Tumour pixels of the level-5 mask.
    radius : float, optional
        Growth radius in mask pixels: a pixel joins when its distance to tumour is ``< radius``
        (default :func:`growth_radius_px`).

    Returns
    -------
    ndarray of shape (H, W), int32
        0 for background, 1..n for the regions in raster order of their first pixel.
    """
    from scipy import ndimage
    from skimage.measure import label

    tumour = np.asarray(tumour, dtype=bool)
    if tumour.ndim != 2:
        raise CamelyonError(f"evaluation mask must be 2-D, got shape {tumour.shape}")
    radius = growth_radius_px() if radius is None else float(radius)
    labels = np.zeros(tumour.shape, dtype=np.int32)
    rows = np.flatnonzero(tumour.any(axis=1))
    if rows.size == 0:
        return labels
    cols = np.flatnonzero(tumour.any(axis=0))
    m = int(math.ceil(radius)) + 1
    r0, r1 = max(int(rows[0]) - m, 0), min(int(rows[-1]) + m + 1, tumour.shape[0])
    c0, c1 = max(int(cols[0]) - m, 0), min(int(cols[-1]) + m + 1, tumour.shape[1])
    distance = ndimage.distance_transform_edt(~tumour[r0:r1, c0:c1])
    filled = ndimage.binary_fill_holes(distance < radius)
    labels[r0:r1, c0:c1] = label(filled, connectivity=2)
    return labels


def itc_regions(labels: np.ndarray, axis_px: float | None = None) -> frozenset[int]:
    """Labels of the regions whose ``regionprops`` major axis is below ``axis_px`` (ITC).

    Parameters
    ----------
    labels : ndarray of shape (H, W), int
        Output of :func:`label_evaluation_mask`.
    axis_px : float, optional
        Limit in mask pixels (default :func:`itc_axis_px`).
    """
    from skimage.measure import regionprops

    axis_px = itc_axis_px() if axis_px is None else float(axis_px)
    out = set()
    for region in regionprops(labels):
        length = getattr(region, "axis_major_length", None)
        if length is None:  # scikit-image < 0.19
            length = region.major_axis_length
        if length < axis_px:
            out.add(int(region.label))
    return frozenset(out)


@dataclass
class EvaluationMask:
    """The labelled level-5 mask of one tumour slide.

    Attributes
    ----------
    labels : ndarray of shape (H, W), int32
        0 background, 1..n regions (lesions and ITC regions).
    itc : frozenset of int
        Region labels that are ITC (ignored by the FROC).
    source : str
        Where the mask came from (annotation or mask file).
    level : int
        Pyramid level of ``labels`` (5).
    downsample : float or None
        Level-0 px per mask px when it is not ``2**level`` (masks scaled to a slide's own
        resolution, see :func:`mask_from_annotations`).
    """

    labels: np.ndarray
    itc: frozenset
    source: str = ""
    level: int = EVALUATION_LEVEL
    downsample: float | None = None

    @property
    def n_regions(self) -> int:
        return int(self.labels.max()) if self.labels.size else 0

    @property
    def lesions(self) -> list[int]:
        """Labels of the regions that count as lesions (not ITC)."""
        return [i for i in range(1, self.n_regions + 1) if i not in self.itc]

    def region_at(self, x: float, y: float) -> int:
        """Region label under level-0 point ``(x, y)``: pixel ``(int(y) // 32, int(x) // 32)``.

        Raises
        ------
        CamelyonError
            The point lies outside the mask (outside the slide).
        """
        ds = 2**self.level if self.downsample is None else self.downsample
        r, c = int(int(y) // ds), int(int(x) // ds)
        h, w = self.labels.shape
        if x < 0 or y < 0 or r >= h or c >= w:
            raise CamelyonError(
                f"({x:g}, {y:g}) lies outside the slide ({w * ds:g} x {h * ds:g} level-0 px at most)"
            )
        return int(self.labels[r, c])


def _finish(tumour: np.ndarray, source: str, downsample: float | None = None,
            level0_um_per_px: float = LEVEL0_UM_PER_PX) -> EvaluationMask:
    mask_um = level0_um_per_px * (2**EVALUATION_LEVEL if downsample is None else downsample)
    labels = label_evaluation_mask(tumour, GROWTH_UM / (mask_um * 2))
    return EvaluationMask(labels, itc_regions(labels, ITC_AXIS_UM / mask_um), source, downsample=downsample)


def mask_from_annotations(annotations, level0_dimensions: tuple[int, int], source: str = "",
                          slide_um_per_px: float | None = None) -> EvaluationMask:
    """Evaluation mask of a slide from its lesion annotations.

    Parameters
    ----------
    annotations : camelyon.annotations.AnnotationSet
        Tumour areas are filled, exclusion areas (``_2``) cut out.
    level0_dimensions : (int, int)
        Slide width and height in level-0 px; the mask is ``ceil(h / 32) x ceil(w / 32)``.
    source : str
        Name of the annotation file, for messages.
    slide_um_per_px : float, optional
        Not official. None (default): level 0 is taken as 0.243 um/px and the mask is level 5, as
        the challenge did for every slide. Given: the slide's own level-0 resolution; the mask then
        has the official mask resolution (0.243 x 32 = 7.776 um/px) with an integer downsample
        ``max(1, round(7.776 / slide_um_per_px))`` and the 75 um / 275 um rules are applied in um at
        that resolution (for synthetic slides at 0.5-4 um/px, where the official constants would
        call every lesion ITC).
    """
    from camelyon.annotations import rasterize

    w, h = (int(v) for v in level0_dimensions)
    source = source or str(getattr(annotations, "path", "") or "")
    if slide_um_per_px is None:
        ds = 2**EVALUATION_LEVEL
        tumour = rasterize(annotations, (-(-h // ds), -(-w // ds)), ds)
        return _finish(tumour, source)
    if not slide_um_per_px > 0:
        raise CamelyonError(f"{source}: slide resolution must be > 0 um/px, got {slide_um_per_px}")
    ds = max(1, int(round(LEVEL0_UM_PER_PX * 2**EVALUATION_LEVEL / slide_um_per_px)))
    tumour = rasterize(annotations, (-(-h // ds), -(-w // ds)), ds)
    return _finish(tumour, source, downsample=float(ds), level0_um_per_px=slide_um_per_px)


def mask_from_tiff(path: str | os.PathLike) -> EvaluationMask:
    """Evaluation mask of a slide read from an evaluation-mask TIFF (any non-zero value is tumour).

    Level 5 is read when the file has a level with downsample 32 (as the official script does);
    otherwise the best finer level is sampled at the centres of the level-5 pixels, band by band.
    The result covers ``ceil(h / 32) x ceil(w / 32)`` pixels of the level-0 size ``w x h``.
    """
    import openslide

    path = Path(path)
    try:
        osr = openslide.OpenSlide(str(path))
    except (openslide.OpenSlideError, OSError) as exc:
        raise CamelyonError(f"{path}: cannot read the evaluation mask ({exc})") from None
    ds = 2**EVALUATION_LEVEL
    try:
        w0, h0 = osr.dimensions
        out = np.zeros((-(-h0 // ds), -(-w0 // ds)), dtype=bool)
        exact = [i for i, d in enumerate(osr.level_downsamples) if abs(d - ds) < 1e-6]
        if exact:
            lw, lh = osr.level_dimensions[exact[0]]
            rgba = np.asarray(osr.read_region((0, 0), exact[0], (lw, lh)))
            hh, ww = min(lh, out.shape[0]), min(lw, out.shape[1])
            out[:hh, :ww] = (rgba[:hh, :ww, 0] > 0) & (rgba[:hh, :ww, 3] > 0)
        else:
            level = osr.get_best_level_for_downsample(ds)
            lds = osr.level_downsamples[level]
            lw, lh = osr.level_dimensions[level]
            cols = np.minimum(((np.arange(out.shape[1]) + 0.5) * ds / lds).astype(np.int64), lw - 1)
            band = max(1, 4096 // max(1, int(ds / lds)))  # level-5 rows per read
            for r0 in range(0, out.shape[0], band):
                r1 = min(r0 + band, out.shape[0])
                rows = np.minimum(((np.arange(r0, r1) + 0.5) * ds / lds).astype(np.int64), lh - 1)
                y0, y1 = int(rows[0]), int(rows[-1]) + 1
                rgba = np.asarray(osr.read_region((0, int(y0 * lds)), level, (lw, y1 - y0)))
                sub = rgba[rows - y0][:, cols]
                out[r0:r1] = (sub[..., 0] > 0) & (sub[..., 3] > 0)
    finally:
        osr.close()
    return _finish(out, str(path))
