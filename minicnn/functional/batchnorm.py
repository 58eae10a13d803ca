"""Batch normalization for (N, D) features and (N, C, H, W) feature maps (exercise G06).

Statistics are taken per feature (axis 1) over the batch and, for images, over all pixels.
In training mode the batch mean and (biased) variance normalise the input and the running
statistics are updated in place: ``running = (1 - momentum) * running + momentum * batch``
(the running variance uses the unbiased batch variance, as PyTorch does). In evaluation mode
the running statistics are used.
"""

import numpy as np

from ._checks import as_float, match_dtype


def _axes(x, who, n_features):
    if x.ndim == 2:
        axes = (0,)
        expected = f"(N, {n_features})"
    elif x.ndim == 4:
        axes = (0, 2, 3)
        expected = f"(N, {n_features}, H, W)"
    else:
        raise ValueError(f"{who}: expected input of shape (N, D) or (N, C, H, W), got {x.shape}")
    if x.shape[1] != n_features:
        raise ValueError(f"{who}: expected input of shape {expected}, got {x.shape}")
    return axes


def _per_feature(v, x):
    """Reshape a (C,) vector to broadcast against x along axis 1."""
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def batch_norm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):
    """Normalise each feature, then scale by `gamma` and shift by `beta`.

    Parameters
    ----------
    x : ndarray of shape (N, D) or (N, C, H, W)
    gamma, beta : ndarray of shape (D,) or (C,)
        Learned scale and shift.
    running_mean, running_var : ndarray of shape (D,) or (C,)
        Running statistics, updated in place when training.
    training : bool
        Use batch statistics (True) or the running ones (False).
    momentum : float
        Weight of the current batch in the running statistics.
    eps : float
        Added to the variance before the square root.

    Returns
    -------
    out : ndarray, same shape as `x`
    cache : tuple
    """
    who = "batch_norm_forward"
    x = as_float(x, who)
    gamma = match_dtype(np.asarray(gamma), x.dtype)
    beta = match_dtype(np.asarray(beta), x.dtype)
    n_features = gamma.shape[0]
    axes = _axes(x, who, n_features)
    m = x.size // n_features
    if training and m < 2:
        raise ValueError(f"{who}: training needs more than one value per feature, got input {x.shape}")
    ### BEGIN SOLUTION (G06)
    if training:
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += momentum * var * (m / (m - 1))
    else:
        mean = running_mean.astype(x.dtype)
        var = running_var.astype(x.dtype)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - _per_feature(mean, x)) * _per_feature(inv_std, x)
    out = x_hat * _per_feature(gamma, x) + _per_feature(beta, x)
    ### END SOLUTION
    cache = (x_hat, gamma, inv_std, axes, training)
    return out, cache


def batch_norm_backward(dout, cache):
    """Backward pass of :func:`batch_norm_forward`.

    Returns
    -------
    dx : ndarray, same shape as the input
    dgamma, dbeta : ndarray of shape (D,) or (C,)
    """
    x_hat, gamma, inv_std, axes, training = cache
    dout = np.asarray(dout)
    if dout.shape != x_hat.shape:
        raise ValueError(f"batch_norm_backward: expected dout of shape {x_hat.shape}, got {dout.shape}")
    dout = match_dtype(dout, x_hat.dtype)
    ### BEGIN SOLUTION (G06) dx (shape of dout), dgamma and dbeta (per feature) from dout and the cache (x_hat, gamma, inv_std, axes, training); sums run over `axes`; in training mode the batch mean and variance depend on every x, so derive through them (G06 theory); in eval mode they are constants
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx_hat = dout * _per_feature(gamma, dout)
    if training:
        m = dout.size // gamma.shape[0]
        dx = (
            _per_feature(inv_std / m, dout)
            * (m * dx_hat - _per_feature(dx_hat.sum(axis=axes), dout)
               - x_hat * _per_feature((dx_hat * x_hat).sum(axis=axes), dout))
        )
    else:
        dx = dx_hat * _per_feature(inv_std, dout)
    ### END SOLUTION
    return dx, dgamma, dbeta
