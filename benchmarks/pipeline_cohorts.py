"""Kappa and slide-label accuracy of the default pipeline on fresh easy cohorts (README's pipeline-cohort rows).

For each seed: a 30-patient cohort of the demo's preset (``generate_cohort(..., n_centers=5, mpp=1.0,
size=(6144, 4096))``), the default ``run_pipeline`` with 2 workers, and its scores on the 20 held-out
patients, through ``bench_synthetic_challenge.bench_pipeline`` (the same protocol as docs/pipeline.md).
Adds the slide-label accuracy of each true label. ``--reuse-run`` scores finished runs in ``--work``
again without repainting or rerunning. Writes ``benchmarks/results/pipeline_cohorts.json``.

Usage::

    flock /work/team/bench.lock .venv/bin/python benchmarks/pipeline_cohorts.py --seeds 777001 990001
"""

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench_synthetic_challenge import bench_pipeline  # noqa: E402

from minicnn.io import write_json  # noqa: E402

LABELS = ("negative", "itc", "micro", "macro")


def accuracy_by_label(confusion: dict) -> dict:
    """Share of the slides of each true label predicted with that label, from ``{"true->pred": count}``."""
    out = {}
    for label in LABELS:
        total = sum(n for key, n in confusion.items() if key.split("->")[0] == label)
        right = confusion.get(f"{label}->{label}", 0)
        out[label] = {"right": right, "slides": total, "accuracy": right / total if total else None}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[777001, 990001])
    p.add_argument("--patients", type=int, default=30)
    p.add_argument("--work", default=str(Path.home() / ".cache" / "minicnn-camelyon" / "pipeline_cohorts"))
    p.add_argument("--reuse-run", action="store_true", help="score finished runs in --work again")
    p.add_argument("--note", default=None, help="free text kept in the results file (when and how it ran)")
    p.add_argument("--out", default=str(HERE / "results" / "pipeline_cohorts.json"))
    args = p.parse_args(argv)
    result = {"benchmark": "default pipeline on fresh easy cohorts: kappa and slide accuracy of 20 held-out "
                           "patients", "load_average_at_start": list(os.getloadavg()), "cohorts": {}}
    for seed in args.seeds:
        row = bench_pipeline(args.patients, seed, Path(args.work), ("easy",), 1.0, reuse=args.reuse_run)["easy"]
        row["slide_accuracy_by_label"] = accuracy_by_label(row["slide_confusion"])
        result["cohorts"][str(seed)] = row
    result.update({"load_average_at_end": list(os.getloadavg()), "note": args.note,
                   "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    print(f"wrote {write_json(args.out, result, indent=1)}")


if __name__ == "__main__":
    main()
