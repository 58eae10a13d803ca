"""Slide labels (negative / itc / micro / macro) from heatmap features, with trees from :mod:`minicnn.tree`.

A decision tree or a random forest learns the slide label from the features of
:mod:`camelyon.features`. The classes are unbalanced (most slides are negative, ITC slides are few),
so by default every class gets the same total weight ("balanced" class weights). Cross-validation
keeps all slides of a patient in the same fold, so that the score says how the classifier does on
patients it has never seen.

Examples
--------
>>> import numpy as np
>>> from camelyon.slide_classifier import SlideClassifier
>>> X = np.array([[0.0], [0.1], [0.5], [3.0]] * 5)
>>> y = ["negative", "itc", "micro", "macro"] * 5
>>> clf = SlideClassifier("tree", random_state=0).fit(X, y, feature_names=["diameter_mm"])
>>> clf.predict(np.array([[0.08], [2.5]])).tolist()
['itc', 'macro']
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from camelyon.errors import CamelyonError, ClassifierError
from camelyon.messages import count_noun
from camelyon.staging import SLIDE_LABELS, normalize_slide_label
from minicnn.io import atomic_paths

__all__ = ["SlideClassifier", "grouped_folds", "cross_validate", "CrossValidationResult", "KINDS",
           "apply_itc_threshold", "ClassifierFit", "fit_slide_classifier"]

#: Kinds of classifier: a single decision tree or a random forest.
KINDS = ("tree", "forest")


class SlideClassifier:
    """A decision tree or random forest that maps heatmap features to slide labels.

    Parameters
    ----------
    kind : {"tree", "forest"}
        ``minicnn.tree.DecisionTreeClassifier`` or ``minicnn.tree.RandomForestClassifier``.
    n_estimators : int
        Trees in the forest (ignored for a single tree).
    max_depth : int or None
        Depth limit of every tree.
    min_samples_leaf : int
        Smallest number of slides in a leaf.
    max_features : int, float, "sqrt", "log2" or None
        Features tried at each split; default "sqrt" for a forest, all for a tree.
    class_weight : None, "balanced" or dict
        Weights of the slide labels. "balanced" gives each label present the same total weight, so
        that rare labels (itc, micro) are not swamped by the negatives.
    random_state : int
        Seed of the tree building (feature sub-sampling, bootstrap).
    itc_threshold : float or None
        Decision rule on top of the trees (see :func:`apply_itc_threshold`): a slide the trees call
        negative is called itc when its itc probability is at least this value. None (default):
        the trees' label as it is. See docs/itc-study.md for what it gains and costs.

    Attributes
    ----------
    estimator_ : minicnn.tree estimator
        The fitted tree or forest.
    classes_ : ndarray of str
        Labels seen in training, in ``SLIDE_LABELS`` order.
    feature_names_ : list of str
        Names of the columns of ``X``.
    """

    def __init__(self, kind: str = "forest", *, n_estimators: int = 200, max_depth: int | None = None,
                 min_samples_leaf: int = 1, max_features="default", class_weight="balanced",
                 random_state: int = 0, itc_threshold: float | None = None):
        if kind not in KINDS:
            raise CamelyonError(f"classifier kind must be one of {KINDS}, got {kind!r}")
        if itc_threshold is not None and not (isinstance(itc_threshold, (int, float))
                                              and not isinstance(itc_threshold, bool)
                                              and 0.0 < itc_threshold <= 1.0):
            raise CamelyonError(f"itc_threshold must be None or a number in (0, 1], got {itc_threshold!r}")
        self.kind = kind
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.class_weight = class_weight
        self.random_state = random_state
        self.itc_threshold = itc_threshold

    def get_params(self) -> dict:
        """The constructor parameters (JSON-serializable)."""
        return {"kind": self.kind, "n_estimators": self.n_estimators, "max_depth": self.max_depth,
                "min_samples_leaf": self.min_samples_leaf, "max_features": self.max_features,
                "class_weight": self.class_weight, "random_state": self.random_state,
                "itc_threshold": self.itc_threshold}

    def _make_estimator(self):
        from minicnn.tree import DecisionTreeClassifier, RandomForestClassifier

        max_features = self.max_features
        if max_features == "default":
            max_features = "sqrt" if self.kind == "forest" else None
        common = dict(max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
                      max_features=max_features, class_weight=self.class_weight,
                      random_state=self.random_state)
        if self.kind == "tree":
            return DecisionTreeClassifier(**common)
        return RandomForestClassifier(n_estimators=self.n_estimators, **common)

    def fit(self, X, y: Sequence[str], feature_names: Sequence[str] | None = None) -> SlideClassifier:
        """Learn slide labels from features.

        Parameters
        ----------
        X : array-like of shape (n_slides, n_features)
            Feature table (finite numbers).
        y : sequence of str
            Slide labels (negative / itc / micro / macro, any case).
        feature_names : sequence of str, optional
            Column names, kept with the model and checked at prediction time.
        """
        X = self._check_X(X, fitting=True, feature_names=feature_names)
        y = np.array([normalize_slide_label(v) for v in y], dtype=object)
        if len(y) != X.shape[0]:
            raise CamelyonError(f"{X.shape[0]} feature rows but {len(y)} slide labels")
        present = [lab for lab in SLIDE_LABELS if lab in set(y)]
        if len(present) < 2:
            raise CamelyonError(
                f"the slide classifier needs at least two different slide labels to learn from; "
                f"the training slides are all {present[0] if present else 'missing'!r}"
            )
        self.estimator_ = self._make_estimator()
        self.estimator_.fit(X, y.astype(str))
        self.classes_ = np.array([str(c) for c in self.estimator_.classes_])
        self.n_features_in_ = X.shape[1]
        return self

    def _check_X(self, X, fitting=False, feature_names=None) -> np.ndarray:
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise CamelyonError(f"features must be numbers: {exc}") from None
        if X.ndim != 2:
            raise CamelyonError(f"features must be a 2-D table (n_slides, n_features), got shape {X.shape}")
        if not np.all(np.isfinite(X)):
            row, col = np.argwhere(~np.isfinite(X))[0]
            raise CamelyonError(f"feature table has a NaN or infinite value at row {row}, column {col}")
        if fitting:
            names = list(feature_names) if feature_names is not None else [f"f{i}" for i in range(X.shape[1])]
            if len(names) != X.shape[1]:
                raise CamelyonError(f"{len(names)} feature names for {X.shape[1]} feature columns")
            self.feature_names_ = names
        else:
            if not hasattr(self, "estimator_"):
                raise CamelyonError("the slide classifier is not fitted yet: call fit() or load() first")
            if feature_names is not None:
                given = [str(n) for n in feature_names]
                if len(given) != X.shape[1]:
                    raise CamelyonError(f"{len(given)} feature names for {X.shape[1]} feature columns")
                if given != list(self.feature_names_):
                    raise CamelyonError(describe_column_mismatch(self.feature_names_, given))
            elif X.shape[1] != self.n_features_in_:
                raise CamelyonError(
                    f"the slide classifier was fitted on {count_noun(self.n_features_in_, 'feature')} "
                    f"({_name_list(self.feature_names_)}), got {X.shape[1]}; pass the column names "
                    "(feature_names) to learn which are missing"
                )
        return X

    def predict_proba(self, X, feature_names: Sequence[str] | None = None) -> np.ndarray:
        """Probability of each label in ``classes_``; shape (n_slides, n_classes)."""
        return np.asarray(self.estimator_.predict_proba(self._check_X(X, feature_names=feature_names)))

    def predict(self, X, feature_names: Sequence[str] | None = None) -> np.ndarray:
        """Slide labels, ndarray of str of shape (n_slides,) (with the ``itc_threshold`` rule, if set)."""
        X = self._check_X(X, feature_names=feature_names)
        labels = np.array([str(v) for v in self.estimator_.predict(X)])
        if self.itc_threshold is not None:
            proba = np.asarray(self.estimator_.predict_proba(X))
            labels = apply_itc_threshold(labels, proba, self.classes_, self.itc_threshold)
        return labels

    @property
    def feature_importances_(self) -> np.ndarray:
        return np.asarray(self.estimator_.feature_importances_)

    def describe(self, max_depth: int = 4) -> str:
        """Text drawing of the tree (or of the first tree of a forest), up to ``max_depth``."""
        from minicnn.tree import export_text

        est = self.estimator_ if self.kind == "tree" else self.estimator_.estimators_[0]
        try:
            return export_text(est, feature_names=self.feature_names_, max_depth=max_depth)
        except TypeError:
            return export_text(est, feature_names=self.feature_names_)

    # ---- persistence (no pickle) ---------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model to ``path`` (.npz via ``minicnn.tree.save_model``) and its
        parameters and feature names to ``path`` + ``.json``.

        The two files are committed together (``minicnn.io.atomic_paths``): neither changes unless
        both are written. The sidecar records the SHA-256 of the model file, so :meth:`load` notices
        a pair that does not belong together.
        """
        from minicnn.tree import save_model

        if not hasattr(self, "estimator_"):
            raise CamelyonError("cannot save a slide classifier that is not fitted")
        path = Path(path)
        with atomic_paths([path, _sidecar(path)]) as (model_tmp, side_tmp):
            save_model(model_tmp, self.estimator_)
            meta = {"format": "camelyon.slide_classifier/1", "params": self.get_params(),
                    "feature_names": self.feature_names_, "classes": self.classes_.tolist(),
                    "model_sha256": _sha256(model_tmp)}
            side_tmp.write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> SlideClassifier:
        """Read a model written by :meth:`save`."""
        from minicnn.tree import load_model

        path = Path(path)
        side = _sidecar(path)
        if not path.is_file() or not side.is_file():
            raise CamelyonError(f"slide classifier not found: need {path} and {side}")
        try:
            meta = json.loads(side.read_text())
            params = meta["params"]
            clf = cls(**params)
            clf.estimator_ = load_model(path)  # a damaged file is named by its structure check first
            expected = meta.get("model_sha256")
            if expected is not None and expected != _sha256(path):
                raise ClassifierError(f"{path} and {side} do not belong together (the model file's SHA-256 is not "
                                      f"the one its sidecar records); save the slide classifier again")
        except CamelyonError:
            raise
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise CamelyonError(f"{path} is not a slide classifier written by camelyon: {exc}") from exc
        clf.feature_names_ = list(meta["feature_names"])
        clf.classes_ = np.array(meta["classes"])
        clf.n_features_in_ = len(clf.feature_names_)
        return clf


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _name_list(names: Sequence[str], limit: int = 6) -> str:
    """``a, b, c`` or ``a, b, ... (27 in all)``."""
    names = list(names)
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", ... ({len(names)} in all)"


