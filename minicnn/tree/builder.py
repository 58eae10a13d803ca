"""Growing a classification tree, depth first.

Two builders with the same rules, so they grow the same tree:

* :func:`grow_naive`: readable recursion in Python on top of
  :func:`minicnn.tree.split_naive.best_split_naive` (exercise G08);
* :func:`grow_fast`: one compiled loop (Numba, releases the GIL) on top of
  :mod:`minicnn.tree.split_fast`, which sorts each feature once per tree.

Rules (scikit-learn's): a node becomes a leaf when it is at ``max_depth``, holds fewer than
``min_samples_split`` samples, fewer than ``2 * min_samples_leaf`` samples, is pure, has no valid
split, or when its best split decreases the weighted impurity by less than ``min_impurity_decrease``:

    N_t / N * (impurity - N_t_L / N_t * impurity_left - N_t_R / N_t * impurity_right)

with ``N`` the total sample weight, ``N_t`` the node's, ``N_t_L`` and ``N_t_R`` its children's.
Before each split search the feature order is reshuffled by :func:`minicnn.tree._random.shuffle_features`.
Nodes are numbered in pre-order. Samples with zero weight take no part in the growth.
"""

import numba
import numpy as np

from ._random import shuffle_features
from .criteria import impurity
from .split_fast import CRITERION_IDS, NO_SPLIT, best_split_fast, node_impurity, partition_node
from .split_naive import best_split_naive
from .structure import TREE_LEAF, TREE_UNDEFINED, Tree

#: Impurities at or below this count as a pure node (float64 machine epsilon, 2.22e-16).
EPSILON = float(np.finfo(np.float64).eps)
#: Parent of the root on the compiled builder's stack of pending nodes.
NO_PARENT = -1


class NodeRecorder:
    """Collects nodes one by one (for the naive builder) and turns them into a :class:`Tree`."""

    def __init__(self, n_classes):
        self.n_classes = n_classes
        self.children_left = []
        self.children_right = []
        self.feature = []
        self.threshold = []
        self.value = []
        self.impurity = []
        self.n_node_samples = []
        self.weighted_n_node_samples = []

    def add_leaf(self, counts, node_impurity, n_samples):
        """Add a node (a leaf until :meth:`make_split` is called) and return its id.

        Parameters
        ----------
        counts : ndarray of shape (n_classes,)
            Weighted class counts of the node.
        node_impurity : float
        n_samples : int
            Number of samples in the node.
        """
        weight = float(np.sum(counts))
        self.children_left.append(TREE_LEAF)
        self.children_right.append(TREE_LEAF)
        self.feature.append(TREE_UNDEFINED)
        self.threshold.append(float(TREE_UNDEFINED))
        self.value.append(np.asarray(counts, dtype=np.float64) / weight)
        self.impurity.append(float(node_impurity))
        self.n_node_samples.append(int(n_samples))
        self.weighted_n_node_samples.append(weight)
        return len(self.children_left) - 1

    def make_split(self, node, feature, threshold, left, right):
        """Turn ``node`` into a split node testing ``x[feature] <= threshold`` with the given children."""
        self.children_left[node] = left
        self.children_right[node] = right
        self.feature[node] = int(feature)
        self.threshold[node] = float(threshold)

    def to_tree(self):
        return Tree(self.children_left, self.children_right, self.feature, self.threshold,
                    np.array(self.value).reshape(-1, self.n_classes), self.impurity,
                    self.n_node_samples, self.weighted_n_node_samples)


def grow_naive(X, y, w, n_classes, params, rng_state):
    """Grow a tree with the naive split search (pure Python recursion).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,), int64
        Encoded classes in [0, n_classes).
    w : ndarray of shape (n_samples,), float64
        Sample weights; rows with weight 0 are left out.
    n_classes : int
    params : dict
        From :func:`minicnn.tree._validation.resolve_tree_params`.
    rng_state : ndarray of shape (1,), uint64
        Random stream for the feature orders (advanced in place).

    Returns
    -------
    Tree
    """
    rows = np.flatnonzero(w > 0)
    recorder = NodeRecorder(n_classes)
    feature_order = np.arange(X.shape[1], dtype=np.int64)
    total_weight = float(np.sum(w[rows]))
    grow_node(recorder, X, y, w, rows, 0, total_weight, n_classes, params, feature_order, rng_state)
    return recorder.to_tree()


