"""minicnn's tile-CNN speed at another git revision against this checkout, alternating in one run.

Exports ``minicnn/`` of ``--base`` (default ``main``) to a temporary folder with ``git archive``,
then runs ``bench_cnn.py --no-torch`` alternately on that copy and on this checkout, ``--rounds``
times, and reports the median ratio of this checkout's times to the base's (below 1: faster).
Alternating processes expose both to the same load from other jobs.

Usage::

    .venv/bin/python benchmarks/compare_revisions.py --base main --rounds 5
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", default="main", help="git revision to compare with")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (each: one bench_cnn run per side)")
    p.add_argument("--runs", type=int, default=5, help="timed runs inside each bench_cnn run")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(HERE / "results" / "cnn_revisions.json"))
    return p.parse_args(argv)


def _bench(source, out, args):
    cmd = [sys.executable, str(HERE / "bench_cnn.py"), "--no-torch", "--runs", str(args.runs),
           "--threads", str(args.threads), "--out", str(out)]
    if source is not None:
        cmd += ["--minicnn-from", str(source)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    m = json.loads(Path(out).read_text())["libraries"]["minicnn"]
    return m["train_step_ms"], m["infer_batch_ms"]


def main(argv=None):
    args = _parse_args(argv)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", args.base], check=True, capture_output=True,
                            text=True).stdout.strip()
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory(prefix="minicnn-base-") as tmp:
        base_dir = Path(tmp) / "src"
        base_dir.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "minicnn"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base_dir)], input=archive, check=True)
        out = Path(tmp) / "cnn.json"
        _bench(base_dir, out, args)  # compiles the base's Numba kernels once (cached in the copy)
        for r in range(args.rounds):
            base = _bench(base_dir, out, args)
            this = _bench(None, out, args)
            rows.append({"base_train_ms": base[0], "this_train_ms": this[0],
                         "base_infer_ms": base[1], "this_infer_ms": this[1]})
            print(f"round {r + 1}: training step {this[0]:.1f} ms vs base {base[0]:.1f} ms, "
                  f"inference {this[1]:.1f} ms vs {base[1]:.1f} ms", flush=True)
    train = float(np.median([r["this_train_ms"] / r["base_train_ms"] for r in rows]))
    infer = float(np.median([r["this_infer_ms"] / r["base_infer_ms"] for r in rows]))
    result = {"base": args.base, "base_commit": commit, "this_commit": head,
              "worktree_changes": bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "minicnn"],
                                                      capture_output=True, text=True).stdout.strip()),
              "rounds": rows, "ratio_train_time_this_over_base": train, "ratio_infer_time_this_over_base": infer,
              "load_average_1min": os.getloadavg()[0]}
    print(f"median ratio this/base: training step {train:.3f}, inference {infer:.3f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".cnn_revisions.", suffix=".json", dir=out.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    os.replace(tmp, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
