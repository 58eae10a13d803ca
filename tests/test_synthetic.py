"""The synthetic CAMELYON17-style cohort: files, labels, stages, determinism, resume."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import openslide
import pytest

from camelyon.annotations import largest_diameter_mm, rasterize, read_asap
from camelyon.cli import main as cli_main
from camelyon.errors import CamelyonError
from camelyon.staging import STAGES, pn_stage, slide_label_from_diameter
from camelyon.synthetic import Painter, generate_cohort, plan_slide
from camelyon.synthetic import cohort as cohort_module
from camelyon.synthetic.lesions import labels_for_stage, stage_counts

# tiny slides: 4.6 x 4.6 mm at 3 um/px = 1536 x 1536 px, three levels (about 0.1 s each)
MPP = 3.0
SIZE = 1536
pytestmark = pytest.mark.xdist_group("synthetic")


def read_stage_rows(root: Path) -> list[tuple[str, str]]:
    with open(root / "stage_labels.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["patient", "stage"]
    return [tuple(r) for r in rows[1:]]


def slide_labels(root: Path) -> dict[str, str]:
    return {name[:-4]: label for name, label in read_stage_rows(root) if name.endswith(".tif")}


def digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Five patients: with the default mix, one of each pN stage."""
    root = tmp_path_factory.mktemp("cohort")
    summary = generate_cohort(root, n_patients=5, n_centers=5, seed=11, mpp=MPP, size=SIZE, workers=1,
                              progress=False)
    return root, summary


def test_layout_and_all_five_stages(cohort):
    root, summary = cohort
    assert summary.painted == 25
    slides = sorted(p.relative_to(root).as_posix() for p in root.glob("center_*/*.tif"))
    assert slides == sorted(f"center_{p}/patient_{p:03d}_node_{n}.tif" for p in range(5) for n in range(5))
    stages = [stage for name, stage in read_stage_rows(root) if name.endswith(".zip")]
    assert sorted(stages) == sorted(STAGES)
    assert not list(root.rglob(".*")), "no temporary file may be left behind"


def test_openslide_opens_every_slide_with_mpp_and_halving_levels(cohort):
    root, _ = cohort
    for path in sorted(root.glob("center_*/*.tif")):
        with openslide.OpenSlide(str(path)) as s:
            assert s.properties["openslide.vendor"] == "generic-tiff"
            assert float(s.properties["openslide.mpp-x"]) == pytest.approx(MPP, rel=1e-6)
            assert float(s.properties["openslide.mpp-y"]) == pytest.approx(MPP, rel=1e-6)
            assert s.dimensions == (SIZE, SIZE)
            assert s.level_count >= 3
            for k, (w, h) in enumerate(s.level_dimensions):
                assert (w, h) == (SIZE >> k, SIZE >> k)
                assert s.level_downsamples[k] == pytest.approx(2.0**k)
            assert max(s.level_dimensions[-1]) <= 512
            rgba = np.asarray(s.read_region((0, 0), s.level_count - 1, s.level_dimensions[-1]))
            assert rgba[..., 3].min() == 255  # every tile present


def _tissue(rgb: np.ndarray) -> np.ndarray:
    """Stained pixels: clearly darker or more coloured than the empty glass along the slide's edge."""
    rgb = rgb.astype(np.int16)
    edge = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    glass = np.median(edge, axis=0)
    return np.abs(rgb - glass).max(-1) > 20


def test_xml_parses_and_every_lesion_lies_in_tissue(cohort):
    root, _ = cohort
    labels = slide_labels(root)
    xmls = sorted((root / "lesion_annotations").glob("*.xml"))
    assert {p.stem for p in xmls} == {name for name, lab in labels.items() if lab != "negative"}
    for xml in xmls:
        anns = read_asap(xml)
        assert len(anns) >= 1
        assert all(a.group == "metastases" and a.kind == "Polygon" for a in anns)
        center = int(next(root.glob(f"center_*/{xml.stem}.tif")).parent.name.split("_")[1])
        with openslide.OpenSlide(str(root / f"center_{center}" / f"{xml.stem}.tif")) as s:
            level = 1
            w, h = s.level_dimensions[level]
            rgb = np.asarray(s.read_region((0, 0), level, (w, h)).convert("RGB"))
        tissue = _tissue(rgb)
        for a in anns:
            mask = rasterize([a], (h, w), 2.0)
            assert mask.any()
            assert tissue[mask].mean() > 0.97, f"{xml.name}: lesion {a.name} outside tissue"
            # every vertex sits on tissue (a 3 x 3 neighbourhood at level 1)
            for x, y in a.coordinates / 2.0:
                r, c = int(y), int(x)
                assert tissue[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2].any(), f"{xml.name}: vertex off tissue"
        # and outside every lesion there is normal tissue too
        assert tissue.mean() > 0.2


