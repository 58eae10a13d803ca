"""Whole-slide images through OpenSlide, as plain RGB NumPy arrays.

A whole-slide image is a pyramid: level 0 is the full resolution (about 0.25 um/px at 40x),
and every further level is a downsampled copy. Coordinates given to :meth:`Slide.read_region`
are always level-0 pixels, whatever level is read, as in OpenSlide.

Examples
--------
>>> from camelyon.slide import Slide
>>> with Slide("center_0/patient_000_node_0.tif") as s:          # doctest: +SKIP
...     print(s.level_dimensions, s.mpp)
...     tile = s.read_region((1024, 2048), level=1, size=(256, 256))   # (256, 256, 3) uint8
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import openslide

from camelyon.discovery import SLIDE_SUFFIXES
from camelyon.errors import SlideError, SlideParameterError

__all__ = ["Slide", "composite_on_white", "SLIDE_SUFFIXES"]

# SLIDE_SUFFIXES (the suffixes OpenSlide opens) is camelyon.discovery's table, re-exported here.


def _fully_opaque(rgba: np.ndarray) -> bool:
    """True when every alpha is 255 (fast: AND of the pixels as little-endian uint32 words)."""
    if rgba.flags.c_contiguous and rgba.dtype == np.uint8 and rgba.shape[-1] == 4 and sys.byteorder == "little":
        words = rgba.view(np.uint32)
        return int(np.bitwise_and.reduce(words, axis=None)) >= 0xFF000000
    return bool(rgba[..., 3].min() == 255)


def composite_on_white(rgba: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Composite an RGBA image (straight, not premultiplied, alpha) onto a white background.

    OpenSlide marks pixels outside the scanned area as transparent; analysis code wants them
    white, like an empty glass slide.

    Parameters
    ----------
    rgba : ndarray of shape (H, W, 4), uint8
    out : ndarray of shape (H, W, 3), uint8, optional
        Buffer to write into (reused on hot paths).

    Returns
    -------
    ndarray of shape (H, W, 3), uint8
        ``rgb * a / 255 + 255 * (1 - a / 255)``, rounded.
    """
    if out is None:
        out = np.empty(rgba.shape[:2] + (3,), dtype=np.uint8)
    if _fully_opaque(rgba):  # nothing to blend (the common case inside tissue)
        out[...] = rgba[..., :3]
        return out
    a = rgba[..., 3].astype(np.uint16)[..., None]
    blended = (rgba[..., :3].astype(np.uint16) * a + 255 * (255 - a) + 127) // 255
    out[...] = blended.astype(np.uint8)
    return out


#: Largest level, in px, that :meth:`Slide.thumbnail` lets OpenSlide decode whole (256 MiB of RGBA).
THUMBNAIL_MAX_PIXELS = 64_000_000

#: Plausible level-0 resolutions in um/px: from beyond any scanner (0.01) to a low-power overview (100).
MPP_RANGE = (0.01, 100)


def _mpp_from_properties(props) -> tuple[float, float] | None:
    """Level-0 (x, y) um/px from OpenSlide properties, or None when the file does not say."""
    try:
        mx, my = float(props["openslide.mpp-x"]), float(props["openslide.mpp-y"])
        if mx > 0 and my > 0:
            return mx, my
    except (KeyError, ValueError):
        pass
    # Some TIFF writers give the resolution in inches, which OpenSlide 4.0 ignores.
    try:
        unit = props.get("tiff.ResolutionUnit", "").lower()
        rx, ry = float(props["tiff.XResolution"]), float(props["tiff.YResolution"])
        per_um = {"centimeter": 1e4, "inch": 25400.0}.get(unit)
        if per_um and rx > 0 and ry > 0:
            return per_um / rx, per_um / ry
    except (KeyError, ValueError):
        pass
    return None


