"""Sequential: a network that is a list of layers applied one after the other.

``Sequential(Conv2D(1, 8, 3, padding=1), ReLU(), Flatten(), Dense(8 * 8 * 8, 10))`` runs each layer's
``forward`` in order and each ``backward`` in reverse order. It also gathers the parameters for an optimizer,
prints a summary, and saves to / loads from a ``.npz`` file without pickle:

- ``"__architecture__"``: the model's :meth:`Sequential.config` as a JSON string,
- ``"__metadata__"``: a JSON string of whatever the caller passed to ``save`` (classes, normalisation, ...),
- ``"<i>/<name>"``: parameter ``name`` of layer ``i`` (``"0/W"``, ``"0/b"``, ...),
- ``"<i>/buffer/<name>"``: non-trained state of layer ``i`` (BatchNorm running mean and variance).
"""

from __future__ import annotations

import functools
import json
import types
from pathlib import Path

import numpy as np

from minicnn.io import save_npz

__all__ = ["Sequential"]

FORMAT_VERSION = 1
_ARCH_KEY = "__architecture__"
_META_KEY = "__metadata__"
_FORMAT_KEY = "__format__"


def _json_array(obj) -> np.ndarray:
    return np.array(json.dumps(obj, sort_keys=True))


def _layer_buffers(layer) -> dict[str, np.ndarray]:
    """Non-trained arrays a layer keeps between calls (BatchNorm running statistics)."""
    buffers = getattr(layer, "buffers", None)
    return buffers if isinstance(buffers, dict) else {}


def _reuse_outputs(layer, reuse: bool) -> None:
    """Tell a minicnn layer whether it may write its outputs into its own arrays (others are left alone)."""
    if hasattr(layer, "reuse_outputs"):
        layer.reuse_outputs = reuse


def _describe(cfg: dict) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in cfg.items() if k != "type")
    return f"{cfg.get('type', '?')}({args})"


def _short_name(layer) -> str:
    """``layer.describe()`` (e.g. ``Conv2D(3->16, k=3, p=1)``) when the layer has it, else its config."""
    if callable(getattr(layer, "describe", None)):
        return str(layer.describe())
    return _describe(layer.config() if callable(getattr(layer, "config", None)) else {"type": type(layer).__name__})


def _open_model_file(path):
    from minicnn.npz_files import open_npz

    path = Path(path)
    data = open_npz(path, "minicnn model file")
    if not hasattr(data, "files") or _ARCH_KEY not in data.files:
        raise ValueError(f"{path}: not a minicnn model file (no '{_ARCH_KEY}' entry); "
                         f"was it written by Sequential.save or Trainer.save_checkpoint?")
    return data


class _class_only_method:
    """Like ``classmethod``, but calling the method on an instance raises a ``TypeError`` that says what to do.

    ``Sequential.load(path)`` returns a new model. Written on an instance, ``model.load(path)`` would also
    return a new model and leave ``model`` as it was, a silent mistake; this descriptor turns it into an
    error that points to ``model.load_weights(path)`` (load into this model) and ``Sequential.load(path)``.
    """

    def __init__(self, func):
        self.func = func
        functools.update_wrapper(self, func)

    def __get__(self, instance, owner=None):
        owner = type(instance) if owner is None else owner
        if instance is None:
            return types.MethodType(self.func, owner)
        name, cls = self.func.__name__, owner.__name__

        @functools.wraps(self.func)
        def called_on_an_instance(*args, **kwargs):
            raise TypeError(
                f"{cls}.{name} is called on the class, not on a model: model.{name}(path) would return a NEW "
                f"model and leave this one unchanged. To load the weights into this model, write "
                f"model.load_weights(path); to get the model stored in a file, write model = {cls}.{name}(path)."
            )

        return called_on_an_instance


