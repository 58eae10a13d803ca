"""Run every benchmark in turn (``make bench``); each writes its JSON to benchmarks/results/.

The machine is noisy: every script takes medians of several runs and compares against its peer
(PyTorch, scikit-learn, plain OpenSlide reads) in the same run, so read the ratios.

    python benchmarks/run_all.py            # all of them (about 30-40 minutes on 2 idle cores)
    python benchmarks/run_all.py cnn trees  # a selection
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: name -> command-line arguments of the script (quick but representative settings).
BENCHMARKS = {
    "cnn": ["bench_cnn.py"],
    "digits": ["bench_digits.py"],
    "demo": ["bench_demo.py"],
    "startup": ["bench_startup.py"],
    "trees": ["bench_trees.py"],
    "synthetic": ["bench_synthetic.py", "speed", "auc"],
    "tiling": ["bench_tiling.py"],
    "heatmap": ["bench_heatmap.py"],
    "executor": ["bench_executor.py"],
    "stain": ["stain_ablation.py"],
    "pcam": ["bench_pcam.py"],
    "viewer": ["bench_viewer.py"],
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        script, *args = BENCHMARKS[name]
        print(f"=== {name}: {script} {' '.join(args)}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / script), *args])
        print(f"=== {name}: exit {rc} after {time.perf_counter() - t0:.0f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
