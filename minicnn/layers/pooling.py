"""Pooling layers: MaxPool2D, AvgPool2D and GlobalAvgPool2D (exercise G04)."""

from minicnn import functional as F
from minicnn.functional._checks import check_nchw, check_positive_int, window_output_size

from .base import Layer


class _Pool2D(Layer):
    def __init__(self, kernel_size=2, stride=None):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = check_positive_int(kernel_size, "kernel_size", name)
        self.stride = self.kernel_size if stride is None else check_positive_int(stride, "stride", name)

    def describe(self):
        return f"{type(self).__name__}(k={self.kernel_size}, s={self.stride})"

    def _config_args(self):
        return {"kernel_size": self.kernel_size, "stride": self.stride}

    def _spatial(self, h, w, shape):
        expected = ("N", "C", "H", "W")
        who = self.describe()
        oh = window_output_size(h, self.kernel_size, self.stride, 0, who, "H", shape, expected)
        ow = window_output_size(w, self.kernel_size, self.stride, 0, who, "W", shape, expected)
        return oh, ow

    def _check(self, x):
        check_nchw(x, self.describe())
        self._spatial(x.shape[2], x.shape[3], x.shape)

    def output_shape(self, input_shape):
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != 3:
            raise ValueError(f"{self.describe()}: expected input of shape (N, C, H, W), "
                             f"got (N, {', '.join(map(str, shape))})")
        oh, ow = self._spatial(shape[1], shape[2], ("N",) + shape)
        return (shape[0], oh, ow)


class MaxPool2D(_Pool2D):
    """Maximum over ``kernel_size x kernel_size`` windows moved by `stride` px (default `kernel_size`).

    Input (N, C, H, W) -> output (N, C, (H - k) // s + 1, (W - k) // s + 1).
    """

    def forward(self, x):
        x = self._input(x)
        ### BEGIN SOLUTION (G04) call the functional max pooling (F.max_pool2d_forward with this layer's kernel, stride and workspace); keep its cache in self._cache; return out (N, C, OH, OW)
        out, self._cache = F.max_pool2d_forward(x, self.kernel_size, self.stride, workspace=self._workspace)
        ### END SOLUTION
        return out

    def backward(self, dout):
        cache = self._saved()
        ### BEGIN SOLUTION (G04) dx (N, C, H, W) from dout (N, C, OH, OW) with F.max_pool2d_backward and the cache saved by forward (cache = self._saved())
        dx = F.max_pool2d_backward(dout, cache)
        ### END SOLUTION
        return dx


class AvgPool2D(_Pool2D):
    """Mean over ``kernel_size x kernel_size`` windows moved by `stride` px (default `kernel_size`)."""

    def forward(self, x):
        x = self._input(x)
        ### BEGIN SOLUTION (G04) call the functional average pooling (F.avg_pool2d_forward with this layer's kernel, stride and workspace); keep its cache in self._cache; return out (N, C, OH, OW)
        out, self._cache = F.avg_pool2d_forward(x, self.kernel_size, self.stride, workspace=self._workspace)
        ### END SOLUTION
        return out

    def backward(self, dout):
        cache = self._saved()
        ### BEGIN SOLUTION (G04) dx (N, C, H, W) from dout (N, C, OH, OW) with F.avg_pool2d_backward and the cache saved by forward
        dx = F.avg_pool2d_backward(dout, cache)
        ### END SOLUTION
        return dx


class GlobalAvgPool2D(Layer):
    """Mean of every channel over all pixels: (N, C, H, W) -> (N, C)."""

    def _check(self, x):
        check_nchw(x, self.describe())

    def output_shape(self, input_shape):
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != 3:
            raise ValueError(f"{self.describe()}: expected input of shape (N, C, H, W), "
                             f"got (N, {', '.join(map(str, shape))})")
        return (shape[0],)

    def forward(self, x):
        x = self._input(x)
        ### BEGIN SOLUTION (G04) call F.global_avg_pool2d_forward(x); keep its cache in self._cache; (N, C, H, W) -> (N, C)
        out, self._cache = F.global_avg_pool2d_forward(x)
        ### END SOLUTION
        return out

    def backward(self, dout):
        cache = self._saved()
        ### BEGIN SOLUTION (G04) dx = F.global_avg_pool2d_backward of dout (N, C) with the saved cache -> (N, C, H, W)
        dx = F.global_avg_pool2d_backward(dout, cache)
        ### END SOLUTION
        return dx
