"""Model, tree and checkpoint files that are empty, truncated, not .npz, crafted or inconsistent.

Every case ends in a ValueError (minicnn) or a one-line CamelyonError (camelyon) naming the file,
quickly: no traceback from zipfile or numpy, no advice about pickles, no hang, no huge allocation.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from camelyon.cli import main
from camelyon.errors import CamelyonError
from minicnn import Sequential
from minicnn.layers import Dense, ReLU
from minicnn.tree import DecisionTreeClassifier, RandomForestClassifier, load_model, save_model


def _damaged_copies(good, folder):
    """(case name, path) of files made from the bytes of a good .npz file."""
    data = good.read_bytes()
    cases = {
        "empty": b"",
        "text": b"this is not a model\n",
        "truncated-half": data[: len(data) // 2],
        "truncated-end": data[:-10],
        "flipped-byte": data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1:],
        "npy": b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }" + b" " * 40,
    }
    out = []
    for name, payload in cases.items():
        p = folder / f"{name}.npz"
        p.write_bytes(payload)
        out.append((name, p))
    return out


def _forest(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    path = tmp_path / "forest.npz"
    save_model(path, RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y))
    return path


def _rewrite(path, change):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    np.savez(path, **arrays)


def _run_with_time_limit(fn, seconds=10.0):
    """Run fn in a thread; fail when it has not returned within ``seconds`` (a hang)."""
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s (a hang)"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def test_damaged_tree_model_files_name_the_file(tmp_path):
    good = _forest(tmp_path)
    for case, path in _damaged_copies(good, tmp_path):
        try:
            load_model(path)
        except ValueError as exc:
            text = str(exc)
            assert str(path) in text and "pickle" not in text, (case, text)
        else:
            assert case == "flipped-byte"  # a byte of compressed padding may not matter


@pytest.mark.parametrize("case", ["cycle", "self-loop", "out-of-range", "one-child", "feature", "nan"])
def test_tree_model_with_a_bad_structure_is_refused_without_hanging(tmp_path, case):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    path = tmp_path / "tree.npz"
    save_model(path, DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y))

    def change(a):
        left, right = a["tree_0/children_left"], a["tree_0/children_right"]
        split = np.flatnonzero(left != -1)
        k = int(split[-1])
        if case == "cycle":
            left[k] = 0  # back to the root: prediction would loop for ever
        elif case == "self-loop":
            right[k] = k
        elif case == "out-of-range":
            right[k] = 10**6
        elif case == "one-child":
            right[k] = -1
        elif case == "feature":
            a["tree_0/feature"][k] = 7
        else:
            a["tree_0/threshold"][k] = np.nan

    _rewrite(path, change)
    with pytest.raises(ValueError, match=str(path)):
        _run_with_time_limit(lambda: load_model(path))


def _network(tmp_path):
    path = tmp_path / "net.npz"
    Sequential(Dense(4, 8, rng=0), ReLU(), Dense(8, 2, rng=1)).save(path)
    return path


def test_damaged_network_files_name_the_file(tmp_path):
    good = _network(tmp_path)
    for case, path in _damaged_copies(good, tmp_path):
        with pytest.raises(ValueError) as info:
            Sequential.load(path)
        assert str(path) in str(info.value) and "pickle" not in str(info.value), case


def test_crafted_architecture_is_refused_before_allocating(tmp_path):
    path = _network(tmp_path)

    def change(a):
        arch = json.loads(str(a["__architecture__"]))
        arch["layers"][2].update(in_features=400_000, out_features=200_000)  # 298 GiB of float32 weights
        a["__architecture__"] = np.array(json.dumps(arch))

    _rewrite(path, change)
    with pytest.raises(ValueError, match=r"layer 2 \(Dense\) needs at least 80,000,000,000 weights but the file holds 18"):
        _run_with_time_limit(lambda: Sequential.load(path), seconds=5)


def test_tile_model_command_with_a_truncated_model_is_one_line(tmp_path, capsys):
    good = _network(tmp_path)
    bad = tmp_path / "model.npz"
    bad.write_bytes(good.read_bytes()[:100])
    (tmp_path / "slides").mkdir()
    status = main(["heatmap", str(tmp_path / "slides"), "--model", str(bad), "--out", str(tmp_path / "maps")])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1 and str(bad) in err, err


@pytest.fixture
def toy_store(tmp_path, monkeypatch):
    from test_cli_messages import toy_store_tiles

    import camelyon.training

    monkeypatch.setattr(camelyon.training, "load_store_tiles", lambda path, max_bytes=0, progress=True:
                        toy_store_tiles(12))
    return tmp_path / "tiles.h5"


TRAIN = ["--epochs", "2", "--steps-per-epoch", "1", "--batch-size", "4", "--quiet"]


@pytest.mark.parametrize("case", ["epoch-beyond", "negative", "empty", "truncated", "text"])
def test_bad_checkpoint_on_resume_is_one_line_and_no_model_is_claimed(toy_store, tmp_path, capsys, case):
    from camelyon.training import TrainingConfig, checkpoint_path, train_from_store

    out = tmp_path / "m.npz"
    train_from_store(toy_store, out, TrainingConfig(epochs=2, batch_size=4, steps_per_epoch=1),
                     progress=False, stop_after=1)
    ckpt = checkpoint_path(out)
    if case in ("epoch-beyond", "negative"):
        def change(a):  # the trainer's record (minicnn.training.Trainer.save_checkpoint)
            state = json.loads(str(a["__trainer__"]))
            state["epoch"] = 5 if case == "epoch-beyond" else -1
            if case == "epoch-beyond":
                state["history"] = {k: v * 5 for k, v in state["history"].items()}
            a["__trainer__"] = np.array(json.dumps(state))
        _rewrite(ckpt, change)
    elif case == "empty":
        ckpt.write_bytes(b"")
    elif case == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:-200])
    else:
        ckpt.write_text("epoch=5\n")
    capsys.readouterr()
    status = main(["train", str(toy_store), "--out", str(out), "--resume", *TRAIN])
    captured = capsys.readouterr()
    assert status == 2, captured
    assert str(ckpt) in captured.err and "delete it to start afresh" in captured.err
    assert len(captured.err.strip().splitlines()) == 1 and "pickle" not in captured.err
    assert "wrote" not in captured.out and not out.exists()


def test_slide_classifier_with_a_cycle_is_a_camelyon_error(tmp_path):
    from camelyon.slide_classifier import SlideClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    labels = np.array(["negative", "macro"] * 20)
    clf = SlideClassifier(kind="tree", max_depth=3).fit(X, labels, feature_names=["a", "b"])
    path = clf.save(tmp_path / "clf.npz")
    _rewrite(path, lambda a: a["tree_0/children_left"].__setitem__(int(np.flatnonzero(a["tree_0/children_left"] != -1)[-1]), 0))
    with pytest.raises(CamelyonError, match="a cycle or an index out of range"):
        _run_with_time_limit(lambda: SlideClassifier.load(path))
