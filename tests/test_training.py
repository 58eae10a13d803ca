"""Trainer: the training step, epochs, seeding, history, early stopping, checkpoint resume (bit for bit),
NaN/inf loss, progress output, and the digits CNN reaching 97 % test accuracy."""

import contextlib
import doctest
import json
import time

import numpy as np
import pytest

from minicnn import Sequential
from minicnn.datasets import load_digits, make_blobs, make_spirals, train_test_split
from minicnn.layers import BatchNorm1D, Dense, Dropout, ReLU
from minicnn.losses import BCEWithLogits, SoftmaxCrossEntropy
from minicnn.optim import SGD, Adam, CosineLR, StepLR
from minicnn.training import EarlyStopping, NonFiniteLossError, Trainer, accuracy


def mlp(seed=0, dropout=False, batchnorm=False, n_in=2, n_out=3, hidden=32):
    rng = np.random.default_rng(seed)
    layers = [Dense(n_in, hidden, rng=rng)]
    if batchnorm:
        layers.append(BatchNorm1D(hidden))
    layers.append(ReLU())
    if dropout:
        layers.append(Dropout(0.2, rng=rng))
    layers.append(Dense(hidden, n_out, rng=rng))
    return Sequential(*layers)


def spirals():
    X, y = make_spirals(300, n_classes=3, noise=0.1, seed=0)
    Xv, yv = make_spirals(150, n_classes=3, noise=0.1, seed=1)
    return X, y, Xv, yv


def weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def without_time(history):
    return {k: v for k, v in history.items() if k != "time"}


# ----------------------------------------------------------------- the core (G06)
@pytest.mark.exercise("G06")
def test_train_step_lowers_the_loss_on_its_batch():
    X, y, _, _ = spirals()
    model = mlp()
    trainer = Trainer(model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1), progress=False)
    before = weights(model)
    losses = [trainer.train_step(X[:64], y[:64]) for _ in range(30)]
    assert isinstance(losses[0], float)
    assert losses[-1] < 0.8 * losses[0]
    assert not np.array_equal(before["0/W"], model[0].params["W"])


@pytest.mark.exercise("G06")
def test_train_step_is_one_sgd_step():
    rng = np.random.default_rng(0)
    model = Sequential(Dense(3, 2, rng=rng)).astype(np.float64)
    x, y = rng.normal(size=(5, 3)), rng.integers(0, 2, size=5)
    W0, b0 = model[0].params["W"].copy(), model[0].params["b"].copy()
    loss = SoftmaxCrossEntropy()
    expected_loss = loss.forward(x @ W0 + b0, y)
    d = loss.backward()
    trainer = Trainer(model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.5), progress=False)
    assert trainer.train_step(x, y) == pytest.approx(expected_loss, rel=1e-12)
    np.testing.assert_allclose(model[0].params["W"], W0 - 0.5 * x.T @ d, rtol=1e-12)
    np.testing.assert_allclose(model[0].params["b"], b0 - 0.5 * d.sum(axis=0), rtol=1e-12)


@pytest.mark.exercise("G06")
def test_epoch_loss_is_the_sample_weighted_mean():
    X, y, _, _ = spirals()
    X, y = X[:100], y[:100]
    model = mlp()
    full = SoftmaxCrossEntropy().forward(model.predict(X), y)
    trainer = Trainer(model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=1e-12), progress=False)
    history = trainer.fit(X, y, epochs=1, batch_size=40)  # batches of 40, 40 and 20
    assert history["loss"][0] == pytest.approx(full, rel=1e-5)


@pytest.mark.exercise("G06")
def test_fit_learns_spirals_and_records_history():
    X, y, Xv, yv = spirals()
    model = mlp(hidden=64)
    opt = Adam(model.parameters(), lr=0.02)
    trainer = Trainer(model, SoftmaxCrossEntropy(), opt, scheduler=StepLR(opt, 20, 0.5), progress=False, seed=1)
    history = trainer.fit(X, y, epochs=60, batch_size=32, X_val=Xv, y_val=yv)
    assert set(history) == {"epoch", "loss", "lr", "time", "val_loss", "val_accuracy"}
    assert history["epoch"] == list(range(1, 61)) and len(history["val_accuracy"]) == 60
    assert history["lr"][0] == 0.02 and history["lr"][20] == 0.01 and history["lr"][59] == 0.005
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["val_accuracy"][-1] >= 0.9
    assert trainer.evaluate(Xv, yv)["accuracy"] == history["val_accuracy"][-1]


