"""Loss functions: a scalar that says how wrong the network's raw outputs are.

Every loss follows the same two-step contract as the layers:

- ``loss.forward(scores, y) -> float``: the mean loss over the batch, and it keeps what the backward pass needs;
- ``loss.backward() -> dscores``: the gradient of that mean loss with respect to ``scores``
  (same shape and dtype as ``scores``).

The losses take *raw scores* (logits), never probabilities: softmax and sigmoid are folded into the loss so
that it can be computed without overflow for any score, even 1e4.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Loss", "SoftmaxCrossEntropy", "BCEWithLogits", "MSE"]


def _as_float_array(scores, name: str) -> np.ndarray:
    scores = np.asarray(scores)
    if not np.issubdtype(scores.dtype, np.floating):
        raise ValueError(f"{name}: scores must be a floating-point array, got dtype {scores.dtype}")
    return scores


def _elementwise_targets(scores, y, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Checked (scores, y) of a loss over every element: y gets the shape and dtype of the scores.

    Parameters
    ----------
    scores : array-like, float, of any shape (not empty)
    y : array-like of real numbers (or bool), the shape of ``scores`` (shape (N,) accepted for scores (N, 1))
    name : str
        The loss, named in the errors.
    """
    scores = _as_float_array(scores, name)
    y = np.asarray(y)
    if scores.size == 0:
        raise ValueError(f"{name}: empty batch (N = 0)")
    if y.shape != scores.shape:
        if y.size == scores.size and y.ndim == 1 and scores.shape[0] == y.shape[0]:
            y = y.reshape(scores.shape)
        else:
            raise ValueError(f"{name}: targets must have the shape of the scores {scores.shape} "
                             f"(or ({scores.shape[0]},)), got shape {y.shape}")
    if not (y.dtype == bool or np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise ValueError(f"{name}: targets must be real numbers, got dtype {y.dtype}")
    return scores, y.astype(scores.dtype)


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|))."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow for large negative x."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Loss:
    """Base class: ``forward(scores, y) -> float`` then ``backward() -> dscores``.

    ``loss(scores, y)`` is the same as ``loss.forward(scores, y)``.
    """

    def __init__(self):
        self.cache = None

    def __call__(self, scores, y) -> float:
        return self.forward(scores, y)

    def forward(self, scores, y) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _need_cache(self):
        if self.cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before forward()")
        return self.cache

    def config(self) -> dict:
        """Constructor arguments as a JSON-able dict with ``"type"`` the class name."""
        return {"type": type(self).__name__}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "type")
        return f"{type(self).__name__}({args})"


