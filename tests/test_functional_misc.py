"""Global average pooling (G04), dropout and batch norm (G06), flatten."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import rng_array, seeds, shapes

import minicnn.functional as F
from minicnn.gradcheck import numeric_gradient, relative_error


@pytest.mark.exercise("G04")
@settings(max_examples=25)
@given(shape=shapes(min_dims=4, max_dims=4), seed=seeds)
def test_global_avg_pool(shape, seed):
    x = rng_array(seed, shape)
    out, cache = F.global_avg_pool2d_forward(x)
    np.testing.assert_allclose(out, x.mean(axis=(2, 3)), rtol=1e-12)
    dout = rng_array(seed + 1, out.shape)
    dx = F.global_avg_pool2d_backward(dout, cache)
    assert relative_error(dx, numeric_gradient(lambda v: F.global_avg_pool2d_forward(v)[0], x, dout)) < 1e-6


def test_global_avg_pool_bad_input():
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, H, W\), got \(2, 3\)"):
        F.global_avg_pool2d_forward(np.zeros((2, 3)))


@settings(max_examples=20)
@given(shape=shapes(min_dims=2), seed=seeds)
def test_flatten_roundtrip(shape, seed):
    x = rng_array(seed, shape)
    out, cache = F.flatten_forward(x)
    assert out.shape == (shape[0], int(np.prod(shape[1:])))
    np.testing.assert_array_equal(F.flatten_backward(out, cache), x)


@pytest.mark.exercise("G06")
@settings(max_examples=20)
@given(shape=shapes(min_dims=2), p=st.sampled_from([0.0, 0.2, 0.5, 0.9]), seed=seeds)
def test_dropout_mask_scale_and_gradient(shape, p, seed):
    x = rng_array(seed, shape)
    out, mask = F.dropout_forward(x, p, training=True, rng=seed)
    if p == 0:
        np.testing.assert_array_equal(out, x)
    else:
        kept = mask != 0
        np.testing.assert_allclose(out[kept], x[kept] / (1 - p))
        np.testing.assert_array_equal(out[~kept], 0)
    dout = rng_array(seed + 1, shape)
    dx = F.dropout_backward(dout, mask)
    num = numeric_gradient(lambda v: F.dropout_forward(v, p, training=True, rng=seed)[0], x, dout)
    assert relative_error(dx, num) < 1e-6


@pytest.mark.exercise("G06")
def test_dropout_statistics_and_eval_mode():
    x = np.ones((200, 500), dtype=np.float32)
    out, _ = F.dropout_forward(x, 0.3, training=True, rng=np.random.default_rng(0))
    assert out.dtype == np.float32
    assert abs((out == 0).mean() - 0.3) < 0.01
    assert abs(out.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation
    same, cache = F.dropout_forward(x, 0.3, training=False)
    assert same is x and cache is None
    a, _ = F.dropout_forward(x, 0.3, rng=7)
    b, _ = F.dropout_forward(x, 0.3, rng=7)
    np.testing.assert_array_equal(a, b)  # same seed, same mask


def test_dropout_bad_arguments():
    with pytest.raises(ValueError, match="p must be in"):
        F.dropout_forward(np.ones(3), 1.0, rng=0)
    with pytest.raises(ValueError, match="rng"):
        F.dropout_forward(np.ones(3), 0.5)


def _bn_params(c, seed):
    gamma = 1 + 0.5 * rng_array(seed + 10, (c,))
    beta = rng_array(seed + 11, (c,))
    return gamma, beta, np.zeros(c), np.ones(c)


@pytest.mark.exercise("G06")
@settings(max_examples=20)
@given(n=st.integers(3, 5), c=st.integers(1, 3), spatial=st.sampled_from([None, (1, 2), (3, 2)]),
       training=st.booleans(), seed=seeds)
def test_batch_norm_gradients(n, c, spatial, training, seed):
    shape = (n, c) + (spatial or ())
    x = rng_array(seed, shape, scale=2.0) + 1.0
    gamma, beta, rm, rv = _bn_params(c, seed)
    rm, rv = rng_array(seed + 12, (c,)), 0.5 + np.abs(rng_array(seed + 13, (c,)))

    def f(_):
        # copies: the numeric gradient must not drift the running statistics
        return F.batch_norm_forward(x, gamma, beta, rm.copy(), rv.copy(), training)[0]

    out, cache = F.batch_norm_forward(x, gamma, beta, rm.copy(), rv.copy(), training)
    dout = rng_array(seed + 1, shape)
    dx, dgamma, dbeta = F.batch_norm_backward(dout, cache)
    assert relative_error(dx, numeric_gradient(f, x, dout)) < 1e-6
    assert relative_error(dgamma, numeric_gradient(f, gamma, dout)) < 1e-6
    assert relative_error(dbeta, numeric_gradient(f, beta, dout)) < 1e-6


@pytest.mark.exercise("G06")
def test_batch_norm_statistics():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((16, 3, 4, 4)) * 3 + 5).astype(np.float32)
    gamma, beta = np.ones(3, np.float32), np.zeros(3, np.float32)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    out, _ = F.batch_norm_forward(x, gamma, beta, rm, rv, training=True, momentum=0.1)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-3)
    m = x.size // 3
    np.testing.assert_allclose(rm, 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(rv, 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * m / (m - 1), rtol=1e-5)
    # evaluation mode uses the running statistics and leaves them alone
    before = rm.copy(), rv.copy()
    out_eval, _ = F.batch_norm_forward(x, gamma, beta, rm, rv, training=False)
    np.testing.assert_allclose(out_eval, (x - rm[None, :, None, None]) / np.sqrt(rv[None, :, None, None] + 1e-5),
                               rtol=1e-5)
    np.testing.assert_array_equal(rm, before[0])
    np.testing.assert_array_equal(rv, before[1])


def test_batch_norm_bad_input():
    gamma, beta, rm, rv = _bn_params(3, 0)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3\), got \(4, 2\)"):
        F.batch_norm_forward(np.zeros((4, 2)), gamma, beta, rm, rv)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, H, W\)"):
        F.batch_norm_forward(np.zeros((4, 2, 2, 2)), gamma, beta, rm, rv)
    with pytest.raises(ValueError, match="more than one value"):
        F.batch_norm_forward(np.zeros((1, 3)), gamma, beta, rm, rv)
