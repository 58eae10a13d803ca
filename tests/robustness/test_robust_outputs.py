"""Outputs never replace inputs or files of another kind; CSV cells are never live formulas.

Hostile cases: ``evaluate --json`` pointed at the reference and at the submission; ``heatmap
--out`` an existing file and an input slide; slide and label names starting with ``=``, ``+``,
``-``, ``@`` in the stage and feature CSVs (escaped, read back unchanged); a full disk while
``evaluate --json`` writes.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from camelyon.cli import main
from camelyon.csv_cells import escape_cell, unescape_cell
from camelyon.features import read_features_csv, write_features_csv
from camelyon.staging import read_stage_csv, write_stage_csv

REFERENCE = "patient,stage\npatient_000.zip,pN1\npatient_000_node_0.tif,macro\npatient_001.zip,pN0\n"


@pytest.fixture
def stage_files(tmp_path):
    ref = tmp_path / "reference.csv"
    sub = tmp_path / "submission.csv"
    ref.write_text(REFERENCE)
    sub.write_text(REFERENCE.replace("pN1", "pN2"))
    return ref, sub


@pytest.mark.parametrize("target", ["reference", "submission"])
def test_evaluate_json_never_replaces_an_input(stage_files, capsys, target):
    ref, sub = stage_files
    victim = ref if target == "reference" else sub
    before = victim.read_bytes()
    assert main(["evaluate", "--reference", str(ref), "--submission", str(sub), "--json", str(victim)]) == 2
    err = capsys.readouterr().err
    assert f"--json {victim} is also an input of this command" in err and len(err.strip().splitlines()) == 1
    assert victim.read_bytes() == before


def test_evaluate_json_on_a_full_disk_is_one_line_without_temporary_files(stage_files, small_disk, capsys):
    ref, sub = stage_files
    (small_disk / "filler").write_bytes(b"\0" * (2 * 1024 * 1024))  # every block taken
    status = main(["evaluate", "--reference", str(ref), "--submission", str(sub), "--json", str(small_disk / "r.json")])
    err = capsys.readouterr().err
    assert status == 2 and "no space left on the disk" in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_heatmap_out_an_existing_file_or_an_input_is_refused(cohort, tmp_path, capsys):
    slides, _ = cohort
    from minicnn import Sequential
    from minicnn.layers import Dense

    model = tmp_path / "model.npz"
    Sequential(Dense(2, 2, rng=0)).save(model)
    existing = tmp_path / "report.txt"
    existing.write_text("keep me")
    slide = slides / "patient_000_node_0.tif"
    for inputs, out, words in ((slides, existing, "exists and is a file of another kind, not a folder of heatmaps"),
                               (slides, slide, "exists and is a TIFF image (a slide?), not a folder of heatmaps"),
                               (slide, slide, "is also an input of this command"),
                               (slides, model, "is also an input of this command")):
        before = out.read_bytes()
        status = main(["heatmap", str(inputs), "--model", str(model), "--out", str(out), "--quiet"])
        err = capsys.readouterr().err
        assert status == 2, err
        assert words in err
        assert out.read_bytes() == before


FORMULAS = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "'=already", "=", "-", "-0.5e3"]


@pytest.mark.parametrize("text", FORMULAS)
def test_escape_round_trips_and_disarms_formulas(text):
    cell = escape_cell(text)
    assert unescape_cell(cell) == text
    if text != "-0.5e3":  # a number stays a number
        assert cell[0] not in "=+-@\t\r"


def test_stage_and_feature_csvs_hold_no_live_formula_and_read_back_the_names(tmp_path):
    slides = {"=cmd|' /C calc'!A0.tif": "macro", "@patient_002_node_0.tif": "negative", "+x.tif": "itc"}
    path = write_stage_csv(tmp_path / "stages.csv", {"=evil.zip": "pN1", "patient_002": "pN0"}, slides)
    with open(path, newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert not any(c[:1] in ("=", "+", "@", "-") for c in cells), cells
    table = read_stage_csv(path)
    assert set(table.slides) == set(slides) and "=evil" in table.patients

    names = ["=SUM(1)", "@mean"]
    fpath = write_features_csv(tmp_path / "features.csv", list(slides), names, np.array([[1.0, -2.0]] * 3),
                               labels=["=a", "-b", "c"])
    with open(fpath, newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert not any(c[:1] in ("=", "+", "@") for c in cells)
    back_slides, back_names, X, labels = read_features_csv(fpath)
    assert back_slides == list(slides) and back_names == names and labels == ["=a", "-b", "c"]
    assert X[0, 1] == -2.0


@pytest.mark.parametrize("other", ["patient_000_node_0.TIF", "patient_000_node_0", "patient_000_node_0.tiff"])
def test_stage_counts_a_slide_once_whatever_the_case_of_its_extension(tmp_path, capsys, other):
    labels = tmp_path / "labels.csv"
    labels.write_text(f"patient,stage\npatient_000_node_0.tif,macro\n{other},macro\npatient_000_node_1.tif,itc\n")
    assert main(["stage", str(labels), "--out", str(tmp_path / "out.csv")]) == 2
    err = capsys.readouterr().err
    assert f"{labels}:3: '{other}' is the same slide as 'patient_000_node_0.tif' on line 2" in err
    assert not (tmp_path / "out.csv").exists()


def test_synth_overwrite_never_deletes_real_data_laid_out_like_a_cohort(tmp_path, capsys):
    data = tmp_path / "camelyon17"
    (data / "center_0").mkdir(parents=True)
    (data / "center_0" / "patient_000_node_0.tif").write_bytes(b"II*\0 a real slide")
    (data / "lesion_annotations").mkdir()
    (data / "stage_labels.csv").write_text("patient,stage\n")
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    assert main(["synth", str(data), "--patients", "1", "--overwrite", "--quiet", "--demo"]) == 2
    err = capsys.readouterr().err
    assert "holds center_0 but no synth_config.json: it is not a cohort written by camelyon synth" in err
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before
