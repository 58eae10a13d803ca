"""Fused direct convolution + ReLU + 2x2 max pool (minicnn/functional/conv_direct_pool.py) against the unfused kernels."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import rng_array, seeds

from minicnn.functional.conv_direct import direct_conv_forward
from minicnn.functional.conv_direct_pool import direct_conv3_relu_pool_forward
from minicnn.functional.fused import relu_max_pool2x2


@st.composite
def pool_cases(draw):
    """A stride-1 geometry with 16 filters, C*KH*KW <= 32 and a convolution output of at least 1 x 1 px."""
    k = draw(st.integers(1, 3))
    c = draw(st.integers(1, 32 // (k * k) if k > 1 else 4))
    padding = draw(st.integers(0, 2))
    lo = max(1, k - 2 * padding)
    return {
        "n": draw(st.integers(1, 3)),
        "c": c,
        "k": k,
        "padding": padding,
        "h": draw(st.integers(lo, 12)),
        "w": draw(st.integers(lo, 44)),  # up to 22 pooled columns: one transposed 16-block and a tail
    }


def _arrays(case, seed, dtype):
    x = rng_array(seed, (case["n"], case["c"], case["h"], case["w"]), dtype)
    w = rng_array(seed + 1, (16, case["c"], case["k"], case["k"]), dtype, scale=0.5)
    b = rng_array(seed + 2, (16,), dtype, scale=0.1)
    return x, w, b


def _unfused(x, w, b, padding):
    """Pre-activation, pooled output and positions from direct_conv_forward + relu_max_pool2x2."""
    n, c, h, wd = x.shape
    oh, ow = h + 2 * padding - w.shape[2] + 1, wd + 2 * padding - w.shape[3] + 1
    pre = np.empty((n, 16, oh, ow), dtype=x.dtype)
    direct_conv_forward(x, w, b, padding, pre, np.zeros((n, c, h + 2 * padding, wd + 2 * padding), x.dtype))
    out = np.empty((n, 16, oh // 2, ow // 2), dtype=x.dtype)
    where = np.empty(out.shape, dtype=np.int8)
    relu_max_pool2x2(pre, out, where)
    return pre, out, where


def _fused(x, w, b, padding, one_slot=False):
    n, c, h, wd = x.shape
    oh, ow = h + 2 * padding - w.shape[2] + 1, wd + 2 * padding - w.shape[3] + 1
    out = np.full((n, 16, oh // 2, ow // 2), np.nan, dtype=x.dtype)
    where = np.full(out.shape, -1, dtype=np.int8)
    xpad = np.full((1 if one_slot else n, c, h + 2 * padding, wd + 2 * padding), np.nan, dtype=x.dtype)
    direct_conv3_relu_pool_forward(x, w, b, padding, out, where, xpad)
    return out, where


def _check(x, w, b, padding, rtol, one_slot=False):
    pre, expected, where_expected = _unfused(x, w, b, padding)
    out, where = _fused(x, w, b, padding, one_slot)
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol)
    assert where.min(initial=0) >= 0 and where.max(initial=0) <= 3
    # positions may differ only where the two candidates are equal up to rounding
    n, f, ph, pw = out.shape
    windows = pre[:, :, : 2 * ph, : 2 * pw].reshape(n, f, ph, 2, pw, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, f, ph, pw, 4)
    got = np.take_along_axis(windows, where[..., None].astype(np.intp), axis=-1)[..., 0]
    ref = np.take_along_axis(windows, where_expected[..., None].astype(np.intp), axis=-1)[..., 0]
    differ = where != where_expected
    np.testing.assert_allclose(got[differ], ref[differ], rtol=rtol, atol=rtol)
    assert differ.mean() < 0.01 if differ.size else True


@settings(max_examples=40, deadline=None)
@given(case=pool_cases(), seed=seeds, one_slot=st.booleans())
def test_matches_unfused_float64(case, seed, one_slot):
    x, w, b = _arrays(case, seed, np.float64)
    _check(x, w, b, case["padding"], 1e-12, one_slot)


@settings(max_examples=25, deadline=None)
@given(case=pool_cases(), seed=seeds)
def test_matches_unfused_float32(case, seed):
    x, w, b = _arrays(case, seed, np.float32)
    _check(x, w, b, case["padding"], 1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tile_cnn_first_block(dtype):
    """3 -> 16, k=3, p=1 on 96 x 96 tiles: 48 pooled columns, three whole transposed blocks."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 3, 96, 96)).astype(dtype)
    w = (rng.standard_normal((16, 3, 3, 3)) * 0.3).astype(dtype)
    b = (rng.standard_normal(16) * 0.1).astype(dtype)
    _check(x, w, b, 1, 1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("rising", [True, False])
def test_ties_go_to_the_first_maximum(rising):
    """Rows constant along x: left and right pixels of a window are exactly equal, as in relu_max_pool2x2."""
    ramp = np.arange(9, dtype=np.float32) * (1.0 if rising else -1.0)
    x = np.broadcast_to(ramp[None, None, :, None], (2, 3, 9, 40)).copy()
    w = np.abs(np.random.default_rng(3).standard_normal((16, 3, 3, 3))).astype(np.float32)
    b = np.full(16, 50.0, dtype=np.float32)
    _, expected, where_expected = _unfused(x, w, b, 0)
    out, where = _fused(x, w, b, 0)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert (where == (2 if rising else 0)).all()
    assert (where_expected == where).all()
    flat = np.full((1, 3, 6, 36), 1.5, dtype=np.float32)  # all four values of each window equal
    assert (_fused(flat, w, b, 0)[1] == 0).all()


def test_rejects_other_filter_counts_and_shapes():
    x = np.zeros((1, 3, 8, 8), np.float32)
    xpad = np.zeros((1, 3, 10, 10), np.float32)
    with pytest.raises(ValueError, match="16 filters"):
        direct_conv3_relu_pool_forward(x, np.zeros((8, 3, 3, 3), np.float32), np.zeros(8, np.float32), 1,
                                       np.zeros((1, 8, 4, 4), np.float32), np.zeros((1, 8, 4, 4), np.int8), xpad)
    with pytest.raises(ValueError, match="out and where"):
        direct_conv3_relu_pool_forward(x, np.zeros((16, 3, 3, 3), np.float32), np.zeros(16, np.float32), 1,
                                       np.zeros((1, 16, 8, 8), np.float32), np.zeros((1, 16, 8, 8), np.int8), xpad)
    with pytest.raises(ValueError, match="dtype"):
        direct_conv3_relu_pool_forward(x, np.zeros((16, 3, 3, 3)), np.zeros(16), 1,
                                       np.zeros((1, 16, 4, 4), np.float32), np.zeros((1, 16, 4, 4), np.int8), xpad)


def test_generated_kernel_file_is_the_generators_output():
    """``_conv_direct_pool_kernel.py`` is written by the generator (so that Numba can cache it); it must not drift."""
    from minicnn.functional import conv_direct_pool

    assert conv_direct_pool.GENERATED.read_text(encoding="utf-8") == conv_direct_pool.generated_module_text(), (
        "rewrite it with: python -m minicnn.functional.conv_direct_pool")
