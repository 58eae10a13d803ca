"""Single-thread CPU time of the fast convolution and max-pool kernels: this checkout against another revision.

Times ``conv2d_forward_fast`` / ``conv2d_backward_fast`` on the four convolutions of the tile CNN
(batch 64, 3 x 96 x 96 input; the first without its input gradient, as in training) and
``max_pool2d_forward_fast`` + ``max_pool2d_backward_fast`` on its three pooling layers, with one
thread (``NUMBA_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``). The time is the calling thread's CPU time
(``time.thread_time``), which other processes on a loaded machine hardly change, unlike wall-clock
time; the two revisions alternate call by call and the figures are medians. Both revisions get the
same inputs; the largest relative difference of their outputs and gradients is reported.

Usage::

    .venv/bin/python benchmarks/bench_conv_kernels.py --base 6d81fd2      # writes results/conv_kernels.json
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import importlib  # noqa: E402

import numpy as np  # noqa: E402
from compare_revisions import export_base  # noqa: E402

from minicnn.io import write_json  # noqa: E402

CONVS = [(3, 16, 96, False), (16, 32, 48, True), (32, 64, 24, True), (64, 64, 12, True)]  # C, F, side, need_dx
POOLS = [(16, 96), (32, 48), (64, 24)]  # C, side


def _conv(fn, x, w, b, d, need_dx, ws):
    t0 = time.thread_time()
    out, cache = fn.conv2d_forward_fast(x, w, b, 1, 1, workspace=ws)
    t1 = time.thread_time()
    dx, dw, db = fn.conv2d_backward_fast(d, cache, need_dx=need_dx)
    t2 = time.thread_time()
    return (t1 - t0, t2 - t1), [a.copy() for a in (out, dw, db) + ((dx,) if need_dx else ())]


def _pool(fn, x, d, ws):
    t0 = time.thread_time()
    out, cache = fn.max_pool2d_forward_fast(x, 2, 2, workspace=ws)
    t1 = time.thread_time()
    dx = fn.max_pool2d_backward_fast(d, cache)
    t2 = time.thread_time()
    return (t1 - t0, t2 - t1), [out.copy(), dx.copy()]


def _rel_diff(a, b):
    return max(float(np.abs(p - q).max() / (np.abs(q).max() or 1.0)) for p, q in zip(a, b, strict=True))


def run(libs, runs, batch, seed=0):
    """Per layer, per library: median forward/backward CPU ms over `runs` alternating calls."""
    rng = np.random.default_rng(seed)
    rows = []
    cases = [("conv", c) for c in CONVS] + [("pool", p) for p in POOLS]
    for kind, case in cases:
        if kind == "conv":
            c, f, side, need_dx = case
            x = rng.standard_normal((batch, c, side, side)).astype(np.float32)
            w = (rng.standard_normal((f, c, 3, 3)) * 0.1).astype(np.float32)
            b = rng.standard_normal(f).astype(np.float32)
            d = rng.standard_normal((batch, f, side, side)).astype(np.float32)
            name = f"Conv2D({c}->{f}, k=3, p=1) on {side} x {side}" + ("" if need_dx else ", no input gradient")
        else:
            c, side = case
            x = rng.standard_normal((batch, c, side, side)).astype(np.float32)
            d = rng.standard_normal((batch, c, side // 2, side // 2)).astype(np.float32)
            name = f"MaxPool2D(k=2, s=2) on {c} x {side} x {side}"
        spaces = {lib: mod.Workspace() for lib, mod in libs.items()}
        for ws in spaces.values():
            ws.reuse_outputs = True  # as inside a Sequential
        times = {lib: ([], []) for lib in libs}
        results = {}
        for r in range(runs + 1):  # the first round warms up (compilation, buffers)
            for lib, mod in libs.items():
                if kind == "conv":
                    (tf, tb), results[lib] = _conv(mod, x, w, b, d, need_dx, spaces[lib])
                else:
                    (tf, tb), results[lib] = _pool(mod, x, d, spaces[lib])
                if r:
                    times[lib][0].append(tf)
                    times[lib][1].append(tb)
        row = {"layer": name}
        for lib in libs:
            row[lib] = {"forward_ms": float(np.median(times[lib][0]) * 1e3),
                        "backward_ms": float(np.median(times[lib][1]) * 1e3)}
            row[lib]["total_ms"] = row[lib]["forward_ms"] + row[lib]["backward_ms"]
        if len(libs) == 2:
            a, base = list(libs)
            row["max_relative_difference"] = _rel_diff(results[a], results[base])
            row["ratio_total_time"] = row[a]["total_ms"] / row[base]["total_ms"]
        rows.append(row)
        print(f"{name:<52}" + "".join(f" | {lib}: fwd {row[lib]['forward_ms']:6.1f} bwd {row[lib]['backward_ms']:6.1f} ms"
                                      for lib in libs), flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", default=None, help="git revision to compare with (default: this checkout alone)")
    p.add_argument("--runs", type=int, default=9, help="timed calls per layer and revision (median)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--out", default=str(HERE / "results" / "conv_kernels.json"))
    args = p.parse_args(argv)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="minicnn-base-") as tmp:
        libs = {"minicnn": importlib.import_module("minicnn.functional")}
        base_commit = None
        if args.base:
            base_commit = subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", args.base], check=True,
                                         capture_output=True, text=True).stdout.strip()
            export_base(base_commit, tmp)
            sys.path.insert(1, tmp)
            libs["minicnn-base"] = importlib.import_module("minicnn_base.functional")
        rows = run(libs, args.runs, args.batch)
    result = {"benchmark": "fast conv and max-pool kernels, single-thread CPU time (time.thread_time), batch "
                           f"{args.batch}, medians of {args.runs} alternating calls",
              "base": base_commit, "runs": args.runs, "batch": args.batch, "layers": rows,
              "load_average_before": list(load), "load_average_after": list(os.getloadavg()),
              "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    for lib in libs:
        result[f"total_ms_{lib}"] = sum(r[lib]["total_ms"] for r in rows)
    if args.base:
        result["ratio_total_time"] = result["total_ms_minicnn"] / result["total_ms_minicnn-base"]
        print(f"total: minicnn {result['total_ms_minicnn']:.1f} ms, minicnn-base {result['total_ms_minicnn-base']:.1f} ms"
              f" (ratio {result['ratio_total_time']:.3f})")
    print(f"wrote {write_json(args.out, result)}")


if __name__ == "__main__":
    main()