def describe_column_mismatch(fitted: Sequence[str], given: Sequence[str]) -> str:
    """One line saying how the feature columns ``given`` differ from the ``fitted`` ones.

    Names the fitted columns that are missing, the columns the classifier does not know, the
    duplicated ones, or (same columns) the first position where the order differs.
    """
    fitted, given = list(fitted), list(given)
    known, present = set(fitted), set(given)
    missing = [n for n in fitted if n not in present]
    unexpected = [n for n in given if n not in known]
    duplicated = sorted({n for n in given if given.count(n) > 1})
    parts = []
    if missing:
        parts.append(f"missing {_name_list(missing)}")
    if unexpected:
        parts.append(f"unexpected {_name_list(unexpected)}")
    if duplicated:
        parts.append(f"duplicated {_name_list(duplicated)}")
    if not parts:
        i = next(i for i, (a, b) in enumerate(zip(fitted, given, strict=True)) if a != b)
        parts.append(f"same columns in another order: column {i} is {given[i]!r}, expected {fitted[i]!r}")
    return (f"the slide classifier was fitted on {count_noun(len(fitted), 'feature')}, got "
            f"{count_noun(len(given), 'feature column')}: " + "; ".join(parts))


def apply_itc_threshold(labels, probabilities, classes, threshold: float) -> np.ndarray:
    """Call itc the slides labelled negative whose itc probability reaches ``threshold``.

    An isolated-tumour-cell lesion covers one to three heatmap pixels, so the trees often see a
    slide with a single suspicious pixel as negative while still giving itc some probability.
    This rule trades negative slides for itc slides; other labels are never changed.

    Parameters
    ----------
    labels : sequence of str, shape (n_slides,)
        Labels chosen by the classifier.
    probabilities : ndarray of shape (n_slides, n_classes)
        Class probabilities, columns in the order of ``classes``.
    classes : sequence of str, shape (n_classes,)
    threshold : float
        Smallest itc probability, in (0, 1], that turns a negative into itc.

    Returns
    -------
    ndarray of str, shape (n_slides,)
        Without an itc or negative class, the labels unchanged.
    """
    labels = np.asarray(labels).astype(str)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    classes = [str(c) for c in classes]
    if probabilities.shape != (len(labels), len(classes)):
        raise CamelyonError(f"probabilities have shape {probabilities.shape}, expected ({len(labels)}, {len(classes)})")
    if "itc" not in classes or "negative" not in classes:
        return labels
    flip = (labels == "negative") & (probabilities[:, classes.index("itc")] >= threshold)
    return np.where(flip, "itc", labels)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def grouped_folds(groups: Sequence[str], n_splits: int = 5, *, strata: Sequence | None = None,
                  seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """K folds in which every group (patient) lies in exactly one test fold.

    Groups are shuffled with ``seed``, then sorted by their stratum (e.g. the patient's pN stage)
    and dealt to the folds in turn, so every fold gets a similar mix of strata.

    Parameters
    ----------
    groups : sequence of str, shape (n_samples,)
        Group (patient) of each sample (slide).
    n_splits : int
        Number of folds (at least 2, at most the number of groups).
    strata : sequence, optional
        One stratum per sample; a group's stratum is the one of its first sample.
    seed : int

    Returns
    -------
    list of (train_indices, test_indices)
    """
    groups = np.asarray([str(g) for g in groups])
    unique = np.unique(groups)
    if not 2 <= n_splits <= len(unique):
        raise CamelyonError(f"n_splits must be between 2 and the number of patients ({len(unique)}), got {n_splits}")
    rng = np.random.default_rng(seed)
    order = unique[rng.permutation(len(unique))]
    if strata is not None:
        strata = np.asarray([str(s) for s in strata])
        first = {g: strata[np.flatnonzero(groups == g)[0]] for g in unique}
        order = np.array(sorted(order, key=lambda g: first[g]))  # stable: keeps the shuffle inside a stratum
    fold_of_group = {g: i % n_splits for i, g in enumerate(order)}
    fold = np.array([fold_of_group[g] for g in groups])
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(n_splits)]


