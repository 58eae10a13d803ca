"""Lesion detections from heatmaps (camelyon detect), QuPath GeoJSON and ASAP XML of predictions."""

import json

import numpy as np
import pytest
from c16_factory import make_c16_layout

from camelyon.annotations import (
    Annotation,
    AnnotationSet,
    rasterize,
    read_annotations,
    read_asap,
    write_geojson,
)
from camelyon.camelyon16.detection import DetectionParams, detect_lesions, lesion_outlines
from camelyon.camelyon16.reference import read_detections, read_probabilities
from camelyon.cli import main
from camelyon.errors import AnnotationError, CamelyonError
from camelyon.heatmap import Heatmap

TILE = 64  # level-0 px per heatmap pixel (tiles of 64 px at level 0, stride 64)


def heatmap_of(prob, slide="test_001.tif"):
    prob = np.asarray(prob, np.float32)
    return Heatmap(prob, np.ones(prob.shape, bool), slide, 0, TILE, TILE, um_per_px=TILE * 0.243,
                   origin=(0, 0), downsample=1.0)


def test_two_blobs_give_two_detections_at_their_centres():
    prob = np.zeros((32, 48), np.float32)
    prob[8:11, 10:13] = 0.9  # blob 1: centre pixel (9, 11)
    prob[24:27, 30:33] = 0.7  # blob 2: centre (25, 31)
    prob[2, 40] = 0.55  # a lone tile: smoothing takes it below 0.5
    p, x, y = detect_lesions(heatmap_of(prob), DetectionParams(threshold=0.5))
    assert len(p) == 2 and p[0] > p[1]
    assert (x[0], y[0]) == (11 * TILE + TILE / 2, 9 * TILE + TILE / 2)
    assert (x[1], y[1]) == (31 * TILE + TILE / 2, 25 * TILE + TILE / 2)
    # without smoothing the lone tile is a detection too, and the 3 x 3 plateaus give one each after NMS
    p0, _, _ = detect_lesions(heatmap_of(prob), DetectionParams(threshold=0.5, smooth_um=0))
    assert len(p0) == 3 and p0[-1] == pytest.approx(0.55)


def test_nms_radius_in_micrometres():
    prob = np.zeros((10, 40), np.float32)
    prob[5, 5] = prob[5, 15] = 1.0  # 10 heatmap px = 155.5 um apart
    prob[5, 15] = 0.9
    hm = heatmap_of(prob)
    near = DetectionParams(threshold=0.5, smooth_um=0, nms_um=150)
    far = DetectionParams(threshold=0.5, smooth_um=0, nms_um=160)
    assert len(detect_lesions(hm, near)[0]) == 2
    p, x, _ = detect_lesions(hm, far)
    assert len(p) == 1 and x[0] == 5 * TILE + TILE / 2  # the stronger one survives
    with pytest.raises(CamelyonError, match="threshold"):
        detect_lesions(hm, DetectionParams(threshold=2))


def test_outlines_in_level0_px():
    prob = np.zeros((20, 20), np.float32)
    prob[5:15, 4:12] = 1.0
    polys = lesion_outlines(heatmap_of(prob), DetectionParams(threshold=0.5, smooth_um=0))
    assert len(polys) == 1
    # the outline passes half-way between the last inside and the first outside tile centres
    xs, ys = polys[0][:, 0], polys[0][:, 1]
    assert xs.min() == pytest.approx(3.5 * TILE + TILE / 2) and xs.max() == pytest.approx(11.5 * TILE + TILE / 2)
    assert ys.min() == pytest.approx(4.5 * TILE + TILE / 2) and ys.max() == pytest.approx(14.5 * TILE + TILE / 2)


def test_detect_command_then_evaluate16_scores_a_perfect_detector(tmp_path, capsys):
    root = make_c16_layout(tmp_path / "c16")
    hm_dir = tmp_path / "heatmaps"
    # heatmaps that fire on both lesions of test_001 (level-0 320..1600 x 320..960 and x 1400..1800)
    prob = np.zeros((32, 48), np.float32)
    prob[6:14, 6:24] = 0.95
    prob[22:28, 6:24] = 0.8
    heatmap_of(prob).save(hm_dir / "test_001.npz")
    quiet = np.full((8, 8), 0.1, np.float32)
    heatmap_of(quiet, "test_002.tif").save(hm_dir / "test_002.npz")
    heatmap_of(quiet * 2, "test_003.tif").save(hm_dir / "test_003.npz")
    out = tmp_path / "det"
    assert main(["detect", str(hm_dir), "--out", str(out), "--geojson", "--xml", "--nms-um", "100"]) == 0
    assert "from 3 heatmaps" in capsys.readouterr().out
    d = read_detections(out / "test_001.csv")
    assert len(d) >= 2 and (out / "test_002.csv").read_text() == ""
    probs = read_probabilities(out / "slide_probabilities.csv")
    assert probs["test_001"] > 0.75 and probs["test_003"] == pytest.approx(0.2, abs=0.02)
    assert main(["evaluate16", str(root), "--detections", str(out), "--probabilities",
                 str(out / "slide_probabilities.csv"), "--bootstrap", "100"]) == 0
    text = capsys.readouterr().out
    assert "FROC 1.0000" in text and "slide AUC 1.0000" in text
    # the GeoJSON reads back as the same outlines and points; the XML opens as ASAP
    gj = read_annotations(out / "test_001.geojson")
    xml = read_annotations(out / "test_001.xml")
    assert len(gj.tumour()) == len(xml.tumour()) == 2
    assert len(gj.points()) == len(xml.points()) == len(d)
    np.testing.assert_allclose(gj.tumour()[0].coordinates, xml.tumour()[0].coordinates)
    doc = json.loads((out / "test_001.geojson").read_text())
    assert doc["type"] == "FeatureCollection"
    assert doc["features"][0]["properties"]["classification"]["name"] == "Tumor"


