"""Where the tissue lies on a slide: 1-3 lymph-node sections with irregular outlines and a capsule.

Each section is three nested closed outlines around one centre, all in level-0 px:

* ``outer``: the edge of the tissue, including perinodal fat around the node on some sides;
* ``node``: the outside of the node's fibrous capsule;
* ``inner``: the inside of the capsule, i.e. the lymphoid parenchyma (where metastases grow).

Outlines are "star" polygons: a radius that varies smoothly with the angle (a few random
harmonics) on an ellipse. They are sampled finely (256 vertices) and then used as polygons
everywhere, so what is painted is exactly what the geometry says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from camelyon.errors import CamelyonError, SyntheticError

#: Vertices per section outline.
OUTLINE_VERTICES = 256


@dataclass
class Section:
    """One tissue section (a lymph node cut through), coordinates in level-0 px.

    Attributes
    ----------
    center : (float, float)
        Centre (x, y).
    outer, node, inner : ndarray of shape (N, 2), float64
        Tissue edge, outer and inner edge of the capsule.
    """

    center: tuple[float, float]
    outer: np.ndarray
    node: np.ndarray
    inner: np.ndarray

    def inner_radius_min(self) -> float:
        """Smallest distance (px) from the centre to the inner capsule edge."""
        d = self.inner - np.asarray(self.center)
        return float(np.sqrt((d * d).sum(1)).min())


def star_radius(rng: np.random.Generator, n: int, roughness: float, harmonics=(2, 3, 4, 5, 7)) -> np.ndarray:
    """A smooth random closed radius profile around 1 at ``n`` equally spaced angles.

    Harmonic k gets an amplitude ~ roughness / k, so outlines are lumpy, not spiky.
    """
    theta = np.arange(n) * (2 * np.pi / n)
    r = np.ones(n)
    for k in harmonics:
        r += roughness / k * rng.uniform(0.3, 1.0) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return r


def ellipse_points(cx, cy, rx, ry, angle, radius: np.ndarray) -> np.ndarray:
    """Points (N, 2) at radius ``radius`` (relative) on a rotated ellipse (rx, ry in px)."""
    n = len(radius)
    theta = np.arange(n) * (2 * np.pi / n)
    x = rx * radius * np.cos(theta)
    y = ry * radius * np.sin(theta)
    ca, sa = math.cos(angle), math.sin(angle)
    return np.stack([cx + ca * x - sa * y, cy + sa * x + ca * y], axis=1)


def shrink_radially(points: np.ndarray, center, by_px: float | np.ndarray) -> np.ndarray:
    """Move every vertex towards ``center`` by ``by_px`` (px): an inset outline of a star polygon."""
    c = np.asarray(center, dtype=np.float64)
    d = points - c
    r = np.sqrt((d * d).sum(1, keepdims=True))
    scale = np.clip((r - np.reshape(by_px, (-1, 1))) / np.maximum(r, 1e-9), 0.0, None)
    return c + d * scale


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd test of many points against one polygon, both in the same px frame.

    Parameters
    ----------
    points : ndarray (M, 2)
    polygon : ndarray (N, 2)

    Returns
    -------
    ndarray (M,) bool
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x, y = pts[:, 0:1], pts[:, 1:2]
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    crosses = (y0 <= y) != (y1 <= y)
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    inside = crosses & (x < xi)
    return (inside.sum(1) % 2) == 1


@njit(cache=True, nogil=True)
def fill_polygon(out, polygon, px, py, value, xs, bitwise_or=False):
    """Set ``out`` to ``value`` (or ``out |= value``) at pixels whose centre lies inside ``polygon``
    (even-odd rule).

    Parameters
    ----------
    out : ndarray (h, w) uint8
        Region whose pixel ``[0, 0]`` is level-0 px (px, py).
    polygon : ndarray (N, 2) float64
        Vertices in level-0 px.
    value : int
    xs : ndarray (N,) float64
        Scratch space for one row's edge crossings.
    bitwise_or : bool
        ``out[r, c] |= value`` instead of ``=`` (bit masks of overlapping regions).
    """
    h, w = out.shape
    n = polygon.shape[0]
    ymin = polygon[:, 1].min()
    ymax = polygon[:, 1].max()
    r0 = max(0, int(math.floor(ymin - py)) - 1)
    r1 = min(h, int(math.ceil(ymax - py)) + 1)
    for r in range(r0, r1):
        yc = py + r + 0.5
        k = 0
        for i in range(n):
            j = i + 1 if i + 1 < n else 0
            ya = polygon[i, 1]
            yb = polygon[j, 1]
            if (ya <= yc) != (yb <= yc):
                xa = polygon[i, 0]
                xs[k] = xa + (yc - ya) * (polygon[j, 0] - xa) / (yb - ya)
                k += 1
        # insertion sort of the few crossings
        for i in range(1, k):
            v = xs[i]
            j = i - 1
            while j >= 0 and xs[j] > v:
                xs[j + 1] = xs[j]
                j -= 1
            xs[j + 1] = v
        for i in range(0, k - 1, 2):
            # pixel c is inside when xs[i] <= px + c + 0.5 < xs[i + 1]
            c0 = int(math.ceil(xs[i] - px - 0.5))
            c1 = int(math.ceil(xs[i + 1] - px - 0.5))
            if c0 < 0:
                c0 = 0
            if c1 > w:
                c1 = w
            for c in range(c0, c1):
                if bitwise_or:
                    out[r, c] |= value
                else:
                    out[r, c] = value


def make_sections(
    rng: np.random.Generator,
    width: int,
    height: int,
    mpp: float,
    n_sections: int,
    min_inner_radius_um: float = 0.0,
) -> list[Section]:
    """Lay out ``n_sections`` lymph-node sections side by side on a slide.

    Parameters
    ----------
    rng : numpy.random.Generator
    width, height : int
        Slide size in level-0 px.
    mpp : float
        Level-0 micrometres per pixel.
    n_sections : int
        1 to 3 sections, placed along the long side of the slide.
    min_inner_radius_um : float
        The first section is made big enough that a disc of this radius (um) fits inside its
        capsule (room for the largest metastasis of the slide).

    Returns
    -------
    list of Section
        The first section is the largest.

    Raises
    ------
    CamelyonError
        When the slide is too small for the required section.
    """
    if not 1 <= n_sections <= 3:
        raise SyntheticError(f"n_sections must be 1..3, got {n_sections}")
    landscape = width >= height
    long_side, short_side = (width, height) if landscape else (height, width)
    margin = 0.04 * short_side
    capsule_um = rng.uniform(35.0, 70.0)
    capsule = capsule_um / mpp
    # cell along the long side for each section; the first one is the widest
    shares = np.array([1.0] + [rng.uniform(0.45, 0.8) for _ in range(n_sections - 1)])
    shares /= shares.sum()
    sections = []
    start = 0.0
    for i in range(n_sections):
        cell_long = shares[i] * long_side
        half_long = cell_long / 2 - margin
        half_short = short_side / 2 - margin
        roughness = rng.uniform(0.05, 0.12)
        # radii relative to the cell; the outline may reach 1 + roughness * 0.9 (sum of harmonics)
        fat_rel = rng.uniform(0.0, 0.18)
        bound = 1.0 + 0.95 * roughness + fat_rel
        size = rng.uniform(0.8, 0.97) if i > 0 else 0.97
        a_long = half_long / bound * size
        a_short = half_short / bound * size * (rng.uniform(0.7, 1.0) if i > 0 else 1.0)
        if i == 0:
            need = min_inner_radius_um / mpp
            r_min_inner = min(a_long, a_short) * (1.0 - 0.95 * roughness) - capsule
            if need > 0 and r_min_inner < need:
                # make room: a smoother, rounder outline with little perinodal fat
                roughness = 0.04
                fat_rel = min(fat_rel, 0.04)
                bound = 1.0 + 0.95 * roughness + fat_rel
                a_long = half_long / bound
                a_short = half_short / bound
                r_min_inner = min(a_long, a_short) * (1.0 - 0.95 * roughness) - capsule
                if r_min_inner < need:
                    raise CamelyonError(
                        f"slide of {width} x {height} px at {mpp} um/px "
                        f"({width * mpp / 1000:.2f} x {height * mpp / 1000:.2f} mm) is too small for a "
                        f"lesion of {2 * min_inner_radius_um / 1000:.2f} mm; use a larger --size or a coarser --mpp"
                    )
        c_long = start + cell_long / 2 + rng.uniform(-0.03, 0.03) * cell_long
        c_short = short_side / 2 + rng.uniform(-0.04, 0.04) * short_side
        start += cell_long
        cx, cy = (c_long, c_short) if landscape else (c_short, c_long)
        rx, ry = (a_long, a_short) if landscape else (a_short, a_long)
        angle = rng.uniform(-0.12, 0.12)
        radius = star_radius(rng, OUTLINE_VERTICES, roughness)
        node = ellipse_points(cx, cy, rx, ry, angle, radius)
        # perinodal fat: thick on some sides, absent on others
        theta = np.arange(OUTLINE_VERTICES) * (2 * np.pi / OUTLINE_VERTICES)
        fat = np.clip(np.cos(theta - rng.uniform(0, 2 * np.pi)) + rng.uniform(-0.6, 0.3), 0, None)
        fat += 0.25 * np.clip(np.cos(2 * theta + rng.uniform(0, 2 * np.pi)), 0, None)
        fat_px = fat / max(fat.max(), 1e-9) * fat_rel * min(rx, ry) + 4.0 / mpp
        outer = shrink_radially(node, (cx, cy), -fat_px)
        inner = shrink_radially(node, (cx, cy), capsule * (0.8 + 0.4 * rng.uniform(size=1)))
        sections.append(Section((float(cx), float(cy)), outer, node, inner))
    return sections
