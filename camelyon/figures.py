"""Figures written to PNG files without touching matplotlib's global state.

Figures are made as :class:`matplotlib.figure.Figure` objects, which need no pyplot and no
backend switch, so drawing a report PNG inside a Jupyter notebook leaves its inline figures alone.
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.figure import Figure

from minicnn.io import atomic_path

__all__ = ["new_figure", "save_figure"]


def new_figure(figsize: tuple[float, float], dpi: int = 100) -> Figure:
    """A figure of ``figsize`` inches, independent of pyplot."""
    return Figure(figsize=figsize, dpi=dpi)


def save_figure(fig: Figure, path: str | os.PathLike, **savefig_kwargs) -> Path:
    """Write ``fig`` to ``path`` atomically: a temporary name in the same folder, then a rename."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", **savefig_kwargs)
    return path
