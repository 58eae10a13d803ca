"""Checks against reference implementations of exercises (instructor only: this folder is not released).

A reference implementation in a shipped test would hand the student the answer, so comparisons with
one live here; the student edition's tests check properties (gradients, invariants, naive == fast,
scikit-learn) instead. The grader runs these too.
"""

import numpy as np
import pytest

from minicnn import metrics as M


def mann_whitney_auc(y, s):
    """P(score of a random positive > score of a random negative), ties count 1/2."""
    pos, neg = s[y == 1], s[y == 0]
    diff = pos[:, None] - neg[None, :]
    return (np.sum(diff > 0) + 0.5 * np.sum(diff == 0)) / (len(pos) * len(neg))


@pytest.mark.exercise("G10")
@pytest.mark.parametrize("seed", range(6))
def test_auc_equals_the_mann_whitney_statistic(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 80))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    levels = [3, 10, 10**6][seed % 3]  # few levels: many tied scores
    s = rng.integers(0, levels, n) / levels + rng.uniform(0, 2) * y
    assert M.roc_auc_score(y, s) == pytest.approx(mann_whitney_auc(y, s), abs=1e-12)


# ----------------------------------------------------------------------------- G03, G04: the definitions


def _conv_reference(x, w, b, stride, padding):
    """Direct definition through an explicit sum, independent of both implementations."""
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((n, f, oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i : i + stride * (oh - 1) + 1 : stride, j : j + stride * (ow - 1) + 1 : stride]
            out += np.einsum("nchw,fc->nfhw", patch, w[:, :, i, j])
    return out + b[None, :, None, None]


@pytest.mark.exercise("G03")
@pytest.mark.parametrize("seed", range(8))
def test_naive_conv_forward_matches_definition(seed):
    import minicnn.functional as F

    rng = np.random.default_rng(seed)
    n, c, f, k = (int(v) for v in rng.integers(1, 4, 4))
    h, w_ = (int(v) for v in rng.integers(k, 9, 2))
    stride, padding = int(rng.integers(1, 3)), int(rng.integers(0, 3))
    x, w, b = rng.standard_normal((n, c, h, w_)), rng.standard_normal((f, c, k, k)), rng.standard_normal(f)
    out, _ = F.conv2d_forward_naive(x, w, b, stride, padding)
    np.testing.assert_allclose(out, _conv_reference(x, w, b, stride, padding), rtol=1e-10, atol=1e-10)


def _pool_reference(x, k, s, kind):
    n, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.empty((n, c, oh, ow))
    reduce = np.max if kind == "max" else np.mean
    for a in range(n):
        for b in range(c):
            for i in range(oh):
                for j in range(ow):
                    out[a, b, i, j] = reduce(x[a, b, i * s : i * s + k, j * s : j * s + k])
    return out


@pytest.mark.exercise("G04")
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("seed", range(4))
def test_naive_pool_forward_matches_definition(kind, seed):
    import minicnn.functional as F

    rng = np.random.default_rng(seed)
    k, s = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    x = rng.permutation(2 * 3 * 9 * 8).reshape(2, 3, 9, 8).astype(float)  # distinct values
    fwd = F.max_pool2d_forward_naive if kind == "max" else F.avg_pool2d_forward_naive
    out, _ = fwd(x, k, s)
    np.testing.assert_allclose(out, _pool_reference(x, k, s, kind), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- notebooks G03, G07-G10


def _notebook(exercise, name, **overrides):
    from pathlib import Path

    from minicnn.teaching.notebooks import find_notebook, notebook_function

    folder = Path(__file__).resolve().parents[2] / "generic_exercises"
    return notebook_function(find_notebook(folder, exercise), name, overrides)


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
def test_g03_im2col_numpy_matches_loops():
    f = _notebook("G03", "im2col_numpy")
    x = np.random.default_rng(11).standard_normal((2, 3, 7, 6))
    np.testing.assert_array_equal(f(x, 3, 2, 2, 1), _im2col_loops(x, 3, 2, 2, 1))


@pytest.mark.exercise("G07")
def test_g07_compose_he_matches_beer_lambert():
    f = _notebook("G07", "compose_he")
    rng = np.random.default_rng(3)
    stains = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11]])
    conc_h, conc_e = rng.uniform(0, 1.5, (5, 7)), rng.uniform(0, 1.0, (5, 7))
    od = conc_h[..., None] * stains[0] + conc_e[..., None] * stains[1]
    expected = np.clip(np.rint(255.0 * np.exp(-od)), 0, 255).astype(np.uint8)
    out = f(conc_h, conc_e, stains, io=255.0)
    assert np.abs(out.astype(int) - expected).max() <= 1  # rounding of values at .5 may differ


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
def test_g08_best_threshold_1d_against_every_threshold():
    # the notebook calls minicnn.tree.gini (written in G08 too): a reference gini checks the notebook alone
    f = _notebook("G08", "best_threshold_1d", gini=_gini)
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


@pytest.mark.exercise("G09")
def test_g09_bias_variance_formula():
    f = _notebook("G09", "bias_variance")
    rng = np.random.default_rng(5)
    predictions, truth = rng.uniform(size=(7, 30)), rng.uniform(size=30)
    mean = predictions.mean(axis=0)
    expected = (np.mean((mean - truth) ** 2), np.mean(((predictions - mean) ** 2).mean(axis=0)))
    np.testing.assert_allclose(f(predictions, truth), expected, rtol=1e-12)


@pytest.mark.exercise("G10")
def test_g10_auc_by_pairs_against_every_pair():
    f = _notebook("G10", "auc_by_pairs")
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 60)
    s = np.round(y * 0.8 + rng.standard_normal(60), 1)  # ties on purpose
    pairs = [(a > b) + 0.5 * (a == b) for a in s[y == 1] for b in s[y == 0]]
    assert f(y, s) == pytest.approx(float(np.mean(pairs)), abs=1e-12)