class SoftmaxCrossEntropy(Loss):
    """Softmax followed by the negative log-likelihood of the true class, averaged over the batch.

    ``L = mean_i ( -s[i, y_i] + log sum_c exp(s[i, c]) )``

    Parameters of ``forward``
    -------------------------
    scores : ndarray of shape (N, C), float
        Raw class scores (logits).
    y : ndarray of shape (N,), int
        True class of each sample, in ``0 .. C-1``.

    ``backward()`` returns ``(softmax(scores) - onehot(y)) / N`` of shape (N, C).
    """

    def forward(self, scores, y) -> float:
        scores = _as_float_array(scores, "SoftmaxCrossEntropy")
        if scores.ndim != 2:
            raise ValueError(
                f"SoftmaxCrossEntropy: scores must have shape (N, C), got shape {scores.shape}"
            )
        n, c = scores.shape
        y = np.asarray(y)
        if y.shape != (n,):
            raise ValueError(f"SoftmaxCrossEntropy: labels must have shape ({n},) to match scores {scores.shape}, "
                             f"got shape {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
                y = y.astype(np.int64)
            else:
                raise ValueError(f"SoftmaxCrossEntropy: labels must be integers in [0, {c - 1}], got dtype {y.dtype}")
        if n == 0:
            raise ValueError("SoftmaxCrossEntropy: empty batch (N = 0)")
        if y.min() < 0 or y.max() >= c:
            bad = y[(y < 0) | (y >= c)][0]
            raise ValueError(f"SoftmaxCrossEntropy: labels must be integers in [0, {c - 1}] for {c} classes, "
                             f"got {bad}")
        ### BEGIN SOLUTION (G02) return the mean cross-entropy over the batch as a Python float; scores (N, C) of any size must not overflow (G02: the log-sum-exp trick); set self.cache to what backward needs, e.g. (probs, y)
        shifted = scores - scores.max(axis=1, keepdims=True)  # the largest score becomes 0: exp cannot overflow
        log_sum_exp = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        log_probs = shifted - log_sum_exp
        rows = np.arange(n)
        loss = -log_probs[rows, y].mean()
        self.cache = (np.exp(log_probs), y)
        return float(loss)
        ### END SOLUTION

    def backward(self) -> np.ndarray:
        probs, y = self._need_cache()
        ### BEGIN SOLUTION (G02) return dscores (N, C), the gradient of the mean loss, from self.cache (derive it in G02's theory section; the 1/N of the mean is part of it)
        n = probs.shape[0]
        dscores = probs.copy()
        dscores[np.arange(n), y] -= 1
        dscores /= n
        return dscores
        ### END SOLUTION


class BCEWithLogits(Loss):
    """Binary cross-entropy on logits (sigmoid folded in), averaged over all elements.

    ``L = mean( -w * y * log sigmoid(s) - (1 - y) * log(1 - sigmoid(s)) )`` with ``w = pos_weight``
    (1 by default). Computed as ``w * y * softplus(-s) + (1 - y) * softplus(s)``, which never overflows.

    Parameters
    ----------
    pos_weight : float, optional
        Weight of the positive term: above 1 when positives are rarer than negatives (e.g. the
        number of negatives over the number of positives).

    Parameters of ``forward``
    -------------------------
    scores : ndarray of shape (N,) or (N, 1) (any shape), float
        One logit per target.
    y : ndarray, same number of elements as ``scores``
        Targets in [0, 1] (usually 0 or 1). Shape (N,) is accepted for scores of shape (N, 1).
    """

    def __init__(self, pos_weight: float | None = None):
        super().__init__()
        if pos_weight is not None:
            pos_weight = float(pos_weight)
            if not np.isfinite(pos_weight) or pos_weight <= 0:
                raise ValueError(f"BCEWithLogits: pos_weight must be a positive number, got {pos_weight}")
        self.pos_weight = pos_weight

    def config(self) -> dict:
        return {"type": "BCEWithLogits", "pos_weight": self.pos_weight}

    def forward(self, scores, y) -> float:
        scores, y = _elementwise_targets(scores, y, "BCEWithLogits")
        if not (np.all(y >= 0) and np.all(y <= 1)):  # also false for NaN
            bad = y[~((y >= 0) & (y <= 1))][0]
            raise ValueError(f"BCEWithLogits: targets must be in the range [0, 1], got {bad}")
        w = 1.0 if self.pos_weight is None else self.pos_weight
        ### BEGIN SOLUTION (G02) return the mean weighted binary cross-entropy of the logits as a Python float, stable for large |s| (use _softplus); set self.cache = (scores, y, w)
        # -log sigmoid(s) = softplus(-s) and -log(1 - sigmoid(s)) = softplus(s)
        losses = w * y * _softplus(-scores) + (1 - y) * _softplus(scores)
        self.cache = (scores, y, w)
        return float(losses.mean())
        ### END SOLUTION

    def backward(self) -> np.ndarray:
        scores, y, w = self._need_cache()
        ### BEGIN SOLUTION (G02) return dscores, shape and dtype of scores, from self.cache (derive it in G02; use _sigmoid; the mean divides by scores.size)
        p = _sigmoid(scores)
        dscores = (w * y * (p - 1) + (1 - y) * p) / scores.size
        return dscores.astype(scores.dtype, copy=False)
        ### END SOLUTION


class MSE(Loss):
    """Mean squared error over all elements: ``L = mean((s - y)**2)``.

    Parameters of ``forward``
    -------------------------
    scores : ndarray of any shape, float
    y : ndarray of the same shape (shape (N,) accepted for scores (N, 1))
    """

    def forward(self, scores, y) -> float:
        scores, y = _elementwise_targets(scores, y, "MSE")
        ### BEGIN SOLUTION (G02) return the mean squared error as a Python float; set self.cache to what backward needs
        diff = scores - y
        self.cache = diff
        return float(np.mean(diff * diff))
        ### END SOLUTION

    def backward(self) -> np.ndarray:
        diff = self._need_cache()
        ### BEGIN SOLUTION (G02) return dscores, shape of scores, from self.cache (the mean is over every element)
        return 2 * diff / diff.size
        ### END SOLUTION
