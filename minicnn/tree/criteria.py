"""Impurity criteria of a node: Gini impurity and Shannon entropy.

A node is described by its *weighted class counts*: ``counts[k]`` is the sum of the sample
weights of the training samples of class ``k`` that reach the node (with unit weights, simply
the number of such samples). Both criteria are 0 for a pure node and largest when the classes
are equally frequent.

The functions here are the readable versions used by the naive split search (exercise G08).
The fast split search in :mod:`minicnn.tree.split_fast` has compiled twins of them.
"""

import numpy as np

CRITERIA = ("gini", "entropy")


def gini(counts):
    """Gini impurity of a node (G08 theory): 0 for a pure node, larger the more mixed its classes.

    Parameters
    ----------
    counts : ndarray of shape (n_classes,)
        Weighted class counts of the node (non-negative, not all zero).

    Returns
    -------
    float
        The Gini impurity, in [0, 1 - 1/n_classes].
    """
    ### BEGIN SOLUTION (G08)
    counts = np.asarray(counts, dtype=np.float64)
    p = counts / counts.sum()
    return float(1.0 - np.sum(p * p))
    ### END SOLUTION


def entropy(counts):
    """Shannon entropy of a node's class distribution, in bits (G08 theory; a class without samples adds 0).

    Parameters
    ----------
    counts : ndarray of shape (n_classes,)
        Weighted class counts of the node (non-negative, not all zero).

    Returns
    -------
    float
        The entropy in bits: 0 for a pure node, at most the base-2 logarithm of n_classes.
    """
    ### BEGIN SOLUTION (G08)
    counts = np.asarray(counts, dtype=np.float64)
    p = counts / counts.sum()
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))
    ### END SOLUTION


def impurity(counts, criterion):
    """Impurity of a node under ``criterion`` ("gini" or "entropy")."""
    if criterion == "gini":
        return gini(counts)
    if criterion == "entropy":
        return entropy(counts)
    raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
