"""The whole pipeline on a tiny synthetic cohort: outputs, resume, and the split protocol."""

import json
import os
from pathlib import Path

import pytest

from camelyon.errors import CamelyonError
from camelyon.pipeline import PipelineConfig, find_slides, run_pipeline, split_patients
from camelyon.staging import STAGES, patient_of, read_stage_csv


def test_split_is_stratified_and_disjoint():
    stages = {f"patient_{i:03d}": STAGES[i % 5] for i in range(30)}
    cnn, ev = split_patients(stages, 0.34, seed=0)
    assert not set(cnn) & set(ev) and set(cnn) | set(ev) == set(stages)
    assert 9 <= len(cnn) <= 11
    for stage in STAGES:  # every stage is in both roles
        assert any(stages[p] == stage for p in cnn) and any(stages[p] == stage for p in ev)
    assert split_patients(stages, 0.34, seed=0) == (cnn, ev)
    assert split_patients(stages, 0.34, seed=1) != (cnn, ev)
    with pytest.raises(CamelyonError, match="cnn_fraction"):
        split_patients(stages, 1.5)


def test_split_gives_the_cnn_every_centre():
    stages = {f"patient_{i:03d}": STAGES[(7 * i) % 5] for i in range(25)}
    centers = {p: f"center_{i // 5}" for i, p in enumerate(sorted(stages))}
    cnn, ev = split_patients(stages, 0.34, seed=3, centers=centers)
    assert {centers[p] for p in cnn} == {centers[p] for p in ev} == set(centers.values())
    assert not set(cnn) & set(ev) and len(cnn) + len(ev) == 25


def test_missing_inputs(tmp_path):
    with pytest.raises(CamelyonError, match="not found"):
        find_slides(tmp_path / "nope")
    (tmp_path / "data").mkdir()
    with pytest.raises(CamelyonError, match="no slide files"):
        find_slides(tmp_path / "data")
    with pytest.raises(CamelyonError, match="stage_labels.csv"):
        run_pipeline(tmp_path / "data", tmp_path / "run", log=None)


TINY = dict(tile_size=16, tile_um_per_px=8.0, epochs=2, steps_per_epoch=15, batch_size=32,
            max_negatives_per_slide=60, n_estimators=20, cv_folds=3, workers=1, n_report_slides=2,
            progress=False, cnn_fraction=0.34, min_tissue=0.5)


#: Slide labels of the tiny cohort, one list of five nodes per patient (stages pN1, pN0, pN0(i+), ...).
TINY_LABELS = [
    ["macro", "micro", "negative", "negative", "negative"],
    ["negative"] * 5,
    ["itc", "negative", "negative", "negative", "negative"],
    ["micro", "negative", "negative", "negative", "negative"],
    ["macro", "macro", "micro", "micro", "negative"],
    ["macro", "negative", "negative", "negative", "negative"],
    ["negative"] * 5,
    ["micro", "itc", "negative", "negative", "negative"],
]
#: Side (mm) of the square lesion drawn for each label; its diagonal is the largest diameter.
LESION_SIDE_MM = {"itc": 0.1, "micro": 0.6, "macro": 1.8}


def write_tiny_cohort(root, mpp=4.0):
    """A CAMELYON17-layout cohort of simple drawn slides (pink tissue, purple square lesions), 4 x 3 mm."""
    from wsi_factory import SlideSpec, write_lesion_xml, write_slide

    from camelyon.staging import pn_stage, write_stage_csv

    root = Path(root)
    (root / "lesion_annotations").mkdir(parents=True)
    stages, slides = {}, {}
    for p, labels in enumerate(TINY_LABELS):
        center = root / f"center_{p % 2}"
        center.mkdir(exist_ok=True)
        for n, lab in enumerate(labels):
            name = f"patient_{p:03d}_node_{n}"
            lesions = []
            if lab != "negative":
                side = LESION_SIDE_MM[lab] * 1000 / mpp
                x0, y0 = 150 + 20 * n, 120 + 10 * p
                lesions = [[(x0, y0), (x0 + side, y0), (x0 + side, y0 + side), (x0, y0 + side)]]
            spec = SlideSpec(width=1024, height=768, tissue=[(64, 64, 960, 704)], lesions=lesions,
                             seed=10 * p + n)
            write_slide(center / f"{name}.tif", spec, mpp=mpp, tile=256, min_size=128)
            if lesions:
                write_lesion_xml(root / "lesion_annotations" / f"{name}.xml", spec)
            slides[f"{name}.tif"] = lab
        stages[f"patient_{p:03d}"] = pn_stage(labels)
    write_stage_csv(root / "stage_labels.csv", stages, slides)
    return root


