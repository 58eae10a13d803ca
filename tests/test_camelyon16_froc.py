"""CAMELYON16 evaluation: the evaluation mask, the FROC and the slide AUC against hand-computed cases."""

import json

import numpy as np
import pytest
import tifffile
from c16_factory import ITC, LESION1, LESION2, make_c16_layout
from sklearn.metrics import roc_auc_score
from wsi_factory import SlideSpec

from camelyon.camelyon16.evaluation_mask import (
    EvaluationMask,
    growth_radius_px,
    itc_axis_px,
    itc_regions,
    label_evaluation_mask,
    mask_from_annotations,
    mask_from_tiff,
)
from camelyon.camelyon16.froc import froc_curve, froc_score, score_slide, slide_auc
from camelyon.cli import main
from camelyon.errors import CamelyonError


def test_official_constants():
    assert growth_radius_px() == pytest.approx(75 / (0.243 * 32 * 2))  # 4.8225
    assert itc_axis_px() == pytest.approx(35.3652, abs=1e-4)


def test_growth_disk_has_69_pixels():
    # one tumour pixel grows to the lattice points with dx^2 + dy^2 < 4.8225^2 = 23.26:
    # 9 (dx=0) + 2*9 (|dx|=1) + 2*9 (2) + 2*7 (3) + 2*5 (4) = 69
    t = np.zeros((21, 21), bool)
    t[10, 10] = True
    labels = label_evaluation_mask(t)
    assert labels.max() == 1 and int((labels == 1).sum()) == 69


def test_growth_merges_lesions_9_apart_not_10():
    for gap, n in ((9, 1), (10, 2)):
        t = np.zeros((20, 40), bool)
        t[10, 5] = t[10, 5 + gap] = True
        assert label_evaluation_mask(t).max() == n, gap


def test_holes_are_filled_and_labels_8_connected():
    t = np.zeros((60, 60), bool)
    t[10:50, 10:12] = t[10:50, 48:50] = t[10:12, 10:50] = t[48:50, 10:50] = True  # a ring, 36 px hole
    labels = label_evaluation_mask(t)
    assert labels[30, 30] == 1 and labels.max() == 1
    # cropping to the tumour never changes the labels: same result with the ring in a corner
    big = np.zeros((300, 300), bool)
    big[200:260, 200:260] = t
    assert np.array_equal(label_evaluation_mask(big)[200:260, 200:260], labels)


def test_itc_by_major_axis():
    t = np.zeros((80, 200), bool)
    t[20, 10:20] = True  # 10 px line grows to ~20 x 10: major axis ~22 < 35.37 -> ITC
    t[60, 60:100] = True  # 40 px line grows to ~50 x 10: major axis ~57 -> lesion
    labels = label_evaluation_mask(t)
    assert labels.max() == 2
    assert itc_regions(labels) == {int(labels[20, 15])}


def _mask():
    """Lesions 1 and 2 and ITC region 3 on a 64 x 64 level-5 mask."""
    labels = np.zeros((64, 64), np.int32)
    labels[0:10, 0:10] = 1
    labels[20:30, 20:30] = 2
    labels[40:43, 40:43] = 3
    return EvaluationMask(labels, frozenset({3}))


def at(r, c):  # level-0 point inside level-5 pixel (r, c)
    return c * 32 + 16, r * 32 + 16


def _dets(*rows):
    p = [r[0] for r in rows]
    xy = [at(*r[1]) for r in rows]
    return p, [x for x, _ in xy], [y for _, y in xy]


def test_hand_computed_froc():
    # tumour slide A: lesion 1 hit twice (0.9 then 0.3: the repeat is neither TP nor FP), lesion 2 hit
    # at 0.4, the ITC region hit at 0.95 (ignored), background at 0.8 (FP); normal slide B: 0.6 and 0.2
    # (both FP); normal slide C: no detections.
    a = score_slide("A", *_dets((0.9, (5, 5)), (0.3, (6, 6)), (0.4, (25, 25)), (0.95, (41, 41)),
                                (0.8, (60, 60))), _mask())
    assert a.status.tolist() == ["TP", "repeat", "TP", "ITC", "FP"]
    assert (a.n_lesions, a.n_itc) == (2, 1)
    b = score_slide("B", [0.6, 0.2], [100, 200], [100, 200], None)
    c = score_slide("C", [], [], [], None)
    assert b.status.tolist() == ["FP", "FP"]
    fp, se, thr = froc_curve([a, b, c])
    # thresholds 0.2, 0.4, 0.6, 0.8, 0.9 (0 dropped): FP 3, 2, 2, 1, 0 over 3 slides; TP 2, 2, 1, 1, 1 of 2
    np.testing.assert_allclose(fp, [1, 2 / 3, 2 / 3, 1 / 3, 0, 0])
    np.testing.assert_allclose(se, [1, 1, 0.5, 0.5, 0.5, 0])
    score, sens = froc_score(fp, se)
    # 1/4 and 1/2 FP/slide fall on the flat 0.5 part, 1 and beyond on 1.0
    assert sens == pytest.approx({0.25: 0.5, 0.5: 0.5, 1.0: 1.0, 2.0: 1.0, 4.0: 1.0, 8.0: 1.0})
    assert score == pytest.approx(5 / 6)


