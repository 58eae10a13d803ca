"""Inverted dropout (exercise G06).

While training, each unit is kept with probability ``1 - p`` and the kept units are scaled by
``1 / (1 - p)``, so the expected output equals the input and evaluation needs no rescaling.
"""

import numpy as np

from ._checks import as_float, match_dtype


def as_generator(rng, who):
    """A numpy Generator from a Generator or an int seed (ValueError otherwise)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(f"{who}: rng must be a numpy.random.Generator or an int seed, got {rng!r}")


def dropout_forward(x, p=0.5, training=True, rng=None):
    """Zero each element with probability `p` while training; identity otherwise.

    Parameters
    ----------
    x : ndarray of any shape
    p : float in [0, 1)
        Probability of dropping a unit.
    training : bool
        False at evaluation time (the output is `x` itself).
    rng : numpy.random.Generator or int
        Draws the mask; required when training with ``p > 0``.

    Returns
    -------
    out : ndarray, same shape as `x`
    cache : ndarray or None
        The scaled keep-mask (``0`` or ``1/(1-p)``), None when nothing was dropped.
    """
    who = "dropout_forward"
    x = as_float(x, who)
    if not (0.0 <= float(p) < 1.0):
        raise ValueError(f"{who}: p must be in [0, 1), got {p!r}")
    if not training or p == 0:
        return x, None
    rng = as_generator(rng, who)
    ### BEGIN SOLUTION (G06)
    keep = rng.random(x.shape) >= p
    mask = keep.astype(x.dtype) / x.dtype.type(1.0 - p)
    out = x * mask
    ### END SOLUTION
    return out, mask


def dropout_backward(dout, cache):
    """Backward pass of :func:`dropout_forward`: the same mask applied to the gradient."""
    mask = cache
    dout = np.asarray(dout)
    if mask is None:
        return dout
    if dout.shape != mask.shape:
        raise ValueError(f"dropout_backward: expected dout of shape {mask.shape}, got {dout.shape}")
    dout = match_dtype(dout, mask.dtype)
    ### BEGIN SOLUTION (G06)
    dx = dout * mask
    ### END SOLUTION
    return dx
