"""Both CAMELYON16 tasks on a synthetic cohort laid out as CAMELYON16: FROC and slide AUC of the pipeline.

Steps (each resumes: rerunning reuses the cohort, the tile store, the model and the heatmaps):

1. ``camelyon synth WORK/c17 --patients 24 --centers 5 --seed 2017 --demo`` (120 slides, 1 um/px);
2. ``python -m camelyon.camelyon16.synthetic WORK/c17 WORK/CAMELYON16 --test-fraction 0.35 --seed 0``;
3. ``camelyon pipeline WORK/CAMELYON16 --out WORK/run`` (default settings; ``--slide-score classifier``
   adds the slide classifier on heatmap features, and the heatmap maximum's AUC is kept next to its own);

then writes the scores, the per-class slide probabilities and the step times to
``benchmarks/results/camelyon16_synthetic.json``.

Usage::

    .venv/bin/python benchmarks/bench_camelyon16.py --work runs/c16
    .venv/bin/python benchmarks/bench_camelyon16.py --work runs/c16 --slide-score classifier \
        --out benchmarks/results/camelyon16_slide_classifier.json
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from minicnn.io import write_json

ROOT = Path(__file__).resolve().parents[1]
CAMELYON = [sys.executable, "-m", "camelyon"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default=str(ROOT / "runs" / "c16"))
    ap.add_argument("--patients", type=int, default=24)
    ap.add_argument("--seed", type=int, default=2017)
    ap.add_argument("--slide-score", choices=("max", "classifier"), default="max")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "camelyon16_synthetic.json"))
    args = ap.parse_args()
    work = Path(args.work)
    t0 = time.perf_counter()
    subprocess.run([*CAMELYON, "synth", str(work / "c17"), "--patients", str(args.patients), "--centers", "5",
                    "--seed", str(args.seed), "--demo", "--quiet"], check=True, cwd=ROOT)
    subprocess.run([sys.executable, "-m", "camelyon.camelyon16.synthetic", str(work / "c17"), str(work / "CAMELYON16"),
                    "--test-fraction", "0.35", "--seed", "0"], check=True, cwd=ROOT)
    subprocess.run([*CAMELYON, "pipeline", str(work / "CAMELYON16"), "--out", str(work / "run"), "--quiet",
                    "--slide-score", args.slide_score], check=True, cwd=ROOT)
    summary = json.loads((work / "run" / "run_summary.json").read_text())
    ev = json.loads((work / "run" / "evaluation16.json").read_text())
    ref = {r[0]: r for r in csv.reader(open(work / "CAMELYON16" / "testing" / "reference.csv"))}
    probs = {r[0]: float(r[1]) for r in list(csv.reader(open(work / "run" / "slide_probabilities.csv")))[1:]}
    by_class: dict = {}
    for name, p in probs.items():
        row = ref[name]
        cls = row[2] if row[1].lower() == "tumor" and len(row) > 2 and row[2] else row[1]
        by_class.setdefault(cls.lower(), []).append(p)
    counts = {k: sum(s.get(k, 0) for s in ev["slides"].values()) for k in ("TP", "FP", "repeat", "ITC", "itc_regions")}
    out = {
        "froc": ev["froc"], "sensitivities": ev["sensitivities"], "auc": ev["auc"], "auc_ci": ev["auc_ci"],
        "slide_score": args.slide_score, "auc_max_score": summary.get("auc_max_score"),
        "auc_max_score_ci": summary.get("auc_max_score_ci"),
        "n_test_slides": ev["n_slides"], "n_lesions": ev["n_lesions"], "detections": counts,
        "slide_probability_by_class": {k: sorted(v) for k, v in by_class.items()},
        "lowest_micro": min(by_class.get("micro", [1.0])), "highest_normal": max(by_class.get("normal", [0.0])),
        "steps_seconds": {k: v["seconds"] for k, v in summary["steps"].items()},
        "training": summary.get("training"),
        "evaluation_mask_scaled_to_slide_mpp": summary.get("evaluation_mask_scaled_to_slide_mpp"),
        "settings": {"patients": args.patients, "seed": args.seed, "test_fraction": 0.35,
                     "slide_score": args.slide_score},
        "wall_seconds_this_run": time.perf_counter() - t0,
        "load_average_1min_at_end": os.getloadavg()[0],
    }
    path = write_json(args.out, out)
    print(f"FROC {out['froc']:.4f}, slide AUC {out['auc']:.4f} ({out['auc_ci'][0]:.3f}-{out['auc_ci'][1]:.3f}); wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
