"""Pictures of trees: the tree itself and the decision regions of a classifier on 2-D data."""

import numpy as np

from .structure import TREE_LEAF


def _pyplot():
    import matplotlib.pyplot as plt  # falls back to the Agg backend when there is no display

    return plt


def plot_tree(decision_tree, feature_names=None, class_names=None, max_depth=None, ax=None, fontsize=8,
              filled=True):
    """Draw a fitted tree: one box per node with its test (or class), impurity, samples and class
    fractions; left children below-left ("yes", x <= threshold), right children below-right.

    Parameters
    ----------
    decision_tree : DecisionTreeClassifier
        A fitted tree.
    feature_names, class_names : sequence of str, optional
    max_depth : int, optional
        Draw only the nodes up to this depth.
    ax : matplotlib Axes, optional
        Where to draw (a new figure otherwise).
    fontsize : float
    filled : bool
        Colour each box by its majority class, paler when the node is impure.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not hasattr(decision_tree, "tree_"):
        from .export import _what

        raise ValueError(f"plot_tree needs a fitted DecisionTreeClassifier, got {_what(decision_tree)}")
    plt = _pyplot()
    tree = decision_tree.tree_
    n_features = decision_tree.n_features_in_
    names = feature_names if feature_names is not None else [f"x[{i}]" for i in range(n_features)]
    if len(names) != n_features:
        raise ValueError(f"feature_names has {len(names)} names, but the tree has {n_features} features")
    classes = class_names if class_names is not None else [str(c) for c in decision_tree.classes_]
    limit = tree.max_depth if max_depth is None else int(max_depth)
    # x position: leaves (or truncated nodes) left to right in order, parents centred over children
    positions = {}
    next_x = [0.0]

    def place(node, depth):
        is_leaf = tree.children_left[node] == TREE_LEAF or depth == limit
        if is_leaf:
            positions[node] = (next_x[0], depth)
            next_x[0] += 1.0
            return
        place(tree.children_left[node], depth + 1)
        place(tree.children_right[node], depth + 1)
        x = (positions[tree.children_left[node]][0] + positions[tree.children_right[node]][0]) / 2
        positions[node] = (x, depth)

    place(0, 0)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(2 + 2.4 * next_x[0], 60), 1.5 * (limit + 1) + 0.5))
    cmap = plt.get_cmap("tab10")
    n_classes = tree.value.shape[1]
    for node, (x, depth) in positions.items():
        value = tree.value[node]
        k = int(np.argmax(value))
        lines = []
        if tree.children_left[node] != TREE_LEAF and depth < limit:
            lines.append(f"{names[tree.feature[node]]} <= {tree.threshold[node]:.3g}")
        elif tree.children_left[node] != TREE_LEAF:
            lines.append("(...)")
        lines.append(f"impurity = {tree.impurity[node]:.3f}")
        lines.append(f"samples = {tree.n_node_samples[node]}")
        lines.append("value = [" + ", ".join(f"{v:.2f}" for v in value) + "]")
        lines.append(f"class = {classes[k]}")
        face = "white"
        if filled:
            strength = (value[k] - 1.0 / n_classes) / (1.0 - 1.0 / n_classes) if n_classes > 1 else 1.0
            base = np.array(cmap(k % 10))
            face = tuple(1.0 - strength * 0.7 * (1.0 - base[:3])) + (1.0,)
        ax.text(x, -depth, "\n".join(lines), ha="center", va="center", fontsize=fontsize,
                bbox={"boxstyle": "round", "facecolor": face, "edgecolor": "0.3"})
        if tree.children_left[node] != TREE_LEAF and depth < limit:
            for child, label in ((tree.children_left[node], "yes"), (tree.children_right[node], "no")):
                cx, cd = positions[child]
                ax.annotate("", xy=(cx, -cd + 0.25), xytext=(x, -depth - 0.25),
                            arrowprops={"arrowstyle": "->", "color": "0.4"})
                if node == 0:
                    ax.text((x + cx) / 2, -(depth + cd) / 2, label, fontsize=fontsize, ha="center")
    ax.set_xlim(-0.7, max(next_x[0] - 0.3, 0.7))
    ax.set_ylim(-limit - 0.7, 0.7)
    ax.axis("off")
    return ax


def plot_decision_boundary(estimator, X, y=None, ax=None, resolution=300, padding=0.5, alpha=0.3,
                           feature_names=None):
    """Colour the plane by the class a fitted 2-feature classifier predicts, and scatter the data.

    Parameters
    ----------
    estimator : fitted classifier with ``predict`` and ``classes_`` (e.g. a tree or forest)
    X : array-like of shape (n_samples, 2)
    y : array-like of shape (n_samples,), optional
        Labels used to colour the points (same label set as ``estimator.classes_``).
    ax : matplotlib Axes, optional
    resolution : int
        Grid points per axis.
    padding : float
        Margin around the data, in feature units.

    Returns
    -------
    matplotlib.axes.Axes
    """
    plt = _pyplot()
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs X of shape (n_samples, 2), got {X.shape}")
    if not hasattr(estimator, "classes_"):
        raise ValueError("plot_decision_boundary needs a fitted estimator (call fit first)")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    lo = X.min(axis=0) - padding
    hi = X.max(axis=0) + padding
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    pred = estimator.predict(np.column_stack([gx.ravel(), gy.ravel()]))
    classes = list(estimator.classes_)
    index = np.searchsorted(np.asarray(estimator.classes_), pred).reshape(gx.shape)
    cmap = plt.get_cmap("tab10")
    levels = np.arange(len(classes) + 1) - 0.5
    ax.contourf(gx, gy, index, levels=levels, colors=[cmap(k % 10) for k in range(len(classes))], alpha=alpha)
    if y is not None:
        y = np.asarray(y)
        for k, c in enumerate(classes):
            mask = y == c
            ax.scatter(X[mask, 0], X[mask, 1], s=12, color=cmap(k % 10), edgecolor="k", linewidth=0.3,
                       label=str(c))
        ax.legend(loc="best", fontsize=8)
    names = feature_names or ("x[0]", "x[1]")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    return ax
