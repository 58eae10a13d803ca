"""Fast 2-D convolution: im2col/col2im in Numba and the products in BLAS.

The forward pass unrolls every receptive field of image n into a column of
``cols[n]`` (shape ``(C*KH*KW + 1, OH*OW)``, the last row all ones so that the bias rides in the
same matrix product), then computes ``out[n] = [W | b] @ cols[n]`` with a batched ``np.matmul``.
The result is already in NCHW order, so no transpose is needed. The backward pass rebuilds
``cols`` and computes ``[dW | db]^T = sum_n cols[n] @ dout[n].T`` and ``dcols[n] = W.T @ dout[n]``,
which col2im folds back into ``dx``.

Both passes go through the batch about 2 MB of columns (a few images) at a time, so that the columns (9 times larger than the input for a 3x3 kernel) are used
while still in the CPU cache instead of travelling to
main memory and back. Work arrays come from a :class:`~minicnn.functional._buffers.Workspace`
when one is passed (layers pass their own, which lives as long as the layer), so a training loop
does not reallocate them; the output and the input gradient come from it too when its owner has
declared ``reuse_outputs`` (inside a :class:`~minicnn.Sequential`), and are new arrays otherwise.
Signatures match :mod:`minicnn.functional.conv_naive`; the extra keyword arguments are optional.

Layers with at most ``DIRECT_MAX_CHANNELS`` input channels and stride 1 (the tile CNN's first layer)
build no columns: their forward pass and weight gradient come from the direct kernels of
:mod:`minicnn.functional.conv_direct`, whose inner loops run over image rows. The other stride-1 3x3
layers (the tile CNN's layers 2-4) build no columns either: they go through Winograd F(2x2, 3x3)
(:mod:`minicnn.functional.conv_winograd`), 16 multiplications per 2 x 2 outputs and input channel
instead of 36, in all three passes. ``WINOGRAD = False`` sends them through im2col + GEMM instead.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from ._buffers import output, scratch
from ._checks import as_float, conv2d_geometry, match_dtype
from ._parallel import map_tasks, split
from .conv_direct import direct_conv_forward, direct_conv_weight_grad
from .conv_winograd import (
    input_gradient_transform,
    input_transform,
    output_gradient_transform,
    output_transform,
    pad_input,
    tiles,
    transformed_weights,
    weight_gradient,
)

# bytes of im2col columns built at a time (a few images): small enough to stay in the L2 cache. With the
# fused Conv2D -> ReLU -> MaxPool2D runs (minicnn.fusion) and the direct kernels for the first layer,
# 1-3 MB train equally fast within the noise and 4 or 8 MB slower, in two same-run comparisons
# (benchmarks/bench_cnn_variants.py, results/cnn_variants.json; docs/cnn-speed.md)
CHUNK_BYTES = 2 << 20
# layers with at most this many input channels (and stride 1) use the direct kernels of conv_direct
# instead of im2col + GEMM, whose inner dimension C*KH*KW + 1 is then too short for BLAS: on the tile
# CNN's first layer (3 channels, 3x3) 1.4x faster forward and 1.8x faster weight gradient per image
# (single thread, benchmarks/results/conv_direct.json); layers with more channels were not measured
DIRECT_MAX_CHANNELS = 3
# stride-1 3x3 layers with more input channels go through Winograd F(2x2, 3x3)
# (minicnn.functional.conv_winograd); False: im2col + GEMM for them too (for comparisons)
WINOGRAD = True
# bytes of Winograd work arrays (16 x channels x tiles) per task: the 16 products of a task run fastest
# while their operands stay in the L2 cache
WINOGRAD_CHUNK_BYTES = 1 << 20


@njit(cache=True, nogil=True)
def im2col(x, kh, kw, stride, padding, oh, ow, cols):
    """Unroll receptive fields: ``cols[n, (c*KH + i)*KW + j, oy*OW + ox] = x_pad[n, c, oy*s + i, ox*s + j]``.

    Parameters
    ----------
    x : C-contiguous ndarray of shape (N, C, H, W)
    kh, kw, stride, padding, oh, ow : int
        Kernel size, stride and zero padding (px), output size.
    cols : C-contiguous ndarray of shape (N, R, OH*OW) with R >= C*KH*KW
        Written in place; rows beyond C*KH*KW are set to 1 (the bias row).
    """
    n_img, c_in, h, w = x.shape
    q = oh * ow
    k = c_in * kh * kw
    rows = cols.shape[1]
    xf = x.reshape(n_img, c_in * h * w)
    cf = cols.reshape(n_img, rows * q)
    for n in range(n_img):
        xn = xf[n]
        cn = cf[n]
        for c in range(c_in):
            for i in range(kh):
                for j in range(kw):
                    r = (c * kh + i) * kw + j
                    lo, hi = _valid_range(j, padding, stride, w, ow)
                    off = j - padding
                    for oy in range(oh):
                        iy = oy * stride + i - padding
                        dst = r * q + oy * ow
                        if iy < 0 or iy >= h:
                            for ox in range(ow):
                                cn[dst + ox] = 0.0
                        else:
                            # unsigned indices let LLVM vectorise the copy (no wrap-around checks)
                            src = (c * h + iy) * w + off
                            for ox in range(lo):
                                cn[dst + ox] = 0.0
                            if stride == 1:
                                for ox in range(lo, hi):
                                    cn[np.uint64(dst + ox)] = xn[np.uint64(src + ox)]
                            else:
                                for ox in range(lo, hi):
                                    cn[np.uint64(dst + ox)] = xn[np.uint64(src + ox * stride)]
                            for ox in range(hi, ow):
                                cn[dst + ox] = 0.0
        for t in range(k * q, rows * q):
            cn[t] = 1.0


@njit(cache=True, nogil=True)
def _valid_range(j, padding, stride, w, ow):
    """Output columns ``[lo, hi)`` whose input column ``ox*stride + j - padding`` lies in ``[0, w)``."""
    lo = 0
    if padding > j:
        lo = (padding - j + stride - 1) // stride
    hi = 0
    if w - 1 + padding - j >= 0:
        hi = min(ow, (w - 1 + padding - j) // stride + 1)
    if hi < lo:
        hi = lo
    return lo, hi


@njit(cache=True, nogil=True)
def col2im(dcols, kh, kw, stride, padding, oh, ow, dx):
    """Fold columns back into images, summing overlaps (the adjoint of :func:`im2col`).

    Parameters
    ----------
    dcols : C-contiguous ndarray of shape (N, R, OH*OW) with R >= C*KH*KW (extra rows ignored)
    dx : C-contiguous ndarray of shape (N, C, H, W)
        Overwritten with the folded sums.
    """
    n_img, c_in, h, w = dx.shape
    q = oh * ow
    rows = dcols.shape[1]
    df = dcols.reshape(n_img, rows * q)
    xf = dx.reshape(n_img, c_in * h * w)
    for n in range(n_img):
        dn = df[n]
        xn = xf[n]
        for t in range(c_in * h * w):
            xn[t] = 0.0
        for c in range(c_in):
            for i in range(kh):
                for j in range(kw):
                    r = (c * kh + i) * kw + j
                    lo, hi = _valid_range(j, padding, stride, w, ow)
                    off = j - padding
                    for oy in range(oh):
                        iy = oy * stride + i - padding
                        if iy < 0 or iy >= h:
                            continue
                        src = r * q + oy * ow
                        dst = (c * h + iy) * w + off
                        if stride == 1:
                            for ox in range(lo, hi):
                                xn[np.uint64(dst + ox)] += dn[np.uint64(src + ox)]
                        else:
                            for ox in range(lo, hi):
                                xn[np.uint64(dst + ox * stride)] += dn[np.uint64(src + ox)]


def _chunk(n, per_image_bytes):
    """Images per im2col chunk: about CHUNK_BYTES of columns, so they stay in the CPU cache."""
    return int(max(1, min(n, CHUNK_BYTES // max(per_image_bytes, 1))))


class ConvGeometry(NamedTuple):
    """Sizes of one convolution call and how the batch is cut into tasks."""

    n: int  #: images
    f: int  #: filters
    k: int  #: C*KH*KW, rows of the columns (without the bias row)
    oh: int  #: output height (px)
    ow: int  #: output width (px)
    window: tuple  #: (KH, KW, stride, padding, OH, OW), what im2col needs
    step: int  #: images per task (about CHUNK_BYTES of columns, or WINOGRAD_CHUNK_BYTES of Winograd arrays)
    direct: bool  #: computed by the direct kernels (few input channels, stride 1), not im2col + GEMM
    winograd: bool  #: computed by Winograd F(2x2, 3x3) (3x3 kernel, stride 1, not direct)

    @property
    def q(self):
        """Output pixels per image, OH*OW."""
        return self.oh * self.ow

    @property
    def work(self):
        """Elements of columns over the whole batch (for :func:`~minicnn.functional._parallel.map_tasks`)."""
        return self.n * (self.k + 1) * self.q

    @classmethod
    def of(cls, x_shape, w_shape, stride, padding, itemsize=4):
        n, c, h, wd = x_shape
        f, _, kh, kw = w_shape
        oh = (h + 2 * padding - kh) // stride + 1
        ow = (wd + 2 * padding - kw) // stride + 1
        k = c * kh * kw
        direct = stride == 1 and c <= DIRECT_MAX_CHANNELS
        winograd = WINOGRAD and not direct and stride == 1 and kh == 3 and kw == 3
        if winograd:
            th, tw = tiles(oh, ow)
            step = int(max(1, min(n, WINOGRAD_CHUNK_BYTES // (16 * max(c, f) * th * tw * itemsize))))
        else:
            step = _chunk(n, (k + 1) * oh * ow * itemsize)
        return cls(n, f, k, oh, ow, (kh, kw, stride, padding, oh, ow), step, direct, winograd)


def checked_inputs(x, w, b, stride, padding, who):
    """``(x, w, b, geometry)``: float arrays of one dtype (x C-contiguous), checked, and the call's sizes.

    Raises ValueError naming `who` and the expected shape when the arrays do not fit together.
    """
    x = as_float(x, who)
    w = match_dtype(as_float(w, who, "weights"), x.dtype)
    b = match_dtype(as_float(b, who, "bias"), x.dtype)
    conv2d_geometry(x, w, b, stride, padding, who)
    x, w, b = np.ascontiguousarray(x), np.ascontiguousarray(w), np.ascontiguousarray(b)
    return x, w, b, ConvGeometry.of(x.shape, w.shape, stride, padding, x.itemsize)


def checked_dout(dout, shape, dtype, who):
    """`dout` as a C-contiguous array of `dtype`; ValueError naming `who` unless its shape is `shape`."""
    dout = np.asarray(dout)
    if dout.shape != tuple(shape):
        raise ValueError(f"{who}: expected dout of shape {tuple(shape)}, got {dout.shape}")
    return np.ascontiguousarray(match_dtype(dout, dtype))


def conv2d_forward_fast(x, w, b, stride=1, padding=0, workspace=None):
    """Forward pass of a 2-D convolution through im2col and batched matrix products (or Winograd, or direct).

    Same contract as :func:`~minicnn.functional.conv_naive.conv2d_forward_naive`. The batch is
    processed in tasks of about 2 MB of columns (shared among the threads): each task's columns are
    built and multiplied while still in the cache, and are rebuilt in the backward pass rather than
    stored. Stride-1 3x3 layers with more than ``DIRECT_MAX_CHANNELS`` input channels go through
    Winograd F(2x2, 3x3) instead (tasks of about ``WINOGRAD_CHUNK_BYTES`` of transformed input), and
    layers with fewer channels through the direct kernels; the module docstring says more.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (F, C, KH, KW)
    b : ndarray of shape (F,)
    stride, padding : int
        Step (px) and zero padding on each side (px).
    workspace : Workspace, optional
        The caller's work arrays, kept between calls (``None``: allocate them for this call). The
        cache refers to them: it is valid until the next forward call with the same workspace.

    Returns
    -------
    out : ndarray of shape (N, F, OH, OW)
    cache : tuple
    """
    x, w, b, g = checked_inputs(x, w, b, stride, padding, "conv2d_forward_fast")
    wb = forward_weights(w, b, g)
    out = output(workspace, "out", (g.n, g.f, g.oh, g.ow), x.dtype)
    out3 = out.reshape(g.n, g.f, g.q)

    def task(slot, s, e):
        forward_chunk(x[s:e], w, b, wb, g, workspace, slot, out3[s:e])

    map_tasks(task, split(g.n, g.step), g.work)
    cache = (x, w, stride, padding, workspace)
    return out, cache


def bias_matrix(w, b, dtype):
    """``[W | b]`` of shape (F, C*KH*KW + 1): the weights as rows, the bias as the last column."""
    f = w.shape[0]
    k = w.size // f
    wb = np.empty((f, k + 1), dtype=dtype)  # the bias row of the columns is all ones
    wb[:, :k] = w.reshape(f, k)
    wb[:, k] = b
    return wb


def forward_weights(w, b, g):
    """The weights as :func:`forward_chunk` multiplies them: ``U`` (16, F, C) for Winograd, else ``[W | b]``."""
    if g.winograd:
        return transformed_weights(w)
    return bias_matrix(w, b, w.dtype)


def backward_weights(w, g):
    """The weights as :func:`backward_chunk` multiplies them: ``U^T`` (16, C, F) for Winograd, else ``W^T``."""
    if g.winograd:
        return np.ascontiguousarray(transformed_weights(w).transpose(0, 2, 1))
    return np.ascontiguousarray(w.reshape(g.f, g.k).T)


class Planes(NamedTuple):
    """A (16, rows, T) Winograd work array: as the kernels take it, and as the 16 products take it."""

    flat: np.ndarray  #: C-contiguous (16, P), P >= rows * T: element (xi, r * T + t)
    mats: np.ndarray  #: (16, rows, T) view of the same memory (planes P elements apart)


def winograd_arrays(workspace, slot, g, x):
    """Padded input, ``V`` and a product array of a Winograd task on the images `x`.

    Pads `x` and computes its transform ``V`` (:mod:`minicnn.functional.conv_winograd`).

    Returns
    -------
    xpad : ndarray of shape (n, C, 2*TH + 2, 2*TW + 2)
    v : Planes of shape (16, C, n*TH*TW)
    m : Planes of shape (16, F, n*TH*TW)
        Uninitialised (for ``M = U V`` or ``Z``).

    The arrays are sized for ``g.step`` images and cut to ``n``, so that the last, smaller task reuses
    them.
    """
    n, c = x.shape[0], x.shape[1]
    th, tw = tiles(g.oh, g.ow)
    t = n * th * tw
    xpad = scratch(workspace, f"wpad{slot}", (g.step, c, 2 * th + 2, 2 * tw + 2), x.dtype)[:n]
    v = _planes(workspace, f"wv{slot}", c, g.step * th * tw, t, x.dtype)
    m = _planes(workspace, f"wm{slot}", g.f, g.step * th * tw, t, x.dtype)
    pad_input(x, g.window[3], xpad)
    input_transform(xpad, v.flat)
    return xpad, v, m


def _planes(workspace, name, rows, t_max, t, dtype):
    """:class:`Planes` of shape (16, rows, t) whose 16 planes lie ``4096 k + 320`` bytes apart (k whole pages).

    The transforms read or write the 16 planes of a tile at once. Planes a multiple of 4 KB apart
    (``rows * t * 4`` bytes is one for every layer of the tile CNN) would all fall into the same
    sets of the L1 cache and evict each other: the transforms ran 3-8 times slower.
    """
    itemsize = np.dtype(dtype).itemsize
    plane = (-(-rows * t_max * itemsize // 4096) * 4096 + 320) // itemsize
    flat = scratch(workspace, name, (16, plane), dtype)
    return Planes(flat, np.ndarray((16, rows, t), dtype, flat, 0, (plane * itemsize, t * itemsize, itemsize)))


def forward_chunk(x, w, b, wb, g, workspace, slot, out3):
    """One task of the forward pass: ``out3[n] = conv(x[n], w) + b`` for the images `x`.

    im2col then ``out3[n] = wb @ cols[n]`` (BLAS), the direct kernel when ``g.direct``, or Winograd
    F(2x2, 3x3) when ``g.winograd`` (:mod:`minicnn.functional.conv_winograd`).

    Parameters
    ----------
    x : C-contiguous ndarray of shape (n, C, H, W)
        A few images of the batch (at most ``g.step``).
    w, b : ndarrays of shape (F, C, KH, KW) and (F,)
        Weights (C-contiguous) and biases.
    wb : ndarray of shape (F, C*KH*KW + 1), or (16, F, C) for Winograd
        From :func:`forward_weights`.
    g : ConvGeometry
        Sizes of the call.
    workspace, slot
        Where the scratch arrays live (``cols<slot>`` of ``g.step`` images, ``xpad<slot>``), reused call
        after call.
    out3 : ndarray of shape (n, F, OH*OW)
        Written in place.
    """
    kh, kw, stride, padding, oh, ow = g.window
    if g.direct:
        xpad = scratch(workspace, f"xpad{slot}", (1, x.shape[1], x.shape[2] + 2 * padding, x.shape[3] + 2 * padding),
                       x.dtype)
        direct_conv_forward(x, w, b, padding, out3.reshape(len(x), g.f, oh, ow), xpad)
        return
    if g.winograd:
        _, v, m = winograd_arrays(workspace, slot, g, x)
        np.matmul(wb, v.mats, out=m.mats)
        output_transform(m.flat, b, out3.reshape(len(x), g.f, oh, ow), False)
        return
    chunk = scratch(workspace, f"cols{slot}", (g.step, wb.shape[1], oh * ow), x.dtype)[: len(x)]
    im2col(x, kh, kw, stride, padding, oh, ow, chunk)
    np.matmul(wb, chunk, out=out3)


def backward_chunk(x, d3, w_t, g, workspace, slot, dx):
    """One task of the backward pass: ``[dW | db]^T`` summed over the images `x`, and their input gradient.

    Parameters
    ----------
    x : C-contiguous ndarray of shape (n, C, H, W)
        The images of this task, as in the forward pass.
    d3 : C-contiguous ndarray of shape (n, F, OH*OW)
        Gradient with respect to the convolution's output (bias included) for these images.
    w_t : C-contiguous ndarray of shape (C*KH*KW, F), or (16, C, F) for Winograd
        From :func:`backward_weights`.
    g : ConvGeometry
        Sizes of the call (``g.direct``: the weight gradient by the direct kernel; ``g.winograd``: both
        gradients by Winograd F(2x2, 3x3)).
    workspace, slot
        Scratch arrays ``cols<slot>``, ``dwb<slot>``, ``dcols<slot>`` sized for ``g.step`` images.
    dx : ndarray of shape (n, C, H, W) or None
        Overwritten with the input gradient; None skips it.

    Returns
    -------
    ndarray of shape (C*KH*KW + 1, F), or (16*F*C + F,) for Winograd
        ``[dW | db]^T`` summed over the task's images, or ``dU`` and ``db`` (a new array; the sum over the
        tasks goes to :func:`weight_gradients`).
    """
    kh, kw, stride, padding, oh, ow = g.window
    k, f = g.k, g.f
    q = oh * ow
    if g.winograd:
        return _winograd_backward_chunk(x, d3, w_t, g, workspace, slot, dx)
    if g.direct:
        xpad = scratch(workspace, f"xpad{slot}", (1, x.shape[1], x.shape[2] + 2 * padding, x.shape[3] + 2 * padding),
                       x.dtype)
        dwb_t = np.empty((k + 1, f), dtype=x.dtype)
        dw = scratch(workspace, f"dw{slot}", (f, x.shape[1], kh, kw), x.dtype)
        direct_conv_weight_grad(x, d3.reshape(len(x), f, oh, ow), padding, dw, dwb_t[k], xpad)
        dwb_t[:k] = dw.reshape(f, k).T
    else:
        chunk = scratch(workspace, f"cols{slot}", (g.step, k + 1, q), x.dtype)[: len(x)]
        parts = scratch(workspace, f"dwb{slot}", (g.step, k + 1, f), x.dtype)[: len(x)]
        im2col(x, kh, kw, stride, padding, oh, ow, chunk)
        # [dW | db]^T of each image (small matrices), summed over the chunk. cols @ dout^T runs 1.4-1.7x
        # faster in OpenBLAS than dout @ cols^T for these shapes (the long axis OH*OW is the inner one of both)
        np.matmul(chunk, d3.transpose(0, 2, 1), out=parts)
        dwb_t = parts.sum(axis=0)
    if dx is not None:
        dcols = scratch(workspace, f"dcols{slot}", (g.step, k, q), x.dtype)[: len(x)]
        np.matmul(w_t, d3, out=dcols)
        col2im(dcols, kh, kw, stride, padding, oh, ow, dx)
    return dwb_t


def _winograd_backward_chunk(x, d3, u_t, g, workspace, slot, dx):
    """:func:`backward_chunk` by Winograd F(2x2, 3x3)."""
    xpad, v, z = winograd_arrays(workspace, slot, g, x)
    du_db, db = winograd_gradients(g, x)
    dy = d3.reshape(len(x), g.f, g.oh, g.ow)
    output_gradient_transform(dy, dy, False, z.flat, db)
    return winograd_backward_products(v, z, u_t, g, xpad, dx, du_db)


def winograd_gradients(g, x):
    """A task's result array for the Winograd backward pass: ``(du_db, db)``, ``db`` its last F values, zeros."""
    du_db = np.empty(16 * g.f * x.shape[1] + g.f, dtype=x.dtype)
    db = du_db[-g.f:]
    db[:] = 0
    return du_db, db


