"""Heatmap features on hand-made heatmaps with known answers."""

import math

import numpy as np
import pytest
from skimage.measure import regionprops

from camelyon.errors import CamelyonError
from camelyon.features import (
    compute_feature_table,
    core_features,
    feature_names,
    heatmap_features,
    largest_diameter_px,
    read_features_csv,
    write_features_csv,
)
from camelyon.heatmap import Heatmap


def make_heatmap(prob, tissue=None, um_per_px=100.0, slide="patient_000_node_0.tif"):
    prob = np.asarray(prob, np.float32)
    if tissue is None:
        tissue = np.ones(prob.shape, bool)
    return Heatmap(prob, tissue, slide, level=1, tile_size=64, stride=64, um_per_px=um_per_px)


@pytest.mark.exercise("S07")
def test_empty_heatmap_gives_zeros():
    f = core_features(np.zeros((10, 12)), 0.5)
    assert f["max_probability"] == 0 and f["mean_positive_probability"] == 0
    assert f["pixels_above"] == 0 and f["largest_area_px"] == 0
    assert f["largest_major_axis_px"] == 0 and f["largest_minor_axis_px"] == 0


@pytest.mark.exercise("S07")
def test_six_features_on_two_objects():
    p = np.zeros((20, 20))
    p[1:3, 1:4] = 0.6          # small object: 6 px
    p[10:14, 5:15] = 0.875     # large object: 4 x 10 = 40 px
    p[18, 18] = 0.25           # positive but below the threshold
    f = core_features(p, 0.5)
    assert f["max_probability"] == 0.875
    assert f["mean_positive_probability"] == pytest.approx((6 * 0.6 + 40 * 0.875 + 0.25) / 47)
    assert f["pixels_above"] == 46
    assert f["largest_area_px"] == 40
    # ellipse with the same second moments as a filled a x b rectangle: axes 4 * sqrt((a^2 - 1) / 12)
    assert f["largest_major_axis_px"] == pytest.approx(4 * math.sqrt((10 ** 2 - 1) / 12))
    assert f["largest_minor_axis_px"] == pytest.approx(4 * math.sqrt((4 ** 2 - 1) / 12))
    assert f["pixels_above"] == core_features(p, 0.3)["pixels_above"] == 46
    assert core_features(p, 0.7)["pixels_above"] == 40
    assert core_features(p, 0.875)["pixels_above"] == 0  # "above" is strict


@pytest.mark.exercise("S07")
def test_diagonal_pixels_form_one_object_and_disc_axes():
    p = np.zeros((9, 9))
    p[np.arange(5), np.arange(5)] = 1.0
    f = core_features(p, 0.5)
    assert f["largest_area_px"] == 5  # 8-connected: the diagonal is one object
    yy, xx = np.mgrid[:61, :61]
    disc = ((yy - 30) ** 2 + (xx - 30) ** 2 <= 20 ** 2).astype(float)
    f = core_features(disc, 0.5)
    assert f["largest_major_axis_px"] == pytest.approx(40, rel=0.02)
    assert f["largest_minor_axis_px"] == pytest.approx(40, rel=0.02)
    assert f["largest_area_px"] == pytest.approx(math.pi * 20 ** 2, rel=0.01)


@pytest.mark.exercise("S07")
def test_axes_match_skimage_on_random_blobs():
    rng = np.random.default_rng(3)
    for _ in range(5):
        p = rng.random((30, 30)) * (rng.random((30, 30)) < 0.3)
        f = core_features(p, 0.2)
        region = max(regionprops(f["labels"]), key=lambda r: r.area)
        assert f["largest_area_px"] == region.area
        assert f["largest_major_axis_px"] == pytest.approx(region.axis_major_length)
        assert f["largest_minor_axis_px"] == pytest.approx(region.axis_minor_length)


def test_bad_maps():
    with pytest.raises(CamelyonError, match="2-D"):
        core_features(np.zeros(5), 0.5)
    with pytest.raises(CamelyonError, match="NaN"):
        core_features(np.full((2, 2), np.nan), 0.5)


