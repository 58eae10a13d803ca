"""Agreement between two raters: Cohen's kappa, optionally weighted for ordered labels.

The CAMELYON17 challenge scores pN stages (ordered pN0 < pN0(i+) < pN1mi < pN1 < pN2) with the
quadratic-weighted kappa.
"""

import warnings

import numpy as np

from ._checks import encode, label_set, pair
from ._checks import weights as check_weights
from .classification import confusion_counts


def kappa_from_confusion(confusion, weights=None):
    """Cohen's kappa of a confusion matrix.

    Compares the weighted disagreement observed in ``confusion`` with the one expected by chance from its
    row and column totals (G10 theory). Disagreement weights: 1 off the diagonal (None), the distance
    between the two classes ("linear") or its square ("quadratic").

    Parameters
    ----------
    confusion : ndarray of shape (n_labels, n_labels)
    weights : {None, "linear", "quadratic"}

    Returns
    -------
    float
        In [-1, 1]; NaN when ``sum(W * E) == 0`` (e.g. both raters always give the same one label).
    """
    ### BEGIN SOLUTION (G10) kappa (float) from a confusion matrix C (k, k) and weights 'none', 'linear' or 'quadratic': compare the observed disagreement with the disagreement expected by chance from the row and column totals (G10 theory)
    confusion = np.asarray(confusion, dtype=np.float64)
    n = confusion.shape[0]
    total = confusion.sum()
    expected = np.outer(confusion.sum(axis=1), confusion.sum(axis=0)) / total
    i, j = np.indices((n, n))
    if weights is None:
        w = (i != j).astype(np.float64)
    elif weights == "linear":
        w = np.abs(i - j).astype(np.float64)
    else:
        w = ((i - j) ** 2).astype(np.float64)
    denominator = np.sum(w * expected)
    if denominator == 0:
        return float("nan")
    return float(1.0 - np.sum(w * confusion) / denominator)
    ### END SOLUTION


def cohen_kappa_score(y1, y2, labels=None, weights=None, sample_weight=None):
    """Cohen's kappa between two label vectors (scikit-learn's signature).

    Parameters
    ----------
    y1, y2 : array-like of shape (n_samples,)
        Labels given by the two raters (e.g. reference and prediction).
    labels : array-like of shape (n_labels,), optional
        Label order, which matters for weighted kappa (default: sorted union of the labels).
        Samples with labels outside this list are left out.
    weights : {None, "linear", "quadratic"}
    sample_weight : array-like of shape (n_samples,), optional

    Returns
    -------
    float
    """
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f'weights must be None, "linear" or "quadratic", got {weights!r}')
    y1, y2 = pair(y1, y2, "y1", "y2")
    w = check_weights(sample_weight, y1.shape[0])
    labels = label_set(labels, y1, y2)
    idx1 = encode(y1, labels)
    idx2 = encode(y2, labels)
    if not ((idx1 >= 0) & (idx2 >= 0)).any():
        raise ValueError(f"no sample has both labels among {labels.tolist()}")
    confusion = confusion_counts(idx1, idx2, w, labels.shape[0])
    kappa = kappa_from_confusion(confusion, weights)
    if np.isnan(kappa):
        warnings.warn("Cohen's kappa is undefined (no disagreement is expected by chance); returning NaN",
                      RuntimeWarning, stacklevel=2)
    return kappa

