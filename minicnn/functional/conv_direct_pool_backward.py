"""Weight and bias gradients of the first block (16-filter conv, stride 1 -> ReLU -> 2x2 max pool) from the pooled gradient.

For the tile CNN's first block :func:`~minicnn.functional.fused.conv2d_relu_pool_backward` writes the
full (n, 16, OH, OW) gradient of the convolution's output
(:func:`~minicnn.functional.fused.relu_max_pool2x2_backward`: three zeros for every value) and reads it
back in :func:`~minicnn.functional.conv_direct.direct_conv_weight_grad`. Here that gradient never
exists: as in :mod:`minicnn.functional.conv_direct_pool` the 16 output channels of a pixel are the
lanes of one AVX-512 register, and each pooling window passes its gradient to one pixel per channel.

* Per image, the pooled gradient ``g = dout * (out > 0)`` and ``where`` (as a float) are read in memory
  order (3 sequential streams), written as 16 x 16 (channel, window) blocks and turned around by
  :func:`~minicnn.functional.conv_direct_pool._store_transposed16` into a pixel-major buffer (kept per
  thread): ``gp[32 q + f] = g``, ``gp[32 q + 16 + f] = where`` for window ``q`` and channel ``f``.
* A pass over the windows of a pooled row per input channel (:func:`_patch_pass`, an intrinsic written
  in LLVM IR with 16-lane vectors, one per kernel shape KH, KW <= 3): per window the (KH + 1) x (KW + 1)
  input values under it are broadcast, two selects per tap pick for each channel the value of the tap
  at the pixel of the channel's maximum (``where`` even = left column, ``where < 2`` = top row) and one
  FMA per tap adds it times ``g`` to the tap's accumulator. The KH * KW accumulators stay in registers
  during the pass, and in float32 the patch columns a window shares with the next are carried over.
  Asm of the 3 x 3 float32 loop: 8 ``vbroadcastss``, 14 ``vblendmps`` + masked moves, 9
  ``vfmadd231ps zmm``, 2 vector loads, 3 compares per window, no spills.
* The loop over windows is ended by a sentinel (``cols``), not a counter: as in the forward kernel a
  counted loop lets LLVM's loop vectoriser turn it into gathers.

No generated source, hence no SLP vectoriser: the vectors are explicit in the IR, and the preparation's
inner loops run over a length passed at run time (``lanes``), which LLVM's loop vectoriser handles
(with a constant 16 they were unrolled into scalar code).

Measured on Conv2D(3 -> 16, k=3, p=1) -> ReLU -> MaxPool2D(2), 4 tiles of 96 x 96 float32 per call, one
thread, alternating with the current path (7 Dec 2026, ``benchmarks/results/conv_direct_pool_backward.json``,
a shared machine): about 0.33 ms (~95 GFLOP/s; preparation ~0.12 ms, passes ~0.20 ms) against 0.79 ms
for ``relu_max_pool2x2_backward`` + ``direct_conv_weight_grad`` (2.4x); float64 0.63-0.68 against 1.05-1.1 ms
(1.7x). Variants (float32, ms per 4 images; the current path took 0.79-0.86): generated Python source
with 4 FMAs per tap on the 4 masked pixel gradients, SLP-vectorised, 9 taps per pass, 0.47 (with a
counted window loop, gathers: 1.88); one select tree per tap with 4 broadcasts per tap (36 loads per
window) 0.51; the patch pass with a pooled row prepared at a time 0.53-0.64 (busy machine), with the
whole image prepared at once 0.42, with per-thread scratch and no compile-on-first-call wrapper 0.35,
with carried columns 0.33 (in float64 carrying spills: 0.89 against 0.68 ms). Cold-cache compilation
of the float32 path about 3 s. ``benchmarks/bench_conv_direct_pool_backward.py`` measures it.
"""

import threading

import numpy as np
from llvmlite import ir
from numba import njit
from numba import types as nt
from numba.extending import intrinsic

from .conv_direct import _padded_image
from .conv_direct_pool import N_FILTERS, _store_transposed16

