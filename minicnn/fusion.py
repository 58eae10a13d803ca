"""Runs of layers that :class:`minicnn.Sequential` executes as one fused operation.

``Conv2D -> ReLU -> MaxPool2D(2)`` and ``Conv2D -> ReLU`` are computed by
:mod:`minicnn.functional.fused` in one pass over the batch, task by task in the CPU cache, instead
of three (or two) passes that each write their whole output to memory. The model keeps its layers:
``model.layers``, the parameters, saving and loading are unchanged, and the gradients land in the
convolution's ``grads`` as before. Only the intermediate outputs (the convolution's and the ReLU's)
are never materialised, so between a fused forward and backward the three layers hold no cache of
their own.

A run is fused only when all of this holds:

- the model's ``fuse`` attribute is True (the default; ``model.fuse = False`` runs every layer's own
  ``forward`` and ``backward``);
- the layers are exactly minicnn's ``Conv2D``, ``ReLU`` and ``MaxPool2D`` (no subclass, no method
  replaced on the layer, e.g. by a profiler that wraps ``layer.forward``), and the pooling has
  kernel 2 and stride 2;
- the layers' code is the solution edition's. In a student edition these layers are what the
  student writes (exercises G01, G03 and G04): a network must run the student's code, so it is never
  fused there (the student's ``Sequential`` runs layer by layer, as they wrote it).
"""

from __future__ import annotations

import functools
import inspect

from minicnn import functional as F
from minicnn.layers import Conv2D, MaxPool2D, ReLU

__all__ = ["FusedConvBlock", "plan"]

#: (class, method) pairs whose code must be the solution edition's for a run to be fused.
_REFERENCE_METHODS = (
    (Conv2D, "forward"), (Conv2D, "backward"),
    (ReLU, "forward"), (ReLU, "backward"),
    (MaxPool2D, "forward"), (MaxPool2D, "backward"),
)


@functools.lru_cache(maxsize=1)
def solution_edition() -> bool:
    """True when the fused layers' methods carry the solution markers (the instructor's edition).

    The release tool replaces every solution region, markers included, by a stub: a student edition
    has none left, so its layers are never fused, whether the student has written them or not.
    """
    from minicnn.teaching.regions import ANY_MARKER_RE

    try:
        return all(ANY_MARKER_RE.search(inspect.getsource(getattr(cls, name)))
                   for cls, name in _REFERENCE_METHODS)
    except (OSError, TypeError):  # no source (a frozen install): run layer by layer
        return False


def _plain(layer, cls) -> bool:
    """`layer` is exactly a `cls` whose forward and backward are the class's own."""
    return type(layer) is cls and "forward" not in vars(layer) and "backward" not in vars(layer)


def _run_at(layers, i):
    """Length of the fusable run starting at layer `i`: 3 (conv, ReLU, 2x2 pool), 2 (conv, ReLU) or 0."""
    if not (i + 1 < len(layers) and _plain(layers[i], Conv2D) and _plain(layers[i + 1], ReLU)):
        return 0
    nxt = layers[i + 2] if i + 2 < len(layers) else None
    if nxt is not None and _plain(nxt, MaxPool2D) and nxt.kernel_size == 2 and nxt.stride == 2:
        return 3
    return 2


class FusedConvBlock:
    """``Conv2D -> ReLU [-> MaxPool2D(2)]`` of a model, run by :mod:`minicnn.functional.fused`.

    Parameters
    ----------
    layers : list
        The two or three layers, in order (they stay the model's; this object only runs them).
    """

    def __init__(self, layers):
        self.layers = list(layers)
        self.conv = self.layers[0]
        self.pool = len(self.layers) == 3
        self._cache = None

    def forward(self, x):
        """Output of the last layer of the run for the batch `x` (N, C, H, W)."""
        conv, last = self.conv, self.layers[-1]
        x = conv._input(x)  # errors name the convolution layer
        for layer in self.layers:
            layer._cache = None  # the layers' own caches would be stale
        out, self._cache = F.conv2d_relu_pool_forward(
            x, conv.params["W"], conv.params["b"], conv.stride, conv.padding, pool=self.pool,
            workspace=conv._workspace, out_workspace=last._workspace)
        return out

    def backward(self, dout):
        """Input gradient of the run (None when the convolution's ``input_grad`` is False); fills its grads."""
        if self._cache is None:
            raise ValueError(f"{self.describe()}: backward called before forward")
        conv = self.conv
        dx, dw, db = F.conv2d_relu_pool_backward(dout, self._cache, need_dx=conv.input_grad,
                                                  dx_workspace=conv._workspace)
        conv.grads["W"][...] = dw
        conv.grads["b"][...] = db
        return dx

    def describe(self):
        return " -> ".join(layer.describe() for layer in self.layers)


def plan(layers, fuse=True):
    """How a list of layers runs: a list of ``(first index, last index, runner)``.

    `runner` is the layer itself (``first == last``) or a :class:`FusedConvBlock` for a fusable run
    (see the module docstring for when a run is fused).
    """
    steps = []
    fuse = fuse and solution_edition()
    i = 0
    while i < len(layers):
        n = _run_at(layers, i) if fuse else 0
        if n:
            steps.append((i, i + n - 1, FusedConvBlock(layers[i:i + n])))
            i += n
        else:
            steps.append((i, i, layers[i]))
            i += 1
    return steps
