"""Saving and loading fitted trees and forests as ``.npz`` files, without pickle.

The file holds a JSON header (estimator kind, parameters, shapes), the class labels as a plain
NumPy array (numbers, or unicode strings such as ``negative``/``itc``/``micro``/``macro``), and the
parallel arrays of every tree under ``tree_<i>/<array name>``. It is read back with
``allow_pickle=False``, so loading a file can never run code.
"""

import json
import os

import numpy as np

from minicnn.io import save_npz
from minicnn.npz_files import NPZ_READ_ERRORS, describe_npz_error, open_npz

from .forest import RandomForestClassifier
from .structure import ARRAY_NAMES, Tree
from .tree import DecisionTreeClassifier

FORMAT = "minicnn.tree"
VERSION = 1
_KINDS = {"DecisionTreeClassifier": DecisionTreeClassifier, "RandomForestClassifier": RandomForestClassifier}


def _classes_array(classes):
    classes = np.asarray(classes)
    if classes.dtype.kind in "biufUS":
        return classes
    if classes.dtype.kind == "O":
        values = list(classes)
        if all(isinstance(v, str) for v in values):
            return np.array(values, dtype=str)
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            return np.array(values, dtype=np.int64)
        if all(isinstance(v, (float, int, np.number)) for v in values):
            return np.array(values, dtype=np.float64)
    raise ValueError(
        f"cannot save class labels of dtype {classes.dtype} ({list(classes)[:5]}...); use numbers or strings"
    )


def _json_params(params):
    out = {}
    for name, value in params.items():
        if isinstance(value, np.random.Generator):
            value = None  # a Generator's state is not a parameter worth keeping
        elif isinstance(value, dict):  # class_weight: keys may be ints or strings
            value = {"__pairs__": [[k.item() if hasattr(k, "item") else k, float(v)] for k, v in value.items()]}
        elif isinstance(value, np.generic):
            value = value.item()
        out[name] = value
    return out


def _params_from_json(params):
    out = {}
    for name, value in params.items():
        if isinstance(value, dict) and "__pairs__" in value:
            value = {k: v for k, v in value["__pairs__"]}
        out[name] = value
    return out


def save_model(path, estimator):
    """Save a fitted DecisionTreeClassifier or RandomForestClassifier to ``path`` (.npz), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file (written to a temporary name in the same folder, then renamed).
    estimator : DecisionTreeClassifier or RandomForestClassifier
        A fitted estimator.
    """
    kind = type(estimator).__name__
    if kind not in _KINDS:
        raise ValueError(f"save_model saves DecisionTreeClassifier or RandomForestClassifier, got {kind}")
    trees = [estimator] if kind == "DecisionTreeClassifier" else getattr(estimator, "estimators_", None)
    if trees is None or not hasattr(trees[0], "tree_"):
        raise ValueError(f"the {kind} is not fitted; call fit before save_model")
    header = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "params": _json_params(estimator.get_params()),
        "n_features_in": int(estimator.n_features_in_),
        "n_trees": len(trees),
    }
    arrays = {
        "classes": _classes_array(estimator.classes_),
        "feature_importances": estimator.feature_importances_,
    }
    if kind == "RandomForestClassifier" and hasattr(estimator, "oob_score_"):
        header["oob_score"] = float(estimator.oob_score_)
        arrays["oob_decision_function"] = estimator.oob_decision_function_
    for i, tree in enumerate(trees):
        for name, arr in tree.tree_.to_arrays().items():
            arrays[f"tree_{i}/{name}"] = arr
        if kind == "RandomForestClassifier":
            arrays[f"tree_{i}/feature_importances"] = tree.feature_importances_
    arrays["header"] = np.array(json.dumps(header))

    save_npz(path, arrays, compressed=True)