def grow_node(recorder, X, y, w, rows, depth, total_weight, n_classes, params, feature_order, rng_state):
    """Add the node holding ``rows`` to ``recorder`` and, unless it is a leaf, grow its subtrees.

    Steps: class counts and impurity of the node; ``recorder.add_leaf``; stop if a leaf rule holds
    (see the module docstring; pure means impurity <= EPSILON); otherwise
    ``shuffle_features(feature_order, rng_state)``, ``best_split_naive``; stop when there is no split
    or its impurity decrease (plus EPSILON) is below ``params["min_impurity_decrease"]``; grow the left
    child (``x <= threshold``) then the right child at ``depth + 1``; ``recorder.make_split``.

    Parameters
    ----------
    rows : ndarray of shape (n_node,), int64
        Indices of the node's samples (ascending).
    depth : int
        Depth of this node (the root has depth 0).
    total_weight : float
        Summed weight of all training samples (N in the impurity decrease).
    params : dict
        Keys ``"criterion"`` ("gini" or "entropy"), ``"max_depth"`` (int; no limit is a large int),
        ``"min_samples_split"``, ``"min_samples_leaf"`` (ints), ``"min_impurity_decrease"`` (float) and
        ``"max_features"`` (int, features tried per split).

    Returns
    -------
    int
        The id of the node.
    """
    ### BEGIN SOLUTION (G08) return the node id from recorder.add_leaf; leaf rules and the split as the docstring says (params keys listed there); recurse left (x <= threshold) then right, then recorder.make_split
    criterion = params["criterion"]
    min_samples_leaf = params["min_samples_leaf"]
    counts = np.bincount(y[rows], weights=w[rows], minlength=n_classes)
    node_impurity_value = impurity(counts, criterion)
    n_node = rows.shape[0]
    node = recorder.add_leaf(counts, node_impurity_value, n_node)
    if (depth >= params["max_depth"] or n_node < params["min_samples_split"]
            or n_node < 2 * min_samples_leaf or node_impurity_value <= EPSILON):
        return node
    shuffle_features(feature_order, rng_state)
    split = best_split_naive(X, y, w, rows, n_classes, criterion, feature_order,
                             params["max_features"], min_samples_leaf)
    if split is None:
        return node
    weight = counts.sum()
    decrease = (weight / total_weight) * (
        node_impurity_value
        - split.weighted_n_left / weight * split.impurity_left
        - split.weighted_n_right / weight * split.impurity_right
    )
    if decrease + EPSILON < params["min_impurity_decrease"]:
        return node
    goes_left = X[rows, split.feature] <= split.threshold
    left = grow_node(recorder, X, y, w, rows[goes_left], depth + 1, total_weight, n_classes, params,
                     feature_order, rng_state)
    right = grow_node(recorder, X, y, w, rows[~goes_left], depth + 1, total_weight, n_classes, params,
                      feature_order, rng_state)
    recorder.make_split(node, split.feature, split.threshold, left, right)
    return node
    ### END SOLUTION


def presort(X):
    """Sort each feature once: ndarray of shape (n_features, n_samples), int64, row f = argsort of X[:, f].

    A forest computes this once and shares it between its trees.
    """
    XT = np.ascontiguousarray(X.T)
    return np.argsort(XT, axis=1, kind="stable").astype(np.int64, copy=False), XT


def grow_fast(X, y, w, n_classes, params, rng_state, sorted_index=None, XT=None):
    """Grow a tree with the compiled builder; same arguments and result as :func:`grow_naive`.

    Parameters
    ----------
    sorted_index, XT : ndarray of shape (n_features, n_samples), optional
        The output of :func:`presort` for ``X`` (computed when not given).
    """
    if sorted_index is None or XT is None:
        sorted_index, XT = presort(X)
    arrays = _grow_fast_compiled(
        XT, sorted_index, y, w, n_classes, CRITERION_IDS[params["criterion"]], params["max_depth"],
        params["min_samples_split"], params["min_samples_leaf"], params["min_impurity_decrease"],
        params["max_features"], rng_state,
    )
    return Tree(*arrays)


@numba.njit(cache=True, nogil=True)
def _weighted_in_sorted_order(XT, sorted_index, w):
    """The samples with positive weight in each feature's sorted order.

    Returns
    -------
    order : ndarray of shape (n_features, n_used), int64
        Sample indices, sorted by the feature's value.
    values : ndarray of shape (n_features, n_used), float64
        The feature's values in that order.
    """
    n_features, n_samples = XT.shape
    n_used = 0
    for s in range(n_samples):
        if w[s] > 0.0:
            n_used += 1
    order = np.empty((n_features, n_used), dtype=np.int64)
    values = np.empty((n_features, n_used), dtype=np.float64)
    for f in range(n_features):
        j = 0
        for i in range(n_samples):
            s = sorted_index[f, i]
            if w[s] > 0.0:
                order[f, j] = s
                values[f, j] = XT[f, s]
                j += 1
    return order, values


