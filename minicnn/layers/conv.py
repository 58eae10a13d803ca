"""2-D convolution layer (exercise G03)."""

import numpy as np

from minicnn import functional as F
from minicnn.functional._checks import check_nchw, check_positive_int, window_output_size
from minicnn.init import as_rng, he_normal

from .base import Layer


class Conv2D(Layer):
    """Convolution of NCHW images with ``out_channels`` filters of ``kernel_size x kernel_size`` px.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int
        Filter side (px).
    stride : int
        Step between windows (px).
    padding : int
        Zeros added on each side (px); ``padding = kernel_size // 2`` keeps H and W for stride 1.
    rng : numpy.random.Generator or int, optional
        Draws the He-normal initial weights (biases start at 0).

    Attributes
    ----------
    params : {"W": (out_channels, in_channels, k, k), "b": (out_channels,)}
    input_grad : bool
        When False, :meth:`backward` skips the input gradient and returns None (saves time in
        the first layer of a network, whose input gradient nobody uses).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, rng=None):
        super().__init__()
        who = "Conv2D"
        self.in_channels = check_positive_int(in_channels, "in_channels", who)
        self.out_channels = check_positive_int(out_channels, "out_channels", who)
        self.kernel_size = check_positive_int(kernel_size, "kernel_size", who)
        self.stride = check_positive_int(stride, "stride", who)
        self.padding = check_positive_int(padding, "padding", who, minimum=0)
        self.input_grad = True
        k = self.kernel_size
        self.params["W"] = he_normal((self.out_channels, self.in_channels, k, k), as_rng(rng))
        self.params["b"] = np.zeros(self.out_channels, dtype=np.float32)
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def describe(self):
        extra = ""
        if self.stride != 1:
            extra += f", s={self.stride}"
        if self.padding:
            extra += f", p={self.padding}"
        return f"Conv2D({self.in_channels}->{self.out_channels}, k={self.kernel_size}{extra})"

    def _config_args(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding}

    def _spatial(self, h, w, shape):
        expected = ("N", self.in_channels, "H", "W")
        who = self.describe()
        oh = window_output_size(h, self.kernel_size, self.stride, self.padding, who, "H", shape, expected)
        ow = window_output_size(w, self.kernel_size, self.stride, self.padding, who, "W", shape, expected)
        return oh, ow

    def _check(self, x):
        check_nchw(x, self.describe(), channels=self.in_channels)
        self._spatial(x.shape[2], x.shape[3], x.shape)

    def output_shape(self, input_shape):
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != 3 or shape[0] != self.in_channels:
            raise ValueError(f"{self.describe()}: expected input of shape (N, {self.in_channels}, H, W), "
                             f"got (N, {', '.join(map(str, shape))})")
        oh, ow = self._spatial(shape[1], shape[2], ("N",) + shape)
        return (self.out_channels, oh, ow)

    def forward(self, x):
        """Convolve a batch.

        Parameters
        ----------
        x : ndarray of shape (N, in_channels, H, W)

        Returns
        -------
        ndarray of shape (N, out_channels, OH, OW)
        """
        x = self._input(x)
        W, b = self.params["W"], self.params["b"]
        ### BEGIN SOLUTION (G03) call F.conv2d_forward with this layer's W, b, stride, padding and workspace; keep its cache in self._cache; return out (N, F, OH, OW)
        out, self._cache = F.conv2d_forward(x, W, b, self.stride, self.padding, workspace=self._workspace)
        ### END SOLUTION
        return out

    def backward(self, dout):
        """Fill ``grads["W"]``, ``grads["b"]`` and return the input gradient (N, in_channels, H, W).

        Returns None when :attr:`input_grad` is False.
        """
        cache = self._saved()
        ### BEGIN SOLUTION (G03) dx, dW, db from F.conv2d_backward(dout, cache, need_dx=self.input_grad) (need_dx False: dx is None, the first layer skips that work); write dW, db into self.grads in place; return dx
        dx, dW, db = F.conv2d_backward(dout, cache, need_dx=self.input_grad)
        self.grads["W"][...] = dW
        self.grads["b"][...] = db
        ### END SOLUTION
        return dx
