"""Reinhard colour normalization: match the mean and spread of each LAB channel to a target.

Reinhard et al. (2001) moved the colour statistics of one image onto another in a decorrelated
colour space. For H&E tiles the statistics are taken over tissue pixels only (the white
background would otherwise dominate them), and background pixels are left as they are.

Examples
--------
>>> norm = ReinhardNormalizer().fit(target_tile)        # doctest: +SKIP
>>> out = norm.transform(tiles)                          # (N, H, W, 3) uint8  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from camelyon.errors import StainError
from camelyon.stain.base import StainNormalizer
from camelyon.stain.lab import lab_to_rgb, rgb_to_lab

__all__ = ["ReinhardNormalizer", "lab_statistics", "match_lab_statistics"]


def lab_statistics(lab: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each LAB channel over the masked pixels.

    Parameters
    ----------
    lab : ndarray of shape (H, W, 3), float
        CIE L*a*b* image (L in 0..100).
    mask : ndarray of shape (H, W), bool
        Pixels to use (tissue).

    Returns
    -------
    mean, std : ndarray of shape (3,), float64
    """
    pixels = lab[mask].astype(np.float64)
    return pixels.mean(axis=0), pixels.std(axis=0)


def match_lab_statistics(
    lab: np.ndarray,
    mask: np.ndarray,
    target_mean: np.ndarray,
    target_std: np.ndarray,
    eps: float = 1e-6,
) -> np.ndarray:
    """Shift and scale each LAB channel of the masked pixels to the target mean and std.

    Each channel of the masked pixels is standardised with its own mean and std (measured over the masked
    pixels of ``lab``), then given the target's (G07 theory); a channel whose std is below ``eps`` is only
    shifted. Unmasked pixels keep their value.

    Parameters
    ----------
    lab : ndarray of shape (H, W, 3), float
        CIE L*a*b* image.
    mask : ndarray of shape (H, W), bool
        Pixels to normalize (tissue); must contain at least one pixel.
    target_mean, target_std : ndarray of shape (3,)
        Statistics of the target's tissue pixels.
    eps : float
        Smallest standard deviation that is divided by.

    Returns
    -------
    out : ndarray of shape (H, W, 3), float64
        A new array; ``lab`` is not modified.
    """
    ### BEGIN SOLUTION (G07)
    out = np.array(lab, dtype=np.float64)
    pixels = out[mask]
    mean, std = pixels.mean(axis=0), pixels.std(axis=0)
    scale = np.where(std < eps, 1.0, np.asarray(target_std, dtype=np.float64) / np.maximum(std, eps))
    out[mask] = (pixels - mean) * scale + np.asarray(target_mean, dtype=np.float64)
    return out
    ### END SOLUTION


class ReinhardNormalizer(StainNormalizer):
    """Normalize H&E images by matching LAB mean and standard deviation over tissue pixels.

    Parameters
    ----------
    background_lightness : float
        Pixels with L* at or above this value (0..100) are background: they are neither
        measured nor changed.
    min_tissue_fraction : float
        An image with a smaller fraction of tissue pixels passes through unchanged.

    Attributes
    ----------
    target_mean_, target_std_ : ndarray of shape (3,)
        LAB statistics of the target (set by :meth:`fit`).
    """

    method = "reinhard"
    _fitted_attribute = "target_mean_"

    def __init__(self, background_lightness: float = 85.0, min_tissue_fraction: float = 0.01):
        if not 0.0 < background_lightness <= 100.0:
            raise StainError(f"background_lightness must be in (0, 100], got {background_lightness}")
        if not 0.0 <= min_tissue_fraction < 1.0:
            raise StainError(f"min_tissue_fraction must be in [0, 1), got {min_tissue_fraction}")
        self.background_lightness = float(background_lightness)
        self.min_tissue_fraction = float(min_tissue_fraction)
        self.target_mean_: np.ndarray | None = None
        self.target_std_: np.ndarray | None = None

    def _tissue(self, lab: np.ndarray) -> np.ndarray:
        return lab[..., 0] < self.background_lightness

    def _fit_batch(self, batch: np.ndarray) -> None:
        """LAB mean and standard deviation over the tissue pixels of all of ``batch``."""
        lab = rgb_to_lab(batch)
        mask = self._tissue(lab)
        if mask.mean() <= self.min_tissue_fraction or mask.sum() < 2:
            raise StainError(
                f"target has too little tissue for Reinhard normalization: {mask.mean():.1%} of its pixels "
                f"are darker than L*={self.background_lightness:g}"
            )
        self.target_mean_, self.target_std_ = lab_statistics(lab, mask)

    def _normalize_image(self, image: np.ndarray) -> np.ndarray | None:
        """The tissue pixels matched to the target statistics (None for too little tissue)."""
        lab = rgb_to_lab(image)
        mask = self._tissue(lab)
        if mask.mean() <= self.min_tissue_fraction or mask.sum() < 2:
            return None
        lab = match_lab_statistics(lab, mask, self.target_mean_, self.target_std_)
        out = image.copy()
        out[mask] = lab_to_rgb(lab[mask])
        return out

    def _state(self) -> dict:
        return {
            "background_lightness": self.background_lightness,
            "min_tissue_fraction": self.min_tissue_fraction,
            "target_mean": [float(v) for v in self.target_mean_],
            "target_std": [float(v) for v in self.target_std_],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ReinhardNormalizer":
        """Rebuild a fitted normalizer from :meth:`to_dict` output."""
        norm = cls(d.get("background_lightness", 85.0), d.get("min_tissue_fraction", 0.01))
        norm.target_mean_ = np.asarray(d["target_mean"], dtype=np.float64).reshape(3)
        norm.target_std_ = np.asarray(d["target_std"], dtype=np.float64).reshape(3)
        return norm

    def __repr__(self) -> str:
        fitted = "fitted" if self.target_mean_ is not None else "not fitted"
        return f"ReinhardNormalizer(background_lightness={self.background_lightness:g}, {fitted})"
