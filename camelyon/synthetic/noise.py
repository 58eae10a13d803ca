"""Position hashing and smooth value noise: randomness that depends on *where*, not on *when*.

Every random detail of a synthetic slide (a nucleus, a fat cell, a speck of sensor noise) is a
pure function of the slide seed and of level-0 integer coordinates, computed with a 64-bit
integer hash. So a tile renders to the same pixels whatever order tiles are painted in, however
many processes share the work, and whatever tile size the writer uses.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_KX = np.uint64(0xD6E8FEB86659FD93)
_KY = np.uint64(0xA0761D6478BD642F)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
#: Offset added to lattice indices so that negative indices hash like any other.
_OFFSET = 1 << 31
_INV53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def mix64(z):
    """The splitmix64 finaliser: a bijective scramble of a uint64."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def hash2(seed, ix, iy, salt):
    """A uint64 hash of (seed, integer x, integer y, salt); ``seed`` is a uint64, the rest ints."""
    h = mix64(seed ^ (np.uint64(salt) * _GOLD))
    h = mix64(h ^ (np.uint64(ix + _OFFSET) * _KX))
    return mix64(h ^ (np.uint64(iy + _OFFSET) * _KY))


@njit(cache=True, inline="always")
def to_unit(h):
    """Uniform float in [0, 1) from the top 53 bits of a uint64 hash."""
    return np.float64(h >> _S11) * _INV53


@njit(cache=True, inline="always")
def next_hash(h):
    """Another independent-looking uint64 from a hash (to draw several numbers per site)."""
    return mix64(h + _GOLD)


@njit(cache=True)
def lattice_values(seed, salt, gx0, gy0, nx, ny):
    """Hashed values in [0, 1) on an integer lattice.

    Parameters
    ----------
    seed : uint64
    salt : int
        Separates independent fields of one slide.
    gx0, gy0 : int
        Lattice index of the first column / row.
    nx, ny : int
        Lattice points across / down.

    Returns
    -------
    ndarray of shape (ny, nx), float32
    """
    out = np.empty((ny, nx), dtype=np.float32)
    for j in range(ny):
        for i in range(nx):
            out[j, i] = to_unit(hash2(seed, gx0 + i, gy0 + j, salt))
    return out


@njit(cache=True)
def value_noise(seed, salt, x0, y0, step, out):
    """Smooth noise in [0, 1] sampled at the pixels of a region, written into ``out``.

    Lattice points every ``step`` px carry hashed values; pixels interpolate them with a
    smoothstep (C1-continuous) bilinear blend. The field is defined on the whole level-0 plane,
    so neighbouring regions agree exactly.

    Parameters
    ----------
    seed : uint64
    salt : int
    x0, y0 : int
        Level-0 px of ``out[0, 0]``.
    step : int
        Lattice spacing in level-0 px (the feature size of the noise).
    out : ndarray of shape (h, w), float32
    """
    h, w = out.shape
    gx0 = x0 // step
    gy0 = y0 // step
    nx = (x0 + w) // step - gx0 + 2
    ny = (y0 + h) // step - gy0 + 2
    lat = lattice_values(seed, salt, gx0, gy0, nx, ny)
    inv = 1.0 / step
    jxs = np.empty(w, dtype=np.int64)
    txs = np.empty(w, dtype=np.float32)
    for c in range(w):
        fx = (x0 + c + 0.5) * inv - gx0
        jx = int(fx)
        tx = fx - jx
        jxs[c] = jx
        txs[c] = tx * tx * (3.0 - 2.0 * tx)
    for r in range(h):
        fy = (y0 + r + 0.5) * inv - gy0
        jy = int(fy)
        ty = fy - jy
        ty = ty * ty * (3.0 - 2.0 * ty)
        for c in range(w):
            jx = jxs[c]
            tx = txs[c]
            a = lat[jy, jx] + (lat[jy, jx + 1] - lat[jy, jx]) * tx
            b = lat[jy + 1, jx] + (lat[jy + 1, jx + 1] - lat[jy + 1, jx]) * tx
            out[r, c] = a + (b - a) * ty
