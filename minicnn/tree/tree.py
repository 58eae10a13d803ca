"""DecisionTreeClassifier: a CART classification tree with scikit-learn's parameters and attributes."""

import numpy as np

from ._random import make_state
from ._validation import ParamsMixin, check_fit_data, resolve_tree_params
from .builder import grow_fast, grow_naive


class DecisionTreeClassifier(ParamsMixin):
    """A decision tree classifier grown depth first with binary axis-aligned splits.

    Parameters
    ----------
    criterion : {"gini", "entropy"}, default "gini"
        Impurity measure (entropy in bits).
    splitter : {"fast", "naive"}, default "fast"
        Split search: "fast" sorts each feature once and sweeps class counts in compiled code;
        "naive" tries every threshold and recomputes impurities in Python (exercise G08). Both
        grow the same tree. (Unlike scikit-learn, this does not select random splits.)
    max_depth : int or None, default None
        Maximum depth (the root has depth 0); None grows until the leaves are pure or too small.
    min_samples_split : int >= 2 or float in (0, 1], default 2
        Minimum number of samples in a node to split it (a float is a fraction of n_samples).
    min_samples_leaf : int >= 1 or float in (0, 1), default 1
        Minimum number of samples in each child of a split.
    min_impurity_decrease : float >= 0, default 0.0
        A node is split only if the weighted impurity decreases by at least this much.
    max_features : int, float, "sqrt", "log2" or None, default None
        Number of non-constant features tried at each split, in a random order; None tries all.
    class_weight : None, "balanced" or dict {label: weight}, default None
        Weights multiplying the sample weights of each class; "balanced" uses
        ``n_samples / (n_classes * count(class))``.
    random_state : None, int or numpy.random.Generator, default None
        Seed of the feature order at each split (ties between features go to the first one tried).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels (any type, e.g. str).
    n_classes_ : int
    n_features_in_ : int
    tree_ : minicnn.tree.structure.Tree
        Parallel arrays children_left, children_right, feature, threshold, value, impurity,
        n_node_samples, weighted_n_node_samples.
    feature_importances_ : ndarray of shape (n_features,)
        Normalised total impurity decrease brought by each feature.
    """

    _fitted_attribute = "tree_"
    _param_names = ("criterion", "splitter", "max_depth", "min_samples_split", "min_samples_leaf",
                    "min_impurity_decrease", "max_features", "class_weight", "random_state")

    def __init__(self, criterion="gini", splitter="fast", max_depth=None, min_samples_split=2,
                 min_samples_leaf=1, min_impurity_decrease=0.0, max_features=None, class_weight=None,
                 random_state=None):
        self.criterion = criterion
        self.splitter = splitter
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_impurity_decrease = min_impurity_decrease
        self.max_features = max_features
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        """Grow the tree on training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite numeric features.
        y : array-like of shape (n_samples,)
            Class labels (at least two distinct).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; samples with weight 0 are ignored.

        Returns
        -------
        self
        """
        X, classes, y_enc, w = check_fit_data(X, y, sample_weight, self.class_weight)
        params = resolve_tree_params(self, X.shape[0], X.shape[1])
        self._fit_encoded(X, y_enc, w, classes, params, make_state(self.random_state))
        return self

    def _fit_encoded(self, X, y_enc, w, classes, params, rng_state, presorted=None):
        """Grow on validated, encoded data (used by the forest, which presorts X once)."""
        n_classes = classes.shape[0]
        if params["splitter"] == "naive":
            self.tree_ = grow_naive(X, y_enc, w, n_classes, params, rng_state)
        else:
            sorted_index, XT = presorted if presorted is not None else (None, None)
            self.tree_ = grow_fast(X, y_enc, w, n_classes, params, rng_state, sorted_index, XT)
        self.classes_ = classes
        self.n_classes_ = int(n_classes)
        self.n_features_in_ = int(X.shape[1])
        self.feature_importances_ = self.tree_.compute_feature_importances(X.shape[1])
        return self

    def apply(self, X):
        """Index of the leaf that each sample reaches, ndarray of shape (n_samples,), int64."""
        X = self._check_fitted(X)
        return self.tree_.apply(X)

    def predict_proba(self, X):
        """Class probabilities, ndarray of shape (n_samples, n_classes) (columns follow ``classes_``):
        the weighted class fractions of the training samples in the leaf reached."""
        X = self._check_fitted(X)
        return self.tree_.predict_proba(X)

    def predict(self, X):
        """Most probable class of each sample, ndarray of shape (n_samples,) with ``classes_``'s dtype."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y):
        """Accuracy on (X, y)."""
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def get_depth(self):
        """Depth of the tree (0 for a single leaf)."""
        self._require_fitted()
        return self.tree_.max_depth

    def get_n_leaves(self):
        """Number of leaves."""
        self._require_fitted()
        return self.tree_.n_leaves
