"""Metrics from scores of a binary classifier: ROC curve and area under it."""

import numpy as np

from ._checks import column, pair, weights


def _positive_mask(y_true, pos_label):
    classes = np.unique(y_true)
    if pos_label is None:
        if classes.dtype.kind in "biuf" and set(classes.tolist()) <= {0, 1, -1}:
            pos_label = 1
        else:
            raise ValueError(
                f"y_true has labels {classes.tolist()}; give pos_label to say which one is positive "
                "(only {0, 1} or {-1, 1} labels work without it)")
    if classes.shape[0] > 2:
        raise ValueError(f"ROC needs binary y_true, got {classes.shape[0]} classes {classes.tolist()[:6]}")
    return y_true == pos_label


def binary_counts(positive, y_score, w):
    """Weighted true and false positives when thresholding at each distinct score.

    Parameters
    ----------
    positive : ndarray of shape (n_samples,), bool
        True for samples of the positive class.
    y_score : ndarray of shape (n_samples,), float
        Higher means more likely positive.
    w : ndarray of shape (n_samples,), float
        Sample weights.

    Returns
    -------
    fps, tps : ndarray of shape (n_thresholds,)
        Weighted negatives / positives with ``score >= thresholds[i]``.
    thresholds : ndarray of shape (n_thresholds,)
        The distinct scores, decreasing.
    """
    ### BEGIN SOLUTION (G10) sort by score, decreasing; cumulative sums of positive and negative weights, kept at the last sample of each run of equal scores
    order = np.argsort(y_score, kind="mergesort")[::-1]
    score = y_score[order]
    pos_w = np.where(positive[order], w[order], 0.0)
    neg_w = np.where(positive[order], 0.0, w[order])
    # last index of every run of equal scores
    last = np.r_[np.flatnonzero(np.diff(score)), score.shape[0] - 1]
    tps = np.cumsum(pos_w)[last]
    fps = np.cumsum(neg_w)[last]
    return fps, tps, score[last]
    ### END SOLUTION


def roc_curve(y_true, y_score, pos_label=None, sample_weight=None, drop_intermediate=True):
    """Receiver operating characteristic curve.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels.
    y_score : array-like of shape (n_samples,)
        Scores (probabilities or any monotone confidence) of the positive class.
    pos_label : label, optional
        Positive class (needed unless labels are {0, 1} or {-1, 1}).
    sample_weight : array-like of shape (n_samples,), optional
    drop_intermediate : bool
        Drop thresholds whose point lies on a straight segment of the curve.

    Returns
    -------
    fpr, tpr : ndarray of shape (n_points,)
        False and true positive rates, from (0, 0) to (1, 1).
    thresholds : ndarray of shape (n_points,)
        ``score >= thresholds[i]`` gives point i; ``thresholds[0]`` is ``inf``.
    """
    y_true, y_score = pair(y_true, y_score, "y_true", "y_score")
    if y_score.dtype.kind not in "biuf":
        raise ValueError(f"y_score must hold numbers, got dtype {y_score.dtype}")
    w = weights(sample_weight, y_true.shape[0])
    positive = _positive_mask(y_true, pos_label)
    fps, tps, thresholds = binary_counts(positive, y_score.astype(np.float64), w)
    if drop_intermediate and fps.shape[0] > 2:
        keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    fps = np.r_[0.0, fps]
    tps = np.r_[0.0, tps]
    thresholds = np.r_[np.inf, thresholds]
    if fps[-1] <= 0:
        raise ValueError("y_true has no negative sample, so the false positive rate is undefined")
    if tps[-1] <= 0:
        raise ValueError("y_true has no positive sample, so the true positive rate is undefined")
    return fps / fps[-1], tps / tps[-1], thresholds


def auc(x, y):
    """Area under a curve through the points (x, y) by the trapezoidal rule (x monotone)."""
    x = column(x, "x").astype(np.float64)
    y = column(y, "y").astype(np.float64)
    if x.shape != y.shape or x.shape[0] < 2:
        raise ValueError(f"x and y need the same length >= 2, got {x.shape[0]} and {y.shape[0]}")
    dx = np.diff(x)
    if (dx < 0).any() and (dx > 0).any():
        raise ValueError("x must be monotone (increasing or decreasing)")
    area = float(np.sum(dx * (y[1:] + y[:-1]) / 2.0))
    return abs(area)


def roc_auc_score(y_true, y_score, pos_label=None, sample_weight=None):
    """Area under the ROC curve of a binary classifier.

    Equals the probability that a random positive scores higher than a random negative, ties
    counting one half (the Mann-Whitney U statistic divided by n_pos * n_neg).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels (both classes present).
    y_score : array-like of shape (n_samples,)
        Scores of the positive class.
    pos_label : label, optional
    sample_weight : array-like of shape (n_samples,), optional

    Returns
    -------
    float in [0, 1]
    """
    y_true = column(y_true, "y_true")
    if np.unique(y_true).shape[0] != 2:
        raise ValueError(
            f"ROC AUC needs both classes in y_true, got only {np.unique(y_true).tolist()}; it is undefined otherwise")
    fpr, tpr, _ = roc_curve(y_true, y_score, pos_label=pos_label, sample_weight=sample_weight,
                            drop_intermediate=False)
    return auc(fpr, tpr)