def test_repeat_hit_with_higher_probability_takes_over():
    a = score_slide("A", *_dets((0.3, (5, 5)), (0.9, (6, 6))), _mask())
    assert a.status.tolist() == ["repeat", "TP"]
    assert a.lesion_probs[0] == np.float32(0.9)


def test_tie_between_tp_and_fp_counts_together():
    # lesion 1 hit at 0.5, lesion 2 missed, background at 0.5; a normal slide without detections.
    a = score_slide("A", *_dets((0.5, (5, 5)), (0.5, (60, 60))), _mask())
    fp, se, _ = froc_curve([a, score_slide("B", [], [], [], None)])
    np.testing.assert_allclose(fp, [0.5, 0])  # one threshold (0.5): 1 FP / 2 slides, 1 of 2 lesions
    np.testing.assert_allclose(se, [0.5, 0])
    assert froc_score(fp, se)[0] == pytest.approx((0.25 + 5 * 0.5) / 6)


def test_float32_quirk_of_the_official_script_is_kept():
    # 0.3 is not exact in float32: the lesion's float32(0.3) > 0.3 is its own threshold
    a = score_slide("A", *_dets((0.3, (5, 5)), (0.3, (60, 60))), _mask())
    fp, se, _ = froc_curve([a, score_slide("B", [], [], [], None)])
    np.testing.assert_allclose(fp, [0.5, 0, 0])
    np.testing.assert_allclose(se, [0.5, 0.5, 0])


def test_smallest_probability_is_never_a_threshold():
    labels = np.zeros((8, 8), np.int32)
    labels[:4, :4] = 1
    a = score_slide("A", *_dets((0.75, (1, 1)), (0.75, (6, 6))), EvaluationMask(labels, frozenset()))
    fp, se, _ = froc_curve([a])
    assert fp.tolist() == [0.0] and se.tolist() == [0.0]  # only (0, 0): the official curve


def test_detection_outside_the_mask_is_an_error_naming_the_line():
    with pytest.raises(CamelyonError, match=r"d\.csv:3: detection .*outside the slide"):
        score_slide("A", [0.5], [64 * 32 + 5], [10], _mask(), where=["d.csv:3"])


def test_no_lesion_is_an_error():
    with pytest.raises(CamelyonError, match="no lesion"):
        froc_curve([score_slide("B", [0.5], [1], [1], None)])


def test_slide_auc_and_bootstrap_interval():
    rng = np.random.default_rng(0)
    y = rng.random(60) < 0.4
    s = np.where(y, rng.normal(1, 1, 60), rng.normal(0, 1, 60))
    auc, (lo, hi) = slide_auc(y, s, n_bootstrap=500, seed=1)
    assert auc == pytest.approx(roc_auc_score(y, s))
    assert lo < auc < hi and hi - lo < 0.4
    assert slide_auc(y, s, n_bootstrap=500, seed=1) == (auc, (lo, hi))  # seeded
    # the vectorised bootstrap AUC (ties as 1/2) equals sklearn's on a resample with ties
    from camelyon.camelyon16.froc import _auc_ranks
    yy, ss = np.array([[1, 0, 1, 0, 0]], bool), np.array([[0.5, 0.5, 0.9, 0.1, 0.5]])
    assert _auc_ranks(yy, ss)[0] == pytest.approx(roc_auc_score(yy[0], ss[0]))
    with pytest.raises(CamelyonError, match="tumour and normal"):
        slide_auc([True, True], [0.1, 0.2])


# ------------------------------------------------------------------------------------------------
# end to end: a CAMELYON16-layout folder, the command line
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def c16(tmp_path_factory):
    root = make_c16_layout(tmp_path_factory.mktemp("c16"))
    det = root / "detections"
    det.mkdir()
    (det / "Test_001.csv").write_text("probability,X,Y\n0.9,640,640\n0.3,1200,800\n0.4,800,1600\n"
                                      "0.95,2650,450\n0.8,2800,1900\n")
    (det / "test_002.csv").write_text("0.6,100,100\n\n0.2,500,500\n")
    (root / "probs.csv").write_text("image,probability\ntest_001.tif,0.35\ntest_002,0.3\ntest_003,0.4\n")
    return root


