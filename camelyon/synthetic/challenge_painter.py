"""Paint a challenge-preset slide: look-alikes, small disease and artefacts on top of the easy anatomy.

Same contract as :class:`camelyon.synthetic.painter.Painter` (any level-0 region, the same pixels
whatever the tiling), with more tissue classes and a second blur for out-of-focus patches:

1. class map: per section perinodal fat, capsule, subcapsular sinus, parenchyma; then the
   look-alikes (fat islands, germinal centres, sinus histiocytosis, trabeculae, vessels, high
   endothelial venules, necrosis); then ductal and lobular lesions (isolated tumour cells are
   drawn cell by cell, not as a class);
2. stroma per class, then cells: fat, lymphocytes, histiocytes, centroblasts and tingible-body
   macrophages, sinus histiocytes, endothelium, red cells, fibroblasts, karyorrhectic debris, ductal
   tumour cells, lobular cells in files, isolated tumour cells;
3. folds (double thickness), the scanner's focus blur, out-of-focus patches (a wider blur);
4. Beer-Lambert colour with air bubbles, dust and coverslip cracks (neutral density), pen ink,
   uneven light, stitching seams and sensor noise.
"""

from __future__ import annotations

import math

import numpy as np

from camelyon.synthetic import cells
from camelyon.synthetic import challenge_cells as cc
from camelyon.synthetic.cells import CAPSULE, FAT, PARENCHYMA, PERINODAL_FAT, TUMOUR
from camelyon.synthetic.noise import value_noise
from camelyon.synthetic.painter import Painter, _blur, _gauss_kernel
from camelyon.synthetic.scanners import center_scanner, stitch_profile
from camelyon.synthetic.tissue_layout import shrink_radially

# tissue classes beyond those of the easy preset
SINUS, GERMINAL, HISTIO, LUMEN, WALL, HEV, TRABECULA, NECROSIS, LOBULAR = 6, 7, 8, 9, 10, 11, 12, 13, 14
T_STROMA, T_LUMEN = 15, 16  # septa and glandular lumens inside ductal carcinoma
N_CLASSES = 17
#: Stroma / cytoplasm (hematoxylin, eosin) per class.
_TABLE = {
    PERINODAL_FAT: (0.0, 0.0), CAPSULE: (0.10, 0.85), PARENCHYMA: (0.10, 0.34), FAT: (0.0, 0.0),
    TUMOUR: (0.14, 0.40), SINUS: (0.05, 0.20), GERMINAL: (0.09, 0.30), HISTIO: (0.10, 0.42),
    LUMEN: (0.0, 0.04), WALL: (0.08, 0.80), HEV: (0.12, 0.45), TRABECULA: (0.10, 0.85),
    NECROSIS: (0.22, 0.80), LOBULAR: (0.10, 0.34), T_STROMA: (0.08, 0.75), T_LUMEN: (0.0, 0.03),
}
_FIBROUS = (CAPSULE, WALL, TRABECULA, T_STROMA)
#: Look-alike kinds painted as a class (in this order), and their class.
_FEATURE_CLASS = {"fat_island": FAT, "germinal_centre": GERMINAL, "sinus_histiocytosis": HISTIO,
                  "trabecula": TRABECULA, "vessel": WALL, "high_endothelial_venule": HEV, "necrosis": NECROSIS}
_LESION_CLASS = {"ductal_carcinoma": TUMOUR, "lobular_carcinoma": LOBULAR}
# artefact bits
_FOLD, _OOF, _PEN, _BUBBLE, _BUBBLE_IN, _DUST, _CRACK = 1, 2, 4, 8, 16, 32, 64
_ARTEFACT_BIT = {"fold": _FOLD, "out_of_focus": _OOF, "pen_mark": _PEN, "air_bubble": _BUBBLE, "dust": _DUST,
                 "coverslip_crack": _CRACK}
#: Ductal carcinoma nests: Voronoi spacing, septum width, chance and radius range of a lumen (um).
NEST_UM, SEPTUM_UM, LUMEN_PROB, LUMEN_UM = 60.0, 7.0, 0.55, (6.0, 20.0)
#: Ductal tumour nuclei: hematoxylin of the nucleoplasm (the easy preset's 0.36 is paler).
DUCTAL_INTERIOR = 0.5
#: Out-of-focus blur (um, standard deviation).
OOF_BLUR_UM = 2.2
# salts (distinct from the easy painter's)
(_S_LYMPH, _S_HISTIO, _S_FIBRO, _S_TUMOUR, _S_FAT, _S_CB, _S_TBM, _S_SH, _S_ENDO, _S_RBC, _S_WALL, _S_DEBRIS,
 _S_FILES, _S_ITC, _S_DENS, _S_THICK, _S_HF, _S_NOISE, _S_CHROM, _S_FIBRE, _S_LIGHT, _S_INK, _S_NEST) = range(100, 123)