@numba.njit(cache=True, nogil=True)
def _empty_nodes(capacity, n_classes):
    """The node arrays of a tree of at most ``capacity`` nodes, in the order :class:`Tree` takes them."""
    return (np.empty(capacity, dtype=np.int64), np.empty(capacity, dtype=np.int64),
            np.empty(capacity, dtype=np.int64), np.empty(capacity, dtype=np.float64),
            np.empty((capacity, n_classes), dtype=np.float64), np.empty(capacity, dtype=np.float64),
            np.empty(capacity, dtype=np.int64), np.empty(capacity, dtype=np.float64))


@numba.njit(cache=True, nogil=True)
def _class_counts(rows, y, w, start, end, counts):
    """Fill ``counts`` (n_classes,) with the weight of each class among samples ``rows[start:end]``;
    return the node's total weight."""
    counts[:] = 0.0
    for i in range(start, end):
        counts[y[rows[i]]] += w[rows[i]]
    weight = 0.0
    for k in range(counts.shape[0]):
        weight += counts[k]
    return weight


@numba.njit(cache=True, nogil=True)
def _push(stack, top, start, end, depth, parent, is_left):
    """Put a pending node (rows ``start:end`` of the sorted order) on ``stack``; the new ``top``."""
    stack[top, 0] = start
    stack[top, 1] = end
    stack[top, 2] = depth
    stack[top, 3] = parent
    stack[top, 4] = is_left
    return top + 1


@numba.njit(cache=True, nogil=True)
def _grow_fast_compiled(XT, sorted_index, y, w, n_classes, criterion, max_depth, min_samples_split,
                        min_samples_leaf, min_impurity_decrease, max_features, rng_state):
    n_features, n_samples = XT.shape
    order, values = _weighted_in_sorted_order(XT, sorted_index, w)
    n_used = order.shape[1]
    total_weight = 0.0
    for s in range(n_samples):
        total_weight += w[s]

    capacity = 2 * n_used - 1
    if max_depth < 40:
        capacity = min(capacity, 2 ** (max_depth + 1) - 1)
    children_left, children_right, feature, threshold, value, impurity, n_node_samples, weighted_n = \
        _empty_nodes(capacity, n_classes)

    goes_left = np.zeros(n_samples, dtype=np.bool_)
    tmp_idx = np.empty(n_used, dtype=np.int64)
    tmp_val = np.empty(n_used, dtype=np.float64)
    counts = np.empty(n_classes, dtype=np.float64)
    left_buf = np.empty(n_classes, dtype=np.float64)
    right_buf = np.empty(n_classes, dtype=np.float64)
    feature_order = np.arange(n_features).astype(np.int64)

    # explicit stack of pending nodes, one row each: (start, end, depth, parent, is_left)
    stack = np.empty((n_used + 2, 5), dtype=np.int64)
    top = _push(stack, 0, 0, n_used, 0, NO_PARENT, 1)
    node_count = 0
    while top > 0:
        top -= 1
        start, end, depth, parent = stack[top, 0], stack[top, 1], stack[top, 2], stack[top, 3]
        is_left = stack[top, 4] == 1

        node = node_count
        node_count += 1
        if parent >= 0:
            if is_left:
                children_left[parent] = node
            else:
                children_right[parent] = node
        weight = _class_counts(order[0], y, w, start, end, counts)
        node_imp = node_impurity(counts, weight, criterion)
        n_node = end - start
        children_left[node] = TREE_LEAF
        children_right[node] = TREE_LEAF
        feature[node] = TREE_UNDEFINED
        threshold[node] = float(TREE_UNDEFINED)
        for k in range(n_classes):
            value[node, k] = counts[k] / weight
        impurity[node] = node_imp
        n_node_samples[node] = n_node
        weighted_n[node] = weight

        if (depth >= max_depth or n_node < min_samples_split or n_node < 2 * min_samples_leaf
                or node_imp <= EPSILON):
            continue
        shuffle_features(feature_order, rng_state)
        best_f, pos, thr, w_left, w_right, imp_left, imp_right = best_split_fast(
            order, values, y, w, start, end, counts, n_classes, criterion, feature_order,
            max_features, min_samples_leaf, left_buf, right_buf)
        if best_f == NO_SPLIT:
            continue
        decrease = (weight / total_weight) * (node_imp - w_left / weight * imp_left
                                              - w_right / weight * imp_right)
        if decrease + EPSILON < min_impurity_decrease:
            continue
        feature[node] = best_f
        threshold[node] = thr
        partition_node(order, values, start, end, pos, best_f, goes_left, tmp_idx, tmp_val)
        # right child first so that the left child is popped (and numbered) first
        top = _push(stack, top, pos, end, depth + 1, node, 0)
        top = _push(stack, top, start, pos, depth + 1, node, 1)
    n = node_count
    return (children_left[:n].copy(), children_right[:n].copy(), feature[:n].copy(),
            threshold[:n].copy(), value[:n].copy(), impurity[:n].copy(), n_node_samples[:n].copy(),
            weighted_n[:n].copy())