CARRY = True  # see _patch_codegen
MAX_KERNEL = 3  # the patch passes are specialised for KH, KW in 1..3
_JIT = {"nogil": True, "fastmath": True, "boundscheck": False, "error_model": "numpy"}
_SCRATCH = threading.local()


def _patch_codegen(kh, kw, carry=True):
    """LLVM IR builder of the ``kh`` x ``kw`` patch pass (see :func:`_patch_pass`).

    With ``carry`` (float32 only: in float64 the carried vectors spill) the patch columns 2 .. kw of a
    window are kept (phi nodes) as columns 0 .. kw - 2 of the next one (2 px to the right), so that
    only 2 new columns are loaded per window.
    """

    def codegen(context, builder, signature, args):
        xflat, gp, acc, cols = (context.make_array(signature.args[k])(context, builder, args[k]) for k in (0, 1, 2, 5))
        i64, i32 = ir.IntType(64), ir.IntType(32)
        a0, base, wp = (context.cast(builder, args[k], signature.args[k], nt.int64) for k in (3, 4, 6))
        dtype = signature.args[0].dtype
        vec = ir.VectorType(context.get_value_type(dtype), 16)
        vptr = vec.as_pointer()
        name = f"llvm.fma.v16f{64 if dtype == nt.float64 else 32}"
        fma = builder.module.globals.get(name) or ir.Function(builder.module, ir.FunctionType(vec, [vec] * 3), name)
        undef = ir.Constant(vec, ir.Undefined)
        splat_mask = ir.Constant(ir.VectorType(i32, 16), [0] * 16)

        def c64(v):
            return ir.Constant(i64, v)

        def acc_ptr(t):
            return builder.bitcast(builder.gep(acc.data, [builder.add(a0, c64(16 * t))], inbounds=True), vptr)

        def splat_at(ptr, offset):
            value = builder.load(builder.gep(ptr, [offset], inbounds=True))
            return builder.shuffle_vector(builder.insert_element(undef, value, ir.Constant(i32, 0)), undef, splat_mask)

        def row_ptr(col, r):
            corner = builder.gep(xflat.data, [builder.add(base, col)], inbounds=True)  # (tap 0, pixel 0) of the window
            return builder.gep(corner, [builder.mul(wp, c64(r))], inbounds=True)

        taps = kh * kw
        kept = kw - 1 if carry and dtype != nt.float64 else 0  # patch columns carried over to the next window
        accs = [builder.load(acc_ptr(t), align=1) for t in range(taps)]
        first = builder.load(cols.data)  # the first window exists: OW >= 2
        carried = [[splat_at(row_ptr(first, r), c64(s)) for s in range(kept)] for r in range(kh + 1)]
        entry = builder.block
        loop = builder.append_basic_block("windows")
        body = builder.append_basic_block("window")
        done = builder.append_basic_block("done")
        builder.branch(loop)
        builder.position_at_end(loop)
        q = builder.phi(i64)
        q.add_incoming(c64(0), entry)
        phis = []
        for a in accs:
            phis.append(builder.phi(vec))
            phis[-1].add_incoming(a, entry)
        carry_phis = []
        for r in range(kh + 1):
            carry_phis.append([])
            for value in carried[r]:
                carry_phis[r].append(builder.phi(vec))
                carry_phis[r][-1].add_incoming(value, entry)
        col = builder.load(builder.gep(cols.data, [q], inbounds=True))
        builder.cbranch(builder.icmp_unsigned("==", col, c64(-1)), done, body)
        builder.position_at_end(body)
        g0 = builder.mul(q, c64(32))
        grad = builder.load(builder.bitcast(builder.gep(gp.data, [g0], inbounds=True), vptr), align=1)
        pos = builder.load(builder.bitcast(builder.gep(gp.data, [builder.add(g0, c64(16))], inbounds=True), vptr),
                           align=1)
        two = ir.Constant(vec, [2.0] * 16)
        top = builder.fcmp_ordered("<", pos, two)
        left = builder.or_(builder.fcmp_ordered("==", pos, ir.Constant(vec, [0.0] * 16)),
                           builder.fcmp_ordered("==", pos, two))
        # patch[r][s]: input value at row r, column s of the window's (kh + 1) x (kw + 1) patch, splat
        patch = [carry_phis[r] + [splat_at(row_ptr(col, r), c64(s)) for s in range(kept, kw + 1)]
                 for r in range(kh + 1)]
        # the column of each channel's pixel, then its row: x(tap ky, kx) = patch[ky + dy][kx + dx]
        half = [[builder.select(left, patch[r][s], patch[r][s + 1]) for s in range(kw)] for r in range(kh + 1)]
        news = []
        for ky in range(kh):
            for kx in range(kw):
                value = builder.select(top, half[ky][kx], half[ky + 1][kx])
                news.append(builder.call(fma, [value, grad, phis[ky * kw + kx]]))
        q.add_incoming(builder.add(q, c64(1)), builder.block)
        for phi, new in zip(phis, news, strict=True):
            phi.add_incoming(new, builder.block)
        for r in range(kh + 1):
            for s, phi in enumerate(carry_phis[r]):
                phi.add_incoming(patch[r][s + 2], builder.block)
        builder.branch(loop)
        builder.position_at_end(done)
        for t in range(taps):
            builder.store(phis[t], acc_ptr(t), align=1)
        return context.get_dummy_value()

    return codegen