@dataclass
class CrossValidationResult:
    """Out-of-fold predictions of :func:`cross_validate`.

    Attributes
    ----------
    predictions : ndarray of str, shape (n_slides,)
        Label predicted for each slide by the model of the fold that held it out.
    probabilities : ndarray of shape (n_slides, 4)
        Out-of-fold probabilities in ``SLIDE_LABELS`` order.
    fold : ndarray of int, shape (n_slides,)
        Fold that held each slide out.
    accuracy : float
        Fraction of slides labelled right.
    class_accuracy : dict
        Per true label: fraction of its slides labelled right (None without slides).
    """

    predictions: np.ndarray
    probabilities: np.ndarray
    fold: np.ndarray
    accuracy: float
    class_accuracy: dict = field(default_factory=dict)


def cross_validate(X, y: Sequence[str], groups: Sequence[str], *, n_splits: int = 5, strata=None,
                   seed: int = 0, feature_names=None, **params) -> CrossValidationResult:
    """Cross-validate a :class:`SlideClassifier` with folds grouped by patient.

    Parameters
    ----------
    X : array-like of shape (n_slides, n_features)
    y : sequence of str, shape (n_slides,)
        Reference slide labels.
    groups : sequence of str, shape (n_slides,)
        Patient of each slide; a patient's slides are never split between training and test.
    n_splits : int
        Folds (capped at the number of patients).
    strata : sequence, optional
        Per-slide stratum used to balance the folds (e.g. the patient's stage).
    seed : int
        Seed of the fold assignment.
    feature_names : sequence of str, optional
    **params
        Passed to :class:`SlideClassifier`.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.array([normalize_slide_label(v) for v in y])
    n_splits = min(n_splits, len(set(map(str, groups))))
    pred = np.empty(len(y), dtype=object)
    proba = np.zeros((len(y), len(SLIDE_LABELS)))
    fold = np.full(len(y), -1)
    for k, (tr, te) in enumerate(grouped_folds(groups, n_splits, strata=strata, seed=seed)):
        if len(set(y[tr])) < 2:  # a fold with one training label: predict it
            pred[te] = y[tr][0]
            proba[te, SLIDE_LABELS.index(y[tr][0])] = 1.0
        else:
            clf = SlideClassifier(**params).fit(X[tr], y[tr], feature_names=feature_names)
            pred[te] = clf.predict(X[te])  # with the itc_threshold rule when params set it
            p = clf.predict_proba(X[te])
            for j, c in enumerate(clf.classes_):
                proba[te, SLIDE_LABELS.index(c)] = p[:, j]
        fold[te] = k
    pred = pred.astype(str)
    class_acc = {}
    for lab in SLIDE_LABELS:
        m = y == lab
        class_acc[lab] = float((pred[m] == lab).mean()) if m.any() else None
    return CrossValidationResult(pred, proba, fold, float((pred == y).mean()), class_acc)


@dataclass
class ClassifierFit:
    """A slide classifier fitted on every slide, with its grouped cross-validation.

    Attributes
    ----------
    classifier : SlideClassifier
        Fitted on all the slides given.
    cv : CrossValidationResult or None
        Out-of-fold predictions (None when cross-validation was off or there was one patient).
    """

    classifier: SlideClassifier
    cv: CrossValidationResult | None

    def summary(self, top: int = 8) -> dict:
        """JSON-able: ``cv_accuracy``, ``cv_class_accuracy``, ``n_folds`` (when cross-validated) and the
        ``top`` most important features as ``[name, importance]``."""
        names = self.classifier.feature_names_
        ranked = sorted(zip(names, self.classifier.feature_importances_.tolist(), strict=True), key=lambda t: -t[1])
        info: dict = {"top_features": [list(t) for t in ranked[:top]]}
        if self.cv is not None:
            info.update(cv_accuracy=self.cv.accuracy, cv_class_accuracy=self.cv.class_accuracy,
                        n_folds=int(self.cv.fold.max()) + 1)
        return info


def fit_slide_classifier(slides: Sequence[str], X, labels: Sequence[str], feature_names: Sequence[str], *,
                         cv_folds: int = 5, strata=None, seed: int = 0, source: str = "features",
                         **params) -> ClassifierFit:
    """Cross-validate (folds grouped by patient) and fit the slide classifier: the one fitting path.

    Used by ``camelyon classify --fit`` and the pipeline's classify step.

    Parameters
    ----------
    slides : sequence of str, shape (n_slides,)
        Slide file names (their patient comes from :func:`camelyon.staging.patient_of`).
    X : array-like of shape (n_slides, n_features)
    labels : sequence of str, shape (n_slides,)
        Reference slide labels (any case).
    feature_names : sequence of str
    cv_folds : int
        Folds of the cross-validation; 0 (or a single patient) skips it.
    strata : sequence, optional
        Per-slide stratum that balances the folds (e.g. the patient's pN stage).
    seed : int
        Seed of the folds (and the classifier's ``random_state`` unless ``params`` sets it).
    source : str
        Where the rows come from, for error messages (e.g. the feature CSV's path).
    **params
        :class:`SlideClassifier` parameters (kind, n_estimators, max_depth, class_weight, itc_threshold...).
    """
    from camelyon.staging import patient_of

    if len(slides) != len(labels):
        raise ClassifierError(f"{source}: {len(labels)} labels for {len(slides)} slides")
    for slide, label in zip(slides, labels, strict=True):
        try:
            normalize_slide_label(label)
        except CamelyonError as exc:
            raise ClassifierError(f"{source}: slide {slide}: {exc}") from None
    params.setdefault("random_state", seed)
    groups = [patient_of(s) for s in slides]
    cv = None
    if cv_folds and len(set(groups)) >= 2:
        cv = cross_validate(X, labels, groups, n_splits=cv_folds, strata=strata, seed=seed,
                            feature_names=feature_names, **params)
    clf = SlideClassifier(**params).fit(X, labels, feature_names=feature_names)
    return ClassifierFit(clf, cv)
