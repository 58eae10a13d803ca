"""Weight and bias gradients of the fused first block (16-filter conv, stride 1 -> ReLU -> 2x2 max pool) from the pooled gradient.

The backward pass of :func:`~minicnn.functional.fused.conv2d_relu_pool_backward` for the tile CNN's
first block writes the full (n, 16, OH, OW) gradient of the convolution's output
(:func:`~minicnn.functional.fused.relu_max_pool2x2_backward`: 3 zeros for every value) and then reads it
back in :func:`~minicnn.functional.conv_direct.direct_conv_weight_grad`. Here the 16 output channels of
a pixel are the lanes of one AVX-512 register (as in :mod:`minicnn.functional.conv_direct_pool`): for
each pooling window the 4 pixel gradient vectors ``gp[k] = dout[:, window] * (out > 0) * (where == k)``
(k = 0..3 the window's pixels) come from a small pixel-major buffer, and for each tap ``t``
``acc_t[0:16] += x_t(pixel k) * gp[k]``, ``x_t`` a broadcast scalar of the zero-padded input. The
accumulators of a group of ``TAPS_PER_PASS`` taps stay in registers during a pass over the windows of
one pooled row; the convolution-output gradient never exists.

How it is compiled (the techniques of :mod:`minicnn.functional.conv_direct_pool`, whose helpers are
imported): the pass is generated Python source (:func:`_kernel_source`) with ``TAPS_PER_PASS x 16``
scalar accumulators, packed into registers by LLVM's SLP vectoriser (switched on while compiling,
:func:`~minicnn.functional.conv_direct_pool._slp_vectorize`); it is written once into
``_conv_direct_pool_backward_kernel.py`` (``python -m minicnn.functional.conv_direct_pool_backward``
rewrites it; ``tests/test_conv_direct_pool_backward.py`` fails when it differs from the generator's)
so that Numba caches it. The pixel-major buffer of a pooled row is built channel-major (vectorised
along x) and turned around 16 windows at a time by
:func:`~minicnn.functional.conv_direct_pool._store_transposed16`.
"""

import threading
from pathlib import Path

import numpy as np
from llvmlite import ir
from numba import njit, typeof
from numba import types as nt
from numba.extending import intrinsic

from ._conv_direct_pool_backward_kernel import _taps_pass
from .conv_direct import _padded_image
from .conv_direct_pool import N_FILTERS, _slp_vectorize, _store_transposed16

IMAGE_PREP = True  # the pixel-major gradients of a whole image at once, reading the inputs in memory order
PATCH = True  # one pass per input channel, its (KH + 1) x (KW + 1) input values loaded once per window
SELECT = True  # one FMA per tap and window on the input value selected by ``where`` (False: 4 FMAs on masked gradients)
TAPS_PER_PASS = 9  # accumulator registers per pass over the windows of a pooled row (float32)
_JIT = {"nogil": True, "fastmath": True, "boundscheck": False, "error_model": "numpy"}
_LOCK = threading.Lock()
_COMPILED = {}


