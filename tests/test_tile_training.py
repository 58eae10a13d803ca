"""Tile-CNN training: resume equals an uninterrupted run, the model file, balanced batches."""

import json

import numpy as np
import pytest

from camelyon.errors import CamelyonError
from camelyon.tile_model import TileModel, load_tile_model
from camelyon.training import (
    TileArrays,
    TrainingConfig,
    balanced_batches,
    checkpoint_path,
    curve_path,
    plot_training_curves,
    train_tile_model,
)


def toy_tiles(n=48, size=16, seed=0):
    """Pink tiles (normal) and tiles with a purple blob (tumour), with noise; 6 patients."""
    rng = np.random.default_rng(seed)
    tiles = np.clip(rng.normal((226, 150, 196), 12, size=(n, size, size, 3)), 0, 255)
    labels = (np.arange(n) % 3 == 0).astype(int)
    for i in np.flatnonzero(labels):
        r, c = rng.integers(0, size // 2, 2)
        tiles[i, r:r + size // 2, c:c + size // 2] = rng.normal((140, 78, 170), 12, size=(size // 2, size // 2, 3))
    patients = np.array([f"patient_{i % 6:03d}" for i in range(n)])
    return TileArrays(np.clip(tiles, 0, 255).astype(np.uint8), labels, patients)


def weights(model):
    return {k: v.copy() for k, v in model.network.state_dict().items()}


def test_balanced_batches_are_half_tumour_and_reproducible():
    labels = np.array([1] * 5 + [0] * 45)
    a = list(balanced_batches(labels, 8, 20, np.random.default_rng(0)))
    b = list(balanced_batches(labels, 8, 20, np.random.default_rng(0)))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
        assert labels[x].sum() == 4 and len(x) == 8
    seen = np.bincount(np.concatenate(a), minlength=50)
    assert seen[:5].min() >= 12  # every rare positive is used again and again
    with pytest.raises(CamelyonError, match="tumour and normal"):
        next(balanced_batches(np.zeros(10, int), 4, 1, np.random.default_rng(0)))


@pytest.mark.parametrize("normalize,augment", [
    ("none", False),
    pytest.param("macenko", True, marks=pytest.mark.exercise("G07")),  # augmentation uses exercise G07
])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, normalize, augment):
    data = toy_tiles()
    train, val = data.subset(np.arange(36)), data.subset(np.arange(36, 48))
    cfg = TrainingConfig(epochs=3, batch_size=8, steps_per_epoch=3, normalize=normalize, augment=augment, seed=4)
    full = train_tile_model(train, val, cfg, tmp_path / "a" / "model.npz", um_per_px=1.0, progress=False)
    assert full.model_path.is_file() and curve_path(full.model_path).is_file()
    part = train_tile_model(train, val, cfg, tmp_path / "b" / "model.npz", um_per_px=1.0, progress=False,
                            stop_after=1)
    assert part.model_path is None and checkpoint_path(tmp_path / "b" / "model.npz").is_file()
    resumed = train_tile_model(train, val, cfg, tmp_path / "b" / "model.npz", um_per_px=1.0, progress=False,
                               resume=True)
    assert resumed.resumed_from == 1
    assert not checkpoint_path(tmp_path / "b" / "model.npz").exists()  # removed once the model is written
    wa, wb = weights(full.model), weights(resumed.model)
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)
    for key in ("epoch", "loss", "lr", "val_loss", "val_auc"):  # timings differ, the rest must not
        assert full.history[key] == resumed.history[key], key
    assert len(full.history["val_auc"]) == 3
    # the saved model predicts what the trained one does, normalization included
    loaded = load_tile_model(full.model_path)
    assert (loaded.normalizer is None) == (normalize == "none")
    np.testing.assert_allclose(loaded.predict_proba(val.tiles), full.model.predict_proba(val.tiles), atol=1e-6)


def test_tile_training_goes_through_the_one_trainer(monkeypatch):
    """camelyon's tile CNN is trained by minicnn.training.Trainer.fit, on a class-balanced batch source."""
    from minicnn.training import Trainer

    calls = []
    fit = Trainer.fit

    def spy(self, X, *args, **kwargs):
        calls.append((type(X).__name__, kwargs.get("prepare") is not None, sorted(self.metrics)))
        return fit(self, X, *args, **kwargs)

    monkeypatch.setattr(Trainer, "fit", spy)
    data = toy_tiles()
    train_tile_model(data.subset(np.arange(36)), data.subset(np.arange(36, 48)),
                     TrainingConfig(epochs=1, batch_size=8, steps_per_epoch=2), None, um_per_px=1.0, progress=False)
    assert calls == [("BalancedTileBatches", True, ["auc"])]


