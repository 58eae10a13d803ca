"""Numba kernels of the challenge preset: look-alike cells, lobular and isolated tumour cells, masks.

Same conventions as :mod:`camelyon.synthetic.cells`: every map is ``(h, w)`` float32 with pixel
``[0, 0]`` at level-0 px ``(px, py)``; randomness is a hash of the slide seed and a lattice site
(or a cell index); nuclei are written with ``max`` so that drawing order does not matter.

Cell kinds (sizes in um, converted to px by the caller):

* vesicular nuclei of any class (:func:`camelyon.synthetic.cells.splat_vesicular`, shared with the easy
  preset's tumour): centroblasts of germinal centres,
  sinus histiocytes, ductal tumour cells: large, pale, with a rim, chromatin and a nucleolus;
* tumour cells at given centres (:func:`paint_cells_at`): isolated tumour cells and small
  clusters, drawn over whatever lies beneath (their cytoplasm pushes lymphocytes aside);
* lobular carcinoma (:func:`splat_files`): small discohesive cells lined up in single files;
* tingible-body macrophages (:func:`splat_tingible`): large pale cells holding dark debris;
* red blood cells (:func:`splat_rbc`): eosin discs with a paler centre, no nucleus.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from camelyon.synthetic.cells import (
    _lattice_site,
    disc_box,
    disc_edge,
    draw_vesicular,
    lattice_window,
    nearest_two,
    voronoi_sites,
)
from camelyon.synthetic.noise import hash2, next_hash, to_unit
from camelyon.synthetic.painter import lut_value, noisy_byte, stain_at


@njit(cache=True, nogil=True)
def _clear_disc(conc, eos, px, py, cx, cy, radius, h_value, e_value):
    """Set a soft disc of cytoplasm (pushes aside the nuclei drawn before)."""
    h, w = conc.shape
    r0, r1, c0, c1 = disc_box(cx, cy, radius, px, py, h, w)
    for r in range(r0, r1):
        for c in range(c0, c1):
            _, e = disc_edge(px, py, r, c, cx, cy, radius)
            if e <= 0.0:
                continue
            conc[r, c] = conc[r, c] * (1.0 - e) + h_value * e
            eos[r, c] = eos[r, c] * (1.0 - e) + e_value * e


@njit(cache=True, nogil=True)
def paint_cells_at(conc, eos, cells, px, py, seed, salt, r_min, r_max, cyto_px, cyto_e, interior, rim,
                   nucleolus_px, chromatin, clump, irregularity):
    """Tumour cells at given level-0 centres (isolated tumour cells and small clusters).

    Parameters
    ----------
    conc, eos : ndarray (h, w) float32
        Hematoxylin / eosin maps.
    cells : ndarray (N, 3) float64
        ``x, y, key`` per cell: level-0 centre and an integer key (unique on the slide) that seeds it.
    cyto_px, cyto_e : float
        Radius (px) and eosin of the cell's cytoplasm, painted first over what lies there.
    Others as in :func:`camelyon.synthetic.cells.splat_vesicular`.
    """
    h, w = conc.shape
    reach = max(cyto_px, r_max * (1.0 + 2.4 * irregularity)) + 2.0
    for i in range(cells.shape[0]):
        cx = cells[i, 0]
        cy = cells[i, 1]
        if cx < px - reach or cx > px + w + reach or cy < py - reach or cy > py + h + reach:
            continue
        s = hash2(seed, int(cells[i, 2]), 0, salt)
        _clear_disc(conc, eos, px, py, cx, cy, cyto_px * (0.85 + 0.3 * to_unit(s)), 0.06, cyto_e)
        draw_vesicular(conc, px, py, next_hash(s), cx, cy, r_min, r_max, 0.7, irregularity, interior, rim,
                       nucleolus_px, chromatin, clump, False)


@njit(cache=True, nogil=True)
def splat_files(conc, eos, cls, want, px, py, seed, salt, angle, along, across, jitter, probability,
                r_min, r_max, interior, rim, cyto_px, cyto_e):
    """Lobular carcinoma: small round cells in single files (lines ``across`` px apart) where ``cls`` is ``want``.

    The lattice is rotated by ``angle`` (radians): sites ``along`` px apart on lines ``across`` px
    apart, each line wavy. Each cell: a cytoplasm disc of radius ``cyto_px`` with eosin ``cyto_e``
    (pushing lymphocytes aside), a small round eccentric nucleus (``r_min``-``r_max`` px) with a thin rim.
    """
    h, w = conc.shape
    ca, sa = math.cos(angle), math.sin(angle)
    reach = max(cyto_px, r_max) + max(along, across) * 1.5
    # bounding box of the region in rotated coordinates (u along the files, v across)
    umin, umax, vmin, vmax = 1e30, -1e30, 1e30, -1e30
    for k in range(4):
        xx = px - reach if k % 2 == 0 else px + w + reach
        yy = py - reach if k < 2 else py + h + reach
        u = xx * ca + yy * sa
        v = -xx * sa + yy * ca
        umin, umax = min(umin, u), max(umax, u)
        vmin, vmax = min(vmin, v), max(vmax, v)
    for gv in range(int(math.floor(vmin / across)), int(math.floor(vmax / across)) + 1):
        line = hash2(seed, gv, 0, salt + 7)
        phase = 2.0 * math.pi * to_unit(line)
        for gu in range(int(math.floor(umin / along)), int(math.floor(umax / along)) + 1):
            s = hash2(seed, gu, gv, salt)
            u = (gu + 0.5 + jitter * (to_unit(s) - 0.5)) * along
            s = next_hash(s)
            v = gv * across + 0.6 * across * math.sin(u / (9.0 * along) + phase) + 0.15 * along * (to_unit(s) - 0.5)
            s = next_hash(s)
            cx = u * ca - v * sa
            cy = u * sa + v * ca
            ic = int(math.floor(cx)) - px
            ir = int(math.floor(cy)) - py
            if ic < 0 or ir < 0 or ic >= w or ir >= h or cls[ir, ic] != want:
                continue
            if to_unit(s) >= probability:
                continue
            s = next_hash(s)
            _clear_disc(conc, eos, px, py, cx, cy, cyto_px * (0.85 + 0.3 * to_unit(s)), 0.05, cyto_e)
            s = next_hash(s)
            a = r_min + (r_max - r_min) * to_unit(s)
            s = next_hash(s)
            off = 0.4 * a * to_unit(s)
            s = next_hash(s)
            ang = 2.0 * math.pi * to_unit(s)
            nx = cx + off * math.cos(ang)
            ny = cy + off * math.sin(ang)
            r0, r1, c0, c1 = disc_box(nx, ny, a, px, py, h, w)
            for r in range(r0, r1):
                for c in range(c0, c1):
                    dn, e = disc_edge(px, py, r, c, nx, ny, a)
                    if e <= 0.0:
                        continue
                    val = interior
                    if dn > 0.7:
                        val += rim * min(1.0, (dn - 0.7) * 5.0)
                    val *= e
                    if val > conc[r, c]:
                        conc[r, c] = val


@njit(cache=True, nogil=True)
def splat_tingible(conc, eos, cls, want, px, py, seed, salt, spacing, probability, r_cell, debris_px,
                   cyto_e, debris_h):
    """Tingible-body macrophages: large pale cells (radius ``r_cell`` px) with 2-5 dark debris bodies."""
    h, w = conc.shape
    gx0, gx1, gy0, gy1 = lattice_window(px, py, w, h, r_cell + spacing, spacing)
    for gy in range(gy0, gy1 + 1):
        for gx in range(gx0, gx1 + 1):
            found, cx, cy, ir, ic, s = _lattice_site(cls, want, px, py, seed, salt, gx, gy, spacing, 0.8)
            if not found or to_unit(s) >= probability:
                continue
            s = next_hash(s)
            rc = r_cell * (0.8 + 0.4 * to_unit(s))
            _clear_disc(conc, eos, px, py, cx, cy, rc, 0.03, cyto_e)
            s = next_hash(s)
            n = 2 + int(4.0 * to_unit(s))
            for _ in range(n):
                s = next_hash(s)
                rr = 0.6 * rc * math.sqrt(to_unit(s))
                s = next_hash(s)
                th = 2.0 * math.pi * to_unit(s)
                s = next_hash(s)
                rd = debris_px * (0.6 + 0.8 * to_unit(s))
                dx0 = cx + rr * math.cos(th)
                dy0 = cy + rr * math.sin(th)
                r0, r1, c0, c1 = disc_box(dx0, dy0, rd, px, py, h, w)
                for r in range(r0, r1):
                    for c in range(c0, c1):
                        val = debris_h * disc_edge(px, py, r, c, dx0, dy0, rd)[1]
                        if val > conc[r, c]:
                            conc[r, c] = val


@njit(cache=True, nogil=True)
def splat_rbc(eos, conc, cls, want, px, py, seed, salt, spacing, jitter, probability, radius, e_peak):
    """Red blood cells: eosin discs with a paler centre (biconcave), no nucleus, where ``cls`` is ``want``."""
    h, w = eos.shape
    gx0, gx1, gy0, gy1 = lattice_window(px, py, w, h, radius + spacing, spacing)
    for gy in range(gy0, gy1 + 1):
        for gx in range(gx0, gx1 + 1):
            found, cx, cy, ir, ic, s = _lattice_site(cls, want, px, py, seed, salt, gx, gy, spacing, jitter)
            if not found or to_unit(s) >= probability:
                continue
            s = next_hash(s)
            rad = radius * (0.85 + 0.3 * to_unit(s))
            r0, r1, c0, c1 = disc_box(cx, cy, rad, px, py, h, w)
            for r in range(r0, r1):
                for c in range(c0, c1):
                    dn, e = disc_edge(px, py, r, c, cx, cy, rad)
                    if e <= 0.0:
                        continue
                    val = e_peak * e * (0.7 + 0.3 * min(1.0, dn * 1.4))
                    if val > eos[r, c]:
                        eos[r, c] = val
                        conc[r, c] = 0.02


@njit(cache=True, nogil=True)
def class_stain(cls, hem, eos, fibre, table_h, table_e, fibrous):
    """Stroma / cytoplasm concentrations per tissue class from two lookup tables.

    Classes with ``fibrous[k]`` get wavy collagen: eosin times ``0.7 + 0.45 * fibre``.
    """
    h, w = cls.shape
    for r in range(h):
        for c in range(w):
            k = cls[r, c]
            hem[r, c] = table_h[k]
            if fibrous[k]:
                eos[r, c] = table_e[k] * (0.7 + 0.45 * fibre[r, c])
            else:
                eos[r, c] = table_e[k]


@njit(cache=True, nogil=True)
def to_rgb_challenge(out, hem, eos, dark, ink, thick, hfield, light, stitch, m, od, ink_od, background,
                     lut, lut_scale, noise, seed, px, py, noise_salt):
    """Beer-Lambert colour with artefacts: neutral ``dark`` OD, pen ``ink`` OD, light ``light * stitch``.

    ``hem``, ``eos``, ``dark``, ``ink`` cover the padded region (border ``m``); ``thick``, ``hfield``,
    ``light`` (h, w) and ``stitch`` (w,) the unpadded one.
    """
    h, w, _ = out.shape
    nlut = lut.shape[0] - 1
    for r in range(h):
        for c in range(w):
            hh, ee = stain_at(hem, eos, thick, hfield, r, c, m)
            dd = dark[r + m, c + m]
            kk = ink[r + m, c + m]
            li = light[r, c] * stitch[c]
            hs = hash2(seed, px + c, py + r, noise_salt)
            for ch in range(3):
                transmitted = lut_value(hh * od[0, ch] + ee * od[1, ch] + dd + kk * ink_od[ch], lut, lut_scale, nlut)
                out[r, c, ch] = noisy_byte(background[ch] * li * transmitted, noise, hs, ch)


@njit(cache=True, nogil=True)
def tumour_architecture(cls, px, py, seed, salt, want, spacing, septum_px, lumen_prob, lumen_min, lumen_max,
                        stroma_class, lumen_class):
    """Split ductal carcinoma (class ``want``) into nests with stromal septa and glandular lumens.

    A Voronoi pattern of nests (sites on a jittered lattice ``spacing`` px apart, from position
    hashes): pixels within ``septum_px`` of a nest border become ``stroma_class``; in a nest whose
    site draws below ``lumen_prob``, pixels within a radius in ``[lumen_min, lumen_max)`` px of
    the site become ``lumen_class``. Only pixels of class ``want`` change.
    """
    h, w = cls.shape
    gx0, gy0, fx, fy, hashes = voronoi_sites(px, py, h, w, seed, salt, spacing)
    lr = np.empty(fx.shape, dtype=np.float64)
    for j in range(fx.shape[0]):
        for i in range(fx.shape[1]):
            s = hashes[j, i]
            has = to_unit(s) < lumen_prob
            s = next_hash(s)
            lr[j, i] = lumen_min + (lumen_max - lumen_min) * to_unit(s) if has else -1.0
    inv = 1.0 / spacing
    for r in range(h):
        y = py + r + 0.5
        jy = int(math.floor(y * inv)) - gy0
        for c in range(w):
            if cls[r, c] != want:
                continue
            x = px + c + 0.5
            d1, d2, bj, bi = nearest_two(x, y, int(math.floor(x * inv)) - gx0, jy, fx, fy)
            best = lr[bj, bi]
            if math.sqrt(d2) - math.sqrt(d1) < septum_px:
                cls[r, c] = stroma_class
            elif best > 0.0 and d1 < best * best:
                cls[r, c] = lumen_class
