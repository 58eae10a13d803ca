"""Fully connected (affine) layer: ``out = x @ W + b`` (exercise G01)."""

import numpy as np

from ._checks import as_float, match_dtype


def dense_forward(x, w, b):
    """Forward pass of a dense layer.

    Parameters
    ----------
    x : ndarray of shape (N, D)
        Inputs, one row per sample.
    w : ndarray of shape (D, M)
        Weights.
    b : ndarray of shape (M,)
        Biases.

    Returns
    -------
    out : ndarray of shape (N, M)
    cache : tuple
        (x, w) for the backward pass.
    """
    who = "dense_forward"
    x = as_float(x, who)
    w = match_dtype(as_float(w, who, "weights"), x.dtype)
    b = match_dtype(as_float(b, who, "bias"), x.dtype)
    if w.ndim != 2:
        raise ValueError(f"{who}: expected weights of shape (D, M), got {w.shape}")
    d, m = w.shape
    if x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"{who}: expected input of shape (N, {d}), got {x.shape}")
    if b.shape != (m,):
        raise ValueError(f"{who}: expected bias of shape ({m},), got {b.shape}")
    ### BEGIN SOLUTION (G01) out (N, M) = the affine map of x (N, D) by w (D, M) and b (M,); the cache returned below, (x, w), is what backward gets
    out = x @ w + b
    ### END SOLUTION
    cache = (x, w)
    return out, cache


def dense_backward(dout, cache):
    """Backward pass of :func:`dense_forward`.

    Parameters
    ----------
    dout : ndarray of shape (N, M)
        Gradient of the loss with respect to the output.
    cache : tuple
        From the forward pass.

    Returns
    -------
    dx : ndarray of shape (N, D)
    dw : ndarray of shape (D, M)
    db : ndarray of shape (M,)
    """
    x, w = cache
    dout = np.asarray(dout)
    if dout.shape != (x.shape[0], w.shape[1]):
        raise ValueError(f"dense_backward: expected dout of shape {(x.shape[0], w.shape[1])}, got {dout.shape}")
    dout = match_dtype(dout, x.dtype)
    ### BEGIN SOLUTION (G01) dx (N, D), dw (D, M), db (M,) from dout (N, M) and the cache (x, w); derive them with the chain rule (G01 theory), check the shapes, then the gradient check
    dx = dout @ w.T
    dw = x.T @ dout
    db = dout.sum(axis=0)
    ### END SOLUTION
    return dx, dw, db
