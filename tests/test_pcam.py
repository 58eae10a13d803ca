"""PatchCamelyon: the reader on small files in exactly PCam's layout, and `camelyon train --pcam`."""

import gzip
import shutil

import h5py
import numpy as np
import pytest

from camelyon.cli import main
from camelyon.dataset.pcam import PCamSplit, open_pcam, pcam_file, write_pcam_split
from camelyon.errors import DatasetError


def make_tiles(n, rng):
    """Pink normal tiles; tumour tiles have a purple 32 x 32 px centre (PCam's label rule)."""
    labels = (np.arange(n) % 2).astype(np.uint8)
    rng.shuffle(labels)
    tiles = np.empty((n, 96, 96, 3), np.uint8)
    tiles[:] = (226, 150, 196)
    tiles[labels == 1, 32:64, 32:64] = (120, 60, 160)
    noise = rng.normal(0, 12, tiles.shape)
    return np.clip(tiles + noise, 0, 255).astype(np.uint8), labels


@pytest.fixture(scope="module")
def pcam(tmp_path_factory):
    root = tmp_path_factory.mktemp("pcam")
    rng = np.random.default_rng(0)
    for split, n in (("train", 192), ("valid", 48), ("test", 64)):
        tiles, labels = make_tiles(n, rng)
        meta = {"coord_y": rng.integers(0, 9e4, n), "coord_x": rng.integers(0, 9e4, n),
                "tumor_patch": labels == 1, "center_tumor_patch": labels == 1,
                "wsi": [f"camelyon16_{split}_tumor_{i % 5:03d}" for i in range(n)]}
        write_pcam_split(root, split, tiles, labels, meta)
    return root


def test_files_are_in_pcam_layout(pcam):
    names = sorted(p.name for p in pcam.iterdir())
    assert names == sorted(f"camelyonpatch_level_2_split_{s}_{k}" for s in ("train", "valid", "test")
                           for k in ("x.h5", "y.h5", "meta.csv"))
    with h5py.File(pcam_file(pcam, "valid", "x"), "r") as f:
        assert f["x"].shape == (48, 96, 96, 3) and f["x"].dtype == np.uint8
    with h5py.File(pcam_file(pcam, "valid", "y"), "r") as f:
        assert f["y"].shape == (48, 1, 1, 1)
    assert (pcam / "camelyonpatch_level_2_split_test_meta.csv").read_text().startswith(
        ",coord_y,coord_x,tumor_patch,center_tumor_patch,wsi\n0,")


def test_read_batch_in_any_order_with_repeats(pcam):
    with PCamSplit(pcam, "train") as split, h5py.File(pcam_file(pcam, "train", "x"), "r") as f:
        x = f["x"][...]
        idx = np.array([7, 3, 3, 150, 4, 5, 6, 0])
        tiles, labels = split.read_batch(idx)
        np.testing.assert_array_equal(tiles, x[idx])
        np.testing.assert_array_equal(labels, split.labels[idx])
        assert len(split) == 192 and split.labels.sum() == 96
        assert split.meta["wsi"][2] == "camelyon16_train_tumor_002"
        np.testing.assert_array_equal(split.meta["center_tumor_patch"], split.labels == 1)
        sub = split.tiles.subset(np.array([10, 20, 30]))
        np.testing.assert_array_equal(sub[np.array([2, 0])], x[[30, 10]])
        np.testing.assert_array_equal(sub[1:], x[[20, 30]])
        batches = list(split.iter_batches([np.array([1, 2]), np.array([9])]))
        np.testing.assert_array_equal(batches[1][0], x[[9]])


def test_gzipped_download_gets_a_one_line_instruction(pcam, tmp_path):
    for p in pcam.iterdir():
        if p.name.endswith(".h5") and "_test_" in p.name:
            with open(p, "rb") as src, gzip.open(tmp_path / (p.name + ".gz"), "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copy(p, tmp_path / p.name)
    with pytest.raises(DatasetError, match=r"gzip-compressed .*gunzip .*\.h5\.gz"):
        open_pcam(tmp_path)
    (tmp_path / "camelyonpatch_level_2_split_valid_y.h5").unlink()
    with pytest.raises(DatasetError, match="valid_y.h5: PCam file not found"):
        PCamSplit(tmp_path, "valid")


def test_wrong_shape_is_named(tmp_path):
    with h5py.File(tmp_path / "camelyonpatch_level_2_split_test_x.h5", "w") as f:
        f["x"] = np.zeros((2, 64, 64, 3), np.uint8)
    with h5py.File(tmp_path / "camelyonpatch_level_2_split_test_y.h5", "w") as f:
        f["y"] = np.zeros((2, 1, 1, 1), np.uint8)
    with pytest.raises(DatasetError, match=r"test_x\.h5: dataset 'x' is uint8 \(2, 64, 64, 3\), expected"):
        PCamSplit(tmp_path, "test")


@pytest.mark.slow
def test_train_on_pcam_prints_test_accuracy_and_auc(pcam, tmp_path, capsys):
    out = tmp_path / "pcam_model.npz"
    assert main(["train", "--pcam", str(pcam), "--out", str(out), "--epochs", "2", "--max-tiles", "128",
                 "--batch-size", "16", "--quiet"]) == 0
    text = capsys.readouterr().out
    acc = float(text.split("test accuracy ")[1].split()[0])
    auc = float(text.split("test AUC ")[1].split()[0])
    assert "on 128 PCam training tiles" in text and "on 64 test tiles" in text
    assert acc >= 0.8 and auc >= 0.9  # a purple centre is easy to learn
    from camelyon.tile_model import load_tile_model
    model = load_tile_model(out, architecture=None)
    assert model.tile_size == 96 and model.um_per_px == pytest.approx(0.972)
    assert main(["train", "--pcam", str(pcam), "--out", str(tmp_path / "x.npz"), "--normalize", "macenko"]) == 2
    assert main(["train", str(out), "--pcam", str(pcam), "--out", str(tmp_path / "y.npz")]) == 2


@pytest.mark.slow
def test_s05_real_data_section_uses_pcam_when_a_path_is_given(pcam, tmp_path, monkeypatch, capsys):
    import json
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    nb = json.loads((Path(__file__).resolve().parents[1] / "specific_exercises" / "S05_tile_cnn.ipynb").read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    cell = next(c for c in cells if "PCAM_DIR = None" in c)
    monkeypatch.chdir(tmp_path)
    exec(cell, {})  # as committed: skipped
    assert "section is skipped" in capsys.readouterr().out
    source = cell.replace("PCAM_DIR = None", f"PCAM_DIR = {str(pcam)!r}").replace(
        "PCAM_STEPS, PCAM_TEST_TILES = 200, 4096", "PCAM_STEPS, PCAM_TEST_TILES = 2, 32")
    exec(source, {})
    text = capsys.readouterr().out
    assert "'train': '192 tiles, 50% tumour'" in text
    assert "test accuracy" in text and "on 32 test tiles" in text
    assert (tmp_path / "runs" / "pcam_tile_model.npz").is_file()