def _patch_pass_intrinsic(kh, kw):
    """The :func:`_patch_pass` intrinsic for a ``kh`` x ``kw`` kernel."""

    def patch_pass(typingctx, xflat, gp, acc, a0, base, cols, wp):
        return nt.void(xflat, gp, acc, a0, base, cols, wp), _patch_codegen(kh, kw, CARRY)

    patch_pass.__name__ = f"_patch_pass_{kh}{kw}"
    return intrinsic(patch_pass)


_patch_pass_11, _patch_pass_12, _patch_pass_13 = (_patch_pass_intrinsic(1, kw) for kw in (1, 2, 3))
_patch_pass_21, _patch_pass_22, _patch_pass_23 = (_patch_pass_intrinsic(2, kw) for kw in (1, 2, 3))
_patch_pass_31, _patch_pass_32, _patch_pass_33 = (_patch_pass_intrinsic(3, kw) for kw in (1, 2, 3))


@njit(cache=True, **_JIT)
def _patch_pass(kh, kw, xflat, gp, acc, a0, base, cols, wp):
    """One pass over the windows of a pooled row for the ``kh x kw`` taps of one input channel (LLVM IR, 16-lane vectors).

    For the windows ``q`` (``cols[q] = 2 q`` up to the sentinel ``2**64 - 1``) and the taps ``(ky, kx)``:
    ``acc[a0 + 16 (ky kw + kx) + f] += gp[32 q + f] * xflat[base + cols[q] + (ky + dy) wp + kx + dx]``,
    where ``(dy, dx)`` is the pixel of the window's maximum in channel ``f`` (``gp[32 q + 16 + f]`` = 0-3 as
    a float). Per window the ``(kh + 1) x (kw + 1)`` input values are loaded once (broadcasts), each
    channel's value is picked by two selects per tap, then one FMA per tap; the accumulators stay in
    registers. KH, KW <= 3 (no bounds checks).
    """
    if kh == 3:
        if kw == 3:
            _patch_pass_33(xflat, gp, acc, a0, base, cols, wp)
        elif kw == 2:
            _patch_pass_32(xflat, gp, acc, a0, base, cols, wp)
        else:
            _patch_pass_31(xflat, gp, acc, a0, base, cols, wp)
    elif kh == 2:
        if kw == 3:
            _patch_pass_23(xflat, gp, acc, a0, base, cols, wp)
        elif kw == 2:
            _patch_pass_22(xflat, gp, acc, a0, base, cols, wp)
        else:
            _patch_pass_21(xflat, gp, acc, a0, base, cols, wp)
    elif kw == 3:
        _patch_pass_13(xflat, gp, acc, a0, base, cols, wp)
    elif kw == 2:
        _patch_pass_12(xflat, gp, acc, a0, base, cols, wp)
    else:
        _patch_pass_11(xflat, gp, acc, a0, base, cols, wp)


