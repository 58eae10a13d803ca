"""The CSV files of the CAMELYON16 tasks: the reference table, detections and slide probabilities.

- ``testing/reference.csv``: one row per test slide, ``name,Tumor|Normal[,size class,...]``
  (e.g. ``test_001,Tumor,Macro,Field``); read tolerantly (case-insensitive, a header line and
  blank lines skipped, a file suffix on the name ignored).
- Lesion detections, one file ``<slide stem>.csv`` per slide: ``probability,X,Y`` rows with X, Y in
  level-0 px, no header (a header line is tolerated).
- Slide probabilities: ``image,probability`` rows (header optional).

Slide names are matched by stem, case-insensitively (``Test_001.csv`` goes with ``test_001.tif``).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from camelyon.discovery import SLIDE_SUFFIXES
from camelyon.errors import CamelyonError
from minicnn.io import write_text

__all__ = ["slide_key", "read_reference", "Detections", "read_detections", "write_detections",
           "read_probabilities", "write_probabilities"]


def slide_key(name: str) -> str:
    """The matching key of a slide name: stem, lower case (``Test_001.tif`` -> ``test_001``)."""
    base = Path(str(name).strip()).name
    for suffix in (*SLIDE_SUFFIXES, ".csv", ".xml", ".geojson", ".json", ".zip"):
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.lower()


def _rows(path: Path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for lineno, row in enumerate(csv.reader(fh), start=1):
                cells = [c.strip() for c in row]
                if not any(cells):
                    continue
                yield lineno, cells
    except FileNotFoundError:
        raise CamelyonError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise CamelyonError(f"{path}: not a text CSV file") from None


def read_reference(path: str | os.PathLike) -> dict[str, dict]:
    """Read a CAMELYON16 ``reference.csv``.

    Returns
    -------
    dict
        Slide key -> ``{"name": str, "tumour": bool, "size": str}`` (size class, '' when absent).

    Raises
    ------
    CamelyonError
        A row (other than a first-line header) whose second column is not Tumor / Normal; the
        message names the file and line.
    """
    path = Path(path)
    out: dict[str, dict] = {}
    first = True
    for lineno, cells in _rows(path):
        kind = cells[1].lower() if len(cells) > 1 else ""
        if kind not in ("tumor", "tumour", "normal"):
            if first:
                first = False
                continue  # a header
            raise CamelyonError(f"{path}:{lineno}: expected 'name,Tumor|Normal[,size]', got {','.join(cells)!r}")
        first = False
        key = slide_key(cells[0])
        if key in out:
            raise CamelyonError(f"{path}:{lineno}: slide {cells[0]!r} is listed twice")
        out[key] = {"name": cells[0], "tumour": kind != "normal", "size": cells[2] if len(cells) > 2 else ""}
    if not out:
        raise CamelyonError(f"{path}: no slide rows (expected 'name,Tumor|Normal[,size]')")
    return out


@dataclass
class Detections:
    """The detections of one slide.

    Attributes
    ----------
    probability, x, y : ndarray of shape (N,), float64
        x, y in level-0 px.
    where : list of str
        ``file:line`` of every detection.
    """

    probability: np.ndarray
    x: np.ndarray
    y: np.ndarray
    where: list

    def __len__(self) -> int:
        return len(self.probability)

    @classmethod
    def empty(cls) -> Detections:
        z = np.zeros(0, dtype=np.float64)
        return cls(z, z.copy(), z.copy(), [])


def _float(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def read_detections(path: str | os.PathLike) -> Detections:
    """Read one ``probability,X,Y`` CSV (no header; one header line tolerated).

    Raises
    ------
    CamelyonError
        A row without three finite numbers (file and line named), or negative coordinates.
    """
    path = Path(path)
    p, xs, ys, where = [], [], [], []
    first = True
    for lineno, cells in _rows(path):
        values = [_float(c) for c in cells[:3]]
        if len(cells) < 3 or any(v is None for v in values):
            if first and len(cells) >= 1 and _float(cells[0]) is None:
                first = False
                continue  # header line
            raise CamelyonError(f"{path}:{lineno}: expected 'probability,X,Y' (three numbers), got {','.join(cells)!r}")
        first = False
        if values[1] < 0 or values[2] < 0:
            raise CamelyonError(f"{path}:{lineno}: X and Y are level-0 pixels and cannot be negative")
        p.append(values[0])
        xs.append(values[1])
        ys.append(values[2])
        where.append(f"{path}:{lineno}")
    return Detections(np.asarray(p, dtype=np.float64), np.asarray(xs, dtype=np.float64),
                      np.asarray(ys, dtype=np.float64), where)


def _atomic_write(path: Path, text: str) -> Path:
    return write_text(path, text)


def write_detections(path: str | os.PathLike, probability, x, y) -> Path:
    """Write ``probability,X,Y`` rows without header (the challenge format), atomically."""
    lines = [f"{float(p):.6g},{int(round(float(a)))},{int(round(float(b)))}"
             for p, a, b in zip(probability, x, y, strict=True)]
    return _atomic_write(Path(path), "".join(line + "\n" for line in lines))


def read_probabilities(path: str | os.PathLike) -> dict[str, float]:
    """Read an ``image,probability`` CSV (header optional). Returns slide key -> probability."""
    path = Path(path)
    out: dict[str, float] = {}
    first = True
    for lineno, cells in _rows(path):
        value = _float(cells[1]) if len(cells) >= 2 else None
        if value is None:
            if first:
                first = False
                continue
            raise CamelyonError(f"{path}:{lineno}: expected 'image,probability', got {','.join(cells)!r}")
        first = False
        key = slide_key(cells[0])
        if key in out:
            raise CamelyonError(f"{path}:{lineno}: image {cells[0]!r} is listed twice")
        out[key] = value
    if not out:
        raise CamelyonError(f"{path}: no 'image,probability' rows")
    return out


def write_probabilities(path: str | os.PathLike, probabilities: dict[str, float]) -> Path:
    """Write ``image,probability`` with a header line, atomically."""
    lines = ["image,probability"] + [f"{name},{float(p):.6f}" for name, p in probabilities.items()]
    return _atomic_write(Path(path), "\n".join(lines) + "\n")
