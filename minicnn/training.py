"""Training loop: minibatches, validation each epoch, history, early stopping, checkpoints.

Three Gaussian clouds in the plane, a small network, 20 epochs (well under a second):

>>> import tempfile
>>> from pathlib import Path
>>> from minicnn import Sequential
>>> from minicnn.datasets import make_blobs, train_test_split
>>> from minicnn.layers import Dense, ReLU
>>> from minicnn.losses import SoftmaxCrossEntropy
>>> from minicnn.optim import Adam
>>> X, y = make_blobs(600, n_classes=3, seed=0)                   # X (600, 2) float32, y (600,) int64
>>> X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, seed=0)
>>> model = Sequential(Dense(2, 32, rng=0), ReLU(), Dense(32, 3, rng=1))
>>> trainer = Trainer(model, SoftmaxCrossEntropy(), Adam(model.parameters(), lr=1e-2), progress=False, seed=0)
>>> with tempfile.TemporaryDirectory() as run:                    # e.g. "runs/blobs" in a real run
...     history = trainer.fit(X_train, y_train, epochs=20, batch_size=32, X_val=X_val, y_val=y_val,
...                           checkpoint=Path(run) / "checkpoint.npz", early_stopping=5)
>>> len(history["loss"]), trainer.epoch
(20, 20)
>>> history["val_accuracy"][-1] > 0.95
True

``fit`` takes arrays ``(X, y)`` or any batch source: an object with ``batches(rng)`` that yields
``(x, y)`` minibatches for one epoch (a tile store's class-balanced sampler, a generator of augmented
images), or a re-iterable collection of ``(x, y)`` pairs. ``augment(x, rng)`` transforms each training batch
(flips, stain jitter), ``prepare(x)`` turns stored data into network input for training and validation
batches alike (uint8 tiles -> standardized float32 NCHW); extra metrics (``"auc"``) are recorded on the
validation data, and callbacks see every batch loss and every epoch record.

Everything random in the loop (the order of the samples in each epoch, the batch source's draws and the
augmentation) comes from one generator seeded by ``seed``. A checkpoint written at the end of each epoch holds the model, the optimizer's moments, the
schedule, the generator states, the history and the early-stopping state, so that a run interrupted and
started again with the same arguments ends with exactly the same weights (bit for bit) as a run that was
never interrupted.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from minicnn.io import save_npz
from minicnn.npz_files import open_npz
from minicnn.sequential import Sequential

__all__ = [
    "ArrayBatches",
    "Callback",
    "DivergenceError",
    "EarlyStopping",
    "History",
    "NonFiniteLossError",
    "Trainer",
    "accuracy",
    "binary_auc",
    "checkpoint_info",
    "minibatch_indices",
]

CHECKPOINT_FORMAT = 1


class NonFiniteLossError(ValueError):
    """The loss became NaN or infinite: training stops before the bad gradient reaches the weights."""


class DivergenceError(NonFiniteLossError):
    """The loss or the weights grow without bound (still finite): training stops before they overflow."""


#: Training stops when a batch loss is above DIVERGED_LOSS_MIN and above DIVERGENCE_FACTOR times the
#: lowest batch loss seen so far (a loss 1000x its best has left any useful region).
DIVERGENCE_FACTOR = 1e3
DIVERGED_LOSS_MIN = 100.0
#: ... or when a weight's magnitude exceeds WEIGHT_LIMIT (checked every WEIGHT_CHECK_EVERY batches).
WEIGHT_LIMIT = 1e8
WEIGHT_CHECK_EVERY = 20


def accuracy(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Fraction of correct predictions from raw scores.

    Parameters
    ----------
    y_true : ndarray of shape (N,)
        Integer classes (multi-class) or 0/1 targets (binary).
    scores : ndarray of shape (N, C) with C >= 2 (argmax), or (N,) / (N, 1) (one logit: positive when > 0)

    Returns
    -------
    float in [0, 1]
    """
    scores = np.asarray(scores)
    y_true = np.asarray(y_true).reshape(len(scores), -1)[:, 0] if np.ndim(y_true) > 1 else np.asarray(y_true)
    if scores.ndim == 2 and scores.shape[1] >= 2:
        pred = scores.argmax(axis=1)
    else:
        pred = (scores.reshape(len(scores)) > 0).astype(np.int64)
        y_true = (y_true > 0.5).astype(np.int64)
    return float(np.mean(pred == y_true))


