"""Flatten layer: (N, d1, d2, ...) -> (N, d1*d2*...)."""

import numpy as np

from minicnn import functional as F

from .base import Layer


class Flatten(Layer):
    """Reshape every sample to a vector (a view; no copy for contiguous input)."""

    def _check(self, x):
        if x.ndim < 2:
            raise ValueError(f"{self.describe()}: expected input of shape (N, ...) with at least 2 "
                             f"dimensions, got {x.shape}")

    def output_shape(self, input_shape):
        return (int(np.prod([int(s) for s in input_shape])),)

    def forward(self, x):
        x = self._input(x)
        out, self._cache = F.flatten_forward(x)
        return out

    def backward(self, dout):
        return F.flatten_backward(dout, self._saved())
