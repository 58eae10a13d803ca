"""Input checks shared by the metrics (ValueError naming the argument and what was expected)."""

import numpy as np


def column(values, name):
    """1-D non-empty array of labels or scores (a (n, 1) column is flattened)."""
    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D of shape (n_samples,), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values (first at index {np.flatnonzero(~np.isfinite(arr))[0]})")
    return arr


def pair(a, b, name_a="y_true", name_b="y_pred"):
    """Two 1-D arrays of the same length."""
    a = column(a, name_a)
    b = column(b, name_b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{name_a} and {name_b} have different lengths: {a.shape[0]} and {b.shape[0]}")
    return a, b


def weights(sample_weight, n):
    """Sample weights of shape (n,) (ones when None), finite and non-negative."""
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight must be finite and non-negative")
    return w


def label_set(labels, *arrays):
    """The label list: ``labels`` if given (no duplicates), else the sorted union of the arrays' values."""
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] == 0:
            raise ValueError(f"labels must be a non-empty 1-D list, got {labels!r}")
        if np.unique(labels).shape[0] != labels.shape[0]:
            raise ValueError(f"labels contains duplicates: {labels.tolist()}")
        return labels
    try:
        return np.unique(np.concatenate([np.asarray(a) for a in arrays]))
    except TypeError as exc:
        raise ValueError(f"the labels must be of one orderable type (e.g. all int or all str): {exc}") from None


def encode(values, labels):
    """Index of each value in ``labels``, -1 for values not in ``labels``."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    pos = np.searchsorted(sorted_labels, values)
    pos = np.clip(pos, 0, sorted_labels.shape[0] - 1)
    found = sorted_labels[pos] == values
    return np.where(found, order[pos], -1)
