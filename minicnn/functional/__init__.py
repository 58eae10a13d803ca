"""Functional operations of minicnn: ``<op>_forward(x, ...) -> (out, cache)``, ``<op>_backward(dout, cache)``.

Layout NCHW; float32 by default, float64 accepted everywhere (outputs keep the input's dtype).
``<op>_backward`` returns ``dx`` followed by the parameter gradients, e.g.
``conv2d_backward(dout, cache) -> (dx, dw, db)``.

conv2d, max_pool2d and avg_pool2d exist as ``*_naive`` (readable loops, the oracle) and
``*_fast`` (Numba kernels and BLAS matrix products); the unsuffixed names are the fast ones.
"""

from ._buffers import Workspace
from .activations import (
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from .batchnorm import batch_norm_backward, batch_norm_forward
from .conv_fast import col2im, conv2d_backward_fast, conv2d_forward_fast, im2col
from .conv_naive import conv2d_backward_naive, conv2d_forward_naive
from .dense import dense_backward, dense_forward
from .dropout import dropout_backward, dropout_forward
from .flatten import flatten_backward, flatten_forward
from .fused import conv2d_relu_pool_backward, conv2d_relu_pool_forward
from .global_pool import global_avg_pool2d_backward, global_avg_pool2d_forward
from .pooling_fast import (
    avg_pool2d_backward_fast,
    avg_pool2d_forward_fast,
    max_pool2d_backward_fast,
    max_pool2d_forward_fast,
)
from .pooling_naive import (
    avg_pool2d_backward_naive,
    avg_pool2d_forward_naive,
    max_pool2d_backward_naive,
    max_pool2d_forward_naive,
)

conv2d_forward = conv2d_forward_fast
conv2d_backward = conv2d_backward_fast
max_pool2d_forward = max_pool2d_forward_fast
max_pool2d_backward = max_pool2d_backward_fast
avg_pool2d_forward = avg_pool2d_forward_fast
avg_pool2d_backward = avg_pool2d_backward_fast

__all__ = [
    "Workspace",
    "dense_forward", "dense_backward",
    "relu_forward", "relu_backward",
    "leaky_relu_forward", "leaky_relu_backward",
    "sigmoid_forward", "sigmoid_backward",
    "tanh_forward", "tanh_backward",
    "conv2d_forward", "conv2d_backward",
    "conv2d_forward_naive", "conv2d_backward_naive",
    "conv2d_forward_fast", "conv2d_backward_fast",
    "im2col", "col2im",
    "conv2d_relu_pool_forward", "conv2d_relu_pool_backward",
    "max_pool2d_forward", "max_pool2d_backward",
    "max_pool2d_forward_naive", "max_pool2d_backward_naive",
    "max_pool2d_forward_fast", "max_pool2d_backward_fast",
    "avg_pool2d_forward", "avg_pool2d_backward",
    "avg_pool2d_forward_naive", "avg_pool2d_backward_naive",
    "avg_pool2d_forward_fast", "avg_pool2d_backward_fast",
    "global_avg_pool2d_forward", "global_avg_pool2d_backward",
    "dropout_forward", "dropout_backward",
    "batch_norm_forward", "batch_norm_backward",
    "flatten_forward", "flatten_backward",
]
