"""Direct convolution (16 filters, stride 1) fused with ReLU and a 2x2 max pool, the 16 channels of a pixel in one register.

:func:`~minicnn.functional.conv_direct.direct_conv_forward` vectorises along the x axis and keeps
(4, OW) accumulator rows in memory: every FMA comes with a load and a store of its accumulator, which
caps it near 55 GFLOP/s per core. Here the vector lanes are the 16 output channels (16 float32 = one
AVX-512 register): for each output pixel ``acc[0:16] = b + sum_t x_t * wT[t, 0:16]`` over the
``C*KH*KW`` taps ``t``, where ``x_t`` is one scalar of the zero-padded input (a broadcast memory operand)
and ``wT[t]`` a row of the transposed weights. The 4 pixels of a pooling window are computed together
(4 zmm accumulators, one weight-row load per 4 FMAs), then reduced in registers to the window's
``max(0, max)`` and the position of its first maximum: the convolution's output never reaches memory.

How it is compiled:

* Numba has no vector types, so the kernel is generated Python source (:func:`_kernel_source`) with
  64 scalar accumulators ``a0{pixel}_{channel}``, which LLVM's SLP vectoriser packs into 4 registers.
  The source is written out once into ``_conv_direct_pool_kernel.py`` (``python -m
  minicnn.functional.conv_direct_pool`` rewrites it; ``tests/test_conv_direct_pool.py`` fails when it
  differs from the generator's), so that Numba caches it like every other kernel. Numba runs LLVM with
  the SLP vectoriser off (``NUMBA_SLP_VECTORIZE=0``), so the first call for a dtype compiles (or loads
  from the cache) with ``numba.core.config.SLP_VECTORIZE`` switched on meanwhile (:func:`_slp_vectorize`).
* The tap loop is a ``while`` loop ended by a sentinel offset: with ``for t in range(K)`` LLVM's loop
  vectoriser vectorises the tap loop itself (gathers, 64 scalar FMAs: 3.4 ms per 4 tiles).
* The pooled values of one pooled row come out as (PW, 16) blocks; :func:`_store_transposed16`, a
  Numba intrinsic written in LLVM IR (16 vector loads, 4 stages of 16 two-source shuffles, 16 vector
  stores), transposes them into ``out`` (N, 16, PH, PW) and ``where``. A scalar transposition loop
  took a third of the time (0.41 against 0.29 ms without it); LLVM did not vectorise it.

Measured on Conv2D(3 -> 16, k=3, p=1) -> ReLU -> MaxPool2D(2), 4 tiles of 96 x 96 float32 per call,
one thread (7 Dec 2026, ``benchmarks/results/conv_direct_pool.json``): about 0.33 ms (~90 GFLOP/s)
against 0.61 ms for ``direct_conv_forward`` + ``relu_max_pool2x2`` (1.8-1.9x). Variants: scalar
transposition 0.41 ms; 2 windows per pass (8 accumulators, ``WINDOWS_PER_PASS = 2``) 3 % faster but
15 s to compile; without SLP (scalar FMAs) 2.5-4.5 ms.
"""

import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from llvmlite import ir
from numba import njit, typeof
from numba import types as nt
from numba.core import config
from numba.extending import intrinsic

from ._conv_direct_pool_kernel import _window_row
from .conv_direct import _padded_image

N_FILTERS = 16  # the kernel's vector width: one float32 AVX-512 register
WINDOWS_PER_PASS = 1  # pooling windows per pass over the taps (4 accumulator registers; 2 compiles 3x slower)
_JIT = {"nogil": True, "fastmath": True, "boundscheck": False, "error_model": "numpy"}
_LOCK = threading.Lock()
_COMPILED = {}


