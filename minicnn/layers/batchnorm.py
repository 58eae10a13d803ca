"""Batch normalization layers (exercise G06 in the functional op)."""

import numpy as np

from minicnn import functional as F
from minicnn.functional._checks import check_positive_int

from .base import Layer


class _BatchNorm(Layer):
    _pattern = ""

    def __init__(self, num_features, momentum=0.1, eps=1e-5):
        super().__init__()
        name = type(self).__name__
        self.num_features = check_positive_int(num_features, "num_features", name)
        if not (0.0 <= float(momentum) <= 1.0):
            raise ValueError(f"{name}: momentum must be in [0, 1], got {momentum!r}")
        if not float(eps) > 0:
            raise ValueError(f"{name}: eps must be positive, got {eps!r}")
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.params["gamma"] = np.ones(self.num_features, dtype=np.float32)
        self.params["beta"] = np.zeros(self.num_features, dtype=np.float32)
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.buffers["running_mean"] = np.zeros(self.num_features, dtype=np.float32)
        self.buffers["running_var"] = np.ones(self.num_features, dtype=np.float32)

    @property
    def running_mean(self):
        return self.buffers["running_mean"]

    @property
    def running_var(self):
        return self.buffers["running_var"]

    def describe(self):
        return f"{type(self).__name__}({self.num_features})"

    def _config_args(self):
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps}

    def _check(self, x):
        expected = self._pattern.format(c=self.num_features)
        if x.ndim != len(self._pattern.split(",")) or x.shape[1] != self.num_features:
            raise ValueError(f"{self.describe()}: expected input of shape {expected}, got {x.shape}")

    def output_shape(self, input_shape):
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != len(self._pattern.split(",")) - 1 or shape[0] != self.num_features:
            raise ValueError(f"{self.describe()}: expected input of shape {self._pattern.format(c=self.num_features)}"
                             f", got (N, {', '.join(map(str, shape))})")
        return shape

    def forward(self, x):
        x = self._input(x)
        out, self._cache = F.batch_norm_forward(
            x, self.params["gamma"], self.params["beta"], self.buffers["running_mean"],
            self.buffers["running_var"], self.training, self.momentum, self.eps)
        return out

    def backward(self, dout):
        dx, dgamma, dbeta = F.batch_norm_backward(dout, self._saved())
        self.grads["gamma"][...] = dgamma
        self.grads["beta"][...] = dbeta
        return dx


class BatchNorm1D(_BatchNorm):
    """Batch normalization of (N, num_features) inputs, per feature."""

    _pattern = "(N, {c})"


class BatchNorm2D(_BatchNorm):
    """Batch normalization of (N, C, H, W) feature maps, per channel over batch and pixels."""

    _pattern = "(N, {c}, H, W)"
