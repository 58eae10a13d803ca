"""Cut a slide into a regular grid of tiles and label each tile.

A tile is ``tile_size`` x ``tile_size`` px at the output resolution: a pyramid level, or a
resolution in um/px (read at the closest finer level and scaled down). Tiles start every
``stride`` px; a tile is kept when the tissue mask covers at least ``min_tissue`` of it, and it is
labelled tumour (1) when the annotated tumour covers more than ``tumour_threshold`` of the tile,
or of its centre ``center_size`` x ``center_size`` px (the PatchCamelyon rule: 96 px tiles,
centre 32 px, any tumour).

The result is a table (a NumPy structured array, one row per tile, fields in :data:`TILE_DTYPE`)
with level-0 coordinates, so that it does not depend on the level the tiles are read at.

Examples
--------
>>> from camelyon.slide import Slide                                             # doctest: +SKIP
>>> from camelyon.annotations import read_asap
>>> grid = TileGrid(tile_size=256, level=1, min_tissue=0.5)
>>> with Slide("tumor_001.tif") as s:
...     table = grid.tiles(s, annotations=read_asap("tumor_001.xml"))
...     reader = TileReader(s, grid.geometry(s))
...     first = reader.read(table["x"][0], table["y"][0])          # (256, 256, 3) uint8
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from camelyon.annotations import AnnotationSet, rasterize
from camelyon.errors import CamelyonError
from camelyon.slide import MPP_RANGE
from camelyon.tissue import TissueMask, slide_tissue_mask

__all__ = [
    "TILE_DTYPE",
    "TileGrid",
    "GridGeometry",
    "TileReader",
    "integral_image",
    "box_fraction",
    "box_fraction_direct",
    "label_tiles",
]

#: Fields of a tile table. x, y: level-0 px of the top-left corner; level: level read;
#: size: px read at that level (equals the tile size unless scaled); row, col: grid cell;
#: tissue_fraction, tumour_fraction in [0, 1]; label: 1 tumour, 0 normal.
TILE_DTYPE = np.dtype(
    [
        ("x", np.int64),
        ("y", np.int64),
        ("level", np.int16),
        ("size", np.int32),
        ("row", np.int32),
        ("col", np.int32),
        ("tissue_fraction", np.float32),
        ("tumour_fraction", np.float32),
        ("label", np.int8),
    ]
)


#: Largest tile side in px (a 4096 px tile is 48 MiB of RGB; CNN tiles are 96-512 px).
MAX_TILE_SIZE = 4096


@dataclass(frozen=True)
class GridGeometry:
    """Where the tiles of one slide lie and how they are read.

    Attributes
    ----------
    level : int
        Level the pixels are read from.
    read_size : int
        Tile side in px at ``level`` (scaled to ``tile_size`` when different).
    tile_size : int
        Tile side in output px.
    stride : int
        Grid step in output px.
    downsample : float
        Level-0 px per output px.
    um_per_px : float
        Micrometres per output px.
    rows, cols : int
        Grid size (only whole tiles inside the slide).
    """

    level: int
    read_size: int
    tile_size: int
    stride: int
    downsample: float
    um_per_px: float
    rows: int
    cols: int

    @property
    def extent_level0(self) -> float:
        """Tile side in level-0 px."""
        return self.tile_size * self.downsample

    @property
    def stride_level0(self) -> float:
        """Grid step in level-0 px."""
        return self.stride * self.downsample


def integral_image(mask: np.ndarray) -> np.ndarray:
    """Summed-area table of a 2-D mask: ``S[r, c] = mask[:r, :c].sum()``, shape (H + 1, W + 1), int32/int64."""
    dtype = np.int32 if mask.size < 2**31 else np.int64
    s = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=dtype)
    np.cumsum(mask, axis=0, dtype=dtype, out=s[1:, 1:])
    np.cumsum(s[1:, 1:], axis=1, out=s[1:, 1:])
    return s


def box_fraction(
    integral: np.ndarray, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray
) -> np.ndarray:
    """Fraction of True mask pixels inside boxes, from the integral image of the mask.

    Parameters
    ----------
    integral : ndarray of shape (H + 1, W + 1)
        From :func:`integral_image`.
    x0, y0, x1, y1 : ndarray of shape (N,), float
        Box bounds in mask pixels (x1, y1 exclusive). Bounds are rounded to whole pixels and
        clipped to the mask; boxes are at least one pixel wide. Parts outside the mask count as
        False.

    Returns
    -------
    ndarray of shape (N,), float32
    """
    h, w = integral.shape[0] - 1, integral.shape[1] - 1
    c0 = np.floor(np.asarray(x0, dtype=np.float64) + 0.5).astype(np.int64)
    r0 = np.floor(np.asarray(y0, dtype=np.float64) + 0.5).astype(np.int64)
    c1 = np.maximum(np.floor(np.asarray(x1, dtype=np.float64) + 0.5).astype(np.int64), c0 + 1)
    r1 = np.maximum(np.floor(np.asarray(y1, dtype=np.float64) + 0.5).astype(np.int64), r0 + 1)
    area = (c1 - c0) * (r1 - r0)
    c0, c1 = np.clip(c0, 0, w), np.clip(c1, 0, w)
    r0, r1 = np.clip(r0, 0, h), np.clip(r1, 0, h)
    inside = integral[r1, c1] - integral[r0, c1] - integral[r1, c0] + integral[r0, c0]
    return (inside / area).astype(np.float32)


def box_fraction_direct(
    mask: np.ndarray, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray
) -> np.ndarray:
    """Same as :func:`box_fraction`, summing each box of ``mask`` directly (for a few boxes)."""
    h, w = mask.shape
    c0 = np.floor(np.asarray(x0, dtype=np.float64) + 0.5).astype(np.int64)
    r0 = np.floor(np.asarray(y0, dtype=np.float64) + 0.5).astype(np.int64)
    c1 = np.maximum(np.floor(np.asarray(x1, dtype=np.float64) + 0.5).astype(np.int64), c0 + 1)
    r1 = np.maximum(np.floor(np.asarray(y1, dtype=np.float64) + 0.5).astype(np.int64), r0 + 1)
    area = (c1 - c0) * (r1 - r0)
    out = np.empty(len(c0), dtype=np.float32)
    for k in range(len(c0)):
        a, b = min(max(c0[k], 0), w), min(max(c1[k], 0), w)
        c, d = min(max(r0[k], 0), h), min(max(r1[k], 0), h)
        out[k] = np.count_nonzero(mask[c:d, a:b]) / area[k]
    return out


def label_tiles(tumour_fraction: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Tile labels: 1 where the tumour fraction exceeds ``threshold``, else 0 (int8)."""
    return (np.asarray(tumour_fraction) > threshold).astype(np.int8)


