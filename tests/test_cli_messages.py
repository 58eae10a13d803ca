"""Messages of the command line: after Ctrl-C, without validation patients, --resume without a checkpoint."""

import importlib

import numpy as np
import pytest

import camelyon.training
from camelyon.cli import main
from camelyon.training import TileArrays, TrainingConfig, checkpoint_path, train_from_store

# argv of each command, enough to get past argument parsing
COMMAND_ARGV = {
    "train": ["train", "tiles.h5", "--out", "model.npz"],
    "tiles": ["tiles", "slides", "--out", "tiles.h5"],
    "heatmap": ["heatmap", "slides", "--model", "model.npz", "--out", "maps"],
    "synth": ["synth", "cohort", "--patients", "2"],
    "pipeline": ["pipeline", "cohort", "--out", "run"],
    "features": ["features", "maps", "--out", "features.csv"],
    "classify": ["classify", "features.csv", "--model", "forest.npz", "--fit"],
}


def _interrupt(args):
    raise KeyboardInterrupt


@pytest.mark.parametrize(("command", "hint"), [
    ("train", "interrupted; run it again with --resume to continue from the last checkpoint."),
    ("tiles", "interrupted; run the same command again to resume."),
    ("heatmap", "interrupted; run the same command again to resume."),
    ("synth", "interrupted; run the same command again to resume."),
    ("pipeline", "interrupted; run the same command again to resume."),
    ("features", "interrupted; this command does not resume: run it again to start over."),
    ("classify", "interrupted; this command does not resume: run it again to start over."),
])
def test_interrupted_command_says_how_to_carry_on(command, hint, monkeypatch, capsys):
    module = importlib.import_module(f"camelyon.commands.{command}")
    monkeypatch.setattr(module, "run", _interrupt)  # register() picks it up when main builds the parser
    assert main(COMMAND_ARGV[command]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"camelyon {command}: {hint}"]


def toy_store_tiles(n_patients, n=48, size=16, seed=0):
    """Pink tiles and tiles with a purple blob (every third tile), spread over n_patients patients."""
    rng = np.random.default_rng(seed)
    tiles = np.clip(rng.normal((226, 150, 196), 12, size=(n, size, size, 3)), 0, 255).astype(np.uint8)
    labels = (np.arange(n) % 3 == 0).astype(np.int64)
    tiles[labels == 1, 4:12, 4:12] = (140, 78, 170)
    patients = np.array([f"patient_{i % n_patients:03d}" for i in range(n)])
    return TileArrays(tiles, labels, patients), {"tile_size": size, "level": 0, "um_per_px": 1.0}


@pytest.fixture
def fake_store(tmp_path, monkeypatch):
    """A store path whose tiles come from toy_store_tiles(n_patients); returns a setter."""
    store = tmp_path / "tiles.h5"

    def use(n_patients):
        def load(path, max_bytes=0, progress=True):
            assert str(path) == str(store)
            return toy_store_tiles(n_patients)

        monkeypatch.setattr(camelyon.training, "load_store_tiles", load)
        return store

    return use


TINY = ["--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "4", "--quiet"]


def test_train_with_too_few_patients_warns_that_nothing_is_validated(fake_store, tmp_path, capsys):
    store = fake_store(2)
    assert main(["train", str(store), "--out", str(tmp_path / "m.npz"), *TINY]) == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if "warning" in line]
    assert len(warning) == 1, err
    assert warning[0].startswith("camelyon train: warning: no validation tiles: the store holds 2 patients")
    assert "a validation fraction of 0.2 holds out none of them" in warning[0]
    assert "Tile more patients" in warning[0] and "raise the fraction (camelyon train --val-fraction" in warning[0]


def test_train_with_validation_patients_or_none_wanted_does_not_warn(fake_store, tmp_path, capsys):
    store = fake_store(12)
    assert main(["train", str(store), "--out", str(tmp_path / "a.npz"), *TINY]) == 0
    store = fake_store(2)
    assert main(["train", str(store), "--out", str(tmp_path / "b.npz"), "--val-fraction", "0", *TINY]) == 0
    assert "warning" not in capsys.readouterr().err


def test_train_from_store_warns_with_one_patient(fake_store, tmp_path):
    store = fake_store(1)
    config = TrainingConfig(epochs=1, batch_size=4, steps_per_epoch=1, val_fraction=0.25)
    with pytest.warns(UserWarning, match=r"holds 1 patient \(1 with tumour tiles\) and a validation fraction of 0.25"):
        result = train_from_store(store, None, config, progress=False)
    assert result.model.extra["val_patients"] == []


def test_resume_without_checkpoint_says_it_starts_afresh(fake_store, tmp_path, capsys):
    store = fake_store(12)
    out = tmp_path / "m.npz"
    assert main(["train", str(store), "--out", str(out), "--resume", *TINY]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"no checkpoint m.checkpoint.npz in {tmp_path}; starting afresh"
    assert out.is_file()


def test_resume_with_checkpoint_says_nothing_about_starting_afresh(fake_store, tmp_path, capsys):
    store = fake_store(12)
    out = tmp_path / "m.npz"
    config = TrainingConfig(epochs=2, batch_size=4, steps_per_epoch=1)
    train_from_store(store, out, config, progress=False, stop_after=1)  # interrupted after epoch 1
    assert checkpoint_path(out).is_file()
    argv = ["train", str(store), "--out", str(out), "--resume", "--epochs", "2", "--steps-per-epoch", "1",
            "--batch-size", "4", "--quiet"]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert "starting afresh" not in stdout
    assert "after 2 epochs" in stdout


def test_train_from_store_warns_when_validation_has_one_class(fake_store):
    # 3 toy patients: patient_000 holds every tumour tile; the one held out is tumour-free
    store = fake_store(3)
    config = TrainingConfig(epochs=1, batch_size=4, steps_per_epoch=1, val_fraction=0.5)
    with pytest.warns(UserWarning, match=r"the 1 validation patient holds only normal tiles, so the validation AUC"):
        result = train_from_store(store, None, config, progress=False)
    assert result.model.extra["val_patients"] == ["patient_002"]
    assert np.isnan(result.history["val_auc"][-1])
