"""The challenge preset of the synthetic cohort: every look-alike, artefact and lesion kind is where the
plan says, labels follow the written polygons, centres have their scanners, and bytes are reproducible."""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import tempfile
from pathlib import Path

import numpy as np
import openslide
import pytest

from camelyon.annotations import largest_diameter_mm, read_asap
from camelyon.staging import slide_label_from_diameter
from camelyon.synthetic import Painter, generate_cohort, plan_slide
from camelyon.synthetic.challenge_plan import ARTEFACT_KINDS, LESION_KINDS, LOOKALIKE_KINDS
from camelyon.synthetic.cohort import make_painter, plan_patients, write_tables
from camelyon.synthetic.scanners import SCANNERS, center_mpp, center_scanner, stitch_profile

# nominal 3 um/px, 4.6 x 4.6 mm slides (each centre's scanner makes that 1536-1792 px)
MPP = 3.0
SIZE = 1536
pytestmark = pytest.mark.xdist_group("synthetic")
SLIDE_WIDE = ("stitching_stripes", "uneven_background")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("challenge")
    summary = generate_cohort(root, n_patients=5, n_centers=5, seed=23, mpp=MPP, size=SIZE, workers=1,
                              progress=False, difficulty="challenge")
    with open(root / "ground_truth.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return root, summary, rows


def test_easy_preset_is_unchanged():
    """The easy preset's pixels and tables are those of before the challenge preset (sha256)."""
    plan = plan_slide(seed=3, patient=0, node=0, center=1, label="micro", mpp=3.0, size=(1536, 1536))
    x, y = (int(v) - 100 for v in plan.lesions[0].center)
    assert hashlib.sha256(Painter(plan).paint(x, y, 256, 256).tobytes()).hexdigest() == \
        "d7360a2f2a7be5af24503abebea66a2b2617950f6d948aa6173c3b9c3c648f29"
    pats = plan_patients(5, 5, 11)
    plans = [plan_slide(11, p.patient, n, p.center, lab, 3.0, (1536, 1536)) for p in pats
             for n, lab in enumerate(p.labels)]
    with tempfile.TemporaryDirectory() as t:
        write_tables(Path(t), pats, plans)
        assert hashlib.sha256((Path(t) / "ground_truth.csv").read_bytes()).hexdigest() == \
            "1baf35413be813fb25eca4a94c6975d73056fae54f8a6687a768b4572740cb7a"
        assert not (Path(t) / "lookalike_annotations").exists()


def _challenge_digest() -> str:
    """sha256 of 96 px windows of challenge slides: on the first vertex of every region kind (first plan
    holding it) and on the first lesion of an ITC and a macro slide of each centre."""
    digest = hashlib.sha256()
    plans = [_plan_with_everything()] + [plan_slide(7, c, 1, c, label, 3.0, (1536, 1536), "challenge")
                                         for c in range(5) for label in ("itc", "macro")]
    seen = set()
    for plan in plans:
        painter = make_painter(plan)
        spots = [tuple(plan.lesions[0].center)] if plan.lesions else []
        for f in plan.features:
            if f.kind not in seen:
                seen.add(f.kind)
                spots.append(tuple(f.coordinates[0]))
        for x, y in spots:
            digest.update(painter.paint(max(int(x) - 48, 0), max(int(y) - 48, 0), 96, 96).tobytes())
    assert set(LOOKALIKE_KINDS) <= seen
    return digest.hexdigest()


def test_challenge_preset_is_unchanged():
    """The challenge preset's pixels, tables and region XMLs keep their sha256, so that a refactoring
    cannot change the cohort silently (a deliberate change updates both digests and says why)."""
    assert _challenge_digest() == "d806cf67290d7d53ae49f614c0f1f81ec945981f1b14bfe2fbd17f895587782c"
    pats = plan_patients(5, 5, 11)
    plans = [plan_slide(11, p.patient, n, p.center, lab, 3.0, (1536, 1536), "challenge") for p in pats
             for n, lab in enumerate(p.labels)]
    with tempfile.TemporaryDirectory() as t:
        write_tables(Path(t), pats, plans)
        digest = hashlib.sha256()
        for f in sorted(Path(t).rglob("*")):
            if f.is_file():
                digest.update(str(f.relative_to(t)).encode())
                digest.update(f.read_bytes())
        assert len(list(Path(t).rglob("*.xml"))) > 25
        assert digest.hexdigest() == "0f9e293745d3a1b9825351df6d7aa1d06b8da912e73611bbd3c3756c51afa98a"

def test_every_kind_is_generated_and_named_in_ground_truth(cohort):
    root, summary, rows = cohort
    kinds = {r["kind"] for r in rows}
    assert set(LESION_KINDS) | set(LOOKALIKE_KINDS) | set(ARTEFACT_KINDS) <= kinds
    assert {r["site"] for r in rows if r["lesion"]} == {"parenchyma", "subcapsular_sinus"}
    # several lesions on some slides
    per_slide = {}
    for r in rows:
        if r["lesion"]:
            per_slide[r["slide"]] = per_slide.get(r["slide"], 0) + 1
    assert max(per_slide.values()) >= 3
    # every slide has the slide-wide artefacts and a capsule; look-alikes have their own XML groups
    for plan in summary.plans:
        names = [r["kind"] for r in rows if r["slide"] == plan.name + ".tif"]
        assert set(SLIDE_WIDE) <= set(names) and "capsule" in names
        groups = {a.group for a in read_asap(root / "lookalike_annotations" / f"{plan.name}.xml")}
        assert groups == {f.kind for f in plan.features}


def test_labels_follow_the_written_polygons(cohort):
    root, summary, rows = cohort
    with open(root / "stage_labels.csv", newline="") as fh:
        labels = {r[0][:-4]: r[1] for r in csv.reader(fh) if r[0].endswith(".tif")}
    assert set(labels.values()) == {"negative", "itc", "micro", "macro"}
    mpp = {p.name: p.mpp for p in summary.plans}
    for name, label in labels.items():
        xml = root / "lesion_annotations" / f"{name}.xml"
        anns = read_asap(xml) if xml.exists() else []
        largest = max((largest_diameter_mm(a.coordinates, mpp[name]) for a in anns), default=None)
        assert slide_label_from_diameter(largest) == label, name
    for r in rows:
        if not r["lesion"]:
            continue
        name = r["slide"][:-4]
        coords = read_asap(root / "lesion_annotations" / f"{name}.xml")[int(r["lesion"])].coordinates
        d = largest_diameter_mm(coords, mpp[name])
        assert float(r["largest_diameter_mm"]) == pytest.approx(d, abs=1e-4)
        assert r["lesion_label"] == slide_label_from_diameter(d)
        if r["kind"].startswith("itc"):
            assert r["lesion_label"] == "itc" and int(r["cells"]) < 200
        else:
            assert r["lesion_label"] in ("micro", "macro")


def test_lesion_sizes_are_continuous_across_both_thresholds():
    sizes = []
    for k in range(60):
        label = ("itc", "micro", "macro")[k % 3]
        plan = plan_slide(101, k, 0, k % 5, label, 2.0, None, "challenge")
        sizes += [les.diameter_mm for les in plan.lesions]
        for les in plan.lesions:
            if les.cells_xy is not None:  # ITC are drawn cell by cell, every cell inside its polygon
                from camelyon.synthetic.tissue_layout import points_in_polygon

                assert points_in_polygon(les.cells_xy[:, :2], les.coordinates).all()
                assert len(les.cells_xy) == les.cells < 200
    sizes = np.array(sizes)
    for t in (0.2, 2.0):
        assert ((sizes > 0.9 * t) & (sizes <= t)).any(), f"nothing just below {t} mm"
        assert ((sizes > t) & (sizes < 1.1 * t)).any(), f"nothing just above {t} mm"
    assert (sizes < 0.03).any()  # single cells


@functools.cache
def _plan_with_everything():
    """A challenge plan holding every look-alike and most artefacts (found by trying seeds)."""
    wanted = set(LOOKALIKE_KINDS) | {"fold", "out_of_focus", "dust"}
    for seed in range(200):
        plan = plan_slide(seed, 0, 0, 0, "micro", 2.0, None, "challenge")
        if wanted <= {f.kind for f in plan.features}:
            return plan
    raise AssertionError("no plan with every kind")  # pragma: no cover


def _compare(plan, reduced, poly):
    """Paint the polygon's box with and without one element; difference inside vs. beyond the margin."""
    p = make_painter(plan)
    m = p.margin + 2
    x0, y0 = np.floor(poly.min(0)).astype(int) - 2 * m
    x1, y1 = np.ceil(poly.max(0)).astype(int) + 2 * m
    x0, y0 = max(x0, 0), max(y0, 0)
    w, h = min(x1, plan.width) - x0, min(y1, plan.height) - y0
    if w * h > 700 * 700:  # big regions: a window around the first vertex
        x0, y0 = (np.asarray(poly[0]) - 350).astype(int)
        w = h = 700
    a = p.paint(x0, y0, w, h).astype(np.int16)
    b = make_painter(reduced).paint(x0, y0, w, h).astype(np.int16)
    diff = np.abs(a - b).max(-1)
    from camelyon.synthetic.tissue_layout import points_in_polygon

    yy, xx = np.mgrid[0:h, 0:w]
    pts = np.stack([xx.ravel() + x0 + 0.5, yy.ravel() + y0 + 0.5], 1)
    inside = points_in_polygon(pts, poly).reshape(h, w)
    bx0, by0 = poly.min(0) - m
    bx1, by1 = poly.max(0) + m
    far = ~((pts[:, 0] > bx0) & (pts[:, 0] < bx1) & (pts[:, 1] > by0) & (pts[:, 1] < by1)).reshape(h, w)
    return diff, inside, far


@pytest.mark.parametrize("kind", sorted(set(LOOKALIKE_KINDS) - {"capsule", "perinodal_fat"})
                         + ["fold", "out_of_focus", "dust"])
def test_each_lookalike_and_artefact_changes_pixels_only_where_planned(kind):
    plan = _plan_with_everything()
    feature = next(f for f in plan.features if f.kind == kind)
    reduced = dataclasses.replace(plan, features=[f for f in plan.features if f is not feature])
    diff, inside, far = _compare(plan, reduced, feature.coordinates)
    assert inside.any()
    assert diff[inside].mean() > 3, f"{kind}: no visible change inside its polygon"
    assert diff[far].max() == 0, f"{kind}: pixels changed far from its polygon"


def test_capsule_and_perinodal_fat_are_the_section_outlines():
    plan = _plan_with_everything()
    sec = plan.sections[0]
    caps = [f for f in plan.features if f.kind == "capsule"]
    assert np.allclose(caps[0].coordinates, np.round(sec.node, 2))
    p = make_painter(plan)
    k = 10
    mid = (sec.node[k] + sec.inner[k]) / 2  # halfway through the capsule
    p.paint(int(mid[0]) - 2, int(mid[1]) - 2, 4, 4)
    m = p.margin
    assert p.cls[m + 2, m + 2] == 2  # CAPSULE


@pytest.mark.parametrize("kind", LESION_KINDS)
def test_each_lesion_kind_is_painted_inside_its_polygon(kind):
    for seed in range(300):
        label = "itc" if kind.startswith("itc") else "micro"
        plan = plan_slide(seed, 1, 0, seed % 5, label, 1.0, None, "challenge")
        found = [les for les in plan.lesions if les.kind == kind]
        if found:
            break
    les = found[0]
    reduced = dataclasses.replace(plan, lesions=[x for x in plan.lesions if x is not les])
    diff, inside, far = _compare(plan, reduced, les.coordinates)
    assert diff[inside].mean() > 3 and diff[far].max() == 0


def test_slide_wide_light_artefacts():
    plan = _plan_with_everything()
    flat = dataclasses.replace(plan, extras=dataclasses.replace(plan.extras, uneven=0.0))
    a = make_painter(plan).paint(0, 0, 64, 64)
    b = make_painter(flat).paint(0, 0, 64, 64)
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 1  # uneven light
    for scanner in SCANNERS:
        prof = stitch_profile(4000, 0, 0.5, scanner, 0.0)
        seams = np.flatnonzero(np.diff(prof) != 0)
        assert len(seams) >= 2 * int(2000 // scanner.stitch_period_um) - 1  # a step at every field edge


def test_centres_have_their_scanners(cohort):
    root, summary, _ = cohort
    assert center_mpp(0, 0.25) == pytest.approx(0.243) and center_mpp(1, 0.25) == pytest.approx(0.226)
    assert min(s.stain_scale for s in SCANNERS) < 0.6  # one weakly stained centre
    assert len({s.jpeg_quality for s in SCANNERS}) >= 3 and len({s.blur_um for s in SCANNERS}) >= 3
    for plan in summary.plans:
        path = root / f"center_{plan.center}" / f"{plan.name}.tif"
        with openslide.OpenSlide(str(path)) as s:
            mpp = float(s.properties["openslide.mpp-x"])
            assert mpp == pytest.approx(MPP * center_scanner(plan.center).mpp / 0.25, rel=1e-6)
            assert s.dimensions == (plan.width, plan.height)
            assert s.dimensions[0] * mpp >= SIZE * MPP - 1e-6  # the same physical size
    assert len({p.mpp for p in summary.plans}) >= 4


def test_region_paints_the_same_whatever_the_tiling():
    plan = _plan_with_everything()
    oof = next(f for f in plan.features if f.kind == "out_of_focus")
    x, y = (int(v) - 130 for v in oof.coordinates[0])
    big = make_painter(plan).paint(x, y, 260, 260)
    parts = np.empty_like(big)
    for dy, dx, hh, ww in [(0, 0, 100, 131), (0, 131, 100, 129), (100, 0, 160, 260)]:
        parts[dy : dy + hh, dx : dx + ww] = make_painter(plan).paint(x + dx, y + dy, ww, hh)
    assert np.array_equal(big, parts)


def test_same_seed_same_bytes_with_one_or_two_workers(tmp_path):
    def digest(root):
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    kwargs = dict(n_patients=1, n_centers=1, seed=5, mpp=MPP, size=SIZE, progress=False,
                  stage_mix={"pN1": 1.0}, difficulty="challenge")
    generate_cohort(tmp_path / "a", workers=1, **kwargs)
    generate_cohort(tmp_path / "b", workers=2, **kwargs)
    da, db = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert len(da) >= 5 + 5 + 3 and da == db