class Sequential:
    """Layers applied in order.

    Parameters
    ----------
    *layers : minicnn.layers.Layer
        Each with ``forward(x)``, ``backward(dout)``, ``params``/``grads`` dicts, ``train()``/``eval()``,
        ``config()`` and ``output_shape(input_shape)``.

    Attributes
    ----------
    layers : list
    training : bool
        True after :meth:`train` (the default), False after :meth:`eval`.
    fuse : bool
        True (default): runs of ``Conv2D -> ReLU [-> MaxPool2D(2)]`` run as one fused operation, with the
        same results (see :mod:`minicnn.fusion`; never in a student edition). False: every layer's own
        ``forward`` and ``backward``.
    metadata : dict
        Filled by :meth:`load` and :meth:`load_weights` from the file (empty for a new model).

    Examples
    --------
    >>> from minicnn.layers import Dense, ReLU
    >>> model = Sequential(Dense(2, 16, rng=0), ReLU(), Dense(16, 3, rng=1))
    >>> scores = model.forward(np.zeros((5, 2), dtype=np.float32))   # shape (5, 3)

    Saving, then loading: ``Sequential.load`` (on the class) builds a new model from a file;
    ``load_weights`` (on a model) fills the model you have, in place.

    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = model.save(Path(folder) / "model.npz", metadata={"classes": ["a", "b", "c"]})
    ...     copy = Sequential.load(path)                              # a new model, with the metadata
    ...     other = Sequential(Dense(2, 16, rng=5), ReLU(), Dense(16, 3, rng=6)).load_weights(path)
    >>> copy.metadata["classes"], bool(np.array_equal(other[0].params["W"], model[0].params["W"]))
    (['a', 'b', 'c'], True)
    >>> model.load(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: Sequential.load is called on the class, not on a model: ...
    """

    def __init__(self, *layers):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if isinstance(layer, type):
                raise ValueError(f"Sequential: layer {i} is the class {layer.__name__}, not a layer; "
                                 f"create one with {layer.__name__}(...)")
            for attr in ("forward", "backward"):
                if not callable(getattr(layer, attr, None)):
                    raise ValueError(f"Sequential: layer {i} ({type(layer).__name__}) has no {attr}() method; "
                                     f"expected a minicnn.layers.Layer")
        self.layers = list(layers)
        self.training = True
        self.metadata: dict = {}
        self.fuse = True
        self._steps = None  # how the last forward ran (minicnn.fusion.plan); backward follows it

    # ------------------------------------------------------------------ running
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Run every layer's forward pass in order. ``x``: (N, ...) -> raw outputs (N, ...).

        The layers inside the network write their outputs into their own arrays (``reuse_outputs``),
        which only the next layer reads; the array returned here is never one of them, so the caller
        may keep it across calls.
        """
        from minicnn.fusion import plan  # imported here: it imports the layers

        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            _reuse_outputs(layer, i < last)
        self._steps = plan(self.layers, self.fuse)
        for _, _, runner in self._steps:
            x = runner.forward(x)
        return self._caller_owned(x)

    __call__ = forward

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Run every layer's backward pass in reverse order; fills each layer's ``grads``.

        Returns the gradient with respect to the input of the first layer (an array the caller may keep).
        """
        for i, layer in enumerate(self.layers):
            _reuse_outputs(layer, i > 0)
        steps = self._steps if self._steps is not None else [(i, i, layer) for i, layer in enumerate(self.layers)]
        for _, _, runner in reversed(steps):
            dout = runner.backward(dout)
        return self._caller_owned(dout)

    def _caller_owned(self, arr):
        """`arr`, or a copy when it is (a view of) a layer's own reused array (e.g. behind a Flatten)."""
        if isinstance(arr, np.ndarray) and any(callable(getattr(layer, "owns", None)) and layer.owns(arr)
                                               for layer in self.layers):
            return arr.copy()
        return arr

    def train(self) -> Sequential:
        """Training mode (dropout active, BatchNorm uses batch statistics). Returns self."""
        for layer in self.layers:
            layer.train()
        self.training = True
        return self

    def eval(self) -> Sequential:
        """Evaluation mode (dropout off, BatchNorm uses running statistics). Returns self."""
        for layer in self.layers:
            layer.eval()
        self.training = False
        return self

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Raw outputs for ``x`` in evaluation mode, ``batch_size`` samples at a time.

        The previous mode (train or eval) is restored afterwards.

        Parameters
        ----------
        x : ndarray of shape (N, ...)
        batch_size : int

        Returns
        -------
        ndarray of shape (N, ...)
            Scores / logits (no softmax or sigmoid applied).
        """
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"Sequential.predict: batch_size must be a positive integer, got {batch_size}")
        x = np.asarray(x)
        if x.ndim < 1 or len(x) == 0:
            raise ValueError(f"Sequential.predict: expected a non-empty batch (N, ...), got shape {x.shape}")
        model_training = self.training
        was_training = [getattr(layer, "training", self.training) for layer in self.layers]
        self.eval()
        try:
            outs = [np.array(self.forward(x[i:i + batch_size]), copy=True) for i in range(0, len(x), batch_size)]
        finally:
            for layer, mode in zip(self.layers, was_training, strict=True):
                layer.train() if mode else layer.eval()
            self.training = model_training
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    # --------------------------------------------------------------- parameters
    def parameters(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(param, grad)`` array pairs of every layer, in layer order; what optimizers take."""
        return [(p, g) for _, p, g in self.named_parameters()]

    def named_parameters(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """``(name, param, grad)`` triples; ``name`` is ``"<layer index>/<param name>"``, e.g. ``"0/W"``."""
        out = []
        for i, layer in enumerate(self.layers):
            params = getattr(layer, "params", {}) or {}
            grads = getattr(layer, "grads", {}) or {}
            for key, p in params.items():
                if key not in grads:
                    raise ValueError(f"Sequential: layer {i} ({type(layer).__name__}) has a parameter '{key}' "
                                     f"without a gradient in its grads dict")
                out.append((f"{i}/{key}", p, grads[key]))
        return out

    def num_parameters(self) -> int:
        """Number of trained scalars."""
        return int(sum(p.size for _, p, _ in self.named_parameters()))

    def astype(self, dtype) -> Sequential:
        """Cast every layer's parameters (and gradients, buffers) to ``dtype``. Returns self.

        Parameters of another dtype become new arrays: build the optimizer on ``parameters()`` after the
        cast (one built before keeps updating the old arrays).
        """
        for layer in self.layers:
            if hasattr(layer, "astype"):
                layer.astype(dtype)
        return self

    @property
    def dtype(self):
        """dtype of the first parameter (float32 unless cast), or None without parameters."""
        named = self.named_parameters()
        return named[0][1].dtype if named else None

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of all parameters and buffers: ``"<i>/<name>"`` and ``"<i>/buffer/<name>"``."""
        d = {name: p.copy() for name, p, _ in self.named_parameters()}
        for i, layer in enumerate(self.layers):
            for key, b in _layer_buffers(layer).items():
                d[f"{i}/buffer/{key}"] = np.array(b, copy=True)
        return d

    def load_state_dict(self, d: dict, source: str = "state dict") -> None:
        """Copy arrays from :meth:`state_dict` into this model's parameters and buffers, in place.

        The model's arrays stay the same objects (an optimizer built on :meth:`parameters` keeps working)
        and keep their dtype: values of another float dtype are cast (float64 -> float32 rounds). Every
        entry is checked before anything is copied, so on error the model is unchanged.

        Parameters
        ----------
        d : dict of str -> ndarray
            ``"<i>/<name>"`` and ``"<i>/buffer/<name>"`` entries, as :meth:`state_dict` returns them.
        source : str
            What ``d`` came from (a file name), used in error messages.

        Raises
        ------
        ValueError
            Naming the entry and its layer, when one is missing, has another shape, or has a dtype that
            cannot be cast to the model's (complex into float, for instance).
        """
        targets = {name: p for name, p, _ in self.named_parameters()}
        for i, layer in enumerate(self.layers):
            for key, b in _layer_buffers(layer).items():
                targets[f"{i}/buffer/{key}"] = b
        sources = {}
        for name, target in targets.items():
            layer_index = int(name.split("/")[0])
            where = f"entry '{name}' (layer {layer_index}, {type(self.layers[layer_index]).__name__})"
            if name not in d:
                raise ValueError(f"{source}: no {where}")
            src = np.asarray(d[name])
            if src.shape != target.shape:
                raise ValueError(f"{source}: {where} has shape {src.shape}, the model expects {target.shape}")
            if not np.can_cast(src.dtype, target.dtype, casting="same_kind"):
                raise ValueError(f"{source}: {where} has dtype {src.dtype}, which cannot be cast to the "
                                 f"model's {target.dtype}")
            sources[name] = src
        for name, target in targets.items():
            np.copyto(target, sources[name], casting="same_kind")

    # ------------------------------------------------------------------ summary
    def summary(self, input_shape) -> str:
        """A table of the layers with their output shapes and parameter counts.

        Parameters
        ----------
        input_shape : tuple of int
            Shape of ONE sample, without the batch dimension, e.g. ``(3, 96, 96)``.

        Returns
        -------
        str
        """
        shape = tuple(int(s) for s in input_shape)
        rows = [("#", "layer", "output shape", "params")]
        rows.append(("", "input", str(shape), ""))
        total = 0
        for i, layer in enumerate(self.layers):
            try:
                shape = tuple(layer.output_shape(shape))
            except ValueError as e:
                raise ValueError(f"Sequential.summary: layer {i} ({type(layer).__name__}) cannot take input of "
                                 f"shape {shape}: {e}") from None
            n = int(sum(p.size for p in (getattr(layer, "params", {}) or {}).values()))
            total += n
            rows.append((str(i), _short_name(layer), str(shape), f"{n:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        lines = []
        for j, r in enumerate(rows):
            lines.append(f"{r[0]:>{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>{widths[3]}}")
            if j == 0:
                lines.append("-" * len(lines[0]))
        lines.append("-" * len(lines[0]))
        lines.append(f"total trainable parameters: {total:,}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        inner = ",\n".join("  " + _short_name(layer) for layer in self.layers)
        return f"Sequential(\n{inner}\n)" if inner else "Sequential()"

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    # --------------------------------------------------------------- config / io
    def config(self) -> dict:
        """The architecture as a JSON-able dict: ``{"type": "Sequential", "layers": [layer.config(), ...]}``."""
        layers = []
        for i, layer in enumerate(self.layers):
            if not callable(getattr(layer, "config", None)):
                raise ValueError(f"Sequential.config: layer {i} ({type(layer).__name__}) has no config() method")
            layers.append(dict(layer.config()))
        return {"type": "Sequential", "layers": layers}

    @classmethod
    def from_config(cls, cfg: dict, rng=None) -> Sequential:
        """Build a model (with fresh random weights) from :meth:`config`.

        Parameters
        ----------
        cfg : dict
            ``{"type": "Sequential", "layers": [{"type": "Conv2D", ...}, ...]}``.
        rng : numpy.random.Generator or int, optional
            Passed to the layers that take one (initial weights).
        """
        from minicnn import layers as layer_module  # imported here: layers import nothing from us

        if not isinstance(cfg, dict) or not isinstance(cfg.get("layers"), list):
            raise ValueError(f"Sequential.from_config: expected {{'type': 'Sequential', 'layers': [...]}}, "
                             f"got {str(cfg)[:80]}")
        rng = np.random.default_rng(rng)
        built = []
        for i, layer_cfg in enumerate(cfg["layers"]):
            kwargs = dict(layer_cfg)
            name = kwargs.pop("type", None)
            layer_cls = getattr(layer_module, str(name), None)
            if not (isinstance(layer_cls, type) and callable(getattr(layer_cls, "forward", None))):
                raise ValueError(f"Sequential.from_config: layer {i} has unknown type {name!r} "
                                 f"(expected a class of minicnn.layers)")
            if "rng" in _init_arguments(layer_cls) and "rng" not in kwargs:
                kwargs["rng"] = rng
            try:
                built.append(layer_cls(**kwargs))
            except TypeError as e:
                raise ValueError(f"Sequential.from_config: layer {i} ({name}) rejects its arguments "
                                 f"{kwargs}: {e}") from None
        return cls(*built)

    def save(self, path, metadata: dict | None = None) -> Path:
        """Save architecture, weights, buffers and ``metadata`` to the ``.npz`` file ``path`` (atomically).

        Parameters
        ----------
        path : str or Path
            Used as given (give it a ``.npz`` suffix).
        metadata : dict, optional
            JSON-able information to keep with the model (class names, input normalisation, ...);
            read back as ``model.metadata`` by :meth:`load`.
        """
        metadata = {} if metadata is None else dict(metadata)
        try:
            meta_json = _json_array(metadata)
        except TypeError as e:
            raise ValueError(f"Sequential.save: metadata must be JSON-serialisable: {e}") from None
        arrays = {_FORMAT_KEY: np.array(FORMAT_VERSION), _ARCH_KEY: _json_array(self.config()), _META_KEY: meta_json}
        arrays.update(self.state_dict())
        return save_npz(path, arrays)

    @_class_only_method
    def load(cls, path) -> Sequential:
        """Build the model stored in ``path`` (written by :meth:`save`) with its weights and metadata.

        Call it on the class: ``model = Sequential.load(path)``. It returns a new model, of the dtype of the
        weights in the file. To load weights into a model you already have (and keep the optimizer built on
        it), use :meth:`load_weights`; ``model.load(path)`` on a model raises a ``TypeError`` saying so.
        """
        from minicnn.npz_files import NPZ_READ_ERRORS, describe_npz_error

        with _open_model_file(path) as data:
            try:
                arch = json.loads(str(data[_ARCH_KEY]))
                _check_sizes_against_weights(arch, data, path)  # before any allocation
                model = cls.from_config(arch, rng=0)
                named = model.named_parameters()
                if named and named[0][0] in data.files:
                    file_dtype = data[named[0][0]].dtype
                    if np.issubdtype(file_dtype, np.floating):
                        model.astype(file_dtype)  # a new model: no optimizer holds its arrays yet
                model.load_state_dict(_weight_entries(data), source=str(path))
                model.metadata = json.loads(str(data[_META_KEY])) if _META_KEY in data.files else {}
            except ValueError:
                raise  # already names the file or the entry
            except NPZ_READ_ERRORS as exc:
                raise ValueError(f"{path}: damaged model file ({describe_npz_error(exc)})") from None
        return model

    def load_weights(self, path) -> Sequential:
        """Load the weights and buffers saved in ``path`` into this model, in place. Returns self.

        The parameter arrays stay the same objects, so an optimizer built on :meth:`parameters` before
        loading keeps training this model. The model keeps its dtype: weights saved in another float dtype
        are cast (float64 -> float32 rounds).

        Raises
        ------
        ValueError
            When the file's architecture differs from this model's, naming the first layer that differs,
            or when an entry has another shape, naming the file and the entry.
        """
        with _open_model_file(path) as data:
            arch = json.loads(str(data[_ARCH_KEY]))
            self.check_architecture(arch, source=str(path))
            self.load_state_dict(_weight_entries(data), source=str(path))
            if _META_KEY in data.files:
                self.metadata = json.loads(str(data[_META_KEY]))
        return self

    def check_architecture(self, cfg: dict, source: str = "config") -> None:
        """Raise ValueError naming the first difference between ``cfg`` and this model's :meth:`config`."""
        mine = self.config()["layers"]
        theirs = list(cfg.get("layers", []))
        for i, (a, b) in enumerate(zip(theirs, mine, strict=False)):
            if a != b:
                raise ValueError(f"{source}: architecture mismatch at layer {i}: the file has {_describe(a)}, "
                                 f"this model has {_describe(b)}")
        if len(theirs) != len(mine):
            raise ValueError(f"{source}: architecture mismatch: the file has {len(theirs)} layers, "
                             f"this model has {len(mine)}")


#: Layer arguments that set a weight array's size; their product (kernel_size squared) bounds the
#: number of weights the layer allocates from below.
_SIZE_ARGUMENTS = ("in_features", "out_features", "in_channels", "out_channels", "num_features")


def _check_sizes_against_weights(arch, data, path) -> None:
    """Refuse an architecture whose layers would allocate more weights than the file holds.

    A crafted or damaged ``__architecture__`` could ask for ``Dense(10**6, 10**5)`` and make
    :meth:`Sequential.load` allocate hundreds of GiB before finding that the file's weights do not
    fit. Here each layer's size arguments are multiplied out and compared with the number of
    weights stored for that layer (read from the file's index, without loading them).
    """
    if not isinstance(arch, dict) or not isinstance(arch.get("layers"), list):
        return  # from_config explains what is wrong
    stored: dict[int, int] = {}
    for name in data.files:
        head = name.split("/", 1)[0]
        if head.isdigit():
            stored[int(head)] = stored.get(int(head), 0) + _stored_size(data, name)
    for i, cfg in enumerate(arch["layers"]):
        if not isinstance(cfg, dict) or not any(k in cfg for k in _SIZE_ARGUMENTS):
            continue
        need = 1
        for k in (*_SIZE_ARGUMENTS, "kernel_size", "kernel_size"):
            v = cfg.get(k)
            if k in cfg and isinstance(v, int) and not isinstance(v, bool) and v > 0:
                need *= v
        if need > stored.get(i, 0):
            raise ValueError(f"{path}: layer {i} ({cfg.get('type')}) needs at least {need:,} weights but the file "
                             f"holds {stored.get(i, 0):,} for it; the architecture does not match the weights "
                             "(damaged or crafted file)")


def _stored_size(data, name: str) -> int:
    """Number of elements of entry ``name`` of an open ``.npz`` file, from its header only."""
    try:
        with data.zip.open(name + ".npy") as f:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, _ = read_header(f)
    except Exception:  # noqa: BLE001 - unreadable entry: counts as nothing stored
        return 0
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


def _weight_entries(data) -> dict[str, np.ndarray]:
    """The ``"<i>/..."`` arrays of an open model file (everything but the ``__...__`` entries)."""
    return {k: data[k] for k in data.files if not k.startswith("__")}


def _init_arguments(layer_cls) -> set[str]:
    import inspect

    try:
        return set(inspect.signature(layer_cls.__init__).parameters)
    except (TypeError, ValueError):
        return set()
