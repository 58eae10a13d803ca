"""Pictures of classification results: confusion matrix and ROC curve."""

import numpy as np

from ._checks import label_set
from .classification import confusion_matrix
from .ranking import auc, roc_curve


def plot_confusion_matrix(y_true=None, y_pred=None, labels=None, normalize=None, display_labels=None,
                          ax=None, cmap="Blues", cm=None, title=None):
    """Draw a confusion matrix as a coloured grid with the count (or fraction) in each cell.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        Labels; or give ``cm`` instead.
    labels : array-like, optional
        Row/column order (see :func:`confusion_matrix`).
    normalize : {None, "true", "pred", "all"}
    display_labels : sequence of str, optional
        Tick labels (default: the labels).
    ax : matplotlib Axes, optional
    cmap : str
    cm : ndarray of shape (n_labels, n_labels), optional
        A precomputed confusion matrix (rows: true class, columns: predicted class).
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if cm is None:
        if y_true is None or y_pred is None:
            raise ValueError("plot_confusion_matrix needs y_true and y_pred, or cm")
        cm = confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize)
        if display_labels is None:
            display_labels = [str(v) for v in label_set(labels, np.asarray(y_true), np.asarray(y_pred))]
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square matrix, got shape {cm.shape}")
    n = cm.shape[0]
    if display_labels is None:
        display_labels = [str(i) for i in range(n)]
    if len(display_labels) != n:
        raise ValueError(f"display_labels has {len(display_labels)} names for a {n}x{n} matrix")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 0.9 * n, 0.8 + 0.8 * n))
    image = ax.imshow(cm, cmap=cmap, vmin=0)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    threshold = cm.max() / 2.0 if cm.size else 0
    integer = np.issubdtype(cm.dtype, np.integer)
    for i in range(n):
        for j in range(n):
            text = f"{cm[i, j]:d}" if integer else f"{cm[i, j]:.2f}"
            ax.text(j, i, text, ha="center", va="center", color="white" if cm[i, j] > threshold else "black")
    ax.set_xticks(range(n), display_labels, rotation=45 if n > 4 else 0, ha="right" if n > 4 else "center")
    ax.set_yticks(range(n), display_labels)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    if title:
        ax.set_title(title)
    return ax


def plot_roc(y_true, y_score, pos_label=None, sample_weight=None, ax=None, label=None):
    """Draw the ROC curve with its AUC in the legend, and the chance diagonal.

    Parameters
    ----------
    y_true, y_score : array-like of shape (n_samples,)
    pos_label : label, optional
    sample_weight : array-like, optional
    ax : matplotlib Axes, optional
    label : str, optional
        Legend name of the curve (the AUC is appended).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    fpr, tpr, _ = roc_curve(y_true, y_score, pos_label=pos_label, sample_weight=sample_weight)
    area = auc(fpr, tpr)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    name = f"{label} (AUC = {area:.3f})" if label else f"AUC = {area:.3f}"
    ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_aspect("equal")
    ax.legend(loc="lower right")
    return ax
