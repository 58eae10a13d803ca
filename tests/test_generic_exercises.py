"""Checks of the functions students write inside the generic notebooks (G01-G10).

Each generic notebook has one exercise written in the notebook itself (``im2col_numpy`` in G03, ...),
between solution markers like the library's. These tests read the function from the **saved** notebook
(``generic_exercises/G03_convolution.ipynb``: the student's notebook in the student edition and when
grading) with :func:`minicnn.teaching.notebooks.notebook_function`, which runs only the notebook's imports
and definitions, and compare it with a reference written here. Library functions the notebook's code
calls (``gini`` in G08) are replaced by a reference, so that a test checks the notebook's code alone.
"""

from pathlib import Path

import numpy as np
import pytest

from minicnn.teaching.notebooks import find_notebook, notebook_function

NOTEBOOKS = Path(__file__).resolve().parents[1] / "generic_exercises"


def load(exercise, name, **overrides):
    """Function ``name`` of notebook ``generic_exercises/<exercise>_*.ipynb``."""
    return notebook_function(find_notebook(NOTEBOOKS, exercise), name, overrides)


# ----------------------------------------------------------------------------------------------- G01


@pytest.mark.exercise("G01")
def test_g01_centred_difference():
    f = load("G01", "centred_difference")
    # for a cubic the centred difference is exact up to h^2 f'''/6: 3 + 0.01 (a forward difference gives 3.31)
    assert f(lambda v: v**3, 1.0, 0.1) == pytest.approx(3.01, rel=1e-12)
    x = np.linspace(-2.0, 2.0, 9)
    np.testing.assert_allclose(f(np.sin, x, 1e-5), np.cos(x), rtol=0, atol=1e-9)


# ----------------------------------------------------------------------------------------------- G02


@pytest.mark.exercise("G02")
def test_g02_logsumexp_matches_the_definition_and_does_not_overflow():
    f = load("G02", "logsumexp")
    s = np.random.default_rng(0).standard_normal((5, 4)) * 3
    out = f(s)
    assert out.shape == (5, 1)
    np.testing.assert_allclose(out, np.log(np.exp(s).sum(axis=1, keepdims=True)), rtol=1e-12)
    big = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]])
    tail = np.log(1 + np.exp(-1.0) + np.exp(-2.0))
    np.testing.assert_allclose(f(big), [[1002.0 + tail], [-1000.0 + tail]], rtol=1e-12)


# ----------------------------------------------------------------------------------------------- G03


def _im2col_loops(x, kh, kw, stride, padding):
    n, c, h, w = x.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (w + 2 * padding - kw) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.zeros((n, c * kh * kw, oh * ow), dtype=x.dtype)
    for ci in range(c):
        for u in range(kh):
            for v in range(kw):
                for i in range(oh):
                    for j in range(ow):
                        cols[:, (ci * kh + u) * kw + v, i * ow + j] = x_pad[:, ci, i * stride + u, j * stride + v]
    return cols


@pytest.mark.exercise("G03")
@pytest.mark.parametrize(
    "shape, kh, kw, stride, padding",
    [((2, 3, 7, 6), 3, 2, 2, 1), ((1, 2, 5, 5), 3, 3, 1, 0), ((3, 1, 4, 6), 1, 1, 1, 2)],
)
def test_g03_im2col_numpy_matches_loops(shape, kh, kw, stride, padding):
    f = load("G03", "im2col_numpy")
    x = np.random.default_rng(1).standard_normal(shape)
    out = f(x, kh, kw, stride, padding)
    expected = _im2col_loops(x, kh, kw, stride, padding)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


# ----------------------------------------------------------------------------------------------- G04


@pytest.mark.exercise("G04")
def test_g04_max_pool_2x2_reshape_matches_strided_maxima():
    f = load("G04", "max_pool_2x2_reshape")
    x = np.random.default_rng(2).standard_normal((3, 2, 6, 8)).astype(np.float32)
    expected = np.maximum.reduce([x[:, :, u::2, v::2] for u in (0, 1) for v in (0, 1)])
    out = f(x)
    assert out.shape == (3, 2, 3, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


# ----------------------------------------------------------------------------------------------- G05


@pytest.mark.exercise("G05")
def test_g05_rosenbrock_grad():
    f = load("G05", "rosenbrock_grad")
    for x, y in [(-0.7, 1.3), (1.0, 1.0), (2.0, -1.0), (0.0, 0.0)]:
        expected = [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)]
        g = np.asarray(f(np.array([x, y])))
        assert g.shape == (2,)
        np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------------------------- G06


