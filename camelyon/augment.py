"""Data augmentation for H&E tiles: geometric (flips, 90-degree rotations) and stain.

A tile's label does not depend on its orientation, so the eight symmetries of the square
(four rotations, each with or without a mirror) are free extra training data. Stain
augmentation imitates the colour differences between hospitals: each tile is split into
hematoxylin and eosin concentrations (optical density, Beer-Lambert), each concentration is
scaled and shifted by a random amount, and the tile is recomposed (Tellez et al. 2018).

Every function takes a ``numpy.random.Generator`` (or a seed); the same seed gives the same
bytes. Inputs are batches (N, H, W, 3) uint8; labels are never changed.

Examples
--------
>>> aug = TileAugmenter(seed=0)
>>> tiles_aug, labels_aug = aug(tiles, labels)     # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from camelyon.errors import AugmentError
from camelyon.stain.macenko import REFERENCE_STAIN_MATRIX
from camelyon.stain.optical_density import IO_DEFAULT

__all__ = ["TileAugmenter", "random_flip_rotate", "stain_augment", "stain_basis"]


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise AugmentError(f"rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}")


def _check_batch(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise AugmentError(
            f"images must be a batch of RGB tiles of shape (N, H, W, 3) and dtype uint8, "
            f"got shape {images.shape} and dtype {images.dtype}"
        )
    return images


def random_flip_rotate(images: np.ndarray, rng=None) -> np.ndarray:
    """Apply one random symmetry of the square to each image of a batch.

    Each image gets a rotation by ``k * 90`` degrees (k uniform in 0..3) followed, with
    probability 1/2, by a left-right mirror: the eight symmetries are equally likely. Rotations
    need square tiles.

    Parameters
    ----------
    images : ndarray of shape (N, H, W, C)
        The batch (not modified).
    rng : numpy.random.Generator or int, optional
        Draws, per image and in this order: k for the whole batch (N integers), then the
        mirror flags (N integers).

    Returns
    -------
    out : ndarray of shape (N, H, W, C), same dtype
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] != images.shape[2]:
        raise AugmentError(f"images must be a batch of square tiles (N, H, H, C), got shape {images.shape}")
    rng = _rng(rng)
    ### BEGIN SOLUTION (G07)
    n = images.shape[0]
    turns = rng.integers(0, 4, size=n)
    mirror = rng.integers(0, 2, size=n).astype(bool)
    out = np.empty_like(images)
    for k in range(4):
        for flip in (False, True):
            idx = np.flatnonzero((turns == k) & (mirror == flip))
            if idx.size == 0:
                continue
            moved = np.rot90(images[idx], k, axes=(1, 2))
            if flip:
                moved = moved[:, :, ::-1]
            out[idx] = moved
    return out
    ### END SOLUTION


def stain_basis(stain_matrix: np.ndarray | None = None) -> np.ndarray:
    """A 3x3 optical-density basis: the H and E vectors and a residual vector orthogonal to both.

    Parameters
    ----------
    stain_matrix : ndarray of shape (2, 3), optional
        H and E OD vectors (rows); the common reference when omitted.

    Returns
    -------
    basis : ndarray of shape (3, 3), float64
        Rows: H, E, residual, each of unit length.
    """
    m = REFERENCE_STAIN_MATRIX if stain_matrix is None else np.asarray(stain_matrix, dtype=np.float64)
    if m.shape != (2, 3):
        raise AugmentError(f"stain_matrix must have shape (2, 3) (rows H and E), got {m.shape}")
    m = m / np.linalg.norm(m, axis=1, keepdims=True)
    residual = np.cross(m[0], m[1])
    norm = np.linalg.norm(residual)
    if norm < 1e-6:
        raise AugmentError("stain_matrix rows H and E must not be parallel")
    return np.vstack([m, residual / norm])


