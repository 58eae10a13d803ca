"""Datasets: seeded (same seed, same bytes), shapes and ranges, balanced classes, clear errors."""

import sys

import numpy as np
import pytest

from minicnn import datasets
from minicnn.datasets import (
    SHAPES,
    load_digits,
    make_blobs,
    make_shapes,
    make_spirals,
    make_xor,
    train_test_split,
)

GENERATORS = [
    lambda seed: make_shapes(40, image_size=12, shapes=SHAPES, seed=seed),
    lambda seed: make_blobs(50, n_classes=4, n_features=3, seed=seed),
    lambda seed: make_spirals(60, n_classes=3, seed=seed),
    lambda seed: make_xor(30, seed=seed),
]


@pytest.mark.parametrize("make", GENERATORS)
def test_same_seed_same_bytes_other_seed_differs(make):
    X1, y1 = make(7)
    X2, y2 = make(7)
    X3, _ = make(8)
    assert X1.tobytes() == X2.tobytes() and y1.tobytes() == y2.tobytes()
    assert X1.tobytes() != X3.tobytes()
    X4, y4 = make(np.random.default_rng(7))  # a Generator is accepted too
    assert X4.shape == X1.shape and y4.dtype == np.int64


def test_make_shapes_layout_and_balance():
    X, y = make_shapes(90, image_size=16, seed=0)
    assert X.shape == (90, 1, 16, 16) and X.dtype == np.float32
    assert y.dtype == np.int64 and set(np.unique(y)) == {0, 1, 2}
    assert np.bincount(y).tolist() == [30, 30, 30]
    assert X.min() >= 0 and X.max() <= 1
    # a shape is drawn: each image has a bright region well above the background
    assert np.all(X.reshape(90, -1).max(axis=1) > 0.5)


def test_make_shapes_noise_free_areas_differ_by_class():
    # without noise, a circle of radius r covers pi r^2, a triangle inscribed in it only 1.3 r^2
    X, y = make_shapes(300, image_size=24, shapes=("circle", "triangle"), noise=0.0, seed=1)
    area = (X > 0.3).reshape(len(X), -1).sum(axis=1)
    assert area[y == 0].mean() > 1.8 * area[y == 1].mean()


def test_make_blobs_and_spirals_and_xor():
    X, y = make_blobs(60, n_classes=3, n_features=2, std=0.1, seed=0)
    assert X.shape == (60, 2) and np.bincount(y).tolist() == [20, 20, 20]
    spread = max(X[y == k].std(axis=0).max() for k in range(3))
    assert spread < 0.2
    X, y = make_spirals(200, n_classes=2, noise=0.0, seed=0)
    assert X.shape == (200, 2) and np.all(np.linalg.norm(X, axis=1) <= 1 + 1e-6)
    X, y = make_xor(500, noise=0.0, seed=0)
    np.testing.assert_array_equal(y, (X[:, 0] > 0) ^ (X[:, 1] > 0))


@pytest.mark.parametrize("call,match", [
    (lambda: make_shapes(0), "n_samples"),
    (lambda: make_shapes(10, image_size=4), "image_size"),
    (lambda: make_shapes(10, shapes=("circle", "star")), "star"),
    (lambda: make_blobs(10, n_classes=0), "n_classes"),
    (lambda: make_spirals(10, noise=-1), "noise"),
    (lambda: make_xor(2.5), "n_samples"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_load_digits():
    pytest.importorskip("sklearn")
    X, y = load_digits()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32
    assert X.min() == 0 and X.max() == 1
    assert y.shape == (1797,) and y.dtype == np.int64 and set(np.unique(y)) == set(range(10))


def test_load_digits_without_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        datasets.load_digits()


def test_train_test_split_stratified_and_seeded():
    X = np.arange(200).reshape(100, 2)
    y = np.repeat([0, 1, 2, 3], 25)
    a = train_test_split(X, y, test_size=0.2, seed=3)
    b = train_test_split(X, y, test_size=0.2, seed=3)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    X_train, X_test, y_train, y_test = a
    assert len(X_test) == 20 and np.bincount(y_test).tolist() == [5, 5, 5, 5]
    assert sorted(np.concatenate([X_train[:, 0], X_test[:, 0]]).tolist()) == list(range(0, 200, 2))
    np.testing.assert_array_equal(y_train, y[X_train[:, 0] // 2])
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(X, y, test_size=1.5)
