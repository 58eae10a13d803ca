"""Stain (colour) normalization of H&E images: optical density, Reinhard and Macenko.

Slides from different hospitals differ in stain amount, stain chemistry and scanner colour; a
tile CNN trained on one hospital's colours may fail on another's. Normalizers map every image
to one target appearance:

- :class:`ReinhardNormalizer`: match LAB mean and standard deviation (fast, global colour only);
- :class:`MacenkoNormalizer`: estimate each image's H and E optical-density vectors and recompose
  it with the target's vectors and concentration scale.

Both are :class:`StainNormalizer` subclasses: ``fit(target)`` / ``transform(images)`` on (H, W, 3) or
(N, H, W, 3) uint8 arrays, tiles without tissue passed through unchanged, and serialization with
``to_dict()`` / :func:`normalizer_from_dict`.
"""

from __future__ import annotations

from camelyon.errors import StainError
from camelyon.stain.base import StainNormalizer
from camelyon.stain.macenko import (
    REFERENCE_MAX_CONCENTRATIONS,
    REFERENCE_STAIN_MATRIX,
    MacenkoNormalizer,
    StainSeparation,
    estimate_stain_matrix,
    stain_concentrations,
)
from camelyon.stain.optical_density import IO_DEFAULT, od_to_rgb, rgb_to_od, tissue_pixels
from camelyon.stain.reinhard import ReinhardNormalizer, match_lab_statistics

__all__ = [
    "NORMALIZATION_METHODS",
    "IO_DEFAULT",
    "REFERENCE_MAX_CONCENTRATIONS",
    "REFERENCE_STAIN_MATRIX",
    "MacenkoNormalizer",
    "ReinhardNormalizer",
    "StainNormalizer",
    "StainSeparation",
    "estimate_stain_matrix",
    "make_normalizer",
    "match_lab_statistics",
    "normalizer_from_dict",
    "od_to_rgb",
    "rgb_to_od",
    "stain_concentrations",
    "tissue_pixels",
]

#: Names accepted by :func:`make_normalizer` (``"none"`` means no normalization).
NORMALIZATION_METHODS = ("none", "reinhard", "macenko")

_CLASSES = {"reinhard": ReinhardNormalizer, "macenko": MacenkoNormalizer}


def make_normalizer(method: str):
    """A new, unfitted normalizer by name, or None for ``"none"``.

    Parameters
    ----------
    method : {"none", "reinhard", "macenko"}
    """
    key = str(method).lower()
    if key == "none":
        return None
    if key not in _CLASSES:
        raise StainError(f"unknown normalization {method!r}: expected one of {', '.join(NORMALIZATION_METHODS)}")
    return _CLASSES[key]()


def normalizer_from_dict(d: dict | None):
    """Rebuild a fitted normalizer from its ``to_dict()`` output (None gives None)."""
    if d is None:
        return None
    method = d.get("method") if isinstance(d, dict) else None
    if method not in _CLASSES:
        raise StainError(f"unknown normalization method {method!r} in normalizer description")
    return _CLASSES[method].from_dict(d)
