"""``camelyon heatmap``: tumour-probability maps of slides with a trained tile model."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from camelyon.errors import CamelyonError
from camelyon.messages import count_noun

SLIDE_SUFFIXES = (".tif", ".tiff", ".svs", ".ndpi", ".mrxs", ".scn", ".bif", ".vms")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "heatmap",
        help="tumour-probability heatmap of each slide (.npz + .png) with a trained tile model",
        description="Classify the tissue tiles of each slide with a tile model written by 'camelyon train' and "
                    "save one heatmap per slide as OUT/<slide stem>.npz (probability, tissue, geometry) with a "
                    "PNG of the map over the thumbnail. Slides whose heatmap exists are skipped (resume); "
                    "use --overwrite to recompute them.",
    )
    p.add_argument("slides", nargs="+", metavar="SLIDES_OR_DIR", help="slide files or folders holding them")
    p.add_argument("--model", required=True, help="tile model .npz written by 'camelyon train'")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores; 1: inline)")
    p.add_argument("--stride", type=int, default=None,
                   help="grid step in tile px (default: the tile size; e.g. half of it for a finer map)")
    p.add_argument("--batch-size", type=int, default=128, help="tiles per forward pass (default 128)")
    p.add_argument("--min-tissue", type=float, default=0.25,
                   help="tissue fraction a tile needs to be classified (default 0.25)")
    p.add_argument("--mpp", type=float, default=None, help="level-0 um/px for slides that do not record it")
    p.add_argument("--no-png", action="store_true", help="do not draw the overlay pictures")
    p.add_argument("--overwrite", action="store_true", help="recompute heatmaps that already exist")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786) instead of local workers")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


@dataclass(frozen=True)
class HeatmapJob:
    """One slide's heatmap work (sent to a worker process)."""

    slide: str
    model: str
    out: str
    stride: int | None
    batch_size: int
    min_tissue: float
    mpp: float | None
    png: bool
    threads: int | None = None


def find_slide_files(inputs) -> list[Path]:
    """Expand slide files and folders (searched recursively) into a sorted list of slide paths."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SLIDE_SUFFIXES
                      and not p.name.startswith(".") and ".tmp" not in p.name]
        elif path.is_file():
            found.append(path)
        else:
            raise CamelyonError(f"no such slide file or folder: {path}")
    if not found:
        raise CamelyonError(f"no slide files ({', '.join(SLIDE_SUFFIXES)}) in {', '.join(map(str, inputs))}")
    unique = sorted(set(found), key=lambda p: (p.name, str(p)))
    stems = [p.stem for p in unique]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise CamelyonError(f"several slides share the name {dupes[0]!r}; their heatmaps would overwrite each other")
    return unique


def heatmap_job(job: HeatmapJob) -> dict:
    """Worker: compute, save and draw one slide's heatmap; returns a summary row."""
    from camelyon.heatmap import compute_heatmap, heatmap_png_path, plot_heatmap
    from camelyon.slide import Slide

    if job.threads:
        import numba

        numba.set_num_threads(max(1, min(job.threads, numba.config.NUMBA_NUM_THREADS)))
    hm = compute_heatmap(job.slide, job.model, stride=job.stride, batch_size=job.batch_size,
                         min_tissue=job.min_tissue, mpp=job.mpp)
    hm.save(job.out)
    if job.png:
        with Slide(job.slide, mpp=job.mpp) as slide:
            thumb = slide.thumbnail(768)
            ds = slide.dimensions[0] / thumb.shape[1]
        plot_heatmap(hm, thumb, ds, heatmap_png_path(job.out))
    return {"slide": hm.slide, "tiles": hm.extra["tiles"], "max_probability": float(hm.probability.max(initial=0.0)),
            "seconds": hm.extra["seconds"], "heatmap": job.out}


def run(args) -> int:
    from camelyon.executor import default_workers, map_slides
    from camelyon.tile_model import load_tile_model

    if args.stride is not None and args.stride < 1:
        raise CamelyonError(f"--stride must be >= 1 px, got {args.stride}")
    if args.batch_size < 1:
        raise CamelyonError(f"--batch-size must be >= 1, got {args.batch_size}")
    if not 0.0 <= args.min_tissue <= 1.0:
        raise CamelyonError(f"--min-tissue must be in [0, 1], got {args.min_tissue}")
    from camelyon.outputs import OutputError, file_kind, refuse_inputs_as_output

    refuse_inputs_as_output(args.out, [*args.slides, args.model], option="--out")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise OutputError(f"--out {args.out} exists and is {file_kind(args.out)}, not a folder of heatmaps: choose "
                          "another --out (the file was not touched)")
    model = load_tile_model(args.model, architecture=None)  # fail early on a bad model file
    if args.stride is not None and args.stride > model.tile_size:
        raise CamelyonError(f"--stride {args.stride} is larger than the model's tile size {model.tile_size}")
    from camelyon.camelyon16.layout import expand_inputs

    slides = find_slide_files(expand_inputs(args.slides, ("test",), "mapping"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    workers = default_workers() if args.workers is None else max(1, args.workers)
    threads = max(1, default_workers() // workers) if workers > 1 else None
    if threads is not None:
        # worker processes start fresh interpreters: give each its share of the cores, because BLAS and
        # Numba threads that outnumber the cores spin against each other and slow inference many times over
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            os.environ.setdefault(var, str(threads))
    jobs, skipped = [], 0
    for s in slides:
        target = out / f"{s.stem}.npz"
        if target.exists() and not args.overwrite:
            skipped += 1
            continue
        jobs.append(HeatmapJob(str(s), str(Path(args.model).resolve()), str(target), args.stride, args.batch_size,
                               args.min_tissue, args.mpp, not args.no_png, threads))
    print(f"{count_noun(len(slides), 'slide')}, {count_noun(skipped, 'heatmap')} already there, {len(jobs)} to compute with "
          f"{model.describe()}")
    rows, failed = [], []
    for res in map_slides(heatmap_job, jobs, workers=workers, scheduler=args.scheduler, desc="heatmaps",
                          progress=not args.quiet):
        if res.ok:
            rows.append(res.value)
        else:
            res.raise_if_unwritten()
            failed.append((Path(res.item.slide).name, res.error))
            print(f"  {Path(res.item.slide).name}: FAILED: {res.error}")
    if rows:
        _append_summary(out / "heatmaps.csv", rows)
        tiles = sum(r["tiles"] for r in rows)
        seconds = sum(r["seconds"] for r in rows)
        print(f"wrote {count_noun(len(rows), 'heatmap')} to {out} ({tiles} tiles, {tiles / max(seconds, 1e-9):.0f} tiles/s "
              f"per worker)")
    if failed:
        print(f"{count_noun(len(failed), 'slide')} failed; rerun the same command to retry them")
        return 1
    return 0


def _append_summary(path: Path, rows: list[dict]) -> None:
    """Merge rows into the per-slide summary CSV (one row per slide, the newest wins), atomically."""
    from camelyon.csv_cells import escape_cell, unescape_cell

    fields = ["slide", "tiles", "max_probability", "seconds", "heatmap"]
    merged: dict[str, dict] = {}
    if path.is_file():
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                if row.get("slide"):
                    row["slide"] = unescape_cell(row["slide"])
                    merged[row["slide"]] = row
    for r in rows:
        merged[r["slide"]] = r
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for name in sorted(merged):
            w.writerow({**merged[name], "slide": escape_cell(name)})
    os.replace(tmp, path)
