"""This checkout's minicnn against another git revision's, timed in the same run (with PyTorch and the matmul rate).

Exports ``minicnn/`` of ``--base`` (default ``main``) with ``git archive`` into a temporary folder as
the package ``minicnn_base`` (its imports renamed), then runs ``bench_cnn.py --base-from`` that folder:
one process times this checkout's minicnn, the base revision's, PyTorch (unless ``--no-torch``) and
the float32 matrix product, alternating run by run, so that all of them see the same load.

Usage::

    .venv/bin/python benchmarks/compare_revisions.py --base main          # writes results/cnn_revisions.json
    .venv/bin/python benchmarks/compare_revisions.py --base 3ca4e5f --runs 9 --out /tmp/before_after.json
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def export_base(revision, folder):
    """Write ``minicnn`` of git `revision` to ``folder/minicnn_base`` with every ``minicnn`` import renamed."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "minicnn"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    package = Path(folder) / "minicnn_base"
    (Path(folder) / "minicnn").rename(package)
    for path in package.rglob("*.py"):
        path.write_text(re.sub(r"\bminicnn\b", "minicnn_base", path.read_text()))
    return package


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", default="main", help="git revision to compare with")
    p.add_argument("--out", default=str(HERE / "results" / "cnn_revisions.json"))
    args, rest = p.parse_known_args(argv)  # the rest goes to bench_cnn.py (--runs, --no-torch, ...)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", args.base], check=True, capture_output=True,
                            text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="minicnn-base-") as tmp:
        export_base(commit, tmp)
        print(f"base: {args.base} = {commit[:10]} (minicnn-base); this checkout: minicnn", flush=True)
        return subprocess.call([sys.executable, str(HERE / "bench_cnn.py"), "--base-from", tmp, "--out", args.out,
                                *rest])


if __name__ == "__main__":
    sys.exit(main())
