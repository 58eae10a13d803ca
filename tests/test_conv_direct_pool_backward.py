"""First-block weight gradient from the pooled gradient (minicnn/functional/conv_direct_pool_backward.py) against the current path."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import rng_array, seeds

from minicnn.functional.conv_direct import direct_conv_weight_grad
from minicnn.functional.conv_direct_pool_backward import first_block_weight_grad
from minicnn.functional.fused import relu_max_pool2x2, relu_max_pool2x2_backward


@st.composite
def backward_cases(draw):
    """A stride-1 geometry with 16 filters, KH = KW <= 3 and a convolution output of at least 2 x 2 px."""
    k = draw(st.integers(1, 3))
    padding = draw(st.integers(0, 2))
    lo = max(1, k + 1 - 2 * padding)  # OH = H + 2p - k + 1 >= 2
    return {
        "n": draw(st.integers(1, 3)),
        "c": draw(st.integers(1, 3)),
        "k": k,
        "padding": padding,
        "h": draw(st.integers(lo, 13)),
        "w": draw(st.integers(lo, 45)),  # up to 22 pooled columns: one transposed 16-block and a tail
    }


def _inputs(case, seed, dtype):
    """x, dout and out/where from relu_max_pool2x2 on a random pre-activation (about a third of the windows at 0)."""
    n, c, k, p = case["n"], case["c"], case["k"], case["padding"]
    oh, ow = case["h"] + 2 * p - k + 1, case["w"] + 2 * p - k + 1
    x = rng_array(seed, (n, c, case["h"], case["w"]), dtype)
    pre = rng_array(seed + 1, (n, 16, oh, ow), dtype) - dtype(1.0)
    out = np.empty((n, 16, oh // 2, ow // 2), dtype=dtype)
    where = np.empty(out.shape, dtype=np.int8)
    relu_max_pool2x2(pre, out, where)
    dout = rng_array(seed + 2, out.shape, dtype)
    return x, dout, out, where


def _current(x, dout, out, where, padding, k):
    """dw, db from relu_max_pool2x2_backward + direct_conv_weight_grad (what conv2d_relu_pool_backward does)."""
    n, c, h, w = x.shape
    dpre = np.empty((n, 16, h + 2 * padding - k + 1, w + 2 * padding - k + 1), dtype=x.dtype)
    relu_max_pool2x2_backward(dout, out, where, dpre)
    dw = np.empty((16, c, k, k), dtype=x.dtype)
    db = np.empty(16, dtype=x.dtype)
    direct_conv_weight_grad(x, dpre, padding, dw, db, np.zeros((n, c, h + 2 * padding, w + 2 * padding), x.dtype))
    return dw, db


def _new(x, dout, out, where, padding, k, one_slot=False):
    n, c, h, w = x.shape
    dw = np.full((16, c, k, k), np.nan, dtype=x.dtype)
    db = np.full(16, np.nan, dtype=x.dtype)
    xpad = np.full((1 if one_slot else n, c, h + 2 * padding, w + 2 * padding), np.nan, dtype=x.dtype)
    first_block_weight_grad(x, dout, out, where, padding, dw, db, xpad)
    return dw, db


def _check(case, seed, dtype, rtol, one_slot=False):
    x, dout, out, where = _inputs(case, seed, dtype)
    dw_ref, db_ref = _current(x, dout, out, where, case["padding"], case["k"])
    dw, db = _new(x, dout, out, where, case["padding"], case["k"], one_slot)
    scale = max(np.abs(dw_ref).max(), 1e-30)
    np.testing.assert_allclose(dw, dw_ref, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(db, db_ref, rtol=rtol, atol=rtol * max(np.abs(db_ref).max(), 1e-30))


@settings(max_examples=40, deadline=None)
@given(case=backward_cases(), seed=seeds, one_slot=st.booleans())
def test_matches_current_path_float64(case, seed, one_slot):
    _check(case, seed % 2**31, np.float64, 1e-10, one_slot)


@settings(max_examples=25, deadline=None)
@given(case=backward_cases(), seed=seeds)
def test_matches_current_path_float32(case, seed):
    _check(case, seed % 2**31, np.float32, 1e-4)


def test_inputs_mix_positions_and_dead_windows():
    """The random inputs of these tests exercise all four positions and windows whose output is 0."""
    _, _, out, where = _inputs({"n": 2, "c": 3, "k": 3, "padding": 1, "h": 20, "w": 40}, 5, np.float64)
    assert np.bincount(where.ravel(), minlength=4).min() > 0.15 * where.size
    assert 0.1 < (out == 0).mean() < 0.6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tile_cnn_first_block(dtype):
    """3 -> 16, k=3, p=1 on 96 x 96 tiles (48 pooled columns: three whole transposed blocks), 4 images."""
    _check({"n": 4, "c": 3, "k": 3, "padding": 1, "h": 96, "w": 96}, 11, dtype, 1e-4 if dtype == np.float32 else 1e-10)


def test_non_square_kernel_and_odd_output():
    """A 3 x 2 kernel with padding 1 on 9 x 35 images: OH = 9 (odd, last row unpooled), OW = 36."""
    x = rng_array(1, (2, 2, 9, 35))
    pre = rng_array(2, (2, 16, 9, 36)) - 1.0
    out, where = np.empty((2, 16, 4, 18)), np.empty((2, 16, 4, 18), np.int8)
    relu_max_pool2x2(pre, out, where)
    dout = rng_array(3, out.shape)
    dpre = np.empty(pre.shape)
    relu_max_pool2x2_backward(dout, out, where, dpre)
    dw_ref, db_ref = np.empty((16, 2, 3, 2)), np.empty(16)
    xpad = np.zeros((2, 2, 11, 37))
    direct_conv_weight_grad(x, dpre, 1, dw_ref, db_ref, xpad)
    dw, db = np.empty((16, 2, 3, 2)), np.empty(16)
    first_block_weight_grad(x, dout, out, where, 1, dw, db, xpad)
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-10, atol=1e-10 * np.abs(dw_ref).max())
    np.testing.assert_allclose(db, db_ref, rtol=1e-10, atol=1e-12)


def test_threads_keep_their_own_scratch():
    cases = [{"n": 2, "c": 3, "k": 3, "padding": 1, "h": 40 + 4 * j, "w": 36 + 8 * j} for j in range(4)]
    inputs = [_inputs(case, 20 + j, np.float32) for j, case in enumerate(cases)]
    expected = [_new(*args, 1, 3) for args in inputs]
    with ThreadPoolExecutor(2) as pool:
        for _ in range(3):
            got = list(pool.map(lambda args: _new(*args, 1, 3), inputs))
            for (dw, db), (dw_e, db_e) in zip(got, expected, strict=True):
                np.testing.assert_array_equal(dw, dw_e)
                np.testing.assert_array_equal(db, db_e)


def test_rejects_other_filter_counts_kernels_and_shapes():
    x = np.zeros((1, 3, 8, 8), np.float32)
    xpad = np.zeros((1, 3, 10, 10), np.float32)
    pooled = np.zeros((1, 16, 4, 4), np.float32)
    where = np.zeros((1, 16, 4, 4), np.int8)
    with pytest.raises(ValueError, match="16 filters"):
        first_block_weight_grad(x, pooled[:, :8], pooled[:, :8], where[:, :8], 1,
                                np.zeros((8, 3, 3, 3), np.float32), np.zeros(8, np.float32), xpad)
    with pytest.raises(ValueError, match="1 to 3 px"):
        first_block_weight_grad(x, pooled, pooled, where, 2, np.zeros((16, 3, 4, 4), np.float32),
                                np.zeros(16, np.float32), np.zeros((1, 3, 12, 12), np.float32))
    with pytest.raises(ValueError, match="must have shape"):
        first_block_weight_grad(x, pooled, pooled, where, 0, np.zeros((16, 3, 3, 3), np.float32),
                                np.zeros(16, np.float32), xpad)
    with pytest.raises(ValueError, match="dtype"):
        first_block_weight_grad(x, pooled, pooled, where, 1, np.zeros((16, 3, 3, 3)), np.zeros(16), xpad)
    with pytest.raises(ValueError, match="2 x 2"):
        first_block_weight_grad(x[:, :, :2], pooled[:, :, :0], pooled[:, :, :0], where[:, :, :0], 0,
                                np.zeros((16, 3, 3, 3), np.float32), np.zeros(16, np.float32), xpad)
