"""Tile grids, tissue and tumour fractions, labels, on slides with known geometry."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from wsi_factory import TISSUE, TUMOUR, SlideSpec, write_lesion_xml, write_slide

from camelyon.annotations import Annotation, AnnotationSet, read_asap
from camelyon.errors import CamelyonError
from camelyon.slide import Slide
from camelyon.tiling import (
    TILE_DTYPE,
    TileGrid,
    TileReader,
    box_fraction,
    box_fraction_direct,
    integral_image,
    label_tiles,
)

LESION = (256, 256, 512, 448)  # x0, y0, x1, y1 in level-0 px
SPEC = SlideSpec(width=1024, height=768, tissue=[(128, 128, 896, 640)],
                 lesions=[[(256, 256), (512, 256), (512, 448), (256, 448)]], seed=1)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiling")
    slide = write_slide(d / "tumor_001.tif", SPEC, mpp=0.5)
    xml = write_lesion_xml(d / "tumor_001.xml", SPEC)
    return slide, read_asap(xml)


def _overlap(a0, a1, b0, b1):
    return np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0, None)


def test_grid_geometry(case):
    slide, _ = case
    with Slide(slide) as s:
        g = TileGrid(tile_size=64, level=1, stride=32).geometry(s)
        assert (g.level, g.read_size, g.downsample, g.um_per_px) == (1, 64, 2.0, 1.0)
        assert (g.rows, g.cols) == ((384 - 64) // 32 + 1, (512 - 64) // 32 + 1)
        assert g.extent_level0 == 128 and g.stride_level0 == 64
        g = TileGrid(tile_size=96, um_per_px=1.5).geometry(s)
        assert (g.level, g.read_size, g.downsample) == (1, 144, 3.0)
        g = TileGrid(tile_size=64, um_per_px=1.0).geometry(s)
        assert (g.level, g.read_size) == (1, 64)
        with pytest.raises(CamelyonError, match="level 5 does not exist"):
            TileGrid(level=5).geometry(s)


def test_tiles_keep_tissue_and_label_known_lesion(case):
    slide, anns = case
    with Slide(slide) as s:
        table = TileGrid(tile_size=64, level=0, tissue_um_per_px=2.0).tiles(s, anns)
    assert table.dtype == TILE_DTYPE
    # tissue (128..896) x (128..640) holds exactly 12 x 8 tiles of 64 px
    assert len(table) == 12 * 8
    assert (table["x"] >= 128).all() and (table["x"] + 64 <= 896).all()
    assert (table["tissue_fraction"] > 0.9).all()
    inside = (table["x"] >= LESION[0]) & (table["x"] + 64 <= LESION[2]) & \
             (table["y"] >= LESION[1]) & (table["y"] + 64 <= LESION[3])
    assert inside.sum() == 4 * 3
    np.testing.assert_array_equal(table["label"], inside.astype(np.int8))
    np.testing.assert_allclose(table["tumour_fraction"], inside.astype(float))
    np.testing.assert_array_equal(table["x"], table["col"] * 64)
    np.testing.assert_array_equal(table["y"], table["row"] * 64)


def test_tumour_fraction_of_partially_covered_tiles(case):
    slide, anns = case
    with Slide(slide) as s:
        table = TileGrid(tile_size=96, level=0, min_tissue=0.0).tiles(s, anns)
    x, y = table["x"].astype(float), table["y"].astype(float)
    area = _overlap(x, x + 96, LESION[0], LESION[2]) * _overlap(y, y + 96, LESION[1], LESION[3])
    np.testing.assert_allclose(table["tumour_fraction"], area / 96**2, atol=1e-6)
    np.testing.assert_array_equal(table["label"], (area / 96**2 > 0.5).astype(np.int8))
    assert len(table) == (768 // 96) * (1024 // 96)  # min_tissue 0 keeps every whole tile


def test_centre_region_rule(case):
    slide, anns = case
    grid = TileGrid(tile_size=96, level=0, stride=48, center_size=32, tumour_threshold=0.0, min_tissue=0.0)
    with Slide(slide) as s:
        table = grid.tiles(s, anns)
    cx, cy = table["x"] + 32.0, table["y"] + 32.0
    centre = _overlap(cx, cx + 32, LESION[0], LESION[2]) * _overlap(cy, cy + 32, LESION[1], LESION[3]) / 32**2
    np.testing.assert_allclose(table["tumour_fraction"], centre, atol=1e-6)
    np.testing.assert_array_equal(table["label"], (centre > 0).astype(np.int8))
    # a tile touching the lesion only outside its centre is normal under the PCam rule
    edge = (table["x"] == 144) & (table["y"] == 240)
    assert edge.sum() == 1 and table["label"][edge][0] == 0


def test_levels_and_um_per_px_agree(case):
    slide, anns = case
    with Slide(slide) as s:
        t0 = TileGrid(tile_size=128, level=0, tissue_um_per_px=2.0).tiles(s, anns)
        t1 = TileGrid(tile_size=64, level=1, tissue_um_per_px=2.0).tiles(s, anns)
        tu = TileGrid(tile_size=64, um_per_px=1.0, tissue_um_per_px=2.0).tiles(s, anns)
    for t in (t1, tu):
        np.testing.assert_array_equal(t["x"], t0["x"])
        np.testing.assert_array_equal(t["label"], t0["label"])
        np.testing.assert_allclose(t["tumour_fraction"], t0["tumour_fraction"], atol=0.02)
    assert (t1["level"] == 1).all() and (t1["size"] == 64).all()


def test_reader_returns_tile_pixels(case):
    slide, anns = case
    grid = TileGrid(tile_size=96, um_per_px=0.75, tissue_um_per_px=2.0)  # read 144 px at level 0, scaled to 96
    with Slide(slide) as s:
        table = grid.tiles(s, anns)
        reader = TileReader(s, grid.geometry(s))
        tiles = {i: t.copy() for i, t in reader.iter_table(table)}
    assert all(t.shape == (96, 96, 3) for t in tiles.values())
    # a tile inside tissue is the mix of tumour and tissue colours given by its tumour fraction
    full = np.flatnonzero(table["tissue_fraction"] == 1.0)
    assert len(full) >= 4 and table["tumour_fraction"][full].max() > 0.3
    for i in full:
        f = float(table["tumour_fraction"][i])
        expect = f * np.array(TUMOUR) + (1 - f) * np.array(TISSUE)
        assert np.abs(tiles[i].reshape(-1, 3).mean(0) - expect).max() < 4, (i, f)


def test_annotations_outside_slide_are_clipped_with_warning(case):
    slide, _ = case
    big = AnnotationSet([Annotation("a", "metastases", "Polygon",
                                    [[896, 512], [1400, 512], [1400, 1000], [896, 1000]])], path="big.xml")
    with Slide(slide) as s, pytest.warns(UserWarning, match="big.xml: 1 annotation"):
        table = TileGrid(tile_size=128, level=0, min_tissue=0.0).tiles(s, big)
    corner = (table["x"] >= 896) & (table["y"] >= 512)
    assert corner.any() and (table["label"][corner] == 1).all() and (table["label"][~corner] == 0).all()


def test_no_annotations_and_no_tissue(tmp_path):
    p = write_slide(tmp_path / "glass.tif", SlideSpec(width=512, height=512, tissue=[]), mpp=0.5)
    with Slide(p) as s:
        with pytest.warns(UserWarning, match="no tissue"):
            assert len(TileGrid(tile_size=64).tiles(s)) == 0


def test_tile_larger_than_the_level_warns_with_sizes(tmp_path):
    p = write_slide(tmp_path / "small.tif", SlideSpec(width=512, height=384, tissue=[(64, 64, 448, 320)]),
                    mpp=0.5, tile=128, min_size=128)
    with Slide(p) as s:
        assert s.level_dimensions[1] == (256, 192)
        with pytest.warns(UserWarning) as caught:
            assert len(TileGrid(tile_size=1024).tiles(s)) == 0
        message = str(caught[0].message)
        assert "small.tif" in message and "tile size 1024 px" in message and "level 0 (512 x 384 px)" in message
        with pytest.warns(UserWarning, match=r"tile size 200 px does not fit in level 1 \(256 x 192 px\)"):
            assert len(TileGrid(tile_size=200, level=1).tiles(s)) == 0
        with pytest.warns(UserWarning, match=r"tile size 100 px at 2 um/px \(100 px at level 2\).*\(128 x 96 px\)"):
            assert len(TileGrid(tile_size=100, um_per_px=2.0).tiles(s)) == 0
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a tile that fits exactly gives no warning
            assert len(TileGrid(tile_size=192, level=1, min_tissue=0.0).tiles(s)) == 1


@given(seed=st.integers(0, 10_000))
def test_box_fraction_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((23, 31)) < 0.4
    s = integral_image(mask)
    x0, y0 = rng.integers(-5, 31, 20), rng.integers(-5, 23, 20)
    x1, y1 = x0 + rng.integers(1, 12, 20), y0 + rng.integers(1, 12, 20)
    got = box_fraction(s, x0.astype(float), y0.astype(float), x1.astype(float), y1.astype(float))
    padded = np.zeros((60, 70), bool)
    padded[10:33, 10:41] = mask
    want = [padded[b + 10 : d + 10, a + 10 : c + 10].mean() for a, b, c, d in zip(x0, y0, x1, y1, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    direct = box_fraction_direct(mask, x0 + 0.3, y0 - 0.2, x1 + 0.3, y1 - 0.2)  # same rounding
    np.testing.assert_allclose(direct, want, rtol=1e-6)


def test_label_tiles_threshold():
    np.testing.assert_array_equal(label_tiles(np.array([0.0, 0.2, 0.5, 0.51, 1.0])), [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(label_tiles(np.array([0.0, 1e-4]), 0.0), [0, 1])


def test_grid_parameter_errors():
    for kwargs, words in [
        (dict(tile_size=0), "tile size"),
        (dict(stride=0), "stride"),
        (dict(level=1, um_per_px=1.0), "not both"),
        (dict(min_tissue=1.5), "min_tissue"),
        (dict(tumour_threshold=1.0), "tumour_threshold"),
        (dict(tile_size=96, center_size=128), "center_size"),
        (dict(um_per_px=-1.0), "um/px"),
    ]:
        with pytest.raises(CamelyonError, match=words):
            TileGrid(**kwargs)
