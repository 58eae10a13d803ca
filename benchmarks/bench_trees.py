"""Fit time of minicnn's trees against scikit-learn in the same run, and test accuracy.

Measured (fit only, ``n_jobs=1`` for both libraries, default parameters otherwise):

- DecisionTreeClassifier on ``make_classification`` 20,000 x 10 and 200,000 x 10
  (4 classes, 5 informative features), grown to purity;
- RandomForestClassifier, 100 trees, on 20,000 x 10 (``max_features="sqrt"``, bootstrap).

Runs alternate between the two libraries so that load from other processes hits both alike; the
figures are medians of ``--runs`` timed runs after one warm-up (which also loads the Numba cache).
The ratio is minicnn time / scikit-learn time (target <= 2.0).
Test accuracy on scikit-learn's bundled breast-cancer data (569 x 30) with a fixed stratified
70/30 split, for a tree and a 100-tree forest of each library (random_state=0).

Usage::

    .venv/bin/python benchmarks/bench_trees.py            # table + benchmarks/results/trees.json
    .venv/bin/python benchmarks/bench_trees.py --runs 3 --quick
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sklearn import ensemble as sk_ensemble  # noqa: E402
from sklearn import tree as sk_tree  # noqa: E402
from sklearn.datasets import load_breast_cancer, make_classification  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from minicnn.io import write_json  # noqa: E402
from minicnn.tree import DecisionTreeClassifier, RandomForestClassifier  # noqa: E402

TARGET_RATIO = 2.0


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=5, help="timed runs per case (median)")
    p.add_argument("--quick", action="store_true", help="skip the 200,000-sample tree")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "trees.json"))
    return p.parse_args(argv)


def _time_fit(make, X, y):
    start = time.perf_counter()
    make().fit(X, y)
    return time.perf_counter() - start


def compare(name, ours, theirs, X, y, runs):
    """Median fit times of both libraries, alternating runs after one warm-up each."""
    _time_fit(ours, X, y)
    _time_fit(theirs, X, y)
    t_ours, t_theirs = [], []
    for _ in range(runs):
        t_ours.append(_time_fit(ours, X, y))
        t_theirs.append(_time_fit(theirs, X, y))
    row = {
        "case": name,
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "minicnn_s": statistics.median(t_ours),
        "sklearn_s": statistics.median(t_theirs),
        "minicnn_runs_s": t_ours,
        "sklearn_runs_s": t_theirs,
    }
    row["ratio"] = row["minicnn_s"] / row["sklearn_s"]
    row["meets_target"] = row["ratio"] <= TARGET_RATIO
    print(f"{name:<34} minicnn {row['minicnn_s']:7.3f} s   scikit-learn {row['sklearn_s']:7.3f} s   "
          f"ratio {row['ratio']:5.2f}", flush=True)
    return row


def accuracy_rows():
    data = load_breast_cancer()
    X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.3,
                                                        stratify=data.target, random_state=0)
    rows = []
    for label, ours, theirs in (
        ("DecisionTreeClassifier", DecisionTreeClassifier(random_state=0),
         sk_tree.DecisionTreeClassifier(random_state=0)),
        ("RandomForestClassifier(100)", RandomForestClassifier(n_estimators=100, random_state=0),
         sk_ensemble.RandomForestClassifier(n_estimators=100, random_state=0)),
    ):
        a = float(np.mean(ours.fit(X_train, y_train).predict(X_test) == y_test))
        b = float(np.mean(theirs.fit(X_train, y_train).predict(X_test) == y_test))
        print(f"breast cancer, {label:<28} test accuracy minicnn {a:.4f}   scikit-learn {b:.4f}", flush=True)
        rows.append({"model": label, "minicnn_accuracy": a, "sklearn_accuracy": b,
                     "n_train": int(len(y_train)), "n_test": int(len(y_test))})
    return rows


def main(argv=None):
    args = _parse_args(argv)
    cases = []
    sizes = [20_000] if args.quick else [20_000, 200_000]
    for n in sizes:
        X, y = make_classification(n_samples=n, n_features=10, n_informative=5, n_classes=4, random_state=0)
        cases.append(compare(f"DecisionTree {n:,} x 10", lambda: DecisionTreeClassifier(random_state=0),
                             lambda: sk_tree.DecisionTreeClassifier(random_state=0), X, y,
                             max(1, args.runs if n < 100_000 else min(args.runs, 3))))
    X, y = make_classification(n_samples=20_000, n_features=10, n_informative=5, n_classes=4, random_state=0)
    cases.append(compare("RandomForest 100 trees, 20,000 x 10",
                         lambda: RandomForestClassifier(n_estimators=100, n_jobs=1, random_state=0),
                         lambda: sk_ensemble.RandomForestClassifier(n_estimators=100, n_jobs=1, random_state=0),
                         X, y, max(1, min(args.runs, 3))))
    result = {
        "benchmark": "trees",
        "target_ratio": TARGET_RATIO,
        "cases": cases,
        "accuracy_breast_cancer": accuracy_rows(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average": list(os.getloadavg()), "platform": platform.platform()},
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = write_json(args.out, result)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
