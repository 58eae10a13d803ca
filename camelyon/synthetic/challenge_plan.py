"""Layout of the challenge preset: lesions as they come, look-alikes and slide artefacts.

Everything here is drawn from the slide's random generator and stored as polygons in level-0 px,
so that the painter (:mod:`camelyon.synthetic.challenge_painter`) paints exactly what the plan
says and ``ground_truth.csv`` can name every region (its ``kind`` column).

Lesions (:func:`place_challenge_lesions`)
    The largest lesion's diameter is drawn continuously over its label's whole range (itc up to
    0.2 mm, micro 0.2-2 mm, macro above 2 mm), a quarter of the time within 10 % of a threshold.
    Kinds: ``ductal_carcinoma`` (cohesive sheets of large vesicular cells), ``lobular_carcinoma``
    (small discohesive cells in single files among lymphocytes), ``itc_single_cells`` (1-8
    tumour cells scattered among lymphocytes) and ``itc_cluster`` (a few to ~150 cohesive cells).
    ITC are drawn cell by cell; their polygon is the convex hull of the cells (plus their
    cytoplasm). Up to four smaller lesions follow; some lesions sit in the subcapsular sinus
    (``site`` ``subcapsular_sinus``), where metastases first arrive.
Look-alikes (:func:`plan_lookalikes`)
    ``germinal_centre``, ``sinus_histiocytosis``, ``high_endothelial_venule``, ``vessel``,
    ``trabecula``, ``fat_island``, ``necrosis`` inside the node, plus the ``capsule`` and
    ``perinodal_fat`` of every section (from its outlines).
Artefacts (:func:`plan_artefacts`)
    ``fold``, ``out_of_focus``, ``pen_mark``, ``air_bubble``, ``dust``, ``coverslip_crack``;
    ``stitching_stripes`` and ``uneven_background`` cover the whole slide.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from camelyon.annotations import largest_diameter_mm
from camelyon.errors import CamelyonError
from camelyon.staging import ITC_MAX_MM, MICRO_MAX_MM, slide_label_from_diameter
from camelyon.synthetic.lesions import TUMOUR_CELL_SPACING_UM, Lesion, lesion_outline
from camelyon.synthetic.tissue_layout import (
    Section,
    ellipse_points,
    points_in_polygon,
    shrink_radially,
    star_radius,
)

#: Kinds of lesion, look-alike and artefact the challenge preset draws (the ``kind`` column).
LESION_KINDS = ("ductal_carcinoma", "lobular_carcinoma", "itc_single_cells", "itc_cluster")
LOOKALIKE_KINDS = ("germinal_centre", "sinus_histiocytosis", "high_endothelial_venule", "vessel", "capsule",
                   "trabecula", "perinodal_fat", "fat_island", "necrosis")
ARTEFACT_KINDS = ("fold", "out_of_focus", "pen_mark", "air_bubble", "dust", "coverslip_crack",
                  "stitching_stripes", "uneven_background")
#: Diameter ranges (mm) of the largest lesion per label: continuous up to the thresholds.
CHALLENGE_RANGES_MM = {"itc": (0.012, ITC_MAX_MM), "micro": (ITC_MAX_MM, MICRO_MAX_MM), "macro": (MICRO_MAX_MM, 5.0)}
#: Chance that the largest lesion's diameter lies within 10 % of a threshold.
NEAR_THRESHOLD = 0.25
#: Tumour cell radius with its cytoplasm (um): the margin of an ITC polygon around its cell centres.
ITC_CELL_RADIUS_UM = 7.0
#: Width of the subcapsular sinus (um).
SINUS_UM = (25.0, 45.0)


@dataclass
class Feature:
    """A look-alike or artefact region of a challenge slide.

    Attributes
    ----------
    kind : str
        One of :data:`LOOKALIKE_KINDS` or :data:`ARTEFACT_KINDS`.
    coordinates : ndarray (N, 2) float64
        Closed polygon in level-0 px (for slide-wide artefacts: the slide's rectangle).
    section : int
        Index of the section it belongs to; -1 for artefacts.
    """

    kind: str
    coordinates: np.ndarray
    section: int = -1

    @property
    def center(self) -> tuple[float, float]:
        c = self.coordinates.mean(axis=0)
        return float(c[0]), float(c[1])


@dataclass
class ChallengeExtras:
    """Slide-wide settings of a challenge slide (besides polygons).

    Attributes
    ----------
    sinus_cores : list of ndarray (N, 2)
        Per section, the parenchyma inside the subcapsular sinus.
    file_angle : float
        Direction (radians) of the single files of lobular carcinoma.
    ink_od : (float, float, float)
        Optical density per RGB channel of the pen's ink.
    uneven : float
        Strength of the uneven background (relative light loss, 0..0.1).
    stitch_phase_um : float
        Offset of the scanner's stitching grid.
    """

    sinus_cores: list
    file_angle: float
    ink_od: tuple
    uneven: float
    stitch_phase_um: float


def polygon_area(coords: np.ndarray) -> float:
    """Area of a closed polygon (shoelace), in squared px."""
    x, y = coords[:, 0], coords[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Convex hull (monotone chain) of (N, 2) points, counter-clockwise, without repeating the first."""
    pts = np.unique(np.round(points, 2), axis=0)
    if len(pts) < 3:
        return pts

    def half(seq):
        out = []
        for x, y in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (y - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (x - out[-2][0])) <= 0:
                out.pop()
            out.append((x, y))
        return out

    lower = half(pts.tolist())
    upper = half(pts[::-1].tolist())
    return np.array(lower[:-1] + upper[:-1])


def _circle(cx, cy, r, n=24) -> np.ndarray:
    t = np.arange(n) * (2 * np.pi / n)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def _draw_diameter(rng, label: str, lo: float, hi: float) -> float:
    """A diameter in (lo, hi): continuous, a quarter of the time within 10 % of a threshold."""
    if rng.random() < NEAR_THRESHOLD:
        near = [t for t in (ITC_MAX_MM, MICRO_MAX_MM) if lo <= t * 1.1 and hi >= t * 0.9]
        if near:
            t = near[int(rng.integers(len(near)))]
            a, b = max(lo, t * 0.9), min(hi, t * 1.1)
            if label == "itc" or (label == "micro" and t == MICRO_MAX_MM):
                b = min(b, t * 0.999)
            else:
                a = max(a, t * 1.001)
            if b > a:
                return float(rng.uniform(a, b))
    return float(np.exp(rng.uniform(np.log(lo * 1.001), np.log(hi * 0.999))))


def itc_cells(rng, kind: str, d_mm: float, mpp: float) -> np.ndarray:
    """Relative cell centres (N, 2) px of an ITC of longest extent about ``d_mm`` (with cytoplasm).

    ``itc_single_cells``: 1-8 cells scattered at least 15 um apart; ``itc_cluster``: cells on a
    jittered 11 um lattice filling an irregular blob (fewer than 200 cells).
    """
    pad = ITC_CELL_RADIUS_UM / mpp
    span = max(d_mm * 1000.0 / mpp - 2 * pad, 0.0)
    if kind == "itc_single_cells":
        n = 1 if span < 15.0 / mpp else int(rng.integers(2, 9))
        pts = [np.zeros(2)]
        tries = 0
        while len(pts) < n and tries < 400:
            tries += 1
            r = 0.5 * span * np.sqrt(rng.random())
            t = rng.uniform(0, 2 * np.pi)
            p = np.array([r * np.cos(t), r * np.sin(t)])
            if min(np.hypot(*(p - q)) for q in pts) >= 15.0 / mpp:
                pts.append(p)
        return np.array(pts)
    step = 11.0 / mpp
    outline = lesion_outline(rng, max(span, step), 32)
    half = span / 2 + step
    g = np.arange(-half, half + step, step)
    gx, gy = np.meshgrid(g, g)
    pts = np.stack([gx.ravel(), gy.ravel()], 1) + rng.uniform(-0.25, 0.25, (gx.size, 2)) * step
    inside = points_in_polygon(pts, outline) if span > step else np.hypot(pts[:, 0], pts[:, 1]) <= step
    pts = pts[inside]
    if len(pts) == 0:
        pts = np.zeros((1, 2))
    if len(pts) > 190:
        pts = pts[rng.permutation(len(pts))[:190]]
    return pts


def _lesion_from_cells(cells: np.ndarray, mpp: float) -> np.ndarray:
    """The written polygon of an ITC: hull of circles of cytoplasm radius around every cell."""
    pad = ITC_CELL_RADIUS_UM / mpp
    ring = np.concatenate([_circle(x, y, pad, 16) for x, y in cells])
    return convex_hull(ring)


def _fits(poly, sec: Section, others, margin_px) -> bool:
    c = poly.mean(0)
    grown = c + (poly - c) * (1 + margin_px / max(np.sqrt(((poly - c) ** 2).sum(1)).max(), 1e-9))
    if not points_in_polygon(grown, sec.inner).all():
        return False
    r = np.sqrt(((poly - c) ** 2).sum(1)).max()
    return all(np.hypot(*(c - oc)) > r + orr + margin_px for oc, orr in others)


def place_challenge_lesions(label: str, sections: list[Section], rng: np.random.Generator, mpp: float,
                            max_diameter_mm: float | None, sinus_px: list[float]) -> list[Lesion]:
    """Lesions of a challenge slide with label ``label`` (largest first).

    Parameters
    ----------
    label, sections, rng, mpp, max_diameter_mm
        As in :func:`camelyon.synthetic.lesions.place_lesions` (``mpp``: this slide's level-0 um/px).
    sinus_px : list of float
        Width of each section's subcapsular sinus (px).

    Returns
    -------
    list of Lesion
        Each with ``kind``, ``site`` and, for ITC, ``cells`` (level-0 centres); the slide label
        measured from their polygons equals ``label``.
    """
    if label == "negative":
        return []
    lo, hi = CHALLENGE_RANGES_MM[label]
    if max_diameter_mm is not None:
        hi = min(hi, max_diameter_mm)
    if hi <= lo:
        raise CamelyonError(f"no room for a {label} lesion (needs {lo} mm, room for {hi:.2f} mm)")
    main = _draw_diameter(rng, label, lo, hi)
    wanted = [(main, 0, label)]
    for _ in range(int(rng.integers(0, 5))):
        d = float(np.exp(rng.uniform(np.log(0.012), np.log(max(min(main * 0.9, 1.5), 0.0125)))))
        wanted.append((d, int(rng.integers(0, len(sections))), None))
    lesions: list[Lesion] = []
    placed: list = []
    key = 0
    for k, (d_mm, sec_idx, want_label) in enumerate(wanted):
        les = None
        for _attempt in range(12):
            cand = _place_challenge_one(rng, d_mm, sections, sec_idx, mpp, placed, sinus_px, key)
            if cand is None:
                if k > 0:
                    break
                d_mm = max(lo * 1.001, d_mm * 0.93)  # the largest lesion must exist: a smaller one
                continue
            if want_label is not None and cand.label != want_label:
                d_mm = _draw_diameter(rng, label, lo, hi)  # the written polygon crossed a threshold
                continue
            if k > 0 and cand.diameter_mm >= lesions[0].diameter_mm:
                break
            les = cand
            break
        if les is None:
            if k == 0:
                raise CamelyonError(f"could not place a {label} lesion of {d_mm:.2f} mm; use a larger --size")
            continue
        key += len(les.cells_xy) if les.cells_xy is not None else 0
        c = les.coordinates.mean(0)
        placed.append((c, float(np.sqrt(((les.coordinates - c) ** 2).sum(1)).max())))
        lesions.append(les)
    measured = slide_label_from_diameter(max(les.diameter_mm for les in lesions))
    if measured != label:  # pragma: no cover - checked lesion by lesion above
        raise AssertionError(f"drew a {label} slide but measured {measured}")
    return lesions


def _place_challenge_one(rng, d_mm, sections, sec_idx, mpp, placed, sinus_px, key) -> Lesion | None:
    if d_mm < ITC_MAX_MM:
        kind = "itc_single_cells" if (d_mm < 0.03 or rng.random() < 0.45) else "itc_cluster"
        cells = itc_cells(rng, kind, d_mm, mpp)
        rel = _lesion_from_cells(cells, mpp)
    else:
        kind = "lobular_carcinoma" if rng.random() < 0.3 else "ductal_carcinoma"
        cells = None
        d_px = d_mm * 1000.0 / mpp
        rel = lesion_outline(rng, d_px, int(np.clip(d_px / 6.0, 24, 160)))
    subcapsular = rng.random() < (0.5 if d_mm < 0.5 else 0.2)
    r_out = float(np.sqrt((rel * rel).sum(1)).max())
    order = [sec_idx] + [i for i in range(len(sections)) if i != sec_idx]
    for idx in order:
        sec = sections[idx]
        lo_b, hi_b = sec.inner.min(0), sec.inner.max(0)
        for attempt in range(50):
            if subcapsular:
                v = sec.inner[int(rng.integers(len(sec.inner)))]
                to_c = np.asarray(sec.center) - v
                to_c /= max(np.hypot(*to_c), 1e-9)
                # just inside the capsule: the lesion touches the sinus (small ones lie in it)
                c = v + to_c * (r_out + 4.0 / mpp + rng.uniform(0.0, 0.5) * sinus_px[idx])
                margin = 3.0 / mpp
            else:
                c = np.asarray(sec.center, dtype=np.float64) if attempt == 0 else rng.uniform(lo_b, hi_b)
                margin = 20.0 / mpp
            coords = np.round(rel + c, 2)
            if not points_in_polygon(c[None], sec.inner)[0] or not _fits(coords, sec, placed, margin):
                continue
            area_mm2 = polygon_area(coords) * (mpp / 1000.0) ** 2
            if cells is not None:
                n_cells = len(cells)
                xy = np.column_stack([cells + c, key + np.arange(n_cells)])
            else:
                spacing = TUMOUR_CELL_SPACING_UM if kind == "ductal_carcinoma" else 14.0
                n_cells = max(1, int(round(area_mm2 * 1e6 / spacing**2)))
                xy = None
            return Lesion(coords, largest_diameter_mm(coords, mpp), float(area_mm2), n_cells, idx, kind=kind,
                          site="subcapsular_sinus" if subcapsular else "parenchyma", cells_xy=xy)
    return None


def _random_inside(rng, sec: Section, poly_rel: np.ndarray, avoid_core=None, tries=40):
    """A position where ``poly_rel`` lies inside the section's parenchyma (or None)."""
    lo_b, hi_b = sec.inner.min(0), sec.inner.max(0)
    for _ in range(tries):
        c = rng.uniform(lo_b, hi_b)
        poly = poly_rel + c
        if points_in_polygon(poly, sec.inner).all():
            if avoid_core is None or points_in_polygon(poly, avoid_core).all():
                return poly
    return None


def _blob(rng, d_px: float, aspect=(0.5, 1.0), n=48) -> np.ndarray:
    radius = star_radius(rng, n, rng.uniform(0.1, 0.3))
    return ellipse_points(0.0, 0.0, d_px / 2, d_px / 2 * rng.uniform(*aspect), rng.uniform(0, np.pi), radius)


def _strip(p0, p1, width_px: float, wobble: float, rng, n=24) -> np.ndarray:
    """A band of ``width_px`` along the segment p0 -> p1 (gently curved)."""
    t = np.linspace(0, 1, n)
    d = np.asarray(p1, float) - np.asarray(p0, float)
    L = max(np.hypot(*d), 1e-9)
    nrm = np.array([-d[1], d[0]]) / L
    bend = wobble * L * np.sin(np.pi * t) * rng.uniform(-1, 1)
    mid = np.asarray(p0, float) + t[:, None] * d + bend[:, None] * nrm
    w = width_px / 2 * (0.7 + 0.3 * np.sin(np.pi * t))[:, None]
    return np.concatenate([mid + w * nrm, (mid - w * nrm)[::-1]])


def plan_lookalikes(sections: list[Section], rng: np.random.Generator, mpp: float,
                    sinus_cores: list[np.ndarray]) -> list[Feature]:
    """Look-alikes of every section (polygons in level-0 px); at least one of each kind per slide,
    except necrosis (about one slide in three)."""
    um = 1.0 / mpp
    out: list[Feature] = []
    for i, sec in enumerate(sections):
        out.append(Feature("capsule", np.round(sec.node, 2), i))
        if polygon_area(sec.outer) > polygon_area(sec.node) * 1.02:
            out.append(Feature("perinodal_fat", np.round(sec.outer, 2), i))
        share = 1.0 if i == 0 else 0.5
        core = sinus_cores[i]
        n_gc = max(1 if i == 0 else 0, int(rng.poisson(3 * share)))
        for _ in range(n_gc):
            # follicles sit in the outer cortex, below the sinus
            poly = _random_inside(rng, sec, _blob(rng, rng.uniform(150, 420) * um, (0.6, 1.0)), core)
            if poly is not None:
                out.append(Feature("germinal_centre", np.round(poly, 2), i))
        for _ in range(max(1 if i == 0 else 0, int(rng.poisson(1.5 * share)))):
            if rng.random() < 0.5:  # a distended subcapsular sinus: a band just inside the capsule
                k = int(rng.integers(len(sec.inner)))
                n = len(sec.inner)
                span = int(rng.integers(n // 16, n // 6))
                idx = (k + np.arange(span)) % n
                outer_edge = sec.inner[idx]
                depth = rng.uniform(60, 160) * um
                inner_edge = shrink_radially(outer_edge, sec.center, depth)
                poly = np.concatenate([shrink_radially(outer_edge, sec.center, 2.0 * um), inner_edge[::-1]])
            else:  # medullary sinuses: elongated bands deeper in the node
                poly = _random_inside(rng, sec, _blob(rng, rng.uniform(200, 600) * um, (0.2, 0.45)), core)
            if poly is not None:
                out.append(Feature("sinus_histiocytosis", np.round(poly, 2), i))
        for _ in range(max(1 if i == 0 else 0, int(rng.poisson(8 * share)))):
            poly = _random_inside(rng, sec, _blob(rng, rng.uniform(28, 45) * um, (0.7, 1.0), 20), core)
            if poly is not None:
                out.append(Feature("high_endothelial_venule", np.round(poly, 2), i))
        for _ in range(max(1 if i == 0 else 0, int(rng.poisson(3 * share)))):
            poly = _random_inside(rng, sec, _blob(rng, rng.uniform(60, 260) * um, (0.3, 0.9), 32), core)
            if poly is not None:
                out.append(Feature("vessel", np.round(poly, 2), i))
        for _ in range(max(1 if i == 0 else 0, int(rng.poisson(1.5 * share)))):
            k = int(rng.integers(len(sec.inner)))
            p0 = sec.inner[k]
            p1 = p0 + (np.asarray(sec.center) - p0) * rng.uniform(0.25, 0.6)
            poly = _strip(p0, p1, rng.uniform(25, 60) * um, 0.15, rng)
            out.append(Feature("trabecula", np.round(poly, 2), i))
        for _ in range(max(1 if i == 0 else 0, int(rng.poisson(1.2 * share)))):
            poly = _random_inside(rng, sec, _blob(rng, rng.uniform(150, 500) * um, (0.5, 1.0)), None)
            if poly is not None:
                out.append(Feature("fat_island", np.round(poly, 2), i))
        if i == 0 and rng.random() < 0.35:
            poly = _random_inside(rng, sec, _blob(rng, rng.uniform(120, 400) * um, (0.5, 1.0)), core)
            if poly is not None:
                out.append(Feature("necrosis", np.round(poly, 2), i))
    return out


def plan_artefacts(width: int, height: int, sections: list[Section], rng: np.random.Generator,
                   mpp: float) -> list[Feature]:
    """Artefacts of a challenge slide (each drawn with its own chance; see the module docstring)."""
    um = 1.0 / mpp
    out: list[Feature] = []
    rect = np.array([[0.0, 0.0], [width, 0.0], [width, height], [0.0, height]])
    main = sections[0]
    if rng.random() < 0.4:  # a fold across the edge of a section
        sec = sections[int(rng.integers(len(sections)))]
        k = int(rng.integers(len(sec.outer)))
        edge = sec.outer[k]
        to_c = np.asarray(sec.center) - edge
        ang = np.arctan2(to_c[1], to_c[0]) + np.pi / 2 + rng.uniform(-0.5, 0.5)
        half = rng.uniform(300, 1200) * um
        d = np.array([np.cos(ang), np.sin(ang)]) * half
        mid = edge + to_c * rng.uniform(0.0, 0.15)
        out.append(Feature("fold", np.round(_strip(mid - d, mid + d, rng.uniform(40, 160) * um, 0.05, rng), 2)))
    if rng.random() < 0.45:
        c = main.inner[int(rng.integers(len(main.inner)))] * 0.5 + np.asarray(main.center) * 0.5
        out.append(Feature("out_of_focus", np.round(_blob(rng, rng.uniform(300, 1200) * um) + c, 2)))
    if rng.random() < 0.3:  # a pen stroke near the tissue, partly over it
        k = int(rng.integers(len(main.outer)))
        p0 = main.outer[k] + (main.outer[k] - np.asarray(main.center)) * rng.uniform(0.02, 0.15)
        p1 = p0 + rng.normal(0, 1, 2) * 600 * um
        out.append(Feature("pen_mark", np.round(_strip(p0, p1, rng.uniform(120, 300) * um, 0.25, rng), 2)))
    if rng.random() < 0.3:
        c = rng.uniform([0.1 * width, 0.1 * height], [0.9 * width, 0.9 * height])
        out.append(Feature("air_bubble", np.round(_circle(c[0], c[1], rng.uniform(80, 450) * um, 48), 2)))
    for _ in range(int(rng.integers(0, 14)) if rng.random() < 0.85 else 0):
        c = rng.uniform([0, 0], [width, height])
        out.append(Feature("dust", np.round(_blob(rng, rng.uniform(5, 40) * um, (0.4, 1.0), 12) + c, 2)))
    if rng.random() < 0.15:
        y0, y1 = rng.uniform(0, height, 2)
        out.append(Feature("coverslip_crack", np.round(_strip((-10.0, y0), (width + 10.0, y1),
                                                              rng.uniform(2.0, 4.0) * um, 0.02, rng, 40), 2)))
    out.append(Feature("stitching_stripes", rect))
    out.append(Feature("uneven_background", rect))
    return out


def sinus_cores(sections: list[Section], rng: np.random.Generator, mpp: float) -> tuple[list, list]:
    """Per section, the parenchyma inside a subcapsular sinus of 25-45 um, and the sinus widths (px)."""
    cores, widths = [], []
    for sec in sections:
        w = rng.uniform(*SINUS_UM) / mpp
        cores.append(np.round(shrink_radially(sec.inner, sec.center, w), 2))
        widths.append(float(w))
    return cores, widths
