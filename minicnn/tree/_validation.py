"""Input and parameter checks shared by the tree estimators.

Every check raises ``ValueError`` (``TypeError`` for wrong types) with a message that names the
argument and says what was expected, so that a user never sees a traceback from deep inside NumPy.
"""

import numbers

import numpy as np

from .criteria import CRITERIA

SPLITTERS = ("fast", "naive")


class NotFittedError(ValueError, AttributeError):
    """Raised when an estimator is used before ``fit``."""


class ParamsMixin:
    """scikit-learn's parameter protocol for an estimator whose constructor arguments are ``_param_names``.

    The constructor stores every argument unchanged as an attribute of the same name; ``fit`` validates
    and sets ``_fitted_attribute`` (e.g. ``tree_``), whose absence means "not fitted".
    """

    _param_names: tuple = ()
    _fitted_attribute: str = ""

    def _require_fitted(self):
        if not hasattr(self, self._fitted_attribute):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit(X, y) before using it")

    def _check_fitted(self, X):
        """``X`` checked against the fitted estimator (a NotFittedError before ``fit``)."""
        self._require_fitted()
        return check_X(X, n_features=self.n_features_in_)

    def get_params(self):
        """Constructor parameters as a dict."""
        return {name: getattr(self, name) for name in self._param_names}

    def set_params(self, **params):
        """Set constructor parameters by name; an unknown name is a ValueError listing the valid ones."""
        for name, value in params.items():
            if name not in self._param_names:
                raise ValueError(f"{type(self).__name__} has no parameter {name!r}; valid: {self._param_names}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        defaults = type(self)().get_params()
        changed = {k: v for k, v in self.get_params().items() if not _same(v, defaults[k])}
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"


def _same(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. arrays
        return a is b


def check_X(X, name="X", n_features=None):
    """Validate a feature matrix.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric, finite values.
    name : str
        Name used in error messages.
    n_features : int, optional
        Number of features the estimator was fitted on; a different count is an error.

    Returns
    -------
    ndarray of shape (n_samples, n_features), float64, C-contiguous
    """
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be turned into a 2-D numeric array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_features), got {arr.ndim}-D shape {arr.shape}; "
            "reshape a single feature with X.reshape(-1, 1) or a single sample with X.reshape(1, -1)"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); need at least one sample and one feature")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        n_bad = int((~finite).sum())
        raise ValueError(
            f"{name} contains {n_bad} NaN or infinite value(s), the first at row {row}, column {col} "
            f"({arr[row, col]}); trees need finite values"
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"{name} has {arr.shape[1]} features, but the estimator was fitted with {n_features} features"
        )
    return arr


def check_y(y, n_samples):
    """Validate class labels and encode them.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        The sorted distinct labels (any orderable type: int, float, str).
    y_encoded : ndarray of shape (n_samples,), int64
        Index of each sample's label in ``classes``.
    """
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-D of shape (n_samples,), got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"X and y have different lengths: X has {n_samples} samples, y has {arr.shape[0]}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"y contains NaN or infinite labels (first at index {np.flatnonzero(~np.isfinite(arr))[0]})")
    if arr.dtype.kind == "O":
        if any(v is None for v in arr):
            raise ValueError("y contains None labels")
        try:
            classes, y_enc = np.unique(arr, return_inverse=True)
        except TypeError as exc:
            raise ValueError(f"labels in y must be of one orderable type (e.g. all str or all int): {exc}") from None
    else:
        classes, y_enc = np.unique(arr, return_inverse=True)
    if classes.shape[0] < 2:
        raise ValueError(
            f"y has a single class ({classes[:1].tolist()[0]!r}); a classifier needs at least two classes to learn from"
        )
    return classes, y_enc.reshape(-1).astype(np.int64)