def test_progress_prints_one_line_per_epoch_without_a_terminal(capsys):
    data = toy_tiles()
    train_tile_model(data, None, TrainingConfig(epochs=2, batch_size=8, steps_per_epoch=1), None, um_per_px=1.0,
                     progress=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 2 and "tiles_per_s" in lines[0] and "loss" in lines[0]


def test_checkpoint_of_the_old_training_loop_is_a_clear_error(tmp_path):
    data = toy_tiles()
    out = tmp_path / "m.npz"
    np.savez(checkpoint_path(out), __format__=np.array("camelyon-tile-training-checkpoint"),
             __state__=np.array("{}"))  # what camelyon wrote before the one training loop
    cfg = TrainingConfig(epochs=2, batch_size=8, steps_per_epoch=1)
    with pytest.raises(CamelyonError, match="m.checkpoint.npz.*delete it to start afresh.*before camelyon trained "
                                            "through minicnn.training.Trainer"):
        train_tile_model(data, None, cfg, out, um_per_px=1.0, progress=False, resume=True)


def test_resume_with_other_settings_is_refused(tmp_path):
    data = toy_tiles()
    cfg = TrainingConfig(epochs=2, batch_size=8, steps_per_epoch=1, seed=0)
    train_tile_model(data, None, cfg, tmp_path / "m.npz", um_per_px=1.0, progress=False, stop_after=1)
    other = TrainingConfig(epochs=2, batch_size=8, steps_per_epoch=1, seed=1)
    with pytest.raises(CamelyonError, match="other settings"):
        train_tile_model(data, None, other, tmp_path / "m.npz", um_per_px=1.0, progress=False, resume=True)


def test_training_learns_a_visible_difference(tmp_path):
    data = toy_tiles(96, seed=1)
    train, val = data.subset(np.arange(72)), data.subset(np.arange(72, 96))
    cfg = TrainingConfig(epochs=4, batch_size=16, steps_per_epoch=8, lr=3e-3, seed=0)
    result = train_tile_model(train, val, cfg, None, um_per_px=1.0, progress=False)
    assert result.history["val_auc"][-1] > 0.9
    assert result.history["loss"][-1] < result.history["loss"][0]


def test_model_file_for_another_architecture_is_a_clear_error(tmp_path):
    from minicnn.models import digits_cnn

    other = digits_cnn(rng=0)
    meta = TileModel.new(16, 1.0).metadata()
    other.save(tmp_path / "digits.npz", metadata=meta)  # claims to be a tile model, but is not
    with pytest.raises(CamelyonError, match="tile_cnn"):
        load_tile_model(tmp_path / "digits.npz")
    renamed = dict(meta, architecture="resnet")  # an architecture this version does not know
    TileModel.new(16, 1.0).network.save(tmp_path / "renamed.npz", metadata=renamed)
    for architecture in ("tile_cnn", None):
        with pytest.raises(CamelyonError, match="renamed.npz holds .*'resnet'"):
            load_tile_model(tmp_path / "renamed.npz", architecture)
    other.save(tmp_path / "plain.npz")
    with pytest.raises(CamelyonError, match="not a camelyon tile model"):
        load_tile_model(tmp_path / "plain.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(CamelyonError, match="not a minicnn model file"):
        load_tile_model(tmp_path / "junk.npz")
    with pytest.raises(CamelyonError, match="not found"):
        load_tile_model(tmp_path / "missing.npz")


def test_model_metadata_round_trip(tmp_path):
    model = TileModel.new(16, 0.5, level=2, input_mean=[0.1, 0.2, 0.3], input_std=[0.5, 0.5, 0.5], seed=3)
    model.extra = {"note": "x"}
    loaded = load_tile_model(model.save(tmp_path / "m.npz"))
    assert loaded.tile_size == 16 and loaded.um_per_px == 0.5 and loaded.level == 2
    np.testing.assert_allclose(loaded.input_mean, [0.1, 0.2, 0.3])
    assert json.dumps(loaded.extra) == json.dumps({"note": "x"})
    tiles = toy_tiles(4).tiles
    np.testing.assert_array_equal(loaded.predict_logits(tiles), model.predict_logits(tiles))
    with pytest.raises(CamelyonError, match="uint8 tiles of shape"):
        model.predict_proba(tiles[:, :8])


def test_training_curve_at_auc_one_stays_inside_the_frame(tmp_path, monkeypatch):
    import camelyon.figures

    drawn = []
    save = camelyon.figures.save_figure
    monkeypatch.setattr(camelyon.figures, "save_figure", lambda fig, path: drawn.append(fig) or save(fig, path))
    history = {"epoch": [1, 2, 3], "loss": [0.7, 0.3, 0.1], "val_loss": [0.6, 0.2, 0.1],
               "val_auc": [0.9, 1.0, 1.0]}
    png = plot_training_curves(history, tmp_path / "curves.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    auc_axis = drawn[0].axes[1]
    bottom, top = auc_axis.get_ylim()
    assert 1.0 < top <= 1.05 and bottom <= 0.85
    assert max(auc_axis.lines[0].get_ydata()) == 1.0 < top