def _shrunk(poly: np.ndarray, by_px: float) -> np.ndarray:
    c = poly.mean(0)
    return np.ascontiguousarray(shrink_radially(poly, c, by_px), dtype=np.float64)


class ChallengePainter(Painter):
    """Paints regions of a challenge-preset plan (``plan.difficulty == "challenge"``) at level 0.

    Parameters
    ----------
    plan : SlidePlan
        With ``features`` and ``extras`` from :mod:`camelyon.synthetic.challenge_plan`.
    """

    def __init__(self, plan):
        super().__init__(plan)
        mpp = plan.mpp
        um = 1.0 / mpp
        self.scanner = center_scanner(plan.center)
        ex = plan.extras
        self.oof_kernel = _gauss_kernel(OOF_BLUR_UM * um)
        r1 = 0 if self.kernel is None else (len(self.kernel) - 1) // 2
        r2 = (len(self.oof_kernel) - 1) // 2
        reach = int(math.ceil(12.0 * um)) + 2
        self.m1 = reach + r1
        self.margin = self.m1 + r2
        polys, values = [], []
        for sec, core in zip(plan.sections, ex.sinus_cores, strict=True):
            polys += [sec.outer, sec.node, sec.inner, core]
            values += [PERINODAL_FAT, CAPSULE, SINUS, PARENCHYMA]
        for kind in _FEATURE_CLASS:
            for f in plan.features:
                if f.kind != kind:
                    continue
                polys.append(f.coordinates)
                values.append(_FEATURE_CLASS[kind])
                if kind == "vessel":
                    polys.append(_shrunk(f.coordinates, 6.0 * um))
                    values.append(LUMEN)
                elif kind == "high_endothelial_venule":
                    polys.append(_shrunk(f.coordinates, 7.0 * um))
                    values.append(LUMEN)
        for les in plan.lesions:
            if les.kind in _LESION_CLASS:
                polys.append(les.coordinates)
                values.append(_LESION_CLASS[les.kind])
        self.polygons = [np.ascontiguousarray(p, dtype=np.float64) for p in polys]
        self.values = values
        self.bboxes = _bboxes(self.polygons)
        arts, bits = [], []
        for f in plan.features:
            if f.kind in _ARTEFACT_BIT:
                arts.append(np.ascontiguousarray(f.coordinates, dtype=np.float64))
                bits.append(_ARTEFACT_BIT[f.kind])
                if f.kind == "air_bubble":
                    arts.append(_shrunk(f.coordinates, 4.0 * um))
                    bits.append(_BUBBLE_IN)
        self.art_polygons, self.art_bits = arts, bits
        self.art_bboxes = _bboxes(arts)
        itc = [les.cells_xy for les in plan.lesions if les.cells_xy is not None]
        self.itc = np.ascontiguousarray(np.concatenate(itc) if itc else np.zeros((0, 3)), dtype=np.float64)
        all_polys = self.polygons + arts
        self.xs = np.empty(max([len(p) for p in all_polys] + [4]), dtype=np.float64)
        self.table_h = np.array([_TABLE.get(k, (0.0, 0.0))[0] for k in range(N_CLASSES)], dtype=np.float32)
        self.table_e = np.array([_TABLE.get(k, (0.0, 0.0))[1] for k in range(N_CLASSES)], dtype=np.float32)
        self.fibrous = np.array([k in _FIBROUS for k in range(N_CLASSES)], dtype=np.bool_)
        self.ink_od = np.asarray(ex.ink_od, dtype=np.float64)

    def _buffers(self, h: int, w: int) -> None:
        if self._shape != (h, w):
            super()._buffers(h, w)
            self._allocate(h, w, ("art",), np.uint8)
            self._allocate(h, w, ("dark", "ink", "hem2", "eos2", "mask", "light"))

    def touches_tissue(self, x: int, y: int, w: int, h: int) -> bool:
        """Always True: glass has uneven light and seams too, so every region takes the full path."""
        return True

    def paint(self, x: int, y: int, w: int, h: int, out: np.ndarray | None = None) -> np.ndarray:
        """Render the level-0 region with top-left (x, y) and size (w, h) px; (h, w, 3) uint8."""
        if out is None:
            out = np.empty((h, w, 3), dtype=np.uint8)
        seed = self.seed
        m = self.margin
        px, py, pw, ph = x - m, y - m, w + 2 * m, h + 2 * m
        self._buffers(ph, pw)
        cls, hem, eos = self.cls, self.hem, self.eos
        self._fill_classes(cls, self.polygons, self.values, self.bboxes, px, py)
        self._fill_classes(self.art, self.art_polygons, self.art_bits, self.art_bboxes, px, py, True)
        um = self.um
        tissue = bool(cls.any()) or self._itc_near(px, py, pw, ph)
        if tissue:
            self._paint_tissue(px, py, seed, um)
        else:
            hem[:] = 0.0
            eos[:] = 0.0
        self._artefacts(px, py, seed, um)
        thick, hfield = self._thickness(x, y, w, h, _S_THICK, _S_HF)
        light = self.light[m : m + h, m : m + w]
        value_noise(seed, _S_LIGHT, x, y, max(2, int(1500 * um)), light)
        np.multiply(light, -float(self.plan.extras.uneven), out=light)
        np.add(light, 1.0, out=light)
        stitch = stitch_profile(w, x, self.plan.mpp, self.scanner, self.plan.extras.stitch_phase_um)
        cc.to_rgb_challenge(out, hem, eos, self.dark, self.ink, thick, hfield, light, stitch, m, self.od,
                            self.ink_od, self.background, self.lut, self.LUT_SCALE, self.noise, seed, x, y,
                            _S_NOISE)
        return out

    def _itc_near(self, px, py, pw, ph) -> bool:
        c = self.itc
        return bool(len(c)) and bool(np.any((c[:, 0] > px - 30 * self.um) & (c[:, 0] < px + pw + 30 * self.um)
                                            & (c[:, 1] > py - 30 * self.um) & (c[:, 1] < py + ph + 30 * self.um)))

    def _paint_tissue(self, px, py, seed, um) -> None:
        cls, hem, eos = self.cls, self.hem, self.eos
        fibre, dens, ones, chrom = self.tmp, self.density, self.ones, self.chromatin
        # ductal carcinoma grows in nests (40-90 um) parted by stromal septa, some with a glandular lumen
        cc.tumour_architecture(cls, px, py, seed, _S_NEST, TUMOUR, NEST_UM * um, SEPTUM_UM * um, LUMEN_PROB,
                               LUMEN_UM[0] * um, LUMEN_UM[1] * um, T_STROMA, T_LUMEN)
        value_noise(seed, _S_FIBRE, px, py, max(2, int(round(4.0 * um))), fibre)
        cc.class_stain(cls, hem, eos, fibre, self.table_h, self.table_e, self.fibrous)
        cells.paint_fat(hem, eos, cls, px, py, seed, _S_FAT, 60.0 * um, 3.0 * um, 0.8, 0.08)
        value_noise(seed, _S_DENS, px, py, max(2, int(120 * um)), dens)
        np.multiply(dens, 0.45, out=dens)
        np.add(dens, 0.55, out=dens)
        value_noise(seed, _S_CHROM, px, py, max(1, int(round(1.6 * um))), chrom)
        lymph = 7.2 * um
        for want, prob, field in ((PARENCHYMA, 0.97, dens), (SINUS, 0.25, ones), (GERMINAL, 0.40, ones),
                                  (LOBULAR, 0.80, dens), (HEV, 0.25, ones), (HISTIO, 0.12, ones),
                                  (T_STROMA, 0.15, ones)):
            cells.splat_nuclei(hem, cls, want, px, py, seed, _S_LYMPH, lymph, 0.9, prob, field,
                               2.7 * um, 3.4 * um, 0.8, 1.0, 1.45, 0.0)
        for want, prob in ((PARENCHYMA, 0.18), (SINUS, 0.35)):
            cells.splat_nuclei(hem, cls, want, px, py, seed, _S_HISTIO, 26.0 * um, 0.8, prob, ones,
                               4.5 * um, 6.0 * um, 0.55, 0.8, 0.75, 0.0)
        for want in (CAPSULE, TRABECULA, T_STROMA):
            cells.splat_nuclei(hem, cls, want, px, py, seed, _S_FIBRO, 16.0 * um, 0.8, 0.6, ones,
                               4.0 * um, 6.5 * um, 0.18, 0.35, 1.1, 0.0)
        cells.splat_nuclei(hem, cls, WALL, px, py, seed, _S_WALL, 10.0 * um, 0.8, 0.5, ones,
                           3.0 * um, 6.0 * um, 0.18, 0.3, 1.0, 0.0)
        cells.splat_nuclei(hem, cls, HEV, px, py, seed, _S_ENDO, 6.0 * um, 0.7, 0.9, ones,
                           3.2 * um, 4.2 * um, 0.6, 0.9, 0.6, 0.0)
        cells.splat_nuclei(hem, cls, NECROSIS, px, py, seed, _S_DEBRIS, 8.0 * um, 0.9, 0.55, ones,
                           0.6 * um, 1.8 * um, 0.5, 1.0, 1.3, 0.0)
        cc.splat_rbc(eos, hem, cls, LUMEN, px, py, seed, _S_RBC, 7.0 * um, 0.9, 0.75, 3.6 * um, 0.95)
        # germinal centres: centroblasts (large vesicular nuclei with nucleoli) and tingible-body macrophages
        cells.splat_vesicular(hem, cls, GERMINAL, px, py, seed, _S_CB, 12.0 * um, 0.7, 0.55, 4.0 * um, 5.5 * um,
                              0.7, 0.10, 0.30, 0.45, 0.8 * um, chrom, 0.6)
        cc.splat_tingible(hem, eos, cls, GERMINAL, px, py, seed, _S_TBM, 45.0 * um, 0.5, 9.0 * um, 1.5 * um,
                          0.25, 1.6)
        # sinus histiocytosis: sheets of large pale histiocytes
        cells.splat_vesicular(hem, cls, HISTIO, px, py, seed, _S_SH, 14.0 * um, 0.6, 0.85, 4.5 * um, 6.5 * um,
                              0.6, 0.08, 0.28, 0.30, 0.5 * um, chrom, 0.35)
        # ductal carcinoma, lobular carcinoma in single files, isolated tumour cells
        cells.splat_vesicular(hem, cls, TUMOUR, px, py, seed, _S_TUMOUR, 13.0 * um, 0.55, 0.97, 5.0 * um, 7.8 * um,
                              0.7, 0.12, DUCTAL_INTERIOR, 0.5, 0.9 * um, chrom, 0.75)
        cc.splat_files(hem, eos, cls, LOBULAR, px, py, seed, _S_FILES, self.plan.extras.file_angle, 9.0 * um,
                       20.0 * um, 0.3, 0.85, 3.0 * um, 4.0 * um, 0.9, 0.4, 5.5 * um, 0.45)
        if len(self.itc):
            cc.paint_cells_at(hem, eos, self.itc, px, py, seed, _S_ITC, 5.0 * um, 7.0 * um, 6.5 * um, 0.42,
                              0.36, 0.5, 0.9 * um, chrom, 0.75, 0.12)

    def _artefacts(self, px, py, seed, um) -> None:
        hem, eos, art, dark, ink = self.hem, self.eos, self.art, self.dark, self.ink
        has = int(np.bitwise_or.reduce(art, axis=None)) if art.size else 0
        if has & _FOLD:
            fold = (art & _FOLD) > 0
            hem[fold] *= 1.85
            eos[fold] *= 1.85
        if self.kernel is not None:
            _blur(hem, self.tmp, self.kernel, self.m1)
            _blur(eos, self.tmp, self.kernel, self.m1)
        m2 = self.margin
        if has & _OOF:
            mask = self.mask
            np.copyto(mask, ((art & _OOF) > 0).astype(np.float32))
            _blur(mask, self.tmp, self.oof_kernel, m2)
            for a, b in ((hem, self.hem2), (eos, self.eos2)):
                np.copyto(b, a)
                _blur(b, self.tmp, self.oof_kernel, m2)
                b -= a
                b *= mask
                a += b
        dark[:] = 0.0
        ink[:] = 0.0
        if has & (_DUST | _CRACK | _BUBBLE):
            dark[(art & _DUST) > 0] = 1.3
            dark[(art & _CRACK) > 0] = 0.9
            rim = ((art & _BUBBLE) > 0) & ((art & _BUBBLE_IN) == 0)
            dark[rim] = 0.8
            inside = (art & _BUBBLE_IN) > 0
            dark[inside] += 0.04
            hem[inside] *= 0.8
            eos[inside] *= 0.8
            _blur(dark, self.tmp, self.oof_kernel, m2)
        if has & _PEN:
            value_noise(seed, _S_INK, px, py, max(2, int(round(25 * um))), self.mask)
            pen = (art & _PEN) > 0
            ink[pen] = 0.45 + 0.3 * self.mask[pen]


def _bboxes(polys) -> np.ndarray:
    return np.array([[p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()] for p in polys]).reshape(-1, 4)
