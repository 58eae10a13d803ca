"""Macenko stain normalization: estimate the H and E optical-density vectors of each image.

Macenko et al. (2009): in optical density the pixels of an H&E image lie close to the plane
spanned by the hematoxylin and eosin vectors. The plane comes from the two largest eigenvectors
of the OD covariance of stained pixels; the extreme angles of the pixels in that plane (the
``alpha`` and ``100 - alpha`` percentiles) give the two stain vectors. Concentrations follow by
least squares; normalizing replaces the image's stain vectors and concentration scale by the
target's.

Examples
--------
>>> norm = MacenkoNormalizer().fit(target_tile)              # doctest: +SKIP
>>> out = norm.transform(tiles)                               # doctest: +SKIP
>>> sep = norm.separate(tile)                                 # doctest: +SKIP
>>> sep.hematoxylin.shape, sep.stain_matrix                   # doctest: +SKIP
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from camelyon.errors import StainError
from camelyon.stain.base import StainNormalizer
from camelyon.stain.optical_density import (
    BETA_DEFAULT,
    IO_DEFAULT,
    as_image_batch,
    od_to_rgb,
    rgb_to_od,
    tissue_pixels,
)

__all__ = [
    "REFERENCE_STAIN_MATRIX",
    "REFERENCE_MAX_CONCENTRATIONS",
    "MacenkoNormalizer",
    "StainSeparation",
    "estimate_stain_matrix",
    "stain_concentrations",
]

#: A widely used reference: rows are the H and E optical-density unit vectors (R, G, B).
REFERENCE_STAIN_MATRIX = np.array([[0.5626, 0.7201, 0.4062], [0.2159, 0.8012, 0.5581]])
#: Reference 99th-percentile concentrations of H and E.
REFERENCE_MAX_CONCENTRATIONS = np.array([1.9705, 1.0308])


class StainSeparation(NamedTuple):
    """H and E concentrations of an image and the stain matrix used.

    Attributes
    ----------
    hematoxylin, eosin : ndarray of shape (H, W) or (N, H, W), float32
        Stain concentrations (optical density along the stain vector).
    stain_matrix : ndarray of shape (2, 3) or (N, 2, 3), float64
        Rows: H and E optical-density unit vectors.
    has_tissue : bool or ndarray of shape (N,), bool
        False where the image held too little tissue to estimate its own stains (the target
        stain matrix was used instead).
    """

    hematoxylin: np.ndarray
    eosin: np.ndarray
    stain_matrix: np.ndarray
    has_tissue: bool | np.ndarray


def estimate_stain_matrix(
    od: np.ndarray,
    beta: float = BETA_DEFAULT,
    alpha: float = 1.0,
    min_pixels: int = 50,
) -> np.ndarray | None:
    """Estimate the H and E stain vectors of one image (Macenko).

    Parameters
    ----------
    od : ndarray of shape (H, W, 3) or (P, 3), float
        Optical density of the image.
    beta : float
        Pixels with OD below ``beta`` in any channel are left out.
    alpha : float
        Percentile (in %) of the angle distribution taken as the extreme stain directions.
    min_pixels : int
        With fewer stained pixels the estimate is not attempted.

    Returns
    -------
    stain_matrix : ndarray of shape (2, 3), float64, or None
        Rows: H then E, unit vectors with non-negative components (H is the one with the larger
        red component). None when there are too few stained pixels or the two vectors are
        (nearly) parallel, i.e. the image does not show two stains.
    """
    od = np.asarray(od, dtype=np.float64).reshape(-1, 3)
    od = od[tissue_pixels(od, beta)]
    if len(od) < max(min_pixels, 3):
        return None
    _, eigvecs = np.linalg.eigh(np.cov(od, rowvar=False))
    plane = eigvecs[:, 1:3][:, ::-1].copy()  # largest eigenvector first
    # eigenvectors have no sign; point both so that the stain directions have positive angles
    if plane[:, 0].sum() < 0:
        plane[:, 0] *= -1
    if plane[:, 1].sum() < 0:
        plane[:, 1] *= -1
    projected = od @ plane
    phi = np.arctan2(projected[:, 1], projected[:, 0])
    phi_lo, phi_hi = np.percentile(phi, [alpha, 100.0 - alpha])
    v1 = plane @ np.array([np.cos(phi_lo), np.sin(phi_lo)])
    v2 = plane @ np.array([np.cos(phi_hi), np.sin(phi_hi)])
    if v1[0] < 0 and v1.sum() < 0:
        v1 = -v1
    if v2[0] < 0 and v2.sum() < 0:
        v2 = -v2
    h, e = (v1, v2) if v1[0] > v2[0] else (v2, v1)
    matrix = np.stack([h, e])
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    if abs(float(matrix[0] @ matrix[1])) > 0.995 or not np.all(np.isfinite(matrix)):
        return None
    return matrix


def stain_concentrations(od: np.ndarray, stain_matrix: np.ndarray) -> np.ndarray:
    """Least-squares stain concentrations: ``od ~= C @ stain_matrix``.

    Parameters
    ----------
    od : ndarray of shape (..., 3), float
    stain_matrix : ndarray of shape (k, 3)
        One stain OD vector per row (k = 2 for H and E).

    Returns
    -------
    concentrations : ndarray of shape (..., k), float32
    """
    m = np.asarray(stain_matrix, dtype=np.float64)
    pinv = np.linalg.pinv(m)  # (3, k)
    return (np.asarray(od, dtype=np.float32) @ pinv.astype(np.float32)).astype(np.float32, copy=False)


class MacenkoNormalizer(StainNormalizer):
    """Normalize H&E images to a target's stain vectors and stain amounts (Macenko).

    Parameters
    ----------
    io : float
        Background intensity Io of the optical density.
    beta : float
        OD threshold for a pixel to count as stained (in every channel).
    alpha : float
        Percentile (%) for the extreme stain angles.
    min_tissue_fraction : float
        An image with a smaller fraction of stained pixels passes through unchanged.

    Attributes
    ----------
    stain_matrix_ : ndarray of shape (2, 3)
        Target H and E vectors (rows), set by :meth:`fit`.
    max_concentrations_ : ndarray of shape (2,)
        Target 99th-percentile H and E concentrations.
    """

    method = "macenko"
    _fitted_attribute = "stain_matrix_"

    def __init__(
        self,
        io: float = IO_DEFAULT,
        beta: float = BETA_DEFAULT,
        alpha: float = 1.0,
        min_tissue_fraction: float = 0.01,
    ):
        if not 0.0 < alpha < 50.0:
            raise StainError(f"alpha must be a percentile in (0, 50), got {alpha}")
        if io <= 0:
            raise StainError(f"io must be positive, got {io}")
        if not 0.0 <= min_tissue_fraction < 1.0:
            raise StainError(f"min_tissue_fraction must be in [0, 1), got {min_tissue_fraction}")
        self.io = float(io)
        self.beta = float(beta)
        self.alpha = float(alpha)
        self.min_tissue_fraction = float(min_tissue_fraction)
        self.stain_matrix_: np.ndarray | None = None
        self.max_concentrations_: np.ndarray | None = None

    # -- per image -----------------------------------------------------------------------------
    def _min_pixels(self, n_pixels: int) -> int:
        return max(50, int(np.ceil(self.min_tissue_fraction * n_pixels)))

    def _image_stains(self, od: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Stain matrix and 99th-percentile concentrations of one image's OD, or (None, None)."""
        n_pixels = od.shape[0] * od.shape[1]
        matrix = estimate_stain_matrix(od, self.beta, self.alpha, self._min_pixels(n_pixels))
        if matrix is None:
            return None, None
        conc = stain_concentrations(od.reshape(-1, 3), matrix)
        max_conc = np.percentile(conc, 99, axis=0).astype(np.float64)
        if not np.all(np.isfinite(max_conc)) or np.any(max_conc <= 1e-6):
            return None, None
        return matrix, max_conc

    def _fit_batch(self, batch: np.ndarray) -> None:
        """The target stain matrix and concentration scale, the tiles of ``batch`` pooled into one estimate."""
        od = rgb_to_od(batch, self.io).reshape(1, -1, 3)
        matrix, max_conc = self._image_stains(od)
        if matrix is None:
            raise StainError(
                "target has too little stained tissue (or only one stain) for a Macenko estimate: "
                f"{tissue_pixels(od, self.beta).mean():.1%} of its pixels have OD >= {self.beta:g}"
            )
        self.stain_matrix_, self.max_concentrations_ = matrix, max_conc

    def separate(self, images: np.ndarray) -> StainSeparation:
        """H and E concentration images and the stain matrix of each image.

        An image with too little tissue is separated with the target's stain matrix (or the
        reference one when the normalizer is not fitted).

        Parameters
        ----------
        images : ndarray of shape (H, W, 3) or (N, H, W, 3), uint8

        Returns
        -------
        StainSeparation
            ``hematoxylin`` and ``eosin`` of shape (H, W) or (N, H, W); ``stain_matrix`` (2, 3)
            or (N, 2, 3); ``has_tissue``.
        """
        batch, single = as_image_batch(images, "images")
        fallback = self.stain_matrix_ if self.stain_matrix_ is not None else REFERENCE_STAIN_MATRIX
        n, h, w, _ = batch.shape
        conc = np.empty((n, h, w, 2), dtype=np.float32)
        matrices = np.empty((n, 2, 3), dtype=np.float64)
        has_tissue = np.zeros(n, dtype=bool)
        for i, image in enumerate(batch):
            od = rgb_to_od(image, self.io)
            matrix, _ = self._image_stains(od)
            has_tissue[i] = matrix is not None
            matrices[i] = matrix if matrix is not None else fallback
            conc[i] = stain_concentrations(od, matrices[i])
        if single:
            return StainSeparation(conc[0, ..., 0], conc[0, ..., 1], matrices[0], bool(has_tissue[0]))
        return StainSeparation(conc[..., 0], conc[..., 1], matrices, has_tissue)

    def _normalize_image(self, image: np.ndarray) -> np.ndarray | None:
        """The image's own stain matrix and 99th-percentile concentrations are estimated; its
        concentrations are rescaled to the target's and recomposed with the target stain vectors
        (None for too little tissue or a single stain)."""
        od = rgb_to_od(image, self.io)
        matrix, max_conc = self._image_stains(od)
        if matrix is None:
            return None
        conc = stain_concentrations(od, matrix)
        conc *= (self.max_concentrations_ / max_conc).astype(np.float32)
        np.maximum(conc, 0.0, out=conc)
        return od_to_rgb(conc @ self.stain_matrix_.astype(np.float32), self.io)

    # -- persistence ---------------------------------------------------------------------------
    def _state(self) -> dict:
        return {
            "io": self.io,
            "beta": self.beta,
            "alpha": self.alpha,
            "min_tissue_fraction": self.min_tissue_fraction,
            "stain_matrix": [[float(v) for v in row] for row in self.stain_matrix_],
            "max_concentrations": [float(v) for v in self.max_concentrations_],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "MacenkoNormalizer":
        """Rebuild a fitted normalizer from :meth:`to_dict` output."""
        norm = cls(d.get("io", IO_DEFAULT), d.get("beta", BETA_DEFAULT), d.get("alpha", 1.0),
                   d.get("min_tissue_fraction", 0.01))
        norm.stain_matrix_ = np.asarray(d["stain_matrix"], dtype=np.float64).reshape(2, 3)
        norm.max_concentrations_ = np.asarray(d["max_concentrations"], dtype=np.float64).reshape(2)
        return norm

    def __repr__(self) -> str:
        fitted = "fitted" if self.stain_matrix_ is not None else "not fitted"
        return f"MacenkoNormalizer(io={self.io:g}, beta={self.beta:g}, alpha={self.alpha:g}, {fitted})"
