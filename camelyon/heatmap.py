"""Slide heatmaps: a tumour-probability map with the geometry that ties it to the slide.

One heatmap pixel covers one tile-grid cell: pixel ``(row, col)`` covers level-0 pixels
``x = origin_x + col * stride_level0 ... + tile extent`` (see :attr:`Heatmap.stride_level0`).
Files are ``.npz`` without pickle.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from camelyon.errors import CamelyonError

__all__ = ["Heatmap"]


@dataclass
class Heatmap:
    """A tumour-probability map of one slide.

    Attributes
    ----------
    probability : ndarray of shape (H, W), float32
        Tumour probability per grid cell in [0, 1]; 0 outside tissue.
    tissue : ndarray of shape (H, W), bool
        True where the grid cell was classified (it held enough tissue).
    slide : str
        Slide file name (e.g. ``patient_000_node_0.tif``).
    level : int
        Pyramid level the tiles were read at.
    tile_size : int
        Tile side in pixels at ``level``.
    stride : int
        Grid step in pixels at ``level``.
    um_per_px : float
        Micrometres covered by one heatmap pixel (= stride x um/px of ``level``).
    origin : tuple of int
        Level-0 (x, y) of the top-left corner of heatmap pixel (0, 0).
    downsample : float
        Downsample factor of ``level`` relative to level 0.
    extra : dict
        JSON-serializable metadata (model name, software version, ...).
    """

    probability: np.ndarray
    tissue: np.ndarray
    slide: str
    level: int
    tile_size: int
    stride: int
    um_per_px: float
    origin: tuple[int, int] = (0, 0)
    downsample: float = 1.0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.probability = np.asarray(self.probability, dtype=np.float32)
        self.tissue = np.asarray(self.tissue, dtype=bool)
        if self.probability.ndim != 2 or self.probability.shape != self.tissue.shape:
            raise CamelyonError(
                f"heatmap of {self.slide}: probability {self.probability.shape} and tissue "
                f"{self.tissue.shape} must be equal 2-D shapes"
            )

    @property
    def shape(self) -> tuple[int, int]:
        return self.probability.shape

    @property
    def stride_level0(self) -> float:
        """Grid step in level-0 pixels."""
        return self.stride * self.downsample

    def save(self, path: str | os.PathLike) -> Path:
        """Write to ``path`` (``.npz``) atomically: a temporary name first, then a rename."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        meta = {
            "slide": self.slide, "level": int(self.level), "tile_size": int(self.tile_size),
            "stride": int(self.stride), "um_per_px": float(self.um_per_px),
            "origin": [int(self.origin[0]), int(self.origin[1])], "downsample": float(self.downsample),
            "extra": self.extra,
        }
        np.savez_compressed(tmp, probability=self.probability, tissue=self.tissue,
                            meta=np.array(json.dumps(meta)))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Heatmap":
        """Read a heatmap written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise CamelyonError(f"heatmap file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                prob, tissue = z["probability"], z["tissue"]
        except (KeyError, ValueError, OSError) as exc:
            raise CamelyonError(f"{path} is not a heatmap file written by camelyon: {exc}") from exc
        return cls(prob, tissue, meta["slide"], meta["level"], meta["tile_size"], meta["stride"],
                   meta["um_per_px"], tuple(meta["origin"]), meta["downsample"], meta.get("extra", {}))