def winograd_backward_products(v, z, u_t, g, xpad, dx, du_db):
    """The products of a Winograd backward task: ``dU = Z V^T`` and, when `dx` is given, ``dV = U^T Z``.

    Parameters
    ----------
    v, z : Planes of shapes (16, C, T) and (16, F, T)
        The task's transformed input (:func:`winograd_arrays`) and transformed output gradient.
    u_t : ndarray of shape (16, C, F)
        From :func:`backward_weights`.
    g : ConvGeometry
    xpad : ndarray of shape (n, C, 2*TH + 2, 2*TW + 2)
        The task's padded input, no longer needed: it becomes the padded input gradient.
    dx : ndarray of shape (n, C, H, W) or None
        Overwritten with the input gradient; None skips it.
    du_db : ndarray of shape (16*F*C + F,)
        Its last F values hold the task's bias gradient; ``dU`` (16, F, C) is written before them.

    Returns
    -------
    du_db
        What :func:`weight_gradients` turns, summed over the tasks, into ``dW`` and ``db``.
    """
    c = v.mats.shape[1]
    np.matmul(z.mats, v.mats.transpose(0, 2, 1), out=du_db[: 16 * g.f * c].reshape(16, g.f, c))
    if dx is not None:
        np.matmul(u_t, z.mats, out=v.mats)  # V is no longer needed: its array takes dV (same shape)
        input_gradient_transform(v.flat, g.window[3], xpad, dx)
    return du_db