def binary_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of one logit (or positive-class score) per sample; NaN when ``y_true`` holds one class only.

    Parameters
    ----------
    y_true : ndarray of shape (N,) or (N, 1), 0/1
    scores : ndarray of shape (N,) or (N, 1)
    """
    from minicnn.metrics import roc_auc_score

    y_true = (np.asarray(y_true).reshape(-1) > 0.5).astype(np.int64)
    if len(np.unique(y_true)) < 2:
        return float("nan")
    return float(roc_auc_score(y_true, np.asarray(scores, dtype=np.float64).reshape(-1)))


BUILTIN_METRICS: dict[str, Callable] = {"accuracy": accuracy, "auc": binary_auc}


def minibatch_indices(order: np.ndarray, batch_size: int):
    """Yield consecutive slices of ``order`` of length ``batch_size`` (the last one may be shorter)."""
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def _counted(batches, bar):
    """Pass the batches through, advancing the progress bar by each batch's size."""
    for idx in batches:
        yield idx
        bar.update(len(idx))


class ArrayBatches:
    """The batch source of in-memory arrays: a new random order of the samples every epoch.

    Parameters
    ----------
    X : ndarray of shape (N, ...)
    y : ndarray of shape (N, ...)
    batch_size : int
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, batch_size: int):
        self.X, self.y, self.batch_size = X, y, int(batch_size)

    def __len__(self) -> int:
        return len(self.X)

    def batches(self, rng: np.random.Generator):
        """Yield ``(x, y)`` minibatches of one epoch, in the order ``rng.permutation(N)``."""
        for idx in minibatch_indices(rng.permutation(len(self.X)), self.batch_size):
            yield self.X[idx], self.y[idx]


class _ReplayedBatches:
    """A re-iterable collection of ``(x, y)`` pairs used as a batch source (the same batches every epoch)."""

    def __init__(self, collection):
        self.collection = collection

    def batches(self, rng):
        return iter(self.collection)


def _as_batch_source(X, what: str):
    """``X`` as a batch source: an object with ``batches(rng)``, or a re-iterable collection of ``(x, y)``."""
    names = {"training data": ("X", "y"), "validation data": ("X_val", "y_val")}.get(what, ("X", "y"))
    if isinstance(X, np.ndarray):
        raise ValueError(f"Trainer.fit: {what} inputs {names[0]} need their targets {names[1]} "
                         f"(or pass a batch source as {names[0]})")
    if callable(getattr(X, "batches", None)):
        return X
    if isinstance(X, Iterable) and iter(X) is not X:
        return _ReplayedBatches(X)
    raise ValueError(f"Trainer.fit: {names[0]} ({what}) must be arrays (with {names[1]}), an object with batches(rng) "
                     f"yielding (x, y) minibatches, or a collection of (x, y) pairs that can be iterated once per "
                     f"epoch; got {type(X).__name__}" + (" (a one-shot iterator cannot be replayed each epoch or "
                                                         "after a resume)" if isinstance(X, Iterable) else ""))


class _Batch:
    """One minibatch as :meth:`Trainer.train_epoch` sees it: ``X[batch]`` is its input, ``y[batch]`` its target."""

    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)


class _Part:
    """``_Part("x")[batch]`` is ``batch.x``: lets ``train_epoch(X, y, batches)`` run on any batch source."""

    def __init__(self, name: str):
        self.name = name

    def __getitem__(self, batch: _Batch):
        return getattr(batch, self.name)


class Callback:
    """Hooks into :meth:`Trainer.fit`; subclass and override what you need (all do nothing here).

    ``on_batch_loss`` runs before the weights are updated with the batch (raise to stop without the update),
    ``on_epoch_end`` may add keys to the epoch's record (before it enters the history) and returns True to
    stop training after this epoch.
    """

    def on_epoch_begin(self, trainer: Trainer) -> None:
        """Called before the first batch of each epoch (``trainer.epoch`` epochs are done)."""

    def on_batch_loss(self, trainer: Trainer, loss: float) -> None:
        """Called with the loss of each training batch, before the optimizer step."""

    def on_epoch_end(self, trainer: Trainer, record: dict) -> bool | None:
        """Called with the epoch's record (``record["epoch"]`` is the epoch just finished)."""
        return None

    def on_fit_end(self, trainer: Trainer) -> None:
        """Called when ``fit`` returns normally."""


