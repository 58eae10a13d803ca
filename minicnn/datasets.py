"""Small data sets for the exercises: seeded synthetic ones and the bundled handwritten digits.

Every generator takes a ``seed`` (an int or a ``numpy.random.Generator``): the same seed gives the same
arrays, byte for byte.

- :func:`make_shapes`: small grey images of circles, squares, triangles and crosses (N, 1, H, W), for CNNs;
- :func:`make_blobs`, :func:`make_spirals`, :func:`make_xor`: 2-D points, for dense networks and trees;
- :func:`load_digits`: the 1 797 real 8 x 8 handwritten digits that ship with scikit-learn;
- :func:`train_test_split`: a seeded, stratified split.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SHAPES", "make_shapes", "make_blobs", "make_spirals", "make_xor", "load_digits", "train_test_split"]

#: Shapes that :func:`make_shapes` can draw, in label order of the default.
SHAPES = ("circle", "square", "triangle", "cross")


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_positive_int(value, name: str, func: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{func}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _balanced_labels(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """n labels in 0..k-1, as balanced as possible, in random order."""
    return rng.permutation(np.arange(n) % k).astype(np.int64)


def _shape_mask(kind: str, xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, r: float, angle: float):
    # coordinates in the shape's own frame (rotated by -angle), in units of r
    c, s = np.cos(angle), np.sin(angle)
    u = (c * (xx - cx) + s * (yy - cy)) / r
    v = (-s * (xx - cx) + c * (yy - cy)) / r
    if kind == "circle":
        return u * u + v * v <= 1.0
    if kind == "square":
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if kind == "triangle":
        # equilateral triangle inscribed in the unit circle, one vertex up (v = -1)
        inside = v <= 0.5
        inside &= np.sqrt(3) * u - v <= 1.0
        inside &= -np.sqrt(3) * u - v <= 1.0
        return inside
    if kind == "cross":
        return ((np.abs(u) <= 0.25) & (np.abs(v) <= 1.0)) | ((np.abs(v) <= 0.25) & (np.abs(u) <= 1.0))
    raise ValueError(f"make_shapes: unknown shape {kind!r}; choose from {SHAPES}")


def make_shapes(n_samples: int = 600, image_size: int = 16, shapes=("circle", "square", "triangle"),
                noise: float = 0.1, seed=0, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Grey images of one filled shape each, at a random position, size and rotation.

    Each image has a dark background with a bright shape (intensity drawn in [0.6, 1]), anti-aliased by
    4 x 4 supersampling, plus Gaussian noise, clipped to [0, 1]. Classes are balanced.

    Parameters
    ----------
    n_samples : int
    image_size : int
        Height and width in px (at least 8).
    shapes : sequence of str
        Which shapes, from ``SHAPES``; label i is ``shapes[i]``.
    noise : float
        Standard deviation of the added Gaussian noise.
    seed : int or numpy.random.Generator
    dtype : float dtype

    Returns
    -------
    X : ndarray of shape (n_samples, 1, image_size, image_size), values in [0, 1]
    y : ndarray of shape (n_samples,), int64 in ``0 .. len(shapes) - 1``
    """
    n = _check_positive_int(n_samples, "n_samples", "make_shapes")
    size = _check_positive_int(image_size, "image_size", "make_shapes", minimum=8)
    shapes = tuple(shapes)
    if not shapes:
        raise ValueError("make_shapes: shapes must name at least one shape")
    for kind in shapes:
        if kind not in SHAPES:
            raise ValueError(f"make_shapes: unknown shape {kind!r}; choose from {SHAPES}")
    if noise < 0:
        raise ValueError(f"make_shapes: noise must be >= 0, got {noise}")
    rng = _rng(seed)
    y = _balanced_labels(n, len(shapes), rng)
    sub = 4
    grid = (np.arange(size * sub) + 0.5) / sub  # pixel centres of the supersampled grid, in px
    xx, yy = np.meshgrid(grid, grid)
    X = np.empty((n, 1, size, size), dtype=np.float64)
    for i in range(n):
        r = rng.uniform(0.22, 0.4) * size
        cx, cy = rng.uniform(r, size - r, size=2)
        angle = rng.uniform(0, 2 * np.pi)
        intensity = rng.uniform(0.6, 1.0)
        mask = _shape_mask(shapes[y[i]], xx, yy, cx, cy, r, angle)
        X[i, 0] = intensity * mask.reshape(size, sub, size, sub).mean(axis=(1, 3))
    X += rng.normal(0.0, noise, size=X.shape) if noise else 0.0
    np.clip(X, 0.0, 1.0, out=X)
    return X.astype(dtype), y


