"""Fast best-split search, compiled with Numba.

Each feature is sorted once for the whole tree. A node then occupies the same slice
``[start, end)`` of every row of two (n_features, n_samples) arrays: ``order[f]`` holds the node's
sample indices sorted by feature ``f`` and ``values[f]`` their values of feature ``f``. The search
sweeps each slice once from left to right, moving one sample at a time from the right child to the
left child and updating the class counts, so a feature costs O(n_node * n_classes) instead of the
naive O(n_node^2). After a split, every row is partitioned stably (left samples first), which keeps
the children sorted without sorting again.

The rules (tie tolerance, feature order, thresholds) are the naive search's
(:func:`minicnn.tree.split_naive.best_split_naive`), so both build the same tree.
"""

import math

import numba
import numpy as np

from .split_naive import TIE_TOLERANCE

GINI = 0
ENTROPY = 1
CRITERION_IDS = {"gini": GINI, "entropy": ENTROPY}
#: ``best_split_fast``'s feature when no valid split exists.
NO_SPLIT = -1


@numba.njit(cache=True, nogil=True, inline="always")
def node_impurity(counts, weight, criterion):
    """Impurity of weighted class ``counts`` (summing to ``weight``) under criterion GINI or ENTROPY."""
    n_classes = counts.shape[0]
    if criterion == GINI:
        s = 0.0
        for k in range(n_classes):
            p = counts[k] / weight
            s += p * p
        return 1.0 - s
    s = 0.0
    for k in range(n_classes):
        p = counts[k] / weight
        if p > 0.0:
            s += p * math.log2(p)
    return -s


@numba.njit(cache=True, nogil=True)
def best_split_fast(order, values, y, w, start, end, node_counts, n_classes, criterion,
                    feature_order, max_features, min_samples_leaf, left, right):
    """Best split of the node occupying ``[start, end)`` of the presorted rows.

    Parameters
    ----------
    order : ndarray of shape (n_features, n_used), int64
        Sample indices, each row sorted by its feature within every node's slice.
    values : ndarray of shape (n_features, n_used), float64
        ``values[f, i] = X[order[f, i], f]``.
    y : ndarray of shape (n_samples,), int64 ; w : ndarray of shape (n_samples,), float64
    node_counts : ndarray of shape (n_classes,)
        Weighted class counts of the node.
    feature_order : ndarray of shape (n_features,), int64
    left, right : ndarray of shape (n_classes,)
        Work buffers.

    Returns
    -------
    tuple
        (feature, pos, threshold, weighted_n_left, weighted_n_right, impurity_left, impurity_right);
        ``feature == -1`` when no valid split exists. ``pos`` is the first index of the right child.
    """
    n_features = feature_order.shape[0]
    w_node = 0.0
    sq_node = 0.0
    for k in range(n_classes):
        w_node += node_counts[k]
        sq_node += node_counts[k] * node_counts[k]
    tolerance = TIE_TOLERANCE * w_node
    # Both criteria are minimised through a "proxy" that differs from the weighted child impurity
    # W_L * impurity(L) + W_R * impurity(R) only by a constant of the node:
    #   gini:    W_node - proxy with proxy = sum_k L_k^2 / W_L + sum_k R_k^2 / W_R (kept up to date in O(1))
    #   entropy: proxy = -(W_L * H(L) + W_R * H(R))
    # so a larger proxy is a better split.
    best_proxy = -np.inf
    best_feature = NO_SPLIT
    best_pos = -1
    n_tried = 0
    for j in range(n_features):
        if n_tried == max_features:
            break
        f = feature_order[j]
        vals = values[f]
        idx = order[f]
        if vals[end - 1] <= vals[start]:
            continue  # constant within the node
        n_tried += 1
        for k in range(n_classes):
            left[k] = 0.0
            right[k] = node_counts[k]
        w_left = 0.0
        sq_left = 0.0
        sq_right = sq_node
        # the left child is [start, pos), the right child [pos, end)
        last = end - min_samples_leaf
        for i in range(start, end - 1):
            s = idx[i]
            c = y[s]
            ws = w[s]
            sq_left += ws * (2.0 * left[c] + ws)
            sq_right -= ws * (2.0 * right[c] - ws)
            left[c] += ws
            right[c] -= ws
            w_left += ws
            pos = i + 1
            if pos - start < min_samples_leaf:
                continue
            if pos > last:
                break
            if vals[pos] <= vals[i]:
                continue  # cannot separate equal values
            w_right = w_node - w_left
            if criterion == GINI:
                proxy = sq_left / w_left + sq_right / w_right
            else:
                proxy = -(w_left * node_impurity(left, w_left, criterion)
                          + w_right * node_impurity(right, w_right, criterion))
            if proxy > best_proxy + tolerance:
                best_proxy = proxy
                best_feature = f
                best_pos = pos
    if best_feature == NO_SPLIT:
        return NO_SPLIT, -1, 0.0, 0.0, 0.0, 0.0, 0.0
    # recompute the winner's children exactly as the naive search does (counts summed from zero)
    vals = values[best_feature]
    idx = order[best_feature]
    for k in range(n_classes):
        left[k] = 0.0
        right[k] = 0.0
    for i in range(start, best_pos):
        left[y[idx[i]]] += w[idx[i]]
    for i in range(best_pos, end):
        right[y[idx[i]]] += w[idx[i]]
    w_left = 0.0
    w_right = 0.0
    for k in range(n_classes):
        w_left += left[k]
        w_right += right[k]
    low = vals[best_pos - 1]
    high = vals[best_pos]
    threshold = low / 2.0 + high / 2.0
    if threshold == high or not np.isfinite(threshold):
        threshold = low
    return (best_feature, best_pos, threshold, w_left, w_right,
            node_impurity(left, w_left, criterion), node_impurity(right, w_right, criterion))


@numba.njit(cache=True, nogil=True)
def partition_node(order, values, start, end, pos, split_feature, goes_left, tmp_idx, tmp_val):
    """Split the slice ``[start, end)`` of every row into left samples then right samples, stably.

    The row of ``split_feature`` is already partitioned at ``pos``; it marks which samples go left.
    """
    split_idx = order[split_feature]
    for i in range(start, pos):
        goes_left[split_idx[i]] = True
    for i in range(pos, end):
        goes_left[split_idx[i]] = False
    for f in range(order.shape[0]):
        if f == split_feature:
            continue
        idx = order[f]
        vals = values[f]
        n_left = start
        n_right = 0
        for i in range(start, end):
            s = idx[i]
            if goes_left[s]:
                idx[n_left] = s
                vals[n_left] = vals[i]
                n_left += 1
            else:
                tmp_idx[n_right] = s
                tmp_val[n_right] = vals[i]
                n_right += 1
        for i in range(n_right):
            idx[pos + i] = tmp_idx[i]
            vals[pos + i] = tmp_val[i]