@pytest.mark.exercise("G06")
def test_g06_build_shapes_cnn_architecture():
    from minicnn import Sequential
    from minicnn.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU

    f = load("G06", "build_shapes_cnn")
    model = f(np.random.default_rng(0))
    rng = np.random.default_rng(0)
    reference = Sequential(
        Conv2D(1, 8, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),
        Conv2D(8, 16, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),
        Flatten(), Dense(16 * 4 * 4, 3, rng=rng),
    )  # fmt: skip
    assert isinstance(model, Sequential)
    assert model.config() == reference.config()
    assert model.num_parameters() == reference.num_parameters() == 2019
    # the weights come from rng: the same seed builds the same model
    again = f(np.random.default_rng(0)).state_dict()
    first = model.state_dict()
    assert sorted(again) == sorted(first) and all(np.array_equal(first[k], again[k]) for k in first)


# ----------------------------------------------------------------------------------------------- G07


@pytest.mark.exercise("G07")
def test_g07_compose_he_beer_lambert():
    f = load("G07", "compose_he")
    rng = np.random.default_rng(3)
    stains = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11]])
    conc_h, conc_e = rng.uniform(0, 1.5, (5, 7)), rng.uniform(0, 1.0, (5, 7))
    od = conc_h[..., None] * stains[0] + conc_e[..., None] * stains[1]
    expected = np.clip(np.rint(255.0 * np.exp(-od)), 0, 255).astype(np.uint8)
    out = f(conc_h, conc_e, stains, io=255.0)
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - expected).max() <= 1  # rounding of values at .5 may differ
    np.testing.assert_array_equal(f(np.zeros((2, 3)), np.zeros((2, 3)), stains), np.full((2, 3, 3), 240))


# ----------------------------------------------------------------------------------------------- G08


def _gini(counts):
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    return 0.0 if total == 0 else 1.0 - float(np.sum((counts / total) ** 2))


def _decrease(x, y, threshold):
    left = x <= threshold
    k = int(y.max()) + 1
    child = (left.sum() * _gini(np.bincount(y[left], minlength=k))
             + (~left).sum() * _gini(np.bincount(y[~left], minlength=k))) / len(y)  # fmt: skip
    return _gini(np.bincount(y, minlength=k)) - child


@pytest.mark.exercise("G08")
def test_g08_best_threshold_1d():
    # the notebook calls minicnn.tree.gini (written in G08 too): a reference gini checks the notebook alone
    f = load("G08", "best_threshold_1d", gini=_gini)
    threshold, decrease = f(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0, 0, 1, 1]))
    assert threshold == pytest.approx(2.5) and decrease == pytest.approx(0.5)
    assert f(np.full(5, 3.0), np.array([0, 1, 0, 1, 1])) == (None, 0.0)

    rng = np.random.default_rng(4)
    for _ in range(5):
        x = np.round(rng.standard_normal(40), 1)  # repeated values on purpose
        y = (x + rng.standard_normal(40) > 0).astype(np.int64)
        values = np.unique(x)
        best = max(_decrease(x, y, t) for t in (values[:-1] + values[1:]) / 2)
        threshold, decrease = f(x, y)
        assert decrease == pytest.approx(best, abs=1e-12)
        assert np.any(np.isclose((values[:-1] + values[1:]) / 2, threshold))
        assert _decrease(x, y, threshold) == pytest.approx(best, abs=1e-12)


# ----------------------------------------------------------------------------------------------- G09


@pytest.mark.exercise("G09")
def test_g09_bias_variance():
    f = load("G09", "bias_variance")
    bias2, variance = f(np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([1.0, 1.0]))
    assert (bias2, variance) == (pytest.approx(0.5), pytest.approx(1.0))
    rng = np.random.default_rng(5)
    predictions, truth = rng.uniform(size=(7, 30)), rng.uniform(size=30)
    mean = predictions.mean(axis=0)
    expected = (np.mean((mean - truth) ** 2), np.mean(((predictions - mean) ** 2).mean(axis=0)))
    np.testing.assert_allclose(f(predictions, truth), expected, rtol=1e-12)


# ----------------------------------------------------------------------------------------------- G10


@pytest.mark.exercise("G10")
def test_g10_auc_by_pairs():
    f = load("G10", "auc_by_pairs")
    assert f(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert f(np.array([0, 1]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 60)
    s = np.round(y * 0.8 + rng.standard_normal(60), 1)  # ties on purpose
    pairs = [(a > b) + 0.5 * (a == b) for a in s[y == 1] for b in s[y == 0]]
    assert f(y, s) == pytest.approx(float(np.mean(pairs)), abs=1e-12)
