"""Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh (exercise G01). Any input shape."""

from minicnn import functional as F

from .base import Layer


class ReLU(Layer):
    """``max(x, 0)`` element-wise.

    Inside a :class:`~minicnn.Sequential` the output and input-gradient arrays are the layer's own,
    reused from call to call (large activations otherwise cost a fresh, page-faulting allocation
    every step); see :attr:`Layer.reuse_outputs`.
    """

    def forward(self, x):
        x = self._input(x)
        buffer = self._workspace.output("out", x.shape, x.dtype)
        ### BEGIN SOLUTION (G01) call F.relu_forward(x, out=buffer) (buffer is reused); keep its cache in self._cache; out has x's shape
        out, self._cache = F.relu_forward(x, out=buffer)
        ### END SOLUTION
        return out

    def backward(self, dout):
        cache = self._saved()
        buffer = self._workspace.output("dx", cache.shape, cache.dtype)
        ### BEGIN SOLUTION (G01) dx = F.relu_backward of dout with the saved cache, written into out=buffer; shape of the input
        dx = F.relu_backward(dout, cache, out=buffer)
        ### END SOLUTION
        return dx


class LeakyReLU(Layer):
    """``x`` where positive, ``alpha * x`` elsewhere.

    Parameters
    ----------
    alpha : float
        Slope for negative inputs.
    """

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = float(alpha)

    def _config_args(self):
        return {"alpha": self.alpha}

    def forward(self, x):
        x = self._input(x)
        ### BEGIN SOLUTION (G01) call F.leaky_relu_forward(x, self.alpha); keep its cache in self._cache; out has x's shape
        out, self._cache = F.leaky_relu_forward(x, self.alpha)
        ### END SOLUTION
        return out

    def backward(self, dout):
        cache = self._saved()
        ### BEGIN SOLUTION (G01) dx = F.leaky_relu_backward of dout with the saved cache; shape of the input
        dx = F.leaky_relu_backward(dout, cache)
        ### END SOLUTION
        return dx


class Sigmoid(Layer):
    """Logistic function ``1 / (1 + exp(-x))``."""

    def forward(self, x):
        x = self._input(x)
        ### BEGIN SOLUTION (G01) call F.sigmoid_forward(x); keep its cache (the output) in self._cache; out has x's shape
        out, self._cache = F.sigmoid_forward(x)
        ### END SOLUTION
        return out

    def backward(self, dout):
        cache = self._saved()
        ### BEGIN SOLUTION (G01) dx = F.sigmoid_backward of dout with the saved cache; shape of the input
        dx = F.sigmoid_backward(dout, cache)
        ### END SOLUTION
        return dx


class Tanh(Layer):
    """Hyperbolic tangent."""

    def forward(self, x):
        x = self._input(x)
        ### BEGIN SOLUTION (G01) call F.tanh_forward(x); keep its cache (the output) in self._cache; out has x's shape
        out, self._cache = F.tanh_forward(x)
        ### END SOLUTION
        return out

    def backward(self, dout):
        cache = self._saved()
        ### BEGIN SOLUTION (G01) dx = F.tanh_backward of dout with the saved cache; shape of the input
        dx = F.tanh_backward(dout, cache)
        ### END SOLUTION
        return dx
