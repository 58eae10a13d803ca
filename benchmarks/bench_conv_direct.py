"""Single-thread CPU time of the direct convolution kernels against im2col + GEMM on the tile CNN's first layer.

Times ``direct_conv_forward`` and ``direct_conv_weight_grad`` (``minicnn/functional/conv_direct.py``)
against what the fast path (``conv_fast.py``) does for the same work: ``im2col`` + ``np.matmul([W | b],
cols)`` for the forward pass, ``im2col`` + ``np.matmul(cols, dout^T)`` summed over the images for the
weight and bias gradients. The layer is Conv2D(3 -> 16, k=3, stride 1, p=1) on 96 x 96 float32 tiles;
each call gets one image, the fast path's chunk of about 4 MB of columns, or 9 images. All buffers are
allocated once, before timing. One thread (``NUMBA_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``, set
before NumPy is imported); the time is the calling thread's CPU time (``time.thread_time``); the two
contenders alternate call by call, the first round is a warm-up and the figures are medians.
GFLOP/s counts ``2 * F * C * KH * KW * OH * OW`` per image for either pass.

Usage::

    flock /work/team/bench.lock nice -n 5 .venv/bin/python benchmarks/bench_conv_direct.py   # writes results/conv_direct.json
    .venv/bin/python benchmarks/bench_conv_direct.py --runs 7 --out /tmp/conv_direct.json
"""

import argparse
import os
import time
from pathlib import Path

from bench_env import alternating_thread_times, pin_threads

HERE = Path(__file__).resolve().parent
pin_threads(1)  # before NumPy and Numba start their pools

import numpy as np  # noqa: E402

from minicnn.functional import conv_fast  # noqa: E402
from minicnn.functional.conv_direct import direct_conv_forward, direct_conv_weight_grad  # noqa: E402
from minicnn.io import write_json  # noqa: E402

C_IN, N_FILTERS, SIDE, KERNEL, PADDING = 3, 16, 96, 3, 1


class Im2colGemm:
    """The fast path's work for one call on ``n`` images, with its buffers allocated once."""

    def __init__(self, x, w, b, dout):
        n = x.shape[0]
        self.k = C_IN * KERNEL * KERNEL
        self.q = SIDE * SIDE
        self.x, self.dout3 = x, dout.reshape(n, N_FILTERS, self.q)
        self.wb = np.empty((N_FILTERS, self.k + 1), dtype=x.dtype)  # [W | b]
        self.wb[:, : self.k] = w.reshape(N_FILTERS, self.k)
        self.wb[:, self.k] = b
        self.cols = np.empty((n, self.k + 1, self.q), dtype=x.dtype)
        self.out = np.empty((n, N_FILTERS, SIDE, SIDE), dtype=x.dtype)
        self.parts = np.empty((n, self.k + 1, N_FILTERS), dtype=x.dtype)

    def forward(self):
        conv_fast.im2col(self.x, KERNEL, KERNEL, 1, PADDING, SIDE, SIDE, self.cols)
        np.matmul(self.wb, self.cols, out=self.out.reshape(-1, N_FILTERS, self.q))
        return [self.out]

    def weight_grad(self):
        conv_fast.im2col(self.x, KERNEL, KERNEL, 1, PADDING, SIDE, SIDE, self.cols)
        np.matmul(self.cols, self.dout3.transpose(0, 2, 1), out=self.parts)
        dwb_t = self.parts.sum(axis=0)  # (k + 1, F)
        return [dwb_t[: self.k].T.reshape(N_FILTERS, C_IN, KERNEL, KERNEL), dwb_t[self.k]]


class Direct:
    """The direct kernels for one call on ``n`` images, with a one-image padding scratch."""

    def __init__(self, x, w, b, dout):
        n = x.shape[0]
        self.x, self.w, self.b, self.dout = x, w, b, dout
        self.xpad = np.empty((1, C_IN, SIDE + 2 * PADDING, SIDE + 2 * PADDING), dtype=x.dtype)
        self.out = np.empty((n, N_FILTERS, SIDE, SIDE), dtype=x.dtype)
        self.dw = np.empty_like(w)
        self.db = np.empty_like(b)

    def forward(self):
        direct_conv_forward(self.x, self.w, self.b, PADDING, self.out, self.xpad)
        return [self.out]

    def weight_grad(self):
        direct_conv_weight_grad(self.x, self.dout, PADDING, self.dw, self.db, self.xpad)
        return [self.dw, self.db]


def _rel_diff(a, b):
    return max(float(np.abs(p - q).max() / (np.abs(q).max() or 1.0)) for p, q in zip(a, b, strict=True))


def run_case(n, runs, seed=0):
    """Medians (ms), all timings (ms), GFLOP/s and max relative difference for ``n`` images per call."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, C_IN, SIDE, SIDE)).astype(np.float32)
    w = (rng.standard_normal((N_FILTERS, C_IN, KERNEL, KERNEL)) * 0.1).astype(np.float32)
    b = rng.standard_normal(N_FILTERS).astype(np.float32)
    dout = rng.standard_normal((n, N_FILTERS, SIDE, SIDE)).astype(np.float32)
    contenders = {"direct": Direct(x, w, b, dout), "im2col_gemm": Im2colGemm(x, w, b, dout)}
    flops = 2 * N_FILTERS * C_IN * KERNEL * KERNEL * SIDE * SIDE * n
    row = {"images_per_call": n, "flops_per_call": flops}
    for kind in ("forward", "weight_grad"):
        entry, results, _ = alternating_thread_times({name: getattr(impl, kind) for name, impl in contenders.items()},
                                                     runs, flops)
        entry["speedup_direct_over_im2col_gemm"] = entry["im2col_gemm"]["median_ms"] / entry["direct"]["median_ms"]
        entry["max_relative_difference"] = _rel_diff(results["direct"], results["im2col_gemm"])
        row[kind] = entry
        print(f"{n} image(s)/call {kind:<12}: direct {entry['direct']['median_ms']:7.3f} ms "
              f"({entry['direct']['gflops']:5.1f} GFLOP/s), im2col+GEMM {entry['im2col_gemm']['median_ms']:7.3f} ms "
              f"({entry['im2col_gemm']['gflops']:5.1f} GFLOP/s), speed-up {entry['speedup_direct_over_im2col_gemm']:.2f}x, "
              f"max rel. diff {entry['max_relative_difference']:.1e}", flush=True)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=41, help="timed calls per contender and case (median)")
    p.add_argument("--out", default=str(HERE / "results" / "conv_direct.json"))
    args = p.parse_args(argv)
    chunk = conv_fast._chunk(64, (C_IN * KERNEL * KERNEL + 1) * SIDE * SIDE * 4)  # the fast path's images per task
    load = os.getloadavg()
    rows = [run_case(n, args.runs) for n in sorted({1, chunk, 9})]
    result = {
        "benchmark": f"direct vs im2col+GEMM, Conv2D({C_IN}->{N_FILTERS}, k={KERNEL}, stride 1, p={PADDING}) on "
                     f"{SIDE} x {SIDE} float32, single-thread CPU time (time.thread_time), medians of {args.runs} "
                     "alternating calls",
        "runs": args.runs, "fast_path_chunk_images": chunk, "cases": rows,
        "load_average_before": list(load), "load_average_after": list(os.getloadavg()),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(f"wrote {write_json(args.out, result)}")


if __name__ == "__main__":
    main()