class History(dict):
    """Per-epoch records: a dict name -> list with one value per epoch.

    Keys: ``"epoch"`` (1-based), ``"loss"`` (mean training loss), ``"lr"`` (learning rate used),
    ``"time"`` (seconds), and with validation data ``"val_loss"`` and ``"val_<metric>"``; callbacks may add
    more (``camelyon.training`` adds ``"tiles_per_s"``).
    Attribute ``stopped_early`` is True when early stopping ended the run.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stopped_early = False

    def append(self, record: Mapping[str, float]) -> None:
        for key, value in record.items():
            self.setdefault(key, []).append(value)

    @property
    def epochs(self) -> int:
        return len(self.get("epoch", []))


class EarlyStopping:
    """Stop when a monitored value has not improved for ``patience`` epochs.

    Parameters
    ----------
    patience : int
        Epochs without improvement allowed before stopping.
    monitor : str
        A history key, e.g. ``"val_loss"`` or ``"val_accuracy"``.
    mode : {"auto", "min", "max"}
        Whether lower or higher is better; "auto" means "max" for accuracy-like names, else "min".
    min_delta : float
        Smallest change that counts as an improvement.
    restore_best : bool
        At the end of ``fit``, put back the weights of the best epoch.
    """

    def __init__(self, patience: int = 5, monitor: str = "val_loss", mode: str = "auto", min_delta: float = 0.0,
                 restore_best: bool = True):
        if int(patience) != patience or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an integer >= 0, got {patience}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if any(w in monitor for w in ("acc", "auc", "kappa", "f1", "precision", "recall")) else "min"
        self.patience = int(patience)
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(float(min_delta))
        self.restore_best = bool(restore_best)
        self.reset()

    def reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.wait = 0
        self.best_state: dict[str, np.ndarray] | None = None

    def update(self, value: float, epoch: int, model: Sequential) -> bool:
        """Record the value of epoch ``epoch``; return True when training should stop."""
        better = value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        if better:
            self.best, self.best_epoch, self.wait = float(value), int(epoch), 0
            if self.restore_best:
                self.best_state = model.state_dict()
        else:
            self.wait += 1
        return self.wait > self.patience

    def state_dict(self) -> dict[str, np.ndarray]:
        d = {"best": np.array(self.best), "best_epoch": np.array(self.best_epoch), "wait": np.array(self.wait)}
        if self.best_state is not None:
            d.update({f"best_state/{k}": v for k, v in self.best_state.items()})
        return d

    def load_state_dict(self, d: Mapping[str, np.ndarray]) -> None:
        self.best = float(d["best"])
        self.best_epoch = int(d["best_epoch"])
        self.wait = int(d["wait"])
        prefix = "best_state/"
        best = {k[len(prefix):]: np.array(v) for k, v in d.items() if k.startswith(prefix)}
        self.best_state = best or None


def _generator_states(model: Sequential) -> dict[str, object]:
    """Bit-generator states of the layers that draw random numbers while training (Dropout)."""
    states = {}
    for i, layer in enumerate(model.layers):
        for name, value in vars(layer).items():
            if isinstance(value, np.random.Generator):
                states[f"{i}/{name}"] = value.bit_generator.state
    return states


def _set_generator_states(model: Sequential, states: Mapping[str, object]) -> None:
    for key, state in states.items():
        i, name = key.split("/", 1)
        getattr(model.layers[int(i)], name).bit_generator.state = state


class Trainer:
    """Train a :class:`~minicnn.Sequential` model with minibatch gradient descent.

    Parameters
    ----------
    model : minicnn.Sequential
    loss : minicnn.losses.Loss
        E.g. ``SoftmaxCrossEntropy()`` for class scores, ``BCEWithLogits()`` for one logit.
    optimizer : minicnn.optim.Optimizer
        Built on ``model.parameters()``.
    scheduler : minicnn.schedules.LRSchedule, optional
        Stepped once at the end of every epoch.
    metrics : dict name -> callable(y_true, scores) -> float, or list of names, optional
        Computed on the validation data each epoch and recorded as ``"val_<name>"``. Built-in name:
        ``"accuracy"``. Default: accuracy for classification losses, none for MSE.
    progress : bool
        Show a tqdm bar per epoch. It is also quiet when standard error is not a terminal.
    seed : int or numpy.random.Generator
        Seeds the shuffling of the samples.

    Attributes
    ----------
    history : History
        Per-epoch records (see :class:`History`).
    epoch : int
        Number of epochs completed.
    """

    def __init__(self, model: Sequential, loss, optimizer, scheduler=None, metrics=None, progress: bool = True,
                 seed=0):
        for attr in ("forward", "backward", "predict", "state_dict"):
            if not callable(getattr(model, attr, None)):
                raise ValueError(f"Trainer: model must be a minicnn.Sequential (no {attr}() on "
                                 f"{type(model).__name__})")
        if not (callable(getattr(loss, "forward", None)) and callable(getattr(loss, "backward", None))):
            raise ValueError(f"Trainer: loss must be a minicnn.losses loss object, got {type(loss).__name__}")
        if not (callable(getattr(optimizer, "step", None)) and hasattr(optimizer, "state_dict")):
            raise ValueError(f"Trainer: optimizer must be a minicnn.optim optimizer, got {type(optimizer).__name__}")
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.metrics = self._resolve_metrics(metrics, loss)
        self.progress = bool(progress)
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.history = History()
        self.epoch = 0
        self.batch = 0  # number of the current batch inside the epoch (from 1), for error messages
        self.early_stopping: EarlyStopping | None = None
        self.callbacks: list[Callback] = []
        self.checkpoint_metadata: dict = {}

    @staticmethod
    def _resolve_metrics(metrics, loss) -> dict[str, Callable]:
        if metrics is None:
            name = type(loss).__name__
            return {"accuracy": accuracy} if name in ("SoftmaxCrossEntropy", "BCEWithLogits") else {}
        if isinstance(metrics, Mapping):
            resolved = dict(metrics)
        elif isinstance(metrics, Sequence) and not isinstance(metrics, str):
            resolved = {}
            for m in metrics:
                if m not in BUILTIN_METRICS:
                    raise ValueError(f"Trainer: unknown metric {m!r}; built-in metrics: {sorted(BUILTIN_METRICS)} "
                                     f"(or pass a dict name -> function(y_true, scores))")
                resolved[m] = BUILTIN_METRICS[m]
        else:
            raise ValueError(f"Trainer: metrics must be a dict name -> function or a list of names, got {metrics!r}")
        for name, fn in resolved.items():
            if not callable(fn):
                raise ValueError(f"Trainer: metric {name!r} is not callable")
        return resolved

    # ------------------------------------------------------------ one batch
    def check_finite(self, loss: float) -> None:
        """Raise :class:`NonFiniteLossError` if ``loss`` is NaN or infinite (before any weight changes).

        Also raises :class:`DivergenceError` (a NonFiniteLossError) when training diverges while
        still finite: the loss is above :data:`DIVERGED_LOSS_MIN` and :data:`DIVERGENCE_FACTOR` times
        the lowest loss so far, or a weight is larger than :data:`WEIGHT_LIMIT` in magnitude
        (checked every :data:`WEIGHT_CHECK_EVERY` batches). Then the callbacks' ``on_batch_loss`` hooks
        see the loss, still before the update.
        """
        where = f"at epoch {self.epoch + 1}, batch {self.batch}"
        causes = (f"Usual causes: a learning rate too high for this model (now {getattr(self.optimizer, 'lr', '?')}), "
                  "inputs containing NaN/inf, or inputs that are not normalised.")
        if not math.isfinite(loss):
            raise NonFiniteLossError(
                f"training stopped: the {type(self.loss).__name__} loss is {loss} {where}. The weights were not "
                f"updated with this batch. {causes}"
            )
        best = getattr(self, "_best_loss", math.inf)
        if loss > DIVERGED_LOSS_MIN and loss > DIVERGENCE_FACTOR * best:
            raise DivergenceError(
                f"training stopped: it diverges, the {type(self.loss).__name__} loss is {loss:.4g} {where}, "
                f"more than {DIVERGENCE_FACTOR:g} times its lowest value so far ({best:.4g}). {causes}"
            )
        self._best_loss = min(best, float(loss))
        self._checks = getattr(self, "_checks", 0) + 1
        if self._checks % WEIGHT_CHECK_EVERY == 0:
            largest = max((float(np.abs(p).max()) for p, _ in self.model.parameters() if p.size), default=0.0)
            if not largest <= WEIGHT_LIMIT:
                raise DivergenceError(
                    f"training stopped: it diverges, a weight has magnitude {largest:.3g} {where} (limit "
                    f"{WEIGHT_LIMIT:g}). {causes}"
                )
        for callback in self.callbacks:
            callback.on_batch_loss(self, loss)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One minibatch of gradient descent: forward, loss, backward, optimizer step.

        Parameters
        ----------
        x : ndarray of shape (B, ...)
            Inputs of the batch.
        y : ndarray of shape (B,) (or what the loss expects)
            Targets of the batch.

        Returns
        -------
        float
            The loss of this batch, computed before the update.

        Raises
        ------
        NonFiniteLossError
            If the loss is NaN or infinite; the weights are then left unchanged.
        """
        self.batch += 1
        ### BEGIN SOLUTION (G06) forward, loss (then self.check_finite(loss)), zero_grad, backward, optimizer step
        scores = self.model.forward(x)
        loss = self.loss.forward(scores, y)
        self.check_finite(loss)
        self.optimizer.zero_grad()
        self.model.backward(self.loss.backward())
        self.optimizer.step()
        return loss
        ### END SOLUTION

    def train_epoch(self, X: np.ndarray, y: np.ndarray, batches) -> float:
        """One pass over the training data.

        Parameters
        ----------
        X, y : ndarrays of shape (N, ...) and (N, ...)
            All training data.
        batches : iterable of ndarray of int
            Indices into ``X`` and ``y`` of each minibatch, in order (a shuffled partition of ``0 .. N-1``).
            (:meth:`fit` passes minibatches of any batch source the same way: ``X[batch]`` is the batch's
            input, ``y[batch]`` its target and ``len(batch)`` its size.)

        Returns
        -------
        float
            Mean training loss over the samples of the epoch (each batch weighted by its size).
        """
        self.batch = 0
        ### BEGIN SOLUTION (G06) call self.train_step on each batch (X[idx], y[idx]); return the sample-weighted mean loss
        total, count = 0.0, 0
        for idx in batches:
            loss = self.train_step(X[idx], y[idx])
            total += loss * len(idx)
            count += len(idx)
        return total / count
        ### END SOLUTION

    # ------------------------------------------------------------ evaluation
    def evaluate(self, X, y=None, batch_size: int = 256, prepare: Callable | None = None
                 ) -> dict[str, float]:
        """Loss and metrics of the model on ``(X, y)`` in evaluation mode.

        Parameters
        ----------
        X, y : ndarrays of shape (N, ...)
            Inputs and targets; or, with ``y`` left out, a batch source as :meth:`fit` takes it (an object
            with ``batches(rng)``, or a re-iterable collection of ``(x, y)`` pairs): its batches are
            drawn with a generator seeded 0, so a random source gives the same batches at every call.
        batch_size : int
            Samples per forward pass.
        prepare : callable, optional
            ``prepare(x)`` turns a chunk of ``X`` into network input (applied chunk by chunk, so that the
            prepared data never need to be in memory all at once).

        Returns
        -------
        dict
            ``{"loss": ..., "<metric>": ...}``.
        """
        if y is None:
            X, y = self._predict_source(_as_batch_source(X, "evaluation data"), batch_size, prepare)
            scores, X = X, None
        elif prepare is None:
            scores = self.model.predict(X, batch_size=batch_size)
        else:
            scores = np.concatenate([self.model.predict(prepare(X[i:i + batch_size]), batch_size=batch_size)
                                     for i in range(0, len(X), batch_size)])
        result = {"loss": float(self.loss.forward(scores, y))}
        for name, fn in self.metrics.items():
            result[name] = float(fn(y, scores))
        return result

    def _predict_source(self, source, batch_size: int, prepare: Callable | None):
        """(scores, targets) of every batch of ``source``, concatenated in the order drawn."""
        scores, targets = [], []
        for x, y in source.batches(np.random.default_rng(0)):
            scores.append(self.model.predict(x if prepare is None else prepare(x), batch_size=batch_size))
            targets.append(np.asarray(y))
        if not scores:
            raise ValueError(f"Trainer: the batch source {type(source).__name__} gave no validation batch")
        return np.concatenate(scores), np.concatenate(targets)

    # ------------------------------------------------------------ the loop
    def _bar_disabled(self) -> bool:
        if not self.progress:
            return True
        stream = sys.stderr
        return not (hasattr(stream, "isatty") and stream.isatty())

    @staticmethod
    def _check_data(X, y, what: str):
        X = np.asarray(X)
        y = np.asarray(y)
        if X.ndim < 2:
            raise ValueError(f"Trainer.fit: {what} inputs must have shape (N, ...) with features, got shape {X.shape}")
        if len(X) == 0:
            raise ValueError(f"Trainer.fit: {what} data is empty")
        if len(y) != len(X):
            raise ValueError(f"Trainer.fit: {what} has {len(X)} inputs but {len(y)} targets")
        return X, y

    def _batch_source(self, X, y, batch_size: int):
        """``(X, y)`` arrays as an :class:`ArrayBatches`, or ``X`` itself as a batch source."""
        if y is not None:
            X, y = self._check_data(X, y, "training data")
            return ArrayBatches(X, y, batch_size), X.shape[1:]
        return _as_batch_source(X, "training data"), None

    def _check_fit_arguments(self, epochs, batch_size, X_val, y_val, sample_shape, early_stopping):
        if X_val is None and y_val is not None:
            raise ValueError("Trainer.fit: y_val without X_val; give both, or a batch source as X_val")
        if X_val is not None and y_val is None:
            X_val = _as_batch_source(X_val, "validation data")
        elif X_val is not None:
            X_val, y_val = self._check_data(X_val, y_val, "validation data")
            if sample_shape is not None and X_val.shape[1:] != sample_shape:
                raise ValueError(f"Trainer.fit: validation inputs have shape {X_val.shape}, but training inputs "
                                 f"(N, {', '.join(map(str, sample_shape))}); each sample must have the same shape "
                                 f"{sample_shape}")
        if epochs is None or int(epochs) != epochs or epochs < 0:
            raise ValueError(f"Trainer.fit: epochs must be an integer >= 0, got {epochs}")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"Trainer.fit: batch_size must be a positive integer, got {batch_size}")
        if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
            early_stopping = EarlyStopping(patience=early_stopping)
        if early_stopping is not None and early_stopping.monitor.startswith("val_") and X_val is None:
            raise ValueError(f"Trainer.fit: early stopping monitors {early_stopping.monitor!r}, "
                             f"which needs validation data (X_val, y_val, or a batch source as X_val)")
        return int(epochs), int(batch_size), X_val, y_val, early_stopping

    def fit(self, X, y=None, epochs: int | None = None, batch_size: int = 32, X_val=None, y_val=None,
            checkpoint=None, early_stopping=None, resume: bool = True, *, augment: Callable | None = None,
            prepare: Callable | None = None, callbacks: Sequence[Callback] = (),
            checkpoint_metadata: Mapping | None = None) -> History:
        """Train until ``epochs`` epochs have been completed in total.

        Parameters
        ----------
        X : ndarray of shape (N, ...), or a batch source
            Training inputs (e.g. images (N, C, H, W) float32) with their targets ``y``; or, with ``y`` left
            out, an object with ``batches(rng)`` yielding one epoch of ``(x, y)`` minibatches (drawing any
            randomness from ``rng``), or a collection of ``(x, y)`` pairs iterated once per epoch.
        y : ndarray of shape (N,) (or what the loss expects), optional
            Training targets, with arrays ``X``.
        epochs : int
            Total number of epochs; after a resume, training continues up to this number.
        batch_size : int
            Minibatch size with arrays (a batch source decides its own); also the chunk size of validation.
        X_val, y_val : ndarrays, optional
            Validation data, evaluated at the end of every epoch; or, with ``y_val`` left out, a batch
            source as for ``X`` (e.g. a tile store's reader that loads tiles chunk by chunk), drawn with a
            generator seeded 0 each epoch (its own, not the training one: the same validation batches
            every epoch, and a resume stays bit-identical).
        checkpoint : str or Path, optional
            A ``.npz`` file written (atomically) at the end of every epoch. If it exists when ``fit``
            starts and ``resume`` is True, training continues from it.
        early_stopping : int or EarlyStopping, optional
            Patience in epochs (monitoring ``val_loss``), or an :class:`EarlyStopping`.
        resume : bool
            Continue from ``checkpoint`` if the file exists (otherwise it is overwritten).
        augment : callable, optional
            ``augment(x, rng) -> x``: a random transform of each training batch (not of validation data).
        prepare : callable, optional
            ``prepare(x) -> x``: turns stored samples into network input, for training batches (after
            ``augment``) and validation chunks alike.
        callbacks : sequence of Callback
            Hooks called at each epoch's start and end and with each batch loss.
        checkpoint_metadata : mapping, optional
            JSON-able facts stored in the checkpoint (settings, normalisation), read back with
            :func:`checkpoint_info` before a resume.

        Returns
        -------
        History
            ``self.history``.

        Raises
        ------
        NonFiniteLossError
            When the loss becomes NaN or infinite.
        """
        source, sample_shape = self._batch_source(X, y, batch_size)
        epochs, batch_size, X_val, y_val, early_stopping = self._check_fit_arguments(
            epochs, batch_size, X_val, y_val, sample_shape, early_stopping)
        self.early_stopping = early_stopping
        self.callbacks = list(callbacks)
        self.checkpoint_metadata = dict(checkpoint_metadata or {})
        if checkpoint is not None and resume and Path(checkpoint).exists():
            self.load_checkpoint(checkpoint)
            if not self._bar_disabled():
                tqdm.write(f"resuming after epoch {self.epoch} from {checkpoint}")
        while self.epoch < epochs and not self.history.stopped_early:
            record = self._run_epoch(source, epochs, augment, prepare)
            if X_val is not None:
                scores = self.evaluate(X_val, y_val, batch_size=256 if prepare is None else batch_size,
                                       prepare=prepare)
                record.update({f"val_{k}": v for k, v in scores.items()})
            if self.scheduler is not None:
                self.scheduler.step()
            self.epoch += 1
            stop = self._end_epoch(record, checkpoint)
            if stop:
                break
        if early_stopping is not None and early_stopping.restore_best and early_stopping.best_state is not None:
            self.model.load_state_dict(early_stopping.best_state, source="early stopping best weights")
        for callback in self.callbacks:
            callback.on_fit_end(self)
        return self.history

    def _run_epoch(self, source, epochs: int, augment, prepare) -> dict:
        """Train one epoch on ``source``; the epoch's record so far (epoch, loss, lr; time counts from here)."""
        self._epoch_started = time.perf_counter()
        lr = float(getattr(self.optimizer, "lr", float("nan")))
        for callback in self.callbacks:
            callback.on_epoch_begin(self)
        self.model.train()
        rng = self.rng

        count = 0

        def batches():
            nonlocal count
            for x, y in source.batches(rng):
                if augment is not None:
                    x = augment(x, rng)
                if prepare is not None:
                    x = prepare(x)
                count += 1
                yield _Batch(x, y)

        total = len(source) if hasattr(source, "__len__") else None
        with tqdm(total=total, desc=f"epoch {self.epoch + 1}/{epochs}", unit="img", leave=False,
                  disable=self._bar_disabled(), dynamic_ncols=True) as bar:
            try:
                train_loss = self.train_epoch(_Part("x"), _Part("y"), _counted(batches(), bar))
            except ZeroDivisionError:
                if count:
                    raise
                raise ValueError(f"Trainer.fit: the batch source {type(source).__name__} gave no batch in epoch "
                                 f"{self.epoch + 1}") from None
        return {"epoch": self.epoch + 1, "loss": float(train_loss), "lr": lr}

    def _end_epoch(self, record: dict, checkpoint) -> bool:
        """Time, callbacks, history, early stopping, progress line, checkpoint; True when training must stop."""
        record["time"] = time.perf_counter() - self._epoch_started
        stop = False
        for callback in self.callbacks:
            stop = bool(callback.on_epoch_end(self, record)) or stop
        self.history.append(record)
        early_stopping = self.early_stopping
        if early_stopping is not None:
            if early_stopping.monitor not in record:
                raise ValueError(f"Trainer.fit: early stopping monitors {early_stopping.monitor!r}, which is "
                                 f"not recorded; recorded: {sorted(record)}")
            stop = early_stopping.update(record[early_stopping.monitor], self.epoch, self.model) or stop
        self.history.stopped_early = stop
        if not self._bar_disabled():
            tqdm.write(self._format_record(record))
        if checkpoint is not None:
            self.save_checkpoint(checkpoint)
        return stop

    @staticmethod
    def _format_record(record: Mapping[str, float]) -> str:
        parts = [f"epoch {record['epoch']}"]
        for k, v in record.items():
            if k in ("epoch",):
                continue
            parts.append(f"{k} {v:.3g}" if k in ("lr",) else f"{k} {v:.4f}" if k != "time" else f"{v:.1f}s")
        return "  ".join(parts)

    # ------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path) -> Path:
        """Write everything needed to continue training to the ``.npz`` file ``path`` (atomically).

        Stored: model architecture, weights and buffers; optimizer state; schedule state; the shuffling
        generator's state and the layers' generators (Dropout); the epoch count; the history; the
        early-stopping state.
        """
        arrays: dict[str, np.ndarray] = {
            "__format__": np.array(CHECKPOINT_FORMAT),
            "__architecture__": np.array(json.dumps(self.model.config(), sort_keys=True)),
            "__trainer__": np.array(json.dumps({
                "epoch": self.epoch,
                "optimizer": type(self.optimizer).__name__,
                "scheduler": type(self.scheduler).__name__ if self.scheduler is not None else None,
                "rng": self.rng.bit_generator.state,
                "layer_rngs": _generator_states(self.model),
                "history": dict(self.history),
                "stopped_early": self.history.stopped_early,
            })),
            "__metadata__": np.array(json.dumps(self.checkpoint_metadata, sort_keys=True)),
        }
        arrays.update({f"model/{k}": v for k, v in self.model.state_dict().items()})
        arrays.update({f"optimizer/{k}": v for k, v in self.optimizer.state_dict().items()})
        if self.scheduler is not None:
            arrays.update({f"scheduler/{k}": v for k, v in self.scheduler.state_dict().items()})
        if self.early_stopping is not None:
            arrays.update({f"early_stopping/{k}": v for k, v in self.early_stopping.state_dict().items()})
        return save_npz(path, arrays)

    def load_checkpoint(self, path) -> None:
        """Restore the state written by :meth:`save_checkpoint` into this trainer, its model and optimizer.

        Raises
        ------
        ValueError
            If the checkpoint was written for another architecture, optimizer or schedule.
        """
        path = Path(path)
        with _open_checkpoint(path) as data:
            files = set(data.files)
            info = _trainer_state(path, data)
            self.model.check_architecture(json.loads(str(data["__architecture__"])), source=str(path))
            if info["optimizer"] != type(self.optimizer).__name__:
                raise ValueError(f"{path}: the checkpoint was saved with a {info['optimizer']} optimizer, "
                                 f"this trainer has {type(self.optimizer).__name__}")
            scheduler_name = type(self.scheduler).__name__ if self.scheduler is not None else None
            if info["scheduler"] != scheduler_name:
                raise ValueError(f"{path}: the checkpoint was saved with schedule {info['scheduler']}, "
                                 f"this trainer has {scheduler_name}")

            def section(prefix):
                return {k[len(prefix):]: data[k] for k in files if k.startswith(prefix)}

            self.model.load_state_dict(section("model/"), source=str(path))
            self.optimizer.load_state_dict(section("optimizer/"))
            if self.scheduler is not None:
                self.scheduler.load_state_dict(section("scheduler/"))
            if self.early_stopping is not None:
                es = section("early_stopping/")
                if es:
                    self.early_stopping.load_state_dict(es)
        self.rng.bit_generator.state = info["rng"]
        _set_generator_states(self.model, info["layer_rngs"])
        self.epoch = int(info["epoch"])
        self.history = History(info["history"])
        self.history.stopped_early = bool(info["stopped_early"])


