"""Test accuracy of the small CNN on scikit-learn's digits for several seeds (the README's digits figure).

Runs ``minicnn.examples.digits`` (15 epochs, Adam with a cosine schedule) once per seed and writes
``benchmarks/results/digits.json`` with each seed's test accuracy and training time.

Usage::

    .venv/bin/python benchmarks/bench_digits.py                # seeds 0-4
    .venv/bin/python benchmarks/bench_digits.py --seeds 0 1 2
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from minicnn.examples.digits import run  # noqa: E402
from minicnn.io import write_json  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--out", default=str(HERE / "results" / "digits.json"))
    args = p.parse_args(argv)
    runs = []
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-digits-") as tmp:
        for seed in args.seeds:
            summary = run(Path(tmp) / f"seed{seed}", seed=seed, progress=False)
            runs.append({"seed": seed, "test_accuracy": summary["test_accuracy"], "n_test": summary["n_test"],
                         "epochs": summary["epochs"], "train_seconds": summary["train_seconds"]})
            print(f"seed {seed}: test accuracy {100 * summary['test_accuracy']:.2f} % "
                  f"({summary['train_seconds']:.1f} s)", flush=True)
    accs = [r["test_accuracy"] for r in runs]
    result = {"benchmark": "digits_cnn test accuracy per seed (minicnn.examples.digits)", "runs": runs,
              "seeds": args.seeds, "test_accuracy_min": min(accs), "test_accuracy_max": max(accs),
              "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "load_average_1min": load}
    out = write_json(args.out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