@njit(cache=True, **_JIT)
def _pixel_major_image(dout, out, where, i, blocks, gp, dbacc, lanes):
    """``gp[32 (py pw + q) + f] = dout[i, f, py, q] * (out > 0)`` and ``gp[... + 16 + f] = where`` (a float) for image ``i``.

    Reads ``dout[i]``, ``out[i]`` and ``where[i]`` in memory order (3 sequential streams), writing
    16 x 16 (channel, window) blocks into ``blocks`` (2 x PH x (PW // 16) x 256) that
    :func:`~minicnn.functional.conv_direct_pool._store_transposed16` then turns around; the windows
    after the last whole block go straight to ``gp``. Sums the gradients into ``dbacc``. ``lanes`` is
    16, passed at run time so that the inner loops stay loops that LLVM vectorises.
    """
    ph, pw = dout.shape[2], dout.shape[3]
    nblk = pw // 16
    half = ph * nblk * 256
    zero = dout.dtype.type(0)
    for f in range(16):
        total = zero
        for py in range(ph):
            g_row = dout[i, f, py]
            o_row = out[i, f, py]
            a_row = where[i, f, py]
            for blk in range(nblk):
                q0 = 16 * blk
                start = (py * nblk + blk) * 256 + 16 * f
                gt = blocks[start:]
                wt = blocks[half + start:]
                for p in range(lanes):
                    g = g_row[q0 + p] if o_row[q0 + p] > zero else zero
                    total += g
                    gt[p] = g
                    wt[p] = a_row[q0 + p]
            for q in range(16 * nblk, pw):
                g = g_row[q] if o_row[q] > zero else zero
                total += g
                gp[32 * (py * pw + q) + f] = g
                gp[32 * (py * pw + q) + 16 + f] = a_row[q]
        dbacc[f] += total
    for py in range(ph):
        for blk in range(nblk):
            src = (py * nblk + blk) * 256
            dst = 32 * (py * pw + 16 * blk)
            _store_transposed16(blocks, src, gp, dst, 32)
            _store_transposed16(blocks, half + src, gp, dst + 16, 32)


@njit(cache=True, **_JIT)
def _weight_grad(x, dout, out, where, padding, dw, db, xpad, blocks, gp):
    """The loops over images, pooled rows and input channels around :func:`_patch_pass` (see the module docstring)."""
    n_img, c_in, h, wd = x.shape
    kh, kw = dw.shape[2], dw.shape[3]
    hp, wp = h + 2 * padding, wd + 2 * padding
    ph, pw = dout.shape[2], dout.shape[3]
    n_taps = c_in * kh * kw
    acc = np.zeros(n_taps * 16, dtype=x.dtype)
    dbacc = np.zeros(16, dtype=x.dtype)
    lanes = np.full(1, 16)
    cols = np.empty(pw + 1, dtype=np.uint64)
    for q in range(pw):
        cols[q] = 2 * q
    cols[pw] = np.uint64(0xFFFFFFFFFFFFFFFF)
    for i in range(n_img):
        xflat = _padded_image(x, i, padding, xpad).reshape(-1)
        _pixel_major_image(dout, out, where, i, blocks, gp, dbacc, lanes[0])
        for py in range(ph):
            gp_row = gp[32 * py * pw:]
            for c in range(c_in):
                _patch_pass(kh, kw, xflat, gp_row, acc, 16 * c * kh * kw, (c * hp + 2 * py) * wp, cols, wp)
    for f in range(16):
        db[f] = dbacc[f]
        t = 0
        for c in range(c_in):
            for ky in range(kh):
                for kx in range(kw):
                    dw[f, c, ky, kx] = acc[16 * t + f]
                    t += 1


def _scratch(name, size, dtype):
    """A 1-D scratch array of this thread, reused from call to call (grown when too small)."""
    arr = getattr(_SCRATCH, name, None)
    if arr is None or arr.dtype != dtype or arr.size < size:
        arr = np.empty(size, dtype=dtype)
        setattr(_SCRATCH, name, arr)
    return arr[:size]


