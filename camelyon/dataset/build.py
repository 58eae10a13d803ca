"""Build a tile store from many slides, in parallel, resumably.

Each slide is one work item for :func:`camelyon.executor.map_slides`. A worker opens the slide,
detects tissue, lays out and labels the tiles (:mod:`camelyon.tiling`), reads them and writes
them, compressed, to its own part file ``<store>.parts/<slide>.h5`` (under a temporary name,
renamed when complete). The parent process is the only writer of the store: when the workers are
done it assembles the store from the finished part files (and the slides of an existing store)
by copying compressed chunks, writes it under a temporary name and renames it.

So an interrupted build keeps every finished slide (its part file) and the next run only tiles
the others; a slide is in the store completely or not at all; the store is never half-written.
A slide that fails (missing, unreadable, no um/px, malformed XML) is reported and costs no other
slide its tiles.

Examples
--------
>>> from camelyon.dataset import build_tile_store                                   # doctest: +SKIP
>>> from camelyon.tiling import TileGrid
>>> report = build_tile_store(["center_0"], "tiles.h5", annotations="lesion_annotations",
...                           grid=TileGrid(tile_size=96, level=1), workers=2)
>>> report.failed      # [(slide path, error message), ...]
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import warnings
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
from tqdm.auto import tqdm

from camelyon.annotations import read_annotations
from camelyon.dataset.store import (
    FORMAT,
    PartWriter,
    SlideRecord,
    assemble_store,
    read_part_info,
    read_slide_records,
)
from camelyon.discovery import SLIDE_SUFFIXES, find_slides
from camelyon.errors import CamelyonError, DatasetError, SlideError
from camelyon.executor import map_slides
from camelyon.fingerprints import changes, fingerprint
from camelyon.outputs import OutputLock, refuse_foreign_output, refuse_inputs_as_output
from camelyon.slide import MPP_RANGE, Slide
from camelyon.tiling import TileGrid, TileReader
from camelyon.tissue import slide_tissue_mask

__all__ = [
    "parse_slide_name",
    "find_slides",
    "find_annotation",
    "SlideJob",
    "tile_slide",
    "BuildReport",
    "build_tile_store",
]

_C17 = re.compile(r"^(patient_\d+)_node_\d+$")
_CENTRE = re.compile(r"^cent(?:er|re)_?(\d+)$", re.IGNORECASE)


def parse_slide_name(path: str | Path) -> tuple[str, int]:
    """Patient and centre of a slide from its CAMELYON file name.

    ``center_3/patient_012_node_3.tif`` -> ``("patient_012", 3)``; CAMELYON16 ``tumor_001.tif``
    -> ``("tumor_001", -1)`` (one slide per patient, centre unknown); any other name is its own
    patient. The centre comes from a parent folder ``center_<c>`` (-1 when there is none).

    Returns
    -------
    (patient, centre) : (str, int)
    """
    path = Path(path)
    stem = path.stem if path.suffix.lower() in SLIDE_SUFFIXES else path.name
    m = _C17.match(stem)
    patient = m.group(1) if m else stem
    centre = -1
    for parent in path.parents:
        mc = _CENTRE.match(parent.name)
        if mc:
            centre = int(mc.group(1))
            break
    return patient, centre


def find_annotation(slide_path: Path, annotations: str | Path | dict | None) -> Path | None:
    """The annotation file of a slide: ``<annotations>/<slide stem>.xml`` (ASAP), else ``.geojson`` or
    ``.json`` (QuPath), or a dict entry; None when there is none."""
    if annotations is None:
        return None
    if isinstance(annotations, dict):
        p = annotations.get(slide_path.stem)
        return Path(p) if p is not None else None
    for suffix in (".xml", ".geojson", ".json"):
        p = Path(annotations) / f"{slide_path.stem}{suffix}"
        if p.exists():
            return p
    return None


@dataclass(frozen=True)
class SlideJob:
    """Everything a worker needs to tile one slide (sent to another process)."""

    path: str
    name: str
    patient: str
    centre: int
    annotation: str | None
    part: str
    grid: dict
    params_json: str
    mpp: float | None = None
    max_negatives: int | None = None
    seed: int = 0
    compression: str | None = "lzf"
    compression_level: int | None = None
    fingerprint: dict | None = None


def _negatives_rng(seed: int, name: str) -> np.random.Generator:
    # one stream per slide, independent of the order in which slides are processed
    return np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])


def tile_slide(job: SlideJob) -> dict:
    """Tile one slide into its part file; returns the slide record as a dict (worker function).

    Raises
    ------
    SlideError, AnnotationError
        The slide or its annotation cannot be used (the build reports it and goes on).
    """
    grid = TileGrid(**job.grid)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Slide(job.path, mpp=job.mpp) as slide:
            mpp = float(np.mean(slide.check_mpp()))  # SlideError with the --mpp hint: unknown or implausible
            annotations = read_annotations(job.annotation) if job.annotation else None
            geo = grid.geometry(slide)
            with warnings.catch_warnings():
                if geo.rows == 0 or geo.cols == 0:
                    # no tile fits in the slide: grid.tiles says so, a "no tissue" warning would mislead
                    warnings.simplefilter("ignore")
                tissue = slide_tissue_mask(slide, grid.tissue_um_per_px)
            table = grid.tiles(slide, annotations=annotations, tissue=tissue)
            if job.max_negatives is not None:
                neg = np.flatnonzero(table["label"] == 0)
                if len(neg) > job.max_negatives:
                    rng = _negatives_rng(job.seed, job.name)
                    drop = rng.choice(neg, size=len(neg) - job.max_negatives, replace=False)
                    table = np.delete(table, drop)
            w, h = slide.dimensions
            record = SlideRecord(
                name=job.name,
                path=str(job.path),
                patient=job.patient,
                centre=int(job.centre),
                count=int(len(table)),
                positives=int((table["label"] == 1).sum()),
                width=int(w),
                height=int(h),
                mpp=mpp,
                level=int(geo.level),
                read_size=int(geo.read_size),
                annotated=annotations is not None,
                tissue_fraction=tissue.fraction,
                um_per_px=float(geo.um_per_px),
                fingerprint=job.fingerprint,
            )
            reader = TileReader(slide, geo)
            with PartWriter(Path(job.part), len(table), grid.tile_size, job.compression,
                            job.compression_level) as part:
                for i, tile in reader.iter_table(table):
                    part.write_tile(i, tile)
                record.warnings = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
                part.commit(table, record, job.params_json)
    return record.__dict__


@dataclass
class BuildReport:
    """What a build did.

    Attributes
    ----------
    path : Path
        The store.
    tiled : list of str
        Slides tiled in this run.
    reused : list of str
        Slides taken from an earlier (interrupted or smaller) run.
    failed : list of (str, str)
        (slide path, error message) of slides that could not be tiled.
    changed : dict
        Slide name -> what changed since an earlier run (slide file, annotation): recomputed.
    warnings : dict
        Slide name -> warnings (clipped annotations, no tissue, ...).
    n_tiles : int
        Tiles in the store.
    """

    path: Path
    tiled: list = field(default_factory=list)
    reused: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    changed: dict = field(default_factory=dict)
    warnings: dict = field(default_factory=dict)
    n_tiles: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed


def _params(grid: TileGrid, max_negatives, seed, compression, compression_level) -> dict:
    return {
        "grid": grid.to_dict(),
        "max_negatives_per_slide": max_negatives,
        "seed": int(seed),
        "compression": compression,
        "compression_level": compression_level,
    }


def build_tile_store(
    slides: Iterable[str | Path] | str | Path,
    out: str | Path,
    *,
    grid: TileGrid | None = None,
    annotations: str | Path | dict | None = None,
    max_negatives_per_slide: int | None = None,
    seed: int = 0,
    mpp: float | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    compression: str | None = "lzf",
    compression_level: int | None = None,
    overwrite: bool = False,
    keep_parts: bool = False,
    progress: bool = True,
    on_slide_done: Callable[[str], None] | None = None,
) -> BuildReport:
    """Tile slides into an HDF5 tile store (see :mod:`camelyon.dataset.store` for the layout).

    Parameters
    ----------
    slides : path or iterable of paths
        Slide files and/or folders (searched recursively).
    out : path
        The store (``.h5``). An existing store built with the same parameters is extended (its
        slides are kept); one built with other parameters is an error unless ``overwrite``.
    grid : TileGrid
        Tile size, stride, level or um/px, thresholds (default ``TileGrid()``).
    annotations : folder or dict, optional
        Where ``<slide stem>.xml`` ASAP files are; slides without one get label 0 everywhere.
    max_negatives_per_slide : int, optional
        Keep at most this many label-0 tiles per slide, chosen at random with ``seed``.
    seed : int
        Seed of the negative subsampling (the same seed gives the same store).
    mpp : float, optional
        Level-0 um/px for slides whose file does not say it.
    workers, scheduler :
        Passed to :func:`camelyon.executor.map_slides`; ``workers`` is None (every core) or >= 1
        (1: tile in this process).
    compression : {"lzf", "gzip", "none"}
        Filter of the tile chunks. LZF (default) decompresses several times faster than gzip,
        which gives smaller files (see docs/tiles.md for measurements).
    compression_level : int, optional
        gzip level 0-9 (default 4).
    overwrite : bool
        Discard an existing store (and part files) first.
    keep_parts : bool
        Keep the part files after assembly.
    progress : bool
        Progress bars.
    on_slide_done : callable, optional
        Called in the parent with the slide name after each slide's part file is complete.

    Returns
    -------
    BuildReport
        With the failed slides (a missing slide file is one of them); the store holds every slide
        that succeeded.

    Raises
    ------
    CamelyonError
        A bad parameter, output path or annotation folder, a folder without slides, or an
        incompatible existing store; raised before anything is written or deleted.
    """
    # every check comes before anything is created or deleted on disk
    grid = grid or TileGrid()
    out = Path(out)
    if out.suffix == "":
        raise DatasetError(f"{out}: give the store a file name such as tiles.h5")
    if not out.parent.exists():
        raise DatasetError(f"{out.parent}: folder does not exist")
    if isinstance(annotations, (str, Path)) and not Path(annotations).is_dir():
        raise DatasetError(f"{annotations}: annotation folder not found; expected a folder of <slide stem>.xml files")
    _check_parameters(workers, seed, mpp, max_negatives_per_slide, compression, compression_level)
    params = _params(grid, max_negatives_per_slide, seed, compression, compression_level)
    params_json = json.dumps(params, sort_keys=True)
    parts_dir = out.with_name(out.name + ".parts")

    inputs = [slides] if isinstance(slides, (str, Path)) else list(slides)
    slide_paths = find_slides(inputs, keep_missing=True)
    names = [p.stem for p in slide_paths]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise CamelyonError(f"several slides share the name {dupes[0]!r}; slide names must be unique")
    # outputs are never inputs, and --overwrite replaces a tile store only
    refuse_inputs_as_output(out, [*inputs, *slide_paths] + (
        [annotations] if isinstance(annotations, (str, Path)) else []), option="--out")
    refuse_foreign_output(out, is_own_kind=_is_tile_store(out), own_kind="a camelyon tile store")
    with OutputLock(out, command="tiles"):
        return _build_locked(out, slide_paths, names, parts_dir, grid, annotations, params, params_json,
                             max_negatives_per_slide, seed, mpp, workers, scheduler, compression,
                             compression_level, overwrite, keep_parts, progress, on_slide_done)


def _is_tile_store(path: Path) -> bool:
    """Whether ``path`` is an HDF5 file with the tile-store format mark (False when it does not exist)."""
    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == FORMAT
    except Exception:  # noqa: BLE001 - missing, not HDF5, damaged: not a store we may replace
        return False


def _display(path: Path | str) -> str:
    """A path printable on any terminal: bytes that are not UTF-8 shown as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _valid_utf8(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _build_locked(out, slide_paths, names, parts_dir, grid, annotations, params, params_json,
                  max_negatives_per_slide, seed, mpp, workers, scheduler, compression, compression_level,
                  overwrite, keep_parts, progress, on_slide_done) -> BuildReport:
    """The build itself, run while holding the store's lock."""
    if overwrite:
        if out.exists():
            out.unlink()
        shutil.rmtree(parts_dir, ignore_errors=True)

    existing = _slides_in_store(out, params)
    done_parts = _finished_parts(out, parts_dir, set(names), params_json)

    report = BuildReport(out)
    jobs = []
    for path, name in zip(slide_paths, names, strict=True):
        if not _valid_utf8(path):
            report.failed.append((_display(path), "the file name is not valid UTF-8 text (a byte such as \\xff); "
                                  "rename the file (the store keeps slide names as UTF-8)"))
            continue
        ann = find_annotation(path, annotations)
        current = fingerprint(path, ann)
        earlier = existing.get(name) or (done_parts[name][0] if name in done_parts else None)
        if earlier is not None:
            changed = changes(earlier.fingerprint, current)
            if changed is None:
                report.reused.append(name)
                continue
            report.changed[name] = changed  # recomputed; the old tiles are dropped even if this fails
            existing.pop(name, None)
            done_parts.pop(name, None)
        patient, centre = parse_slide_name(path)
        jobs.append(
            SlideJob(
                path=str(path), name=name, patient=patient, centre=centre,
                annotation=str(ann) if ann else None, part=str(parts_dir / f"{name}.h5"),
                grid=grid.to_dict(), params_json=params_json, mpp=mpp,
                max_negatives=max_negatives_per_slide, seed=seed,
                compression=compression, compression_level=compression_level, fingerprint=current,
            )
        )

    for result in map_slides(tile_slide, jobs, workers=workers, scheduler=scheduler, retries=1,
                             desc="tiling", progress=progress):
        job = result.item
        if result.error is not None:
            result.raise_if_unwritten()  # an exercise not written yet (student edition) is not a bad slide
            _raise_if_disk_problem(result.error, parts_dir)
            report.failed.append((job.path, _strip_type(result.error)))
            continue
        rec = SlideRecord(**result.value)
        for message in rec.warnings:  # caught in the worker: raise them again here
            warnings.warn(message, UserWarning, stacklevel=2)
        done_parts[rec.name] = (rec, Path(job.part))
        report.tiled.append(rec.name)
        if on_slide_done is not None:
            on_slide_done(rec.name)

    _write_store(out, existing, done_parts, report, grid, params_json, compression, compression_level, progress)
    if not keep_parts:
        shutil.rmtree(parts_dir, ignore_errors=True)
    return report


def _slides_in_store(out: Path, params: dict) -> dict[str, SlideRecord]:
    """The slides of an existing store at ``out`` built with ``params`` (none when there is no store)."""
    if not out.exists():
        return {}
    try:
        with h5py.File(out, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise DatasetError(f"{out}: not a camelyon tile store; choose another --out")
            old = json.loads(f.attrs["params"])
            if old != params:
                raise DatasetError(
                    f"{out}: built with other parameters ({_diff(old, params)}); "
                    "use another --out or --overwrite"
                )
            return {r.name: r for r in read_slide_records(f)}
    except OSError as exc:
        raise DatasetError(f"{out}: exists but is not a readable HDF5 file ({exc}); use --overwrite") from None
    except KeyError as exc:
        raise DatasetError(f"{out}: damaged tile store (no {exc.args[0]!r}); rebuild it with --overwrite") from None


def _finished_parts(out: Path, parts_dir: Path, requested: set, params_json: str
                    ) -> dict[str, tuple[SlideRecord, Path]]:
    """The part files an interrupted run finished with the same parameters, by slide name (temporaries
    a killed process left are deleted; parts of slides not requested this time are ignored)."""
    parts_dir.mkdir(exist_ok=True)
    done_parts: dict[str, tuple[SlideRecord, Path]] = {}
    for p in parts_dir.glob("*.h5"):
        info = read_part_info(p)
        if info is not None and info[1] == params_json and info[0].name in requested:
            done_parts[info[0].name] = (info[0], p)
    for stale in [*parts_dir.glob(".*.tmp"), *out.parent.glob(f".{out.name}.*.tmp")]:
        stale.unlink(missing_ok=True)
    return done_parts


def _write_store(out: Path, existing: dict, done_parts: dict, report: BuildReport, grid: TileGrid,
                 params_json: str, compression, compression_level, progress: bool) -> None:
    """Assemble the store from the slides kept from ``existing`` and the finished parts; fills ``report``."""
    sources = [(rec, out, rec.start) for name, rec in existing.items() if name not in done_parts]
    sources += [(rec, p, 0) for rec, p in done_parts.values()]
    for rec, _, _ in sources:
        if rec.warnings:
            report.warnings[rec.name] = list(rec.warnings)
    attrs = {
        "params": params_json,
        "level": -1 if grid.level is None and grid.um_per_px is not None else int(grid.level or 0),
        "um_per_px": _output_um_per_px(grid, sources),
        "failed": json.dumps([[p, e] for p, e in report.failed]),
    }
    total = int(sum(rec.count for rec, _, _ in sources))
    bar = tqdm(total=total, desc="writing store", unit="tile", disable=not progress or None, leave=False)
    try:
        assemble_store(out, sources, tile_size=grid.tile_size, compression=compression,
                       compression_level=compression_level, attrs=attrs, progress=bar.update)
    finally:
        bar.close()
    report.n_tiles = total


#: Worker errors that are the disk's fault, not the slide's: the build stops (finished slides are kept).
_DISK_ERRORS = {"No space left on device": errno.ENOSPC, "Disk quota exceeded": errno.EDQUOT,
                "Read-only file system": errno.EROFS}


def _raise_if_disk_problem(error: str, folder: Path) -> None:
    """Raise OSError when a worker failed because the output disk is full or read-only."""
    for text, code in _DISK_ERRORS.items():
        if text in error:
            raise OSError(code, text, str(folder))


def _check_parameters(workers, seed, mpp, max_negatives, compression, compression_level) -> None:
    """Raise a :class:`CamelyonError` naming the first bad build parameter and what it should be."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer))
                                or workers < 1):
        raise CamelyonError(f"workers must be a whole number >= 1 (1: tile in this process), got {workers!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise CamelyonError(f"seed must be a whole number >= 0, got {seed!r}")
    if mpp is not None and not (isinstance(mpp, (int, float, np.number)) and MPP_RANGE[0] <= mpp <= MPP_RANGE[1]):
        raise CamelyonError(f"mpp must be a level-0 resolution between {MPP_RANGE[0]} and {MPP_RANGE[1]} um/px "
                            f"(e.g. 0.243), got {mpp!r}")
    if max_negatives is not None and (not isinstance(max_negatives, (int, np.integer)) or max_negatives < 0):
        raise DatasetError(f"max_negatives_per_slide must be >= 0, got {max_negatives}")
    if compression not in (None, "lzf", "gzip", "none"):
        raise CamelyonError(f"compression must be 'lzf', 'gzip' or 'none', got {compression!r}")
    if compression_level is not None and (isinstance(compression_level, bool)
                                          or not isinstance(compression_level, (int, np.integer))
                                          or not 0 <= compression_level <= 9):
        raise CamelyonError(f"compression_level must be a gzip level 0-9, got {compression_level!r}")


def _output_um_per_px(grid: TileGrid, sources) -> float:
    """um/px of the tiles: the target, or the median over slides of their level's um/px."""
    if grid.um_per_px is not None:
        return float(grid.um_per_px)
    if not sources:
        return float("nan")
    return float(np.median([rec.um_per_px for rec, _, _ in sources]))


def _strip_type(error: str) -> str:
    """``"SlideError: msg"`` -> ``"msg"`` for our own errors; other errors keep their type."""
    kind, _, msg = error.partition(": ")
    if kind in {cls.__name__ for cls in (CamelyonError, SlideError, DatasetError)} | {"AnnotationError"}:
        return msg
    return error


def _diff(old: dict, new: dict) -> str:
    flat_old = {**old.get("grid", {}), **{k: v for k, v in old.items() if k != "grid"}}
    flat_new = {**new.get("grid", {}), **{k: v for k, v in new.items() if k != "grid"}}
    keys = sorted(k for k in set(flat_old) | set(flat_new) if flat_old.get(k) != flat_new.get(k))
    return ", ".join(f"{k}: {flat_old.get(k)} -> {flat_new.get(k)}" for k in keys[:4])
