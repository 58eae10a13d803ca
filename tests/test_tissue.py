"""Tissue detection: HSV saturation, Otsu, morphology, size filters in micrometres."""

import numpy as np
import pytest
from skimage.color import rgb2hsv
from wsi_factory import SlideSpec, render, write_slide

from camelyon.slide import Slide
from camelyon.tissue import (
    binary_closing_disk,
    median_blur,
    otsu_threshold,
    remove_small_regions,
    saturation,
    slide_tissue_mask,
    tissue_mask,
)


def test_saturation_matches_hsv():
    rgb = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    rgb[0, 0] = 0  # black: saturation 0, no division by zero
    s = saturation(rgb)
    assert s.dtype == np.uint8 and s.shape == (40, 50)
    np.testing.assert_allclose(s, np.rint(rgb2hsv(rgb)[..., 1] * 255), atol=1)
    assert s[0, 0] == 0


def test_otsu_threshold_separates_two_modes():
    v = np.concatenate([np.full(500, 10), np.full(300, 90)]).astype(np.uint8)
    t = otsu_threshold(v)
    assert 10 <= t < 90
    assert otsu_threshold(np.full(10, 7, np.uint8)) == 255.0


def _spec():
    # 2 tissue pieces, a "fat" hole inside one, and a dust speck on the glass
    return SlideSpec(width=1024, height=1024, tissue=[(96, 96, 608, 480), (640, 560, 960, 960)], seed=4)


@pytest.mark.parametrize("mpp", [2.0, 4.0])
def test_tissue_mask_recovers_drawn_tissue(mpp):
    img = render(_spec())
    img[250:262, 300:312] = 243  # a 12 px hole in tissue: filled
    img[800:806, 100:106] = (200, 120, 180)  # a 6 px speck on glass: removed
    # sizes in um hold at any resolution: downsample the level-0 image (0.5 um/px) to `mpp`
    f = int(mpp / 0.5)
    small = img.reshape(1024 // f, f, 1024 // f, f, 3).mean(axis=(1, 3)).round().astype(np.uint8)
    mask = tissue_mask(small, um_per_px=mpp, min_object_um2=400, max_hole_um2=400)
    truth = np.zeros((1024, 1024), bool)
    for x0, y0, x1, y1 in _spec().tissue:
        truth[y0:y1, x0:x1] = True
    truth = truth[f // 2 :: f, f // 2 :: f]
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert iou > 0.97, iou
    assert not mask[800 // f, 100 // f]  # speck removed
    assert mask[256 // f, 306 // f]  # hole filled


def test_empty_glass_gives_empty_mask():
    img = render(SlideSpec(width=256, height=256, tissue=[], noise=3.0))
    assert not tissue_mask(img, um_per_px=4.0).any()


def test_remove_small_regions():
    m = np.zeros((20, 20), bool)
    m[2:4, 2:4] = True  # 4 px
    m[10:15, 10:15] = True  # 25 px
    out = remove_small_regions(m, 5)
    assert not out[2:4, 2:4].any() and out[10:15, 10:15].all()
    holes = np.ones((10, 10), bool)
    holes[0, :] = False  # background touching the border is not a hole
    kept = remove_small_regions(holes, 1000, keep_border=True)
    np.testing.assert_array_equal(kept, holes)


def test_bad_input():
    with pytest.raises(ValueError, match="shape"):
        tissue_mask(np.zeros((4, 4), np.uint8), 1.0)
    with pytest.raises(ValueError, match="uint8"):
        tissue_mask(np.zeros((4, 4, 3), np.float32), 1.0)
    with pytest.raises(ValueError, match="um_per_px"):
        tissue_mask(np.zeros((4, 4, 3), np.uint8), 0.0)


def test_slide_tissue_mask_geometry_and_warning(tmp_path):
    p = write_slide(tmp_path / "s.tif", _spec(), mpp=0.5)
    with Slide(p) as s:
        tm = slide_tissue_mask(s, um_per_px=4.0)
    assert tm.downsample == 8 and tm.um_per_px == pytest.approx(4.0)
    assert tm.mask.shape == (128, 128)
    area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in _spec().tissue) / 1024**2
    assert tm.fraction == pytest.approx(area, abs=0.01)
    empty = write_slide(tmp_path / "glass.tif", SlideSpec(width=512, height=512, tissue=[]), mpp=0.5)
    with Slide(empty) as s, pytest.warns(UserWarning, match="no tissue found"):
        assert slide_tissue_mask(s).fraction == 0.0


@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_median_blur_matches_scipy(k):
    from scipy import ndimage

    img = np.random.default_rng(k).integers(0, 256, (37, 41), dtype=np.uint8)
    want = img if k == 1 else ndimage.median_filter(img, size=k, mode="nearest")
    np.testing.assert_array_equal(median_blur(img, k), want)


@pytest.mark.parametrize("radius", [1, 2, 4, 8])
def test_binary_closing_disk_matches_scipy(radius):
    from scipy import ndimage
    from skimage.morphology import disk

    rng = np.random.default_rng(radius)
    for density in (0.2, 0.5, 0.8):
        m = rng.random((41, 53)) < density
        want = ndimage.binary_closing(m, structure=disk(radius).astype(bool))
        np.testing.assert_array_equal(binary_closing_disk(m, radius), want)
