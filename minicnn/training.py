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

Everything random in the loop (the order of the samples in each epoch) comes from one generator seeded by
``seed``. A checkpoint written at the end of each epoch holds the model, the optimizer's moments, the
schedule, the generator states, the history and the early-stopping state, so that a run interrupted and
started again with the same arguments ends with exactly the same weights (bit for bit) as a run that was
never interrupted.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from minicnn.sequential import Sequential, save_npz_atomic

__all__ = ["Trainer", "History", "EarlyStopping", "NonFiniteLossError", "DivergenceError", "accuracy",
           "minibatch_indices"]

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


BUILTIN_METRICS: dict[str, Callable] = {"accuracy": accuracy}


def minibatch_indices(order: np.ndarray, batch_size: int):
    """Yield consecutive slices of ``order`` of length ``batch_size`` (the last one may be shorter)."""
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def _counted(batches, bar):
    """Pass the batches through, advancing the progress bar by each batch's size."""
    for idx in batches:
        yield idx
        bar.update(len(idx))


class History(dict):
    """Per-epoch records: a dict name -> list with one value per epoch.

    Keys: ``"epoch"`` (1-based), ``"loss"`` (mean training loss), ``"lr"`` (learning rate used),
    ``"time"`` (seconds), and with validation data ``"val_loss"`` and ``"val_<metric>"``.
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
        (checked every :data:`WEIGHT_CHECK_EVERY` batches).
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
    def evaluate(self, X: np.ndarray, y: np.ndarray, batch_size: int = 256) -> dict[str, float]:
        """Loss and metrics of the model on ``(X, y)`` in evaluation mode.

        Returns
        -------
        dict
            ``{"loss": ..., "<metric>": ...}``.
        """
        scores = self.model.predict(X, batch_size=batch_size)
        result = {"loss": float(self.loss.forward(scores, y))}
        for name, fn in self.metrics.items():
            result[name] = float(fn(y, scores))
        return result

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

    def fit(self, X, y, epochs: int, batch_size: int = 32, X_val=None, y_val=None, checkpoint=None,
            early_stopping=None, resume: bool = True) -> History:
        """Train until ``epochs`` epochs have been completed in total.

        Parameters
        ----------
        X : ndarray of shape (N, ...)
            Training inputs (e.g. images (N, C, H, W) float32).
        y : ndarray of shape (N,) (or what the loss expects)
            Training targets.
        epochs : int
            Total number of epochs; after a resume, training continues up to this number.
        batch_size : int
        X_val, y_val : ndarrays, optional
            Validation data, evaluated at the end of every epoch.
        checkpoint : str or Path, optional
            A ``.npz`` file written (atomically) at the end of every epoch. If it exists when ``fit``
            starts and ``resume`` is True, training continues from it.
        early_stopping : int or EarlyStopping, optional
            Patience in epochs (monitoring ``val_loss``), or an :class:`EarlyStopping`.
        resume : bool
            Continue from ``checkpoint`` if the file exists (otherwise it is overwritten).

        Returns
        -------
        History
            ``self.history``.

        Raises
        ------
        NonFiniteLossError
            When the loss becomes NaN or infinite.
        """
        X, y = self._check_data(X, y, "training data")
        if (X_val is None) != (y_val is None):
            raise ValueError("Trainer.fit: give both X_val and y_val, or neither")
        if X_val is not None:
            X_val, y_val = self._check_data(X_val, y_val, "validation data")
            if X_val.shape[1:] != X.shape[1:]:
                raise ValueError(f"Trainer.fit: validation inputs have shape {X_val.shape}, but training inputs "
                                 f"{X.shape}; each sample must have the same shape {X.shape[1:]}")
        if int(epochs) != epochs or epochs < 0:
            raise ValueError(f"Trainer.fit: epochs must be an integer >= 0, got {epochs}")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"Trainer.fit: batch_size must be a positive integer, got {batch_size}")
        epochs, batch_size = int(epochs), int(batch_size)
        if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
            early_stopping = EarlyStopping(patience=early_stopping)
        if early_stopping is not None and early_stopping.monitor.startswith("val_") and X_val is None:
            raise ValueError(f"Trainer.fit: early stopping monitors {early_stopping.monitor!r}, "
                             f"which needs validation data (X_val, y_val)")
        self.early_stopping = early_stopping
        if checkpoint is not None and resume and Path(checkpoint).exists():
            self.load_checkpoint(checkpoint)
            if not self._bar_disabled():
                tqdm.write(f"resuming after epoch {self.epoch} from {checkpoint}")

        disabled = self._bar_disabled()
        n = len(X)
        while self.epoch < epochs and not self.history.stopped_early:
            started = time.perf_counter()
            lr = float(getattr(self.optimizer, "lr", float("nan")))
            order = self.rng.permutation(n)
            self.model.train()
            with tqdm(total=n, desc=f"epoch {self.epoch + 1}/{epochs}", unit="img", leave=False,
                      disable=disabled, dynamic_ncols=True) as bar:
                train_loss = self.train_epoch(X, y, _counted(minibatch_indices(order, batch_size), bar))
            record = {"epoch": self.epoch + 1, "loss": float(train_loss), "lr": lr}
            if X_val is not None:
                record.update({f"val_{k}": v for k, v in self.evaluate(X_val, y_val, batch_size=256).items()})
            if self.scheduler is not None:
                self.scheduler.step()
            self.epoch += 1
            record["time"] = time.perf_counter() - started
            self.history.append(record)
            stop = False
            if early_stopping is not None:
                if early_stopping.monitor not in record:
                    raise ValueError(f"Trainer.fit: early stopping monitors {early_stopping.monitor!r}, which is "
                                     f"not recorded; recorded: {sorted(record)}")
                stop = early_stopping.update(record[early_stopping.monitor], self.epoch, self.model)
                self.history.stopped_early = stop
            if not disabled:
                tqdm.write(self._format_record(record))
            if checkpoint is not None:
                self.save_checkpoint(checkpoint)
            if stop:
                break
        if early_stopping is not None and early_stopping.restore_best and early_stopping.best_state is not None:
            self.model.load_state_dict(early_stopping.best_state, source="early stopping best weights")
        return self.history

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
        }
        arrays.update({f"model/{k}": v for k, v in self.model.state_dict().items()})
        arrays.update({f"optimizer/{k}": v for k, v in self.optimizer.state_dict().items()})
        if self.scheduler is not None:
            arrays.update({f"scheduler/{k}": v for k, v in self.scheduler.state_dict().items()})
        if self.early_stopping is not None:
            arrays.update({f"early_stopping/{k}": v for k, v in self.early_stopping.state_dict().items()})
        return save_npz_atomic(path, arrays)

    def load_checkpoint(self, path) -> None:
        """Restore the state written by :meth:`save_checkpoint` into this trainer, its model and optimizer.

        Raises
        ------
        ValueError
            If the checkpoint was written for another architecture, optimizer or schedule.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        try:
            data = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise ValueError(f"{path}: not a minicnn checkpoint (.npz without pickled objects): {e}") from None
        with data:
            files = set(data.files)
            if "__trainer__" not in files or "__architecture__" not in files:
                raise ValueError(f"{path}: not a minicnn checkpoint (written by Trainer.save_checkpoint)")
            info = json.loads(str(data["__trainer__"]))
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