def _kernel_source(windows=WINDOWS_PER_PASS, name="_window_row"):
    """Python source of the pooled-row kernel: ``windows`` x 4 pixels x 16 channels as scalar locals.

    Parameters
    ----------
    windows : int
        2x2 windows computed per pass over the taps (1 or 2: 4 or 8 accumulator registers). With 2 and
        an odd number of windows, the last pass computes the last window twice.
    name : str
        Name of the generated function.

    Returns
    -------
    str
        Source of ``name(xflat, wt, offs, bias, y0, wp, vals, ats, pos)``: for each 2x2 window
        ``px`` of the output rows ``y0, y0 + 1`` it writes ``vals[16 px + f] = max(0, window max)``
        of channel ``f`` and ``ats[16 px + f]`` = position (0-3, as a float) of the first maximum.
    """
    f = N_FILTERS
    ws = range(windows)
    lines = [
        f"def {name}(xflat, wt, offs, bias, y0, wp, vals, ats, pos):",
        "    end = np.uint64(0xFFFFFFFFFFFFFFFF)",
        "    n_windows = vals.shape[0] // 16",
        "    wpu = np.uint64(wp)",
        "    one = np.uint64(1)",
        "    zero = pos[0]",
        "    p1 = pos[1]",
        "    p2 = pos[2]",
        "    p3 = pos[3]",
        f"    for q in range(0, n_windows, {windows}):",
    ]
    lines += [f"        px{k} = min(q + {k}, n_windows - 1)" for k in ws]
    lines += [f"        base{k} = np.uint64(y0 * wp + 2 * px{k})" for k in ws]
    lines += [f"        a{k}{p}_{j} = bias[{j}]" for k in ws for p in range(4) for j in range(f)]
    lines += [
        "        t = 0",
        "        while True:  # not a range loop: LLVM's loop vectoriser would gather over the taps",
        "            off = offs[t]",
        "            if off == end:",
        "                break",
        "            r = np.uint64(t * 16)",
    ]
    for k in ws:
        lines += [
            f"            o = base{k} + off",
            f"            x{k}0 = xflat[o]",
            f"            x{k}1 = xflat[o + one]",
            f"            x{k}2 = xflat[o + wpu]",
            f"            x{k}3 = xflat[o + wpu + one]",
        ]
    lines += [f"            w{j} = wt[r + np.uint64({j})]" for j in range(f)]
    lines += [f"            a{k}{p}_{j} += x{k}{p} * w{j}" for k in ws for p in range(4) for j in range(f)]
    lines += ["            t += 1"]
    for k in ws:
        lines += [f"        d = np.uint64(px{k} * 16)"]
        for j in range(f):
            a0, a1, a2, a3 = (f"a{k}{p}_{j}" for p in range(4))
            lines += [
                f"        top = {a0} if {a0} >= {a1} else {a1}",
                f"        top_at = zero if {a0} >= {a1} else p1",
                f"        bottom = {a2} if {a2} >= {a3} else {a3}",
                f"        bottom_at = p2 if {a2} >= {a3} else p3",
                "        first = top >= bottom",
                f"        best{j} = top if first else bottom",
                f"        at{j} = top_at if first else bottom_at",
            ]
        # all value stores, then all position stores: vals and ats might alias for LLVM, and
        # interleaved stores would keep the SLP vectoriser from packing either
        lines += [f"        vals[d + np.uint64({j})] = best{j} if best{j} > zero else zero" for j in range(f)]
        lines += [f"        ats[d + np.uint64({j})] = at{j}" for j in range(f)]
    return "\n".join(lines) + "\n"


def _butterfly_masks():
    """Shuffle masks of the 4 stages of a 16 x 16 transpose: stage ``b`` swaps bit ``b`` of the vector and lane indices."""
    masks = []
    for bit in (1, 2, 4, 8):
        low = [lane if not lane & bit else 16 + (lane ^ bit) for lane in range(16)]
        high = [lane | bit if not lane & bit else 16 + lane for lane in range(16)]
        masks.append((bit, low, high))
    return masks


@intrinsic
def _store_transposed16(typingctx, src, src_start, dst, dst_start, dst_stride):
    """``dst[dst_start + j * dst_stride + k] = src[src_start + 16 * k + j]`` for j, k < 16 (a 16 x 16 block transposed).

    ``src`` is a float array, ``dst`` an array of the same dtype or int8 (values converted by truncation).
    Written as LLVM IR: 16 vector loads, 4 stages of 16 two-source shuffles, 16 vector stores (no bounds checks).
    """
    sig = nt.void(src, src_start, dst, dst_start, dst_stride)

    def codegen(context, builder, signature, args):
        src_arr = context.make_array(signature.args[0])(context, builder, args[0])
        dst_arr = context.make_array(signature.args[2])(context, builder, args[2])
        src_t = context.get_value_type(signature.args[0].dtype)
        dst_t = context.get_value_type(signature.args[2].dtype)
        i64 = ir.IntType(64)
        src_start_v, dst_start_v, stride_v = (context.cast(builder, args[k], signature.args[k], nt.int64)
                                              for k in (1, 3, 4))
        vec_in = ir.VectorType(src_t, 16)
        vec_out = ir.VectorType(dst_t, 16)
        mask_t = ir.VectorType(ir.IntType(32), 16)
        rows = []
        for k in range(16):
            ptr = builder.gep(src_arr.data, [builder.add(src_start_v, ir.Constant(i64, 16 * k))], inbounds=True)
            rows.append(builder.load(builder.bitcast(ptr, vec_in.as_pointer()), align=1, typ=vec_in))
        for bit, low, high in _butterfly_masks():
            new = list(rows)
            for r in range(16):
                if not r & bit:
                    new[r] = builder.shuffle_vector(rows[r], rows[r | bit], ir.Constant(mask_t, low))
                    new[r | bit] = builder.shuffle_vector(rows[r], rows[r | bit], ir.Constant(mask_t, high))
            rows = new
        for j in range(16):
            value = rows[j] if dst_t == src_t else builder.fptosi(rows[j], vec_out)
            start = builder.add(dst_start_v, builder.mul(stride_v, ir.Constant(i64, j)))
            ptr = builder.gep(dst_arr.data, [start], inbounds=True)
            builder.store(value, builder.bitcast(ptr, vec_out.as_pointer()), align=1)
        return context.get_dummy_value()

    return sig, codegen