QUPATH = {
    "type": "FeatureCollection",
    "features": [
        {"type": "Feature", "id": "a",
         "geometry": {"type": "Polygon", "coordinates": [
             [[0, 0], [100, 0], [100, 100], [0, 100], [0, 0]],
             [[40, 40], [60, 40], [60, 60], [40, 60], [40, 40]]]},
         "properties": {"objectType": "annotation",
                        "classification": {"name": "Tumor", "color": [200, 0, 0]}}},
        {"type": "Feature",
         "geometry": {"type": "MultiPolygon", "coordinates": [
             [[[200, 0], [220, 0], [220, 20], [200, 20], [200, 0]]],
             [[[300, 0], [320, 0], [320, 20], [300, 20], [300, 0]]]]},
         "properties": {"objectType": "annotation", "classification": {"name": "tumour"}}},
        {"type": "Feature",
         "geometry": {"type": "Polygon", "coordinates": [[[10, 10], [30, 10], [30, 30], [10, 30], [10, 10]]]},
         "properties": {"classification": {"name": "Ignore*"}}},
        {"type": "Feature",
         "geometry": {"type": "Polygon", "coordinates": [[[0, 200], [50, 200], [50, 250], [0, 250], [0, 200]]]},
         "properties": {"classification": {"name": "Stroma"}}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [5, 5]}, "properties": {}},
    ],
}


def test_read_qupath_geojson_by_content(tmp_path):
    for name in ("export.geojson", "export.xml", "export.json"):  # the suffix does not matter
        path = tmp_path / name
        path.write_text(json.dumps(QUPATH))
        aset = read_annotations(path)
        assert len(aset.tumour()) == 3  # the polygon and both parts of the MultiPolygon
        assert [a.name for a in aset.exclusions()] == ["Annotation 0 hole 1", "Annotation 2"]
        assert len(aset.points()) == 1 and next(a for a in aset.annotations if a.group == "Stroma").is_area
    # holes and Ignore* regions are cut out of the tumour mask, Stroma is not tumour
    mask = rasterize(aset, (300, 400), 1.0)
    assert mask[20, 20] == 0 and mask[50, 50] == 0 and mask[5, 5] == 1 and mask[45, 80] == 1
    assert mask[10, 210] == 1 and mask[10, 310] == 1 and mask[220, 20] == 0
    assert int(mask.sum()) == 100 * 100 - 20 * 20 - 20 * 20 + 2 * 20 * 20
    # a bare list of features is read too
    (tmp_path / "list.json").write_text(json.dumps(QUPATH["features"]))
    assert len(read_annotations(tmp_path / "list.json")) == len(aset)


def test_geojson_round_trip_and_asap_still_read_by_content(tmp_path):
    a = AnnotationSet([Annotation("L1", "metastases", "Polygon", np.array([[1.5, 2.0], [30, 2], [30, 40]])),
                       Annotation("p", "None", "Dot", np.array([[7.0, 8.0]]))])
    write_geojson(a, tmp_path / "x.geojson")
    back = read_annotations(tmp_path / "x.geojson")
    assert [b.group for b in back] == ["metastases", "None"]
    np.testing.assert_allclose(back[0].coordinates, a[0].coordinates)
    from camelyon.annotations import write_asap
    write_asap(tmp_path / "y.geojson", a)  # ASAP XML under a .geojson name: read as XML
    assert len(read_annotations(tmp_path / "y.geojson")) == 2 and len(read_asap(tmp_path / "y.geojson")) == 2


def test_geojson_errors_name_file_and_place(tmp_path):
    p = tmp_path / "bad.geojson"
    p.write_text('{"type": "FeatureCollection", "features": [\n  {"type": "Feature", }]}')
    with pytest.raises(AnnotationError, match=r"bad\.geojson:2:\d+: malformed JSON"):
        read_annotations(p)
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[["a", 1]]]}, "properties": {}}]}))
    with pytest.raises(AnnotationError, match="feature 0"):
        read_annotations(p)
    p.write_text(json.dumps({"type": "Topology"}))
    with pytest.raises(AnnotationError, match="FeatureCollection"):
        read_annotations(p)


def test_tiles_command_labels_tiles_from_qupath_geojson(tmp_path, capsys):
    from wsi_factory import SlideSpec, write_slide

    from camelyon.annotations_geojson import geojson_dict
    from camelyon.dataset import TileStore

    slides = tmp_path / "images"
    slides.mkdir()
    lesion = [(256, 256), (768, 256), (768, 768), (256, 768)]
    write_slide(slides / "tumor_001.tif", SlideSpec(width=1024, height=1024, tissue=[(0, 0, 1024, 1024)],
                                                     lesions=[lesion]), mpp=0.5, min_size=512)
    ann = tmp_path / "lesion_annotations"
    ann.mkdir()
    doc = geojson_dict([Annotation("t", "Tumor", "Polygon", np.array(lesion, float))])
    (ann / "tumor_001.geojson").write_text(json.dumps(doc))
    assert main(["tiles", str(slides), "--out", str(tmp_path / "t.h5"), "--tile-size", "256", "--workers", "1",
                 "--quiet"]) == 0
    with TileStore(tmp_path / "t.h5") as store:
        assert int((store.labels == 1).sum()) == 4  # the 2 x 2 tiles inside the lesion
    assert "lesion_annotations" in capsys.readouterr().out
