"""Naive best-split search: try every threshold of every feature and recompute the impurities.

This is what one writes first (exercise G08): for a node holding ``n`` samples it costs
O(n_features * n^2) operations, fine for a few hundred samples. :mod:`minicnn.tree.split_fast`
finds the same split in O(n_features * n) per node once each feature has been sorted.
"""

from dataclasses import dataclass

import numpy as np

from .criteria import impurity

#: Two candidate splits whose weighted child impurities differ by less than this fraction of the
#: node's weight count as tied; the first one found wins (the same rule in the naive and fast search).
TIE_TOLERANCE = 1e-12


@dataclass
class Split:
    """The best split of a node.

    Attributes
    ----------
    feature : int
        Column of X tested.
    threshold : float
        Samples with ``x[feature] <= threshold`` go left; midway between two neighbouring distinct values.
    n_left, n_right : int
        Number of samples on each side.
    weighted_n_left, weighted_n_right : float
        Sum of the sample weights on each side.
    impurity_left, impurity_right : float
        Impurity of each child.
    """

    feature: int
    threshold: float
    n_left: int
    n_right: int
    weighted_n_left: float
    weighted_n_right: float
    impurity_left: float
    impurity_right: float


def midpoint_threshold(low, high):
    """Threshold between two neighbouring distinct values ``low < high``: their midpoint, or ``low``
    when the midpoint rounds to ``high`` (so that ``low`` still goes left)."""
    threshold = low / 2.0 + high / 2.0
    if threshold == high or not np.isfinite(threshold):
        threshold = low
    return threshold


def best_split_naive(X, y, w, rows, n_classes, criterion, feature_order, max_features, min_samples_leaf):
    """Find the split of a node that minimises the weighted impurity of its two children.

    The score of a candidate split is ``W_left * impurity(left) + W_right * impurity(right)`` with
    ``W`` the summed sample weights of each child; the smaller, the better. Features are tried in the
    order ``feature_order``; features that are constant within the node are skipped, and the search
    stops after ``max_features`` non-constant features. Within a feature, thresholds are tried from
    the smallest up. A candidate replaces the best so far only if its score is smaller by more than
    ``TIE_TOLERANCE * W_node`` (so among tied candidates the first one wins).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        All training features.
    y : ndarray of shape (n_samples,), int64
        Encoded class of each sample, in [0, n_classes).
    w : ndarray of shape (n_samples,), float64
        Sample weights (positive for the rows of the node).
    rows : ndarray of shape (n_node,), int64
        Indices of the samples in the node.
    n_classes : int
    criterion : {"gini", "entropy"}
    feature_order : ndarray of shape (n_features,), int64
        Order in which to try features.
    max_features : int
        Number of non-constant features to try.
    min_samples_leaf : int
        Each child must hold at least this many samples.

    Returns
    -------
    Split or None
        The best split, or None when no threshold leaves ``min_samples_leaf`` samples on both sides.
    """
    ### BEGIN SOLUTION (G08)
    X_node = X[rows]
    y_node = y[rows]
    w_node = w[rows]
    n_node = rows.shape[0]
    tolerance = TIE_TOLERANCE * w_node.sum()
    best = None
    best_score = np.inf
    n_tried = 0
    for feature in feature_order:
        if n_tried == max_features:
            break
        column = X_node[:, feature]
        values = np.unique(column)
        if values.shape[0] < 2:
            continue  # constant within this node: nothing to split
        n_tried += 1
        for low, high in zip(values[:-1], values[1:], strict=True):
            threshold = midpoint_threshold(low, high)
            goes_left = column <= threshold
            n_left = int(np.count_nonzero(goes_left))
            if n_left < min_samples_leaf or n_node - n_left < min_samples_leaf:
                continue
            counts_left = np.bincount(y_node[goes_left], weights=w_node[goes_left], minlength=n_classes)
            counts_right = np.bincount(y_node[~goes_left], weights=w_node[~goes_left], minlength=n_classes)
            weight_left = counts_left.sum()
            weight_right = counts_right.sum()
            impurity_left = impurity(counts_left, criterion)
            impurity_right = impurity(counts_right, criterion)
            score = weight_left * impurity_left + weight_right * impurity_right
            if score < best_score - tolerance:
                best_score = score
                best = Split(int(feature), float(threshold), n_left, n_node - n_left,
                             float(weight_left), float(weight_right), impurity_left, impurity_right)
    return best
    ### END SOLUTION