@contextmanager
def _slp_vectorize():
    """Switch Numba's SLP vectoriser on while compiling (restored afterwards)."""
    before = config.SLP_VECTORIZE
    config.SLP_VECTORIZE = 1
    try:
        yield
    finally:
        config.SLP_VECTORIZE = before


@njit(cache=True, **_JIT)
def _pool_rows(x, w, b, padding, out, where, xpad):
    """The loop over images and pooled rows around the generated kernel (see the module docstring)."""
    n_img, _, h, wd = x.shape
    hp, wp = h + 2 * padding, wd + 2 * padding
    wt, offs = _taps(w, hp, wp)
    bias = np.empty(16, dtype=x.dtype)
    pos = np.empty(4, dtype=x.dtype)
    for f in range(16):
        bias[f] = b[f]
    for k in range(4):
        pos[k] = k
    ph, pw = out.shape[2], out.shape[3]
    vals = np.empty(pw * 16, dtype=x.dtype)
    ats = np.empty(pw * 16, dtype=x.dtype)
    out_flat = out.reshape(-1)
    where_flat = where.reshape(-1)
    for i in range(n_img):
        xflat = _padded_image(x, i, padding, xpad).reshape(-1)
        for py in range(ph):
            _window_row(xflat, wt, offs, bias, 2 * py, wp, vals, ats, pos)
            row = (i * 16 * ph + py) * pw  # out[i, 0, py, 0]
            for blk in range(pw // 16):
                _store_transposed16(vals, 256 * blk, out_flat, row + 16 * blk, ph * pw)
                _store_transposed16(ats, 256 * blk, where_flat, row + 16 * blk, ph * pw)
            for f in range(16):
                o = out[i, f, py]
                a = where[i, f, py]
                for px in range(pw - pw % 16, pw):
                    src = np.uint64(px * 16 + f)
                    o[px] = vals[src]
                    a[px] = np.int8(ats[src])


def _ready(args):
    """Compile (or load from the cache) :func:`_pool_rows` for the types of `args` once per process, with SLP on.

    Compiled here, not on the first call, so that the SLP vectoriser is on while it compiles.
    """
    if args[0].dtype in _COMPILED:  # checked without typing the arguments: this runs once per task
        return
    with _LOCK:
        if args[0].dtype not in _COMPILED:  # layouts of x, out, where, xpad checked above (another w or b layout
            # compiles once more at the call, without SLP: correct, slower)
            with _slp_vectorize():
                _pool_rows.compile(tuple(typeof(a) for a in args))
            _COMPILED[args[0].dtype] = True


@njit(**_JIT)
def _taps(w, hp, wp):
    """Transposed weights (K * 16,) and flat tap offsets (K + 1,) into a (C, HP, WP) image, sentinel last."""
    n_filters, c_in, kh, kw = w.shape
    n_taps = c_in * kh * kw
    wt = np.empty(n_taps * n_filters, dtype=w.dtype)
    offs = np.empty(n_taps + 1, dtype=np.uint64)
    t = 0
    for c in range(c_in):
        for ky in range(kh):
            for kx in range(kw):
                offs[t] = (c * hp + ky) * wp + kx
                for f in range(n_filters):
                    wt[t * n_filters + f] = w[f, c, ky, kx]
                t += 1
    offs[n_taps] = np.uint64(0xFFFFFFFFFFFFFFFF)
    return wt, offs


def direct_conv3_relu_pool_forward(x, w, b, padding, out, where, xpad):
    """``max_pool2x2(relu(conv2d(x, w) + b))`` for 16 filters and stride 1, and where each maximum is.

    Single-threaded (the compiled loops release the GIL). Same results as
    :func:`~minicnn.functional.conv_direct.direct_conv_forward` followed by
    :func:`~minicnn.functional.fused.relu_max_pool2x2`, up to the order of the float sums (so a
    ``where`` entry may differ when two values of a window are equal up to rounding).

    Parameters
    ----------
    x : C-contiguous ndarray of shape (N, C, H, W)
        Input images, float32 or float64.
    w : ndarray of shape (16, C, KH, KW)
        Filters (same dtype as ``x``); exactly 16 of them, any ``C * KH * KW``.
    b : ndarray of shape (16,)
        Biases.
    padding : int
        Zeros added on each side of H and W (px), >= 0.
    out : C-contiguous ndarray of shape (N, 16, OH // 2, OW // 2)
        ``OH = H + 2*padding - KH + 1`` and likewise OW. Overwritten with ``max(0, max of the 2x2
        window)`` of the convolution's output (stride 2; with an odd OH or OW its last row or column
        is not pooled).
    where : C-contiguous int8 ndarray of the shape of ``out``
        Overwritten with the position of each window's first maximum in row-major order: 0 top-left,
        1 top-right, 2 bottom-left, 3 bottom-right.
    xpad : C-contiguous ndarray of shape (N or 1, C, H + 2*padding, W + 2*padding)
        Scratch for the zero-padded images (unused when ``padding == 0``).

    Raises
    ------
    ValueError
        On shapes, dtypes or layouts other than the above.
    """
    n_img, c_in, h, wd = x.shape
    n_filters, c_w, kh, kw = w.shape
    hp, wp = h + 2 * padding, wd + 2 * padding
    oh, ow = hp - kh + 1, wp - kw + 1
    if n_filters != N_FILTERS or c_w != c_in or b.shape != (N_FILTERS,):
        raise ValueError(f"direct_conv3_relu_pool_forward: needs 16 filters of {c_in} channels, got w {w.shape}, "
                         f"b {b.shape}")
    if padding < 0 or oh < 1 or ow < 1:
        raise ValueError("direct_conv3_relu_pool_forward: output shape (H + 2p - KH + 1, W + 2p - KW + 1) must be >= 1")
    if x.dtype not in (np.float32, np.float64) or w.dtype != x.dtype or b.dtype != x.dtype or out.dtype != x.dtype:
        raise ValueError("direct_conv3_relu_pool_forward: x, w, b and out must share one float dtype")
    if out.shape != (n_img, N_FILTERS, oh // 2, ow // 2) or where.shape != out.shape or where.dtype != np.int8:
        raise ValueError(f"direct_conv3_relu_pool_forward: out and where (int8) must have shape "
                         f"{(n_img, N_FILTERS, oh // 2, ow // 2)}")
    if padding > 0 and (xpad.shape[0] not in (1, n_img) or xpad.shape[1:] != (c_in, hp, wp) or xpad.dtype != x.dtype):
        raise ValueError(f"direct_conv3_relu_pool_forward: xpad must have shape (N or 1, {c_in}, {hp}, {wp})")
    for name, arr in (("x", x), ("out", out), ("where", where), ("xpad", xpad)):
        if not arr.flags.c_contiguous:
            raise ValueError(f"direct_conv3_relu_pool_forward: {name} must be C-contiguous")
    if out.size == 0:
        return
    args = (x, w, b, int(padding), out, where, xpad)
    _ready(args)
    _pool_rows(*args)


GENERATED = Path(__file__).with_name("_conv_direct_pool_kernel.py")
GENERATED_HEADER = ('''"""The generated kernel of :mod:`minicnn.functional.conv_direct_pool`: do not edit.

Written by ``python -m minicnn.functional.conv_direct_pool`` from ``_kernel_source()``;
``tests/test_conv_direct_pool.py`` fails when this file differs from what the generator writes.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, fastmath=True, boundscheck=False, error_model="numpy")
''')


def generated_module_text():
    """The text of ``_conv_direct_pool_kernel.py``: the header above and :func:`_kernel_source`."""
    return GENERATED_HEADER + _kernel_source()


if __name__ == "__main__":
    GENERATED.write_text(generated_module_text(), encoding="utf-8")
    print(f"wrote {GENERATED}")