def make_blobs(n_samples: int = 300, n_classes: int = 3, n_features: int = 2, std: float = 1.0,
               center_box=(-5.0, 5.0), seed=0, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clouds of points, one per class, with centres drawn uniformly in ``center_box``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,), int64 in ``0 .. n_classes - 1`` (balanced)
    """
    n = _check_positive_int(n_samples, "n_samples", "make_blobs")
    k = _check_positive_int(n_classes, "n_classes", "make_blobs")
    f = _check_positive_int(n_features, "n_features", "make_blobs")
    if std < 0:
        raise ValueError(f"make_blobs: std must be >= 0, got {std}")
    lo, hi = center_box
    if not lo < hi:
        raise ValueError(f"make_blobs: center_box must be (low, high) with low < high, got {center_box}")
    rng = _rng(seed)
    centers = rng.uniform(lo, hi, size=(k, f))
    y = _balanced_labels(n, k, rng)
    X = centers[y] + rng.normal(0.0, std, size=(n, f))
    return X.astype(dtype), y


def make_spirals(n_samples: int = 300, n_classes: int = 3, noise: float = 0.2, turns: float = 1.0, seed=0,
                 dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms in the plane, one per class (the classic "not linearly separable" set).

    Arm k at radius t in [0, 1] is at angle ``2 pi (turns * t + k / n_classes)`` plus Gaussian angle noise
    of standard deviation ``noise`` (radians).

    Returns
    -------
    X : ndarray of shape (n_samples, 2), coordinates in about [-1, 1]
    y : ndarray of shape (n_samples,), int64 in ``0 .. n_classes - 1`` (balanced)
    """
    n = _check_positive_int(n_samples, "n_samples", "make_spirals")
    k = _check_positive_int(n_classes, "n_classes", "make_spirals")
    if noise < 0:
        raise ValueError(f"make_spirals: noise must be >= 0, got {noise}")
    rng = _rng(seed)
    y = _balanced_labels(n, k, rng)
    t = rng.uniform(0.0, 1.0, size=n)
    angle = 2 * np.pi * (turns * t + y / k) + rng.normal(0.0, noise, size=n)
    X = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    return X.astype(dtype), y


def make_xor(n_samples: int = 200, noise: float = 0.1, seed=0, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Points in [-1, 1]^2 labelled 1 when exactly one coordinate is positive (XOR of the signs).

    Labels come from the noise-free points; ``noise`` (standard deviation) is then added to the coordinates.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,), int64 in {0, 1}
    """
    n = _check_positive_int(n_samples, "n_samples", "make_xor")
    if noise < 0:
        raise ValueError(f"make_xor: noise must be >= 0, got {noise}")
    rng = _rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
    X = X + rng.normal(0.0, noise, size=X.shape)
    return X.astype(dtype), y


def load_digits(dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The 1 797 handwritten digits bundled with scikit-learn (UCI optical digits, 8 x 8 px, 0-16 grey levels).

    Needs scikit-learn (the data file ships inside it; nothing is downloaded).

    Returns
    -------
    X : ndarray of shape (1797, 1, 8, 8), values in [0, 1] (grey level / 16)
    y : ndarray of shape (1797,), int64 digit 0-9

    Raises
    ------
    ImportError
        When scikit-learn is not installed, saying how to install it.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError:
        raise ImportError(
            "minicnn.datasets.load_digits needs scikit-learn, which ships the digits data file. "
            "Install it with `pip install scikit-learn` (or `pip install -e '.[dev]'` in this project)."
        ) from None
    bunch = sklearn_load_digits()
    X = (np.asarray(bunch.data, dtype=np.float64) / 16.0).reshape(-1, 1, 8, 8).astype(dtype)
    y = np.asarray(bunch.target, dtype=np.int64)
    return X, y


def train_test_split(X, y, test_size: float = 0.25, seed=0, stratify: bool = True):
    """Split ``(X, y)`` into a training and a test part, at random but reproducibly.

    Parameters
    ----------
    X : ndarray of shape (N, ...)
    y : ndarray of shape (N,)
    test_size : float in (0, 1)
        Fraction of the samples that go to the test part.
    seed : int or numpy.random.Generator
    stratify : bool
        Keep the class proportions of ``y`` in both parts (each class split separately).

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarrays
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"train_test_split: X has {len(X)} samples but y has {len(y)}")
    if not 0 < test_size < 1:
        raise ValueError(f"train_test_split: test_size must be a fraction in (0, 1), got {test_size}")
    rng = _rng(seed)
    if stratify:
        test = []
        for label in np.unique(y):
            members = rng.permutation(np.flatnonzero(y == label))
            test.append(members[: int(round(test_size * len(members)))])
        test_idx = np.sort(np.concatenate(test))
    else:
        test_idx = np.sort(rng.permutation(len(y))[: int(round(test_size * len(y)))])
    is_test = np.zeros(len(y), dtype=bool)
    is_test[test_idx] = True
    if is_test.all() or not is_test.any():
        raise ValueError(f"train_test_split: test_size={test_size} leaves one part empty for {len(y)} samples")
    train_idx = rng.permutation(np.flatnonzero(~is_test))
    test_idx = rng.permutation(test_idx)
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]
