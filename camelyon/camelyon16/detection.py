"""Lesion detections from a heatmap: the CAMELYON16 lesion-level submission (``probability,X,Y``).

Method (every length in micrometres, so the result does not depend on the heatmap's grid):

1. **Smoothing.** The probability map (0 outside tissue) is blurred with a Gaussian of standard
   deviation ``smooth_um`` (default: one heatmap pixel, i.e. the tile stride). A lone tile that
   fires is damped; a lesion covering several tiles keeps its level.
2. **Local maxima.** A heatmap pixel is a candidate when it is a tissue pixel, its smoothed value is
   at least ``threshold`` and no neighbour in its 3 x 3 window is higher (plateaus give every pixel
   of the plateau).
3. **Non-maximum suppression.** Candidates are taken from the highest smoothed value down (ties: raster
   order); one is kept when no kept detection lies within ``nms_um`` of it. A macro-metastasis thus
   gives a few detections rather than one per tile, and repeated hits on one lesion (which the FROC
   ignores) stay few.
4. **Output.** Each detection's probability is its smoothed value; X, Y are the level-0 centre of its
   tile: ``origin + col * stride_level0 + tile extent / 2``.

Predicted lesion outlines (for QuPath and ASAP) are the outer contours of the connected regions of
the smoothed map at ``threshold`` (holes filled), in level-0 px.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from camelyon.errors import CamelyonError

__all__ = ["DetectionParams", "detect_lesions", "lesion_outlines", "cell_centres_level0", "slide_probability"]


@dataclass
class DetectionParams:
    """Settings of :func:`detect_lesions`.

    Attributes
    ----------
    threshold : float
        Smallest smoothed probability of a detection (and the level of the outlines).
    smooth_um : float or None
        Gaussian sigma in um (None: one heatmap pixel; 0: no smoothing).
    nms_um : float
        Radius of the non-maximum suppression in um.
    max_detections : int or None
        Keep at most this many detections per slide (the most probable).
    """

    threshold: float = 0.5
    smooth_um: float | None = None
    nms_um: float = 300.0
    max_detections: int | None = None

    def check(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise CamelyonError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.smooth_um is not None and self.smooth_um < 0:
            raise CamelyonError(f"smoothing must be >= 0 um, got {self.smooth_um}")
        if self.nms_um < 0:
            raise CamelyonError(f"NMS radius must be >= 0 um, got {self.nms_um}")
        if self.max_detections is not None and self.max_detections < 1:
            raise CamelyonError(f"max detections must be >= 1, got {self.max_detections}")


def _smoothed(heatmap, params: DetectionParams) -> np.ndarray:
    from scipy import ndimage

    prob = np.where(heatmap.tissue, heatmap.probability, 0.0).astype(np.float64)
    sigma_um = heatmap.um_per_px if params.smooth_um is None else params.smooth_um
    if sigma_um > 0 and heatmap.um_per_px > 0:
        prob = ndimage.gaussian_filter(prob, sigma=sigma_um / heatmap.um_per_px, mode="constant")
    return prob


def cell_centres_level0(heatmap, rows, cols) -> tuple[np.ndarray, np.ndarray]:
    """Level-0 (x, y) of the centres of the tiles of heatmap pixels ``(rows, cols)`` (may be fractional)."""
    half = heatmap.tile_size * heatmap.downsample / 2.0
    x = heatmap.origin[0] + np.asarray(cols, dtype=np.float64) * heatmap.stride_level0 + half
    y = heatmap.origin[1] + np.asarray(rows, dtype=np.float64) * heatmap.stride_level0 + half
    return x, y


def detect_lesions(heatmap, params: DetectionParams | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detections of one heatmap.

    Parameters
    ----------
    heatmap : camelyon.heatmap.Heatmap
    params : DetectionParams, optional

    Returns
    -------
    probability, x, y : ndarray of shape (N,), float64
        Sorted by decreasing probability; x, y in level-0 px.
    """
    from scipy import ndimage

    params = params or DetectionParams()
    params.check()
    smooth = _smoothed(heatmap, params)
    peak = ndimage.maximum_filter(smooth, size=3, mode="constant", cval=-np.inf)
    cand = heatmap.tissue & (smooth >= params.threshold) & (smooth >= peak) & (smooth > 0)
    r, c = np.nonzero(cand)
    p = smooth[r, c]
    order = np.lexsort((c, r, -p))  # highest first, ties in raster order
    r, c, p = r[order], c[order], p[order]
    radius_px = params.nms_um / heatmap.um_per_px if heatmap.um_per_px > 0 else 0.0
    kept: list[int] = []
    for i in range(len(p)):
        if kept:
            kr, kc = r[kept], c[kept]
            if np.any((kr - r[i]) ** 2 + (kc - c[i]) ** 2 <= radius_px**2):
                continue
        kept.append(i)
        if params.max_detections is not None and len(kept) >= params.max_detections:
            break
    kept_arr = np.asarray(kept, dtype=np.int64)
    x, y = cell_centres_level0(heatmap, r[kept_arr], c[kept_arr])
    return p[kept_arr].astype(np.float64), x, y


def lesion_outlines(heatmap, params: DetectionParams | None = None, min_pixels: int = 1) -> list[np.ndarray]:
    """Outer outlines of the regions where the smoothed heatmap is at least ``threshold``.

    Returns
    -------
    list of ndarray of shape (N, 2)
        Polygons (x, y) in level-0 px, one per region of at least ``min_pixels`` heatmap pixels,
        largest first.
    """
    from scipy import ndimage
    from skimage.measure import find_contours, label

    params = params or DetectionParams()
    params.check()
    region_mask = (_smoothed(heatmap, params) >= params.threshold) & heatmap.tissue
    labels = label(region_mask, connectivity=2)
    out = []
    for lab in range(1, int(labels.max()) + 1):
        region = ndimage.binary_fill_holes(labels == lab)
        if int(region.sum()) < min_pixels:
            continue
        contours = find_contours(np.pad(region, 1).astype(np.float32), 0.5)
        ring = max(contours, key=len) - 1.0  # (row, col) in heatmap px
        if len(ring) > 1 and np.array_equal(ring[0], ring[-1]):
            ring = ring[:-1]  # closed contours repeat their first point
        x, y = cell_centres_level0(heatmap, ring[:, 0], ring[:, 1])
        out.append((int(region.sum()), np.column_stack([x, y])))
    out.sort(key=lambda t: -t[0])
    return [poly for _, poly in out]


def slide_probability(heatmap, params: DetectionParams | None = None) -> float:
    """Tumour probability of the slide (CAMELYON16 task 1): the highest value of the smoothed heatmap
    over tissue (0 for a heatmap without tissue)."""
    params = params or DetectionParams()
    if not heatmap.tissue.any():
        return 0.0
    return float(_smoothed(heatmap, params)[heatmap.tissue].max())
