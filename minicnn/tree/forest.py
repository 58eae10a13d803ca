"""RandomForestClassifier: bagged decision trees with random feature subsets at each split."""

import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._random import make_state
from ._validation import ParamsMixin, check_fit_data, resolve_tree_params
from .builder import presort
from .tree import DecisionTreeClassifier


def bootstrap_counts(n_samples, n_draws, rng):
    """How many times each sample is drawn in a bootstrap sample.

    Parameters
    ----------
    n_samples : int
        Size of the training set.
    n_draws : int
        Size of the bootstrap sample (``n_samples`` in the classic bootstrap).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n_samples,), float64
        Draw counts; they sum to ``n_draws``. A tree grown with these counts as sample weights is
        grown on the bootstrap sample; samples with count 0 are "out of bag" for that tree.
    """
    ### BEGIN SOLUTION (G09)
    drawn = rng.integers(0, n_samples, size=n_draws)
    return np.bincount(drawn, minlength=n_samples).astype(np.float64)
    ### END SOLUTION


def average_proba(trees, X, n_classes):
    """Mean of the trees' class probabilities (soft voting).

    Parameters
    ----------
    trees : list of DecisionTreeClassifier
        Fitted on the same classes.
    X : ndarray of shape (n_samples, n_features), float64
    n_classes : int

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        Rows sum to 1.
    """
    ### BEGIN SOLUTION (G09)
    proba = np.zeros((X.shape[0], n_classes))
    for tree in trees:
        proba += tree.tree_.predict_proba(X)
    return proba / len(trees)
    ### END SOLUTION


def _resolve_n_jobs(n_jobs):
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise ValueError(f"n_jobs must be None, a positive int or -1 (all cores), got {n_jobs!r}")
    cores = os.cpu_count() or 1
    return int(n_jobs) if n_jobs > 0 else max(1, cores + 1 + int(n_jobs))