def first_block_weight_grad(x, dout, out, where, padding, dw, db, xpad):
    """Weight and bias gradients of Conv2D(16 filters, stride 1) -> ReLU -> MaxPool2D(2) from the pooled gradient.

    Single-threaded (the compiled loops release the GIL); its scratch arrays (a pixel-major copy of an
    image's pooled gradient, 2 x 4 bytes per value of ``dout[0]`` in float32) are kept per thread. Same
    results as :func:`~minicnn.functional.fused.relu_max_pool2x2_backward` followed by
    :func:`~minicnn.functional.conv_direct.direct_conv_weight_grad`, up to the order of the float sums;
    the (N, 16, OH, OW) gradient of the convolution's output is never written.

    Parameters
    ----------
    x : C-contiguous ndarray of shape (N, C, H, W)
        Input images of the forward pass, float32 or float64.
    dout : C-contiguous ndarray of shape (N, 16, OH // 2, OW // 2)
        Gradient of the loss with respect to the pooled output (same dtype); ``OH = H + 2*padding -
        KH + 1`` and likewise OW, both >= 2. With an odd OH or OW the last row or column of the
        convolution's output was not pooled and gets no gradient.
    out : C-contiguous ndarray of the shape of ``dout``
        The pooled output of the forward pass (``max(0, window max)``): windows where it is 0 pass
        no gradient.
    where : C-contiguous int8 ndarray of the shape of ``dout``
        Position of each window's maximum as :func:`~minicnn.functional.fused.relu_max_pool2x2` writes
        it: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right.
    padding : int
        Zeros added on each side of H and W (px), >= 0.
    dw : ndarray of shape (16, C, KH, KW)
        Overwritten with the filter gradients summed over the images; KH, KW in 1..3.
    db : ndarray of shape (16,)
        Overwritten with the bias gradients summed over the images.
    xpad : C-contiguous ndarray of shape (N or 1, C, H + 2*padding, W + 2*padding)
        Scratch for the zero-padded images (unused when ``padding == 0``).

    Raises
    ------
    ValueError
        On shapes, dtypes or layouts other than the above.
    """
    who = "first_block_weight_grad"
    n_img, c_in, h, wd = x.shape
    n_filters, c_w, kh, kw = dw.shape
    hp, wp = h + 2 * padding, wd + 2 * padding
    oh, ow = hp - kh + 1, wp - kw + 1
    if n_filters != N_FILTERS or c_w != c_in or db.shape != (N_FILTERS,):
        raise ValueError(f"{who}: needs 16 filters of {c_in} channels, got dw {dw.shape}, db {db.shape}")
    if not (1 <= kh <= MAX_KERNEL and 1 <= kw <= MAX_KERNEL):
        raise ValueError(f"{who}: kernels of 1 to {MAX_KERNEL} px per side only, got {kh} x {kw}")
    if padding < 0 or oh < 2 or ow < 2:
        raise ValueError(f"{who}: the convolution output (H + 2p - KH + 1, W + 2p - KW + 1) must be >= 2 x 2, "
                         f"got {oh} x {ow}")
    if x.dtype not in (np.float32, np.float64) or any(a.dtype != x.dtype for a in (dout, out, dw, db)):
        raise ValueError(f"{who}: x, dout, out, dw and db must share one float dtype")
    pooled = (n_img, N_FILTERS, oh // 2, ow // 2)
    if dout.shape != pooled or out.shape != pooled or where.shape != pooled or where.dtype != np.int8:
        raise ValueError(f"{who}: dout, out and where (int8) must have shape {pooled}")
    if padding > 0 and (xpad.shape[0] not in (1, n_img) or xpad.shape[1:] != (c_in, hp, wp) or xpad.dtype != x.dtype):
        raise ValueError(f"{who}: xpad must have shape (N or 1, {c_in}, {hp}, {wp})")
    for name, arr in (("x", x), ("dout", dout), ("out", out), ("where", where), ("xpad", xpad)):
        if not arr.flags.c_contiguous:
            raise ValueError(f"{who}: {name} must be C-contiguous")
    ph, pw = pooled[2], pooled[3]
    blocks = _scratch("blocks", 2 * ph * (pw // 16) * 256, x.dtype)
    gp = _scratch("gp", 32 * ph * pw, x.dtype)
    _weight_grad(x, dout, out, where, int(padding), dw, db, xpad, blocks, gp)
