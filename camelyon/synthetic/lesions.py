"""Metastases: which nodes get which label, and lesion outlines sized to produce that label.

A patient's pN stage is drawn first (from the cohort's stage mix), then five slide labels that
give that stage by the CAMELYON17 rules, then for every positive slide a largest lesion whose
longest diameter falls well inside its label's range (itc below 0.2 mm, micro 0.2-2.0 mm,
macro above 2.0 mm), plus a few smaller lesions. Each outline is scaled so that the longest
distance between two of its *written* vertices is exactly the drawn diameter; the label is then
recomputed from the written polygons with :func:`camelyon.annotations.largest_diameter_mm`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from camelyon.annotations import largest_diameter_mm
from camelyon.errors import CamelyonError
from camelyon.staging import ITC_MAX_MM, MICRO_MAX_MM, STAGES, slide_label_from_diameter
from camelyon.synthetic.tissue_layout import Section, points_in_polygon, star_radius

#: Default stage mix (fractions of patients), roughly the CAMELYON17 training set: many pN0,
#: pN1 the most common positive stage, fewer pN0(i+), pN1mi and pN2.
DEFAULT_STAGE_MIX = {"pN0": 0.30, "pN0(i+)": 0.12, "pN1mi": 0.18, "pN1": 0.25, "pN2": 0.15}

#: Ranges (mm) the largest lesion's diameter is drawn from, per slide label; they keep clear of
#: the 0.2 and 2.0 mm thresholds so that a label never sits on a boundary.
DIAMETER_RANGES_MM = {"itc": (0.04, 0.17), "micro": (0.26, 1.80), "macro": (2.25, 5.0)}

#: Tumour cell spacing (um): one cell per SPACING^2 um^2 (used for the approximate cell count).
TUMOUR_CELL_SPACING_UM = 13.0


@dataclass
class Lesion:
    """One metastasis outline.

    Attributes
    ----------
    coordinates : ndarray (N, 2) float64
        Closed polygon in level-0 px (as written to the XML).
    diameter_mm : float
        Longest distance between two vertices, in mm.
    area_mm2 : float
        Enclosed area in mm^2.
    cells : int
        Approximate number of tumour cells (area / cell area).
    section : int
        Index of the tissue section holding it.
    kind : str
        Challenge preset only: ``ductal_carcinoma``, ``lobular_carcinoma``, ``itc_single_cells`` or
        ``itc_cluster`` (empty in the easy preset).
    site : str
        Challenge preset only: ``parenchyma`` or ``subcapsular_sinus``.
    cells_xy : ndarray (N, 3) float64 or None
        Challenge ITC only: level-0 centre and seed key of every tumour cell.
    """

    coordinates: np.ndarray
    diameter_mm: float
    area_mm2: float
    cells: int
    section: int
    kind: str = ""
    site: str = ""
    cells_xy: np.ndarray | None = None

    @property
    def center(self) -> tuple[float, float]:
        """Mean of the vertices (x, y) in level-0 px."""
        c = self.coordinates.mean(axis=0)
        return float(c[0]), float(c[1])

    @property
    def label(self) -> str:
        """The slide label this lesion alone would give (itc / micro / macro)."""
        return slide_label_from_diameter(self.diameter_mm)


def stage_counts(n_patients: int, mix: dict[str, float] | None = None) -> dict[str, int]:
    """How many patients get each stage: largest remainders of ``mix * n_patients``.

    When ``n_patients >= 5`` and every stage has a positive weight, every stage gets at least one patient.
    """
    mix = dict(DEFAULT_STAGE_MIX if mix is None else mix)
    unknown = set(mix) - set(STAGES)
    if unknown:
        raise CamelyonError(f"stage mix: unknown stage(s) {sorted(unknown)}; expected some of {', '.join(STAGES)}")
    weights = np.array([max(0.0, float(mix.get(s, 0.0))) for s in STAGES])
    if weights.sum() <= 0:
        raise CamelyonError("stage mix: at least one stage needs a positive weight")
    weights /= weights.sum()
    raw = weights * n_patients
    counts = np.floor(raw).astype(int)
    if n_patients >= int((weights > 0).sum()):
        counts = np.maximum(counts, (weights > 0).astype(int))
    while counts.sum() > n_patients:
        counts[np.argmax(counts - raw)] -= 1
    while counts.sum() < n_patients:
        counts[np.argmax(raw - counts)] += 1
    return {s: int(c) for s, c in zip(STAGES, counts, strict=False)}


def labels_for_stage(stage: str, rng: np.random.Generator, n_nodes: int = 5) -> list[str]:
    """Slide labels of ``n_nodes`` nodes that give ``stage`` by the CAMELYON17 rules (random order)."""
    labels = ["negative"] * n_nodes
    if stage == "pN0(i+)":
        k = int(rng.integers(1, 4))
        labels[:k] = ["itc"] * k
    elif stage == "pN1mi":
        k = int(rng.integers(1, 4))
        labels[:k] = ["micro"] * k
        if k < n_nodes and rng.random() < 0.3:
            labels[k] = "itc"
    elif stage == "pN1":
        k = int(rng.integers(1, 4))  # metastatic nodes, at least one macro
        n_macro = int(rng.integers(1, k + 1))
        labels[:k] = ["macro"] * n_macro + ["micro"] * (k - n_macro)
        if k < n_nodes and rng.random() < 0.3:
            labels[k] = "itc"
    elif stage == "pN2":
        k = int(rng.integers(4, n_nodes + 1))
        n_macro = int(rng.integers(1, k + 1))
        labels[:k] = ["macro"] * n_macro + ["micro"] * (k - n_macro)
    elif stage != "pN0":
        raise CamelyonError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    order = rng.permutation(n_nodes)
    # the table above gives ``stage`` by the CAMELYON17 rules (tests/test_synthetic.py checks it with pn_stage);
    # the generator itself never calls pn_stage: it is the S09 exercise, and the cohort must exist before it
    return [labels[i] for i in order]


def lesion_outline(rng: np.random.Generator, diameter_px: float, n_vertices: int) -> np.ndarray:
    """An irregular blob outline centred on (0, 0) whose largest vertex distance is ``diameter_px``.

    Returns
    -------
    ndarray (n_vertices, 2) float64
    """
    radius = star_radius(rng, n_vertices, rng.uniform(0.25, 0.5), harmonics=(2, 3, 4, 5, 6, 8))
    theta = np.arange(n_vertices) * (2 * np.pi / n_vertices)
    aspect = rng.uniform(0.6, 1.0)
    angle = rng.uniform(0, np.pi)
    x = radius * np.cos(theta)
    y = aspect * radius * np.sin(theta)
    ca, sa = np.cos(angle), np.sin(angle)
    pts = np.stack([ca * x - sa * y, sa * x + ca * y], axis=1)
    pts -= pts.mean(axis=0)
    d = pts[:, None, :] - pts[None, :, :]
    longest = float(np.sqrt((d * d).sum(-1)).max())
    return pts * (diameter_px / longest)


def _vertices_for(diameter_px: float) -> int:
    return int(np.clip(diameter_px / 6.0, 24, 160))


def place_lesions(
    label: str,
    sections: list[Section],
    rng: np.random.Generator,
    mpp: float,
    max_diameter_mm: float | None = None,
) -> list[Lesion]:
    """Draw the lesions of a slide with label ``label`` inside the capsules of ``sections``.

    The largest lesion goes into the first (largest) section; up to three smaller ones go
    anywhere in tissue, never touching another lesion. Each polygon is kept only when all its
    vertices, pushed 20 um further out, lie inside the capsule.

    Parameters
    ----------
    label : {"negative", "itc", "micro", "macro"}
    sections : list of Section
    rng : numpy.random.Generator
    mpp : float
        Level-0 um/px.
    max_diameter_mm : float, optional
        Cap on the largest diameter (the room in the first section).

    Returns
    -------
    list of Lesion
        Largest first; the slide label measured from them equals ``label``.
    """
    if label == "negative":
        return []
    lo, hi = DIAMETER_RANGES_MM[label]
    if max_diameter_mm is not None:
        hi = min(hi, max_diameter_mm)
    if hi < lo:
        raise CamelyonError(f"no room for a {label} lesion (needs {lo} mm, room for {hi:.2f} mm)")
    main_d = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    wanted = [(main_d, 0)]
    n_extra = int(rng.integers(0, 4))
    for _ in range(n_extra):
        # smaller lesions: ITC clusters or, beside larger ones, small micro-metastases
        top = min(main_d * 0.8, 1.2)
        small_lo = DIAMETER_RANGES_MM["itc"][0]
        if top <= small_lo:
            break
        d = float(np.exp(rng.uniform(np.log(small_lo), np.log(top))))
        if ITC_MAX_MM * 0.9 < d < ITC_MAX_MM * 1.15 or MICRO_MAX_MM * 0.95 < d < MICRO_MAX_MM * 1.05:
            d *= 0.8  # keep clear of the thresholds
        wanted.append((d, int(rng.integers(0, len(sections)))))
    lesions: list[Lesion] = []
    placed: list[tuple[float, float, float]] = []  # (x, y, radius px) of placed lesions
    for k, (d_mm, sec_idx) in enumerate(wanted):
        lesion = _place_one(d_mm, sections, sec_idx, rng, mpp, placed)
        while lesion is None and k == 0 and d_mm * 0.93 > lo * 1.01:
            # the largest lesion must exist: try a smaller one (still within its label's range)
            d_mm *= 0.93
            lesion = _place_one(d_mm, sections, sec_idx, rng, mpp, placed)
        if lesion is None:
            if k == 0:
                raise CamelyonError(
                    f"could not place a {label} lesion of {d_mm:.2f} mm in the tissue; use a larger --size"
                )
            continue
        lesions.append(lesion)
    measured = max(les.diameter_mm for les in lesions)
    if slide_label_from_diameter(measured) != label:  # pragma: no cover - ranges keep clear of thresholds
        raise AssertionError(f"drew a {label} slide but measured {measured} mm")
    return lesions


def _place_one(d_mm, sections, sec_idx, rng, mpp, placed) -> Lesion | None:
    d_px = d_mm * 1000.0 / mpp
    outline = lesion_outline(rng, d_px, _vertices_for(d_px))
    r_out = float(np.sqrt((outline * outline).sum(1)).max())
    margin = 20.0 / mpp
    grown = outline * ((r_out + margin) / max(r_out, 1e-9))
    order = [sec_idx] + [i for i in range(len(sections)) if i != sec_idx]
    for idx in order:
        sec = sections[idx]
        lo = sec.inner.min(axis=0)
        hi = sec.inner.max(axis=0)
        for attempt in range(60):
            # the middle of the section first (most room), then anywhere
            c = np.asarray(sec.center, dtype=np.float64) if attempt == 0 else rng.uniform(lo, hi)
            if not points_in_polygon(c[None], sec.inner)[0]:
                continue
            if any(np.hypot(c[0] - x, c[1] - y) < r + r_out + 60.0 / mpp for x, y, r in placed):
                continue
            if not points_in_polygon(grown + c, sec.inner).all():
                continue
            coords = np.round(outline + c, 2)
            placed.append((float(c[0]), float(c[1]), r_out))
            area_px = 0.5 * abs(
                np.dot(coords[:, 0], np.roll(coords[:, 1], -1)) - np.dot(coords[:, 1], np.roll(coords[:, 0], -1))
            )
            area_mm2 = area_px * (mpp / 1000.0) ** 2
            cells = max(1, int(round(area_mm2 * 1e6 / TUMOUR_CELL_SPACING_UM**2)))
            return Lesion(coords, largest_diameter_mm(coords, mpp), float(area_mm2), cells, idx)
    return None
