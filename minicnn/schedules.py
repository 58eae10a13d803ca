"""Learning-rate schedules: change ``optimizer.lr`` once per epoch.

Call ``schedule.step()`` at the end of every epoch (the :class:`minicnn.training.Trainer` does it for you).
The learning rate for epoch ``e`` (counting from 0) is a closed form of ``e``, so a schedule restored from
:meth:`LRSchedule.state_dict` continues exactly where it stopped.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LRSchedule", "StepLR", "CosineLR"]


class LRSchedule:
    """Base class: ``lr_at(epoch)`` gives the learning rate; ``step()`` moves to the next epoch.

    Parameters
    ----------
    optimizer : minicnn.optim.Optimizer
        Anything with a float attribute ``lr``; its current ``lr`` is the base learning rate.
    """

    def __init__(self, optimizer):
        if not hasattr(optimizer, "lr"):
            raise ValueError(f"{type(self).__name__}: optimizer must have an 'lr' attribute, "
                             f"got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.epoch = 0

    def lr_at(self, epoch: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self) -> float:
        """End of an epoch: set ``optimizer.lr`` for the next one and return it."""
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)
        return self.optimizer.lr

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"base_lr": np.array(self.base_lr), "epoch": np.array(self.epoch, dtype=np.int64)}

    def load_state_dict(self, d: dict) -> None:
        self.base_lr = float(d["base_lr"])
        self.epoch = int(d["epoch"])
        self.optimizer.lr = self.lr_at(self.epoch)


class StepLR(LRSchedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    ``lr(e) = base_lr * gamma ** (e // step_size)``, as ``torch.optim.lr_scheduler.StepLR``.
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        if int(step_size) != step_size or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer (epochs), got {step_size}")
        if not 0 < gamma <= 1:
            raise ValueError(f"StepLR: gamma must be in (0, 1], got {gamma}")
        super().__init__(optimizer)
        self.step_size = int(step_size)
        self.gamma = float(gamma)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineLR(LRSchedule):
    """Cosine annealing from ``base_lr`` down to ``eta_min`` over ``t_max`` epochs, then stay at ``eta_min``.

    ``lr(e) = eta_min + (base_lr - eta_min) * (1 + cos(pi * min(e, t_max) / t_max)) / 2``
    (the closed form of ``torch.optim.lr_scheduler.CosineAnnealingLR`` for ``e <= t_max``).
    """

    def __init__(self, optimizer, t_max: int, eta_min: float = 0.0):
        if int(t_max) != t_max or t_max < 1:
            raise ValueError(f"CosineLR: t_max must be a positive integer (epochs), got {t_max}")
        super().__init__(optimizer)
        if not 0 <= eta_min <= self.base_lr:
            raise ValueError(f"CosineLR: eta_min must be in [0, base lr = {self.base_lr}], got {eta_min}")
        self.t_max = int(t_max)
        self.eta_min = float(eta_min)

    def lr_at(self, epoch: int) -> float:
        e = min(epoch, self.t_max)
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * e / self.t_max)) / 2
