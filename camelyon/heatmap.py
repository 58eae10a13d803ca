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
from minicnn.io import save_npz

__all__ = ["Heatmap", "HeatmapJob", "HeatmapRun", "compute_heatmaps", "compute_heatmap", "run_heatmap_job"]


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
        meta = {
            "slide": self.slide, "level": int(self.level), "tile_size": int(self.tile_size),
            "stride": int(self.stride), "um_per_px": float(self.um_per_px),
            "origin": [int(self.origin[0]), int(self.origin[1])], "downsample": float(self.downsample),
            "extra": self.extra,
        }
        return save_npz(path, {"probability": self.probability, "tissue": self.tissue,
                               "meta": np.array(json.dumps(meta))}, compressed=True)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Heatmap":
        """Read a heatmap written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise CamelyonError(f"heatmap file not found: {path}")
        with open(path, "rb") as fh:
            if fh.read(4) != b"PK\x03\x04":  # np.load would blame pickled data, or return an array
                raise CamelyonError(f"{path} is not a heatmap file written by camelyon (not an .npz archive)")
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

__all__ += ["compute_heatmap", "plot_heatmap", "heatmap_png_path"]


def heatmap_png_path(npz_path) -> Path:
    """The overlay picture written next to a heatmap file: ``<stem>.png``."""
    p = Path(npz_path)
    return p.with_suffix(".png")


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

    The slide is covered by the grid of :class:`camelyon.tiling.TileGrid` with the model's tile
    size and resolution (um/px) and step ``stride``, the same grid the tile store is cut with.
    Tiles whose tissue fraction is at least ``min_tissue`` are read (row by row, one region read
    per grid row), run through the model in batches of ``batch_size``, and their probability is
    written to the heatmap pixel of the tile. Other pixels get 0.

    Parameters
    ----------
    slide_path : path-like
        A slide OpenSlide can read.
    model : camelyon.tile_model.TileModel or path-like
        The tile classifier (a path is loaded with :func:`camelyon.tile_model.load_tile_model`).
    stride : int, optional
        Grid step in tile px (at the model's resolution); default the tile size. A finer stride
        (e.g. half the tile size) gives a finer map for 4x the work.
    batch_size : int
        Tiles per forward pass.
    min_tissue : float
        Tissue fraction (0..1) a tile needs to be classified.
    tissue_um_per_px : float
        Resolution of the tissue mask (um/px).
    mpp : float, optional
        Level-0 um/px override for slides that lack it.
    progress : bool
        Show a progress bar over tiles.

    Returns
    -------
    Heatmap
        ``probability`` and ``tissue`` of shape (rows, cols) of the grid. ``tile_size`` and
        ``stride`` are in tile px, ``downsample`` is level-0 px per tile px (the level's downsample
        unless tiles are scaled), so ``stride_level0`` is exact. ``um_per_px`` of one heatmap pixel
        = stride x model um/px. ``origin`` (0, 0): heatmap pixel (r, c) is the tile whose level-0
        top-left corner is ``(c, r) * stride_level0``. ``extra`` holds the model description, tile
        count and timing.
    """
    import time

    from camelyon.slide import Slide
    from camelyon.tile_model import TileModel, load_tile_model
    from camelyon.tiling import TileGrid

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
    grid = TileGrid(tile_size=t, stride=stride, um_per_px=model.um_per_px, min_tissue=min_tissue,
                    tissue_um_per_px=tissue_um_per_px)
    with Slide(path, mpp=mpp) as slide:
        geo = grid.geometry(slide)
        if abs(geo.um_per_px - model.um_per_px) > 0.02 * model.um_per_px:
            raise CamelyonError(f"{path}: cannot read tiles at the model's {model.um_per_px:g} um/px")
        table = grid.tiles(slide)
        keep = np.zeros((geo.rows, geo.cols), bool)
        keep[table["row"], table["col"]] = True
        n_tiles = len(table)
        probability = _classify_tiles(slide, geo, table, model, batch_size, progress, path.name)
        seconds = time.perf_counter() - start_time
        return Heatmap(
            probability, keep, path.name, geo.level, t, stride,
            um_per_px=float(stride * geo.um_per_px), origin=(0, 0), downsample=float(geo.downsample),
            extra={"model": model.describe(), "tiles": n_tiles, "seconds": round(seconds, 3),
                   "min_tissue": float(min_tissue), "tile_um_per_px": float(geo.um_per_px)},
        )


