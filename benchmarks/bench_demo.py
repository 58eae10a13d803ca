"""Run ``camelyon demo`` from scratch and keep its evaluation and wall time (the README's demo figures).

Runs the demo into a temporary folder (synthetic cohort, then the whole pipeline), times it, and writes
``benchmarks/results/demo.json``: the demo's ``evaluation.json`` (kappa, per-patient stages, slide
confusion), the wall time in minutes and the machine's load average before and after.

Usage::

    .venv/bin/python benchmarks/bench_demo.py
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from minicnn.io import write_json

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(HERE / "results" / "demo.json"))
    args = p.parse_args(argv)
    camelyon = Path(sys.executable).with_name("camelyon")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run([str(camelyon), "demo", "--out", tmp, "--quiet"], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode:
            sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
            raise SystemExit(f"bench_demo: camelyon demo failed (exit {proc.returncode})")
        evaluation = json.loads((Path(tmp) / "run" / "evaluation.json").read_text())
    result = {
        "benchmark": "camelyon demo from scratch (synthetic cohort + pipeline)",
        "command": "camelyon demo --out DIR --quiet",
        "wall_minutes": wall / 60,
        "evaluation": evaluation,
        "last_lines": proc.stdout.strip().splitlines()[-3:],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
        "cpu_count": os.cpu_count(),
    }
    print(f"demo: kappa {evaluation['kappa']:.4f} on {evaluation['n_patients']} patients, {wall / 60:.1f} min "
          f"(load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after)")
    out = write_json(args.out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