def conv2d_backward_fast(dout, cache, need_dx=True):
    """Backward pass of :func:`conv2d_forward_fast`.

    Parameters
    ----------
    dout : ndarray of shape (N, F, OH, OW)
    cache : tuple
        From the forward pass.
    need_dx : bool
        When False the input gradient is not computed and ``dx`` is None (first layer of a net).

    Returns
    -------
    dx : ndarray of shape (N, C, H, W) or None
    dw : ndarray of shape (F, C, KH, KW)
    db : ndarray of shape (F,)
    """
    x, w, stride, padding, workspace = cache
    g = ConvGeometry.of(x.shape, w.shape, stride, padding, x.itemsize)
    d3 = checked_dout(dout, (g.n, g.f, g.oh, g.ow), x.dtype, "conv2d_backward_fast").reshape(g.n, g.f, g.q)
    w_t = backward_weights(w, g)
    dx = output(workspace, "dx", x.shape, x.dtype) if need_dx else None

    def task(slot, s, e):
        return backward_chunk(x[s:e], d3[s:e], w_t, g, workspace, slot, None if dx is None else dx[s:e])

    dwb_t = sum(map_tasks(task, split(g.n, g.step), g.work))  # (k + 1, f)
    return dx, *weight_gradients(dwb_t, w.shape)


def weight_gradients(dwb_t, w_shape):
    """``(dW, db)`` from the tasks' summed results: ``[dW | db]^T`` of shape (C*KH*KW + 1, F), or for
    Winograd ``dU`` (16, F, C) and ``db`` flattened into one array of 16*F*C + F values."""
    f, c = w_shape[0], w_shape[1]
    if dwb_t.ndim == 1:
        return weight_gradient(dwb_t[: 16 * f * c].reshape(16, f, c)), dwb_t[16 * f * c:].copy()
    k = dwb_t.shape[0] - 1
    dw = np.ascontiguousarray(dwb_t[:k].T).reshape(w_shape)
    return dw, dwb_t[k].copy()