@pytest.fixture(scope="module")
def tiny_cohort(tmp_path_factory):
    return write_tiny_cohort(tmp_path_factory.mktemp("cohort") / "data")


@pytest.mark.slow
def test_whole_pipeline_on_a_tiny_cohort(tiny_cohort, tmp_path, monkeypatch):
    import camelyon.features
    import camelyon.pipeline

    reread = []  # a fresh run hands its results on in memory: it never reads back its own tables
    read_features, read_stages = camelyon.features.read_features_csv, camelyon.pipeline.read_stage_csv
    monkeypatch.setattr(camelyon.features, "read_features_csv", lambda p: reread.append(p) or read_features(p))
    monkeypatch.setattr(camelyon.pipeline, "read_stage_csv", lambda p: reread.append(p) or read_stages(p))
    out = tmp_path / "run"
    logs = []
    summary = run_pipeline(tiny_cohort, out, PipelineConfig(**TINY), log=logs.append)
    assert [Path(p).name for p in reread] == ["stage_labels.csv"]
    for name in ("split.json", "tiles.h5", "model/tile_model.npz", "features.csv", "slide_predictions.csv",
                 "slide_classifier.npz", "predictions.csv", "reference.csv", "evaluation.json", "report.html",
                 "run_summary.json"):
        assert (out / name).exists(), name
    assert [s["status"] for s in summary["steps"].values()] == ["ran"] * 9
    assert all(s["seconds"] >= 0 for s in summary["steps"].values())
    assert -1.0 <= summary["kappa"] <= 1.0
    # protocol: no patient is both a CNN patient and scored
    cnn, ev = set(summary["cnn_patients"]), set(summary["eval_patients"])
    assert cnn and ev and not cnn & ev
    submitted = read_stage_csv(out / "predictions.csv")
    assert set(submitted.patients) == ev
    assert {patient_of(s) for s in submitted.slides} == ev
    heatmaps = sorted(p.stem for p in (out / "heatmaps").glob("*.npz"))
    assert {patient_of(h) for h in heatmaps} == ev
    on_disk = json.loads((out / "run_summary.json").read_text())
    assert on_disk["kappa"] == summary["kappa"]
    html = (out / "report.html").read_text()
    assert "kappa" in html and "<img" in html
    for png in summary["figures"]:
        assert Path(png).is_file()

    # a second run finds everything up to date
    again = run_pipeline(tiny_cohort, out, PipelineConfig(**TINY), log=None)
    assert [s["status"] for s in again["steps"].values()] == ["up to date"] * 9
    assert again["kappa"] == summary["kappa"]

    # an interrupted heatmap step resumes slide by slide; a new classifier re-runs only what follows
    (out / "stamps" / "heatmaps.json").unlink()
    (out / "heatmaps" / f"{heatmaps[0]}.npz").unlink()
    logs.clear()
    third = run_pipeline(tiny_cohort, out, PipelineConfig(**{**TINY, "classifier": "tree"}), log=logs.append)
    status = {k: v["status"] for k, v in third["steps"].items()}
    assert status["tiles"] == status["train"] == "up to date"
    assert status["heatmaps"] == status["classify"] == status["report"] == "ran"
    assert any(f"1 of {len(heatmaps)} slides to compute" in line for line in logs)

    # the itc decision rule reaches the classifier and re-runs only the classifier and what follows
    fourth = run_pipeline(tiny_cohort, out, PipelineConfig(**{**TINY, "classifier": "tree", "itc_threshold": 0.5}),
                          log=None)
    status = {k: v["status"] for k, v in fourth["steps"].items()}
    assert status["features"] == "up to date" and status["classify"] == status["evaluate"] == "ran"
    saved = json.loads((out / "slide_classifier.npz.json").read_text())
    assert saved["params"]["itc_threshold"] == 0.5


def test_pipeline_command_options_and_errors(tmp_path, capsys):
    from camelyon.cli import build_parser, main
    from camelyon.commands.pipeline import config_from_args

    args = build_parser().parse_args(["pipeline", "data", "--out", "run", "--epochs", "3", "--tile-size", "48",
                                      "--classifier", "tree", "--workers", "2", "--quiet"])
    cfg = config_from_args(args)
    assert (cfg.epochs, cfg.tile_size, cfg.classifier, cfg.workers, cfg.progress) == (3, 48, "tree", 2, False)
    assert cfg.tile_um_per_px == PipelineConfig().tile_um_per_px
    assert main(["pipeline", str(tmp_path / "nope"), "--out", str(tmp_path / "run")]) == 2
    assert "data folder not found" in capsys.readouterr().err


