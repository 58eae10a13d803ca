"""Saving/loading trees and forests without pickle, text export and pictures."""

import json

import numpy as np
import pytest

from minicnn.tree import (
    DecisionTreeClassifier,
    RandomForestClassifier,
    export_text,
    load_model,
    plot_decision_boundary,
    plot_tree,
    save_model,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    return X, y


@pytest.mark.parametrize("labels", [
    np.array(["negative", "itc", "micro"]),
    np.array([10, 20, 30]),
    np.array([0.5, 1.5, 2.5]),
    np.array(["negative", "itc", "micro"], dtype=object),
])
def test_tree_roundtrip_keeps_labels_and_predictions(tmp_path, data, labels):
    X, y = data
    clf = DecisionTreeClassifier(max_depth=4, class_weight="balanced", random_state=0).fit(X, labels[y])
    path = tmp_path / "tree.npz"
    save_model(path, clf)
    assert [p.name for p in tmp_path.iterdir()] == ["tree.npz"], "no temporary file left behind"
    with np.load(path, allow_pickle=False) as npz:  # readable without pickle
        header = json.loads(str(npz["header"]))
        assert header["kind"] == "DecisionTreeClassifier"
        assert npz["classes"].dtype.kind != "O"
    loaded = load_model(path)
    assert isinstance(loaded, DecisionTreeClassifier)
    assert loaded.get_params() == clf.get_params()
    assert list(loaded.classes_) == list(clf.classes_)
    assert np.array_equal(loaded.predict(X), clf.predict(X))
    assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert np.array_equal(loaded.feature_importances_, clf.feature_importances_)
    assert loaded.get_depth() == clf.get_depth() and loaded.n_features_in_ == 3


@pytest.mark.filterwarnings("ignore:.*never out of bag")
def test_forest_roundtrip(tmp_path, data):
    X, y = data
    labels = np.array(["negative", "micro", "macro"])[y]
    forest = RandomForestClassifier(n_estimators=7, oob_score=True, class_weight={"micro": 2.0},
                                    random_state=0).fit(X, labels)
    save_model(tmp_path / "forest.npz", forest)
    loaded = load_model(tmp_path / "forest.npz")
    assert isinstance(loaded, RandomForestClassifier)
    assert loaded.class_weight == {"micro": 2.0}
    assert np.array_equal(loaded.predict_proba(X), forest.predict_proba(X))
    assert np.array_equal(loaded.predict(X), forest.predict(X))
    assert loaded.oob_score_ == forest.oob_score_
    assert len(loaded.estimators_) == 7


def test_save_load_errors(tmp_path, data):
    X, y = data
    with pytest.raises(ValueError, match="not fitted"):
        save_model(tmp_path / "a.npz", DecisionTreeClassifier())
    with pytest.raises(ValueError, match="saves DecisionTreeClassifier or RandomForestClassifier"):
        save_model(tmp_path / "a.npz", object())
    with pytest.raises(ValueError, match="does not exist"):
        load_model(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a tree model file"):
        load_model(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a minicnn tree model"):
        load_model(tmp_path / "other.npz")


def test_export_text_lists_every_rule(data):
    X, y = data
    clf = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, np.array(["a", "b", "c"])[y])
    text = export_text(clf, feature_names=["width", "height", "depth"])
    lines = text.strip().splitlines()
    n_split = int(np.sum(clf.tree_.children_left != -1))
    assert len(lines) == 2 * n_split + clf.get_n_leaves()
    assert lines[0] == f"|--- {['width', 'height', 'depth'][clf.tree_.feature[0]]} <= {clf.tree_.threshold[0]:.2f}"
    assert sum("class:" in line for line in lines) == clf.get_n_leaves()
    assert "weights:" in export_text(clf, show_weights=True)
    assert "truncated" in export_text(DecisionTreeClassifier(random_state=0).fit(X, y), max_depth=1)
    with pytest.raises(ValueError, match="feature_names has 2 names"):
        export_text(clf, feature_names=["a", "b"])


def test_plots_draw(tmp_path, data):
    import matplotlib

    matplotlib.use("Agg")
    X, y = data
    clf = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    ax = plot_tree(clf, feature_names=["a", "b", "c"])
    assert sum("samples =" in t.get_text() for t in ax.texts) == clf.tree_.node_count
    ax.figure.savefig(tmp_path / "tree.png")
    ax = plot_tree(clf, max_depth=1)
    assert sum("samples =" in t.get_text() for t in ax.texts) == 3
    two = DecisionTreeClassifier(max_depth=4).fit(X[:, :2], y)
    ax = plot_decision_boundary(two, X[:, :2], y, resolution=50)
    ax.figure.savefig(tmp_path / "boundary.png")
    assert (tmp_path / "tree.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="shape \\(n_samples, 2\\)"):
        plot_decision_boundary(two, X, y)
    with pytest.raises(ValueError, match="fitted"):
        plot_tree(DecisionTreeClassifier())


def test_export_text_of_a_forest_or_unfitted_tree_says_what_to_pass():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"RandomForestClassifier; pass one of its trees, e\.g\. forest\.estimators_\[0\]"):
        export_text(forest)
    with pytest.raises(ValueError, match=r"unfitted DecisionTreeClassifier \(call fit first\)"):
        export_text(DecisionTreeClassifier())
    assert "class:" in export_text(forest.estimators_[0])


def test_saved_model_has_the_usual_file_permissions(tmp_path):
    import os

    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = (X[:, 0] > 0).astype(int)
    path = tmp_path / "tree.npz"
    save_model(path, DecisionTreeClassifier(random_state=0).fit(X, y))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["tree.npz"]  # no temporary file left
