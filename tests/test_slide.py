"""camelyon.slide on small generated pyramidal TIFF slides."""

import numpy as np
import pytest
from wsi_factory import BACKGROUND, TISSUE, TUMOUR, SlideSpec, render, write_corrupt_tiff, write_slide

from camelyon.errors import SlideError
from camelyon.slide import Slide, composite_on_white

SPEC = SlideSpec(width=1024, height=768, tissue=[(128, 128, 896, 640)],
                 lesions=[[(256, 256), (512, 256), (512, 448), (256, 448)]], seed=1)


@pytest.fixture(scope="module")
def slide_path(tmp_path_factory):
    return write_slide(tmp_path_factory.mktemp("slide") / "tumor_001.tif", SPEC, mpp=0.5)


def test_geometry_levels_and_mpp(slide_path):
    with Slide(slide_path) as s:
        assert s.vendor == "generic-tiff"
        assert s.dimensions == (1024, 768)
        assert s.level_dimensions == ((1024, 768), (512, 384), (256, 192))
        assert s.level_downsamples == pytest.approx((1.0, 2.0, 4.0))
        assert s.mpp == pytest.approx((0.5, 0.5))
        assert s.mpp_at_level(2) == pytest.approx(2.0)
        assert s.best_level_for_mpp(0.5) == 0
        assert s.best_level_for_mpp(1.5) == 1
        assert s.best_level_for_mpp(100.0) == 2
        assert s.best_level_for_mpp(0.1) == 0  # finer than level 0: read level 0
        assert s.name == "tumor_001"
        assert "1024x768" in repr(s)


def test_read_region_rgb_matches_drawing(slide_path):
    truth = render(SPEC)
    with Slide(slide_path) as s:
        tile = s.read_region((300, 300), 0, (64, 48))
        assert tile.shape == (48, 64, 3) and tile.dtype == np.uint8
        # JPEG: close to the drawn pixels, not exact
        assert np.abs(tile.astype(int) - truth[300:348, 300:364]).mean() < 4
        assert np.abs(tile.reshape(-1, 3).mean(0) - TUMOUR).max() < 4
        # level 1 at level-0 coordinates: the region starting at (600, 200) is plain tissue
        t1 = s.read_region((600, 200), 1, (32, 32))
        assert np.abs(t1.reshape(-1, 3).mean(0) - TISSUE).max() < 4
        bg = s.read_region((0, 0), 2, (16, 16))
        assert np.abs(bg.reshape(-1, 3).mean(0) - BACKGROUND).max() < 4
        # outside the slide OpenSlide returns transparent pixels: white
        out = s.read_region((1000, 740), 0, (64, 64))
        assert (out[40:, 40:] == 255).all()
        buf = np.zeros((48, 64, 3), np.uint8)
        assert s.read_region((300, 300), 0, (64, 48), out=buf) is buf
        np.testing.assert_array_equal(buf, tile)


def test_thumbnail_and_downsampled_reads(slide_path):
    with Slide(slide_path) as s:
        th = s.thumbnail(200)
        assert max(th.shape[:2]) <= 200 and th.shape[2] == 3 and th.dtype == np.uint8
        img, ds = s.read_at_downsample(8)
        assert ds == pytest.approx(8.0) and img.shape == (96, 128, 3)
        level2 = s.read_level(2)
        expect = level2.reshape(96, 2, 128, 2, 3).astype(float).mean(axis=(1, 3))
        assert np.abs(img.astype(float) - expect).max() <= 0.5 + 1e-9
        img4, ds4 = s.read_at_downsample(4)
        assert ds4 == 4.0
        np.testing.assert_array_equal(img4, level2)
        with pytest.raises(SlideError, match="level 3 does not exist"):
            s.read_region((0, 0), 3, (8, 8))
        with pytest.raises(ValueError):
            s.thumbnail(0)


def test_composite_on_white():
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)
    rgba[0, 1] = (10, 20, 30, 0)
    rgba[0, 2] = (100, 50, 0, 128)
    rgba[1] = (200, 100, 50, 255)
    out = composite_on_white(rgba)
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0], (10, 20, 30))
    np.testing.assert_array_equal(out[0, 1], (255, 255, 255))
    a = 128 / 255
    np.testing.assert_array_equal(out[0, 2], np.rint(np.array([100, 50, 0]) * a + 255 * (1 - a)))
    np.testing.assert_array_equal(out[1], [[200, 100, 50]] * 3)
    opaque = rgba.copy()
    opaque[..., 3] = 255
    np.testing.assert_array_equal(composite_on_white(opaque), opaque[..., :3])


def test_missing_mpp_needs_override(tmp_path):
    p = write_slide(tmp_path / "nompp.tif", SlideSpec(width=512, height=512, tissue=[(0, 0, 256, 256)]), mpp=None)
    with Slide(p) as s:
        assert not s.has_mpp
        with pytest.raises(SlideError, match=r"nompp\.tif.*--mpp"):
            _ = s.mpp
        s.read_region((0, 0), 0, (8, 8))  # pixels do not need the resolution
    with Slide(p, mpp=0.243) as s:
        assert s.mpp == (0.243, 0.243)
        assert s.mpp_at_level(1) == pytest.approx(0.486)
    with pytest.raises(SlideError, match="must be between 0.01 and 100 um/px"):
        Slide(p, mpp=-1)


def test_missing_corrupt_and_folder(tmp_path):
    with pytest.raises(SlideError, match=r"nope\.tif: slide file not found"):
        Slide(tmp_path / "nope.tif")
    bad = write_corrupt_tiff(tmp_path / "bad.tif")
    with pytest.raises(SlideError, match=r"bad\.tif: OpenSlide"):
        Slide(bad)
    (tmp_path / "text.svs").write_text("not a slide")
    with pytest.raises(SlideError, match=r"text\.svs"):
        Slide(tmp_path / "text.svs")
    with pytest.raises(SlideError, match="is a folder"):
        Slide(tmp_path)


def test_closed_slide(slide_path):
    s = Slide(slide_path)
    s.close()
    with pytest.raises(SlideError, match="closed"):
        _ = s.dimensions
