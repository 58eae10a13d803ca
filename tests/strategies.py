"""Hypothesis strategies for minicnn tests: shapes, conv/pool geometries and arrays.

Arrays are drawn from a seed (``rng_arrays``) rather than element by element: the tests need
thousands of values, and a seed keeps examples small to print and to shrink. Helpers keep
inputs away from the points where an operation is not differentiable (ReLU kinks, max-pool ties),
where finite differences and analytic gradients legitimately disagree.
"""

import numpy as np
from hypothesis import strategies as st

seeds = st.integers(min_value=0, max_value=2**32 - 1)
batch_sizes = st.integers(min_value=1, max_value=3)
small_dims = st.integers(min_value=1, max_value=4)


def rng_array(seed, shape, dtype=np.float64, scale=1.0):
    """Standard normal array (times `scale`) from `seed`."""
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def away_from_zero(x, margin=1e-2):
    """Move every value at least `margin` away from 0, keeping its sign (ReLU kinks)."""
    sign = np.where(x >= 0, 1.0, -1.0).astype(x.dtype)
    return (sign * (np.abs(x) + margin)).astype(x.dtype)


def distinct_values(seed, shape, dtype=np.float64, spacing=1e-2):
    """A random permutation of evenly spaced values: no two elements within `spacing` (no max ties)."""
    size = int(np.prod(shape))
    rng = np.random.default_rng(seed)
    values = (rng.permutation(size) - size / 2) * spacing
    return values.reshape(shape).astype(dtype)


@st.composite
def conv_cases(draw, max_batch=3, max_channels=3, max_size=7, max_filters=4, max_kernel=4):
    """A valid conv2d geometry: dict(n, c, h, w, f, k, stride, padding)."""
    k = draw(st.integers(1, max_kernel))
    padding = draw(st.integers(0, 2))
    stride = draw(st.integers(1, 3))
    lo = max(1, k - 2 * padding)
    h = draw(st.integers(lo, max(lo, max_size)))
    w = draw(st.integers(lo, max(lo, max_size)))
    return {
        "n": draw(st.integers(1, max_batch)),
        "c": draw(st.integers(1, max_channels)),
        "h": h,
        "w": w,
        "f": draw(st.integers(1, max_filters)),
        "k": k,
        "stride": stride,
        "padding": padding,
    }


@st.composite
def pool_cases(draw, max_batch=3, max_channels=3, max_size=8, max_kernel=3):
    """A valid pooling geometry: dict(n, c, h, w, k, stride) (stride may be None = kernel)."""
    k = draw(st.integers(1, max_kernel))
    stride = draw(st.one_of(st.none(), st.integers(1, 3)))
    return {
        "n": draw(st.integers(1, max_batch)),
        "c": draw(st.integers(1, max_channels)),
        "h": draw(st.integers(k, max(k, max_size))),
        "w": draw(st.integers(k, max(k, max_size))),
        "k": k,
        "stride": stride,
    }


@st.composite
def shapes(draw, min_dims=1, max_dims=4, max_side=5):
    """Any array shape with 1 to `max_dims` dimensions (first = batch)."""
    nd = draw(st.integers(min_dims, max_dims))
    return tuple(draw(st.integers(1, max_side)) for _ in range(nd))
