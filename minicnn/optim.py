"""Optimizers: update the parameters in place from their gradients.

An optimizer holds references to ``(param, grad)`` array pairs, usually ``model.parameters()``. Layers write
their gradients into the same ``grad`` arrays on every backward pass and never rebind them, so the optimizer
sees the new gradients without being told. One training step is::

    optimizer.zero_grad()
    loss.forward(model.forward(x), y)
    model.backward(loss.backward())
    optimizer.step()

The update rules follow PyTorch's ``torch.optim.SGD``, ``Adam`` and ``AdamW`` (same hyper-parameters, same
results up to rounding), so what a student learns here carries over.

Learning-rate schedules (``StepLR``, ``CosineLR``) live in :mod:`minicnn.schedules` and are re-exported here.
"""

from __future__ import annotations

import numpy as np

from minicnn.schedules import CosineLR, LRSchedule, StepLR

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "LRSchedule", "StepLR", "CosineLR"]


def _check_param_pairs(params) -> list[tuple[np.ndarray, np.ndarray]]:
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()
    pairs = list(params)
    if not pairs:
        raise ValueError("optimizer: got an empty parameter list (does the model have any Dense/Conv2D layer?)")
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"optimizer: params[{i}] must be a (param, grad) pair of arrays, "
                             f"as returned by model.parameters(); got {type(pair).__name__}")
        p, g = pair
        if not (isinstance(p, np.ndarray) and isinstance(g, np.ndarray)):
            raise ValueError(f"optimizer: params[{i}] must hold two numpy arrays, got "
                             f"({type(p).__name__}, {type(g).__name__})")
        if p.shape != g.shape:
            raise ValueError(f"optimizer: params[{i}] has shape {p.shape} but its gradient has shape {g.shape}")
        if not np.issubdtype(p.dtype, np.floating):
            raise ValueError(f"optimizer: params[{i}] must be a floating-point array, got dtype {p.dtype}")
    return pairs


def _check_lr(lr, name="lr"):
    lr = float(lr)
    if not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"optimizer: {name} must be a positive number, got {lr}")
    return lr


def _check_weight_decay(weight_decay):
    weight_decay = float(weight_decay)
    if not np.isfinite(weight_decay) or weight_decay < 0:
        raise ValueError(f"optimizer: weight_decay must be >= 0, got {weight_decay}")
    return weight_decay


