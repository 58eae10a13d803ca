"""pN staging rules and the CAMELYON17 ``patient,stage`` CSV files."""

import itertools

import pytest

from camelyon.errors import CamelyonError
from camelyon.staging import (
    SLIDE_LABELS,
    STAGES,
    normalize_stage,
    patient_of,
    pn_stage,
    read_stage_csv,
    slide_label_from_diameter,
    stages_from_slide_labels,
    write_stage_csv,
)


def stage_by_definition(labels):
    """Independent formulation: the worst label decides, the number of metastatic nodes splits pN1/pN2."""
    worst = max(labels, key=SLIDE_LABELS.index)
    if worst != "macro":
        return {"negative": "pN0", "itc": "pN0(i+)", "micro": "pN1mi"}[worst]
    metastatic_nodes = sum(1 for lab in labels if lab in ("micro", "macro"))
    return "pN1" if 1 <= metastatic_nodes <= 3 else "pN2"


@pytest.mark.exercise("S09")
def test_pn_stage_all_combinations_of_five_slides():
    combos = list(itertools.product(SLIDE_LABELS, repeat=5))
    assert len(combos) == 4 ** 5
    seen = set()
    for labels in combos:
        got = pn_stage(labels)
        assert got == stage_by_definition(labels), labels
        seen.add(got)
    assert seen == set(STAGES)


@pytest.mark.exercise("S09")
@pytest.mark.parametrize("labels, stage", [
    (["negative"] * 5, "pN0"),
    (["itc", "itc", "negative", "negative", "negative"], "pN0(i+)"),
    (["micro"] * 5, "pN1mi"),  # five micro-only nodes are still pN1mi
    (["macro", "itc", "itc", "itc", "itc"], "pN1"),  # ITC does not count as a metastasis
    (["macro", "micro", "micro", "negative", "negative"], "pN1"),
    (["macro", "micro", "micro", "micro", "negative"], "pN2"),
    (["MACRO", "Micro", "micro", "micro", "micro"], "pN2"),
])
def test_pn_stage_examples(labels, stage):
    assert pn_stage(labels) == stage


def test_pn_stage_rejects_unknown_label():
    with pytest.raises(CamelyonError, match="unknown slide label 'tumour'"):
        pn_stage(["negative", "tumour"])


def test_slide_label_thresholds():
    assert [slide_label_from_diameter(d) for d in (None, 0, 0.1, 0.2, 0.21, 2.0, 2.01)] == [
        "negative", "negative", "itc", "itc", "micro", "micro", "macro"]


def test_normalize_stage_and_patient_of():
    assert normalize_stage(" pn1MI ") == "pN1mi"
    with pytest.raises(CamelyonError, match="unknown pN stage 'pN3'"):
        normalize_stage("pN3")
    assert patient_of("patient_004_node_3.tif") == "patient_004"
    assert patient_of("center_1/patient_104_node_0.tif") == "patient_104"
    assert patient_of("patient_004.zip") == "patient_004"
    assert patient_of("tumor_001.tif") == "tumor_001"


def test_csv_round_trip(tmp_path):
    slides = {f"patient_{p:03d}_node_{n}.tif": lab
              for p, labs in [(4, ["macro", "negative", "itc", "negative", "micro"]), (7, ["negative"] * 5)]
              for n, lab in enumerate(labs)}
    stages = stages_from_slide_labels(slides)
    assert stages == {"patient_004": "pN1", "patient_007": "pN0"}
    path = write_stage_csv(tmp_path / "stage_labels.csv", stages, slides)
    lines = path.read_text().splitlines()
    assert lines[0] == "patient,stage"
    assert lines[1] == "patient_004.zip,pN1"
    assert lines[2] == "patient_004_node_0.tif,macro"
    assert lines[7] == "patient_007.zip,pN0"
    table = read_stage_csv(path)
    assert table.patients == stages
    assert table.slides == slides
    assert table.lines["patient_007"] == 8
    assert table.slides_of("patient_004") == [f"patient_004_node_{n}.tif" for n in range(5)]
    assert not list(tmp_path.glob("*.tmp"))


def test_read_is_case_insensitive_and_tolerates_blank_lines_and_no_header(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("patient_000.zip,PN0(I+)\n\npatient_000_node_0.tif,ITC\r\n")
    t = read_stage_csv(p)
    assert t.patients == {"patient_000": "pN0(i+)"}
    assert t.slides == {"patient_000_node_0.tif": "itc"}


@pytest.mark.parametrize("body, message", [
    ("patient,stage\npatient_000.zip,pN0\npatient_000.zip,pN1\n", r"s\.csv:3: duplicated row 'patient_000\.zip' \(already on line 2\)"),
    ("patient,stage\npatient_000.zip,pN7\n", r"s\.csv:2: unknown pN stage 'pN7'"),
    ("patient,stage\npatient_000.zip,pN0\npatient_000_node_0.tif,huge\n", r"s\.csv:3: unknown slide label 'huge'"),
    ("patient,stage\npatient_000.zip,pN0,extra\n", r"s\.csv:2: expected 2 columns"),
    ("case,label\npatient_000.zip,pN0\n", r"s\.csv:1: expected the header 'patient,stage'"),
])
def test_read_errors_name_file_and_line(tmp_path, body, message):
    p = tmp_path / "s.csv"
    p.write_text(body)
    with pytest.raises(CamelyonError, match=message):
        read_stage_csv(p)


def test_read_missing_file(tmp_path):
    with pytest.raises(CamelyonError, match="stage CSV not found"):
        read_stage_csv(tmp_path / "nope.csv")
