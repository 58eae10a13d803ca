"""Element-wise activations: ReLU, leaky ReLU, sigmoid, tanh (exercise G01).

Each has ``<name>_forward(x, ...) -> (out, cache)`` and ``<name>_backward(dout, cache) -> dx``;
any input shape works and the output has the input's shape and dtype.
"""

import numpy as np

from ._checks import as_float, match_dtype


def _check_dout(dout, like, who):
    dout = np.asarray(dout)
    if dout.shape != like.shape:
        raise ValueError(f"{who}: expected dout of shape {like.shape}, got {dout.shape}")
    return match_dtype(dout, like.dtype)


def relu_forward(x, out=None):
    """``max(x, 0)`` element-wise.

    Parameters
    ----------
    x : ndarray of any shape
    out : ndarray, optional
        Array of the same shape and dtype to write the result into (saves an allocation).

    Returns
    -------
    out : ndarray, same shape as `x`
    cache : ndarray
        The input `x`.
    """
    x = as_float(x, "relu_forward")
    ### BEGIN SOLUTION (G01)
    out = np.maximum(x, 0, out=out)
    ### END SOLUTION
    return out, x


def relu_backward(dout, cache, out=None):
    """Gradient of :func:`relu_forward`: `dout` where the input was positive, 0 elsewhere.

    `out` (optional) is an array of the input's shape and dtype to write the result into.
    """
    x = cache
    dout = _check_dout(dout, x, "relu_backward")
    ### BEGIN SOLUTION (G01)
    dx = np.multiply(dout, x > 0, out=out)
    ### END SOLUTION
    return dx


def leaky_relu_forward(x, alpha=0.01):
    """``x`` where positive, ``alpha * x`` elsewhere.

    Parameters
    ----------
    x : ndarray of any shape
    alpha : float
        Slope for negative inputs.

    Returns
    -------
    out : ndarray, same shape as `x`
    cache : tuple
        (x, alpha).
    """
    x = as_float(x, "leaky_relu_forward")
    ### BEGIN SOLUTION (G01)
    out = np.where(x > 0, x, alpha * x).astype(x.dtype, copy=False)
    ### END SOLUTION
    return out, (x, alpha)


def leaky_relu_backward(dout, cache):
    """Gradient of :func:`leaky_relu_forward`."""
    x, alpha = cache
    dout = _check_dout(dout, x, "leaky_relu_backward")
    ### BEGIN SOLUTION (G01) dx, shape and dtype of x, from dout and the cache (x, alpha): the local slope of leaky ReLU on each side of 0, times dout
    dx = np.where(x > 0, dout, alpha * dout).astype(x.dtype, copy=False)
    ### END SOLUTION
    return dx


def sigmoid_forward(x):
    """Logistic function of ``x`` (the sigmoid of the G01 theory), computed without overflow for large ``|x|``.

    Returns
    -------
    out : ndarray, same shape as `x`, values in (0, 1)
    cache : ndarray
        The output (the backward pass computes the gradient from it: G01 theory).
    """
    x = as_float(x, "sigmoid_forward")
    ### BEGIN SOLUTION (G01)
    # exp of a non-positive number never overflows: use exp(-|x|) on both sides
    z = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)
    ### END SOLUTION
    return out, out


def sigmoid_backward(dout, cache):
    """Gradient of :func:`sigmoid_forward`."""
    out = cache
    dout = _check_dout(dout, out, "sigmoid_backward")
    ### BEGIN SOLUTION (G01) dx (shape of dout) from dout and the cache, which holds the forward output: write sigmoid'(x) in terms of sigmoid(x) (G01 theory)
    dx = dout * out * (1 - out)
    ### END SOLUTION
    return dx


def tanh_forward(x):
    """Hyperbolic tangent.

    Returns
    -------
    out : ndarray, same shape as `x`, values in (-1, 1)
    cache : ndarray
        The output (the backward pass computes the gradient from it: G01 theory).
    """
    x = as_float(x, "tanh_forward")
    ### BEGIN SOLUTION (G01) out = tanh of x element-wise, same shape and dtype as x; the cache returned below is the output (backward uses it)
    out = np.tanh(x)
    ### END SOLUTION
    return out, out


def tanh_backward(dout, cache):
    """Gradient of :func:`tanh_forward`."""
    out = cache
    dout = _check_dout(dout, out, "tanh_backward")
    ### BEGIN SOLUTION (G01) dx (shape of dout) from dout and the cache, which holds the forward output: write tanh'(x) in terms of tanh(x) (G01 theory)
    dx = dout * (1 - out * out)
    ### END SOLUTION
    return dx