def _kernel_source(taps=TAPS_PER_PASS, select=SELECT, name="_taps_pass"):
    """Python source of one pass over the windows of a pooled row for ``taps`` taps, as scalar locals.

    Parameters
    ----------
    taps : int
        Taps whose 16-channel accumulators stay in registers during the pass.
    name : str
        Name of the generated function.

    Returns
    -------
    str
        Source of ``name(xflat, gp, offs, acc, t0, cols, y0, wp)``: for the taps ``t0 .. t0 + taps - 1``
        (flat offsets ``offs[t]`` into the padded image ``xflat``, rows of ``wp`` values) it adds to
        ``acc[16 t + f]`` the sum over the windows ``q`` and their pixels ``k`` of ``xflat[y0 * wp +
        cols[q] + offs[t] + (k // 2) * wp + k % 2] * gp[64 q + 16 k + f]``, where ``cols[q] = 2 q``
        up to a sentinel ``2**64 - 1``.
    """
    f = N_FILTERS
    js = range(taps)
    lines = [
        f"def {name}(xflat, gp, offs, acc, t0, cols, y0, wp):",
        "    end = np.uint64(0xFFFFFFFFFFFFFFFF)",
        "    wpu = np.uint64(wp)",
        "    one = np.uint64(1)",
        "    r = np.uint64(t0 * 16)",
    ]
    lines += [f"    o{j} = offs[t0 + {j}] + np.uint64(y0 * wp)" for j in js]
    lines += [f"    a{j}_{c} = acc[r + np.uint64({16 * j + c})]" for j in js for c in range(f)]
    lines += [
        "    q = 0",
        "    g = np.uint64(0)",
        "    while True:  # ended by a sentinel, not a range: LLVM's loop vectoriser would gather over the windows",
        "        col = cols[q]",
        "        if col == end:",
        "            break",
    ]
    if select:
        lines += [f"        g_{c} = gp[g + np.uint64({c})]" for c in range(f)]
        lines += [f"        w_{c} = gp[g + np.uint64({16 + c})]" for c in range(f)]
        lines += [f"        top_{c} = w_{c} < 2" for c in range(f)]
        lines += [f"        left0_{c} = w_{c} == 0" for c in range(f)]
        lines += [f"        left2_{c} = w_{c} == 2" for c in range(f)]
    else:
        lines += [f"        g{k}_{c} = gp[g + np.uint64({16 * k + c})]" for k in range(4) for c in range(f)]
    for j in js:
        lines += [
            f"        p{j} = o{j} + col",
            f"        x{j}0 = xflat[p{j}]",
            f"        x{j}1 = xflat[p{j} + one]",
            f"        x{j}2 = xflat[p{j} + wpu]",
            f"        x{j}3 = xflat[p{j} + wpu + one]",
        ]
    if select:
        for j in js:
            lines += [f"        s{j}_{c} = (x{j}0 if left0_{c} else x{j}1) if top_{c} else (x{j}2 if left2_{c} else x{j}3)"
                      for c in range(f)]
            lines += [f"        a{j}_{c} += s{j}_{c} * g_{c}" for c in range(f)]
    else:
        lines += [f"        a{j}_{c} += x{j}{k} * g{k}_{c}" for k in range(4) for j in js for c in range(f)]
    lines += ["        q += 1", f"        g += np.uint64({32 if select else 64})"]
    lines += [f"    acc[r + np.uint64({16 * j + c})] = a{j}_{c}" for j in js for c in range(f)]
    return "\n".join(lines) + "\n"


def _pass_codegen(taps):
    """LLVM IR builder of :func:`_select_pass` for ``taps`` taps per pass (see there)."""

    def codegen(context, builder, signature, args):
        xflat, gp, offs, acc, cols = (context.make_array(signature.args[k])(context, builder, args[k])
                                      for k in (0, 1, 2, 3, 5))
        i64 = ir.IntType(64)
        t0, y0, wp = (context.cast(builder, args[k], signature.args[k], nt.int64) for k in (4, 6, 7))
        ft = context.get_value_type(signature.args[0].dtype)
        vec = ir.VectorType(ft, 16)
        vptr = vec.as_pointer()
        name = f"llvm.fma.v16f{64 if signature.args[0].dtype == nt.float64 else 32}"
        fma = builder.module.globals.get(name) or ir.Function(builder.module, ir.FunctionType(vec, [vec] * 3), name)
        zero_mask = ir.Constant(ir.VectorType(ir.IntType(32), 16), [0] * 16)

        def at(arr, index):
            return builder.gep(arr.data, [index], inbounds=True)

        def c64(v):
            return ir.Constant(i64, v)

        row = builder.mul(y0, wp)
        offsets, accs = [], []
        for j in range(taps):
            t = builder.add(t0, c64(j))
            offsets.append(builder.add(builder.load(at(offs, t)), row))
            accs.append(builder.load(builder.bitcast(at(acc, builder.mul(t, c64(16))), vptr), align=1))
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
            phi = builder.phi(vec)
            phi.add_incoming(a, entry)
            phis.append(phi)
        col = builder.load(at(cols, q))
        builder.cbranch(builder.icmp_unsigned("==", col, c64(-1)), done, body)
        builder.position_at_end(body)
        g0 = builder.mul(q, c64(32))
        grad = builder.load(builder.bitcast(at(gp, g0), vptr), align=1)
        pos = builder.load(builder.bitcast(at(gp, builder.add(g0, c64(16))), vptr), align=1)
        two = ir.Constant(vec, [2.0] * 16)
        top = builder.fcmp_ordered("<", pos, two)
        left0 = builder.fcmp_ordered("==", pos, ir.Constant(vec, [0.0] * 16))
        left2 = builder.fcmp_ordered("==", pos, two)
        news = []
        row0 = at(xflat, col)  # this window's top-left pixel, minus the tap offsets
        row1 = builder.gep(row0, [wp], inbounds=True)
        for j in range(taps):
            xs = []
            for r in (row0, row1):
                ptr = builder.gep(r, [offsets[j]], inbounds=True)
                for d in (0, 1):
                    scalar = builder.load(builder.gep(ptr, [c64(d)], inbounds=True))
                    one = builder.insert_element(ir.Constant(vec, ir.Undefined), scalar, ir.Constant(ir.IntType(32), 0))
                    xs.append(builder.shuffle_vector(one, ir.Constant(vec, ir.Undefined), zero_mask))
            sel = builder.select(top, builder.select(left0, xs[0], xs[1]), builder.select(left2, xs[2], xs[3]))
            news.append(builder.call(fma, [sel, grad, phis[j]]))
        q.add_incoming(builder.add(q, c64(1)), builder.block)
        builder.branch(loop)
        for phi, new in zip(phis, news):
            phi.add_incoming(new, builder.block)
        builder.position_at_end(done)
        for j in range(taps):
            ptr = at(acc, builder.mul(builder.add(t0, c64(j)), c64(16)))
            builder.store(phis[j], builder.bitcast(ptr, vptr), align=1)
        return context.get_dummy_value()

    return codegen


