"""Gradient checking: compare an analytic gradient with centred finite differences.

Given to students (not an exercise). Work in float64: with ``h = 1e-6`` the centred difference
``(f(x + h) - f(x - h)) / 2h`` has an error around 1e-10, so a correct backward pass gives a
relative error around 1e-8 to 1e-10, while a wrong one gives 1e-3 or more. Keep inputs away from
the kinks of ReLU and from ties in max pooling, where the function is not differentiable.

The upstream gradient ``dout`` is random (never all ones), so that a backward pass which
ignores ``dout`` or mixes up its elements is caught.
"""

import numpy as np

__all__ = ["relative_error", "numeric_gradient", "check_layer_gradients", "format_errors"]


def relative_error(a, b):
    """``||a - b|| / (||a|| + ||b||)`` (Euclidean norms over all elements; 0 when both are 0).

    Around 1e-8 or less for a correct float64 gradient; 1e-2 and above means a bug.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ: {a.shape} vs {b.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    if denom == 0:
        return 0.0
    return float(np.linalg.norm(a - b) / denom)


def numeric_gradient(f, x, dout, h=1e-6):
    """Centred finite-difference gradient of ``sum(f(x) * dout)`` with respect to `x`.

    Parameters
    ----------
    f : callable
        ``f(x)`` returning an array. `x` is modified in place during the check and restored
        afterwards, so `f` may also ignore its argument and read `x` (e.g. a layer's weights).
    x : ndarray (float64)
        The variable; perturbed one element at a time.
    dout : ndarray
        Upstream gradient, same shape as ``f(x)``.
    h : float
        Step.

    Returns
    -------
    ndarray, same shape as `x`
    """
    if not isinstance(x, np.ndarray):
        raise ValueError("numeric_gradient: x must be an ndarray (it is perturbed in place)")
    if x.dtype != np.float64:
        raise ValueError(f"numeric_gradient: x must be float64 for a meaningful check, got {x.dtype}")

    dout = np.asarray(dout, dtype=np.float64)

    def call():
        return np.array(f(x), dtype=np.float64, copy=True)

    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        idx = it.multi_index
        old = x[idx]
        x[idx] = old + h
        plus = call()
        x[idx] = old - h
        minus = call()
        x[idx] = old
        grad[idx] = np.sum((plus - minus) * dout) / (2 * h)
        it.iternext()
    return grad


def _generators(layer):
    return {k: v for k, v in vars(layer).items() if isinstance(v, np.random.Generator)}


def check_layer_gradients(layer, x, seed=0, h=1e-6):
    """Relative errors between a layer's backward pass and finite differences.

    The layer is cast to float64 (``layer.astype(np.float64)``), run forward on `x`, and
    backward with a random upstream gradient drawn from `seed`. Random layers (Dropout) draw
    the same numbers on every forward call: their generators are rewound before each call.

    Parameters
    ----------
    layer : minicnn.layers.Layer
    x : ndarray
        Input batch (converted to float64).
    seed : int
        Seed of the upstream gradient.
    h : float
        Finite-difference step.

    Returns
    -------
    dict of str -> float
        ``{"x": error of dx, "<param>": error of grads[param], ...}``.
    """
    if not (isinstance(getattr(layer, "params", None), dict) and isinstance(getattr(layer, "grads", None), dict)):
        raise ValueError(f"check_layer_gradients: expected one layer (minicnn.layers.Layer, with params and grads "
                         f"dicts), got {type(layer).__name__}; check the layers of a model one at a time")
    layer.astype(np.float64)
    x = np.array(x, dtype=np.float64, copy=True)
    states = {k: g.bit_generator.state for k, g in _generators(layer).items()}

    def forward():
        for k, g in _generators(layer).items():
            g.bit_generator.state = states[k]
        return layer.forward(x)

    out = np.array(forward(), dtype=np.float64, copy=True)
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    dx = np.array(layer.backward(dout), dtype=np.float64, copy=True)
    analytic = {name: np.array(g, dtype=np.float64, copy=True) for name, g in layer.grads.items()}
    errors = {"x": relative_error(dx, numeric_gradient(lambda _: forward(), x, dout, h))}
    for name, param in layer.params.items():
        errors[name] = relative_error(analytic[name], numeric_gradient(lambda _: forward(), param, dout, h))
    return errors


def format_errors(errors, expected=1e-7):
    """One line per gradient: the error found next to what it should be."""
    lines = []
    for name, err in errors.items():
        verdict = "ok" if err < expected else "WRONG?"
        lines.append(f"d{name}: relative error {err:.2e} (should be below {expected:.0e}) {verdict}")
    return "\n".join(lines)