@pytest.mark.exercise("G06")
def test_binary_logit_with_bce():
    X, y = make_blobs(200, n_classes=2, std=1.0, seed=3)
    model = mlp(n_out=1)
    trainer = Trainer(model, BCEWithLogits(), Adam(model.parameters(), lr=0.01), progress=False)
    history = trainer.fit(X, y, epochs=10, batch_size=32, X_val=X, y_val=y)
    assert history["val_accuracy"][-1] >= 0.95
    assert accuracy(y, model.predict(X)) == history["val_accuracy"][-1]


# ----------------------------------------------------------------- reproducibility
def train_run(seed, epochs=3, checkpoint=None, model_seed=0, early_stopping=None, metrics=None):
    X, y, Xv, yv = spirals()
    model = mlp(seed=model_seed, dropout=True, batchnorm=True)
    opt = Adam(model.parameters(), lr=0.01)
    trainer = Trainer(model, SoftmaxCrossEntropy(), opt, scheduler=CosineLR(opt, t_max=6), metrics=metrics,
                      progress=False, seed=seed)
    trainer.fit(X, y, epochs=epochs, batch_size=16, X_val=Xv, y_val=yv, checkpoint=checkpoint,
                early_stopping=early_stopping)
    return trainer


def test_same_seed_same_weights_other_seed_differs():
    a, b, c = train_run(seed=1, epochs=2), train_run(seed=1, epochs=2), train_run(seed=2, epochs=2)
    assert_same_weights(weights(a.model), weights(b.model))
    assert not np.array_equal(a.model[0].params["W"], c.model[0].params["W"])


class InterruptAtCall:
    """A metric that raises KeyboardInterrupt at its n-th call (a user pressing Ctrl-C during validation)."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self, y_true, scores):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return accuracy(y_true, scores)


def test_resume_after_interruption_is_bitwise_identical(tmp_path):
    es = dict(patience=50, monitor="val_loss")
    reference = train_run(seed=3, epochs=6, early_stopping=EarlyStopping(**es))

    ckpt = tmp_path / "ckpt.npz"
    with pytest.raises(KeyboardInterrupt):  # interrupted during epoch 4: the checkpoint holds epoch 3
        train_run(seed=3, epochs=6, checkpoint=ckpt, early_stopping=EarlyStopping(**es),
                  metrics={"accuracy": InterruptAtCall(4)})
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]
    # a new process: other initial weights, fresh optimizer, schedule and generators
    resumed = train_run(seed=3, epochs=6, checkpoint=ckpt, model_seed=99, early_stopping=EarlyStopping(**es))

    assert_same_weights(weights(resumed.model), weights(reference.model))
    assert without_time(resumed.history) == without_time(reference.history)
    assert resumed.optimizer.lr == reference.optimizer.lr
    for k, v in reference.optimizer.state_dict().items():
        np.testing.assert_array_equal(resumed.optimizer.state_dict()[k], v)


def test_checkpoint_of_another_architecture(tmp_path):
    ckpt = tmp_path / "ckpt.npz"
    train_run(seed=0, epochs=1, checkpoint=ckpt)
    X, y, _, _ = spirals()
    model = mlp(hidden=16, dropout=True, batchnorm=True)
    opt = Adam(model.parameters(), lr=0.01)
    trainer = Trainer(model, SoftmaxCrossEntropy(), opt, scheduler=CosineLR(opt, t_max=6), progress=False)
    with pytest.raises(ValueError, match="architecture mismatch at layer 0"):
        trainer.fit(X, y, epochs=2, batch_size=16, checkpoint=ckpt)


# ----------------------------------------------------------------- batch sources, transforms, callbacks
class NoisyBlobBatches:
    """A batch source: uint8-like "stored" samples, class-balanced draws from the trainer's generator."""

    def __init__(self, X, y, batch_size=16, steps=10):
        self.X = stored_blobs(X)  # what a store would hold
        self.y, self.batch_size, self.steps = y, batch_size, steps

    def __len__(self):
        return self.batch_size * self.steps

    def batches(self, rng):
        for _ in range(self.steps):
            idx = rng.choice(len(self.X), self.batch_size, replace=False)
            yield self.X[idx], self.y[idx]


