"""Train / validation / test splits that keep a patient's tiles together.

Tiles of one patient (and of one slide) look alike: splitting tiles at random lets a model be
tested on near copies of its training tiles and overstates its accuracy. Split by patient, or by
centre to measure how a model carries over to another hospital's stain and scanner.
"""

from __future__ import annotations

import numpy as np

from camelyon.errors import DatasetParameterError

__all__ = ["split_by_patient", "split_by_center"]


def _column(source, name: str) -> np.ndarray:
    return np.asarray(getattr(source, name) if hasattr(source, name) else source)


def split_by_patient(
    patients,
    fractions: dict[str, float] | None = None,
    *,
    seed: int = 0,
    labels=None,
) -> dict[str, np.ndarray]:
    """Split tiles by patient so that no patient is in two splits.

    Parameters
    ----------
    patients : array-like of shape (N,) or TileStore
        Patient of every tile (a store gives its ``patients``, and its ``labels`` when
        ``labels`` is None).
    fractions : dict
        Split name -> share of the patients, default ``{"train": 0.7, "val": 0.15, "test": 0.15}``.
    seed : int
        Shuffles the patients; the same seed gives the same split.
    labels : array-like of shape (N,), optional
        Tile labels: patients with tumour tiles and those without are shared out separately, so
        that every split gets tumour patients when there are enough.

    Returns
    -------
    dict
        Split name -> sorted tile indices (int64).
    """
    if labels is None and hasattr(patients, "labels"):
        labels = patients.labels
    pats = _column(patients, "patients").astype(str)
    fractions = fractions or {"train": 0.7, "val": 0.15, "test": 0.15}
    if any(v < 0 for v in fractions.values()) or sum(fractions.values()) <= 0:
        raise DatasetParameterError(f"fractions must be >= 0 with a positive sum, got {fractions}")
    total = sum(fractions.values())
    shares = {k: v / total for k, v in fractions.items()}
    unique = np.unique(pats)
    rng = np.random.default_rng(seed)
    if labels is not None:
        lab = np.asarray(labels).reshape(-1)
        positive = set(np.unique(pats[lab == 1]).tolist())
        groups = [np.array([p for p in unique if p in positive]), np.array([p for p in unique if p not in positive])]
    else:
        groups = [unique]
    assign: dict[str, str] = {}
    names = list(shares)
    for group in groups:
        group = rng.permutation(group)
        # largest-remainder allocation of this group's patients to the splits
        raw = np.array([shares[k] * len(group) for k in names])
        counts = np.floor(raw).astype(int)
        for j in np.argsort(-(raw - counts), kind="stable")[: len(group) - counts.sum()]:
            counts[j] += 1
        start = 0
        for k, c in zip(names, counts, strict=True):
            for p in group[start : start + c]:
                assign[str(p)] = k
            start += c
    split_of = np.array([assign[p] for p in pats]) if len(pats) else np.array([], dtype=str)
    return {k: np.flatnonzero(split_of == k).astype(np.int64) for k in names}


def split_by_center(
    centers,
    test: tuple[int, ...] | list[int],
    val: tuple[int, ...] | list[int] = (),
) -> dict[str, np.ndarray]:
    """Split tiles by centre: ``test`` centres, ``val`` centres, the rest for training.

    Parameters
    ----------
    centers : array-like of shape (N,) or TileStore
    test, val : sequences of int
        Centre ids (must not overlap).

    Returns
    -------
    dict
        ``{"train": ..., "val": ..., "test": ...}`` sorted tile indices (int64).
    """
    c = _column(centers, "centers").astype(np.int64)
    test, val = set(int(x) for x in test), set(int(x) for x in val)
    if test & val:
        raise DatasetParameterError(f"centres {sorted(test & val)} are in both the test and the validation split")
    present = set(np.unique(c).tolist())
    unknown = (test | val) - present
    if unknown:
        raise DatasetParameterError(f"centre(s) {sorted(unknown)} have no tiles (centres present: {sorted(present)})")
    is_test = np.isin(c, list(test))
    is_val = np.isin(c, list(val))
    return {
        "train": np.flatnonzero(~is_test & ~is_val).astype(np.int64),
        "val": np.flatnonzero(is_val).astype(np.int64),
        "test": np.flatnonzero(is_test).astype(np.int64),
    }
