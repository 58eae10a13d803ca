"""The cells of a lymph-node section, painted as stain concentrations (Numba kernels).

Cells are not stored anywhere: each kind of cell sits on its own jittered lattice, and a lattice
site's nucleus (whether it exists, where exactly, its size, shape and chromatin) is drawn from a
hash of the slide seed and the site index (:mod:`camelyon.synthetic.noise`). A painter asks for
the nuclei whose centre falls inside its (padded) region and only draws those whose centre has
the right tissue class, so a tile never needs the rest of the slide.

Kinds of cells (sizes in micrometres, converted to px by the caller):

* lymphocytes: small (6-7 um), round, uniformly dark nuclei, densely packed;
* histiocytes / endothelial cells: scattered larger oval pale nuclei (a confounder of tumour);
* fibroblasts of the capsule: thin spindle-shaped nuclei;
* adipocytes (fat): large empty polygonal cells (a Voronoi pattern) with thin pink walls;
* tumour cells: large (10-15 um), irregular, pale (vesicular) nuclei with a dark rim, coarse
  chromatin clumps and a nucleolus, cohesive and evenly spaced.

Every kernel writes with ``max`` into a concentration map ``(h, w) float32`` whose pixel
``[0, 0]`` is at level-0 px ``(px, py)``, and reads the tissue class map of the same region.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from camelyon.synthetic.noise import hash2, next_hash, to_unit

#: Tissue classes of the class map.
BACKGROUND, PERINODAL_FAT, CAPSULE, PARENCHYMA, FAT, TUMOUR = 0, 1, 2, 3, 4, 5


@njit(cache=True, inline="always")
def _soft_edge(d, radius_px):
    """1 inside, 0 outside, a ~1 px linear ramp across normalised distance d == 1."""
    v = (1.0 - d) * radius_px + 0.5
    if v <= 0.0:
        return 0.0
    if v >= 1.0:
        return 1.0
    return v


@njit(cache=True, inline="always")
def disc_box(cx, cy, radius, px, py, h, w):
    """Rows ``r0:r1`` and columns ``c0:c1`` of an (h, w) region at level-0 (px, py) that can hold a disc of
    ``radius`` px centred at level-0 (cx, cy) (one pixel of slack before, two after; clipped)."""
    return (max(0, int(cy - radius - 1.0) - py), min(h, int(cy + radius + 2.0) - py),
            max(0, int(cx - radius - 1.0) - px), min(w, int(cx + radius + 2.0) - px))


@njit(cache=True, inline="always")
def disc_edge(px, py, r, c, cx, cy, radius):
    """Distance of pixel ``(r, c)`` (region at level-0 px, py) from level-0 (cx, cy) in units of ``radius``,
    and the soft-edge weight of a disc of that radius there."""
    dx = px + c + 0.5 - cx
    dy = py + r + 0.5 - cy
    dn = math.sqrt(dx * dx + dy * dy) / radius
    return dn, _soft_edge(dn, radius)


@njit(cache=True, inline="always")
def ellipse_uv(dx, dy, cau, sau, cbv, sbv):
    """Coordinates of offset (dx, dy) along an ellipse's axes, each in units of its semi-axis
    (``cau = cos(angle) / a``, ``sau = sin(angle) / a``, ``cbv``, ``sbv`` likewise with ``b``), and ``u^2 + v^2``."""
    u = dx * cau + dy * sau
    v = dy * cbv - dx * sbv
    return u, v, u * u + v * v


@njit(cache=True, inline="always")
def lattice_window(px, py, w, h, reach, spacing):
    """First and last lattice index in x, then in y, of the sites that may lie within ``reach`` px of the
    region ``[px, px + w) x [py, py + h)``."""
    return (int(math.floor((px - reach) / spacing)), int(math.floor((px + w + reach) / spacing)),
            int(math.floor((py - reach) / spacing)), int(math.floor((py + h + reach) / spacing)))


@njit(cache=True, inline="always")
def _lattice_site(cls, want, px, py, seed, salt, gx, gy, spacing, jitter):
    """The jittered centre of lattice site ``(gx, gy)`` and whether a nucleus may be drawn there.

    Parameters
    ----------
    cls : ndarray (h, w) uint8
        Tissue class map; its pixel ``[0, 0]`` is at level-0 px ``(px, py)``.
    want : int
        Tissue class the centre must fall in.
    seed, salt, spacing, jitter
        As in :func:`splat_nuclei`.

    Returns
    -------
    found : bool
        The centre lies inside ``cls`` on a pixel of class ``want``.
    cx, cy : float
        Level-0 px of the centre.
    ir, ic : int
        Row and column of the centre's pixel in ``cls`` (meaningful when ``found``).
    s : uint64
        The site's hash, advanced past the centre: the first of the nucleus's own draws.
    """
    h, w = cls.shape
    s = hash2(seed, gx, gy, salt)
    cx = (gx + 0.5 + jitter * (to_unit(s) - 0.5)) * spacing
    s = next_hash(s)
    cy = (gy + 0.5 + jitter * (to_unit(s) - 0.5)) * spacing
    ic = int(math.floor(cx)) - px
    ir = int(math.floor(cy)) - py
    found = ic >= 0 and ir >= 0 and ic < w and ir < h and cls[ir, ic] == want
    return found, cx, cy, ir, ic, next_hash(s)


@njit(cache=True, nogil=True)
def splat_nuclei(conc, cls, want, px, py, seed, salt, spacing, jitter, probability, density,
                 r_min, r_max, aspect_min, aspect_max, peak, texture):
    """Draw elliptical nuclei (lymphocytes, histiocytes, fibroblasts) into ``conc``.

    Parameters
    ----------
    conc : ndarray (h, w) float32
        Hematoxylin concentration, updated with ``max``.
    cls : ndarray (h, w) uint8
        Tissue class map of the same region.
    want : int
        Tissue class a nucleus centre must fall in.
    px, py : int
        Level-0 px of ``conc[0, 0]``.
    seed : uint64
    salt : int
        Identifies this cell kind's lattice.
    spacing : float
        Lattice spacing in px; ``jitter`` in (0, 1) moves centres by up to +-jitter/2 spacing.
    probability : float
        Chance that a site holds a nucleus, multiplied by ``density`` (h, w) at the centre.
    r_min, r_max : float
        Range of the long semi-axis in px; ``aspect_min``, ``aspect_max`` the range of the
        short/long axis ratio.
    peak : float
        Hematoxylin concentration of the nucleus; ``texture`` its relative pixel-to-pixel variation.
    """
    h, w = conc.shape
    gx0, gx1, gy0, gy1 = lattice_window(px, py, w, h, r_max + spacing, spacing)
    for gy in range(gy0, gy1 + 1):
        for gx in range(gx0, gx1 + 1):
            found, cx, cy, ir, ic, s = _lattice_site(cls, want, px, py, seed, salt, gx, gy, spacing, jitter)
            if not found:
                continue
            if to_unit(s) >= probability * density[ir, ic]:
                continue
            s = next_hash(s)
            a = r_min + (r_max - r_min) * to_unit(s)
            s = next_hash(s)
            b = a * (aspect_min + (aspect_max - aspect_min) * to_unit(s))
            s = next_hash(s)
            ang = math.pi * to_unit(s)
            s = next_hash(s)
            strength = peak * (0.85 + 0.3 * to_unit(s))
            ca, sa = math.cos(ang) / a, math.sin(ang) / a
            cb, sb = math.cos(ang) / b, math.sin(ang) / b
            lim = (1.0 + 0.5 / b) ** 2
            r0, r1, c0, c1 = disc_box(cx, cy, a, px, py, h, w)
            for r in range(r0, r1):
                dy = py + r + 0.5 - cy
                for c in range(c0, c1):
                    u, v, d2 = ellipse_uv(px + c + 0.5 - cx, dy, ca, sa, cb, sb)
                    if d2 >= lim:
                        continue
                    e = _soft_edge(math.sqrt(d2), b)
                    if e <= 0.0:
                        continue
                    t = 1.0
                    if texture > 0.0:
                        t = 1.0 + texture * (to_unit(hash2(seed, px + c, py + r, salt + 1)) - 0.5)
                    val = strength * e * t
                    if val > conc[r, c]:
                        conc[r, c] = val


@njit(cache=True, nogil=True, inline="always")
def _vesicular_value(dn, b, shade, interior, rim, q, clump, dd2, nr):
    """Hematoxylin of a vesicular nucleus at normalised radius ``dn`` (0 centre, 1 edge)."""
    e = _soft_edge(dn, b)
    if e <= 0.0:
        return 0.0
    val = interior * shade
    if dn > 0.78:  # nuclear membrane: darker in the outer fifth
        val += rim * min(1.0, (dn - 0.78) * 6.0)
    if q > 0.5:  # coarse chromatin clumps
        val += clump * (q - 0.5) * 2.0
    if dd2 < nr * nr:  # nucleolus
        val += 0.9 * min(1.0, nr - math.sqrt(dd2))
    return val * e


@njit(cache=True, nogil=True)
def draw_vesicular(conc, px, py, s, cx, cy, r_min, r_max, aspect_min, irregularity, interior, rim,
                   nucleolus_px, chromatin, clump, lobes5):
    """One irregular vesicular nucleus centred at level-0 (cx, cy); its draws start from hash ``s``.

    The outline is an ellipse lobulated by ``cos(3t + ph1)`` and, with ``lobes5``, ``0.6 cos(5t + ph2)``
    (the easy preset's tumour cells; the challenge preset draws the third harmonic only).
    """
    h, w = conc.shape
    a = r_min + (r_max - r_min) * to_unit(s)
    s = next_hash(s)
    b = a * (aspect_min + (1.0 - aspect_min) * to_unit(s))
    s = next_hash(s)
    ang = math.pi * to_unit(s)
    s = next_hash(s)
    ph1 = 2.0 * math.pi * to_unit(s)
    s = next_hash(s)
    ph2 = 0.0
    if lobes5:
        ph2 = 2.0 * math.pi * to_unit(s)
        s = next_hash(s)
    amp = irregularity * (0.5 + to_unit(s))
    s = next_hash(s)
    nang = 2.0 * math.pi * to_unit(s)
    s = next_hash(s)
    noff = 0.35 * to_unit(s)
    s = next_hash(s)
    shade = 0.8 + 0.4 * to_unit(s)
    nx = cx + noff * a * math.cos(nang)
    ny = cy + noff * b * math.sin(nang)
    ca, sa = math.cos(ang), math.sin(ang)
    cau, sau = ca / a, sa / a
    cbv, sbv = ca / b, sa / b
    c1p, s1p = math.cos(ph1), math.sin(ph1)
    c2p, s2p = math.cos(ph2), math.sin(ph2)
    ext = a * (1.0 + 1.6 * amp) + 1.5
    lim = (1.0 + 1.6 * amp + 0.5 / b) ** 2
    r0 = max(0, int(cy - ext) - py)
    r1 = min(h, int(cy + ext + 1.0) - py)
    c0 = max(0, int(cx - ext) - px)
    c1 = min(w, int(cx + ext + 1.0) - px)
    nr = nucleolus_px + 0.5
    for r in range(r0, r1):
        dy = py + r + 0.5 - cy
        for c in range(c0, c1):
            u, v, d2 = ellipse_uv(px + c + 0.5 - cx, dy, cau, sau, cbv, sbv)
            if d2 >= lim:
                continue
            d = math.sqrt(d2)
            # lobulated outline: cos(3t + ph1), cos(5t + ph2) from cos t, sin t (no trig)
            if d > 1e-9:
                ct = u / d
                st = v / d
            else:
                ct = 1.0
                st = 0.0
            ct2 = ct * ct
            st2 = st * st
            c3 = ct * (4.0 * ct2 - 3.0)
            s3 = st * (3.0 - 4.0 * st2)
            bound = 1.0 + amp * (c3 * c1p - s3 * s1p)
            if lobes5:
                c5 = ct * (16.0 * ct2 * ct2 - 20.0 * ct2 + 5.0)
                s5 = st * (16.0 * st2 * st2 - 20.0 * st2 + 5.0)
                bound += 0.6 * amp * (c5 * c2p - s5 * s2p)
            ddx = px + c + 0.5 - nx
            ddy = py + r + 0.5 - ny
            val = _vesicular_value(d / bound, b, shade, interior, rim, chromatin[r, c], clump,
                                   ddx * ddx + ddy * ddy, nr)
            if val > conc[r, c]:
                conc[r, c] = val


@njit(cache=True, nogil=True)
def splat_vesicular(conc, cls, want, px, py, seed, salt, spacing, jitter, probability, r_min, r_max,
                    aspect_min, irregularity, interior, rim, nucleolus_px, chromatin, clump, reach_lobes=2.4,
                    lobes5=False):
    """Vesicular nuclei on a jittered lattice where the class map is ``want``.

    Used for tumour (both presets), centroblasts and sinus histiocytes (challenge preset): the same
    drawing with different sizes, spacing and contrast, so that only those tell them apart.

    Parameters
    ----------
    conc : ndarray (h, w) float32
        Hematoxylin concentration, updated with ``max``.
    cls : ndarray (h, w) uint8
        Tissue class map; nuclei are drawn where the centre is ``want``.
    px, py, seed, salt, spacing, jitter, probability
        As in :func:`splat_nuclei` (no density field).
    r_min, r_max, aspect_min : float
        Long semi-axis range (px) and smallest axis ratio.
    irregularity : float
        Amplitude of the lobulated outline (fraction of the radius).
    interior, rim : float
        Hematoxylin of the pale nucleoplasm and extra hematoxylin of the nuclear membrane.
    nucleolus_px : float
        Radius of the nucleolus in px.
    chromatin : ndarray (h, w) float32
        Fine smooth noise in [0, 1] (clumps of ~1.5 um); ``clump`` the concentration a clump adds.
    reach_lobes : float
        Lattice sites within ``r_max * (1 + reach_lobes * irregularity) + spacing`` px are visited.
    lobes5 : bool
        Fifth-harmonic lobes too (see :func:`draw_vesicular`).
    """
    h, w = conc.shape
    gx0, gx1, gy0, gy1 = lattice_window(px, py, w, h, r_max * (1.0 + reach_lobes * irregularity) + spacing, spacing)
    for gy in range(gy0, gy1 + 1):
        for gx in range(gx0, gx1 + 1):
            found, cx, cy, ir, ic, s = _lattice_site(cls, want, px, py, seed, salt, gx, gy, spacing, jitter)
            if not found or to_unit(s) >= probability:
                continue
            draw_vesicular(conc, px, py, next_hash(s), cx, cy, r_min, r_max, aspect_min, irregularity,
                           interior, rim, nucleolus_px, chromatin, clump, lobes5)


@njit(cache=True, nogil=True)
def voronoi_sites(px, py, h, w, seed, salt, spacing):
    """Sites of a Voronoi pattern around the region ``(px, py, w, h)``: one per cell of a lattice ``spacing``
    px apart, jittered within the cell by position hashes.

    Returns
    -------
    gx0, gy0 : int
        Lattice index of site ``[0, 0]`` (one cell before the region).
    fx, fy : ndarray (ny, nx) float64
        Level-0 position of each site.
    hashes : ndarray (ny, nx) uint64
        The next hash of each site, for further draws (lumens, sizes, ...).
    """
    gx0 = int(math.floor(px / spacing)) - 1
    gy0 = int(math.floor(py / spacing)) - 1
    nx = int(math.floor((px + w) / spacing)) - gx0 + 2
    ny = int(math.floor((py + h) / spacing)) - gy0 + 2
    fx = np.empty((ny, nx), dtype=np.float64)
    fy = np.empty((ny, nx), dtype=np.float64)
    hashes = np.empty((ny, nx), dtype=np.uint64)
    for j in range(ny):
        for i in range(nx):
            s = hash2(seed, gx0 + i, gy0 + j, salt)
            fx[j, i] = (gx0 + i + 0.1 + 0.8 * to_unit(s)) * spacing
            s = next_hash(s)
            fy[j, i] = (gy0 + j + 0.1 + 0.8 * to_unit(s)) * spacing
            hashes[j, i] = next_hash(s)
    return gx0, gy0, fx, fy, hashes


@njit(cache=True, nogil=True, inline="always")
def nearest_two(x, y, jx, jy, fx, fy):
    """Squared distances from (x, y) to the nearest and second-nearest site among the 3 x 3 sites around
    lattice cell ``(jy, jx)``, and the index ``(j, i)`` of the nearest."""
    d1 = 1e30
    d2 = 1e30
    bj = jy
    bi = jx
    for j in range(jy - 1, jy + 2):
        for i in range(jx - 1, jx + 2):
            ddx = x - fx[j, i]
            ddy = y - fy[j, i]
            dd = ddx * ddx + ddy * ddy
            if dd < d1:
                d2 = d1
                d1 = dd
                bj = j
                bi = i
            elif dd < d2:
                d2 = dd
    return d1, d2, bj, bi


@njit(cache=True, nogil=True)
def paint_fat(conc, eos, cls, px, py, seed, salt, spacing, wall_px, wall_e, wall_h):
    """Adipocytes: a Voronoi pattern of empty cells with thin walls, where ``cls`` is fat.

    Parameters
    ----------
    conc, eos : ndarray (h, w) float32
        Hematoxylin / eosin maps; fat pixels are set (not maxed): empty inside, ``wall_e`` /
        ``wall_h`` on walls.
    cls : ndarray (h, w) uint8
        Pixels of class ``PERINODAL_FAT`` or ``FAT`` are painted.
    spacing : float
        Lattice spacing in px (the typical adipocyte diameter).
    wall_px : float
        Wall thickness in px.
    """
    h, w = conc.shape
    gx0, gy0, fx, fy, _ = voronoi_sites(px, py, h, w, seed, salt, spacing)
    inv = 1.0 / spacing
    for r in range(h):
        y = py + r + 0.5
        jy = int(math.floor(y * inv)) - gy0
        for c in range(w):
            k = cls[r, c]
            if k != PERINODAL_FAT and k != FAT:
                continue
            x = px + c + 0.5
            d1, d2, _, _ = nearest_two(x, y, int(math.floor(x * inv)) - gx0, jy, fx, fy)
            gap = math.sqrt(d2) - math.sqrt(d1)
            e = 1.0 - gap / wall_px
            if e < 0.0:
                e = 0.0
            elif e > 1.0:
                e = 1.0
            eos[r, c] = 0.03 + wall_e * e
            conc[r, c] = 0.01 + wall_h * e