def test_diameters_measured_from_the_written_polygons_reproduce_the_labels(cohort):
    root, summary = cohort
    labels = slide_labels(root)
    seen = set()
    for name, label in labels.items():
        xml = root / "lesion_annotations" / f"{name}.xml"
        largest = max((largest_diameter_mm(a.coordinates, MPP) for a in read_asap(xml)), default=None) \
            if xml.exists() else None
        assert slide_label_from_diameter(largest) == label, name
        seen.add(label)
    assert seen == {"negative", "itc", "micro", "macro"}
    # ground_truth.csv agrees with the polygons
    with open(root / "ground_truth.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    for row in rows:
        anns = read_asap(root / "lesion_annotations" / row["slide"].replace(".tif", ".xml"))
        coords = anns[int(row["lesion"])].coordinates
        assert float(row["largest_diameter_mm"]) == pytest.approx(largest_diameter_mm(coords, MPP), abs=1e-4)
        assert row["slide_label"] == labels[row["slide"][:-4]]
        assert float(row["area_mm2"]) > 0 and int(row["cells"]) >= 1
        if row["lesion_label"] == "itc":
            assert int(row["cells"]) < 200


def test_stage_labels_follow_the_camelyon17_rules(cohort):
    root, _ = cohort
    rows = read_stage_rows(root)
    assert len(rows) == 5 * 6
    for i in range(0, len(rows), 6):
        patient, stage = rows[i]
        assert patient.endswith(".zip") and stage in STAGES
        pid = patient[: -len(".zip")]
        nodes = rows[i + 1 : i + 6]
        assert [n for n, _ in nodes] == [f"{pid}_node_{k}.tif" for k in range(5)]
        assert pn_stage([lab for _, lab in nodes]) == stage


@pytest.mark.parametrize("stage", STAGES)
def test_labels_for_stage_always_give_that_stage(stage):
    for seed in range(200):
        labels = labels_for_stage(stage, np.random.default_rng(seed))
        assert len(labels) == 5 and pn_stage(labels) == stage


def test_stage_counts_cover_all_stages_and_sum_up():
    for n in (5, 7, 12, 100):
        counts = stage_counts(n)
        assert sum(counts.values()) == n and min(counts.values()) >= 1
    assert stage_counts(10, {"pN0": 1.0}) == {"pN0": 10, "pN0(i+)": 0, "pN1mi": 0, "pN1": 0, "pN2": 0}
    with pytest.raises(CamelyonError, match="unknown stage"):
        stage_counts(5, {"pN3": 1.0})


def test_painting_does_not_depend_on_the_region():
    plan = plan_slide(seed=3, patient=0, node=0, center=1, label="micro", mpp=MPP, size=(SIZE, SIZE))
    painter = Painter(plan)
    x, y = (int(v) - 100 for v in plan.lesions[0].center)
    big = painter.paint(x, y, 256, 256)
    parts = np.empty_like(big)
    for dy, dx, hh, ww in [(0, 0, 100, 131), (0, 131, 100, 125), (100, 0, 156, 256)]:
        parts[dy : dy + hh, dx : dx + ww] = Painter(plan).paint(x + dx, y + dy, ww, hh)
    assert np.array_equal(big, parts)
    assert big.std() > 10  # not blank


def test_same_seed_gives_byte_identical_files_whatever_the_workers(tmp_path):
    mix = {"pN1": 1.0}
    a = generate_cohort(tmp_path / "a", 1, n_centers=1, seed=5, mpp=MPP, size=SIZE, workers=1, progress=False,
                        stage_mix=mix)
    generate_cohort(tmp_path / "b", 1, n_centers=1, seed=5, mpp=MPP, size=SIZE, workers=2, progress=False,
                    stage_mix=mix)
    generate_cohort(tmp_path / "c", 1, n_centers=1, seed=6, mpp=MPP, size=SIZE, workers=1, progress=False,
                    stage_mix=mix)
    da, db, dc = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert len(da) >= 5 + 3 and a.painted == 5
    assert da == db
    assert da["center_0/patient_000_node_0.tif"] != dc["center_0/patient_000_node_0.tif"]


def test_interrupted_run_resumes_without_repainting_or_truncated_slides(tmp_path, monkeypatch):
    kwargs = dict(n_patients=1, n_centers=1, seed=8, mpp=MPP, size=SIZE, workers=1, progress=False,
                  stage_mix={"pN2": 1.0})
    reference = generate_cohort(tmp_path / "ref", **kwargs)
    out = tmp_path / "run"
    real_render = cohort_module.render_slide
    calls = []

    def interrupted(plan, path, progress=None):
        calls.append(plan.name)
        if len(calls) == 3:  # Ctrl-C in the middle of the third slide

            def stop(done):
                if done == 5:
                    raise KeyboardInterrupt

            return real_render(plan, path, progress=stop)
        return real_render(plan, path)

    monkeypatch.setattr(cohort_module, "render_slide", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate_cohort(out, **kwargs)
    monkeypatch.undo()
    finished = sorted(p.name for p in out.glob("center_0/*.tif"))
    assert finished == ["patient_000_node_0.tif", "patient_000_node_1.tif"]
    assert not list(out.rglob(".*")), "the interrupted slide left a temporary file"
    assert not (out / "stage_labels.csv").exists()
    # a stale temporary from a killed process is cleaned up too
    (out / "center_0" / ".patient_000_node_2.tif.tmp-99999").write_bytes(b"half a slide")
    resumed = generate_cohort(out, **kwargs)
    assert resumed.painted == 3
    assert digest(out) == digest(reference.root)


def test_refuses_a_non_empty_folder_unless_asked(tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(CamelyonError, match="not empty"):
        generate_cohort(out, 1, n_centers=1, seed=0, mpp=MPP, size=SIZE, workers=1, progress=False)
    args = ["synth", str(out), "--patients", "1", "--centers", "1", "--mpp", str(MPP), "--size", str(SIZE),
            "--workers", "1", "--quiet", "--stage-mix", "pN0=1"]
    assert cli_main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert cli_main(args + ["--overwrite"]) == 0
    assert len(list(out.glob("center_0/*.tif"))) == 5
    assert (out / "notes.txt").read_text() == "mine"  # only cohort files are replaced
    # a cohort made with other settings is not silently mixed in
    with pytest.raises(CamelyonError, match="other settings"):
        generate_cohort(out, 1, n_centers=1, seed=1, mpp=MPP, size=SIZE, workers=1, progress=False)


def test_bad_settings_are_named():
    with pytest.raises(CamelyonError, match="at least 3.5 mm"):
        generate_cohort("unused", 1, mpp=0.5, size=1024, progress=False)
    with pytest.raises(CamelyonError, match="n_patients"):
        generate_cohort("unused", 0, progress=False)
    with pytest.raises(CamelyonError, match="--size"):
        cohort_module.normalize_size("big", 1.0)
    assert not Path("unused").exists()


def test_slides_painted_in_process_show_progress_over_their_tiles(tmp_path, capsys):
    # one worker: besides the per-slide bar, each slide shows how many of its level-0 tiles are done
    generate_cohort(tmp_path / "a", 1, n_centers=1, seed=5, mpp=MPP, size=SIZE, workers=1, progress=True,
                    stage_mix={"pN0": 1.0})
    err = capsys.readouterr().err
    tiles = (SIZE // 512) ** 2
    for node in range(5):
        assert f"patient_000_node_{node}:" in err
    assert f"/{tiles} [" in err and "tile/s" in err
    # quiet means quiet
    generate_cohort(tmp_path / "b", 1, n_centers=1, seed=5, mpp=MPP, size=SIZE, workers=1, progress=False,
                    stage_mix={"pN0": 1.0})
    assert capsys.readouterr().err == ""


def test_rerun_of_a_complete_cohort_leaves_its_tables_and_xmls_untouched(cohort):
    """The pipeline fingerprints stage_labels.csv and the XMLs by size and mtime: a rerun of synth (as
    `camelyon demo` does every time) must not rewrite them, or every pipeline step runs again."""
    root, _ = cohort
    files = sorted(p for p in root.rglob("*") if p.suffix in (".csv", ".xml", ".json"))
    assert any(p.suffix == ".xml" for p in files) and any(p.name == "stage_labels.csv" for p in files)
    before = {p: p.stat().st_mtime_ns for p in files}
    generate_cohort(root, n_patients=5, n_centers=5, seed=11, mpp=MPP, size=SIZE, workers=1, progress=False)
    assert [p.name for p in files if p.stat().st_mtime_ns != before[p]] == []
