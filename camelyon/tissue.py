"""Tissue detection on a low-resolution image of a slide.

Stained tissue is coloured (pink eosin, purple hematoxylin); glass is white or grey. The HSV
saturation, ``(max - min) / max`` of the RGB channels, therefore separates tissue from background
well, and Otsu's method picks the threshold between the two modes of its histogram. A median blur
before thresholding removes JPEG and sensor noise; a morphological closing joins tissue broken
by fat and pale stroma; small objects (dust, debris) and small holes (fat cells, tears) are removed.
Every size is given in micrometres so that the same parameters hold at any resolution.

Examples
--------
>>> from camelyon.slide import Slide                                        # doctest: +SKIP
>>> with Slide("tumor_001.tif") as s:                                       # doctest: +SKIP
...     rgb, ds = s.read_at_downsample(16)
...     mask = tissue_mask(rgb, um_per_px=s.mpp[0] * ds)
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage
from skimage import morphology
from skimage.filters import threshold_otsu

from camelyon.errors import TissueError

__all__ = [
    "saturation",
    "otsu_threshold",
    "tissue_mask",
    "median_blur",
    "binary_closing_disk",
    "remove_small_regions",
    "TissueMask",
    "slide_tissue_mask",
]


def saturation(rgb: np.ndarray) -> np.ndarray:
    """HSV saturation of an RGB image.

    Parameters
    ----------
    rgb : ndarray of shape (H, W, 3), uint8

    Returns
    -------
    ndarray of shape (H, W), uint8
        ``255 * (max - min) / max`` over the channels (0 for black pixels).
    """
    rgb = np.asarray(rgb)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mx = np.maximum(np.maximum(r, g), b)
    mn = np.minimum(np.minimum(r, g), b)
    sat = np.zeros(mx.shape, dtype=np.float32)
    np.divide((mx - mn).astype(np.float32), mx, out=sat, where=mx > 0)
    return np.rint(sat * 255.0).astype(np.uint8)


def otsu_threshold(values: np.ndarray) -> float:
    """Otsu's threshold of uint8 values: the cut that maximises the between-class variance.

    Returns 255 when all values are equal (nothing to separate).
    """
    values = np.asarray(values)
    if values.size == 0 or values.min() == values.max():
        return 255.0
    return float(threshold_otsu(values))


def _odd(n: float) -> int:
    k = max(1, int(round(n)))
    return k if k % 2 == 1 else k + 1


def tissue_mask(
    rgb: np.ndarray,
    um_per_px: float,
    *,
    blur_um: float = 16.0,
    closing_um: float = 16.0,
    min_object_um2: float = 20_000.0,
    max_hole_um2: float = 40_000.0,
    min_saturation: int = 15,
    threshold: float | None = None,
) -> np.ndarray:
    """A boolean tissue mask of a low-resolution RGB image.

    Parameters
    ----------
    rgb : ndarray of shape (H, W, 3), uint8
        The slide (or a region) at a low resolution, background white.
    um_per_px : float
        Micrometres per pixel of ``rgb``.
    blur_um : float
        Median-filter width in um (odd number of px, at least 1).
    closing_um : float
        Radius of the disk used for the morphological closing, in um (0 to skip).
    min_object_um2 : float
        Connected tissue pieces smaller than this area (um^2) are dropped.
    max_hole_um2 : float
        Holes inside tissue smaller than this area (um^2) are filled.
    min_saturation : int
        Lower bound of the threshold (0-255 scale): on a slide without tissue Otsu would split
        the background noise; this floor keeps such a slide empty.
    threshold : float, optional
        A fixed saturation threshold (0-255) instead of Otsu's.

    Returns
    -------
    ndarray of shape (H, W), bool
        True on tissue.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise TissueError(f"rgb must have shape (H, W, 3), got {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise TissueError(f"rgb must be uint8, got {rgb.dtype}")
    if not um_per_px > 0:
        raise TissueError(f"um_per_px must be > 0, got {um_per_px}")
    sat = saturation(rgb[..., :3])
    k = _odd(blur_um / um_per_px)
    if k > 1:
        sat = median_blur(sat, k)
    t = otsu_threshold(sat) if threshold is None else float(threshold)
    t = max(t, float(min_saturation))
    mask = sat > t
    radius = int(round(closing_um / um_per_px))
    if radius >= 1:
        pad = radius + 1  # pad so that the closing does not glue tissue to the image border
        padded = np.pad(mask, pad)
        mask = binary_closing_disk(padded, radius)[pad:-pad, pad:-pad]
    px_area = um_per_px * um_per_px
    mask = remove_small_regions(mask, min_object_um2 / px_area)
    holes = remove_small_regions(~mask, max_hole_um2 / px_area, keep_border=True)
    return ~holes


def _shifted(h: int, w: int, dy: int, dx: int):
    """Slices (dst, src) such that ``dst[y, x] = src[y + dy, x + dx]`` inside an (h, w) image."""
    dst = (slice(max(0, -dy), h - max(0, dy)), slice(max(0, -dx), w - max(0, dx)))
    src = (slice(max(0, dy), h - max(0, -dy)), slice(max(0, dx), w - max(0, -dx)))
    return dst, src


def _dilate(mask: np.ndarray, offsets) -> np.ndarray:
    h, w = mask.shape
    out = np.zeros((h, w), dtype=bool)
    for dy, dx in offsets:  # out[y, x] |= mask[y + dy, x + dx]; outside the image is False
        dst, src = _shifted(h, w, dy, dx)
        out[dst] |= mask[src]
    return out


def _erode(mask: np.ndarray, offsets) -> np.ndarray:
    h, w = mask.shape
    out = np.ones((h, w), dtype=bool)
    for dy, dx in offsets:  # out[y, x] &= mask[y + dy, x + dx]; outside the image is False
        dst, src = _shifted(h, w, dy, dx)
        out[dst] &= mask[src]
        if dy > 0:
            out[h - dy :] = False
        elif dy < 0:
            out[:-dy] = False
        if dx > 0:
            out[:, w - dx :] = False
        elif dx < 0:
            out[:, :-dx] = False
    return out


def binary_closing_disk(mask: np.ndarray, radius: int) -> np.ndarray:
    """Morphological closing of a boolean mask with a disk of ``radius`` px (outside = False).

    Equal to ``scipy.ndimage.binary_closing(mask, structure=skimage.morphology.disk(radius))``;
    small disks are done with OR / AND of shifted copies, which is much faster.
    """
    disk = morphology.disk(radius).astype(bool)
    if radius > 6:
        return ndimage.binary_closing(mask, structure=disk)
    offsets = [(int(dy) - radius, int(dx) - radius) for dy, dx in zip(*np.nonzero(disk), strict=True)]
    return _erode(_dilate(mask, offsets), offsets)  # the disk is symmetric: no reflection needed


_MEDIAN9 = [(1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3), (5, 8), (4, 7),
            (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2)]


def median_blur(image: np.ndarray, k: int) -> np.ndarray:
    """k x k median filter (k odd) with edge replication, shape and dtype of ``image``.

    A 3 x 3 window (the default at 8 um/px) runs a median-of-9 exchange network on the nine
    shifted copies, many times faster than ``scipy.ndimage.median_filter``, which serves the
    other sizes.
    """
    if k <= 1:
        return image
    if k != 3:
        return ndimage.median_filter(image, size=k, mode="nearest")
    h, w = image.shape
    padded = np.pad(image, 1, mode="edge")
    p = [np.ascontiguousarray(padded[i : i + h, j : j + w]) for i in range(3) for j in range(3)]
    # Paeth's 19-exchange median-of-9 network, each exchange on whole images
    for a, b in _MEDIAN9:
        lo = np.minimum(p[a], p[b])
        np.maximum(p[a], p[b], out=p[b])
        p[a] = lo
    return p[4]


def remove_small_regions(mask: np.ndarray, min_pixels: float, keep_border: bool = False) -> np.ndarray:
    """Drop 8-connected True regions with fewer than ``min_pixels`` pixels.

    Parameters
    ----------
    mask : ndarray of shape (H, W), bool
    min_pixels : float
        Smallest region (in pixels) that is kept.
    keep_border : bool
        Keep regions that touch the image border whatever their size (used for holes: background
        touching the border is not a hole).
    """
    if min_pixels <= 1 or not mask.any():
        return mask
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes >= min_pixels
    if keep_border:
        border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
        keep[np.unique(border)] = True
    keep[0] = False
    return keep[labels]


class TissueMask:
    """A tissue mask together with its geometry on the slide.

    Attributes
    ----------
    mask : ndarray of shape (H, W), bool
    downsample : float
        Level-0 px per mask px.
    um_per_px : float
        Micrometres per mask px.
    """

    def __init__(self, mask: np.ndarray, downsample: float, um_per_px: float):
        self.mask = mask
        self.downsample = float(downsample)
        self.um_per_px = float(um_per_px)

    @property
    def fraction(self) -> float:
        """Fraction of the slide covered by tissue."""
        return float(self.mask.mean()) if self.mask.size else 0.0

    def __repr__(self) -> str:
        return f"TissueMask({self.mask.shape}, downsample={self.downsample:g}, tissue={self.fraction:.1%})"


def slide_tissue_mask(slide, um_per_px: float = 8.0, **kwargs) -> TissueMask:
    """Detect tissue on a :class:`camelyon.slide.Slide` at about ``um_per_px`` micrometres per pixel.

    Parameters
    ----------
    slide : camelyon.slide.Slide
    um_per_px : float
        Resolution of the mask (default 8 um/px, about a 1/32 thumbnail of a 40x slide).
    **kwargs
        Passed to :func:`tissue_mask`.

    Returns
    -------
    TissueMask
        With a warning when no tissue is found.
    """
    mpp = float(np.mean(slide.mpp))
    rgb, ds = slide.read_at_downsample(max(1.0, um_per_px / mpp))
    mask = tissue_mask(rgb, um_per_px=mpp * ds, **kwargs)
    if not mask.any():
        warnings.warn(f"{slide.path}: no tissue found; the slide gives no tiles", UserWarning, stacklevel=2)
    return TissueMask(mask, ds, mpp * ds)
