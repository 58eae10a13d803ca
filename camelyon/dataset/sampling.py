"""Class-balanced minibatches.

Tumour tiles are rare (a few per cent of the tiles of a CAMELYON slide), so plain random batches
teach a CNN mostly "normal". :class:`BalancedSampler` draws each batch with a fixed share of
tumour tiles, sampling each class with replacement so that the rare class can fill its share.
"""

from __future__ import annotations

import numpy as np

from camelyon.errors import DatasetParameterError

__all__ = ["BalancedSampler"]


class BalancedSampler:
    """Yield index batches with a fixed share of each class.

    Parameters
    ----------
    labels : array-like of shape (N,)
        Class of every tile (0/1; any integers work).
    batch_size : int
    rng : numpy.random.Generator or int, optional
        Randomness (seed); the same seed gives the same batches.
    indices : array-like of int, optional
        Restrict sampling to these tiles (e.g. a training split); default all tiles.
    class_fractions : dict, optional
        Share of each class in a batch; default equal shares of the classes present.
    batches_per_epoch : int, optional
        Length of one pass; default ``len(indices) // batch_size`` (at least 1).

    Examples
    --------
    >>> import numpy as np
    >>> s = BalancedSampler(np.array([0] * 95 + [1] * 5), batch_size=10, rng=0)
    >>> b = next(iter(s)); int((np.array([0] * 95 + [1] * 5)[b] == 1).sum())
    5
    """

    def __init__(self, labels, batch_size: int, rng=None, *, indices=None, class_fractions=None,
                 batches_per_epoch: int | None = None):
        labels = np.asarray(labels).reshape(-1)
        if batch_size < 1:
            raise DatasetParameterError(f"batch_size must be >= 1, got {batch_size}")
        idx = np.arange(len(labels)) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(idx) == 0:
            raise DatasetParameterError("BalancedSampler needs at least one tile to sample from")
        sub = labels[idx]
        classes = np.unique(sub)
        if class_fractions is None:
            class_fractions = {int(c): 1.0 / len(classes) for c in classes}
        fr = {int(k): float(v) for k, v in class_fractions.items()}
        missing = [k for k, v in fr.items() if v > 0 and k not in set(classes.tolist())]
        if missing:
            raise DatasetParameterError(f"class(es) {missing} have a batch share but no tiles to sample")
        if any(v < 0 for v in fr.values()) or not np.isclose(sum(fr.values()), 1.0):
            raise DatasetParameterError(f"class_fractions must be >= 0 and sum to 1, got {class_fractions}")
        self.batch_size = int(batch_size)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.pools = {c: idx[sub == c] for c in fr if fr[c] > 0}
        # per-class counts per batch: floor of the shares, the remainder to the largest shares
        raw = {c: fr[c] * self.batch_size for c in self.pools}
        counts = {c: int(np.floor(v)) for c, v in raw.items()}
        for c in sorted(raw, key=lambda c: raw[c] - counts[c], reverse=True)[: self.batch_size - sum(counts.values())]:
            counts[c] += 1
        self.counts = counts
        self.batches_per_epoch = int(batches_per_epoch or max(1, len(idx) // self.batch_size))

    def __len__(self) -> int:
        return self.batches_per_epoch

    def sample(self) -> np.ndarray:
        """One batch of indices, shape (batch_size,), int64, in random order."""
        parts = [self.rng.choice(pool, size=n, replace=True) for c, pool in self.pools.items()
                 for n in [self.counts[c]] if n > 0]
        batch = np.concatenate(parts).astype(np.int64)
        self.rng.shuffle(batch)
        return batch

    def __iter__(self):
        for _ in range(self.batches_per_epoch):
            yield self.sample()
