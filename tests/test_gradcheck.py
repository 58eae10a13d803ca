"""minicnn.gradcheck: the checker itself must catch wrong gradients."""

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import seeds

from minicnn.gradcheck import check_layer_gradients, format_errors, numeric_gradient, relative_error
from minicnn.layers import Dense, Layer


def test_relative_error_basics():
    a = np.array([1.0, 2.0, 3.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(a, -a) == pytest.approx(1.0)
    assert 1e-3 < relative_error(a, a * 1.01) < 1e-2
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(a, a[:2])


@settings(max_examples=20)
@given(seed=seeds)
def test_numeric_gradient_of_known_function(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 4))
    before = x.copy()
    dout = rng.standard_normal((3, 4))
    grad = numeric_gradient(lambda v: np.sin(v) * v, x, dout)
    exact = dout * (np.cos(x) * x + np.sin(x))
    assert relative_error(grad, exact) < 1e-8
    np.testing.assert_array_equal(x, before)  # restored


def test_numeric_gradient_needs_float64():
    with pytest.raises(ValueError, match="float64"):
        numeric_gradient(lambda v: v, np.zeros(3, dtype=np.float32), np.ones(3))


class _WrongDense(Dense):
    """Dense whose weight gradient is scaled by 1.001, and whose dx ignores dout's layout."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] *= 1.001
        return dx


class _IgnoresDout(Layer):
    """y = 2x with a backward that returns 2 (as if dout were all ones)."""

    def forward(self, x):
        return 2 * x

    def backward(self, dout):
        return 2 * np.ones_like(dout)


def test_check_layer_gradients_passes_correct_layer():
    x = np.random.default_rng(0).standard_normal((4, 3))
    errors = check_layer_gradients(Dense(3, 2, rng=0), x, seed=1)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < 1e-8
    assert "should be below" in format_errors(errors)


def test_check_layer_gradients_catches_small_mistake():
    x = np.random.default_rng(0).standard_normal((4, 3))
    errors = check_layer_gradients(_WrongDense(3, 2, rng=0), x, seed=1)
    assert errors["x"] < 1e-8
    assert errors["W"] > 1e-4  # a 0.1 % error is far above the 1e-6 threshold
    assert "WRONG" in format_errors(errors)


def test_random_upstream_gradient_catches_ignored_dout():
    x = np.random.default_rng(0).standard_normal((4, 3))
    errors = check_layer_gradients(_IgnoresDout(), x, seed=2)
    assert errors["x"] > 0.1
