"""CAMELYON17 evaluation: kappa as the challenge computes it, slide accuracy, error rows."""

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from camelyon.cli import main
from camelyon.errors import CamelyonError
from camelyon.evaluation import confusion, evaluate, quadratic_weighted_kappa
from camelyon.staging import SLIDE_LABELS, STAGES


def write_csv(path, rows, header=True):
    path.write_text(("patient,stage\n" if header else "") + "".join(f"{a},{b}\n" for a, b in rows))
    return path


def random_case(rng, s):
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in s)


@pytest.mark.exercise("S09")
@pytest.mark.parametrize("seed", range(8))
def test_kappa_equals_sklearn_on_random_csvs(tmp_path, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    ref = rng.integers(0, 5, n)
    # a submission that agrees more than chance, with random errors of random size
    sub = np.where(rng.random(n) < 0.6, ref, rng.integers(0, 5, n))
    if len(set(ref)) == 1 and len(set(sub)) == 1:
        sub[0] = (sub[0] + 1) % 5
    order = rng.permutation(n)  # the submission lists the patients in another order
    ref_rows, sub_rows = [], []
    for i in range(n):
        ref_rows.append((f"patient_{i:03d}.zip", STAGES[ref[i]]))
        ref_rows += [(f"patient_{i:03d}_node_{k}.tif", "negative") for k in range(5)]  # ignored by the kappa
    for i in order:
        sub_rows.append((f"patient_{i:03d}.zip", random_case(rng, STAGES[sub[i]])))
    result = evaluate(write_csv(tmp_path / "ref.csv", ref_rows), write_csv(tmp_path / "sub.csv", sub_rows))
    expected = cohen_kappa_score(ref, sub, weights="quadratic", labels=list(range(5)))
    assert result.kappa == pytest.approx(expected, abs=1e-12)
    assert result.stage_confusion.sum() == n
    assert result.slide_confusion is None  # the submission has no slide rows


@pytest.mark.exercise("S09")
def test_kappa_known_values():
    assert quadratic_weighted_kappa([0, 1, 2, 3, 4], [0, 1, 2, 3, 4]) == 1.0
    # an off-by-4 error weighs 16 times an off-by-1 error
    near = quadratic_weighted_kappa([0, 1, 2, 3, 4] * 2, [0, 1, 2, 3, 4, 1, 1, 2, 3, 4])
    far = quadratic_weighted_kappa([0, 1, 2, 3, 4] * 2, [0, 1, 2, 3, 4, 4, 1, 2, 3, 4])
    assert far < near < 1.0
    assert quadratic_weighted_kappa([2, 2, 2], [2, 2, 2]) == 1.0  # undefined (0/0): perfect agreement
    assert quadratic_weighted_kappa([0, 4, 0, 4], [4, 0, 4, 0]) == pytest.approx(
        cohen_kappa_score([0, 4, 0, 4], [4, 0, 4, 0], weights="quadratic", labels=range(5)))


def test_confusion_matrix():
    cm = confusion([0, 0, 1, 2], [0, 1, 1, 2], 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    with pytest.raises(CamelyonError, match="0..2"):
        confusion([0, 3], [0, 0], 3)


def test_slide_confusion_and_per_class_accuracy(tmp_path):
    ref = [("patient_000.zip", "pN1"), ("patient_000_node_0.tif", "macro"), ("patient_000_node_1.tif", "itc"),
           ("patient_000_node_2.tif", "negative"), ("patient_000_node_3.tif", "negative"),
           ("patient_001.zip", "pN0"), ("patient_001_node_0.tif", "negative")]
    sub = [("patient_000.zip", "pn1"), ("patient_000_node_0.tif", "macro"), ("patient_000_node_1.tif", "negative"),
           ("patient_000_node_2.tif", "negative"), ("patient_000_node_3.tif", "micro"),
           ("patient_001.zip", "PN0"), ("patient_001_node_0.tif", "negative")]
    r = evaluate(write_csv(tmp_path / "ref.csv", ref), write_csv(tmp_path / "sub.csv", sub))
    assert r.kappa == 1.0 and r.stage_accuracy == 1.0
    assert r.slides == ["patient_000_node_0.tif", "patient_000_node_1.tif", "patient_000_node_2.tif",
                        "patient_000_node_3.tif", "patient_001_node_0.tif"]
    neg, itc, micro, macro = (SLIDE_LABELS.index(x) for x in ("negative", "itc", "micro", "macro"))
    assert r.slide_confusion[neg, neg] == 2 and r.slide_confusion[neg, micro] == 1
    assert r.slide_confusion[itc, neg] == 1 and r.slide_confusion[macro, macro] == 1
    assert r.slide_accuracy == pytest.approx(3 / 5)
    assert r.slide_class_accuracy == {"negative": pytest.approx(2 / 3), "itc": 0.0, "micro": None, "macro": 1.0}
    d = r.to_dict()
    assert d["n_patients"] == 2 and d["slide_confusion"][macro][macro] == 1
    assert "kappa" in r.summary()


@pytest.mark.parametrize("ref, sub, message", [
    ([("patient_000.zip", "pN0"), ("patient_001.zip", "pN1")], [("patient_000.zip", "pN0")],
     r"ref\.csv:3: patient patient_001\.zip is missing from the submission"),
    ([("patient_000.zip", "pN0")], [("patient_000.zip", "pN0"), ("patient_009.zip", "pN1")],
     r"sub\.csv:3: patient patient_009\.zip is not in the reference"),
    ([("patient_000.zip", "pN0")], [("patient_000.zip", "stage 2")], r"sub\.csv:2: unknown pN stage 'stage 2'"),
    ([("patient_000.zip", "pN0")], [("patient_000.zip", "pN0"), ("patient_000.zip", "pN0")],
     r"sub\.csv:3: duplicated row 'patient_000\.zip' \(already on line 2\)"),
    ([("patient_000.zip", "pN0"), ("patient_000_node_0.tif", "itc"), ("patient_000_node_1.tif", "itc")],
     [("patient_000.zip", "pN0"), ("patient_000_node_0.tif", "itc")],
     r"ref\.csv:4: slide patient_000_node_1\.tif is missing from the submission"),
])
def test_error_rows(tmp_path, ref, sub, message):
    with pytest.raises(CamelyonError, match=message):
        evaluate(write_csv(tmp_path / "ref.csv", ref), write_csv(tmp_path / "sub.csv", sub))


def test_reference_without_patients(tmp_path):
    ref = write_csv(tmp_path / "ref.csv", [("patient_000_node_0.tif", "itc")])
    with pytest.raises(CamelyonError, match="no patient rows"):
        evaluate(ref, ref)


def test_evaluate_command(tmp_path, capsys):
    ref = write_csv(tmp_path / "ref.csv", [("patient_000.zip", "pN0"), ("patient_001.zip", "pN2"),
                                           ("patient_002.zip", "pN1mi")])
    sub = write_csv(tmp_path / "sub.csv", [("patient_000.zip", "pN0"), ("patient_001.zip", "pN1"),
                                           ("patient_002.zip", "pN1mi")])
    out_json = tmp_path / "eval.json"
    assert main(["evaluate", "--reference", str(ref), "--submission", str(sub), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    expected = cohen_kappa_score([0, 4, 2], [0, 3, 2], weights="quadratic", labels=range(5))
    assert f"{expected:.4f}" in out
    assert out_json.is_file()
    bad = write_csv(tmp_path / "bad.csv", [("patient_000.zip", "pN0")])
    assert main(["evaluate", "--reference", str(ref), "--submission", str(bad)]) == 2
    assert "missing from the submission" in capsys.readouterr().err
