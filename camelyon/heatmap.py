"""Slide heatmaps: a tumour-probability map with the geometry that ties it to the slide.

One heatmap pixel covers one tile-grid cell: pixel ``(row, col)`` covers level-0 pixels
``x = origin_x + col * stride_level0 ... + tile extent`` (see :attr:`Heatmap.stride_level0`).
Files are ``.npz`` without pickle.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from camelyon.errors import CamelyonError

__all__ = ["Heatmap"]


@dataclass
class Heatmap:
    """A tumour-probability map of one slide.

    Attributes
    ----------
    probability : ndarray of shape (H, W), float32
        Tumour probability per grid cell in [0, 1]; 0 outside tissue.
    tissue : ndarray of shape (H, W), bool
        True where the grid cell was classified (it held enough tissue).
    slide : str
        Slide file name (e.g. ``patient_000_node_0.tif``).
    level : int
        Pyramid level the tiles were read at.
    tile_size : int
        Tile side in pixels at ``level``.
    stride : int
        Grid step in pixels at ``level``.
    um_per_px : float
        Micrometres covered by one heatmap pixel (= stride x um/px of ``level``).
    origin : tuple of int
        Level-0 (x, y) of the top-left corner of heatmap pixel (0, 0).
    downsample : float
        Downsample factor of ``level`` relative to level 0.
    extra : dict
        JSON-serializable metadata (model name, software version, ...).
    """

    probability: np.ndarray
    tissue: np.ndarray
    slide: str
    level: int
    tile_size: int
    stride: int
    um_per_px: float
    origin: tuple[int, int] = (0, 0)
    downsample: float = 1.0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.probability = np.asarray(self.probability, dtype=np.float32)
        self.tissue = np.asarray(self.tissue, dtype=bool)
        if self.probability.ndim != 2 or self.probability.shape != self.tissue.shape:
            raise CamelyonError(
                f"heatmap of {self.slide}: probability {self.probability.shape} and tissue "
                f"{self.tissue.shape} must be equal 2-D shapes"
            )

    @property
    def shape(self) -> tuple[int, int]:
        return self.probability.shape

    @property
    def stride_level0(self) -> float:
        """Grid step in level-0 pixels."""
        return self.stride * self.downsample

    def save(self, path: str | os.PathLike) -> Path:
        """Write to ``path`` (``.npz``) atomically: a temporary name first, then a rename."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        meta = {
            "slide": self.slide, "level": int(self.level), "tile_size": int(self.tile_size),
            "stride": int(self.stride), "um_per_px": float(self.um_per_px),
            "origin": [int(self.origin[0]), int(self.origin[1])], "downsample": float(self.downsample),
            "extra": self.extra,
        }
        np.savez_compressed(tmp, probability=self.probability, tissue=self.tissue,
                            meta=np.array(json.dumps(meta)))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Heatmap":
        """Read a heatmap written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise CamelyonError(f"heatmap file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                prob, tissue = z["probability"], z["tissue"]
        except (KeyError, ValueError, OSError) as exc:
            raise CamelyonError(f"{path} is not a heatmap file written by camelyon: {exc}") from exc
        return cls(prob, tissue, meta["slide"], meta["level"], meta["tile_size"], meta["stride"],
                   meta["um_per_px"], tuple(meta["origin"]), meta["downsample"], meta.get("extra", {}))


# --------------------------------------------------------------------------------------------------
# Computing heatmaps with a tile model
# --------------------------------------------------------------------------------------------------

__all__ += ["compute_heatmap", "heatmap_grid", "plot_heatmap", "resolve_read_geometry"]


def resolve_read_geometry(slide, um_per_px: float, tolerance: float = 0.15) -> tuple[int, int]:
    """Pyramid level to read and integer shrink factor that give tiles at ``um_per_px``.

    Parameters
    ----------
    slide : camelyon.slide.Slide
    um_per_px : float
        Resolution the tile model expects.
    tolerance : float
        Accepted relative difference between the obtained and the requested um/px.

    Returns
    -------
    level : int
        Level to read.
    factor : int
        Number of level px averaged into one tile px (1 when the level matches).

    Raises
    ------
    CamelyonError
        When no level (with an integer shrink factor) comes close enough.
    """
    level = slide.best_level_for_mpp(um_per_px)
    level_mpp = slide.mpp_at_level(level)
    factor = max(1, int(round(um_per_px / level_mpp)))
    got = level_mpp * factor
    if abs(got - um_per_px) > tolerance * um_per_px:
        raise CamelyonError(
            f"{slide.path}: cannot read tiles at {um_per_px:g} um/px (the model's resolution): the nearest "
            f"is {got:g} um/px (level {level} at {level_mpp:g} um/px, shrunk {factor}x)"
        )
    return level, factor


def heatmap_grid(tissue, grid_shape: tuple[int, int], stride_level0: float, tile_level0: float,
                 min_tissue: float) -> tuple[np.ndarray, np.ndarray]:
    """Tissue fraction of every tile of a regular grid, from a low-resolution tissue mask.

    Parameters
    ----------
    tissue : camelyon.tissue.TissueMask
        Boolean mask with its ``downsample`` (level-0 px per mask px).
    grid_shape : (int, int)
        Rows and columns of the grid.
    stride_level0, tile_level0 : float
        Grid step and tile side in level-0 px; tile (r, c) covers level-0
        ``[c * stride, c * stride + tile) x [r * stride, r * stride + tile)``.
    min_tissue : float
        Fraction of tissue a tile needs to be classified.

    Returns
    -------
    fraction : ndarray of shape grid_shape, float32
    keep : ndarray of shape grid_shape, bool
        ``fraction >= min_tissue`` (and > 0).
    """
    mask = np.asarray(tissue.mask, dtype=np.float64)
    ds = float(tissue.downsample)
    integral = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1))
    integral[1:, 1:] = mask.cumsum(0).cumsum(1)
    rows, cols = grid_shape

    def bounds(n, limit):
        start = np.arange(n) * stride_level0 / ds
        lo = np.clip(np.floor(start).astype(np.int64), 0, limit)
        hi = np.clip(np.ceil(start + tile_level0 / ds).astype(np.int64), 0, limit)
        return lo, np.maximum(hi, lo)

    y0, y1 = bounds(rows, mask.shape[0])
    x0, x1 = bounds(cols, mask.shape[1])
    area = ((y1 - y0)[:, None] * (x1 - x0)[None, :]).astype(np.float64)
    total = (integral[y1][:, x1] - integral[y0][:, x1] - integral[y1][:, x0] + integral[y0][:, x0])
    fraction = np.divide(total, area, out=np.zeros_like(total), where=area > 0).astype(np.float32)
    keep = (fraction >= min_tissue) & (fraction > 0)
    return fraction, keep


def _shrink(region: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return region
    h, w = region.shape[0] // factor, region.shape[1] // factor
    blocks = region[: h * factor, : w * factor].reshape(h, factor, w, factor, 3).astype(np.float32)
    return np.rint(blocks.mean(axis=(1, 3))).astype(np.uint8)


def compute_heatmap(
    slide_path,
    model,
    *,
    stride: int | None = None,
    batch_size: int = 128,
    min_tissue: float = 0.25,
    tissue_um_per_px: float = 8.0,
    mpp: float | None = None,
    progress: bool = False,
) -> Heatmap:
    """Tumour-probability heatmap of one slide, classifying tissue tiles only.

    The slide is covered by a grid of tiles of the model's size and resolution with step
    ``stride``; tiles whose tissue fraction (from a tissue mask at ``tissue_um_per_px``) is at
    least ``min_tissue`` are read row by row, run through the model in batches, and their
    probability is written to the heatmap pixel of the tile. Other pixels get 0.

    Parameters
    ----------
    slide_path : path-like
        A slide OpenSlide can read.
    model : camelyon.tile_model.TileModel or path-like
        The tile classifier (a path is loaded with :func:`camelyon.tile_model.load_tile_model`).
    stride : int, optional
        Grid step in tile px (at the model's resolution); default the tile size. A finer stride
        (e.g. half the tile size) gives a finer map at 4x the work.
    batch_size : int
        Tiles per forward pass.
    min_tissue : float
        Tissue fraction (0..1) a tile needs to be classified.
    tissue_um_per_px : float
        Resolution of the tissue mask.
    mpp : float, optional
        Level-0 um/px override for slides that lack it.
    progress : bool
        Show a progress bar over tiles.

    Returns
    -------
    Heatmap
        ``probability`` and ``tissue`` of shape (rows, cols) of the grid; ``level``, ``tile_size``
        and ``stride`` in px at the level read (times the shrink factor when the level is finer
        than the model's resolution); ``um_per_px`` of one heatmap pixel = stride x model um/px;
        ``origin`` (0, 0): heatmap pixel (r, c) is the tile whose level-0 top-left corner is
        ``(c, r) * stride_level0``. ``extra`` holds the model description, tile count and timing.
    """
    import time

    from tqdm.auto import tqdm

    from camelyon.slide import Slide
    from camelyon.tile_model import TileModel, load_tile_model
    from camelyon.tissue import slide_tissue_mask

    if not isinstance(model, TileModel):
        model = load_tile_model(model, architecture=None)
    t = model.tile_size
    stride = t if stride is None else int(stride)
    if not 1 <= stride <= t:
        raise CamelyonError(f"stride must be between 1 and the tile size {t} px, got {stride}")
    if batch_size < 1:
        raise CamelyonError(f"batch_size must be >= 1, got {batch_size}")
    start_time = time.perf_counter()
    path = Path(slide_path)
    with Slide(path, mpp=mpp) as slide:
        level, factor = resolve_read_geometry(slide, model.um_per_px)
        ds = float(slide.level_downsamples[level])
        read_tile, read_stride = t * factor, stride * factor  # in level px
        width, height = slide.level_dimensions[level]
        cols = max(0, (width - read_tile) // read_stride + 1)
        rows = max(0, (height - read_tile) // read_stride + 1)
        probability = np.zeros((rows, cols), np.float32)
        if rows == 0 or cols == 0:
            keep = np.zeros((rows, cols), bool)
        else:
            tissue = slide_tissue_mask(slide, um_per_px=tissue_um_per_px)
            _, keep = heatmap_grid(tissue, (rows, cols), read_stride * ds, read_tile * ds, min_tissue)
        n_tiles = int(keep.sum())
        batch = np.empty((batch_size, t, t, 3), np.uint8)
        where: list[tuple[int, int]] = []
        bar = tqdm(total=n_tiles, desc=path.name, unit="tile", disable=not progress or None, leave=False)

        def flush():
            probs = model.predict_proba(batch[: len(where)], batch_size=batch_size)
            rr, cc = zip(*where, strict=True)
            probability[list(rr), list(cc)] = probs
            bar.update(len(where))
            where.clear()

        try:
            for r in np.flatnonzero(keep.any(axis=1)):
                cs = np.flatnonzero(keep[r])
                x_lo, x_hi = int(cs[0]) * read_stride, int(cs[-1]) * read_stride + read_tile
                strip = slide.read_region((int(round(x_lo * ds)), int(round(r * read_stride * ds))), level,
                                          (x_hi - x_lo, read_tile))
                strip = _shrink(strip, factor)
                for c in cs:
                    x = (int(c) * read_stride - x_lo) // factor
                    batch[len(where)] = strip[:, x:x + t]
                    where.append((int(r), int(c)))
                    if len(where) == batch_size:
                        flush()
            if where:
                flush()
        finally:
            bar.close()
        seconds = time.perf_counter() - start_time
        return Heatmap(
            probability, keep, path.name, level, read_tile, read_stride,
            um_per_px=float(stride * model.um_per_px), origin=(0, 0), downsample=ds,
            extra={"model": model.describe(), "tiles": n_tiles, "seconds": round(seconds, 3),
                   "min_tissue": float(min_tissue), "shrink_factor": factor,
                   "tile_um_per_px": float(model.um_per_px)},
        )


def plot_heatmap(heatmap: Heatmap, thumbnail: np.ndarray, thumbnail_downsample: float, path,
                 title: str | None = None) -> Path:
    """Save a PNG of the heatmap over the slide thumbnail (tissue cells coloured by probability).

    Parameters
    ----------
    heatmap : Heatmap
    thumbnail : ndarray of shape (h, w, 3), uint8
        The slide at ``thumbnail_downsample`` level-0 px per px.
    thumbnail_downsample : float
    path : path-like
        Output ``.png`` (written atomically).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = thumbnail.shape[:2]
    # extent of the heatmap in thumbnail pixels; each heatmap pixel is centred on its tile centre
    s = heatmap.stride_level0 / thumbnail_downsample
    half_tile = heatmap.tile_size * heatmap.downsample / 2 / thumbnail_downsample
    ox = heatmap.origin[0] / thumbnail_downsample + half_tile - s / 2
    oy = heatmap.origin[1] / thumbnail_downsample + half_tile - s / 2
    rows, cols = heatmap.shape
    overlay = np.ma.masked_where(~heatmap.tissue, heatmap.probability)
    fig, axes = plt.subplots(1, 2, figsize=(10, 5 * h / max(w, 1) + 0.8), dpi=100)
    for ax in axes:
        ax.imshow(thumbnail, extent=(0, w, h, 0))
        ax.set_axis_off()
    im = axes[1].imshow(overlay, cmap="inferno", vmin=0, vmax=1, alpha=0.65, interpolation="nearest",
                        extent=(ox, ox + cols * s, oy + rows * s, oy))
    axes[1].set_xlim(0, w)
    axes[1].set_ylim(h, 0)
    fig.colorbar(im, ax=axes[1], fraction=0.046, pad=0.02, label="tumour probability")
    axes[0].set_title(title or heatmap.slide, fontsize=9)
    axes[1].set_title(f"max {float(heatmap.probability.max()) if heatmap.probability.size else 0:.2f}, "
                      f"{int(heatmap.tissue.sum())} tiles, {heatmap.um_per_px:g} um/px", fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
    return path
