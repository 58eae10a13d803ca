"""Text rendering of a fitted decision tree."""

import numpy as np

from .structure import TREE_LEAF


def _fitted_tree(estimator):
    if not hasattr(estimator, "tree_"):
        raise ValueError(f"export_text needs a fitted DecisionTreeClassifier, got {_what(estimator)}")
    return estimator.tree_


def _what(estimator):
    """Describe a non-tree argument: an unfitted estimator, a forest (pass one of its trees) or else."""
    name = type(estimator).__name__
    if hasattr(estimator, "n_estimators"):
        return f"a {name}; pass one of its trees, e.g. forest.estimators_[0]"
    return f"an unfitted {name} (call fit first)" if hasattr(estimator, "fit") else f"an object of type {name}"


def export_text(decision_tree, feature_names=None, class_names=None, max_depth=10, decimals=2,
                show_weights=False):
    """Describe the rules of a fitted tree as indented text, one line per branch or leaf.

    Parameters
    ----------
    decision_tree : DecisionTreeClassifier
        A fitted tree.
    feature_names : sequence of str, optional
        Names of the ``n_features_in_`` features (default ``feature_0``, ``feature_1``, ...).
    class_names : sequence of str, optional
        Names of the classes in the order of ``classes_`` (default: the labels themselves).
    max_depth : int, default 10
        Branches deeper than this are summarised as "truncated".
    decimals : int, default 2
        Digits after the decimal point of thresholds and weights.
    show_weights : bool, default False
        Also print the weighted class counts of each leaf.

    Returns
    -------
    str

    Examples
    --------
    ``|--- petal_width <= 0.80`` / ``|   |--- class: setosa``
    """
    tree = _fitted_tree(decision_tree)
    n_features = decision_tree.n_features_in_
    if feature_names is None:
        feature_names = [f"feature_{i}" for i in range(n_features)]
    elif len(feature_names) != n_features:
        raise ValueError(f"feature_names has {len(feature_names)} names, but the tree has {n_features} features")
    classes = decision_tree.classes_ if class_names is None else class_names
    if len(classes) != decision_tree.n_classes_:
        raise ValueError(f"class_names has {len(classes)} names, but the tree has {decision_tree.n_classes_} classes")
    if not isinstance(max_depth, (int, np.integer)) or max_depth < 0:
        raise ValueError(f"max_depth must be an int >= 0, got {max_depth!r}")

    lines = []

    def leaf_line(node, indent):
        value = tree.value[node]
        text = f"{indent}|--- class: {classes[int(np.argmax(value))]}"
        if show_weights:
            weights = value * tree.weighted_n_node_samples[node]
            text += " (weights: [" + ", ".join(f"{v:.{decimals}f}" for v in weights) + "])"
        lines.append(text)

    def walk(node, depth):
        indent = "|   " * depth
        if tree.children_left[node] == TREE_LEAF:
            leaf_line(node, indent)
            return
        if depth > max_depth:
            lines.append(f"{indent}|--- truncated branch of depth {_subtree_depth(tree, node)}")
            return
        name = feature_names[tree.feature[node]]
        thr = tree.threshold[node]
        lines.append(f"{indent}|--- {name} <= {thr:.{decimals}f}")
        walk(tree.children_left[node], depth + 1)
        lines.append(f"{indent}|--- {name} >  {thr:.{decimals}f}")
        walk(tree.children_right[node], depth + 1)

    walk(0, 0)
    return "\n".join(lines) + "\n"


def _subtree_depth(tree, node):
    depth = 0
    stack = [(node, 0)]
    while stack:
        n, d = stack.pop()
        depth = max(depth, d)
        if tree.children_left[n] != TREE_LEAF:
            stack.append((tree.children_left[n], d + 1))
            stack.append((tree.children_right[n], d + 1))
    return depth