def test_evaluate16_command_on_camelyon16_layout(c16, tmp_path, capsys):
    out = tmp_path / "e.json"
    plot = tmp_path / "froc.png"
    assert main(["evaluate16", str(c16), "--detections", str(c16 / "detections"),
                 "--probabilities", str(c16 / "probs.csv"), "--json", str(out), "--plot", str(plot),
                 "--bootstrap", "200"]) == 0
    text = capsys.readouterr().out
    assert "CAMELYON16 layout" in text and "3 test slides" in text
    assert "FROC 0.8333" in text  # the hand-computed case above, through files
    assert "slide AUC 0.5000" in text  # 0.35 ranks between the normals' 0.3 and 0.4
    assert "1 slide without a detections CSV" in text
    res = json.loads(out.read_text())
    assert set(res) >= {"froc", "sensitivities", "auc", "auc_ci"}
    assert res["froc"] == pytest.approx(5 / 6) and res["auc"] == pytest.approx(0.5)
    assert res["sensitivities"]["1/4"] == pytest.approx(0.5) and res["sensitivities"]["8"] == 1.0
    assert res["slides"]["test_001"]["repeat"] == 1 and res["slides"]["test_001"]["ITC"] == 1
    assert res["slides"]["test_001"]["itc_regions"] == 1 and res["n_lesions"] == 2
    assert len(res["auc_ci"]) == 2 and plot.stat().st_size > 1000


def _write_mask_tiff(path, spec):
    from skimage.draw import polygon as draw_polygon

    m = np.zeros((spec.height, spec.width), np.uint8)
    for poly in spec.lesions:
        p = np.asarray(poly, float)
        rr, cc = draw_polygon(p[:, 1] - 0.5, p[:, 0] - 0.5, shape=m.shape)
        m[rr, cc] = 255
    with tifffile.TiffWriter(path) as tw:
        level = m
        for i in range(6):
            tw.write(level, tile=(64, 64), compression="zlib", subfiletype=0 if i == 0 else 1)
            level = level[::2, ::2]


def test_evaluation_mask_tiff_gives_the_same_score(c16, tmp_path, capsys):
    masks = tmp_path / "masks"
    masks.mkdir()
    spec = SlideSpec(width=3072, height=2048, lesions=[LESION1, LESION2, ITC])
    _write_mask_tiff(masks / "Test_001_Mask.tif", spec)
    m = mask_from_tiff(masks / "Test_001_Mask.tif")
    from camelyon.annotations import read_annotations
    a = mask_from_annotations(read_annotations(c16 / "lesion_annotations" / "test_001.xml"), (3072, 2048))
    assert m.labels.shape == a.labels.shape == (64, 96)
    assert (m.n_regions, len(m.itc)) == (a.n_regions, len(a.itc)) == (3, 1)
    assert main(["evaluate16", str(c16), "--detections", str(c16 / "detections"), "--masks", str(masks)]) == 0
    assert "FROC 0.8333" in capsys.readouterr().out


def test_evaluate16_errors_name_the_problem(c16, tmp_path):
    bad = tmp_path / "det"
    bad.mkdir()
    (bad / "test_001.csv").write_text("0.9,640,640\n0.5,abc,3\n")
    with pytest.raises(CamelyonError, match=r"test_001\.csv:2: expected 'probability,X,Y'"):
        from camelyon.camelyon16.evaluation import evaluate16
        evaluate16(c16, bad)
    probs = tmp_path / "p.csv"
    probs.write_text("test_001,0.5\n")
    assert main(["evaluate16", str(c16), "--detections", str(c16 / "detections"), "--probabilities",
                 str(probs)]) == 2


def test_mask_scaled_to_the_slide_resolution_matches_the_official_one():
    # the same tissue scanned at 0.486 um/px (half the pixels) gives the same lesions and ITC regions
    from camelyon.annotations import Annotation, AnnotationSet

    polys = [LESION1, LESION2, ITC]
    official = mask_from_annotations(
        AnnotationSet([Annotation(f"a{i}", "_0", "Polygon", np.array(p, float)) for i, p in enumerate(polys)]),
        (3072, 2048))
    half = mask_from_annotations(
        AnnotationSet([Annotation(f"a{i}", "_0", "Polygon", np.array(p, float) / 2) for i, p in enumerate(polys)]),
        (1536, 1024), slide_um_per_px=0.486)
    assert half.downsample == 16 and half.labels.shape == official.labels.shape
    assert np.array_equal(half.labels, official.labels) and half.itc == official.itc
    assert half.region_at(320, 320) == official.region_at(640, 640) == 1


def test_qupath_geojson_annotations_give_the_same_score(c16, tmp_path, capsys):
    import shutil

    from camelyon.annotations import read_annotations, write_geojson

    root = tmp_path / "c16gj"
    shutil.copytree(c16 / "testing", root / "testing")
    (root / "lesion_annotations").mkdir()
    write_geojson(read_annotations(c16 / "lesion_annotations" / "test_001.xml"),
                  root / "lesion_annotations" / "test_001.geojson")
    assert main(["evaluate16", str(root), "--detections", str(c16 / "detections")]) == 0
    assert "FROC 0.8333" in capsys.readouterr().out
    assert main(["info", str(root / "testing" / "images" / "test_001.tif"), "--annotations",
                 str(root / "lesion_annotations")]) == 0
    assert "(3 tumour areas, 0 exclusions)" in capsys.readouterr().out