def tree_structure_problem(arrays, n_features, n_classes):
    """What is wrong with a tree's arrays read from a file, or None when they describe a valid tree.

    A valid tree has 1-D arrays of one length ``n`` (``value`` of shape (n, n_classes)); every
    split node's children are later nodes (pre-order numbering, which rules out cycles and
    shared subtrees that would make prediction loop or read outside the arrays), each node but
    the root has exactly one parent, split features are in ``[0, n_features)`` and thresholds are
    not NaN. Checked in O(n) before the tree is used.

    Parameters
    ----------
    arrays : dict of str -> ndarray
        The arrays named in :data:`minicnn.tree.structure.ARRAY_NAMES`.
    n_features, n_classes : int

    Returns
    -------
    str or None
    """
    left = np.asarray(arrays["children_left"])
    right = np.asarray(arrays["children_right"])
    n = left.shape[0] if left.ndim == 1 else -1
    if n < 1:
        return f"children_left must be a non-empty 1-D array, got shape {left.shape}"
    for name in ARRAY_NAMES:
        a = np.asarray(arrays[name])
        want = (n, n_classes) if name == "value" else (n,)
        if a.shape != want:
            return f"{name} has shape {a.shape}, expected {want}"
        if a.dtype.kind not in "iuf" or (a.dtype.kind == "f" and name in ("children_left", "children_right", "feature")):
            return f"{name} has dtype {a.dtype}, expected numbers"
    leaf = left == -1
    if not np.array_equal(leaf, right == -1):
        bad = int(np.flatnonzero(leaf != (right == -1))[0])
        return f"node {bad} has one child only"
    nodes = np.arange(n)
    split = ~leaf
    for name, child in (("children_left", left), ("children_right", right)):
        bad = split & ((child <= nodes) | (child >= n))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            return (f"node {k} has {name} {int(child[k])}; children must be later nodes below {n} "
                    "(a cycle or an index out of range)")
    parents = np.bincount(np.concatenate([left[split], right[split]]), minlength=n)
    if parents[0] != 0 or (parents[1:] != 1).any():
        k = int(np.flatnonzero(np.r_[parents[0] != 0, parents[1:] != 1])[0])
        return f"node {k} has {int(parents[k])} parents, expected {0 if k == 0 else 1}"
    feature = np.asarray(arrays["feature"])
    bad = split & ((feature < 0) | (feature >= n_features))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        return f"node {k} splits on feature {int(feature[k])}, expected 0 to {n_features - 1}"
    if np.isnan(np.asarray(arrays["threshold"], dtype=np.float64)[split]).any():
        return "a split threshold is NaN"
    return None


def load_model(path):
    """Load an estimator saved by :func:`save_model`.

    Returns
    -------
    DecisionTreeClassifier or RandomForestClassifier
        Ready to predict, with the same ``classes_`` (same label type) and trees.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"model file {path} does not exist")
    data = open_npz(path, "tree model file")
    try:
        with data:
            return _read_model(path, data)
    except ValueError:
        raise  # names the file already
    except (*NPZ_READ_ERRORS, TypeError) as exc:
        raise ValueError(f"{path}: damaged tree model file ({describe_npz_error(exc)})") from None


def _read_model(path, data):
    """The estimator stored in an open tree-model file (see :func:`load_model`)."""
    if "header" not in data.files:
        raise ValueError(f"{path} is not a minicnn tree model (no header)")
    header = json.loads(str(data["header"]))
    if header.get("format") != FORMAT or header.get("kind") not in _KINDS:
        raise ValueError(f"{path} is not a minicnn tree model (format {header.get('format')!r})")
    if header["version"] > VERSION:
        raise ValueError(f"{path} has format version {header['version']}; this minicnn reads up to {VERSION}")
    classes = data["classes"]
    n_features = int(header["n_features_in"])
    trees = []
    for i in range(int(header["n_trees"])):
        try:
            arrays = {name: data[f"tree_{i}/{name}"] for name in ARRAY_NAMES}
        except KeyError as exc:
            raise ValueError(f"{path} is damaged: missing {exc}") from None
        problem = tree_structure_problem(arrays, n_features, int(classes.shape[0]))
        if problem is not None:
            raise ValueError(f"{path} is damaged or was not written by minicnn: tree {i}: {problem}")
        tree = DecisionTreeClassifier()
        tree.tree_ = Tree(**arrays)
        tree.classes_ = classes
        tree.n_classes_ = int(classes.shape[0])
        tree.n_features_in_ = n_features
        key = f"tree_{i}/feature_importances"
        tree.feature_importances_ = (data[key] if key in data.files
                                     else tree.tree_.compute_feature_importances(n_features))
        trees.append(tree)
    params = _params_from_json(header["params"])
    estimator = _KINDS[header["kind"]](**params)
    if header["kind"] == "DecisionTreeClassifier":
        trees[0].set_params(**params)
        estimator = trees[0]
    else:
        tree_params = estimator._tree_params()
        for tree in trees:
            tree.set_params(**tree_params)
        estimator.estimators_ = trees
        estimator.classes_ = classes
        estimator.n_classes_ = int(classes.shape[0])
        estimator.n_features_in_ = n_features
        if "oob_score" in header:
            estimator.oob_score_ = header["oob_score"]
            estimator.oob_decision_function_ = data["oob_decision_function"]
    estimator.feature_importances_ = data["feature_importances"]
    return estimator
