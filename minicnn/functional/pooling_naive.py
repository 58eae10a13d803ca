"""Max and average pooling written with loops over output positions (exercise G04).

The oracle for :mod:`minicnn.functional.pooling_fast` (same signatures). Windows have
``kernel_size x kernel_size`` pixels and move by ``stride`` (default: ``kernel_size``); there is
no padding, so ``OH = (H - kernel_size) // stride + 1``.
"""

import numpy as np

from ._checks import as_float, match_dtype, pool2d_geometry


def _check_dout(dout, shape, dtype, who):
    dout = np.asarray(dout)
    if dout.shape != tuple(shape):
        raise ValueError(f"{who}: expected dout of shape {tuple(shape)}, got {dout.shape}")
    return match_dtype(dout, dtype)


def max_pool2d_forward_naive(x, kernel_size=2, stride=None):
    """Maximum over each window.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    kernel_size : int
        Window side (px).
    stride : int, optional
        Step between windows (px); defaults to `kernel_size`.

    Returns
    -------
    out : ndarray of shape (N, C, OH, OW)
    cache : tuple
        (x, kernel_size, stride).
    """
    who = "max_pool2d_forward_naive"
    x = as_float(x, who)
    k, s, oh, ow = pool2d_geometry(x, kernel_size, stride, who)
    n, c = x.shape[:2]
    ### BEGIN SOLUTION (G04) out (N, C, OH, OW), OH = (H - k) // s + 1: the maximum of each k x k window, windows every s pixels; return (out, cache) with what backward needs
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            window = x[:, :, i * s : i * s + k, j * s : j * s + k]
            out[:, :, i, j] = window.max(axis=(2, 3))
    ### END SOLUTION
    return out, (x, k, s)


def max_pool2d_backward_naive(dout, cache):
    """Backward pass of :func:`max_pool2d_forward_naive`.

    The gradient of each window goes to its maximum; when several pixels tie, to the first one
    in row-major order (the one ``argmax`` returns).

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    x, k, s = cache
    n, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    dout = _check_dout(dout, (n, c, oh, ow), x.dtype, "max_pool2d_backward_naive")
    ### BEGIN SOLUTION (G04) dx shaped like x (N, C, H, W) from dout (N, C, OH, OW): which input of a window changed its output? (ties: the first maximum, as np.argmax); windows may overlap, so accumulate
    dx = np.zeros_like(x)
    for i in range(oh):
        for j in range(ow):
            window = x[:, :, i * s : i * s + k, j * s : j * s + k].reshape(n, c, k * k)
            first_max = window.argmax(axis=2)  # (N, C)
            mask = np.zeros_like(window)
            np.put_along_axis(mask, first_max[:, :, None], 1.0, axis=2)
            dx[:, :, i * s : i * s + k, j * s : j * s + k] += (mask * dout[:, :, i, j, None]).reshape(n, c, k, k)
    ### END SOLUTION
    return dx


def avg_pool2d_forward_naive(x, kernel_size=2, stride=None):
    """Mean over each window.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    kernel_size : int
        Window side (px).
    stride : int, optional
        Step between windows (px); defaults to `kernel_size`.

    Returns
    -------
    out : ndarray of shape (N, C, OH, OW)
    cache : tuple
        (input shape, kernel_size, stride).
    """
    who = "avg_pool2d_forward_naive"
    x = as_float(x, who)
    k, s, oh, ow = pool2d_geometry(x, kernel_size, stride, who)
    n, c = x.shape[:2]
    ### BEGIN SOLUTION (G04) out (N, C, OH, OW), OH = (H - k) // s + 1: the mean of each k x k window, windows every s pixels; return (out, cache)
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x[:, :, i * s : i * s + k, j * s : j * s + k].mean(axis=(2, 3))
    ### END SOLUTION
    return out, (x.shape, x.dtype, k, s)


def avg_pool2d_backward_naive(dout, cache):
    """Backward pass of :func:`avg_pool2d_forward_naive`: each window shares its gradient equally.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    shape, dtype, k, s = cache
    n, c, h, w = shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    dout = _check_dout(dout, (n, c, oh, ow), dtype, "avg_pool2d_backward_naive")
    ### BEGIN SOLUTION (G04)
    dx = np.zeros(shape, dtype=dtype)
    for i in range(oh):
        for j in range(ow):
            dx[:, :, i * s : i * s + k, j * s : j * s + k] += dout[:, :, i, j, None, None] / (k * k)
    ### END SOLUTION
    return dx
