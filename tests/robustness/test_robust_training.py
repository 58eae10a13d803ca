"""Training that diverges while staying finite stops with a clear error instead of running on.

Hostile cases: lr=1e6 with SGD and with Adam (minicnn Trainer); ``camelyon train --lr 1e6``;
weights pushed beyond the limit between two batches.
"""

from __future__ import annotations

import numpy as np
import pytest

from camelyon.cli import main
from minicnn import Sequential
from minicnn.layers import Dense, ReLU
from minicnn.losses import SoftmaxCrossEntropy
from minicnn.optim import SGD, Adam
from minicnn.training import WEIGHT_CHECK_EVERY, DivergenceError, NonFiniteLossError, Trainer


def _problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 4)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


@pytest.mark.parametrize("optimizer", [SGD, Adam])
def test_a_huge_learning_rate_stops_within_the_first_epoch(optimizer):
    X, y = _problem()
    model = Sequential(Dense(4, 16, rng=0), ReLU(), Dense(16, 2, rng=1))
    trainer = Trainer(model, SoftmaxCrossEntropy(), optimizer(model.parameters(), lr=1e6), progress=False)
    with pytest.raises(DivergenceError, match="training stopped: it diverges.*learning rate too high") as info:
        trainer.fit(X, y, epochs=30, batch_size=32)
    assert isinstance(info.value, NonFiniteLossError)  # callers that catch NaN losses catch this too
    assert trainer.epoch == 0


def test_weights_beyond_the_limit_stop_training():
    X, y = _problem()
    model = Sequential(Dense(4, 16, rng=0), ReLU(), Dense(16, 2, rng=1))
    trainer = Trainer(model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=1e-12), progress=False)
    model.parameters()[0][0][0, 0] = 1e12  # as if an update had blown one weight up (tiny lr: the loss stays put)
    with pytest.raises(DivergenceError, match="a weight has magnitude 1e\\+12"):
        trainer.fit(X, y, epochs=WEIGHT_CHECK_EVERY, batch_size=32)


def test_a_sane_learning_rate_is_not_stopped():
    X, y = _problem()
    model = Sequential(Dense(4, 16, rng=0), ReLU(), Dense(16, 2, rng=1))
    trainer = Trainer(model, SoftmaxCrossEntropy(), Adam(model.parameters(), lr=0.01), progress=False)
    history = trainer.fit(X, y, epochs=5, batch_size=32)
    assert len(history["loss"]) == 5


def test_camelyon_train_with_a_huge_learning_rate_is_one_line(tmp_path, monkeypatch, capsys):
    from test_cli_messages import toy_store_tiles

    import camelyon.training

    monkeypatch.setattr(camelyon.training, "load_store_tiles", lambda path, max_bytes=0, progress=True:
                        toy_store_tiles(12))
    out = tmp_path / "m.npz"
    status = main(["train", str(tmp_path / "tiles.h5"), "--out", str(out), "--lr", "1e6", "--epochs", "30",
                   "--steps-per-epoch", "4", "--batch-size", "8", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "diverges" in err and "try a smaller --lr" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_camelyon_train_on_a_full_disk_is_one_line_and_leaves_no_temporary_file(tmp_path, small_disk, monkeypatch,
                                                                                capsys):
    from test_cli_messages import toy_store_tiles

    import camelyon.training

    monkeypatch.setattr(camelyon.training, "load_store_tiles", lambda path, max_bytes=0, progress=True:
                        toy_store_tiles(12))
    (small_disk / "filler").write_bytes(b"\0" * (2 * 1024 * 1024 - 8 * 1024))
    out = small_disk / "m.npz"
    status = main(["train", str(tmp_path / "tiles.h5"), "--out", str(out), "--epochs", "1", "--steps-per-epoch", "1",
                   "--batch-size", "4", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "no space left on the disk" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]