@dataclass(frozen=True)
class TileGrid:
    """Tiling parameters (independent of any slide).

    Parameters
    ----------
    tile_size : int
        Tile side in output px.
    stride : int, optional
        Grid step in output px (default: ``tile_size``, no overlap).
    level : int, optional
        Pyramid level to tile; give this or ``um_per_px`` (default level 0).
    um_per_px : float, optional
        Output resolution in micrometres per px (e.g. 1.0 for 10x); read at the closest finer level
        and scaled down.
    min_tissue : float
        Smallest tissue fraction of a kept tile, in [0, 1].
    tumour_threshold : float
        A tile is tumour when its tumour fraction is above this (0 means any tumour).
    center_size : int, optional
        Measure the tumour fraction on the centre ``center_size`` x ``center_size`` output px only
        (PCam: 32 of 96); default the whole tile.
    tissue_um_per_px : float
        Resolution of the tissue mask.
    """

    tile_size: int = 256
    stride: int | None = None
    level: int | None = None
    um_per_px: float | None = None
    min_tissue: float = 0.5
    tumour_threshold: float = 0.5
    center_size: int | None = None
    tissue_um_per_px: float = 8.0

    def __post_init__(self):
        if not 1 <= int(self.tile_size) <= MAX_TILE_SIZE:
            raise CamelyonError(f"tile size must be between 1 and {MAX_TILE_SIZE} px, got {self.tile_size}")
        if self.stride is not None and not 1 <= int(self.stride) <= MAX_TILE_SIZE:
            raise CamelyonError(f"stride must be between 1 and {MAX_TILE_SIZE} px, got {self.stride}")
        if self.level is not None and self.um_per_px is not None:
            raise CamelyonError("give either a level or a target um/px, not both")
        if self.level is not None and int(self.level) < 0:
            raise CamelyonError(f"level must be >= 0, got {self.level}")
        lo, hi = MPP_RANGE
        if self.um_per_px is not None and not lo <= self.um_per_px <= hi:
            raise CamelyonError(f"target um/px must be between {lo} and {hi} (e.g. 1.0 for 10x), got {self.um_per_px}")
        if not lo <= self.tissue_um_per_px <= hi:
            raise CamelyonError(f"tissue_um_per_px must be between {lo} and {hi}, got {self.tissue_um_per_px}")
        if not 0.0 <= self.min_tissue <= 1.0:
            raise CamelyonError(f"min_tissue must be in [0, 1], got {self.min_tissue}")
        if not 0.0 <= self.tumour_threshold < 1.0:
            raise CamelyonError(f"tumour_threshold must be in [0, 1), got {self.tumour_threshold}")
        if self.center_size is not None and not 1 <= self.center_size <= self.tile_size:
            raise CamelyonError(
                f"center_size must be between 1 and the tile size {self.tile_size}, got {self.center_size}"
            )

    @property
    def step(self) -> int:
        return int(self.stride if self.stride is not None else self.tile_size)

    def to_dict(self) -> dict:
        """JSON-able parameters."""
        return asdict(self)

    def geometry(self, slide) -> GridGeometry:
        """The grid on ``slide`` (a :class:`camelyon.slide.Slide`)."""
        w0, h0 = slide.dimensions
        mpp0 = float(np.mean(slide.mpp))
        if self.um_per_px is not None:
            level = slide.best_level_for_mpp(self.um_per_px, tolerance=0.02)
            downsample = self.um_per_px / mpp0
            ratio = self.um_per_px / slide.mpp_at_level(level)
            read_size = self.tile_size if abs(ratio - 1.0) < 0.02 else int(round(self.tile_size * ratio))
            um = float(self.um_per_px)
        else:
            level = int(self.level or 0)
            if level >= slide.level_count:
                raise CamelyonError(
                    f"{slide.path}: level {level} does not exist (levels 0..{slide.level_count - 1})"
                )
            downsample = float(slide.level_downsamples[level])
            read_size = int(self.tile_size)
            um = mpp0 * downsample
        extent, step = self.tile_size * downsample, self.step * downsample
        cols = int(math.floor((w0 - extent) / step + 1e-9)) + 1 if w0 >= extent else 0
        rows = int(math.floor((h0 - extent) / step + 1e-9)) + 1 if h0 >= extent else 0
        return GridGeometry(level, read_size, int(self.tile_size), self.step, downsample, um, rows, cols)

    def tiles(
        self,
        slide,
        annotations: AnnotationSet | None = None,
        tissue: TissueMask | None = None,
        label_max_pixels: int = 1 << 24,
    ) -> np.ndarray:
        """The table of kept tiles of ``slide``, in row-major grid order.

        Parameters
        ----------
        slide : camelyon.slide.Slide
        annotations : AnnotationSet, optional
            Lesions in level-0 px; parts outside the slide are clipped with a warning. None: every
            tile is labelled 0.
        tissue : TissueMask, optional
            A precomputed tissue mask (default: :func:`camelyon.tissue.slide_tissue_mask`).
        label_max_pixels : int
            Largest annotation mask rasterized at once; coarser masks are used beyond it.

        Returns
        -------
        ndarray of dtype TILE_DTYPE, shape (N,)

        Warns
        -----
        UserWarning
            The tile is larger than the level it is read from (no tiles; the message names the
            slide, tile size, level and the level's size in px), or the slide has no tissue.
        """
        geo = self.geometry(slide)
        if geo.rows == 0 or geo.cols == 0:
            warnings.warn(self._no_fit_message(slide, geo), UserWarning, stacklevel=2)
            return np.zeros(0, dtype=TILE_DTYPE)
        if tissue is None:
            tissue = slide_tissue_mask(slide, self.tissue_um_per_px)
        rr, cc = np.meshgrid(np.arange(geo.rows), np.arange(geo.cols), indexing="ij")
        rr, cc = rr.ravel(), cc.ravel()
        x = np.rint(cc * geo.stride_level0).astype(np.int64)
        y = np.rint(rr * geo.stride_level0).astype(np.int64)
        ext = geo.extent_level0
        md = tissue.downsample
        tissue_frac = box_fraction(integral_image(tissue.mask), x / md, y / md, (x + ext) / md, (y + ext) / md)
        keep = tissue_frac >= self.min_tissue if self.min_tissue > 0 else np.ones(len(x), dtype=bool)
        x, y, rr, cc, tissue_frac = x[keep], y[keep], rr[keep], cc[keep], tissue_frac[keep]

        table = np.zeros(len(x), dtype=TILE_DTYPE)
        table["x"], table["y"], table["row"], table["col"] = x, y, rr, cc
        table["level"], table["size"] = geo.level, geo.read_size
        table["tissue_fraction"] = tissue_frac
        if annotations is not None and len(table):
            w0, h0 = slide.dimensions
            tumour = annotations.clipped(w0, h0)
            table["tumour_fraction"] = self._tumour_fraction(tumour, geo, x, y, label_max_pixels)
        table["label"] = label_tiles(table["tumour_fraction"], self.tumour_threshold)
        return table

    def _no_fit_message(self, slide, geo: GridGeometry) -> str:
        """Why a slide gives no tiles at all: the tile is larger than the level it is read from."""
        lw, lh = slide.level_dimensions[geo.level]
        if self.um_per_px is not None:
            what = f"tile size {geo.tile_size} px at {geo.um_per_px:g} um/px ({geo.read_size} px at level {geo.level})"
        else:
            what = f"tile size {geo.tile_size} px"
        return (
            f"{slide.path}: {what} does not fit in level {geo.level} ({lw} x {lh} px); the slide gives no tiles "
            "(choose a smaller tile size or a finer level)"
        )

    def _tumour_fraction(self, annotations, geo, x, y, max_pixels) -> np.ndarray:
        areas = annotations.tumour()
        frac = np.zeros(len(x), dtype=np.float32)
        if len(areas) == 0:
            return frac
        bx0, by0, bx1, by1 = areas.bounds
        # the label mask covers the lesions' bounding box at one output pixel per mask pixel
        # (or coarser, so that it stays below max_pixels)
        ds = geo.downsample
        while math.ceil((bx1 - bx0) / ds + 2) * math.ceil((by1 - by0) / ds + 2) > max_pixels:
            ds *= 2.0
        ox, oy = math.floor(bx0 / ds) * ds, math.floor(by0 / ds) * ds
        shape = (int(math.ceil((by1 - oy) / ds)) + 1, int(math.ceil((bx1 - ox) / ds)) + 1)
        mask = rasterize(annotations, shape, ds, origin=(ox, oy))
        if not mask.any():
            return frac
        if self.center_size is not None:
            offset = (self.tile_size - self.center_size) / 2.0 * geo.downsample
            ext = self.center_size * geo.downsample
        else:
            offset, ext = 0.0, geo.extent_level0
        x0, y0 = x + offset, y + offset
        near = (x0 + ext > bx0) & (x0 < bx1) & (y0 + ext > by0) & (y0 < by1)
        if near.any():
            xs, ys = (x0[near] - ox) / ds, (y0[near] - oy) / ds
            box_px = (ext / ds + 1) ** 2
            if near.sum() * box_px < 8 * mask.size:
                # counting the True pixels of each box scans memory about 10x faster per pixel than
                # building a summed-area table, so it wins unless boxes overlap a lot
                frac[near] = box_fraction_direct(mask, xs, ys, xs + ext / ds, ys + ext / ds)
            else:
                frac[near] = box_fraction(integral_image(mask), xs, ys, xs + ext / ds, ys + ext / ds)
        return frac