def check_sample_weight(sample_weight, n_samples):
    """Validate sample weights: 1-D, finite, non-negative, positive sum. ``None`` gives ones."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=np.float64)
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "biuf":
        raise ValueError(f"sample_weight must hold numbers, got dtype {w.dtype}")
    w = np.ascontiguousarray(w, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight must be finite and non-negative")
    if w.sum() <= 0:
        raise ValueError("sample_weight sums to 0; at least one sample needs a positive weight")
    return w


def class_weight_vector(class_weight, classes, y_enc):
    """Per-class weights of shape (n_classes,) from None, "balanced" or a dict {label: weight}."""
    n_classes = classes.shape[0]
    if class_weight is None:
        return np.ones(n_classes)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f'class_weight must be None, "balanced" or a dict, got {class_weight!r}')
        counts = np.bincount(y_enc, minlength=n_classes).astype(np.float64)
        return y_enc.shape[0] / (n_classes * np.maximum(counts, 1.0))
    if isinstance(class_weight, dict):
        out = np.ones(n_classes)
        known = {c.item() if hasattr(c, "item") else c: i for i, c in enumerate(classes)}
        for label, weight in class_weight.items():
            key = label.item() if hasattr(label, "item") else label
            if key not in known:
                raise ValueError(f"class_weight names the label {label!r}, which is not among the classes {classes.tolist()}")
            if not (isinstance(weight, numbers.Real) and np.isfinite(weight) and weight >= 0):
                raise ValueError(f"class_weight[{label!r}] must be a finite non-negative number, got {weight!r}")
            out[known[key]] = float(weight)
        return out
    raise ValueError(f'class_weight must be None, "balanced" or a dict, got {type(class_weight).__name__}')


def check_fit_data(X, y, sample_weight, class_weight):
    """Validated training data of a classifier's ``fit``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    classes : ndarray of shape (n_classes,)
        The distinct labels, sorted.
    y_enc : ndarray of shape (n_samples,), int64
        Index of each sample's class in ``classes``.
    w : ndarray of shape (n_samples,), float64
        ``sample_weight`` times the weight of the sample's class (at least one positive).
    """
    X = check_X(X)
    classes, y_enc = check_y(y, X.shape[0])
    w = check_sample_weight(sample_weight, X.shape[0])
    w = w * class_weight_vector(class_weight, classes, y_enc)[y_enc]
    if not (w > 0).any():
        raise ValueError("all samples have zero weight after applying sample_weight and class_weight")
    return X, classes, y_enc, w


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def resolve_tree_params(est, n_samples, n_features):
    """Check the tree parameters of ``est`` and turn them into plain numbers for the builders.

    Returns
    -------
    dict
        criterion (str), max_depth (int, large when None), min_samples_split (int),
        min_samples_leaf (int), min_impurity_decrease (float), max_features (int in [1, n_features]),
        splitter (str).
    """
    if est.criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {est.criterion!r}")
    splitter = getattr(est, "splitter", "fast")
    if splitter not in SPLITTERS:
        raise ValueError(f"splitter must be one of {SPLITTERS}, got {splitter!r}")

    if est.max_depth is None:
        max_depth = np.iinfo(np.int32).max
    elif _is_int(est.max_depth) and est.max_depth >= 1:
        max_depth = int(est.max_depth)
    else:
        raise ValueError(f"max_depth must be None or an int >= 1, got {est.max_depth!r}")

    mss = est.min_samples_split
    if _is_int(mss) and mss >= 2:
        min_samples_split = int(mss)
    elif _is_real(mss) and not _is_int(mss) and 0.0 < mss <= 1.0:
        min_samples_split = max(2, int(np.ceil(mss * n_samples)))
    else:
        raise ValueError(f"min_samples_split must be an int >= 2 or a float in (0, 1], got {mss!r}")

    msl = est.min_samples_leaf
    if _is_int(msl) and msl >= 1:
        min_samples_leaf = int(msl)
    elif _is_real(msl) and not _is_int(msl) and 0.0 < msl < 1.0:
        min_samples_leaf = max(1, int(np.ceil(msl * n_samples)))
    else:
        raise ValueError(f"min_samples_leaf must be an int >= 1 or a float in (0, 1), got {msl!r}")
    min_samples_split = max(min_samples_split, 2 * min_samples_leaf)

    mid = est.min_impurity_decrease
    if not (_is_real(mid) and np.isfinite(mid) and mid >= 0):
        raise ValueError(f"min_impurity_decrease must be a float >= 0, got {mid!r}")

    mf = est.max_features
    if mf is None:
        max_features = n_features
    elif mf == "sqrt":
        max_features = max(1, int(np.sqrt(n_features)))
    elif mf == "log2":
        max_features = max(1, int(np.log2(n_features)))
    elif _is_int(mf) and 1 <= mf:
        if mf > n_features:
            raise ValueError(f"max_features={mf} is larger than the number of features ({n_features})")
        max_features = int(mf)
    elif _is_real(mf) and not _is_int(mf) and 0.0 < mf <= 1.0:
        max_features = max(1, int(mf * n_features))
    else:
        raise ValueError(
            f'max_features must be None, "sqrt", "log2", an int >= 1 or a float in (0, 1], got {mf!r}'
        )
    return {
        "criterion": est.criterion,
        "max_depth": max_depth,
        "min_samples_split": min_samples_split,
        "min_samples_leaf": min_samples_leaf,
        "min_impurity_decrease": float(mid),
        "max_features": max_features,
        "splitter": splitter,
    }