@intrinsic
def _select_pass(typingctx, xflat, gp, offs, acc, t0, cols, y0, wp):
    """One pass over the windows of a pooled row for ``TAPS_PER_PASS`` taps, in LLVM IR (16-lane vectors).

    For the taps ``t = t0 .. t0 + TAPS_PER_PASS - 1`` and the windows ``q`` (``cols[q] = 2 q`` up to the
    sentinel ``2**64 - 1``): ``acc[16 t : 16 t + 16] += x * gp[32 q : 32 q + 16]`` where, lane by lane,
    ``x`` is the input value ``xflat[y0 * wp + cols[q] + offs[t] + (k // 2) * wp + k % 2]`` of the pixel
    ``k = gp[32 q + 16 + f]`` (the window's maximum, 0-3 as a float). One select tree and one FMA per tap
    and window; the accumulators stay in registers (no bounds checks).
    """
    sig = nt.void(xflat, gp, offs, acc, t0, cols, y0, wp)
    return sig, _pass_codegen(TAPS_PER_PASS)


def _patch_codegen(kh, kw):
    """LLVM IR builder of the ``kh`` x ``kw`` patch pass (see :func:`_patch_pass`)."""

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

        taps = kh * kw
        accs = [builder.load(acc_ptr(t), align=1) for t in range(taps)]
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
        corner = builder.gep(xflat.data, [builder.add(base, col)], inbounds=True)  # (tap 0, pixel 0) of the window
        patch = []  # patch[r][s]: input value at row r, column s of the window's (kh + 1) x (kw + 1) patch, splat
        for r in range(kh + 1):
            row = builder.gep(corner, [builder.mul(wp, c64(r))], inbounds=True)
            patch.append([builder.shuffle_vector(
                builder.insert_element(undef, builder.load(builder.gep(row, [c64(s)], inbounds=True)),
                                       ir.Constant(i32, 0)), undef, splat_mask) for s in range(kw + 1)])
        # the column of each channel's pixel, then its row: x(tap ky, kx) = patch[ky + dy][kx + dx]
        half = [[builder.select(left, patch[r][s], patch[r][s + 1]) for s in range(kw)] for r in range(kh + 1)]
        news = []
        for ky in range(kh):
            for kx in range(kw):
                value = builder.select(top, half[ky][kx], half[ky + 1][kx])
                news.append(builder.call(fma, [value, grad, phis[ky * kw + kx]]))
        q.add_incoming(builder.add(q, c64(1)), builder.block)
        for phi, new in zip(phis, news):
            phi.add_incoming(new, builder.block)
        builder.branch(loop)
        builder.position_at_end(done)
        for t in range(taps):
            builder.store(phis[t], acc_ptr(t), align=1)
        return context.get_dummy_value()

    return codegen


