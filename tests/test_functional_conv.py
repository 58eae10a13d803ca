"""conv2d: naive loops (exercise G03) against finite differences and the fast kernel, fast kernels against naive.

The comparison with the definition (a reference implementation) is in tests/hidden/ (instructor only).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import conv_cases, rng_array, seeds

import minicnn.functional as F
from minicnn.functional import Workspace
from minicnn.gradcheck import numeric_gradient, relative_error


def _inputs(case, seed, dtype=np.float64):
    x = rng_array(seed, (case["n"], case["c"], case["h"], case["w"]), dtype)
    w = rng_array(seed + 1, (case["f"], case["c"], case["k"], case["k"]), dtype)
    b = rng_array(seed + 2, (case["f"],), dtype)
    return x, w, b


def _check_backward(forward, backward, case, seed):
    """dx, dw, db of ``backward`` agree with finite differences of ``forward`` (relative error < 1e-6)."""
    x, w, b = _inputs(case, seed)
    s, p = case["stride"], case["padding"]
    out, cache = forward(x, w, b, s, p)
    dout = rng_array(seed + 3, out.shape)
    dx, dw, db = backward(dout, cache)

    def f(_):
        return forward(x, w, b, s, p)[0]

    assert relative_error(dx, numeric_gradient(f, x, dout)) < 1e-6
    assert relative_error(dw, numeric_gradient(f, w, dout)) < 1e-6
    assert relative_error(db, numeric_gradient(f, b, dout)) < 1e-6


@pytest.mark.exercise("G03")
@settings(max_examples=25)
@given(case=conv_cases(), seed=seeds)
def test_naive_forward_matches_the_fast_kernel(case, seed):
    # the comparison with the definition (an explicit sum) is a hidden test: it would hand out the answer
    x, w, b = _inputs(case, seed)
    out, _ = F.conv2d_forward_naive(x, w, b, case["stride"], case["padding"])
    expected, _ = F.conv2d_forward_fast(x, w, b, case["stride"], case["padding"])
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.exercise("G03")
@settings(max_examples=15)
@given(case=conv_cases(max_batch=2, max_size=6, max_filters=3), seed=seeds)
def test_naive_backward_matches_numeric_gradient(case, seed):
    _check_backward(F.conv2d_forward_naive, F.conv2d_backward_naive, case, seed)


@settings(max_examples=8)
@given(case=conv_cases(max_batch=2, max_size=5, max_filters=3), seed=seeds)
def test_fast_backward_matches_numeric_gradient(case, seed):
    _check_backward(F.conv2d_forward_fast, F.conv2d_backward_fast, case, seed)


@pytest.mark.exercise("G03")
@settings(max_examples=30)
@given(case=conv_cases(max_size=9, max_channels=4, max_filters=5, max_kernel=5), seed=seeds)
def test_fast_matches_naive(case, seed):
    x, w, b = _inputs(case, seed)
    s, p = case["stride"], case["padding"]
    out_n, cache_n = F.conv2d_forward_naive(x, w, b, s, p)
    ws = Workspace()
    for _ in range(2):  # the second call reuses the work buffers
        out_f, cache_f = F.conv2d_forward_fast(x, w, b, s, p, workspace=ws)
        np.testing.assert_allclose(out_f, out_n, rtol=1e-10, atol=1e-10)
    dout = rng_array(seed + 3, out_n.shape)
    for g_n, g_f in zip(F.conv2d_backward_naive(dout, cache_n), F.conv2d_backward_fast(dout, cache_f), strict=True):
        np.testing.assert_allclose(g_f, g_n, rtol=1e-9, atol=1e-10)


@pytest.mark.exercise("G03")
@settings(max_examples=20)
@given(case=conv_cases(max_batch=4, max_size=7, max_channels=3, max_filters=4, max_kernel=3), seed=seeds)
def test_fast_matches_naive_one_image_per_task(case, seed):
    # the fast kernels cut the batch into tasks of about CHUNK_BYTES of columns; small inputs fit in one
    # task, so shrink it: every image becomes its own task and the weight gradients are summed over tasks
    from minicnn.functional import conv_fast

    x, w, b = _inputs(case, seed)
    s, p = case["stride"], case["padding"]
    out_n, cache_n = F.conv2d_forward_naive(x, w, b, s, p)
    dout = rng_array(seed + 3, out_n.shape)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(conv_fast, "CHUNK_BYTES", 1)
        out_f, cache_f = F.conv2d_forward_fast(x, w, b, s, p, workspace=Workspace())
        grads_f = F.conv2d_backward_fast(dout, cache_f)
    np.testing.assert_allclose(out_f, out_n, rtol=1e-10, atol=1e-10)
    for g_n, g_f in zip(F.conv2d_backward_naive(dout, cache_n), grads_f, strict=True):
        np.testing.assert_allclose(g_f, g_n, rtol=1e-9, atol=1e-10)


@pytest.mark.exercise("G03")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_matches_naive_on_tile_cnn_shapes(dtype):
    """The four convolutions of the reference tile CNN (batch 2): fast == naive, forward and backward."""
    rng = np.random.default_rng(5)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for c, f, size in [(3, 16, 96), (16, 32, 48), (32, 64, 24), (64, 64, 12)]:
        x = rng.standard_normal((2, c, size, size)).astype(dtype)
        w = (rng.standard_normal((f, c, 3, 3)) / np.sqrt(9 * c)).astype(dtype)
        b = rng.standard_normal(f).astype(dtype)
        out_n, cache_n = F.conv2d_forward_naive(x, w, b, 1, 1)
        out_f, cache_f = F.conv2d_forward_fast(x, w, b, 1, 1)
        assert out_f.dtype == dtype and out_f.shape == (2, f, size, size)
        np.testing.assert_allclose(out_f, out_n, rtol=tol, atol=tol)
        dout = rng.standard_normal(out_n.shape).astype(dtype)
        for g_n, g_f in zip(F.conv2d_backward_naive(dout, cache_n), F.conv2d_backward_fast(dout, cache_f),
                            strict=True):
            assert g_f.dtype == dtype
            scale = np.abs(g_n).max()
            np.testing.assert_allclose(g_f / scale, g_n / scale, rtol=tol, atol=tol)


def test_fast_skips_input_gradient_on_request():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out, cache = F.conv2d_forward_fast(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = F.conv2d_backward_fast(dout, cache, need_dx=False)
    assert dx is None
    _, dw_full, db_full = F.conv2d_backward_fast(dout, cache)
    np.testing.assert_array_equal(dw, dw_full)
    np.testing.assert_array_equal(db, db_full)


def test_fast_is_the_default():
    assert F.conv2d_forward is F.conv2d_forward_fast
    assert F.conv2d_backward is F.conv2d_backward_fast


@pytest.mark.exercise("G03")
@pytest.mark.parametrize("op", [F.conv2d_forward_naive, F.conv2d_forward_fast])
def test_bad_input_raises_clear_error(op):
    w, b = np.zeros((4, 3, 3, 3)), np.zeros(4)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, H, W\), got \(2, 5, 8, 8\)"):
        op(np.zeros((2, 5, 8, 8)), w, b)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, H, W\), got \(3, 8, 8\)"):
        op(np.zeros((3, 8, 8)), w, b)
    with pytest.raises(ValueError, match="kernel 3 is larger than the padded input"):
        op(np.zeros((2, 3, 2, 8)), w, b)
    op(np.zeros((2, 3, 2, 8)), w, b, padding=1)  # fits once padded
    with pytest.raises(ValueError, match="stride"):
        op(np.zeros((2, 3, 8, 8)), w, b, stride=0)
    with pytest.raises(ValueError, match=r"bias of shape \(4,\)"):
        op(np.zeros((2, 3, 8, 8)), w, np.zeros(3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_keeps_dtype(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    out, cache = F.conv2d_forward_fast(x, np.ones((2, 3, 3, 3), np.float32), np.zeros(2, np.float32), 1, 1)
    assert out.dtype == dtype
    assert all(g.dtype == dtype for g in F.conv2d_backward_fast(np.ones_like(out), cache))


def test_im2col_col2im_are_adjoint():
    """<im2col(x), c> == <x, col2im(c)> for random x and c: col2im is the transpose of im2col."""
    rng = np.random.default_rng(1)
    for k, s, p in [(3, 1, 1), (2, 2, 0), (3, 2, 2), (1, 1, 0)]:
        x = rng.standard_normal((2, 3, 7, 6))
        oh, ow = (7 + 2 * p - k) // s + 1, (6 + 2 * p - k) // s + 1
        cols = np.empty((2, 3 * k * k, oh * ow))
        F.im2col(x, k, k, s, p, oh, ow, cols)
        c = rng.standard_normal(cols.shape)
        back = np.empty_like(x)
        F.col2im(c, k, k, s, p, oh, ow, back)
        assert np.isclose(np.sum(cols * c), np.sum(x * back))
