"""Fast max and average pooling: direct Numba kernels, the batch split between worker threads.

Same signatures and results as :mod:`minicnn.functional.pooling_naive` (ties in max pooling go
to the first maximum in row-major order, as ``argmax`` does). The max-pool forward pass records
the position of each window's maximum (an int32 index into the H*W plane) so that the backward
pass is a single scatter.
"""

import numpy as np
from numba import njit

from ._buffers import output, scratch
from ._checks import as_float, match_dtype, pool2d_geometry
from ._parallel import map_tasks, split

# images per task: enough work to be worth a hand-over between threads
TASK_ELEMENTS = 1 << 18


def _tasks(shape):
    per_image = max(1, int(np.prod(shape[1:])))
    return split(shape[0], max(1, TASK_ELEMENTS // per_image))


@njit(cache=True, nogil=True)
def _max_pool_forward(x, k, s, out, argmax):
    n_img, c_in, h, w = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for n in range(n_img):
        for c in range(c_in):
            plane = x[n, c]
            for oy in range(oh):
                for ox in range(ow):
                    top, left = oy * s, ox * s
                    best = plane[top, left]
                    pos = top * w + left
                    for ky in range(k):
                        for kx in range(k):
                            v = plane[top + ky, left + kx]
                            if v > best:
                                best = v
                                pos = (top + ky) * w + left + kx
                    out[n, c, oy, ox] = best
                    argmax[n, c, oy, ox] = pos


@njit(cache=True, nogil=True)
def _max_pool_forward_2x2(x, out, argmax):
    # the common case kernel 2, stride 2, unrolled
    n_img, c_in, h, w = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for n in range(n_img):
        for c in range(c_in):
            plane = x[n, c]
            for oy in range(oh):
                r0 = plane[2 * oy]
                r1 = plane[2 * oy + 1]
                base = 2 * oy * w
                for ox in range(ow):
                    j = 2 * ox
                    best = r0[j]
                    pos = base + j
                    if r0[j + 1] > best:
                        best = r0[j + 1]
                        pos = base + j + 1
                    if r1[j] > best:
                        best = r1[j]
                        pos = base + w + j
                    if r1[j + 1] > best:
                        best = r1[j + 1]
                        pos = base + w + j + 1
                    out[n, c, oy, ox] = best
                    argmax[n, c, oy, ox] = pos


@njit(cache=True, nogil=True)
def _max_pool_backward(dout, argmax, dx):
    n_img, c_in, h, w = dx.shape
    oh, ow = dout.shape[2], dout.shape[3]
    for n in range(n_img):
        for c in range(c_in):
            plane = dx[n, c].reshape(h * w)
            for t in range(h * w):
                plane[t] = 0.0
            for oy in range(oh):
                for ox in range(ow):
                    plane[argmax[n, c, oy, ox]] += dout[n, c, oy, ox]


@njit(cache=True, nogil=True)
def _avg_pool_forward(x, k, s, out):
    n_img, c_in, h, w = x.shape
    oh, ow = out.shape[2], out.shape[3]
    scale = 1.0 / (k * k)
    for n in range(n_img):
        for c in range(c_in):
            plane = x[n, c]
            for oy in range(oh):
                for ox in range(ow):
                    acc = 0.0
                    for ky in range(k):
                        for kx in range(k):
                            acc += plane[oy * s + ky, ox * s + kx]
                    out[n, c, oy, ox] = acc * scale


@njit(cache=True, nogil=True)
def _avg_pool_backward(dout, k, s, dx):
    n_img, c_in, h, w = dx.shape
    oh, ow = dout.shape[2], dout.shape[3]
    scale = 1.0 / (k * k)
    for n in range(n_img):
        for c in range(c_in):
            plane = dx[n, c]
            for y in range(h):
                for x in range(w):
                    plane[y, x] = 0.0
            for oy in range(oh):
                for ox in range(ow):
                    g = dout[n, c, oy, ox] * scale
                    for ky in range(k):
                        for kx in range(k):
                            plane[oy * s + ky, ox * s + kx] += g


def _check_dout(dout, shape, dtype, who):
    dout = np.asarray(dout)
    if dout.shape != tuple(shape):
        raise ValueError(f"{who}: expected dout of shape {tuple(shape)}, got {dout.shape}")
    return np.ascontiguousarray(match_dtype(dout, dtype))


def max_pool2d_forward_fast(x, kernel_size=2, stride=None, workspace=None):
    """Maximum over each window (Numba kernel).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    kernel_size : int
        Window side (px).
    stride : int, optional
        Step between windows (px); defaults to `kernel_size`.
    workspace : Workspace, optional
        The caller's arrays, kept between calls: the argmax indices (the cache refers to them until
        the next forward call with this workspace) and, when it reuses outputs, the output.

    Returns
    -------
    out : ndarray of shape (N, C, OH, OW)
    cache : tuple
    """
    who = "max_pool2d_forward_fast"
    x = as_float(x, who)
    k, s, oh, ow = pool2d_geometry(x, kernel_size, stride, who)
    n, c, h, w = x.shape
    x = np.ascontiguousarray(x)
    out = output(workspace, "out", (n, c, oh, ow), x.dtype)
    argmax = scratch(workspace, "argmax", (n, c, oh, ow), np.int32)
    if k == 2 and s == 2:
        map_tasks(lambda i, a, e: _max_pool_forward_2x2(x[a:e], out[a:e], argmax[a:e]), _tasks(x.shape), x.size)
    else:
        map_tasks(lambda i, a, e: _max_pool_forward(x[a:e], k, s, out[a:e], argmax[a:e]), _tasks(x.shape), x.size)
    return out, (x.shape, x.dtype, k, s, argmax, workspace)


def max_pool2d_backward_fast(dout, cache):
    """Backward pass of :func:`max_pool2d_forward_fast`.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    shape, dtype, k, s, argmax, workspace = cache
    dout = _check_dout(dout, argmax.shape, dtype, "max_pool2d_backward_fast")
    dx = output(workspace, "dx", shape, dtype)
    map_tasks(lambda i, a, e: _max_pool_backward(dout[a:e], argmax[a:e], dx[a:e]), _tasks(shape), dx.size)
    return dx


def avg_pool2d_forward_fast(x, kernel_size=2, stride=None, workspace=None):
    """Mean over each window (Numba kernel). Same contract as the naive version.

    `workspace` (optional): the caller's :class:`~minicnn.functional._buffers.Workspace`, which
    provides the output array when it reuses outputs.

    Returns
    -------
    out : ndarray of shape (N, C, OH, OW)
    cache : tuple
    """
    who = "avg_pool2d_forward_fast"
    x = as_float(x, who)
    k, s, oh, ow = pool2d_geometry(x, kernel_size, stride, who)
    n, c = x.shape[:2]
    x = np.ascontiguousarray(x)
    out = output(workspace, "out", (n, c, oh, ow), x.dtype)
    map_tasks(lambda i, a, e: _avg_pool_forward(x[a:e], k, s, out[a:e]), _tasks(x.shape), x.size)
    return out, (x.shape, x.dtype, k, s, workspace)


def avg_pool2d_backward_fast(dout, cache):
    """Backward pass of :func:`avg_pool2d_forward_fast`.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    shape, dtype, k, s, workspace = cache
    n, c, h, w = shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    dout = _check_dout(dout, (n, c, oh, ow), dtype, "avg_pool2d_backward_fast")
    dx = output(workspace, "dx", shape, dtype)
    map_tasks(lambda i, a, e: _avg_pool_backward(dout[a:e], k, s, dx[a:e]), _tasks(shape), dx.size)
    return dx
