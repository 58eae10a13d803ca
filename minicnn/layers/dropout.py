"""Dropout layer (inverted dropout; exercise G06 in the functional op)."""

from minicnn import functional as F
from minicnn.init import as_rng

from .base import Layer


class Dropout(Layer):
    """Drop each unit with probability `p` in training mode; identity in evaluation mode.

    Parameters
    ----------
    p : float in [0, 1)
    rng : numpy.random.Generator or int, optional
        Draws the masks; kept as the attribute ``rng`` (its state is saved in checkpoints).
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not (0.0 <= float(p) < 1.0):
            raise ValueError(f"Dropout: p must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = as_rng(rng)

    def _config_args(self):
        return {"p": self.p}

    def forward(self, x):
        x = self._input(x)
        out, self._cache = F.dropout_forward(x, self.p, self.training, self.rng)
        return out

    def backward(self, dout):
        return F.dropout_backward(dout, self._saved())