def test_largest_diameter():
    assert largest_diameter_px(np.zeros((3, 3), bool)) == 0
    assert largest_diameter_px(np.ones((1, 1), bool)) == pytest.approx(math.sqrt(2))
    assert largest_diameter_px(np.ones((1, 5), bool)) == pytest.approx(math.sqrt(26))
    assert largest_diameter_px(np.ones((3, 4), bool)) == pytest.approx(5)
    yy, xx = np.mgrid[:101, :101]
    disc = (yy - 50) ** 2 + (xx - 50) ** 2 <= 40 ** 2  # many corners: the convex-hull path
    assert largest_diameter_px(disc) == pytest.approx(81, abs=1.0)


def test_heatmap_features_sizes_in_mm():
    p = np.zeros((20, 30))
    p[2:6, 2:12] = 0.95   # 4 x 10 at both thresholds
    p[15:17, 20:22] = 0.6  # 2 x 2 only at 0.5
    tissue = np.zeros(p.shape, bool)
    tissue[:, :25] = True  # 500 tissue px
    hm = make_heatmap(p, tissue, um_per_px=250.0)  # a heatmap pixel is 0.25 mm
    f = heatmap_features(hm)
    assert list(f) == feature_names()
    assert f["tissue_area_mm2"] == pytest.approx(500 * 0.0625)
    assert f["n_objects_t50"] == 2 and f["n_objects_t90"] == 1
    assert f["pixels_above_t50"] == 44 and f["pixels_above_t90"] == 40
    assert f["largest_area_px_t90"] == 40
    assert f["largest_area_mm2_t90"] == pytest.approx(40 * 0.0625)
    assert f["area_above_mm2_t50"] == pytest.approx(44 * 0.0625)
    assert f["largest_major_axis_mm_t50"] == pytest.approx(0.25 * 4 * math.sqrt(99 / 12))
    assert f["largest_diameter_mm_t90"] == pytest.approx(0.25 * math.sqrt(116))
    assert f["tumour_tissue_ratio_t50"] == pytest.approx(44 / 500)
    assert f["mean_probability_in_objects_t50"] == pytest.approx((40 * 0.95 + 4 * 0.6) / 44, rel=1e-6)
    assert f["mean_probability_in_objects_t90"] == pytest.approx(0.95, rel=1e-6)


def test_no_tissue_and_bad_um_per_px():
    f = heatmap_features(make_heatmap(np.zeros((4, 4)), np.zeros((4, 4), bool)))
    assert f["tumour_tissue_ratio_t50"] == 0 and f["tissue_area_mm2"] == 0
    with pytest.raises(CamelyonError, match="um_per_px"):
        heatmap_features(make_heatmap(np.zeros((4, 4)), um_per_px=0.0))


def test_cohort_table_and_csv(tmp_path):
    paths = []
    for i in range(3):
        p = np.zeros((10, 10))
        p[:i + 1, :i + 1] = 0.99
        paths.append(make_heatmap(p, slide=f"patient_000_node_{i}.tif").save(tmp_path / f"patient_000_node_{i}.npz"))
    slides, names, X = compute_feature_table(reversed(paths), workers=1, progress=False)
    assert slides == [f"patient_000_node_{i}.tif" for i in range(3)]
    assert X.shape == (3, len(names))
    np.testing.assert_array_equal(X[:, names.index("largest_area_px_t90")], [1, 4, 9])
    out = write_features_csv(tmp_path / "features.csv", slides, names, X, labels=["itc", "micro", "macro"])
    s2, n2, X2, labels = read_features_csv(out)
    assert s2 == slides and n2 == names and labels == ["itc", "micro", "macro"]
    np.testing.assert_array_equal(X2, X)
    bad = tmp_path / "bad.csv"
    bad.write_text(out.read_text().replace("0.99", "oops", 1))
    with pytest.raises(CamelyonError, match=r"bad\.csv:2"):
        read_features_csv(bad)
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(CamelyonError, match="broken.npz"):
        compute_feature_table([tmp_path / "broken.npz"], workers=1, progress=False)
