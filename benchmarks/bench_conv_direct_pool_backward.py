"""Single-thread CPU time of the first block's weight gradient from the pooled gradient against the current path.

Times ``first_block_weight_grad`` (``minicnn/functional/conv_direct_pool_backward.py``: dW and db of
Conv2D(16 filters) -> ReLU -> MaxPool2D(2) straight from the pooled gradient, 16 channels per AVX-512
register) against what ``conv2d_relu_pool_backward`` does per task for that block:
``relu_max_pool2x2_backward`` into a scratch (n, 16, 96, 96) array, then ``direct_conv_weight_grad``.
The block is Conv2D(3 -> 16, k=3, stride 1, p=1) -> ReLU -> MaxPool2D(2) on 96 x 96 tiles, float32 (and
float64 for reference), 4 images per call (the fast path's task size) and 1; ``out`` and ``where``
come from ``relu_max_pool2x2`` on the real convolution of random tiles. All buffers are allocated
once, before timing. One thread (``NUMBA_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``, set before NumPy
is imported); the time is the calling thread's CPU time (``time.thread_time``); the two contenders
alternate call by call (so each starts with the other's data in the caches, as in training), the
first round is a warm-up and the figures are medians. GFLOP/s counts ``2 * 16 * 27 * 96 * 96`` per
image. The first call of the new path in a fresh process is timed too (``cold_first_call_s``:
compilation, or loading from Numba's cache when it is warm).

Usage::

    flock /work/team/bench.lock nice -n 5 .venv/bin/python benchmarks/bench_conv_direct_pool_backward.py   # writes results/conv_direct_pool_backward.json
    .venv/bin/python benchmarks/bench_conv_direct_pool_backward.py --runs 7 --out /tmp/conv_direct_pool_backward.json
"""

import argparse
import os
import time
from pathlib import Path

from bench_env import alternating_thread_times, pin_threads

HERE = Path(__file__).resolve().parent
pin_threads(1)  # before NumPy and Numba start their pools

import numpy as np  # noqa: E402

from minicnn.functional.conv_direct import direct_conv_forward, direct_conv_weight_grad  # noqa: E402
from minicnn.functional.conv_direct_pool_backward import first_block_weight_grad  # noqa: E402
from minicnn.functional.fused import relu_max_pool2x2, relu_max_pool2x2_backward  # noqa: E402
from minicnn.io import write_json  # noqa: E402

C_IN, N_FILTERS, SIDE, KERNEL, PADDING = 3, 16, 96, 3, 1
POOLED = SIDE // 2


class Current:
    """``relu_max_pool2x2_backward`` into a scratch conv-output gradient, then ``direct_conv_weight_grad``."""

    def __init__(self, x, dout, out, where):
        self.x, self.dout, self.out, self.where = x, dout, out, where
        self.xpad = np.empty((1, C_IN, SIDE + 2 * PADDING, SIDE + 2 * PADDING), dtype=x.dtype)
        self.dpre = np.empty((x.shape[0], N_FILTERS, SIDE, SIDE), dtype=x.dtype)
        self.dw = np.empty((N_FILTERS, C_IN, KERNEL, KERNEL), dtype=x.dtype)
        self.db = np.empty(N_FILTERS, dtype=x.dtype)

    def __call__(self):
        relu_max_pool2x2_backward(self.dout, self.out, self.where, self.dpre)
        direct_conv_weight_grad(self.x, self.dpre, PADDING, self.dw, self.db, self.xpad)
        return self.dw, self.db


class FromPooled(Current):
    """``first_block_weight_grad``: no conv-output gradient array."""

    def __call__(self):
        first_block_weight_grad(self.x, self.dout, self.out, self.where, PADDING, self.dw, self.db, self.xpad)
        return self.dw, self.db


def inputs(n, dtype, seed=0):
    """Tiles, the pooled output and positions of the real forward pass, and a random pooled gradient."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, C_IN, SIDE, SIDE)).astype(dtype)
    w = (rng.standard_normal((N_FILTERS, C_IN, KERNEL, KERNEL)) * 0.3).astype(dtype)
    b = (rng.standard_normal(N_FILTERS) * 0.1).astype(dtype)
    pre = np.empty((n, N_FILTERS, SIDE, SIDE), dtype=dtype)
    direct_conv_forward(x, w, b, PADDING, pre, np.zeros((1, C_IN, SIDE + 2 * PADDING, SIDE + 2 * PADDING), dtype))
    out = np.empty((n, N_FILTERS, POOLED, POOLED), dtype=dtype)
    where = np.empty(out.shape, dtype=np.int8)
    relu_max_pool2x2(pre, out, where)
    dout = rng.standard_normal(out.shape).astype(dtype)
    return x, dout, out, where


def run_case(n, dtype, runs):
    """Medians (ms), all timings (ms), GFLOP/s and agreement of the two paths for ``n`` images per call."""
    args = inputs(n, dtype)
    contenders = {"current": Current(*args), "from_pooled": FromPooled(*args)}
    flops = 2 * N_FILTERS * C_IN * KERNEL * KERNEL * SIDE * SIDE * n
    rows, results, first_call_s = alternating_thread_times(contenders, runs, flops)
    row = {"images_per_call": n, "dtype": np.dtype(dtype).name, "flops_per_call": flops,
           "first_call_s": first_call_s["from_pooled"], "windows_at_zero": float((args[2] == 0).mean()), **rows}
    row["speedup"] = row["current"]["median_ms"] / row["from_pooled"]["median_ms"]
    (dw1, db1), (dw2, db2) = results["current"], results["from_pooled"]
    row["max_relative_difference_dw"] = float(np.abs(dw1 - dw2).max() / (np.abs(dw1).max() or 1.0))
    row["max_relative_difference_db"] = float(np.abs(db1 - db2).max() / (np.abs(db1).max() or 1.0))
    print(f"{n} image(s)/call {row['dtype']}: current {row['current']['median_ms']:7.3f} ms "
          f"({row['current']['gflops']:5.1f} GFLOP/s), from pooled {row['from_pooled']['median_ms']:7.3f} ms "
          f"({row['from_pooled']['gflops']:5.1f} GFLOP/s), speed-up {row['speedup']:.2f}x, max rel. diff dw "
          f"{row['max_relative_difference_dw']:.1e} db {row['max_relative_difference_db']:.1e}", flush=True)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=41, help="timed calls per contender and case (median)")
    p.add_argument("--out", default=str(HERE / "results" / "conv_direct_pool_backward.json"))
    args = p.parse_args(argv)
    load = os.getloadavg()
    rows = [run_case(n, dtype, args.runs) for dtype in (np.float32, np.float64) for n in (4, 1)]
    result = {
        "benchmark": f"first-block dW, db from the pooled gradient vs relu_max_pool2x2_backward + "
                     f"direct_conv_weight_grad, Conv2D({C_IN}->{N_FILTERS}, k={KERNEL}, stride 1, p={PADDING}) -> "
                     f"ReLU -> MaxPool2D(2) on {SIDE} x {SIDE}, single-thread CPU time (time.thread_time), "
                     f"medians of {args.runs} alternating calls",
        "runs": args.runs, "cases": rows,
        "load_average_before": list(load), "load_average_after": list(os.getloadavg()),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(f"wrote {write_json(args.out, result)}")


if __name__ == "__main__":
    main()
