"""Flatten every sample to a vector: (N, d1, d2, ...) -> (N, d1*d2*...)."""

import numpy as np

from ._checks import as_float


def flatten_forward(x):
    """Reshape (N, ...) to (N, D) with D the product of the other dimensions.

    Returns
    -------
    out : ndarray of shape (N, D)
        A view of `x` when `x` is contiguous.
    cache : tuple
        The input shape.
    """
    x = as_float(x, "flatten_forward")
    if x.ndim < 1:
        raise ValueError(f"flatten_forward: expected input of shape (N, ...), got {x.shape}")
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(dout, cache):
    """Reshape the gradient (N, D) back to the input shape."""
    shape = cache
    dout = np.asarray(dout)
    if dout.size != int(np.prod(shape)):
        raise ValueError(f"flatten_backward: expected dout of shape {(shape[0], int(np.prod(shape[1:])))}, "
                         f"got {dout.shape}")
    return dout.reshape(shape)
