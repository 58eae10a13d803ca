"""Evaluation metrics with scikit-learn's names and signatures (exercise G10).

``accuracy_score``, ``confusion_matrix``, ``precision_recall_fscore_support`` (labels);
``roc_curve``, ``roc_auc_score``, ``auc`` (scores of a binary classifier);
``cohen_kappa_score`` (agreement, weights None / "linear" / "quadratic");
``plot_confusion_matrix``, ``plot_roc`` (matplotlib).
"""

from .agreement import cohen_kappa_score, kappa_from_confusion
from .classification import accuracy_score, confusion_matrix, precision_recall_fscore_support
from .plotting import plot_confusion_matrix, plot_roc
from .ranking import auc, roc_auc_score, roc_curve

__all__ = [
    "accuracy_score",
    "confusion_matrix",
    "precision_recall_fscore_support",
    "roc_curve",
    "roc_auc_score",
    "auc",
    "cohen_kappa_score",
    "kappa_from_confusion",
    "plot_confusion_matrix",
    "plot_roc",
]