def test_tiles_step_reruns_when_a_geojson_annotation_changes(tmp_path, monkeypatch):
    """The tiles step's stamp covers the annotation file each slide uses, QuPath GeoJSON included."""
    import types

    import camelyon.dataset
    from camelyon.pipeline import _Context, _Run, _step_tiles

    data = tmp_path / "data"
    (data / "center_0").mkdir(parents=True)
    (data / "lesion_annotations").mkdir()
    slides = {}
    for n in range(2):
        p = data / "center_0" / f"patient_000_node_{n}.tif"
        p.write_bytes(b"slide %d" % n)
        slides[p.name] = p
    geo = data / "lesion_annotations" / "patient_000_node_1.geojson"
    geo.write_text('{"type": "FeatureCollection", "features": []}')
    calls = []

    def fake_build(paths, store, **kw):
        calls.append(sorted(Path(p).name for p in paths))
        Path(store).write_bytes(b"store %d" % len(calls))
        return types.SimpleNamespace(failed=[], n_tiles=7)

    monkeypatch.setattr(camelyon.dataset, "build_tile_store", fake_build)
    run = _Run(data, tmp_path / "run", PipelineConfig(), log=lambda _m: None, summary={"steps": {}})
    run.out.mkdir()
    ctx = _Context(None, slides, ["patient_000"], [])
    statuses = []
    for change in (None, None, "edit", None, "xml"):
        if change == "edit":
            geo.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
                           '{"type": "Polygon", "coordinates": [[[0, 0], [9, 0], [9, 9], [0, 0]]]}}]}')
        elif change == "xml":  # an ASAP XML takes precedence over the GeoJSON: the step reruns
            (data / "lesion_annotations" / "patient_000_node_1.xml").write_text("<ASAP_Annotations/>")
        _step_tiles(run, ctx)
        statuses.append(run.summary["steps"]["tiles"]["status"])
    assert statuses == ["ran", "up to date", "ran", "up to date", "ran"]
    assert len(calls) == 3


def _recopy(path: Path) -> None:
    """The same bytes with a new mtime, as a fresh copy of the data folder has them."""
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


def _edit_keeping_size_and_mtime(path: Path, old: bytes, new: bytes) -> None:
    st = path.stat()
    data = path.read_bytes()
    assert len(old) == len(new) and old in data
    path.write_bytes(data.replace(old, new, 1))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size


def test_small_inputs_are_fingerprinted_by_content(tmp_path, monkeypatch):
    """stage_labels.csv and lesion annotations: a re-copy (same bytes, new mtime) reruns nothing; an edit
    that keeps size and mtime reruns the steps that read them."""
    import types

    import camelyon.dataset
    from camelyon.pipeline import _Run, _step_split, _step_tiles

    data = tmp_path / "data"
    (data / "center_0").mkdir(parents=True)
    (data / "lesion_annotations").mkdir()
    rows = ["patient,stage"]
    for pid in range(3):
        (data / "center_0" / f"patient_00{pid}_node_0.tif").write_bytes(b"slide %d" % pid)
        rows += [f"patient_00{pid}.zip,pN0", f"patient_00{pid}_node_0.tif,negative"]
    labels = data / "stage_labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    geo = data / "lesion_annotations" / "patient_000_node_0.geojson"
    geo.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
                   '{"type": "Polygon", "coordinates": [[[0, 0], [9, 0], [9, 9], [0, 0]]]}}]}')

    def fake_build(paths, store, **kw):
        Path(store).write_bytes(b"store")
        return types.SimpleNamespace(failed=[], n_tiles=1)

    monkeypatch.setattr(camelyon.dataset, "build_tile_store", fake_build)
    run = _Run(data, tmp_path / "run", PipelineConfig(cnn_fraction=0.34), log=lambda _m: None,
               summary={"steps": {}})
    run.out.mkdir()
    statuses = []
    for change in (None, "recopy", "edit"):
        if change == "recopy":
            _recopy(labels)
            _recopy(geo)
        elif change == "edit":
            _edit_keeping_size_and_mtime(labels, b"patient_001.zip,pN0\n", b"patient_001.zip,pN0\r")  # a line ending
            _edit_keeping_size_and_mtime(geo, b"[9, 9]", b"[8, 9]")
        ctx = _step_split(run)
        ctx.cnn_patients = ["patient_000"]  # the slide with the annotation
        _step_tiles(run, ctx)
        statuses.append((run.summary["steps"]["split"]["status"], run.summary["steps"]["tiles"]["status"]))
    assert statuses == [("ran", "ran"), ("up to date", "up to date"), ("ran", "ran")]