class Optimizer:
    """Base class. Subclasses fill ``self.state`` (a dict name -> list of arrays, one per parameter)
    and implement :meth:`step`.

    Parameters
    ----------
    params : list of (ndarray, ndarray) or a model with ``parameters()``
        ``(param, grad)`` pairs; params are updated in place.
    lr : float
        Learning rate (step size), also the attribute ``lr`` that schedules change.
    """

    def __init__(self, params, lr: float):
        self.params = _check_param_pairs(params)
        self.lr = _check_lr(lr)
        self.t = 0  # number of steps taken
        self.state: dict[str, list[np.ndarray]] = {}

    def _buffers(self) -> list[np.ndarray]:
        """One zero array per parameter, same shape and dtype."""
        return [np.zeros_like(p) for p, _ in self.params]

    def zero_grad(self) -> None:
        """Set every gradient to zero (in place)."""
        for _, g in self.params:
            g[...] = 0

    def step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def hyperparameters(self) -> dict:
        """The scalar settings, JSON-able."""
        return {"lr": self.lr}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to continue exactly where this optimizer is: a flat dict of arrays.

        Keys: ``"lr"``, ``"t"`` (0-d arrays) and ``"<buffer>/<i>"`` for each state buffer of parameter i.
        Suitable for ``np.savez``.
        """
        d = {"lr": np.array(self.lr, dtype=np.float64), "t": np.array(self.t, dtype=np.int64)}
        for name, bufs in self.state.items():
            for i, b in enumerate(bufs):
                d[f"{name}/{i}"] = b.copy()
        return d

    def load_state_dict(self, d: dict) -> None:
        """Restore a :meth:`state_dict`. Raises ValueError when it was saved for other parameters."""
        cls = type(self).__name__
        missing = [k for k in self.state_dict() if k not in d]
        if missing:
            raise ValueError(f"{cls}.load_state_dict: missing entries {missing[:5]} (saved by another optimizer "
                             f"or for another model?)")
        for name, bufs in self.state.items():
            for i, b in enumerate(bufs):
                src = np.asarray(d[f"{name}/{i}"])
                if src.shape != b.shape:
                    raise ValueError(f"{cls}.load_state_dict: '{name}/{i}' has shape {src.shape}, "
                                     f"but parameter {i} has shape {b.shape}")
                b[...] = src
        self.lr = float(d["lr"])
        self.t = int(d["t"])

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} params, {args})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

    Each parameter ``p`` moves against its gradient ``g``, by a velocity ``v`` (zero at first) that keeps a
    ``momentum`` fraction of the previous steps; Nesterov's variant looks one step ahead; weight decay adds an L2
    penalty to the gradient. The update rules, as PyTorch's ``torch.optim.SGD``, are derived in the G05 notebook.

    Parameters
    ----------
    params : list of (param, grad) pairs, or a model
    lr : float
        Learning rate.
    momentum : float in [0, 1)
    nesterov : bool
        Nesterov's look-ahead momentum (needs momentum > 0).
    weight_decay : float
        L2 penalty coefficient added to the gradient.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(params, lr)
        momentum = float(momentum)
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")
        self.momentum = momentum
        self.nesterov = bool(nesterov)
        self.weight_decay = _check_weight_decay(weight_decay)
        self.state = {"velocity": self._buffers()}

    def hyperparameters(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}

    def step(self) -> None:
        """Update every parameter in place from its current gradient."""
        self.t += 1
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        for (p, g), v in zip(self.params, self.state["velocity"], strict=True):
            ### BEGIN SOLUTION (G05) update p IN PLACE (p -= ..., never p = ...) from g, with the velocity v of self.state (kept between steps, updated in place) when momentum > 0, Nesterov's variant when self.nesterov (G05 notebook); weight decay goes into a copy of g, never into the layer's gradient array
            if wd:
                g = g + wd * p  # a new array: the layer's gradient stays untouched
            if mu:
                v *= mu
                v += g
                update = g + mu * v if self.nesterov else v
            else:
                update = g
            p -= lr * update
            ### END SOLUTION


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): per-parameter step sizes from running moments of the gradient.

    Each parameter keeps two running averages (``m`` of its gradient, ``v`` of the squared gradient; ``betas``
    are their decay rates; both start at zero, so their first values are corrected for that bias at step
    ``t = 1, 2, ...``) and steps by ``lr`` times their ratio (``eps`` keeps the division finite). Adam adds an L2
    penalty ``weight_decay`` to the gradient. The update rules, as PyTorch's ``torch.optim.Adam``, are in the
    G05 notebook.

    Parameters
    ----------
    params : list of (param, grad) pairs, or a model
    lr : float
    betas : (float, float)
        Decay rates of the first and second moment, each in [0, 1).
    eps : float
        Added to the denominator for numerical safety.
    weight_decay : float
        L2 penalty added to the gradient (use :class:`AdamW` for decoupled weight decay).
    """

    decoupled_weight_decay = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr)
        cls = type(self).__name__
        try:
            beta1, beta2 = (float(b) for b in betas)
        except (TypeError, ValueError):
            raise ValueError(f"{cls}: betas must be two numbers, got {betas!r}") from None
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"{cls}: betas must each be in [0, 1), got ({beta1}, {beta2})")
        eps = float(eps)
        if not eps > 0:
            raise ValueError(f"{cls}: eps must be > 0, got {eps}")
        self.betas = (beta1, beta2)
        self.eps = eps
        self.weight_decay = _check_weight_decay(weight_decay)
        self.state = {"m": self._buffers(), "v": self._buffers()}

    def hyperparameters(self) -> dict:
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay}

    def step(self) -> None:
        """Update every parameter in place from its current gradient."""
        self.t += 1
        t, lr, eps, wd = self.t, self.lr, self.eps, self.weight_decay
        beta1, beta2 = self.betas
        for (p, g), m, v in zip(self.params, self.state["m"], self.state["v"], strict=True):
            ### BEGIN SOLUTION (G05) per parameter: update its two moment buffers of self.state in place, correct their start-up bias with self.t, then step p in place (the G05 notebook gives the update); AdamW (self.decoupled_weight_decay) shrinks p instead of adding weight_decay * p to g
            if wd and self.decoupled_weight_decay:
                p *= 1 - lr * wd  # AdamW: shrink the weights directly, outside the adaptive step
            elif wd:
                g = g + wd * p
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * (g * g)
            m_hat = m / (1 - beta1**t)
            v_hat = v / (1 - beta2**t)
            p -= lr * m_hat / (np.sqrt(v_hat) + eps)
            ### END SOLUTION


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    Same as :class:`Adam` except that weight decay does not go through the gradient: before each Adam step
    the parameter shrinks by ``p -= lr * weight_decay * p``. Default ``weight_decay=0.01`` as in PyTorch.
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