def stored_blobs(X):
    return np.clip(np.round((X + 10) * 12), 0, 255).astype(np.uint8)


def prepare_blobs(x):
    return x.astype(np.float32) / 12 - 10


class Recorder:
    def __init__(self):
        self.losses, self.epochs = [], []

    def on_epoch_begin(self, trainer):
        pass

    def on_batch_loss(self, trainer, loss):
        self.losses.append(loss)

    def on_epoch_end(self, trainer, record):
        record["batches_seen"] = len(self.losses)
        self.epochs.append(record["epoch"])
        return record["epoch"] == 3  # stop after epoch 3

    def on_fit_end(self, trainer):
        pass


class ShuffledChunks:
    """A validation batch source: every sample once, in chunks of 16, in an order drawn from ``rng``."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def batches(self, rng):
        order = rng.permutation(len(self.X))
        for i in range(0, len(order), 16):
            yield self.X[order[i:i + 16]], self.y[order[i:i + 16]]


def source_run(seed, epochs, checkpoint=None, callbacks=(), augment=True, val="arrays"):
    X, y = make_blobs(400, n_classes=2, seed=0)
    Xv, yv = make_blobs(100, n_classes=2, seed=1)
    model = mlp(seed=0, dropout=True, n_out=1)
    opt = Adam(model.parameters(), lr=0.01)
    trainer = Trainer(model, BCEWithLogits(), opt, scheduler=CosineLR(opt, t_max=4), metrics=["auc", "accuracy"],
                      progress=False, seed=seed)

    def jitter(x, rng):
        return np.clip(x.astype(np.int16) + rng.integers(-2, 3, size=x.shape), 0, 255).astype(np.uint8)

    Xv, yv = stored_blobs(Xv), yv.astype(np.float32)[:, None]
    validation = {"arrays": {"X_val": Xv, "y_val": yv}, "source": {"X_val": ShuffledChunks(Xv, yv)},
                  "pairs": {"X_val": [(Xv[i:i + 30], yv[i:i + 30]) for i in range(0, len(Xv), 30)]}}[val]
    trainer.fit(NoisyBlobBatches(X, y.astype(np.float32)[:, None]), epochs=epochs, **validation,
                augment=jitter if augment else None, prepare=prepare_blobs, checkpoint=checkpoint,
                callbacks=callbacks, checkpoint_metadata={"note": "blobs"})
    return trainer


def test_fit_on_a_batch_source_with_transforms_auc_and_callbacks():
    recorder = Recorder()
    trainer = source_run(seed=0, epochs=5, callbacks=[recorder])
    history = trainer.history
    assert recorder.epochs == [1, 2, 3] and history["epoch"] == [1, 2, 3]  # the callback stopped it
    assert len(recorder.losses) == 30 and history["batches_seen"] == [10, 20, 30]
    assert history["loss"][0] == pytest.approx(np.mean(recorder.losses[:10]), rel=1e-6)
    assert set(history) == {"epoch", "loss", "lr", "time", "val_loss", "val_auc", "val_accuracy", "batches_seen"}
    assert history["val_auc"][-1] > 0.9


def test_resume_on_a_batch_source_is_bitwise_identical(tmp_path):
    from minicnn.training import checkpoint_info

    reference = source_run(seed=5, epochs=4)
    ckpt = tmp_path / "ckpt.npz"
    source_run(seed=5, epochs=2, checkpoint=ckpt)  # as if stopped after epoch 2
    info = checkpoint_info(ckpt)
    assert info["epoch"] == 2 and info["metadata"] == {"note": "blobs"}
    resumed = source_run(seed=5, epochs=4, checkpoint=ckpt)
    assert_same_weights(weights(resumed.model), weights(reference.model))
    assert without_time(resumed.history) == without_time(reference.history)


def test_validation_from_a_batch_source(tmp_path):
    """X_val may be a batch source (or a list of pairs): the same records as arrays, the same training."""
    reference = source_run(seed=3, epochs=3)
    for val in ("source", "pairs"):
        run = source_run(seed=3, epochs=3, val=val)
        # validation draws from its own generator: the training run is the same, bit for bit
        assert_same_weights(weights(run.model), weights(reference.model))
        for key in ("val_loss", "val_auc", "val_accuracy"):
            assert run.history[key] == pytest.approx(reference.history[key], rel=1e-6)
    ckpt = tmp_path / "ckpt.npz"
    source_run(seed=3, epochs=2, checkpoint=ckpt, val="source")
    resumed = source_run(seed=3, epochs=3, checkpoint=ckpt, val="source")
    assert without_time(resumed.history) == without_time(source_run(seed=3, epochs=3, val="source").history)
    X, y, _, _ = spirals()
    model = mlp()
    trainer = Trainer(model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1), progress=False)
    with pytest.raises(ValueError, match="one-shot iterator"):
        trainer.fit(X, y, epochs=1, X_val=((X[i:i + 8], y[i:i + 8]) for i in range(0, 64, 8)))
    with pytest.raises(ValueError, match="gave no validation batch"):
        trainer.fit(X, y, epochs=1, X_val=[])
    with pytest.raises(ValueError, match="monitors 'val_loss'"):
        trainer.fit(X, y, epochs=1, early_stopping=2)
    history = trainer.fit(X, y, epochs=1, X_val=[(X[:50], y[:50])], early_stopping=2)
    assert history["val_loss"][-1] == pytest.approx(trainer.evaluate(X[:50], y[:50])["loss"], rel=1e-6)
    assert trainer.evaluate([(X[:20], y[:20]), (X[20:50], y[20:50])]) == pytest.approx(
        trainer.evaluate(X[:50], y[:50]), rel=1e-6)


def test_fit_refuses_what_cannot_be_a_batch_source(tmp_path):
    X, y, _, _ = spirals()
    model = mlp()
    trainer = Trainer(model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1), progress=False)
    with pytest.raises(ValueError, match="one-shot iterator"):
        trainer.fit(((X[i:i + 8], y[i:i + 8]) for i in range(0, 64, 8)), epochs=2)
    with pytest.raises(ValueError, match="need their targets y"):
        trainer.fit(X, epochs=1)
    with pytest.raises(ValueError, match="gave no batch"):
        trainer.fit([], epochs=1)
    pairs = [(X[i:i + 8], y[i:i + 8]) for i in range(0, 64, 8)]  # a list is replayed every epoch
    history = trainer.fit(pairs, epochs=2)
    assert history["epoch"] == [1, 2]
    np.savez(tmp_path / "other.npz", __format__=np.array("camelyon-tile-training-checkpoint"))
    with pytest.raises(ValueError, match="other.npz: not a minicnn checkpoint .*camelyon-tile-training"):
        trainer.fit(X, y, epochs=3, checkpoint=tmp_path / "other.npz")


# ----------------------------------------------------------------- early stopping
def test_early_stopping_stops_and_restores_best_weights():
    values = iter([0.5, 0.7, 0.6, 0.65, 0.4, 0.9, 0.95])
    metrics = {"score": lambda y_true, scores: next(values)}
    trainer = train_run(seed=0, epochs=7, metrics=metrics,
                        early_stopping=EarlyStopping(patience=2, monitor="val_score", mode="max"))
    assert trainer.history["epoch"] == [1, 2, 3, 4, 5]  # best at epoch 2, three epochs without improvement
    assert trainer.history.stopped_early and trainer.early_stopping.best_epoch == 2
    at_epoch_2 = train_run(seed=0, epochs=2, metrics={"score": lambda y_true, scores: 0.0})
    assert_same_weights(weights(trainer.model), weights(at_epoch_2.model))


def test_early_stopping_needs_validation_data():
    X, y, _, _ = spirals()
    model = mlp()
    trainer = Trainer(model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1), progress=False)
    with pytest.raises(ValueError, match="val_loss.*validation data"):
        trainer.fit(X, y, epochs=2, early_stopping=3)


# ----------------------------------------------------------------- errors
def test_nan_loss_stops_training_before_the_update():
    X, y, _, _ = spirals()
    X = X.copy()
    X[40] = np.nan
    model = mlp()
    trainer = Trainer(model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1), progress=False)
    with pytest.raises(NonFiniteLossError, match=r"SoftmaxCrossEntropy loss is nan at epoch 1, batch 1\b"):
        trainer.fit(X, y, epochs=1, batch_size=300)  # one batch: the weights must stay as initialised
    assert issubclass(NonFiniteLossError, ValueError)
    assert_same_weights(weights(model), weights(mlp()))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_diverging_learning_rate_raises():
    X, y, _, _ = spirals()
    model = mlp()
    trainer = Trainer(model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=1e8), progress=False)
    with pytest.raises(NonFiniteLossError, match="learning rate"):
        trainer.fit(X * 1e3, y, epochs=20, batch_size=32)


@pytest.mark.parametrize("kwargs,match", [
    ({"y": np.zeros(5, dtype=int)}, "300 inputs but 5 targets"),
    ({"epochs": -1}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"X_val": np.zeros((3, 2))}, "X_val need their targets y_val"),
    ({"y_val": np.zeros(3, dtype=int)}, "y_val without X_val"),
    ({"X_val": np.zeros((3, 1)), "y_val": np.zeros(3, dtype=int)}, r"validation inputs have shape \(3, 1\)"),
])
def test_fit_bad_arguments(kwargs, match):
    X, y, _, _ = spirals()
    model = mlp()
    trainer = Trainer(model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1), progress=False)
    args = {"X": X, "y": y, "epochs": 1, "batch_size": 32} | kwargs
    with pytest.raises(ValueError, match=match):
        trainer.fit(**args)


def test_labels_out_of_range_name_the_loss():
    X, y, _, _ = spirals()
    model = mlp()
    trainer = Trainer(model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1), progress=False)
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy: labels must be integers in \[0, 2\]"):
        trainer.fit(X, y + 1, epochs=1)


def test_quiet_output(capsys):
    X, y, Xv, yv = spirals()
    for progress in (False, True):  # True is quiet too: pytest's stderr is not a terminal
        model = mlp()
        Trainer(model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1), progress=progress).fit(
            X, y, epochs=2, X_val=Xv, y_val=yv)
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err == ""


# ----------------------------------------------------------------- the digits
@contextlib.contextmanager
def single_threaded():
    """One BLAS and one Numba thread: with small matrices on a shared 2-core machine (and 2 pytest workers),
    spinning worker threads make a training step 20-40 times slower."""
    numba = pytest.importorskip("numba")
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpoolctl.threadpool_limits(limits=1):
            yield
    finally:
        numba.set_num_threads(before)


def test_module_docstring_example_runs():
    """The example at the top of minicnn.training (train with validation, checkpoint, early stopping) works."""
    import minicnn.training

    result = doctest.testmod(minicnn.training, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted >= 10, "the module docstring lost its example"
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples of minicnn.training fail"


@pytest.mark.slow
@pytest.mark.exercise("G06")
def test_digits_example_reaches_97_percent(tmp_path, capsys):
    """`python -m minicnn.examples.digits` (the demo): fixed seed, >= 97 % on the 359 held-out digits."""
    pytest.importorskip("sklearn")
    from minicnn.examples import digits

    out = tmp_path / "digits"
    start = time.perf_counter()
    with single_threaded():
        status = digits.main(["--out", str(out), "--quiet"])
    seconds = time.perf_counter() - start
    printed = capsys.readouterr().out
    assert status == 0 and "test accuracy:" in printed
    assert sorted(p.name for p in out.iterdir()) == ["digits_cnn.npz", "history.json", "training_curve.png"]
    summary = json.loads((out / "history.json").read_text())
    with capsys.disabled():
        print(f"\ndigits CNN: test accuracy {summary['test_accuracy']:.4f} in {seconds:.1f} s")
    assert summary["test_accuracy"] >= 0.97
    assert (out / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the saved model gives the same test accuracy
    X, y = load_digits()
    _, X_test, _, y_test = train_test_split(X, y, test_size=0.2, seed=0)
    model = Sequential.load(out / "digits_cnn.npz")
    assert accuracy(y_test, model.predict(X_test)) == summary["test_accuracy"]
    assert model.metadata["dataset"] == "sklearn digits"