def _open_checkpoint(path: Path):
    """The open ``.npz`` of a checkpoint written by :meth:`Trainer.save_checkpoint`, or a clear error."""
    data = open_npz(path, "checkpoint")  # missing, empty, truncated, not .npz: named in the message
    files = set(data.files)
    fmt = str(data["__format__"]) if "__format__" in files else None
    if "__trainer__" not in files or "__architecture__" not in files:
        data.close()
        written_by = f" (its format is {fmt!r})" if fmt and not fmt.isdigit() else ""
        raise ValueError(f"{path}: not a minicnn checkpoint{written_by}: it was not written by "
                         f"Trainer.save_checkpoint, so training cannot resume from it")
    if fmt is None or not fmt.isdigit() or int(fmt) > CHECKPOINT_FORMAT:
        data.close()
        raise ValueError(f"{path}: checkpoint format {fmt!r} is not one this minicnn reads (format "
                         f"{CHECKPOINT_FORMAT}); update minicnn or delete the checkpoint")
    return data


def _trainer_state(path: Path, data) -> dict:
    """The ``__trainer__`` record of an open checkpoint, checked: epoch a whole number >= 0 matching its history."""
    try:
        info = json.loads(str(data["__trainer__"]))
        epoch, history = info["epoch"], info["history"]
        done = len(history.get("epoch", [])) if isinstance(history, dict) else -1
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: damaged checkpoint (its trainer record cannot be read: {exc})") from None
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0 or done != epoch:
        raise ValueError(f"{path}: damaged checkpoint: it says epoch {epoch!r} with {max(done, 0)} epochs of history")
    return info


def checkpoint_info(path) -> dict:
    """What a checkpoint says about its run, without a model: ``{"epoch", "history", "metadata"}``.

    ``metadata`` is what ``fit(..., checkpoint_metadata=...)`` stored (``{}`` when nothing was).
    Raises a ``ValueError`` naming the file when it is not a minicnn checkpoint.
    """
    path = Path(path)
    with _open_checkpoint(path) as data:
        info = _trainer_state(path, data)
        try:
            metadata = json.loads(str(data["__metadata__"])) if "__metadata__" in data.files else {}
        except ValueError as exc:
            raise ValueError(f"{path}: damaged checkpoint (its metadata is not JSON: {exc})") from None
    return {"epoch": int(info["epoch"]), "history": info["history"], "metadata": metadata}