class Slide:
    """A whole-slide image opened with OpenSlide.

    Parameters
    ----------
    path : path-like
        Any format OpenSlide reads (pyramidal generic TIFF, Aperio SVS, Hamamatsu NDPI, MIRAX, ...).
    mpp : float or (float, float), optional
        Level-0 micrometres per pixel to use instead of (or when missing from) the file.

    Raises
    ------
    SlideError
        The file does not exist or OpenSlide cannot read it.

    Attributes
    ----------
    path : Path
    name : str
        File name without suffix (``patient_000_node_0``).
    """

    def __init__(self, path: str | os.PathLike, mpp: float | tuple[float, float] | None = None):
        self.path = Path(path)
        self.name = self.path.stem if self.path.suffix else self.path.name
        if not self.path.exists():
            raise SlideError(f"{self.path}: slide file not found")
        if self.path.is_dir():
            raise SlideError(f"{self.path}: is a folder, expected a slide file")
        try:
            self._osr = openslide.OpenSlide(str(self.path))
        except openslide.OpenSlideUnsupportedFormatError:
            raise SlideError(
                f"{self.path}: OpenSlide does not recognise this file; expected a whole-slide image "
                "(pyramidal tiled TIFF, SVS, NDPI, MRXS, ...)"
            ) from None
        except (openslide.OpenSlideError, OSError) as exc:
            raise SlideError(f"{self.path}: OpenSlide cannot read this file ({exc})") from None
        if mpp is not None:
            mx, my = (mpp, mpp) if np.isscalar(mpp) else mpp
            if not (MPP_RANGE[0] <= float(mx) <= MPP_RANGE[1] and MPP_RANGE[0] <= float(my) <= MPP_RANGE[1]):
                raise SlideError(f"{self.path}: mpp override must be between {MPP_RANGE[0]} and {MPP_RANGE[1]} "
                                 f"um/px, got {mpp}")
            self._mpp = (float(mx), float(my))
        else:
            self._mpp = _mpp_from_properties(self._osr.properties)

    # -- lifetime ----------------------------------------------------------------------------
    def close(self) -> None:
        """Release the OpenSlide handle."""
        if getattr(self, "_osr", None) is not None:
            self._osr.close()
            self._osr = None

    def __enter__(self) -> Slide:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        w, h = self.dimensions
        return f"Slide({str(self.path)!r}, {w}x{h} px, {self.level_count} levels)"

    @property
    def osr(self) -> openslide.OpenSlide:
        """The underlying ``openslide.OpenSlide`` object."""
        if self._osr is None:
            raise SlideError(f"{self.path}: slide is closed")
        return self._osr

    # -- geometry ------------------------------------------------------------------------------
    @property
    def dimensions(self) -> tuple[int, int]:
        """Level-0 (width, height) in px."""
        return self.osr.dimensions

    @property
    def level_count(self) -> int:
        return self.osr.level_count

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        """(width, height) in px of every level."""
        return self.osr.level_dimensions

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        """Level-0 px per px of every level (1.0 for level 0)."""
        return self.osr.level_downsamples

    @property
    def properties(self) -> dict[str, str]:
        return dict(self.osr.properties)

    @property
    def vendor(self) -> str:
        """OpenSlide's format name (``generic-tiff``, ``aperio``, ``hamamatsu``, ...)."""
        return self.osr.properties.get("openslide.vendor", "unknown")

    @property
    def has_mpp(self) -> bool:
        """True when um/px is known (from the file or the override)."""
        return self._mpp is not None

    @property
    def mpp(self) -> tuple[float, float]:
        """Level-0 (x, y) micrometres per pixel.

        Raises
        ------
        SlideError
            The file has no resolution and no override was given.
        """
        if self._mpp is None:
            raise SlideError(
                f"{self.path}: the slide does not say how many um one pixel covers "
                "(no openslide.mpp-x/mpp-y, no TIFF resolution); give it with --mpp (e.g. --mpp 0.243)"
            )
        return self._mpp

    def check_mpp(self) -> tuple[float, float]:
        """:attr:`mpp`, checked to lie in :data:`MPP_RANGE` before anything is computed from it.

        Raises
        ------
        SlideError
            No resolution, or an implausible one (a 72 dpi image claims 352.8 um/px; a damaged file 1e13).
        """
        mpp = self.mpp
        if not all(MPP_RANGE[0] <= v <= MPP_RANGE[1] for v in mpp):
            raise SlideError(
                f"{self.path}: the slide claims {mpp[0]:.4g} x {mpp[1]:.4g} um/px, outside "
                f"{MPP_RANGE[0]}-{MPP_RANGE[1]} um/px; give the right level-0 resolution with --mpp (e.g. --mpp 0.243)"
            )
        return mpp

    def mpp_at_level(self, level: int) -> float:
        """Mean um/px at ``level``."""
        self._check_level(level)
        mx, my = self.mpp
        return 0.5 * (mx + my) * float(self.level_downsamples[level])

    def best_level_for_mpp(self, um_per_px: float, tolerance: float = 0.1) -> int:
        """The coarsest level whose um/px is at most ``um_per_px`` (within ``tolerance``, relative).

        Reading at that level and (if needed) downscaling never upsamples. Returns 0 when the
        target is finer than level 0.
        """
        if not um_per_px > 0:
            raise SlideParameterError(f"um_per_px must be > 0, got {um_per_px}")
        best = 0
        for level in range(self.level_count):
            if self.mpp_at_level(level) <= um_per_px * (1.0 + tolerance):
                best = level
        return best

    def best_level_for_downsample(self, downsample: float) -> int:
        """The coarsest level whose downsample is at most ``downsample`` (OpenSlide's rule)."""
        return self.osr.get_best_level_for_downsample(downsample)

    def _check_level(self, level: int) -> None:
        if not 0 <= int(level) < self.level_count:
            raise SlideError(f"{self.path}: level {level} does not exist (levels 0..{self.level_count - 1})")

    # -- pixels --------------------------------------------------------------------------------
    def read_region(
        self, location: tuple[int, int], level: int, size: tuple[int, int], out: np.ndarray | None = None
    ) -> np.ndarray:
        """Read a region as RGB.

        Parameters
        ----------
        location : (int, int)
            Level-0 (x, y) of the top-left corner.
        level : int
            Pyramid level to read.
        size : (int, int)
            (width, height) in px at ``level``.
        out : ndarray of shape (height, width, 3), uint8, optional
            Buffer to fill.

        Returns
        -------
        ndarray of shape (height, width, 3), uint8
            Transparent pixels (outside the scanned area) are white.
        """
        self._check_level(level)
        w, h = int(size[0]), int(size[1])
        if w <= 0 or h <= 0:
            raise SlideError(f"{self.path}: region size must be positive, got {size}")
        try:
            img = self.osr.read_region((int(location[0]), int(location[1])), int(level), (w, h))
        except openslide.OpenSlideError as exc:
            raise SlideError(
                f"{self.path}: reading {w}x{h} px at level {level}, level-0 ({location[0]}, {location[1]}) "
                f"failed: {exc} (OpenSlide reads 8-bit RGB(A) slides only)"
            ) from None
        return composite_on_white(np.asarray(img), out=out)

    def read_level(self, level: int, strip_height: int = 2048) -> np.ndarray:
        """Read a whole level as one RGB array of shape (height, width, 3), in strips."""
        self._check_level(level)
        w, h = self.level_dimensions[level]
        ds = self.level_downsamples[level]
        out = np.empty((h, w, 3), dtype=np.uint8)
        for y in range(0, h, strip_height):
            sh = min(strip_height, h - y)
            self.read_region((0, int(round(y * ds))), level, (w, sh), out=out[y : y + sh])
        return out

    def read_at_downsample(self, downsample: float, max_pixels: int = 64_000_000) -> tuple[np.ndarray, float]:
        """The whole slide at (about) ``downsample`` level-0 px per px, never upsampled.

        Reads the best level at or finer than the request and averages blocks of pixels when that
        level is finer by an integer factor of 2 or more. Memory stays near the size of the result.

        Returns
        -------
        image : ndarray of shape (H, W, 3), uint8
        downsample : float
            The downsample actually obtained (level-0 px per image px).
        """
        level = self.best_level_for_downsample(max(1.0, float(downsample)))
        ds = float(self.level_downsamples[level])
        factor = max(1, int(np.floor(downsample / ds + 1e-6)))
        w, h = self.level_dimensions[level]
        ow, oh = w // factor, h // factor
        if ow * oh > max_pixels:
            raise SlideError(
                f"{self.path}: an image at downsample {downsample:g} would have {ow}x{oh} px; "
                "choose a coarser resolution"
            )
        if factor == 1:
            return self.read_level(level), ds
        out = np.empty((oh, ow, 3), dtype=np.uint8)
        rows_per_strip = max(1, 2048 // factor)
        for oy in range(0, oh, rows_per_strip):
            n = min(rows_per_strip, oh - oy)
            strip = self.read_region((0, int(round(oy * factor * ds))), level, (ow * factor, n * factor))
            blocks = strip.reshape(n, factor, ow, factor, 3).astype(np.float32).mean(axis=(1, 3))
            out[oy : oy + n] = np.rint(blocks).astype(np.uint8)
        return out, ds * factor

    def thumbnail(self, max_size: int = 1024) -> np.ndarray:
        """A thumbnail whose longer side is at most ``max_size`` px, RGB on white.

        Returns
        -------
        ndarray of shape (H, W, 3), uint8
        """
        if max_size <= 0:
            raise SlideParameterError(f"max_size must be > 0, got {max_size}")
        w0, h0 = self.dimensions
        level = self.osr.get_best_level_for_downsample(max(w0, h0) / float(max_size))
        lw, lh = self.level_dimensions[level]
        if lw * lh > THUMBNAIL_MAX_PIXELS:  # OpenSlide would decode that whole level into memory
            raise SlideError(
                f"{self.path}: the smallest stored level usable for a {max_size} px thumbnail is {lw} x {lh} px "
                f"({lw * lh * 4 / 2**30:.1f} GiB to decode); the file has no pyramid of smaller levels: convert it "
                "to a pyramidal tiled TIFF (e.g. vips tiffsave IN OUT.tif --tile --pyramid --compression jpeg)"
            )
        try:
            img = self.osr.get_thumbnail((int(max_size), int(max_size)))
        except openslide.OpenSlideError as exc:
            raise SlideError(f"{self.path}: OpenSlide cannot decode this slide's pixels ({exc}); expected 8-bit "
                             "RGB(A) tiles") from None
        arr = np.asarray(img)
        if arr.ndim == 3 and arr.shape[2] == 4:
            return composite_on_white(arr)
        return np.ascontiguousarray(arr[..., :3])
