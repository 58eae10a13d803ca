"""The layer base class: a stateful wrapper around a pair of functional operations.

A layer keeps its parameters in ``params`` and their gradients in ``grads`` (same keys, same
shapes). ``backward`` writes the gradients IN PLACE (``self.grads["W"][...] = dW``), so an
optimizer can hold references to these arrays for the whole training run. Only
:meth:`Layer.astype` replaces the arrays (call it before creating the optimizer).
"""

import numpy as np

from minicnn.functional._buffers import Workspace
from minicnn.functional._checks import as_float


class Layer:
    """Base class of every minicnn layer.

    Attributes
    ----------
    params : dict of str -> ndarray
        Trained parameters.
    grads : dict of str -> ndarray
        Gradients of the loss with respect to ``params``, filled by :meth:`backward`.
    buffers : dict of str -> ndarray
        Non-trained state saved with the model (BatchNorm running statistics).
    training : bool
        True in training mode (the default), False after :meth:`eval`.
    reuse_outputs : bool
        False (default): every call returns new output and input-gradient arrays, which the caller
        may keep. True: the layer writes them into its own arrays, which its next call overwrites;
        :class:`minicnn.Sequential` sets this for the layers inside a network, whose outputs only
        the next layer reads. The layer's work arrays (a :class:`~minicnn.functional.Workspace`)
        live as long as the layer.
    """

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.buffers = {}
        self.training = True
        self._cache = None
        self._workspace = Workspace()

    # ------------------------------------------------------------------ to override
    def forward(self, x):
        """Output for the batch `x` (and remember what backward needs)."""
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dout):
        """Gradient with respect to the input of the last forward call; fills ``grads``."""
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def output_shape(self, input_shape):
        """Shape of one output sample for one input sample of shape `input_shape` (no batch dim)."""
        return tuple(int(s) for s in input_shape)

    def _config_args(self):
        return {}

    def describe(self):
        """Short name used in error messages, e.g. ``Dropout(p=0.5)``: the class and its constructor arguments."""
        args = ", ".join(f"{k}={v}" for k, v in self._config_args().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ common
    @property
    def reuse_outputs(self):
        return self._workspace.reuse_outputs

    @reuse_outputs.setter
    def reuse_outputs(self, value):
        self._workspace.reuse_outputs = bool(value)

    def owns(self, arr):
        """True when `arr` may share memory with one of this layer's own arrays (see :attr:`reuse_outputs`)."""
        return self._workspace.owns(arr)

    def __call__(self, x):
        return self.forward(x)

    def train(self):
        """Switch to training mode. Returns self."""
        self.training = True
        return self

    def eval(self):
        """Switch to evaluation mode. Returns self."""
        self.training = False
        return self

    def config(self):
        """Constructor arguments as a JSON-able dict with the class name under ``"type"``."""
        return {"type": type(self).__name__, **self._config_args()}

    def astype(self, dtype):
        """Cast parameters, gradients and buffers to `dtype`. Returns self.

        Arrays of another dtype are replaced by new arrays, so an optimizer built before the cast would
        keep updating the old ones: cast first, then build the optimizer. Arrays already of `dtype` are
        kept as they are.
        """
        dtype = np.dtype(dtype)
        for name in list(self.params):
            if self.params[name].dtype != dtype:
                self.params[name] = self.params[name].astype(dtype)
                self.grads[name] = np.zeros_like(self.params[name])
        for name in list(self.buffers):
            if self.buffers[name].dtype != dtype:
                self.buffers[name] = self.buffers[name].astype(dtype)
        self._workspace.clear()
        return self

    def zero_grad(self):
        """Set every gradient to zero (in place)."""
        for g in self.grads.values():
            g[...] = 0

    def num_parameters(self):
        """Number of trained scalars."""
        return int(sum(p.size for p in self.params.values()))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._config_args().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ helpers
    def _input(self, x):
        """`x` as a float array (float32 unless already float32/float64), checked by :meth:`_check`."""
        x = as_float(x, self.describe())
        self._check(x)
        return x

    def _check(self, x):
        """Raise ValueError naming this layer when `x` has the wrong shape."""
        if x.ndim < 1:
            raise ValueError(f"{self.describe()}: expected input of shape (N, ...), got {x.shape}")

    def _saved(self):
        if self._cache is None:
            raise ValueError(f"{self.describe()}: backward called before forward")
        return self._cache

    def _check_dout(self, dout, shape):
        dout = np.asarray(dout)
        if dout.shape != tuple(shape):
            raise ValueError(f"{self.describe()}: expected dout of shape {tuple(shape)}, got {dout.shape}")
        return dout
