"""A convolution, its ReLU and an optional 2x2 max pool in one pass over the batch (the fast path of Sequential).

``Conv2D -> ReLU -> MaxPool2D(2)`` run layer by layer writes the convolution's output (for the
first block of the tile CNN 64 x 16 x 96 x 96 floats, 38 MB) to memory, reads it back for ReLU,
writes ReLU's output, reads it back for the pooling, and does the same again in the backward pass.
Here every task (a few images, see :mod:`minicnn.functional.conv_fast`) computes its convolution
output into a scratch array that stays in the CPU cache, and applies ReLU and the pooling to it
before moving on: only the pooled output (4 times smaller) and the position of each window's
maximum (one byte per output) reach main memory. The backward pass rebuilds, task by task and again
in the cache, the gradient with respect to the convolution's output from the pooled gradient, and
feeds it to the convolution's backward products. For a first layer with 16 filters and few input
channels (the tile CNN's) neither pass fills that scratch array: the forward pass pools the 16 channels
of each pixel straight from registers (:mod:`minicnn.functional.conv_direct_pool`), and the backward pass
computes the weight gradient from the pooled gradient (:mod:`minicnn.functional.conv_direct_pool_backward`).
Nor do the stride-1 3x3 layers with more channels (layers 2-4), which go through Winograd F(2x2, 3x3): each
2 x 2 output tile of the transform is exactly one pooling window, so ReLU and pooling are applied right as
the tile comes out of the transform, and the backward pass builds the transformed gradient straight from the
pooled gradient (:mod:`minicnn.functional.conv_winograd`).

The results are those of the three layers run one after the other (ties in the pooling go to the
first maximum in row-major order; ``relu(max(window)) = max(relu(window))``); only the order of
float sums inside the matrix products may differ. :class:`minicnn.Sequential` uses these functions
for such runs of layers (see :mod:`minicnn.fusion`).
"""

import numpy as np
from numba import njit

from ._buffers import output, scratch
from ._parallel import map_tasks, split
from .conv_direct_pool import N_FILTERS, direct_conv3_relu_pool_forward
from .conv_direct_pool_backward import MAX_KERNEL, first_block_weight_grad
from .conv_fast import (
    ConvGeometry,
    backward_chunk,
    backward_weights,
    checked_dout,
    checked_inputs,
    forward_chunk,
    forward_weights,
    weight_gradients,
    winograd_arrays,
    winograd_backward_products,
    winograd_gradients,
)
from .conv_winograd import (
    output_gradient_transform,
    output_transform,
    output_transform_relu_pool,
    pooled_gradient_transform,
    tiles,
)


@njit(cache=True, nogil=True)
def relu_max_pool2x2(pre, out, where):
    """ReLU of the maximum of each 2x2 window (stride 2) of `pre`, and where that maximum is.

    Parameters
    ----------
    pre : C-contiguous ndarray of shape (n, F, OH, OW)
        Convolution outputs (before ReLU).
    out : ndarray of shape (n, F, OH // 2, OW // 2)
        Written: ``max(0, max of the window)``.
    where : int8 ndarray of shape (n, F, OH // 2, OW // 2)
        Written: the position of the window's first maximum, 0 top-left, 1 top-right, 2 bottom-left,
        3 bottom-right.
    """
    n_img, f, oh, ow = pre.shape
    ph, pw = out.shape[2], out.shape[3]
    for n in range(n_img):
        for c in range(f):
            for y in range(ph):
                r0 = pre[n, c, 2 * y]
                r1 = pre[n, c, 2 * y + 1]
                o = out[n, c, y]
                p = where[n, c, y]
                for x in range(pw):
                    a = r0[2 * x]
                    b = r0[2 * x + 1]
                    top = max(a, b)
                    top_at = np.int8(0) if a >= b else np.int8(1)
                    d = r1[2 * x]
                    e = r1[2 * x + 1]
                    bottom = max(d, e)
                    bottom_at = np.int8(2) if d >= e else np.int8(3)
                    first = top >= bottom
                    best = top if first else bottom
                    p[x] = top_at if first else bottom_at
                    o[x] = best if best > 0 else 0.0


