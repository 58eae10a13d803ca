"""Direct stride-1 convolution kernels (minicnn/functional/conv_direct.py) against the naive loops."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import rng_array, seeds

import minicnn.functional as F
from minicnn.functional.conv_direct import direct_conv_forward, direct_conv_weight_grad


@st.composite
def direct_cases(draw):
    """A stride-1 geometry: dict(n, c, f, k, padding, h, w) with H + 2p >= k and W + 2p >= k."""
    k = draw(st.integers(1, 5))
    padding = draw(st.integers(0, 2))
    lo = max(1, k - 2 * padding)
    return {
        "n": draw(st.integers(1, 3)),
        "c": draw(st.integers(1, 4)),
        "f": draw(st.integers(1, 6)),
        "k": k,
        "padding": padding,
        "h": draw(st.integers(lo, max(lo, 12))),
        "w": draw(st.integers(lo, max(lo, 12))),
    }


def _arrays(case, seed, dtype):
    x = rng_array(seed, (case["n"], case["c"], case["h"], case["w"]), dtype)
    w = rng_array(seed + 1, (case["f"], case["c"], case["k"], case["k"]), dtype)
    b = rng_array(seed + 2, (case["f"],), dtype)
    return x, w, b


def _direct(x, w, b, padding, dout=None, one_slot=False):
    """Forward output and (when ``dout`` is given) dw, db of the direct kernels, with fresh scratch."""
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    out = np.full((n, f, h + 2 * padding - kh + 1, wd + 2 * padding - kw + 1), np.nan, dtype=x.dtype)
    xpad = np.full((1 if one_slot else n, c, h + 2 * padding, wd + 2 * padding), np.nan, dtype=x.dtype)
    direct_conv_forward(x, w, b, padding, out, xpad)
    if dout is None:
        return out
    dw = np.full(w.shape, np.nan, dtype=x.dtype)
    db = np.full(b.shape, np.nan, dtype=x.dtype)
    direct_conv_weight_grad(x, dout, padding, dw, db, xpad)
    return out, dw, db


@settings(max_examples=40, deadline=None)
@given(case=direct_cases(), seed=seeds, one_slot=st.booleans())
def test_direct_matches_naive_float64(case, seed, one_slot):
    x, w, b = _arrays(case, seed, np.float64)
    p = case["padding"]
    expected, cache = F.conv2d_forward_naive(x, w, b, 1, p)
    dout = rng_array(seed + 3, expected.shape)
    _, dw_expected, db_expected = F.conv2d_backward_naive(dout, cache)
    out, dw, db = _direct(x, w, b, p, dout, one_slot)
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(dw, dw_expected, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(db, db_expected, rtol=1e-9, atol=1e-10)


@settings(max_examples=15, deadline=None)
@given(case=direct_cases(), seed=seeds)
def test_direct_matches_naive_float32(case, seed):
    x, w, b = _arrays(case, seed, np.float32)
    p = case["padding"]
    expected, cache = F.conv2d_forward_naive(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), 1, p)
    dout = rng_array(seed + 3, expected.shape, np.float32)
    _, dw_expected, db_expected = F.conv2d_backward_naive(dout.astype(np.float64), cache)
    out, dw, db = _direct(x, w, b, p, dout)
    assert out.dtype == dw.dtype == db.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dw, dw_expected, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(db, db_expected, rtol=1e-4, atol=1e-3)


def test_tile_cnn_first_layer_float32():
    """One 3 x 96 x 96 tile through Conv2D(3 -> 16, k=3, p=1): forward and weight gradient against im2col + GEMM."""
    x, w, b = _arrays({"n": 1, "c": 3, "f": 16, "k": 3, "h": 96, "w": 96}, 7, np.float32)
    expected, cache = F.conv2d_forward_fast(x, w, b, 1, 1)
    dout = rng_array(10, expected.shape, np.float32)
    _, dw_expected, db_expected = F.conv2d_backward_fast(dout, cache, need_dx=False)
    out, dw, db = _direct(x, w, b, 1, dout, one_slot=True)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dw, dw_expected, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(db, db_expected, rtol=1e-4, atol=1e-2)


def test_scratch_is_reused_and_results_overwritten():
    """A second call with the same buffers gives the same results (dw, db are overwritten, not accumulated)."""
    x, w, b = _arrays({"n": 2, "c": 3, "f": 5, "k": 3, "h": 9, "w": 11}, 3, np.float64)
    dout = rng_array(4, (2, 5, 9, 11))
    out = np.empty((2, 5, 9, 11))
    xpad = np.empty((1, 3, 11, 13))
    dw, db = np.empty(w.shape), np.empty(5)
    results = []
    for _ in range(2):
        direct_conv_forward(x, w, b, 1, out, xpad)
        direct_conv_weight_grad(x, dout, 1, dw, db, xpad)
        results.append([out.copy(), dw.copy(), db.copy()])
    for first, second in zip(*results, strict=True):
        np.testing.assert_array_equal(first, second)
