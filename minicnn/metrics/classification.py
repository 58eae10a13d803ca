"""Classification metrics from predicted labels: accuracy, confusion matrix, precision/recall/F."""

import numpy as np

from ._checks import encode, label_set, pair, weights


def accuracy_score(y_true, y_pred, normalize=True, sample_weight=None):
    """Fraction (or, with ``normalize=False``, the weighted number) of correct predictions.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    normalize : bool
    sample_weight : array-like of shape (n_samples,), optional

    Returns
    -------
    float
    """
    y_true, y_pred = pair(y_true, y_pred)
    w = weights(sample_weight, y_true.shape[0])
    correct = float(np.sum(w * (y_true == y_pred)))
    return correct / float(np.sum(w)) if normalize else correct


def confusion_matrix(y_true, y_pred, labels=None, sample_weight=None, normalize=None):
    """Confusion matrix ``C[i, j]`` = (weighted) number of samples of true class ``labels[i]``
    predicted as ``labels[j]``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    labels : array-like of shape (n_classes,), optional
        Row/column order; samples whose true or predicted label is not listed are left out.
        Default: the sorted union of the labels in y_true and y_pred.
    sample_weight : array-like of shape (n_samples,), optional
    normalize : {None, "true", "pred", "all"}
        Divide by row sums, column sums or the total (empty rows/columns stay 0).

    Returns
    -------
    ndarray of shape (n_classes, n_classes)
        Integer counts without weights and normalisation, floats otherwise.
    """
    y_true, y_pred = pair(y_true, y_pred)
    w = weights(sample_weight, y_true.shape[0])
    labels = label_set(labels, y_true, y_pred)
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f'normalize must be None, "true", "pred" or "all", got {normalize!r}')
    true_idx = encode(y_true, labels)
    pred_idx = encode(y_pred, labels)
    if not (true_idx >= 0).any():
        raise ValueError(f"none of the given labels {labels.tolist()} occurs in y_true")
    cm = confusion_counts(true_idx, pred_idx, w, labels.shape[0])
    if sample_weight is None and normalize is None:
        return cm.astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if normalize == "true":
            cm = cm / cm.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            cm = cm / cm.sum(axis=0, keepdims=True)
        elif normalize == "all":
            cm = cm / cm.sum()
    return np.nan_to_num(cm)


def confusion_counts(true_idx, pred_idx, w, n_classes):
    """Weighted confusion counts from encoded labels.

    Parameters
    ----------
    true_idx, pred_idx : ndarray of shape (n_samples,), int
        Class indices in [0, n_classes), or -1 for samples to leave out.
    w : ndarray of shape (n_samples,), float
        Sample weights.
    n_classes : int

    Returns
    -------
    ndarray of shape (n_classes, n_classes), float64
        ``C[i, j]`` = summed weight of the samples with true index i and predicted index j.
    """
    ### BEGIN SOLUTION (G10) return a float (n_classes, n_classes) array: drop samples with index -1, then add each sample's weight w to cell [true, pred] (one np.bincount of a combined index, or np.add.at)
    keep = (true_idx >= 0) & (pred_idx >= 0)
    flat = true_idx[keep] * n_classes + pred_idx[keep]
    counts = np.bincount(flat, weights=w[keep], minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes)
    ### END SOLUTION


def precision_recall_fscore_support(y_true, y_pred, beta=1.0, labels=None, pos_label=1, average=None,
                                    sample_weight=None, zero_division=0.0):
    """Precision, recall, F-beta and support per class, or averaged.

    precision = TP / (TP + FP), recall = TP / (TP + FN),
    F-beta = (1 + beta^2) * precision * recall / (beta^2 * precision + recall).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    beta : float > 0
    labels : array-like, optional
        Classes to report (default: sorted union of both arrays).
    pos_label : label, default 1
        The positive class when ``average="binary"``.
    average : {None, "binary", "micro", "macro", "weighted"}
        None returns one value per label; "binary" the values of ``pos_label``; "micro" pools the
        counts; "macro" takes the unweighted mean; "weighted" the mean weighted by support.
    sample_weight : array-like of shape (n_samples,), optional
    zero_division : float
        Value used where a ratio is 0/0.

    Returns
    -------
    precision, recall, fbeta : float or ndarray of shape (n_labels,)
    support : ndarray of shape (n_labels,) of weighted true counts, or None when averaged
    """
    if not (np.isscalar(beta) and beta > 0):
        raise ValueError(f"beta must be a positive number, got {beta!r}")
    if average not in (None, "binary", "micro", "macro", "weighted"):
        raise ValueError(f'average must be None, "binary", "micro", "macro" or "weighted", got {average!r}')
    y_true, y_pred = pair(y_true, y_pred)
    all_labels = label_set(None, y_true, y_pred)
    if average == "binary":
        if all_labels.shape[0] > 2:
            raise ValueError(f'average="binary" needs two classes, got {all_labels.tolist()}; choose another average')
        if pos_label not in set(all_labels.tolist()):
            if all_labels.shape[0] == 2:
                raise ValueError(f"pos_label={pos_label!r} is not a valid label; labels are {all_labels.tolist()}")
        labels = np.asarray([pos_label])
    labels = label_set(labels, y_true, y_pred)
    full = label_set(None, y_true, y_pred, labels)
    cm = confusion_matrix(y_true, y_pred, labels=full, sample_weight=sample_weight).astype(np.float64)
    pick = encode(labels, full)
    tp = np.diag(cm)[pick]
    pred_pos = cm.sum(axis=0)[pick]
    true_pos = cm.sum(axis=1)[pick]
    if average == "micro":
        tp, pred_pos, true_pos = tp.sum(keepdims=True), pred_pos.sum(keepdims=True), true_pos.sum(keepdims=True)

    def ratio(num, den):
        out = np.full(num.shape, float(zero_division))
        np.divide(num, den, out=out, where=den > 0)
        return out

    precision = ratio(tp, pred_pos)
    recall = ratio(tp, true_pos)
    b2 = float(beta) ** 2
    # F from the counts: (1 + b2) TP / ((1 + b2) TP + b2 FN + FP); 0/0 only without any TP, FN or FP
    f = ratio((1 + b2) * tp, (1 + b2) * tp + b2 * (true_pos - tp) + (pred_pos - tp))
    support = true_pos
    if average is None:
        return precision, recall, f, support
    if average in ("binary", "micro"):
        return float(precision[0]), float(recall[0]), float(f[0]), None
    if average == "weighted":
        if support.sum() == 0:
            return float(zero_division), float(zero_division), float(zero_division), None
        avg = lambda v: float(np.average(v, weights=support))  # noqa: E731
    else:
        avg = lambda v: float(np.mean(v))  # noqa: E731
    return avg(precision), avg(recall), avg(f), None