@njit(cache=True, nogil=True)
def relu_max_pool2x2_backward(dout, out, where, dpre):
    """Gradient with respect to the convolution's output of :func:`relu_max_pool2x2`.

    Parameters
    ----------
    dout : ndarray of shape (n, F, PH, PW)
        Gradient with respect to the pooled output.
    out, where : ndarrays of shape (n, F, PH, PW)
        As written by :func:`relu_max_pool2x2`: a window whose output is 0 passes no gradient.
    dpre : C-contiguous ndarray of shape (n, F, OH, OW)
        Overwritten: each window's gradient at its maximum, 0 elsewhere (and on the last row or
        column when OH or OW is odd: the pooling never looked at them).
    """
    n_img, f, oh, ow = dpre.shape
    ph, pw = dout.shape[2], dout.shape[3]
    zero = dpre.dtype.type(0)
    for n in range(n_img):
        for c in range(f):
            for y in range(ph):
                r0 = dpre[n, c, 2 * y]
                r1 = dpre[n, c, 2 * y + 1]
                g_row = dout[n, c, y]
                o = out[n, c, y]
                p = where[n, c, y]
                for x in range(pw):
                    # products with booleans, not branches: twice as fast (the positions are random)
                    g = g_row[x] * (o[x] > 0)
                    at = p[x]
                    r0[2 * x] = g * (at == 0)
                    r0[2 * x + 1] = g * (at == 1)
                    r1[2 * x] = g * (at == 2)
                    r1[2 * x + 1] = g * (at == 3)
                if ow > 2 * pw:
                    r0[ow - 1] = zero
                    r1[ow - 1] = zero
            if oh > 2 * ph:
                last = dpre[n, c, oh - 1]
                for x in range(ow):
                    last[x] = zero


@njit(cache=True, nogil=True)
def relu_into(pre, out):
    """``out = max(pre, 0)`` element-wise (arrays of the same shape, flattened)."""
    src = pre.reshape(pre.size)
    dst = out.reshape(out.size)
    for i in range(src.size):
        v = src[i]
        dst[i] = v if v > 0 else 0.0


@njit(cache=True, nogil=True)
def relu_backward_into(dout, out, dpre):
    """``dpre = dout`` where the ReLU's output `out` is positive, 0 elsewhere (same shapes, flattened)."""
    g = dout.reshape(dout.size)
    o = out.reshape(out.size)
    d = dpre.reshape(dpre.size)
    zero = d.dtype.type(0)
    for i in range(g.size):
        d[i] = g[i] if o[i] > 0 else zero


