"""Train and test the tile CNN on PatchCamelyon (``camelyon train --pcam DIR``).

The training split is read batch by batch from PCam's HDF5 file (never loaded whole: 7.2 GB);
the validation tiles are held in memory (905 MB for all 32,768; fewer with ``max_tiles``); the
test split is streamed in batches of 512 and scored with accuracy (threshold 0.5) and ROC AUC.
With ``max_tiles`` each split is cut to a random subset of that many tiles (seeded).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from camelyon.errors import CamelyonError

__all__ = ["PCamResult", "train_on_pcam", "test_on_pcam"]


@dataclass
class PCamResult:
    """What :func:`train_on_pcam` measured."""

    model_path: Path | None
    history: dict
    n_train: int
    n_val: int
    n_test: int
    test_accuracy: float
    test_auc: float
    test_seconds: float
    curve_path: Path | None = None


def _pick(n: int, max_tiles: int | None, rng: np.random.Generator) -> np.ndarray:
    if max_tiles is None or max_tiles >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=max_tiles, replace=False))


def test_on_pcam(model, split, index: np.ndarray, batch_size: int = 512, progress: bool = False):
    """Tumour probabilities of the tiles ``index`` of a split, streamed in batches.

    Returns
    -------
    probability : ndarray of shape (len(index),), float32
    labels : ndarray of shape (len(index),), int8
    """
    from tqdm.auto import tqdm

    prob = np.empty(len(index), np.float32)
    buf = np.empty((batch_size, split.tile_size, split.tile_size, 3), np.uint8)
    bar = tqdm(total=len(index), desc=f"PCam {split.split}", unit="tile", disable=not progress or None, leave=False)
    batches = [index[i:i + batch_size] for i in range(0, len(index), batch_size)]
    start = 0
    for b in batches:
        tiles, _ = split.read_batch(b, out=buf)
        prob[start:start + len(b)] = model.predict_proba(tiles, batch_size=128)
        start += len(b)
        bar.update(len(b))
    bar.close()
    return prob, split.labels[index]


def train_on_pcam(folder, out, config, max_tiles: int | None = None, progress: bool = True,
                  resume: bool = False, max_val_tiles: int | None = None,
                  max_test_tiles: int | None = None) -> PCamResult:
    """Train the tile CNN on PCam's train split, validate on valid, test on test.

    Parameters
    ----------
    folder : path
        Folder with PCam's files (unpacked ``.h5``, optional meta CSVs).
    out : path
        Model file (``.npz``).
    config : camelyon.training.TrainingConfig
    max_tiles : int, optional
        Use at most this many tiles of each split (a seeded random subset).
    max_val_tiles, max_test_tiles : int, optional
        Separate caps for the validation and test splits (default ``max_tiles``).
    progress : bool
    resume : bool
        Continue from the checkpoint of ``out``.
    """
    from camelyon.dataset.pcam import PCAM_UM_PER_PX, open_pcam
    from camelyon.training import TileArrays, train_tile_model
    from minicnn.metrics import roc_auc_score

    if max_tiles is not None and max_tiles < 2:
        raise CamelyonError(f"--max-tiles must be at least 2, got {max_tiles}")
    splits = open_pcam(folder)
    try:
        rng = np.random.default_rng([config.seed, 96])
        train_idx = _pick(len(splits["train"]), max_tiles, rng)
        val_idx = _pick(len(splits["valid"]), max_tiles if max_val_tiles is None else max_val_tiles, rng)
        test_idx = _pick(len(splits["test"]), max_tiles if max_test_tiles is None else max_test_tiles, rng)
        train = TileArrays(splits["train"].tiles.subset(train_idx), splits["train"].labels[train_idx])
        val_tiles, val_labels = splits["valid"].read_batch(val_idx)
        val = TileArrays(val_tiles, val_labels)
        result = train_tile_model(train, val, config, out, um_per_px=PCAM_UM_PER_PX, level=2, resume=resume,
                                  progress=progress)
        t0 = time.perf_counter()
        prob, labels = test_on_pcam(result.model, splits["test"], test_idx, progress=progress)
        seconds = time.perf_counter() - t0
    finally:
        for s in splits.values():
            s.close()
    accuracy = float(np.mean((prob >= 0.5) == (labels == 1)))
    auc = float(roc_auc_score(labels.astype(np.int64), prob)) if len(np.unique(labels)) == 2 else float("nan")
    return PCamResult(result.model_path, result.history, len(train_idx), len(val_idx), len(test_idx),
                      accuracy, auc, seconds, result.curve_path)
