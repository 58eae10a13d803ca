"""Global average pooling: the mean of every channel over all pixels, (N, C, H, W) -> (N, C)."""

import numpy as np

from ._checks import as_float, check_nchw, match_dtype


def global_avg_pool2d_forward(x):
    """Average every feature map to one number.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)

    Returns
    -------
    out : ndarray of shape (N, C)
    cache : tuple
        (input shape, dtype).
    """
    who = "global_avg_pool2d_forward"
    x = as_float(x, who)
    check_nchw(x, who)
    ### BEGIN SOLUTION (G04)
    out = x.mean(axis=(2, 3))
    ### END SOLUTION
    return out, (x.shape, x.dtype)


def global_avg_pool2d_backward(dout, cache):
    """Backward pass of :func:`global_avg_pool2d_forward`: dx (N, C, H, W) from dout (N, C) and the cache.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    shape, dtype = cache
    dout = np.asarray(dout)
    if dout.shape != tuple(shape[:2]):
        raise ValueError(f"global_avg_pool2d_backward: expected dout of shape {tuple(shape[:2])}, got {dout.shape}")
    dout = match_dtype(dout, dtype)
    ### BEGIN SOLUTION (G04)
    dx = np.empty(shape, dtype=dtype)
    dx[...] = (dout / (shape[2] * shape[3]))[:, :, None, None]
    ### END SOLUTION
    return dx