def _classify_tiles(slide, geo, table, model, batch_size: int, progress: bool, name: str) -> np.ndarray:
    """Tumour probability of every tile of ``table``, read row by row and classified in batches.

    Returns
    -------
    ndarray of shape (geo.rows, geo.cols), float32
        0 where the grid has no tile.
    """
    from tqdm.auto import tqdm

    from camelyon.tiling import TileReader

    t = model.tile_size
    probability = np.zeros((geo.rows, geo.cols), np.float32)
    batch = np.empty((batch_size, t, t, 3), np.uint8)
    where_r = np.empty(batch_size, np.int64)
    where_c = np.empty(batch_size, np.int64)
    filled = 0
    bar = tqdm(total=len(table), desc=name, unit="tile", disable=not progress or None, leave=False)

    def flush(n):
        probability[where_r[:n], where_c[:n]] = model.predict_proba(batch[:n], batch_size=batch_size)
        bar.update(n)

    try:
        for pixels, x_off, r, c in _iter_tiles(slide, geo, table, TileReader):
            batch[filled] = pixels if x_off is None else pixels[:, x_off:x_off + t]
            where_r[filled], where_c[filled] = r, c
            filled += 1
            if filled == batch_size:
                flush(filled)
                filled = 0
        if filled:
            flush(filled)
    finally:
        bar.close()
    return probability


def _iter_tiles(slide, geo, table, reader_cls):
    """Yield (array, x offset or None, row, col) for every tile of ``table``.

    Without scaling, each grid row is read as one strip (x offset of the tile in the strip);
    with scaling, tiles are read one by one by the tiling module's reader.
    """
    if len(table) == 0:
        return
    if geo.read_size != geo.tile_size:
        reader = reader_cls(slide, geo)
        for i, tile in reader.iter_table(table):
            yield tile, None, int(table["row"][i]), int(table["col"][i])
        return
    step = geo.stride  # level px == tile px here
    rows = table["row"]
    bounds = np.flatnonzero(np.diff(rows)) + 1
    for seg in np.split(np.arange(len(table)), bounds):
        r = int(rows[seg[0]])
        cols = table["col"][seg]
        c_lo, c_hi = int(cols.min()), int(cols.max())
        x0, y0 = int(np.rint(c_lo * geo.stride_level0)), int(table["y"][seg[0]])
        strip = slide.read_region((x0, y0), geo.level, ((c_hi - c_lo) * step + geo.tile_size, geo.tile_size))
        for c in cols:
            yield strip, (int(c) - c_lo) * step, r, int(c)