def conv2d_relu_pool_forward(x, w, b, stride=1, padding=0, pool=True, workspace=None, out_workspace=None):
    """``max_pool2x2(relu(conv2d(x)))`` (or ``relu(conv2d(x))`` when `pool` is False) in one pass.

    Parameters
    ----------
    x, w, b, stride, padding
        Input (N, C, H, W), weights (F, C, KH, KW), biases (F,), step and zero padding of the
        convolution (px), as for :func:`~minicnn.functional.conv2d_forward_fast`.
    pool : bool
        Follow the ReLU by a 2x2 max pool with stride 2.
    workspace : Workspace, optional
        Scratch arrays (columns, the convolution's output per task, window positions), as for
        :func:`~minicnn.functional.conv2d_forward_fast`. The cache refers to them until the next
        forward call with this workspace.
    out_workspace : Workspace, optional
        Provides the output array (the last layer's, so that its ``reuse_outputs`` applies);
        defaults to `workspace`.

    Returns
    -------
    out : ndarray of shape (N, F, OH // 2, OW // 2), or (N, F, OH, OW) without pooling
    cache : tuple
    """
    who = "conv2d_relu_pool_forward"
    x, w, b, g = checked_inputs(x, w, b, stride, padding, who)
    if pool and (g.oh < 2 or g.ow < 2):
        raise ValueError(f"{who}: the 2x2 pooling needs a convolution output of at least 2 x 2 px, got "
                         f"{g.oh} x {g.ow} for input {tuple(x.shape)}")
    wb = forward_weights(w, b, g)
    out_shape = (g.n, g.f, g.oh // 2, g.ow // 2) if pool else (g.n, g.f, g.oh, g.ow)
    out = output(out_workspace if out_workspace is not None else workspace, "out", out_shape, x.dtype)
    where = scratch(workspace, "where", out_shape, np.int8) if pool else None

    def task(slot, s, e):
        if pool and g.direct and g.f == N_FILTERS:  # the tile CNN's first block: never writes the conv output
            padded = (1, x.shape[1], x.shape[2] + 2 * padding, x.shape[3] + 2 * padding)
            direct_conv3_relu_pool_forward(x[s:e], w, b, padding, out[s:e], where[s:e],
                                           scratch(workspace, f"xpad{slot}", padded, x.dtype))
            return
        if g.winograd:  # 3x3 layers: the ReLU (and pooling) of each 2 x 2 tile right after its transform
            _, v, m = winograd_arrays(workspace, slot, g, x[s:e])
            np.matmul(wb, v.mats, out=m.mats)
            if pool:
                output_transform_relu_pool(m.flat, b, *tiles(g.oh, g.ow), out[s:e], where[s:e])
            else:
                output_transform(m.flat, b, out[s:e], True)
            return
        pre = scratch(workspace, f"pre{slot}", (g.step, g.f, g.oh, g.ow), x.dtype)[: e - s]
        forward_chunk(x[s:e], w, b, wb, g, workspace, slot, pre.reshape(e - s, g.f, g.q))
        if pool:
            relu_max_pool2x2(pre, out[s:e], where[s:e])
        else:
            relu_into(pre, out[s:e])

    map_tasks(task, split(g.n, g.step), g.work)
    return out, (x, w, stride, padding, pool, out, where, workspace)


def conv2d_relu_pool_backward(dout, cache, need_dx=True, dx_workspace=None):
    """Backward pass of :func:`conv2d_relu_pool_forward`.

    Parameters
    ----------
    dout : ndarray of the forward output's shape
    cache : tuple
        From the forward pass.
    need_dx : bool
        When False the input gradient is not computed and ``dx`` is None (first layer of a net).
    dx_workspace : Workspace, optional
        Provides the input-gradient array (the convolution layer's); defaults to the forward's workspace.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W) or None
    dw : ndarray of shape (F, C, KH, KW)
    db : ndarray of shape (F,)
    """
    x, w, stride, padding, pool, out, where, workspace = cache
    g = ConvGeometry.of(x.shape, w.shape, stride, padding, x.itemsize)
    dout = checked_dout(dout, out.shape, x.dtype, "conv2d_relu_pool_backward")
    w_t = backward_weights(w, g)
    dx = output(dx_workspace if dx_workspace is not None else workspace, "dx", x.shape, x.dtype) if need_dx else None

    kh, kw = w.shape[2], w.shape[3]
    first_block = pool and g.direct and g.f == N_FILTERS and dx is None and max(kh, kw) <= MAX_KERNEL

    def task(slot, s, e):
        if first_block:  # the tile CNN's first block: dW, db straight from the pooled gradient, in registers
            padded = (1, x.shape[1], x.shape[2] + 2 * padding, x.shape[3] + 2 * padding)
            dwb_t = np.empty((g.k + 1, g.f), dtype=x.dtype)
            dw = scratch(workspace, f"dw{slot}", w.shape, x.dtype)
            first_block_weight_grad(x[s:e], dout[s:e], out[s:e], where[s:e], padding, dw, dwb_t[g.k],
                                    scratch(workspace, f"xpad{slot}", padded, x.dtype))
            dwb_t[: g.k] = dw.reshape(g.f, g.k).T
            return dwb_t
        if g.winograd:  # the transformed gradient straight from the pooled (or ReLU's) gradient
            xpad, v, z = winograd_arrays(workspace, slot, g, x[s:e])
            du_db, db = winograd_gradients(g, x)
            if pool:
                pooled_gradient_transform(dout[s:e], out[s:e], where[s:e], *tiles(g.oh, g.ow), z.flat, db)
            else:
                output_gradient_transform(dout[s:e], out[s:e], True, z.flat, db)
            return winograd_backward_products(v, z, w_t, g, xpad, None if dx is None else dx[s:e], du_db)
        dpre = scratch(workspace, f"pre{slot}", (g.step, g.f, g.oh, g.ow), x.dtype)[: e - s]
        if pool:
            relu_max_pool2x2_backward(dout[s:e], out[s:e], where[s:e], dpre)
        else:
            relu_backward_into(dout[s:e], out[s:e], dpre)
        return backward_chunk(x[s:e], dpre.reshape(e - s, g.f, g.q), w_t, g, workspace, slot,
                              None if dx is None else dx[s:e])

    dwb_t = sum(map_tasks(task, split(g.n, g.step), g.work))
    return dx, *weight_gradients(dwb_t, w.shape)
