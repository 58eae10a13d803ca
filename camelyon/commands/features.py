"""``camelyon features``: one CSV of slide features from a folder of heatmaps."""

from __future__ import annotations

from pathlib import Path

from camelyon.commands import add_worker_options
from camelyon.errors import CamelyonError
from camelyon.messages import count_noun


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "features",
        help="slide features (max probability, largest object in mm, ...) from heatmaps, as one CSV",
        description="Compute the features of every heatmap (.npz written by 'camelyon heatmap') and write "
                    "one CSV: slide, [label,] features. With --labels, the reference slide labels of a "
                    "CAMELYON17 stage_labels.csv are added as a 'label' column for training.",
    )
    p.add_argument("heatmaps", nargs="+", help="heatmap .npz files or folders holding them")
    p.add_argument("--out", required=True, help="output CSV")
    p.add_argument("--labels", default=None, help="stage_labels.csv with slide rows (adds a label column)")
    add_worker_options(p)
    p.set_defaults(func=run)


def heatmap_files(inputs) -> list[Path]:
    """Expand files and folders into a sorted list of heatmap .npz files."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files += sorted(path.glob("*.npz"))
        elif path.is_file():
            files.append(path)
        else:
            raise CamelyonError(f"no such heatmap file or folder: {path}")
    if not files:
        raise CamelyonError(f"no heatmap .npz files in {', '.join(map(str, inputs))}")
    return files


def run(args) -> int:
    from camelyon.features import compute_feature_table, write_features_csv
    from camelyon.staging import read_stage_csv

    slides, names, X = compute_feature_table(heatmap_files(args.heatmaps), workers=args.workers, scheduler=args.scheduler,
                                             progress=not args.quiet)
    labels = None
    if args.labels:
        table = read_stage_csv(args.labels)
        missing = [s for s in slides if s not in table.slides]
        if missing:
            raise CamelyonError(f"{args.labels} has no label for {count_noun(len(missing), 'slide')}, e.g. {missing[0]}")
        labels = [table.slides[s] for s in slides]
    out = write_features_csv(args.out, slides, names, X, labels)
    print(f"wrote {count_noun(len(slides), 'slide')} x {count_noun(len(names), 'feature')} to {out}")
    return 0
