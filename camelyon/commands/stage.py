"""``camelyon stage``: patients' pN stages from slide labels (CAMELYON17 rules)."""

from __future__ import annotations

from camelyon.errors import CamelyonError
from camelyon.messages import count_noun


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "stage",
        help="pN stage of each patient from its slide labels; writes a CAMELYON17 submission CSV",
        description="Read slide rows (patient_004_node_0.tif,macro ...) from a CSV, give every patient "
                    "its pN stage by the CAMELYON17 rules and write patient rows followed by their slides.",
    )
    p.add_argument("slide_labels", help="CSV with slide rows, e.g. written by 'camelyon classify'")
    p.add_argument("--out", required=True, help="submission CSV (patient,stage)")
    p.set_defaults(func=run)


def run(args) -> int:
    from camelyon.staging import read_stage_csv, stages_from_slide_labels, write_stage_csv

    table = read_stage_csv(args.slide_labels)
    if not table.slides:
        raise CamelyonError(f"{args.slide_labels} has no slide rows")
    stages = stages_from_slide_labels(table.slides)
    path = write_stage_csv(args.out, stages, table.slides)
    counts = {}
    for s in stages.values():
        counts[s] = counts.get(s, 0) + 1
    print(f"wrote {count_noun(len(stages), 'patient')} to {path}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0
