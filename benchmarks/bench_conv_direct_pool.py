"""Single-thread CPU time of the fused direct conv + ReLU + 2x2 max pool against the current unfused path.

Times ``direct_conv3_relu_pool_forward`` (``minicnn/functional/conv_direct_pool.py``: 16 output channels
of a pixel in one AVX-512 register, pooling fused) against what ``conv2d_relu_pool_forward`` does per
task with the direct kernels: ``direct_conv_forward`` into a scratch array, then ``relu_max_pool2x2``.
The block is Conv2D(3 -> 16, k=3, stride 1, p=1) -> ReLU -> MaxPool2D(2) on 96 x 96 tiles, float32
(and float64 for reference), 4 images per call (the fast path's task size) and 1. All buffers are
allocated once, before timing. One thread (``NUMBA_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``, set
before NumPy is imported); the time is the calling thread's CPU time (``time.thread_time``); the two
contenders alternate call by call, the first round is a warm-up (the fused kernel is compiled, not
cached, on first use) and the figures are medians. GFLOP/s counts ``2 * 16 * 27 * 96 * 96`` per image.

Usage::

    flock /work/team/bench.lock nice -n 5 .venv/bin/python benchmarks/bench_conv_direct_pool.py   # writes results/conv_direct_pool.json
    .venv/bin/python benchmarks/bench_conv_direct_pool.py --runs 7 --out /tmp/conv_direct_pool.json
"""

import argparse
import os
import time
from pathlib import Path

from bench_env import alternating_thread_times, pin_threads

HERE = Path(__file__).resolve().parent
pin_threads(1)  # before NumPy and Numba start their pools

import numpy as np  # noqa: E402

from minicnn.functional.conv_direct import direct_conv_forward  # noqa: E402
from minicnn.functional.conv_direct_pool import direct_conv3_relu_pool_forward  # noqa: E402
from minicnn.functional.fused import relu_max_pool2x2  # noqa: E402
from minicnn.io import write_json  # noqa: E402

C_IN, N_FILTERS, SIDE, KERNEL, PADDING = 3, 16, 96, 3, 1
POOLED = SIDE // 2


class Unfused:
    """``direct_conv_forward`` into a scratch pre-activation, then ``relu_max_pool2x2`` (the current path)."""

    def __init__(self, x, w, b):
        n = x.shape[0]
        self.x, self.w, self.b = x, w, b
        self.xpad = np.empty((1, C_IN, SIDE + 2 * PADDING, SIDE + 2 * PADDING), dtype=x.dtype)
        self.pre = np.empty((n, N_FILTERS, SIDE, SIDE), dtype=x.dtype)
        self.out = np.empty((n, N_FILTERS, POOLED, POOLED), dtype=x.dtype)
        self.where = np.empty(self.out.shape, dtype=np.int8)

    def __call__(self):
        direct_conv_forward(self.x, self.w, self.b, PADDING, self.pre, self.xpad)
        relu_max_pool2x2(self.pre, self.out, self.where)
        return self.out, self.where


class Fused(Unfused):
    """``direct_conv3_relu_pool_forward``: no pre-activation array."""

    def __call__(self):
        direct_conv3_relu_pool_forward(self.x, self.w, self.b, PADDING, self.out, self.where, self.xpad)
        return self.out, self.where


def run_case(n, dtype, runs, seed=0):
    """Medians (ms), all timings (ms), GFLOP/s and agreement of the two paths for ``n`` images per call."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, C_IN, SIDE, SIDE)).astype(dtype)
    w = (rng.standard_normal((N_FILTERS, C_IN, KERNEL, KERNEL)) * 0.3).astype(dtype)
    b = (rng.standard_normal(N_FILTERS) * 0.1).astype(dtype)
    contenders = {"unfused": Unfused(x, w, b), "fused": Fused(x, w, b)}
    flops = 2 * N_FILTERS * C_IN * KERNEL * KERNEL * SIDE * SIDE * n
    rows, results, _ = alternating_thread_times(contenders, runs, flops)
    row = {"images_per_call": n, "dtype": np.dtype(dtype).name, "flops_per_call": flops, **rows}
    row["speedup_fused_over_unfused"] = row["unfused"]["median_ms"] / row["fused"]["median_ms"]
    (o1, w1), (o2, w2) = results["unfused"], results["fused"]
    row["max_relative_difference"] = float(np.abs(o1 - o2).max() / (np.abs(o1).max() or 1.0))
    row["where_mismatches"] = int((w1 != w2).sum())
    print(f"{n} image(s)/call {row['dtype']}: unfused {row['unfused']['median_ms']:7.3f} ms "
          f"({row['unfused']['gflops']:5.1f} GFLOP/s), fused {row['fused']['median_ms']:7.3f} ms "
          f"({row['fused']['gflops']:5.1f} GFLOP/s), speed-up {row['speedup_fused_over_unfused']:.2f}x, "
          f"max rel. diff {row['max_relative_difference']:.1e}, where mismatches {row['where_mismatches']}", flush=True)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=41, help="timed calls per contender and case (median)")
    p.add_argument("--out", default=str(HERE / "results" / "conv_direct_pool.json"))
    args = p.parse_args(argv)
    load = os.getloadavg()
    rows = [run_case(n, dtype, args.runs) for dtype in (np.float32, np.float64) for n in (4, 1)]
    result = {
        "benchmark": f"fused direct conv+ReLU+maxpool2 vs direct_conv_forward + relu_max_pool2x2, Conv2D({C_IN}->"
                     f"{N_FILTERS}, k={KERNEL}, stride 1, p={PADDING}) -> ReLU -> MaxPool2D(2) on {SIDE} x {SIDE}, "
                     f"single-thread CPU time (time.thread_time), medians of {args.runs} alternating calls",
        "runs": args.runs, "cases": rows,
        "load_average_before": list(load), "load_average_after": list(os.getloadavg()),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(f"wrote {write_json(args.out, result)}")


if __name__ == "__main__":
    main()