class TileReader:
    """Read tiles of one slide at a grid's geometry, reusing buffers.

    Parameters
    ----------
    slide : camelyon.slide.Slide
    geometry : GridGeometry
    """

    def __init__(self, slide, geometry: GridGeometry):
        self.slide = slide
        self.geometry = geometry
        n = geometry.read_size
        self._raw = np.empty((n, n, 3), dtype=np.uint8)

    def read(self, x: int, y: int, out: np.ndarray | None = None) -> np.ndarray:
        """The tile whose top-left corner is at level-0 (x, y).

        Returns
        -------
        ndarray of shape (tile_size, tile_size, 3), uint8
            ``out`` when given. Without ``out`` the returned array is a reused buffer when no
            scaling is needed: copy it to keep it.
        """
        geo = self.geometry
        n = geo.read_size
        if n == geo.tile_size:
            return self.slide.read_region((int(x), int(y)), geo.level, (n, n), out=out if out is not None else self._raw)
        raw = self.slide.read_region((int(x), int(y)), geo.level, (n, n), out=self._raw)
        from skimage.transform import resize

        small = resize(raw, (geo.tile_size, geo.tile_size), order=1, anti_aliasing=True, preserve_range=True)
        if out is None:
            out = np.empty((geo.tile_size, geo.tile_size, 3), dtype=np.uint8)
        np.rint(small, out=small)
        out[...] = small.astype(np.uint8)
        return out

    def iter_table(self, table: np.ndarray):
        """Yield ``(i, tile)`` for every row of a tile table; ``tile`` is a reused buffer."""
        buf = np.empty((self.geometry.tile_size, self.geometry.tile_size, 3), dtype=np.uint8)
        for i in range(len(table)):
            yield i, self.read(table["x"][i], table["y"][i], out=buf)
