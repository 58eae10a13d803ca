"""Fully connected layer (exercise G01)."""

import numpy as np

from minicnn import functional as F
from minicnn.functional._checks import check_positive_int
from minicnn.init import as_rng, he_normal

from .base import Layer


class Dense(Layer):
    """Affine map ``out = x @ W + b`` of (N, in_features) rows.

    Parameters
    ----------
    in_features, out_features : int
    rng : numpy.random.Generator or int, optional
        Draws the He-normal initial weights (biases start at 0).

    Attributes
    ----------
    params : {"W": (in_features, out_features), "b": (out_features,)}
    """

    def __init__(self, in_features, out_features, rng=None):
        super().__init__()
        self.in_features = check_positive_int(in_features, "in_features", "Dense")
        self.out_features = check_positive_int(out_features, "out_features", "Dense")
        self.params["W"] = he_normal((self.in_features, self.out_features), as_rng(rng))
        self.params["b"] = np.zeros(self.out_features, dtype=np.float32)
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def describe(self):
        return f"Dense({self.in_features}->{self.out_features})"

    def _config_args(self):
        return {"in_features": self.in_features, "out_features": self.out_features}

    def _check(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"{self.describe()}: expected input of shape (N, {self.in_features}), got {x.shape}")

    def output_shape(self, input_shape):
        shape = tuple(int(s) for s in input_shape)
        if shape != (self.in_features,):
            raise ValueError(f"{self.describe()}: expected input of shape (N, {self.in_features}), "
                             f"got (N, {', '.join(map(str, shape))})")
        return (self.out_features,)

    def forward(self, x):
        """x: (N, in_features) -> (N, out_features)."""
        x = self._input(x)
        W, b = self.params["W"], self.params["b"]
        ### BEGIN SOLUTION (G01) call F.dense_forward(x, W, b); keep its cache in self._cache (backward reads it with self._saved()); return out (N, out_features)
        out, self._cache = F.dense_forward(x, W, b)
        ### END SOLUTION
        return out

    def backward(self, dout):
        """Fill ``grads["W"]``, ``grads["b"]``; return dx of shape (N, in_features)."""
        cache = self._saved()
        ### BEGIN SOLUTION (G01) dx, dW, db from F.dense_backward(dout, cache); write dW and db INTO self.grads['W'] and self.grads['b'] (in place: grads[...] = ...); return dx (N, in_features)
        dx, dW, db = F.dense_backward(dout, cache)
        self.grads["W"][...] = dW
        self.grads["b"][...] = db
        ### END SOLUTION
        return dx
