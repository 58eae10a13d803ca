"""Grading-only checks (left out of the student edition: this folder is hidden).

Independent formulas on inputs the visible tests do not use, so that a student who fits the visible tests
without writing the general function is caught by the grader (``python -m minicnn.teaching grade``).
"""

import numpy as np
import pytest


@pytest.mark.exercise("G02")
def test_softmax_cross_entropy_against_float64_formula(grading_rng):
    from minicnn.losses import SoftmaxCrossEntropy

    rng = grading_rng
    scores = rng.standard_normal((7, 5)) * 40
    y = rng.integers(0, 5, 7)
    loss = SoftmaxCrossEntropy()
    value = loss.forward(scores, y)
    m = scores.max(axis=1, keepdims=True)
    log_probs = scores - m - np.log(np.exp(scores - m).sum(axis=1, keepdims=True))
    assert value == pytest.approx(-log_probs[np.arange(7), y].mean(), rel=1e-10)
    expected = np.exp(log_probs)
    expected[np.arange(7), y] -= 1
    np.testing.assert_allclose(loss.backward(), expected / 7, rtol=1e-8, atol=1e-12)


@pytest.mark.exercise("G04")
def test_average_pooling_equals_block_means(grading_rng):
    from minicnn import functional as F

    x = grading_rng.standard_normal((3, 2, 9, 6))
    out, cache = F.avg_pool2d_forward_naive(x, 3)
    np.testing.assert_allclose(out, x.reshape(3, 2, 3, 3, 2, 3).mean(axis=(3, 5)), rtol=1e-12)
    dx = F.avg_pool2d_backward_naive(np.ones_like(out), cache)
    np.testing.assert_allclose(dx, np.full_like(x, 1 / 9), rtol=1e-12)


@pytest.mark.exercise("G10")
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_weighted_kappa_against_scikit_learn(weights, grading_rng):
    from sklearn.metrics import cohen_kappa_score as sk_kappa

    from minicnn.metrics import cohen_kappa_score

    rng = grading_rng
    a = rng.integers(0, 5, 300)
    b = np.where(rng.uniform(size=300) < 0.6, a, rng.integers(0, 5, 300))
    assert cohen_kappa_score(a, b, weights=weights) == pytest.approx(sk_kappa(a, b, weights=weights), abs=1e-12)


@pytest.mark.exercise("G08")
def test_gini_and_entropy_of_uniform_nodes():
    from minicnn.tree import entropy, gini

    for k in (2, 3, 7):
        assert gini(np.full(k, 4.0)) == pytest.approx(1 - 1 / k)
        assert entropy(np.full(k, 4.0)) == pytest.approx(np.log2(k))
    assert gini(np.array([0.0, 9.0, 0.0])) == pytest.approx(0.0)
