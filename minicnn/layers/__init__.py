"""Layers of minicnn: stateful wrappers around the functional operations.

Each layer has ``forward(x)``, ``backward(dout) -> dx``, ``params`` and ``grads`` dicts (gradients
written in place), ``train()``/``eval()``, ``config()`` and ``output_shape(input_shape)``.
The convolution and pooling layers call the fast kernels.
"""

from .activations import LeakyReLU, ReLU, Sigmoid, Tanh
from .base import Layer
from .batchnorm import BatchNorm1D, BatchNorm2D
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout
from .flatten import Flatten
from .pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D

__all__ = [
    "Layer", "Conv2D", "Dense", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "ReLU", "LeakyReLU",
    "Sigmoid", "Tanh", "Flatten", "Dropout", "BatchNorm1D", "BatchNorm2D",
]
