"""CAMELYON17 evaluation: quadratic weighted kappa over pN stages, and slide-label accuracy.

The challenge compares a submission CSV with the reference ``stage_labels.csv``: it keeps only the
rows whose first column ends in ``.zip`` (one per patient), compares stage names case-insensitively,
and scores Cohen's kappa with quadratic weights over the five ordered stages
pN0 < pN0(i+) < pN1mi < pN1 < pN2. Calling a pN2 patient pN0 costs 16 times as much as calling it pN1.

Examples
--------
>>> from camelyon.evaluation import quadratic_weighted_kappa
>>> round(quadratic_weighted_kappa([0, 1, 2, 3, 4], [0, 1, 2, 3, 3]), 4)
0.9412
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from camelyon.errors import CamelyonError
from camelyon.staging import SLIDE_LABELS, STAGES, StageTable, read_stage_csv

__all__ = [
    "quadratic_weighted_kappa",
    "confusion",
    "EvaluationResult",
    "evaluate",
    "evaluate_tables",
]


def confusion(reference, predicted, n_classes: int) -> np.ndarray:
    """Confusion matrix of integer class indices.

    Parameters
    ----------
    reference, predicted : array-like of int, shape (n,)
        Class indices in ``0 .. n_classes - 1``.
    n_classes : int

    Returns
    -------
    ndarray of shape (n_classes, n_classes), int64
        Row = reference class, column = predicted class.
    """
    r = np.asarray(reference, dtype=np.int64).ravel()
    p = np.asarray(predicted, dtype=np.int64).ravel()
    if r.shape != p.shape:
        raise CamelyonError(f"reference ({r.size}) and predictions ({p.size}) differ in length")
    for name, a in (("reference", r), ("predicted", p)):
        if a.size and (a.min() < 0 or a.max() >= n_classes):
            raise CamelyonError(f"{name} class indices must lie in 0..{n_classes - 1}")
    return np.bincount(r * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def quadratic_weighted_kappa(reference, predicted, n_classes: int = len(STAGES)) -> float:
    """Cohen's kappa with quadratic weights for ordered classes ``0 .. n_classes - 1``.

    The observed disagreement of the confusion matrix against the one expected by chance from its row and
    column totals, each cell weighted by the squared distance between its classes (S09 and G10 theory).

    Parameters
    ----------
    reference, predicted : array-like of int, shape (n,)
        Class indices (for pN stages: the position in ``STAGES``).
    n_classes : int
        Number of ordered classes (5 for the pN stages).

    Returns
    -------
    float
        1 for perfect agreement, 0 for chance level, negative below chance. When both raters
        always give one and the same class, kappa is undefined (0 / 0); this function returns 1.0
        there (scikit-learn returns NaN).
    """
    if len(reference) == 0:
        raise CamelyonError("cannot compute kappa without any patients")
    O = confusion(reference, predicted, n_classes).astype(np.float64)
    ### BEGIN SOLUTION (S09)
    n = O.sum()
    E = np.outer(O.sum(axis=1), O.sum(axis=0)) / n
    i, j = np.indices((n_classes, n_classes))
    W = (i - j) ** 2 / (n_classes - 1) ** 2
    expected = float((W * E).sum())
    observed = float((W * O).sum())
    if expected == 0.0:
        return 1.0
    kappa = 1.0 - observed / expected
    ### END SOLUTION
    return float(kappa)


@dataclass
class EvaluationResult:
    """The outcome of :func:`evaluate`.

    Attributes
    ----------
    kappa : float
        Quadratic weighted kappa over the patients' pN stages.
    patients : list of str
        Patient ids evaluated, sorted.
    reference_stages, submitted_stages : list of str
        Stage per patient (same order as ``patients``).
    stage_confusion : ndarray of shape (5, 5), int64
        Rows: reference stage, columns: submitted stage, in the order of ``STAGES``.
    slides : list of str
        Slides evaluated (empty when the submission has no slide rows).
    slide_confusion : ndarray of shape (4, 4) or None
        Rows: reference slide label, columns: submitted label, in the order of ``SLIDE_LABELS``.
    slide_accuracy : float or None
        Fraction of slides with the right label.
    slide_class_accuracy : dict
        Per reference label: fraction of its slides labelled right (None for a label without slides).
    """

    kappa: float
    patients: list
    reference_stages: list
    submitted_stages: list
    stage_confusion: np.ndarray
    slides: list = field(default_factory=list)
    slide_confusion: np.ndarray | None = None
    slide_accuracy: float | None = None
    slide_class_accuracy: dict = field(default_factory=dict)

    @property
    def stage_accuracy(self) -> float:
        """Fraction of patients with the right pN stage."""
        return float(np.trace(self.stage_confusion) / max(1, self.stage_confusion.sum()))

    def to_dict(self) -> dict:
        """JSON-serializable summary."""
        return {
            "kappa": self.kappa,
            "n_patients": len(self.patients),
            "stage_accuracy": self.stage_accuracy,
            "stages": list(STAGES),
            "stage_confusion": self.stage_confusion.tolist(),
            "patients": {p: {"reference": r, "submitted": s} for p, r, s in
                         zip(self.patients, self.reference_stages, self.submitted_stages, strict=True)},
            "n_slides": len(self.slides),
            "slide_labels": list(SLIDE_LABELS),
            "slide_confusion": None if self.slide_confusion is None else self.slide_confusion.tolist(),
            "slide_accuracy": self.slide_accuracy,
            "slide_class_accuracy": self.slide_class_accuracy,
        }

    def summary(self) -> str:
        """A few lines of text for the terminal."""
        lines = [f"quadratic weighted kappa: {self.kappa:.4f} over {len(self.patients)} patients "
                 f"(stage accuracy {self.stage_accuracy:.3f})"]
        width = max(len(s) for s in STAGES)
        lines.append("stage confusion (rows: reference, columns: submission)")
        lines.append(" " * (width + 1) + " ".join(f"{s:>{width}}" for s in STAGES))
        for s, row in zip(STAGES, self.stage_confusion, strict=True):
            lines.append(f"{s:>{width}} " + " ".join(f"{v:>{width}d}" for v in row))
        if self.slide_confusion is not None:
            lines.append(f"slide-label accuracy: {self.slide_accuracy:.3f} over {len(self.slides)} slides")
            for lab in SLIDE_LABELS:
                acc = self.slide_class_accuracy.get(lab)
                n = int(self.slide_confusion[SLIDE_LABELS.index(lab)].sum())
                lines.append(f"  {lab:>8}: " + ("-" if acc is None else f"{acc:.3f}") + f" ({n} slides)")
        return "\n".join(lines)


def evaluate_tables(reference: StageTable, submission: StageTable) -> EvaluationResult:
    """Compare two parsed stage tables (see :func:`evaluate`)."""
    if not reference.patients:
        raise CamelyonError(f"{reference.path or 'reference'}: no patient rows (first column ending in .zip)")
    for pid in reference.patients:
        if pid not in submission.patients:
            raise CamelyonError(
                f"{reference.where(pid)}: patient {pid}.zip is missing from the submission {submission.path}"
            )
    for pid in submission.patients:
        if pid not in reference.patients:
            raise CamelyonError(
                f"{submission.where(pid)}: patient {pid}.zip is not in the reference {reference.path}"
            )
    patients = sorted(reference.patients)
    ref_st = [reference.patients[p] for p in patients]
    sub_st = [submission.patients[p] for p in patients]
    ri = [STAGES.index(s) for s in ref_st]
    si = [STAGES.index(s) for s in sub_st]
    result = EvaluationResult(
        kappa=quadratic_weighted_kappa(ri, si, len(STAGES)),
        patients=patients, reference_stages=ref_st, submitted_stages=sub_st,
        stage_confusion=confusion(ri, si, len(STAGES)),
    )
    if submission.slides and reference.slides:
        from camelyon.staging import patient_of

        slides = sorted(s for s in reference.slides if patient_of(s) in reference.patients)
        for s in slides:
            if s not in submission.slides:
                raise CamelyonError(
                    f"{reference.where(s)}: slide {s} is missing from the submission {submission.path}"
                )
        r = [SLIDE_LABELS.index(reference.slides[s]) for s in slides]
        p = [SLIDE_LABELS.index(submission.slides[s]) for s in slides]
        cm = confusion(r, p, len(SLIDE_LABELS))
        result.slides = slides
        result.slide_confusion = cm
        result.slide_accuracy = float(np.trace(cm) / max(1, cm.sum()))
        result.slide_class_accuracy = {
            lab: (float(cm[k, k] / cm[k].sum()) if cm[k].sum() else None) for k, lab in enumerate(SLIDE_LABELS)
        }
    return result


def evaluate(reference: str | os.PathLike | StageTable,
             submission: str | os.PathLike | StageTable) -> EvaluationResult:
    """Score a submission against the reference as the CAMELYON17 challenge does.

    Parameters
    ----------
    reference : path or StageTable
        Reference ``stage_labels.csv`` (patient rows, optionally slide rows).
    submission : path or StageTable
        Predictions in the same format. Its slide rows, if any, are scored too (confusion matrix and
        accuracy per slide label).

    Returns
    -------
    EvaluationResult

    Raises
    ------
    CamelyonError
        A file is missing or malformed, a stage or slide label is unknown, a row is duplicated, or a
        patient (or, when slides are submitted, a slide) of the reference is missing from the
        submission or vice versa. The message names the file and line.
    """
    ref = reference if isinstance(reference, StageTable) else read_stage_csv(reference)
    sub = submission if isinstance(submission, StageTable) else read_stage_csv(submission)
    return evaluate_tables(ref, sub)
