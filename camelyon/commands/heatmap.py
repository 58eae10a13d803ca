"""``camelyon heatmap``: tumour-probability maps of slides with a trained tile model."""

from __future__ import annotations

import csv
from pathlib import Path

from camelyon.commands import add_worker_options
from camelyon.discovery import find_slides
from camelyon.errors import CamelyonError
from camelyon.messages import count_noun
from minicnn.io import atomic_write


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
    add_worker_options(p, overwrite="recompute heatmaps that already exist")
    p.add_argument("--stride", type=int, default=None,
                   help="grid step in tile px (default: the tile size; e.g. half of it for a finer map)")
    p.add_argument("--batch-size", type=int, default=128, help="tiles per forward pass (default 128)")
    p.add_argument("--min-tissue", type=float, default=0.25,
                   help="tissue fraction a tile needs to be classified (default 0.25)")
    p.add_argument("--mpp", type=float, default=None, help="level-0 um/px for slides that do not record it")
    p.add_argument("--no-png", action="store_true", help="do not draw the overlay pictures")
    p.set_defaults(func=run)


def run(args) -> int:
    from camelyon.heatmap import compute_heatmaps
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

    slides = find_slides(expand_inputs(args.slides, ("test",), "mapping"))
    out = Path(args.out)

    def say_what(n_compute: int, n_kept: int) -> None:
        print(f"{count_noun(len(slides), 'slide')}, {count_noun(n_kept, 'heatmap')} already there, {n_compute} to "
              f"compute with {model.describe()}")

    run = compute_heatmaps(slides, args.model, out, keep=lambda p: p.exists() and not args.overwrite,
                           stride=args.stride, batch_size=args.batch_size, min_tissue=args.min_tissue, mpp=args.mpp,
                           png=not args.no_png, workers=args.workers, scheduler=args.scheduler,
                           progress=not args.quiet, on_start=say_what)
    rows, failed = run.rows, run.failed
    for name, error in failed:
        print(f"  {name}: FAILED: {error}")
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

    def write_rows(f) -> None:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for name in sorted(merged):
            w.writerow({**merged[name], "slide": escape_cell(name)})

    atomic_write(path, write_rows, mode="w", newline="")