def _patch_pass_intrinsic(kh, kw):
    """The :func:`_patch_pass` intrinsic for a ``kh`` x ``kw`` kernel."""

    def patch_pass(typingctx, xflat, gp, acc, a0, base, cols, wp):
        return nt.void(xflat, gp, acc, a0, base, cols, wp), _patch_codegen(kh, kw)

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
def _offsets(c_in, kh, kw, wp, hp, taps):
    """Flat tap offsets into a (C, HP, WP) image, padded with zeros to a multiple of ``taps`` (padding taps are dropped)."""
    n_taps = c_in * kh * kw
    padded = -(-n_taps // taps) * taps
    offs = np.zeros(padded, dtype=np.uint64)
    t = 0
    for c in range(c_in):
        for ky in range(kh):
            for kx in range(kw):
                offs[t] = (c * hp + ky) * wp + kx
                t += 1
    return offs


@njit(cache=True, **_JIT)
def _pixel_major_row(dout, out, where, i, py, tmp, gp, dbacc):
    """``gp[64 q + 16 k + f] = dout[i, f, py, q] * (out > 0) * (where == k)`` for the windows q of pooled row ``py``; sums into ``dbacc``."""
    pw = dout.shape[3]
    zero = dout.dtype.type(0)
    for blk in range(pw // 16):
        q0 = 16 * blk
        for f in range(16):
            g_row = dout[i, f, py]
            o_row = out[i, f, py]
            a_row = where[i, f, py]
            total = zero
            for p in range(16):
                q = q0 + p
                g = g_row[q] * (o_row[q] > 0)
                at = a_row[q]
                total += g
                tmp[16 * f + p] = g * (at == 0)
                tmp[256 + 16 * f + p] = g * (at == 1)
                tmp[512 + 16 * f + p] = g * (at == 2)
                tmp[768 + 16 * f + p] = g * (at == 3)
            dbacc[f] += total
        for k in range(4):
            _store_transposed16(tmp, 256 * k, gp, 64 * q0 + 16 * k, 64)
    for f in range(16):
        g_row = dout[i, f, py]
        o_row = out[i, f, py]
        a_row = where[i, f, py]
        for q in range(pw - pw % 16, pw):
            g = g_row[q] * (o_row[q] > 0)
            at = a_row[q]
            dbacc[f] += g
            for k in range(4):
                gp[64 * q + 16 * k + f] = g * (at == k)


@njit(cache=True, **_JIT)
def _pixel_major_row_sel(dout, out, where, i, py, tmp, gp, dbacc, lanes):
    """``gp[32 q + f] = dout[i, f, py, q] * (out > 0)``, ``gp[32 q + 16 + f] = where`` (as a float) for pooled row ``py``; sums into ``dbacc``.

    ``lanes`` is 16, passed at run time so that the inner loops stay loops that LLVM vectorises (with a
    constant trip count they are unrolled into scalar code).
    """
    pw = dout.shape[3]
    zero = dout.dtype.type(0)
    for blk in range(pw // 16):
        q0 = 16 * blk
        for f in range(16):
            g_row = dout[i, f, py, q0:]
            o_row = out[i, f, py, q0:]
            a_row = where[i, f, py, q0:]
            gt = tmp[16 * f:]
            wt = tmp[256 + 16 * f:]
            total = zero
            for p in range(lanes):
                g = g_row[p] if o_row[p] > zero else zero
                total += g
                gt[p] = g
                wt[p] = a_row[p]
            dbacc[f] += total
        _store_transposed16(tmp, 0, gp, 32 * q0, 32)
        _store_transposed16(tmp, 256, gp, 32 * q0 + 16, 32)
    for f in range(16):
        g_row = dout[i, f, py]
        o_row = out[i, f, py]
        a_row = where[i, f, py]
        for q in range(pw - pw % 16, pw):
            g = g_row[q] if o_row[q] > zero else zero
            dbacc[f] += g
            gp[32 * q + f] = g
            gp[32 * q + 16 + f] = a_row[q]


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
def _weight_grad(x, dout, out, where, padding, dw, db, xpad):
    """The loops over images, pooled rows and tap groups around the generated pass (see the module docstring)."""
    n_img, c_in, h, wd = x.shape
    kh, kw = dw.shape[2], dw.shape[3]
    hp, wp = h + 2 * padding, wd + 2 * padding
    ph, pw = dout.shape[2], dout.shape[3]
    offs = _offsets(c_in, kh, kw, wp, hp, TAPS_PER_PASS)
    n_taps = c_in * kh * kw
    acc = np.zeros(offs.shape[0] * 16, dtype=x.dtype)
    dbacc = np.zeros(16, dtype=x.dtype)
    tmp = np.empty(1024, dtype=x.dtype)
    gp = np.empty(64 * pw, dtype=x.dtype)
    lanes = np.full(1, 16)
    cols = np.empty(pw + 1, dtype=np.uint64)
    for q in range(pw):
        cols[q] = 2 * q
    cols[pw] = np.uint64(0xFFFFFFFFFFFFFFFF)
    if IMAGE_PREP:
        blocks = np.empty(2 * ph * (pw // 16) * 256, dtype=x.dtype)
        gp_img = np.empty(32 * ph * pw, dtype=x.dtype)
    for i in range(n_img):
        xflat = _padded_image(x, i, padding, xpad).reshape(-1)
        if IMAGE_PREP:
            _pixel_major_image(dout, out, where, i, blocks, gp_img, dbacc, lanes[0])
            for py in range(ph):
                gp_row = gp_img[32 * py * pw:]
                for c in range(c_in):
                    _patch_pass(kh, kw, xflat, gp_row, acc, 16 * c * kh * kw, (c * hp + 2 * py) * wp, cols, wp)
            continue
        for py in range(ph):
            if SELECT or PATCH:
                _pixel_major_row_sel(dout, out, where, i, py, tmp, gp, dbacc, lanes[0])
            else:
                _pixel_major_row(dout, out, where, i, py, tmp, gp, dbacc)
            if PATCH:
                for c in range(c_in):
                    _patch_pass(kh, kw, xflat, gp, acc, 16 * c * kh * kw, (c * hp + 2 * py) * wp, cols, wp)
                continue
            for t0 in range(0, offs.shape[0], TAPS_PER_PASS):
                if SELECT:
                    _select_pass(xflat, gp, offs, acc, t0, cols, 2 * py, wp)
                else:
                    _taps_pass(xflat, gp, offs, acc, t0, cols, 2 * py, wp)
    for f in range(16):
        db[f] = dbacc[f]
        t = 0
        for c in range(c_in):
            for ky in range(kh):
                for kx in range(kw):
                    dw[f, c, ky, kx] = acc[16 * t + f]
                    t += 1
    return n_taps


def _ready(args):
    """Compile (or load from the cache) :func:`_weight_grad` for the types of `args` once per process, with SLP on."""
    signature = tuple(typeof(a) for a in args)
    with _LOCK:
        if signature not in _COMPILED:
            with _slp_vectorize():
                _weight_grad.compile(signature)
            _COMPILED[signature] = True


def first_block_weight_grad(x, dout, out, where, padding, dw, db, xpad):
    """Weight and bias gradients of Conv2D(16 filters, stride 1) -> ReLU -> MaxPool2D(2) from the pooled gradient.

    Single-threaded (the compiled loops release the GIL); allocates only small scratch arrays. Same
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
        Overwritten with the filter gradients summed over the images.
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
    args = (x, dout, out, where, int(padding), dw, db, xpad)
    _ready(args)
    _weight_grad(*args)


GENERATED = Path(__file__).with_name("_conv_direct_pool_backward_kernel.py")
GENERATED_HEADER = ('''"""The generated kernel of :mod:`minicnn.functional.conv_direct_pool_backward`: do not edit.

Written by ``python -m minicnn.functional.conv_direct_pool_backward`` from ``_kernel_source()``;
``tests/test_conv_direct_pool_backward.py`` fails when this file differs from what the generator writes.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, fastmath=True, boundscheck=False, error_model="numpy")
''')


def generated_module_text():
    """The text of ``_conv_direct_pool_backward_kernel.py``: the header above and :func:`_kernel_source`."""
    return GENERATED_HEADER + _kernel_source()


if __name__ == "__main__":
    GENERATED.write_text(generated_module_text(), encoding="utf-8")
    print(f"wrote {GENERATED}")
