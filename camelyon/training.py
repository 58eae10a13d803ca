"""Train the reference tile CNN (``minicnn.models.tile_cnn``) on labelled tiles.

The loop, epoch by epoch:

1. class-balanced minibatches (half tumour, half normal tiles) drawn from the trainer's generator,
   seeded by ``seed`` and stored in every checkpoint, so an epoch is the same whether or not the run
   was interrupted before it;
2. optional stain normalization (applied once to every tile before training) and augmentation
   (flips, rotations, H and E jitter) on each minibatch;
3. ``Trainer.train_step`` (forward, ``BCEWithLogits``, backward, Adam) on each minibatch, cosine
   learning-rate schedule over the epochs;
4. validation on tiles of held-out patients: loss and ROC AUC;
5. a checkpoint (weights, optimizer and schedule state, generator states, history) written atomically;
   a rerun with ``resume=True`` continues after the last finished epoch and ends with the same weights
   as an uninterrupted run. The checkpoint is removed once the model file is written.

All of it is :meth:`minicnn.training.Trainer.fit` (the one training loop), configured here: the
batches come from :class:`BalancedTileBatches`, augmentation and input preparation are its batch
transforms, the AUC is a metric and ``tiles_per_s`` a callback; the normalization target and the
settings ride in the trainer's checkpoint as metadata.

At the end the model file (:class:`camelyon.tile_model.TileModel`) and a training-curve PNG are
written next to each other.

Examples
--------
>>> result = train_from_store("tiles.h5", "model.npz", TrainingConfig(epochs=4))   # doctest: +SKIP
>>> result.history["val_auc"][-1]                                                  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from camelyon.augment import TileAugmenter
from camelyon.errors import TrainingError
from camelyon.messages import count_noun
from camelyon.stain import NORMALIZATION_METHODS, make_normalizer, normalizer_from_dict
from camelyon.tile_model import TileModel
from minicnn.io import write_json

__all__ = [
    "TileArrays",
    "TrainingConfig",
    "TrainingResult",
    "BalancedTileBatches",
    "balanced_batches",
    "checkpoint_path",
    "curve_path",
    "plot_training_curves",
    "load_store_tiles",
    "train_from_store",
    "train_tile_model",
]

CHECKPOINT_FORMAT = "camelyon.tile_training/2"  # the metadata of a minicnn Trainer checkpoint


@dataclass
class TileArrays:
    """Labelled tiles held in memory.

    Attributes
    ----------
    tiles : ndarray of shape (N, T, T, 3), uint8
        Or an object read on demand by index arrays (:class:`camelyon.dataset.pcam.PCamTiles`).
    labels : ndarray of shape (N,), int (1 = tumour)
    patients : ndarray of shape (N,), str, optional
        Patient of each tile (for splits).
    centers : ndarray of shape (N,), int, optional
    """

    tiles: np.ndarray
    labels: np.ndarray
    patients: np.ndarray | None = None
    centers: np.ndarray | None = None

    def __post_init__(self):
        if not hasattr(self.tiles, "read_into"):  # PCamTiles: indexed batch by batch, never loaded whole
            self.tiles = np.asarray(self.tiles)
        self.labels = np.asarray(self.labels).astype(np.int64).reshape(-1)
        if self.tiles.ndim != 4 or self.tiles.shape[-1] != 3 or self.tiles.dtype != np.uint8:
            raise TrainingError(f"tiles must be uint8 of shape (N, T, T, 3), got {self.tiles.dtype} "
                                f"{self.tiles.shape}")
        if self.tiles.shape[1] != self.tiles.shape[2]:
            raise TrainingError(f"tiles must be square, got {self.tiles.shape[1]}x{self.tiles.shape[2]} px")
        if len(self.labels) != len(self.tiles):
            raise TrainingError(f"{len(self.labels)} labels for {len(self.tiles)} tiles")
        if not np.isin(self.labels, (0, 1)).all():
            raise TrainingError("tile labels must be 0 (normal) or 1 (tumour)")

    def __len__(self) -> int:
        return len(self.tiles)

    def subset(self, index: np.ndarray) -> "TileArrays":
        """The tiles at ``index`` (a copy)."""
        pick = None if self.patients is None else self.patients[index]
        centers = None if self.centers is None else self.centers[index]
        return TileArrays(self.tiles[index], self.labels[index], pick, centers)


@dataclass
class TrainingConfig:
    """Settings of a training run (all JSON-able; stored in the model file).

    Attributes
    ----------
    epochs : int
    batch_size : int
        Tiles per minibatch (half tumour, half normal).
    steps_per_epoch : int or None
        Minibatches per epoch; default: enough to show every training tile about once.
    lr : float
        Initial Adam learning rate (cosine decay to ``lr / 20`` over the epochs).
    weight_decay : float
    normalize : {"none", "reinhard", "macenko"}
    augment : bool
        Geometric plus stain augmentation of every minibatch.
    stain_scale, stain_shift : float
        Strength of the stain augmentation (see :func:`camelyon.augment.stain_augment`).
    val_fraction : float
        Fraction of patients held out for validation (used by :func:`train_from_store`).
    seed : int
    """

    epochs: int = 6
    batch_size: int = 64
    steps_per_epoch: int | None = None
    lr: float = 2e-3
    weight_decay: float = 1e-4
    normalize: str = "none"
    augment: bool = False
    stain_scale: float = 0.25
    stain_shift: float = 0.05
    val_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self):
        if int(self.epochs) < 1:
            raise TrainingError(f"--epochs must be >= 1, got {self.epochs}")
        if int(self.batch_size) < 2:
            raise TrainingError(f"--batch-size must be >= 2, got {self.batch_size}")
        if self.steps_per_epoch is not None and int(self.steps_per_epoch) < 1:
            raise TrainingError(f"steps_per_epoch must be >= 1, got {self.steps_per_epoch}")
        if not self.lr > 0:
            raise TrainingError(f"learning rate must be > 0, got {self.lr}")
        if self.normalize not in NORMALIZATION_METHODS:
            raise TrainingError(f"--normalize must be one of {', '.join(NORMALIZATION_METHODS)}, "
                                f"got {self.normalize!r}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise TrainingError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")


@dataclass
class TrainingResult:
    """What a training run produced.

    Attributes
    ----------
    model : TileModel
    history : dict of lists
        :class:`minicnn.training.History` as a dict; per epoch: ``epoch``, ``loss`` (training), ``lr``,
        ``val_loss``, ``val_auc``, ``time`` (seconds), ``tiles_per_s``.
    model_path, curve_path : Path or None
    resumed_from : int
        Epochs that were already done when the run started (0 for a fresh run).
    """

    model: TileModel
    history: dict
    model_path: Path | None = None
    curve_path: Path | None = None
    resumed_from: int = 0
    extra: dict = field(default_factory=dict)


def checkpoint_path(out) -> Path:
    """Checkpoint file of the run writing the model ``out``: ``<out stem>.checkpoint.npz``."""
    out = Path(out)
    return out.with_name(out.stem + ".checkpoint.npz")


def curve_path(out) -> Path:
    """Training-curve PNG of the run writing the model ``out``: ``<out stem>.training.png``."""
    out = Path(out)
    return out.with_name(out.stem + ".training.png")


def balanced_batches(labels: np.ndarray, batch_size: int, steps: int, rng: np.random.Generator):
    """Class-balanced minibatch indices: each batch half positives, half negatives.

    Each class is walked through in a random order and reshuffled when used up, so every tile of
    the smaller class is seen about equally often.

    Parameters
    ----------
    labels : ndarray of shape (N,), 0 or 1
    batch_size : int
    steps : int
        Number of batches.
    rng : numpy.random.Generator

    Yields
    ------
    ndarray of int, shape (batch_size,)
        Sorted by nothing: positives first, then negatives, then shuffled together.
    """
    labels = np.asarray(labels)
    pools = [np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)]
    if any(len(p) == 0 for p in pools):
        raise TrainingError("class-balanced training needs tumour and normal tiles; "
                            f"got {len(pools[0])} tumour and {len(pools[1])} normal tiles")
    orders = [rng.permutation(p) for p in pools]
    cursors = [0, 0]
    n_pos = batch_size // 2
    for _ in range(steps):
        parts = []
        for k, need in enumerate((n_pos, batch_size - n_pos)):
            got = []
            while need > 0:
                if cursors[k] == len(orders[k]):
                    orders[k] = rng.permutation(pools[k])
                    cursors[k] = 0
                take = min(need, len(orders[k]) - cursors[k])
                got.append(orders[k][cursors[k]:cursors[k] + take])
                cursors[k] += take
                need -= take
            parts.append(np.concatenate(got))
        batch = np.concatenate(parts)
        yield batch[rng.permutation(len(batch))]


def _input_statistics(tiles: np.ndarray, rng: np.random.Generator, n: int = 512):
    pick = tiles[rng.choice(len(tiles), size=min(n, len(tiles)), replace=False)]
    x = pick.reshape(-1, 3).astype(np.float32) / 255.0
    return x.mean(axis=0), np.maximum(x.std(axis=0), 1e-3)


def _fit_normalizer(method: str, tiles: np.ndarray, labels: np.ndarray, rng: np.random.Generator):
    """Fit the normalization target on a pooled sample of training tiles (both classes)."""
    norm = make_normalizer(method)
    if norm is None:
        return None
    pick = rng.choice(len(tiles), size=min(64, len(tiles)), replace=False)
    try:
        return norm.fit(tiles[np.sort(pick)])
    except ValueError as exc:
        raise TrainingError(f"cannot fit the {method} normalization target on the training tiles: {exc}") from exc


class BalancedTileBatches:
    """Batch source for :meth:`minicnn.training.Trainer.fit`: class-balanced minibatches of stored tiles.

    Each epoch draws ``steps`` batches with :func:`balanced_batches` from the trainer's generator and
    yields ``(tiles, targets)``: uint8 tiles (B, T, T, 3) and float32 targets (B, 1) for ``BCEWithLogits``.
    """

    def __init__(self, tiles: np.ndarray, labels: np.ndarray, batch_size: int, steps: int):
        self.tiles, self.labels = tiles, np.asarray(labels)
        self.batch_size, self.steps = int(batch_size), int(steps)

    def __len__(self) -> int:
        return self.steps * self.batch_size

    def batches(self, rng: np.random.Generator):
        if hasattr(self.tiles, "read_into"):
            # tiles read from a file (PatchCamelyon): the epoch's indices are drawn first, in this thread, and the
            # tiles are read two batches ahead on a background thread while the network trains
            from camelyon.dataset.reader import prefetch_iter

            order = list(balanced_batches(self.labels, self.batch_size, self.steps, rng))
            reads = ((self.tiles[idx], self.labels[idx].astype(np.float32)[:, None]) for idx in order)
            yield from prefetch_iter(reads, depth=2)
            return
        for idx in balanced_batches(self.labels, self.batch_size, self.steps, rng):
            yield self.tiles[idx], self.labels[idx].astype(np.float32)[:, None]


class _EpochReport:
    """Adds ``tiles_per_s`` to each epoch's record and, with ``progress``, prints the record on stdout
    when the Trainer does not (its own line needs a terminal; logs of ``camelyon train`` keep theirs)."""

    def __init__(self, tiles_per_epoch: int, progress: bool):
        self.tiles_per_epoch = tiles_per_epoch
        self.progress = progress

    def on_epoch_begin(self, trainer) -> None:
        pass

    def on_batch_loss(self, trainer, loss: float) -> None:
        pass

    def on_epoch_end(self, trainer, record: dict) -> None:
        record["tiles_per_s"] = round(self.tiles_per_epoch / max(record["time"], 1e-9), 1)
        if self.progress and not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
            tqdm.write("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()))

    def on_fit_end(self, trainer) -> None:
        pass


def _resume_state(ckpt: Path | None, resume: bool, settings: dict, n_train: int, tile: int) -> tuple[dict, int]:
    """The metadata and epoch of the checkpoint to resume from (``({}, 0)`` for a fresh run), checked."""
    from minicnn.training import checkpoint_info

    if not (resume and ckpt is not None and ckpt.exists()):
        return {}, 0
    try:
        info = checkpoint_info(ckpt)
    except ValueError as exc:
        raise TrainingError(f"cannot resume from {ckpt}: {exc}; delete it to start afresh (checkpoints written "
                            f"before camelyon trained through minicnn.training.Trainer cannot be resumed)") from None
    state = info["metadata"]
    if state.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{ckpt} is a minicnn checkpoint but not of a camelyon tile-CNN run; delete it to "
                            f"start afresh")
    if state.get("config") != json.loads(json.dumps(settings)):
        raise TrainingError(f"checkpoint {ckpt} was written with other settings ({state.get('config')}); "
                            f"rerun with the same options or delete it")
    if state.get("n_train") != n_train or state.get("tile_size") != tile:
        raise TrainingError(f"checkpoint {ckpt} was written for other training data; delete it to start afresh")
    if info["epoch"] > settings["epochs"]:
        raise TrainingError(f"checkpoint {ckpt} is damaged: it says epoch {info['epoch']}, for a run of "
                            f"{settings['epochs']} epochs; delete it to start afresh")
    return state, info["epoch"]


def _input_standardization(config: TrainingConfig, train: TileArrays, val: TileArrays | None, state: dict,
                           progress: bool):
    """Normalizer, normalized train/validation tiles and input mean/std (from the checkpoint on a resume)."""
    setup_rng = np.random.default_rng([config.seed, 1_000_003])
    if state:
        normalizer = normalizer_from_dict(state["normalization"])
    else:
        normalizer = _fit_normalizer(config.normalize, train.tiles, train.labels, setup_rng)
    train_tiles = train.tiles if normalizer is None else _normalize_all(normalizer, train.tiles, progress, "train")
    val_tiles = None
    if val is not None and len(val):
        val_tiles = val.tiles if normalizer is None else _normalize_all(normalizer, val.tiles, progress, "validation")
    if state:
        mean, std = np.asarray(state["input_mean"]), np.asarray(state["input_std"])
    else:
        mean, std = _input_statistics(train_tiles, setup_rng)
    return normalizer, train_tiles, val_tiles, mean, std


def train_tile_model(
    train: TileArrays,
    val: TileArrays | None,
    config: TrainingConfig,
    out=None,
    *,
    um_per_px: float,
    level: int | None = None,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
) -> TrainingResult:
    """Train the tile CNN on in-memory tiles; write the model, checkpoints and curves under ``out``.

    This is a configuration of :meth:`minicnn.training.Trainer.fit`: a class-balanced batch source,
    augmentation and input preparation as batch transforms, validation AUC as a metric, and the
    normalization and settings stored in the trainer's checkpoint.

    Parameters
    ----------
    train : TileArrays
        Training tiles (both classes needed).
    val : TileArrays or None
        Validation tiles (held-out patients); loss and AUC are recorded each epoch.
    config : TrainingConfig
    out : path-like, optional
        Model file to write (``.npz``). With ``out`` a checkpoint ``<stem>.checkpoint.npz`` is
        written after every epoch and a curve ``<stem>.training.png`` at the end.
    um_per_px : float
        Resolution of the tiles (stored in the model).
    level : int, optional
        Pyramid level of the tiles (stored in the model).
    resume : bool
        Continue from the checkpoint of ``out`` when there is one (it must come from the same
        settings).
    progress : bool
        Progress bars and one line per epoch.
    stop_after : int, optional
        Stop after this many epochs in total (as if interrupted; the checkpoint stays). For tests.

    Returns
    -------
    TrainingResult
    """
    from minicnn.training import NonFiniteLossError

    if len(train) == 0:
        raise TrainingError("no training tiles")
    tile = int(train.tiles.shape[1])
    if tile % 8:
        raise TrainingError(f"the tile CNN needs a tile size divisible by 8, got {tile} px")
    settings = asdict(config)
    ckpt = checkpoint_path(out) if out is not None else None
    state, start_epoch = _resume_state(ckpt, resume, settings, len(train), tile)
    normalizer, train_tiles, val_tiles, mean, std = _input_standardization(config, train, val, state, progress)
    model = TileModel.new(tile, um_per_px, level, normalizer, mean, std, seed=config.seed)
    network = model.network
    trainer = _tile_trainer(network, config, progress)
    steps = config.steps_per_epoch or max(1, math.ceil(len(train) / config.batch_size))
    source = BalancedTileBatches(train_tiles, train.labels, config.batch_size, steps)
    augmenter = TileAugmenter(True, True, config.stain_scale, config.stain_shift) if config.augment else None
    buf = None

    def prepare(x: np.ndarray) -> np.ndarray:
        nonlocal buf  # one input buffer for the whole run (validation chunks are never larger)
        buf = model.prepare(x, normalize=False, out=buf if buf is not None and len(buf) >= len(x) else None)
        return buf[: len(x)]

    metadata = {"format": CHECKPOINT_FORMAT, "config": settings, "n_train": len(train), "tile_size": tile,
                "normalization": None if normalizer is None else normalizer.to_dict(),
                "input_mean": [float(v) for v in mean], "input_std": [float(v) for v in std]}
    last = config.epochs if stop_after is None else min(config.epochs, int(stop_after))
    try:
        history = trainer.fit(
            source, epochs=last, batch_size=config.batch_size,
            X_val=val_tiles, y_val=None if val_tiles is None else val.labels.astype(np.float32)[:, None],
            checkpoint=ckpt, resume=resume, augment=None if augmenter is None else (lambda x, rng: augmenter(x, rng=rng)),
            prepare=prepare, callbacks=[_EpochReport(steps * config.batch_size, progress)], checkpoint_metadata=metadata)
    except NonFiniteLossError as exc:
        raise TrainingError(f"{exc} The checkpoint of the last finished epoch is kept; try a smaller --lr.") from exc
    network.eval()
    return _finish(model, dict(history), config, len(train), 0 if val is None else len(val), start_epoch, out)


def _tile_trainer(network, config: TrainingConfig, progress: bool):
    """The :class:`minicnn.training.Trainer` of the tile CNN: Adam, cosine schedule, BCE, validation AUC."""
    from minicnn.losses import BCEWithLogits
    from minicnn.optim import Adam
    from minicnn.schedules import CosineLR
    from minicnn.training import Trainer, binary_auc

    if hasattr(network.layers[0], "input_grad"):
        network.layers[0].input_grad = False  # nothing needs the gradient of the input tiles
    optimizer = Adam(network.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = CosineLR(optimizer, t_max=config.epochs, eta_min=config.lr / 20)
    return Trainer(network, BCEWithLogits(), optimizer, scheduler=scheduler, metrics={"auc": binary_auc},
                   progress=progress, seed=config.seed)


def _finish(model: TileModel, history: dict, config: TrainingConfig, n_train: int, n_val: int,
            start_epoch: int, out) -> TrainingResult:
    """The result; when all epochs are done and ``out`` is given, the model file and curves replace the checkpoint."""
    done = len(history.get("epoch", []))
    model.extra = {"training": asdict(config), "history": history, "n_train": n_train, "n_val": n_val,
                   "epochs_done": done}
    result = TrainingResult(model, history, resumed_from=start_epoch)
    if out is not None and done == config.epochs:
        result.model_path = model.save(out)
        result.curve_path = plot_training_curves(history, curve_path(out),
                                                 title=f"tile CNN, normalization {config.normalize}"
                                                       f"{' + augmentation' if config.augment else ''}")
        checkpoint_path(out).unlink(missing_ok=True)  # the run is complete: the model file replaces the checkpoint
    return result


def _normalize_all(normalizer, tiles: np.ndarray, progress: bool, what: str, chunk: int = 256) -> np.ndarray:
    out = np.empty_like(tiles)
    bar = tqdm(total=len(tiles), desc=f"{normalizer.method} ({what})", unit="tile",
               disable=not progress or None, leave=False)
    for start in range(0, len(tiles), chunk):
        out[start:start + chunk] = normalizer.transform(tiles[start:start + chunk])
        bar.update(min(chunk, len(tiles) - start))
    bar.close()
    return out


def plot_training_curves(history: dict, path, title: str = "tile CNN") -> Path:
    """PNG of training/validation loss and validation AUC per epoch (written atomically)."""
    from camelyon.figures import new_figure, save_figure

    epochs = history.get("epoch", [])
    fig = new_figure(figsize=(9, 3.5))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(epochs, history.get("loss", []), "o-", label="training")
    if "val_loss" in history:
        ax1.plot(epochs, history["val_loss"], "s-", label="validation")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("binary cross-entropy")
    ax1.legend()
    ax1.grid(alpha=0.3)
    if "val_auc" in history:
        ax2.plot(epochs, history["val_auc"], "s-", color="C2")
        # the top leaves a little room above AUC 1, so that a perfect curve is not drawn on the frame
        ax2.set_ylim(max(0.0, min([a for a in history["val_auc"] if a == a] + [0.5]) - 0.05), 1.02)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation tile AUC")
    ax2.grid(alpha=0.3)
    from matplotlib.ticker import MaxNLocator

    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def load_store_tiles(store_path, max_bytes: int = 4 << 30, progress: bool = True) -> tuple[TileArrays, dict]:
    """Read every tile of a tile store into memory.

    Parameters
    ----------
    store_path : path-like
        HDF5 tile store written by ``camelyon tiles``.
    max_bytes : int
        Refuse stores whose tiles would take more memory than this.

    Returns
    -------
    tiles : TileArrays
        With patients (names) and centres.
    info : dict
        ``tile_size``, ``level``, ``um_per_px`` of the store.
    """
    from camelyon.dataset import TileStore

    path = Path(store_path)
    if not path.is_file():
        raise TrainingError(f"tile store not found: {path}")
    with TileStore(path) as store:
        n = len(store)
        t = int(store.tile_size)
        if n == 0:
            raise TrainingError(f"{path} holds no tiles")
        need = n * t * t * 3
        if need > max_bytes:
            raise TrainingError(f"{path}: {n} tiles of {t} px need {need / 2**30:.1f} GiB of memory (limit "
                                f"{max_bytes / 2**30:.1f} GiB); build a smaller store (cap negatives per slide)")
        tiles = np.empty((n, t, t, 3), np.uint8)
        labels = np.asarray(store.labels).astype(np.int64)
        bar = tqdm(total=n, desc=f"reading {path.name}", unit="tile", disable=not progress or None, leave=False)
        chunk = 2048
        for start in range(0, n, chunk):
            idx = np.arange(start, min(n, start + chunk))
            tiles[idx], _ = store.read_batch(idx)
            bar.update(len(idx))
        bar.close()
        info = {"tile_size": t, "level": None if store.level < 0 else int(store.level),
                "um_per_px": float(store.um_per_px)}
        patients = np.asarray(store.patients).astype(str)
        centers = np.asarray(store.centers)
    return TileArrays(tiles, labels, patients, centers), info


def _no_validation_message(data: TileArrays, val_fraction: float) -> str:
    """Why a split by patient left no validation tiles, and what to do about it."""
    patients = np.unique(data.patients)
    with_tumour = len(np.unique(data.patients[data.labels == 1]))
    need = math.ceil(1.0 / val_fraction - 1e-9)
    return (
        f"no validation tiles: the store holds {count_noun(len(patients), 'patient')} "
        f"({with_tumour} with tumour tiles) and a validation fraction of {val_fraction:g} holds out none of "
        f"them (whole patients are held out, tumour and tumour-free patients separately), so there will be no "
        f"validation loss or AUC. Tile more patients into the store (about {need} with tumour and {need} "
        f"without at {val_fraction:g}), or raise the fraction (camelyon train --val-fraction, "
        f"PipelineConfig.val_fraction); a fraction of 0 trains without validation on purpose and without "
        f"this warning."
    )


def train_from_store(store_path, out, config: TrainingConfig, *, resume: bool = False,
                     progress: bool = True, stop_after: int | None = None) -> TrainingResult:
    """Train the tile CNN on a tile store, validating on held-out patients.

    Parameters
    ----------
    store_path : path-like
        HDF5 tile store.
    out : path-like
        Model file to write (``.npz``); the checkpoint, the curve PNG and a history JSON go next
        to it (``<stem>.checkpoint.npz``, ``<stem>.training.png``, ``<stem>.history.json``).
    config : TrainingConfig
    resume : bool
        Continue an interrupted run from its checkpoint.
    progress : bool
    stop_after : int, optional
        Stop after this many epochs (as if interrupted).

    Returns
    -------
    TrainingResult
    """
    from camelyon.dataset import split_by_patient

    data, info = load_store_tiles(store_path, progress=progress)
    if config.val_fraction > 0 and len(np.unique(data.patients)) >= 2:
        parts = split_by_patient(data.patients, {"train": 1.0 - config.val_fraction, "val": config.val_fraction},
                                 seed=config.seed, labels=data.labels)
        train_idx, val_idx = parts["train"], parts["val"]
    else:
        train_idx, val_idx = np.arange(len(data)), np.zeros(0, np.int64)
    train, val = data.subset(train_idx), (data.subset(val_idx) if len(val_idx) else None)
    if val is None and config.val_fraction > 0:
        warnings.warn(_no_validation_message(data, config.val_fraction), UserWarning, stacklevel=2)
    elif val is not None and len(np.unique(val.labels)) < 2:
        only = "tumour" if val.labels[0] == 1 else "normal"
        n_val = len(np.unique(val.patients))
        warnings.warn(
            f"the {count_noun(n_val, 'validation patient')} hold{'s' if n_val == 1 else ''} only {only} tiles, so the validation "
            f"AUC is undefined (NaN); the validation loss is still computed. Tile more patients with and without "
            f"tumour into the store, or raise the validation fraction.",
            UserWarning, stacklevel=2)
    if progress:
        n_val_p = 0 if val is None else len(np.unique(val.patients))
        tqdm.write(f"{len(train)} training tiles ({int(train.labels.sum())} tumour) from "
                   f"{len(np.unique(train.patients))} patients; {0 if val is None else len(val)} validation tiles "
                   f"({0 if val is None else int(val.labels.sum())} tumour) from {n_val_p} patients")
    result = train_tile_model(train, val, config, out, um_per_px=info["um_per_px"], level=info["level"],
                              resume=resume, progress=progress, stop_after=stop_after)
    result.model.extra["store"] = str(Path(store_path).name)
    result.model.extra["val_patients"] = [] if val is None else sorted(np.unique(val.patients).tolist())
    if result.model_path is not None:
        result.model.save(result.model_path)
        hist = Path(out).with_name(Path(out).stem + ".history.json")
        write_json(hist, result.history, indent=1)
    return result
