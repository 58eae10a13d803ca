"""Losses: closed forms, stability for huge logits, finite-difference gradients, input errors."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicnn.losses import MSE, BCEWithLogits, SoftmaxCrossEntropy

pytestmark = pytest.mark.exercise("G02")


def numeric_grad(f, x, h=1e-6):
    """Centred finite differences of the scalar function f at x (float64)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        fm = f(x)
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad


def rel_error(a, b):
    """Relative error of two gradients as a whole: |a - b| / (|a| + |b|) with Euclidean norms."""
    return float(np.linalg.norm(a - b) / max(1e-12, np.linalg.norm(a) + np.linalg.norm(b)))


# ----------------------------------------------------------------- closed forms
def test_softmax_ce_closed_form():
    scores = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    y = np.array([2, 0])
    expected = np.mean([
        -3.0 + math.log(math.exp(1) + math.exp(2) + math.exp(3)),
        -0.5 + math.log(math.exp(0.5) + math.exp(-1) + math.exp(0)),
    ])
    loss = SoftmaxCrossEntropy()
    assert loss.forward(scores, y) == pytest.approx(expected, rel=1e-12)
    probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    onehot = np.eye(3)[y]
    np.testing.assert_allclose(loss.backward(), (probs - onehot) / 2, rtol=1e-12)


def test_softmax_ce_uniform_scores_is_log_c():
    loss = SoftmaxCrossEntropy()
    assert loss(np.zeros((4, 10)), np.array([0, 3, 9, 5])) == pytest.approx(math.log(10))


def test_bce_closed_form():
    s = np.array([-2.0, 0.0, 3.0, 0.5])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    sig = 1 / (1 + np.exp(-s))
    expected = np.mean(-(y * np.log(sig) + (1 - y) * np.log(1 - sig)))
    loss = BCEWithLogits()
    assert loss.forward(s, y) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(loss.backward(), (sig - y) / 4, rtol=1e-12)


def test_bce_pos_weight_closed_form():
    s = np.array([[-1.0], [2.0], [0.3]])
    y = np.array([1, 0, 1])  # (N,) targets for (N, 1) scores
    sig = 1 / (1 + np.exp(-s[:, 0]))
    w = 3.0
    expected = np.mean(-(w * y * np.log(sig) + (1 - y) * np.log(1 - sig)))
    loss = BCEWithLogits(pos_weight=w)
    assert loss.forward(s, y) == pytest.approx(expected, rel=1e-12)
    d = loss.backward()
    assert d.shape == s.shape
    np.testing.assert_allclose(d[:, 0], (w * y * (sig - 1) + (1 - y) * sig) / 3, rtol=1e-12)


def test_mse_closed_form():
    s = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([[0.0, 2.0], [5.0, 4.5]])
    loss = MSE()
    assert loss.forward(s, y) == pytest.approx((1 + 0 + 4 + 0.25) / 4)
    np.testing.assert_allclose(loss.backward(), 2 * (s - y) / 4)


# ----------------------------------------------------------------- stability
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_ce_huge_logits_finite(dtype):
    scores = np.array([[1e4, -1e4, 0.0], [-5e3, 5e3, 5e3], [1e30, 0, 0]], dtype=dtype)
    y = np.array([1, 0, 0])
    loss = SoftmaxCrossEntropy()
    value = loss.forward(scores, y)
    d = loss.backward()
    assert math.isfinite(value) and np.all(np.isfinite(d))
    # first row: -(-1e4) + log(exp(1e4) + ...) = 2e4
    assert value == pytest.approx((2e4 + 1e4 + math.log(2) + 0) / 3, rel=1e-5)
    assert d.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_huge_logits_finite(dtype):
    s = np.array([1e4, -1e4, 1e4, -1e4, 800.0], dtype=dtype)
    y = np.array([1, 0, 0, 1, 1])
    loss = BCEWithLogits(pos_weight=2.0)
    value = loss.forward(s, y)
    d = loss.backward()
    assert math.isfinite(value) and np.all(np.isfinite(d))
    assert value == pytest.approx((0 + 0 + 1e4 + 2 * 1e4 + 0) / 5, rel=1e-6)
    np.testing.assert_allclose(d, np.array([0, 0, 1, -2, 0]) / 5, atol=1e-7)
    assert d.dtype == dtype


# ----------------------------------------------------------------- gradients
@given(n=st.integers(1, 6), c=st.integers(2, 7), seed=st.integers(0, 2**31 - 1))
def test_softmax_ce_gradient_numeric(n, c, seed):
    rng = np.random.default_rng(seed)
    scores = rng.normal(0, 1, size=(n, c))  # moderate: a loss near 0 has too few digits for h = 1e-6
    y = rng.integers(0, c, size=n)
    loss = SoftmaxCrossEntropy()
    loss.forward(scores, y)
    analytic = loss.backward()
    numeric = numeric_grad(lambda s: SoftmaxCrossEntropy().forward(s, y), scores.copy())
    assert rel_error(analytic, numeric) < 1e-6


@given(n=st.integers(1, 8), seed=st.integers(0, 2**31 - 1), weighted=st.booleans(), soft=st.booleans())
def test_bce_gradient_numeric(n, seed, weighted, soft):
    rng = np.random.default_rng(seed)
    scores = rng.normal(0, 1, size=(n, 1))
    y = rng.uniform(0, 1, size=(n, 1)) if soft else rng.integers(0, 2, size=(n, 1)).astype(float)
    pw = float(rng.uniform(0.2, 5)) if weighted else None
    loss = BCEWithLogits(pos_weight=pw)
    loss.forward(scores, y)
    analytic = loss.backward()
    numeric = numeric_grad(lambda s: BCEWithLogits(pos_weight=pw).forward(s, y), scores.copy())
    assert rel_error(analytic, numeric) < 1e-6


@given(shape=st.sampled_from([(3,), (4, 1), (2, 3)]), seed=st.integers(0, 2**31 - 1))
def test_mse_gradient_numeric(shape, seed):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=shape)
    y = rng.normal(size=shape)
    loss = MSE()
    loss.forward(scores, y)
    numeric = numeric_grad(lambda s: MSE().forward(s, y), scores.copy())
    assert rel_error(loss.backward(), numeric) < 1e-6


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad", [-1, 3, 10])
def test_softmax_ce_label_out_of_range(bad):
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy.*\[0, 2\]"):
        SoftmaxCrossEntropy().forward(np.zeros((3, 3)), np.array([0, bad, 1]))


def test_softmax_ce_bad_shapes():
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy.*\(N, C\)"):
        SoftmaxCrossEntropy().forward(np.zeros(3), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy.*shape \(3,\)"):
        SoftmaxCrossEntropy().forward(np.zeros((3, 4)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy.*integers"):
        SoftmaxCrossEntropy().forward(np.zeros((2, 4)), np.array([0.5, 1.0]))


@pytest.mark.parametrize("bad", [-0.1, 1.5, np.nan])
def test_bce_target_out_of_range(bad):
    with pytest.raises(ValueError, match=r"BCEWithLogits.*\[0, 1\]"):
        BCEWithLogits().forward(np.zeros(3), np.array([0.0, bad, 1.0]))


def test_bce_bad_pos_weight_and_shape():
    with pytest.raises(ValueError, match="pos_weight"):
        BCEWithLogits(pos_weight=-1)
    with pytest.raises(ValueError, match="BCEWithLogits.*shape"):
        BCEWithLogits().forward(np.zeros((4, 1)), np.zeros(3))


def test_backward_before_forward():
    with pytest.raises(RuntimeError, match="before forward"):
        SoftmaxCrossEntropy().backward()
