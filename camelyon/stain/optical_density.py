"""Optical density: the Beer-Lambert view of a bright-field RGB image.

A stain absorbs light in proportion to its amount, so in optical density (OD) the colours of
hematoxylin and eosin add up linearly:

    OD = -log((I + 1) / Io)        I = Io * exp(-OD) - 1

with ``I`` the 8-bit intensity of a channel and ``Io`` the intensity of the light through glass
without stain (240 by convention, a little below white because scanners rarely saturate).
"""

from __future__ import annotations

import numpy as np

from camelyon.errors import StainError

__all__ = ["IO_DEFAULT", "BETA_DEFAULT", "rgb_to_od", "od_to_rgb", "tissue_pixels", "as_image_batch"]

#: Transmitted light intensity through unstained glass (8-bit).
IO_DEFAULT = 240.0
#: Pixels whose OD is below this in any channel count as background (too transparent to use).
BETA_DEFAULT = 0.15


def rgb_to_od(rgb: np.ndarray, io: float = IO_DEFAULT) -> np.ndarray:
    """Convert 8-bit RGB to optical density.

    Parameters
    ----------
    rgb : ndarray of shape (..., 3), uint8 (or float in 0..255)
    io : float
        Background intensity ``Io``.

    Returns
    -------
    od : ndarray of shape (..., 3), float32
        Optical density, >= 0 (intensities above ``Io`` are clipped to 0 OD).
    """
    rgb = np.asarray(rgb)
    od = -np.log((rgb.astype(np.float32) + 1.0) / np.float32(io))
    return np.maximum(od, 0.0, out=od)


def od_to_rgb(od: np.ndarray, io: float = IO_DEFAULT) -> np.ndarray:
    """Convert optical density back to 8-bit RGB (inverse of :func:`rgb_to_od`, clipped to 0..255).

    Parameters
    ----------
    od : ndarray of shape (..., 3), float
    io : float

    Returns
    -------
    rgb : ndarray of shape (..., 3), uint8
    """
    rgb = np.float32(io) * np.exp(-np.asarray(od, dtype=np.float32)) - 1.0
    np.clip(rgb, 0.0, 255.0, out=rgb)
    return np.rint(rgb).astype(np.uint8)


def tissue_pixels(od: np.ndarray, beta: float = BETA_DEFAULT) -> np.ndarray:
    """Mask of stained pixels: OD at least ``beta`` in every channel.

    Parameters
    ----------
    od : ndarray of shape (..., 3)
    beta : float

    Returns
    -------
    mask : ndarray of shape (...), bool
    """
    return np.all(od >= beta, axis=-1)


def as_image_batch(images: np.ndarray, name: str = "image") -> tuple[np.ndarray, bool]:
    """Check an RGB image or batch and view it as a batch.

    Parameters
    ----------
    images : ndarray of shape (H, W, 3) or (N, H, W, 3), uint8
    name : str
        Used in the error message.

    Returns
    -------
    batch : ndarray of shape (N, H, W, 3), uint8
    single : bool
        True when the input was a single image (so the caller can drop the batch axis again).

    Raises
    ------
    ValueError
        When the array is not uint8 RGB of one of those shapes.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise StainError(f"{name} must be uint8 RGB (0..255), got dtype {images.dtype}")
    if images.ndim == 3 and images.shape[-1] == 3:
        return images[None], True
    if images.ndim == 4 and images.shape[-1] == 3:
        return images, False
    raise StainError(f"{name} must have shape (H, W, 3) or (N, H, W, 3), got {images.shape}")
