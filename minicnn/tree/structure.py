"""The fitted tree as parallel arrays (scikit-learn's layout), and compiled traversal.

Node ``i`` is a leaf when ``children_left[i] == TREE_LEAF``. Otherwise a sample goes to
``children_left[i]`` when ``x[feature[i]] <= threshold[i]`` and to ``children_right[i]`` otherwise.
Nodes are numbered in pre-order (a node, then its left subtree, then its right subtree).
"""

import numba
import numpy as np

TREE_LEAF = -1
TREE_UNDEFINED = -2

ARRAY_NAMES = (
    "children_left",
    "children_right",
    "feature",
    "threshold",
    "value",
    "impurity",
    "n_node_samples",
    "weighted_n_node_samples",
)


class Tree:
    """Parallel arrays describing a fitted classification tree.

    Attributes
    ----------
    children_left, children_right : ndarray of shape (node_count,), int64
        Child node ids, ``-1`` (TREE_LEAF) for leaves.
    feature : ndarray of shape (node_count,), int64
        Feature tested at each split node, ``-2`` (TREE_UNDEFINED) for leaves.
    threshold : ndarray of shape (node_count,), float64
        Split threshold (midway between neighbouring distinct training values), ``-2.0`` for leaves.
    value : ndarray of shape (node_count, n_classes), float64
        Weighted class fractions of the training samples in each node (rows sum to 1).
    impurity : ndarray of shape (node_count,), float64
        Impurity of each node under the fitting criterion.
    n_node_samples : ndarray of shape (node_count,), int64
        Number of distinct training samples (with positive weight) in each node.
    weighted_n_node_samples : ndarray of shape (node_count,), float64
        Sum of the sample weights in each node.
    """

    def __init__(self, children_left, children_right, feature, threshold, value, impurity,
                 n_node_samples, weighted_n_node_samples):
        self.children_left = np.ascontiguousarray(children_left, dtype=np.int64)
        self.children_right = np.ascontiguousarray(children_right, dtype=np.int64)
        self.feature = np.ascontiguousarray(feature, dtype=np.int64)
        self.threshold = np.ascontiguousarray(threshold, dtype=np.float64)
        self.value = np.ascontiguousarray(value, dtype=np.float64)
        self.impurity = np.ascontiguousarray(impurity, dtype=np.float64)
        self.n_node_samples = np.ascontiguousarray(n_node_samples, dtype=np.int64)
        self.weighted_n_node_samples = np.ascontiguousarray(weighted_n_node_samples, dtype=np.float64)
        n = self.children_left.shape[0]
        for name in ARRAY_NAMES:
            if getattr(self, name).shape[0] != n:
                raise ValueError(f"tree array {name} has {getattr(self, name).shape[0]} rows, expected {n}")

    @property
    def node_count(self):
        """Number of nodes."""
        return int(self.children_left.shape[0])

    @property
    def n_classes(self):
        return int(self.value.shape[1])

    @property
    def n_leaves(self):
        """Number of leaves."""
        return int(np.count_nonzero(self.children_left == TREE_LEAF))

    @property
    def max_depth(self):
        """Depth of the deepest leaf (a single-leaf tree has depth 0)."""
        return int(_node_depths(self.children_left, self.children_right).max())

    def node_depths(self):
        """Depth of every node, ndarray of shape (node_count,)."""
        return _node_depths(self.children_left, self.children_right)

    def apply(self, X):
        """Leaf id reached by each row of ``X`` (float64, shape (n_samples, n_features))."""
        return _apply(X, self.children_left, self.children_right, self.feature, self.threshold)

    def predict_proba(self, X):
        """Class fractions of the leaf reached by each row, shape (n_samples, n_classes)."""
        return self.value[self.apply(X)]

    def impurity_decrease(self):
        """Weighted impurity decrease of each split node (0 for leaves), shape (node_count,).

        ``N_t * impurity_t - N_left * impurity_left - N_right * impurity_right`` with weighted counts,
        not yet divided by the root's weighted count.
        """
        out = np.zeros(self.node_count)
        split = np.flatnonzero(self.children_left != TREE_LEAF)
        left = self.children_left[split]
        right = self.children_right[split]
        w = self.weighted_n_node_samples
        out[split] = (w[split] * self.impurity[split] - w[left] * self.impurity[left]
                      - w[right] * self.impurity[right])
        return out

    def compute_feature_importances(self, n_features, normalize=True):
        """Mean decrease in impurity per feature, shape (n_features,), summing to 1 when normalised."""
        imp = np.zeros(n_features)
        dec = self.impurity_decrease()
        split = np.flatnonzero(self.children_left != TREE_LEAF)
        np.add.at(imp, self.feature[split], dec[split])
        imp /= self.weighted_n_node_samples[0]
        total = imp.sum()
        if normalize and total > 0:
            imp /= total
        return imp

    def to_arrays(self):
        """The parallel arrays as a dict name -> ndarray."""
        return {name: getattr(self, name) for name in ARRAY_NAMES}


@numba.njit(cache=True, nogil=True)
def _apply(X, children_left, children_right, feature, threshold):
    n = X.shape[0]
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        node = 0
        while children_left[node] != -1:
            if X[i, feature[node]] <= threshold[node]:
                node = children_left[node]
            else:
                node = children_right[node]
        out[i] = node
    return out


@numba.njit(cache=True, nogil=True)
def _node_depths(children_left, children_right):
    depth = np.zeros(children_left.shape[0], dtype=np.int64)
    # pre-order numbering: a parent always has a smaller id than its children
    for node in range(children_left.shape[0]):
        if children_left[node] != -1:
            depth[children_left[node]] = depth[node] + 1
            depth[children_right[node]] = depth[node] + 1
    return depth
