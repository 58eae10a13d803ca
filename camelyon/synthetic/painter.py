"""Render any rectangle of a synthetic slide at level 0, deterministically, without the rest of it.

A :class:`SlidePlan` is everything that decides a slide's pixels: its size and resolution, its
seed, its centre's staining, the tissue sections and the lesion polygons. A :class:`Painter`
turns a plan into pixels one region at a time:

1. tissue classes from the outlines (background, perinodal fat, capsule, parenchyma, fat islands,
   tumour), filled polygon by polygon with a scanline rule;
2. stain concentrations: eosin and a little hematoxylin for stroma and cytoplasm per class, then
   the cells (:mod:`camelyon.synthetic.cells`): fat, lymphocytes, histiocytes, fibroblasts, tumour;
3. slow variations of stain amount (section thickness) across the slide;
4. focus blur (Gaussian, per centre), Beer-Lambert colour, sensor noise.

Randomness comes only from hashes of level-0 positions, and the region is padded by more than a
nucleus plus the blur reach, so a pixel's value does not depend on which region it was painted in.

Examples
--------
>>> from camelyon.synthetic.cohort import plan_slide
>>> plan = plan_slide(seed=0, patient=0, node=0, center=0, label="macro", mpp=2.0, size=(2048, 2048))
>>> Painter(plan).paint(0, 0, 256, 128).shape
(128, 256, 3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from camelyon.synthetic import cells
from camelyon.synthetic.cells import CAPSULE, FAT, PARENCHYMA, PERINODAL_FAT, TUMOUR
from camelyon.synthetic.lesions import TUMOUR_CELL_SPACING_UM, Lesion
from camelyon.synthetic.noise import hash2, value_noise
from camelyon.synthetic.stains import CenterStain
from camelyon.synthetic.tissue_layout import Section, fill_polygon

#: Largest extent of any nucleus from its centre, in um (sets the padding of a painted region).
MAX_NUCLEUS_REACH_UM = 12.0

# salts of the independent random fields of a slide
_SALT_LYMPH, _SALT_HISTIO, _SALT_FIBRO, _SALT_TUMOUR, _SALT_FAT = 10, 20, 30, 40, 50
_SALT_FATFIELD, _SALT_DENSITY, _SALT_THICK, _SALT_HFIELD, _SALT_NOISE, _SALT_FIBRE = 60, 61, 62, 63, 64, 65
_SALT_CHROMATIN = 66


@dataclass
class SlidePlan:
    """Everything that decides a synthetic slide's pixels.

    Attributes
    ----------
    name : str
        Slide file stem, e.g. ``patient_003_node_1``.
    width, height : int
        Level-0 size in px.
    mpp : float
        Level-0 micrometres per pixel.
    seed : int
        64-bit seed of the position hashes (from numpy SeedSequence of the cohort seed, patient, node).
    center : int
        Centre (hospital) index.
    stain : CenterStain
        The slide's staining (the centre's, slightly varied per slide).
    sections : list of Section
    lesions : list of Lesion
        Largest first; empty for a negative slide.
    fat_fraction : float
        How much of the parenchyma is replaced by fat islands (0..1).
    difficulty : {"easy", "challenge"}
        The preset; ``"challenge"`` plans are painted by
        :class:`camelyon.synthetic.challenge_painter.ChallengePainter`.
    features : list of camelyon.synthetic.challenge_plan.Feature
        Challenge preset: look-alike and artefact regions (empty in the easy preset).
    extras : camelyon.synthetic.challenge_plan.ChallengeExtras or None
        Challenge preset: slide-wide settings (sinus, lobular files, pen ink, light).
    """

    name: str
    width: int
    height: int
    mpp: float
    seed: int
    center: int
    stain: CenterStain
    sections: list[Section]
    lesions: list[Lesion] = field(default_factory=list)
    fat_fraction: float = 0.15
    difficulty: str = "easy"
    features: list = field(default_factory=list)
    extras: object = None

    @property
    def largest_diameter_mm(self) -> float:
        """Longest diameter of the largest lesion in mm (0 for a negative slide)."""
        return max((les.diameter_mm for les in self.lesions), default=0.0)

    @property
    def label(self) -> str:
        """Slide label measured from the lesion polygons."""
        from camelyon.staging import slide_label_from_diameter

        return slide_label_from_diameter(self.largest_diameter_mm or None)


@njit(cache=True, nogil=True)
def _gauss_kernel(sigma):
    radius = max(1, int(math.ceil(3.0 * sigma)))
    k = np.empty(2 * radius + 1, dtype=np.float32)
    total = 0.0
    for i in range(-radius, radius + 1):
        v = math.exp(-0.5 * (i / sigma) ** 2)
        k[i + radius] = v
        total += v
    for i in range(2 * radius + 1):
        k[i] /= total
    return k


@njit(cache=True, nogil=True)
def _blur(img, tmp, kernel, m):
    """Separable Gaussian blur of the centre of ``img`` (all but an ``m`` px border), in place.

    The border must be at least the kernel radius: it is read, not written.
    """
    h, w = img.shape
    rad = (kernel.shape[0] - 1) // 2
    for r in range(m - rad, h - m + rad):
        for c in range(m, w - m):
            acc = np.float32(0.0)
            for k in range(-rad, rad + 1):
                acc += kernel[k + rad] * img[r, c + k]
            tmp[r, c] = acc
    for r in range(m, h - m):
        for c in range(m, w - m):
            img[r, c] = 0.0
        for k in range(-rad, rad + 1):
            wk = kernel[k + rad]
            for c in range(m, w - m):
                img[r, c] += wk * tmp[r + k, c]


@njit(cache=True, nogil=True)
def _base_stain(cls, hem, eos, fat_field, fat_threshold, fibre, px, py, seed, stroma_h, stroma_e,
                tumour_h, tumour_e, capsule_h, capsule_e, centres, fibre_px):
    """Stroma / cytoplasm concentrations per class; turns parenchyma into fat where the field is high.

    The capsule's collagen runs around the node: wavy bands of eosin at a fixed distance from the
    nearest section centre (``centres`` (S, 2) level-0 px), ``fibre_px`` apart.
    """
    h, w = cls.shape
    for r in range(h):
        for c in range(w):
            k = cls[r, c]
            if k == PARENCHYMA and fat_field[r, c] > fat_threshold:
                cls[r, c] = FAT
                k = FAT
            if k == 0:
                hem[r, c] = 0.0
                eos[r, c] = 0.0
            elif k == PARENCHYMA:
                hem[r, c] = stroma_h
                eos[r, c] = stroma_e
            elif k == TUMOUR:
                hem[r, c] = tumour_h
                eos[r, c] = tumour_e
            elif k == CAPSULE:
                best = 1e30
                for i in range(centres.shape[0]):
                    dx = px + c + 0.5 - centres[i, 0]
                    dy = py + r + 0.5 - centres[i, 1]
                    d2 = dx * dx + dy * dy
                    if d2 < best:
                        best = d2
                rad = math.sqrt(best) + 2.5 * fibre_px * fibre[r, c]
                q = 0.5 + 0.5 * math.sin(2.0 * math.pi * rad / fibre_px)
                hem[r, c] = capsule_h
                eos[r, c] = capsule_e * (0.7 + 0.45 * q)
            else:  # fat: painted later
                hem[r, c] = 0.0
                eos[r, c] = 0.0


@njit(cache=True, inline="always")
def stain_at(hem, eos, thick, hfield, r, c, m):
    """Hematoxylin and eosin at pixel (r, c): the padded maps (border ``m``) times the section thickness,
    and hematoxylin times its uptake (unpadded maps)."""
    t = thick[r, c]
    return hem[r + m, c + m] * t * hfield[r, c], eos[r + m, c + m] * t


@njit(cache=True, inline="always")
def lut_value(o, lut, lut_scale, nlut):
    """``exp(-o)`` from the table ``lut`` (``lut[i] = exp(-i / lut_scale)``, index clipped to 0..nlut)."""
    i = int(o * lut_scale)
    if i > nlut:
        i = nlut
    if i < 0:
        i = 0
    return lut[i]


@njit(cache=True, inline="always")
def noisy_byte(value, noise, hs, ch):
    """``value`` (0..255) plus uniform noise of half-width ``noise`` drawn from bits ``16 ch`` of hash ``hs``,
    clipped and rounded to uint8."""
    u = np.float64((hs >> np.uint64(16 * ch)) & np.uint64(0xFFFF)) * (1.0 / 65536.0)
    v = value + noise * (2.0 * u - 1.0)
    if v < 0.0:
        v = 0.0
    elif v > 255.0:
        v = 255.0
    return np.uint8(v + 0.5)


@njit(cache=True, nogil=True)
def _to_rgb(out, hem, eos, thick, hfield, m, od, background, lut, lut_scale, noise, seed, px, py):
    """``thick`` and ``hfield`` cover the unpadded region; ``hem`` / ``eos`` the padded one."""
    h, w, _ = out.shape
    nlut = lut.shape[0] - 1
    for r in range(h):
        for c in range(w):
            hh, ee = stain_at(hem, eos, thick, hfield, r, c, m)
            hs = hash2(seed, px + c, py + r, _SALT_NOISE)
            for ch in range(3):
                transmitted = lut_value(hh * od[0, ch] + ee * od[1, ch], lut, lut_scale, nlut)
                out[r, c, ch] = noisy_byte(background[ch] * transmitted, noise, hs, ch)


@njit(cache=True, nogil=True)
def _background(out, background, noise, seed, px, py):
    """Empty glass: the light colour plus sensor noise."""
    h, w, _ = out.shape
    for r in range(h):
        for c in range(w):
            hs = hash2(seed, px + c, py + r, _SALT_NOISE)
            for ch in range(3):
                out[r, c, ch] = noisy_byte(background[ch], noise, hs, ch)


class Painter:
    """Paints regions of one planned slide at level 0.

    Buffers are kept between calls and grown when a larger region is asked for.

    Parameters
    ----------
    plan : SlidePlan
    """

    #: Look-up table resolution of exp(-OD): entries per unit OD.
    LUT_SCALE = 1024.0
    LUT_MAX_OD = 8.0

    def __init__(self, plan: SlidePlan):
        self.plan = plan
        mpp = plan.mpp
        st = plan.stain
        self.seed = np.uint64(plan.seed & 0xFFFFFFFFFFFFFFFF)
        self.blur_px = st.blur_um / mpp
        self.kernel = _gauss_kernel(self.blur_px) if self.blur_px >= 0.25 else None
        blur_reach = 0 if self.kernel is None else (len(self.kernel) - 1) // 2
        self.margin = int(math.ceil(MAX_NUCLEUS_REACH_UM / mpp)) + blur_reach + 2
        self.od = st.od_matrix().astype(np.float64)
        self.background = np.asarray(st.background, dtype=np.float64)
        self.noise = float(st.noise)
        n = int(self.LUT_SCALE * self.LUT_MAX_OD)
        self.lut = np.exp(-np.arange(n + 1, dtype=np.float64) / self.LUT_SCALE)
        # polygons in painting order: per section outer, node, inner; then lesions
        polys, values = [], []
        for sec in plan.sections:
            polys += [sec.outer, sec.node, sec.inner]
            values += [PERINODAL_FAT, CAPSULE, PARENCHYMA]
        for les in plan.lesions:
            polys.append(les.coordinates)
            values.append(TUMOUR)
        self.polygons = [np.ascontiguousarray(p, dtype=np.float64) for p in polys]
        self.values = values
        self.bboxes = np.array(
            [[p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()] for p in self.polygons]
        ).reshape(-1, 4)
        self.centres = np.array([sec.center for sec in plan.sections], dtype=np.float64).reshape(-1, 2)
        self.xs = np.empty(max([len(p) for p in self.polygons] + [4]), dtype=np.float64)
        self._shape = (0, 0)
        # lengths in px
        self.um = 1.0 / mpp

    def _buffers(self, h: int, w: int) -> None:
        if self._shape != (h, w):
            self._allocate(h, w, ("cls",), np.uint8)
            self._allocate(h, w, ("hem", "eos", "tmp", "fat_field", "density", "thick", "hfield", "chromatin"))
            self.ones = np.ones((h, w), dtype=np.float32)
            self._shape = (h, w)

    def _allocate(self, h: int, w: int, names, dtype=np.float32) -> None:
        """One (h, w) scratch map per name, as attributes of the painter (reused while the size holds)."""
        for name in names:
            setattr(self, name, np.empty((h, w), dtype=dtype))

    def _fill_classes(self, out, polygons, values, bboxes, px, py, bitwise_or=False) -> None:
        """Write each polygon's value into ``out`` (the padded region at level-0 px, py), skipping polygons
        whose bounding box misses it."""
        ph, pw = out.shape
        out[:] = 0
        for poly, value, bb in zip(polygons, values, bboxes, strict=True):
            if bb[0] < px + pw and bb[2] > px and bb[1] < py + ph and bb[3] > py:
                fill_polygon(out, poly, px, py, value, self.xs, bitwise_or)

    def _thickness(self, x: int, y: int, w: int, h: int, salt_thick: int, salt_uptake: int):
        """Section thickness (0.8..1.2, ~700 um) and hematoxylin uptake (0.88..1.12, ~450 um) over the
        unpadded region: views of the ``thick`` and ``hfield`` buffers."""
        m, um = self.margin, self.um
        thick = self.thick[m : m + h, m : m + w]
        hfield = self.hfield[m : m + h, m : m + w]
        value_noise(self.seed, salt_thick, x, y, max(2, int(700 * um)), thick)
        value_noise(self.seed, salt_uptake, x, y, max(2, int(450 * um)), hfield)
        np.multiply(thick, 0.4, out=thick)
        np.add(thick, 0.8, out=thick)
        np.multiply(hfield, 0.24, out=hfield)
        np.add(hfield, 0.88, out=hfield)
        return thick, hfield

    def touches_tissue(self, x: int, y: int, w: int, h: int) -> bool:
        """True when the region (level-0 px), padded, may contain tissue."""
        m = self.margin
        b = self.bboxes
        return bool(
            np.any((b[:, 0] < x + w + m) & (b[:, 2] > x - m) & (b[:, 1] < y + h + m) & (b[:, 3] > y - m))
        )

    def paint(self, x: int, y: int, w: int, h: int, out: np.ndarray | None = None) -> np.ndarray:
        """Render the level-0 region with top-left (x, y) and size (w, h) px.

        Returns
        -------
        ndarray (h, w, 3) uint8
            RGB; ``out`` is filled and returned when given.
        """
        if out is None:
            out = np.empty((h, w, 3), dtype=np.uint8)
        seed = self.seed
        if not self.touches_tissue(x, y, w, h):
            _background(out, self.background, self.noise, seed, x, y)
            return out
        m = self.margin
        px, py, pw, ph = x - m, y - m, w + 2 * m, h + 2 * m
        self._buffers(ph, pw)
        cls, hem, eos = self.cls, self.hem, self.eos
        self._fill_classes(cls, self.polygons, self.values, self.bboxes, px, py)
        if not cls.any():
            _background(out, self.background, self.noise, seed, x, y)
            return out
        um = self.um
        plan = self.plan
        # slow fields: fat islands (~300 um), lymphocyte density (~150 um), thickness (~700 um)
        value_noise(seed, _SALT_FATFIELD, px, py, max(2, int(300 * um)), self.fat_field)
        value_noise(seed, _SALT_FATFIELD + 100, px, py, max(2, int(110 * um)), self.tmp)
        self.fat_field *= 0.75
        self.fat_field += 0.25 * self.tmp
        value_noise(seed, _SALT_DENSITY, px, py, max(2, int(120 * um)), self.density)
        thick, hfield = self._thickness(x, y, w, h, _SALT_THICK, _SALT_HFIELD)
        fat_threshold = 0.92 - 0.5 * plan.fat_fraction
        _base_stain(cls, hem, eos, self.fat_field, fat_threshold, self.density, px, py, seed,
                    0.10, 0.34, 0.15, 0.34, 0.10, 0.85, self.centres, 5.0 * um)
        cells.paint_fat(hem, eos, cls, px, py, seed, _SALT_FAT, 60.0 * um, 3.0 * um, 0.8, 0.08)
        # density in 0.55..1.0: follicles (dense) and paler sinus-like areas
        dens = self.density
        np.multiply(dens, 0.45, out=dens)
        np.add(dens, 0.55, out=dens)
        cells.splat_nuclei(hem, cls, PARENCHYMA, px, py, seed, _SALT_LYMPH, 7.2 * um, 0.9, 0.97, dens,
                           2.7 * um, 3.4 * um, 0.8, 1.0, 1.45, 0.0)
        cells.splat_nuclei(hem, cls, PARENCHYMA, px, py, seed, _SALT_HISTIO, 26.0 * um, 0.8, 0.18, self.ones,
                           4.5 * um, 6.0 * um, 0.55, 0.8, 0.75, 0.0)
        cells.splat_nuclei(hem, cls, CAPSULE, px, py, seed, _SALT_FIBRO, 16.0 * um, 0.8, 0.6, self.ones,
                           4.0 * um, 6.5 * um, 0.18, 0.35, 1.1, 0.0)
        if (cls == TUMOUR).any():
            value_noise(seed, _SALT_CHROMATIN, px, py, max(1, int(round(1.6 * um))), self.chromatin)
            cells.splat_vesicular(hem, cls, TUMOUR, px, py, seed, _SALT_TUMOUR, TUMOUR_CELL_SPACING_UM * um, 0.55,
                                  0.97, 5.8 * um, 7.8 * um, 0.7, 0.12, 0.36, 0.5, 0.9 * um, self.chromatin, 0.75,
                                  1.0, True)
        if self.kernel is not None:
            _blur(hem, self.tmp, self.kernel, m)
            _blur(eos, self.tmp, self.kernel, m)
        _to_rgb(out, hem, eos, thick, hfield, m, self.od, self.background, self.lut, self.LUT_SCALE,
                self.noise, seed, x, y)
        return out