def stain_augment(
    images: np.ndarray,
    rng=None,
    scale: float = 0.2,
    shift: float = 0.05,
    stain_matrix: np.ndarray | None = None,
    io: float = IO_DEFAULT,
) -> np.ndarray:
    """Randomly scale and shift the H and E concentrations of each image.

    Per image and per stain s in (H, E): ``c_s <- c_s * a_s + b_s`` with ``a_s ~ U(1 - scale,
    1 + scale)`` and ``b_s ~ U(-shift, shift)`` (OD units), where the concentrations come from
    the 3x3 basis of :func:`stain_basis`; the residual component is kept.

    Parameters
    ----------
    images : ndarray of shape (N, H, W, 3), uint8
    rng : numpy.random.Generator or int, optional
        Draws the scale factors (N, 2) then the shifts (N, 2).
    scale : float
        Half-width of the multiplicative factor range, in [0, 1).
    shift : float
        Half-width of the additive shift range, in OD units (>= 0).
    stain_matrix : ndarray of shape (2, 3), optional
        H and E vectors; the common reference when omitted.
    io : float
        Background intensity of the optical density.

    Returns
    -------
    out : ndarray of shape (N, H, W, 3), uint8
    """
    images = _check_batch(images)
    if not 0.0 <= scale < 1.0:
        raise AugmentError(f"scale must be in [0, 1), got {scale}")
    if shift < 0:
        raise AugmentError(f"shift must be >= 0, got {shift}")
    rng = _rng(rng)
    n = images.shape[0]
    factors = rng.uniform(1.0 - scale, 1.0 + scale, size=(n, 2))
    offsets = rng.uniform(-shift, shift, size=(n, 2))
    basis = stain_basis(stain_matrix)
    to_conc = np.linalg.inv(basis)  # od (.., 3) @ to_conc -> concentrations (H, E, residual)
    # the jitter is linear in OD: new_od = od @ (to_conc @ diag(a) @ basis) + (b @ basis[:2]), one map per image
    diag = np.ones((n, 3))
    diag[:, :2] = factors
    maps = np.einsum("ij,nj,jk->nik", to_conc, diag, basis).astype(np.float32)  # (N, 3, 3)
    offsets_od = (offsets @ basis[:2]).astype(np.float32)  # (N, 3)
    lut = -np.log((np.arange(256, dtype=np.float32) + 1.0) / np.float32(io))  # OD of each 8-bit value
    np.maximum(lut, 0.0, out=lut)
    h, w = images.shape[1:3]
    out = np.empty_like(images)
    chunk = max(1, (1 << 22) // (h * w * 3))  # bound the float32 scratch to ~16 MB
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        od = lut[images[start:stop]].reshape(stop - start, h * w, 3)
        od = np.matmul(od, maps[start:stop])
        od += offsets_od[start:stop, None, :]
        np.negative(od, out=od)
        np.exp(od, out=od)
        od *= np.float32(io)
        od -= 1.0
        np.clip(od, 0.0, 255.0, out=od)
        np.rint(od, out=od)
        out[start:stop] = od.reshape(stop - start, h, w, 3)
    return out


class TileAugmenter:
    """Seeded augmentation of tile batches for training.

    Parameters
    ----------
    geometric : bool
        Random flips and 90-degree rotations.
    stain : bool
        Random H and E concentration scaling and shifting.
    scale, shift : float
        Stain augmentation strength (see :func:`stain_augment`).
    seed : int or numpy.random.Generator, optional
        The augmenter owns a generator seeded from this; the same seed and the same sequence of
        calls give the same bytes.

    Examples
    --------
    >>> aug = TileAugmenter(seed=0)
    >>> x = np.zeros((2, 8, 8, 3), np.uint8)
    >>> aug(x, np.array([0, 1]))[0].shape
    (2, 8, 8, 3)
    """

    def __init__(self, geometric: bool = True, stain: bool = True, scale: float = 0.2, shift: float = 0.05,
                 seed=None):
        self.geometric = bool(geometric)
        self.stain = bool(stain)
        self.scale = float(scale)
        self.shift = float(shift)
        self.rng = _rng(seed)

    def __call__(self, images: np.ndarray, labels: np.ndarray | None = None, rng=None):
        """Augment a batch; returns ``(images, labels)`` (labels unchanged) or just images.

        Parameters
        ----------
        images : ndarray of shape (N, H, W, 3), uint8
        labels : ndarray of shape (N,), optional
        rng : numpy.random.Generator, optional
            Use this generator instead of the augmenter's own one.
        """
        images = _check_batch(images)
        if labels is not None and len(labels) != len(images):
            raise AugmentError(f"labels has {len(labels)} entries for {len(images)} images")
        rng = self.rng if rng is None else _rng(rng)
        out = images
        if self.geometric:
            out = random_flip_rotate(out, rng)
        if self.stain:
            out = stain_augment(out, rng, self.scale, self.shift)
        if out is images:
            out = images.copy()
        return out if labels is None else (out, labels)

    def config(self) -> dict:
        """JSON-serializable settings (without the generator state)."""
        return {"geometric": self.geometric, "stain": self.stain, "scale": self.scale, "shift": self.shift}

    def __repr__(self) -> str:
        return (f"TileAugmenter(geometric={self.geometric}, stain={self.stain}, scale={self.scale:g}, "
                f"shift={self.shift:g})")