class RandomForestClassifier(ParamsMixin):
    """A random forest: trees grown on bootstrap samples, trying ``max_features`` random features per
    split; ``predict_proba`` averages the trees' probabilities.

    Parameters
    ----------
    n_estimators : int, default 100
        Number of trees.
    criterion, splitter, max_depth, min_samples_split, min_samples_leaf, min_impurity_decrease, class_weight
        As for :class:`DecisionTreeClassifier`.
    max_features : int, float, "sqrt", "log2" or None, default "sqrt"
        Features tried at each split.
    bootstrap : bool, default True
        Grow each tree on a bootstrap sample (drawn as integer sample weights); otherwise on the
        whole training set (then only the feature sampling differs between trees).
    oob_score : bool, default False
        Estimate the accuracy on the out-of-bag samples (sets ``oob_score_`` and
        ``oob_decision_function_``); needs ``bootstrap=True``.
    n_jobs : int or None, default None
        Number of threads growing trees in parallel (the compiled builder releases the GIL); None
        means 1 and -1 all cores. The result does not depend on n_jobs.
    random_state : None, int or numpy.random.Generator
        Seed of the bootstrap draws and of the trees' feature orders.
    max_samples : None, int or float in (0, 1], default None
        Size of each bootstrap sample (None: n_samples).
    progress : bool, default False
        Show a progress bar over the trees.

    Attributes
    ----------
    estimators_ : list of DecisionTreeClassifier
    classes_, n_classes_, n_features_in_ : as for the tree
    feature_importances_ : ndarray of shape (n_features,)
        Mean of the trees' importances, normalised to sum 1.
    oob_score_ : float
    oob_decision_function_ : ndarray of shape (n_samples, n_classes)
    """

    _fitted_attribute = "estimators_"
    _param_names = ("n_estimators", "criterion", "splitter", "max_depth", "min_samples_split",
                    "min_samples_leaf", "min_impurity_decrease", "max_features", "bootstrap", "oob_score",
                    "n_jobs", "random_state", "class_weight", "max_samples", "progress")

    def __init__(self, n_estimators=100, criterion="gini", splitter="fast", max_depth=None,
                 min_samples_split=2, min_samples_leaf=1, min_impurity_decrease=0.0, max_features="sqrt",
                 bootstrap=True, oob_score=False, n_jobs=None, random_state=None, class_weight=None,
                 max_samples=None, progress=False):
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.splitter = splitter
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_impurity_decrease = min_impurity_decrease
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.oob_score = oob_score
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.class_weight = class_weight
        self.max_samples = max_samples
        self.progress = progress

    def _tree_params(self):
        return {
            "criterion": self.criterion, "splitter": self.splitter, "max_depth": self.max_depth,
            "min_samples_split": self.min_samples_split, "min_samples_leaf": self.min_samples_leaf,
            "min_impurity_decrease": self.min_impurity_decrease, "max_features": self.max_features,
        }

    def _n_draws(self, n_samples):
        ms = self.max_samples
        if ms is None:
            return n_samples
        if isinstance(ms, (int, np.integer)) and not isinstance(ms, bool) and 1 <= ms <= n_samples:
            return int(ms)
        if isinstance(ms, float) and 0.0 < ms <= 1.0:
            return max(1, int(round(ms * n_samples)))
        raise ValueError(f"max_samples must be None, an int in [1, n_samples] or a float in (0, 1], got {ms!r}")

    def fit(self, X, y, sample_weight=None):
        """Grow the forest.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        self._check_forest_params()
        X, classes, y_enc, base_w = check_fit_data(X, y, sample_weight, self.class_weight)
        n_samples, n_features = X.shape
        probe = DecisionTreeClassifier(**self._tree_params())
        params = resolve_tree_params(probe, n_samples, n_features)
        n_draws = self._n_draws(n_samples)

        master = np.random.default_rng(self.random_state if not isinstance(self.random_state, np.random.Generator)
                                       else self.random_state.integers(0, 2**63))
        tree_seeds = master.integers(0, 2**63, size=self.n_estimators)
        presorted = presort(X) if params["splitter"] == "fast" else None

        def grow(i):
            rng = np.random.default_rng(tree_seeds[i])
            if self.bootstrap:
                counts = bootstrap_counts(n_samples, n_draws, rng)
                w = base_w * counts
            else:
                counts = None
                w = base_w
            tree = DecisionTreeClassifier(**self._tree_params(), random_state=int(tree_seeds[i]))
            if not (w > 0).any():
                raise ValueError("a bootstrap sample has zero total weight; check sample_weight")
            # the tree's feature orders come from its own seed, kept as its random_state
            tree._fit_encoded(X, y_enc, w, classes, params, make_state(int(tree_seeds[i])), presorted)
            return tree, counts

        results = self._grow_all(grow)
        self.estimators_ = [tree for tree, _ in results]
        self.classes_ = classes
        self.n_classes_ = int(classes.shape[0])
        self.n_features_in_ = int(n_features)
        self.feature_importances_ = self._importances()
        if self.oob_score:
            self._set_oob(X, y_enc, [c for _, c in results])
        return self

    def _check_forest_params(self):
        """The forest's own parameters (the trees' are checked by :func:`resolve_tree_params`)."""
        if isinstance(self.n_estimators, bool) or not isinstance(self.n_estimators, (int, np.integer)) \
                or self.n_estimators < 1:
            raise ValueError(f"n_estimators must be an int >= 1, got {self.n_estimators!r}")
        if not isinstance(self.bootstrap, (bool, np.bool_)):
            raise ValueError(f"bootstrap must be True or False, got {self.bootstrap!r}")
        if self.oob_score and not self.bootstrap:
            raise ValueError("oob_score=True needs bootstrap=True (without bootstrap no sample is out of bag)")
        _resolve_n_jobs(self.n_jobs)

    def _grow_all(self, grow) -> list:
        """``[grow(0), ..., grow(n_estimators - 1)]`` on ``n_jobs`` threads, in order, with a progress bar."""
        n_jobs = _resolve_n_jobs(self.n_jobs)
        results = [None] * self.n_estimators
        bar = None
        if self.progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=self.n_estimators, desc="trees")
        if n_jobs == 1:
            done = (grow(i) for i in range(self.n_estimators))
            pool = None
        else:
            pool = ThreadPoolExecutor(max_workers=n_jobs)
            done = pool.map(grow, range(self.n_estimators))
        try:
            for i, result in enumerate(done):
                results[i] = result
                if bar is not None:
                    bar.update()
        finally:
            if pool is not None:
                pool.shutdown()
            if bar is not None:
                bar.close()
        return results

    def _importances(self):
        grown = [t.feature_importances_ for t in self.estimators_ if t.tree_.node_count > 1]
        if not grown:
            return np.zeros(self.n_features_in_)
        imp = np.mean(grown, axis=0)
        return imp / imp.sum() if imp.sum() > 0 else imp

    def _set_oob(self, X, y_enc, counts_per_tree):
        proba = np.zeros((X.shape[0], self.n_classes_))
        n_votes = np.zeros(X.shape[0], dtype=np.int64)
        for tree, counts in zip(self.estimators_, counts_per_tree, strict=True):
            oob = np.flatnonzero(counts == 0)
            if oob.shape[0]:
                proba[oob] += tree.tree_.predict_proba(X[oob])
                n_votes[oob] += 1
        has_vote = n_votes > 0
        if not has_vote.all():
            warnings.warn(
                f"{int((~has_vote).sum())} samples were never out of bag; oob_score_ ignores them "
                "(use more trees)", stacklevel=3)
        proba[has_vote] /= n_votes[has_vote, None]
        proba[~has_vote] = np.nan
        self.oob_decision_function_ = proba
        self.oob_score_ = float(np.mean(np.argmax(proba[has_vote], axis=1) == y_enc[has_vote]))

    def predict_proba(self, X):
        """Mean class probabilities of the trees, ndarray of shape (n_samples, n_classes)."""
        X = self._check_fitted(X)
        return average_proba(self.estimators_, X, self.n_classes_)

    def predict(self, X):
        """Class with the largest mean probability, ndarray of shape (n_samples,)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def apply(self, X):
        """Leaf reached in each tree, ndarray of shape (n_samples, n_estimators)."""
        X = self._check_fitted(X)
        return np.stack([t.tree_.apply(X) for t in self.estimators_], axis=1)

    def score(self, X, y):
        """Accuracy on (X, y)."""
        return float(np.mean(self.predict(X) == np.asarray(y)))
