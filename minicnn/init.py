"""Weight initializers driven by a numpy Generator.

He (Kaiming) initialisation keeps the variance of activations constant through ReLU layers;
Xavier (Glorot) does the same for symmetric activations such as tanh. Fans follow the
usual conventions: for dense weights of shape (D, M), ``fan_in = D`` and ``fan_out = M``; for
conv filters of shape (F, C, KH, KW), ``fan_in = C*KH*KW`` and ``fan_out = F*KH*KW``.

Every function takes ``rng``: a :class:`numpy.random.Generator` or an int seed (None draws fresh
entropy, so pass a seed when results must repeat). The same seed gives the same bytes.
"""

import numpy as np

__all__ = ["as_rng", "fans", "he_normal", "he_uniform", "xavier_normal", "xavier_uniform", "zeros"]


def as_rng(rng=None):
    """A :class:`numpy.random.Generator` from a Generator, an int seed or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise ValueError(f"rng must be a numpy.random.Generator, an int seed or None, got {rng!r}")


def fans(shape):
    """(fan_in, fan_out) of a weight array of shape (D, M) or (F, C, KH, KW)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        receptive = shape[2] * shape[3]
        return shape[1] * receptive, shape[0] * receptive
    raise ValueError(f"fans: expected a weight shape (D, M) or (F, C, KH, KW), got {shape}")


def he_normal(shape, rng=None, dtype=np.float32):
    """Normal with standard deviation ``sqrt(2 / fan_in)``."""
    fan_in, _ = fans(shape)
    std = np.sqrt(2.0 / fan_in)
    return (as_rng(rng).standard_normal(shape) * std).astype(dtype)


def he_uniform(shape, rng=None, dtype=np.float32):
    """Uniform on ``[-a, a]`` with ``a = sqrt(6 / fan_in)``."""
    fan_in, _ = fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return as_rng(rng).uniform(-limit, limit, size=shape).astype(dtype)


def xavier_normal(shape, rng=None, dtype=np.float32):
    """Normal with standard deviation ``sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = fans(shape)
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return (as_rng(rng).standard_normal(shape) * std).astype(dtype)


def xavier_uniform(shape, rng=None, dtype=np.float32):
    """Uniform on ``[-a, a]`` with ``a = sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return as_rng(rng).uniform(-limit, limit, size=shape).astype(dtype)


def zeros(shape, dtype=np.float32):
    """All zeros (biases)."""
    return np.zeros(shape, dtype=dtype)
