"""minicnn.gradcheck: the checker itself must catch wrong gradients."""

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import seeds

from minicnn.gradcheck import check_layer_gradients, format_errors, numeric_gradient, relative_error
from minicnn.layers import Layer


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


class _Affine(Layer):
    """y = x @ W + b written here (not an exercise), so these tests also run in the student edition."""

    def __init__(self, d, m, seed, wrong_scale=1.0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {"W": rng.standard_normal((d, m)), "b": rng.standard_normal(m)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.wrong_scale = wrong_scale

    def forward(self, x):
        self._cache = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        x = self._cache
        self.grads["W"][...] = x.T @ dout * self.wrong_scale
        self.grads["b"][...] = dout.sum(axis=0)
        return dout @ self.params["W"].T


class _IgnoresDout(Layer):
    """y = 2x with a backward that returns 2 (as if dout were all ones)."""

    def forward(self, x):
        return 2 * x

    def backward(self, dout):
        return 2 * np.ones_like(dout)


def test_check_layer_gradients_passes_correct_layer():
    x = np.random.default_rng(0).standard_normal((4, 3))
    errors = check_layer_gradients(_Affine(3, 2, seed=0), x, seed=1)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < 1e-8
    assert "should be below" in format_errors(errors)


def test_check_layer_gradients_catches_small_mistake():
    x = np.random.default_rng(0).standard_normal((4, 3))
    errors = check_layer_gradients(_Affine(3, 2, seed=0, wrong_scale=1.001), x, seed=1)
    assert errors["x"] < 1e-8 and errors["b"] < 1e-8
    assert errors["W"] > 1e-4  # a 0.1 % error is far above the 1e-6 threshold
    assert "WRONG" in format_errors(errors)


def test_random_upstream_gradient_catches_ignored_dout():
    x = np.random.default_rng(0).standard_normal((4, 3))
    errors = check_layer_gradients(_IgnoresDout(), x, seed=2)
    assert errors["x"] > 0.1


def test_check_layer_gradients_of_a_model_says_one_layer_at_a_time():
    from minicnn import Sequential
    from minicnn.layers import Dense

    with pytest.raises(ValueError, match="expected one layer.*got Sequential"):
        check_layer_gradients(Sequential(Dense(2, 2, rng=0)), np.ones((2, 2)))