def plot_heatmap(heatmap: Heatmap, thumbnail: np.ndarray, thumbnail_downsample: float, path,
                 title: str | None = None) -> Path:
    """Save a PNG of the slide thumbnail and the heatmap over it (written atomically).

    Parameters
    ----------
    heatmap : Heatmap
    thumbnail : ndarray of shape (h, w, 3), uint8
        The slide at ``thumbnail_downsample`` level-0 px per px.
    thumbnail_downsample : float
    path : path-like
        Output ``.png``.
    title : str, optional
    """
    from camelyon.figures import new_figure, save_figure

    h, w = thumbnail.shape[:2]
    # each heatmap pixel is drawn as a stride-sized square centred on its tile's centre
    s = heatmap.stride_level0 / thumbnail_downsample
    half_tile = heatmap.tile_size * heatmap.downsample / 2 / thumbnail_downsample
    ox = heatmap.origin[0] / thumbnail_downsample + half_tile - s / 2
    oy = heatmap.origin[1] / thumbnail_downsample + half_tile - s / 2
    rows, cols = heatmap.shape
    overlay = np.ma.masked_where(~heatmap.tissue, heatmap.probability)
    fig = new_figure(figsize=(10, 5 * h / max(w, 1) + 0.9))
    axes = fig.subplots(1, 2)
    for ax in axes:
        ax.imshow(thumbnail, extent=(0, w, h, 0))
        ax.set_axis_off()
    im = axes[1].imshow(overlay, cmap="inferno", vmin=0, vmax=1, alpha=0.7, interpolation="nearest",
                        extent=(ox, ox + cols * s, oy + rows * s, oy))
    axes[1].set_xlim(0, w)
    axes[1].set_ylim(h, 0)
    fig.colorbar(im, ax=axes[1], fraction=0.046, pad=0.02, label="tumour probability")
    axes[0].set_title(title or heatmap.slide, fontsize=9)
    peak = float(heatmap.probability.max()) if heatmap.probability.size else 0.0
    axes[1].set_title(f"max {peak:.2f}, {int(heatmap.tissue.sum())} tiles, {heatmap.um_per_px:g} um/px",
                      fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


# ------------------------------------------------------------------------------------------------
# Many slides: the one heatmap worker, used by ``camelyon heatmap`` and the pipeline
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeatmapJob:
    """One slide's heatmap work (sent to a worker process; plain fields only).

    Attributes
    ----------
    slide, model, out : str
        Slide file, tile-model file and heatmap ``.npz`` to write.
    stride, batch_size, min_tissue, mpp :
        As in :func:`compute_heatmap`.
    png : bool
        Also draw the map over the thumbnail (:func:`heatmap_png_path`).
    threads : int or None
        Numba threads of the worker (its share of the cores).
    model_digest : str or None
        Recorded as ``extra["model_digest"]``, so that a rerun knows which model made the map.
    """

    slide: str
    model: str
    out: str
    stride: int | None = None
    batch_size: int = 128
    min_tissue: float = 0.25
    mpp: float | None = None
    png: bool = False
    threads: int | None = None
    model_digest: str | None = None


def run_heatmap_job(job: HeatmapJob) -> dict:
    """Worker: compute, save (and draw) one slide's heatmap; returns a summary row.

    Returns
    -------
    dict
        ``slide``, ``tiles``, ``max_probability``, ``seconds``, ``heatmap`` (the written path).
    """
    if job.threads:
        import numba

        numba.set_num_threads(max(1, min(job.threads, numba.config.NUMBA_NUM_THREADS)))
    hm = compute_heatmap(job.slide, job.model, stride=job.stride, batch_size=job.batch_size,
                         min_tissue=job.min_tissue, mpp=job.mpp)
    if job.model_digest is not None:
        hm.extra["model_digest"] = job.model_digest
    hm.save(job.out)
    if job.png:
        from camelyon.slide import Slide

        with Slide(job.slide, mpp=job.mpp) as slide:
            thumb = slide.thumbnail(768)
            ds = slide.dimensions[0] / thumb.shape[1]
        plot_heatmap(hm, thumb, ds, heatmap_png_path(job.out))
    return {"slide": hm.slide, "tiles": hm.extra["tiles"], "max_probability": float(hm.probability.max(initial=0.0)),
            "seconds": hm.extra["seconds"], "heatmap": job.out}


@dataclass
class HeatmapRun:
    """What :func:`compute_heatmaps` did.

    Attributes
    ----------
    paths : dict of str -> Path
        Slide file name -> its heatmap file (computed now or kept), for every slide asked for.
    rows : list of dict
        Summary rows of the heatmaps computed now (see :func:`run_heatmap_job`).
    kept : int
        Heatmaps that were already there and kept.
    failed : list of (str, str)
        Slide name and error of each slide that failed.
    """

    paths: dict
    rows: list
    kept: int
    failed: list


def compute_heatmaps(slides, model, out_dir, *, keep=None, stride: int | None = None, batch_size: int = 128,
                     min_tissue: float = 0.25, mpp: float | None = None, png: bool = False,
                     model_digest: str | None = None, workers: int | None = None, scheduler: str | None = None,
                     progress: bool = True, on_start=None) -> HeatmapRun:
    """Heatmaps of many slides, in worker processes (or on a Dask cluster), resumable slide by slide.

    Parameters
    ----------
    slides : sequence of path
        Slide files; each heatmap is ``out_dir/<slide stem>.npz``.
    model : path
        Tile-model file.
    out_dir : path
    keep : callable, optional
        ``keep(path) -> bool``: keep an existing heatmap instead of computing it again (default: keep
        every heatmap that exists).
    stride, batch_size, min_tissue, mpp, png, model_digest :
        See :class:`HeatmapJob`.
    workers, scheduler, progress :
        See :func:`camelyon.executor.map_slides`.
    on_start : callable, optional
        ``on_start(n_to_compute, n_kept)``, called before the work starts (to say what will be done).
    """
    from camelyon.executor import default_workers, map_slides

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keep = keep if keep is not None else Path.exists
    workers = default_workers() if workers is None else max(1, int(workers))
    threads = max(1, default_workers() // workers) if workers > 1 else None
    if threads is not None:
        # worker processes start fresh interpreters: give each its share of the cores, because BLAS and
        # Numba threads that outnumber the cores spin against each other and slow inference many times over
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            os.environ.setdefault(var, str(threads))
    model = str(Path(model).resolve())
    paths, jobs = {}, []
    for s in map(Path, slides):
        target = out_dir / f"{s.stem}.npz"
        paths[s.name] = target
        if not keep(target):
            jobs.append(HeatmapJob(str(s), model, str(target), stride, batch_size, min_tissue, mpp, png, threads,
                                   model_digest))
    if on_start is not None:
        on_start(len(jobs), len(paths) - len(jobs))
    rows, failed = [], []
    for res in map_slides(run_heatmap_job, jobs, workers=workers, scheduler=scheduler, desc="heatmaps",
                          progress=progress):
        if res.ok:
            rows.append(res.value)
        else:
            res.raise_if_unwritten()  # an exercise not written yet (student edition) is not a bad slide
            failed.append((Path(res.item.slide).name, res.error))
    return HeatmapRun(paths, rows, len(paths) - len(jobs), failed)
