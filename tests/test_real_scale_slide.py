"""The cheap CAMELYON-sized slide of benchmarks/bench_real_scale.py: a valid pyramid OpenSlide reads, at the
asked resolution, whose levels agree with level 0 and whose tissue the tissue detector finds."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from real_scale_slide import make_slide  # noqa: E402

from camelyon.slide import Slide  # noqa: E402
from camelyon.tissue import slide_tissue_mask  # noqa: E402


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("rs") / "big.tif"
    return path, make_slide(path, 6000, 12000, 0.243, library=6, seed=3)


def test_slide_is_a_pyramid_at_the_asked_resolution(small):
    path, info = small
    assert (info["width"], info["height"]) == (6144, 12288)  # rounded up to whole 512 px tiles
    assert info["tiles_background"] and info["tiles_tissue"] and info["tiles_edge"]
    with Slide(path) as s:
        assert s.dimensions == (6144, 12288) and s.mpp == pytest.approx((0.243, 0.243))
        assert len(s.level_dimensions) == info["levels"] == 6
        assert s.level_dimensions[-1] == (192, 384)
        # level 2 is the 4 x 4 box average of level 0 (JPEG aside), across tissue, edge and background
        x, y = 1024, 2048
        full = s.read_region((x, y), 0, (2048, 2048)).astype(np.float64)
        quarter = s.read_region((x, y), 2, (512, 512)).astype(np.float64)
        boxed = full.reshape(512, 4, 512, 4, 3).mean(axis=(1, 3))
        assert np.abs(boxed - quarter).mean() < 4.0
        assert full.std() > 10.0  # not a blank region
        fraction = slide_tissue_mask(s, 8.0).fraction
    assert abs(fraction - info["layout_tissue_fraction"]) < 0.05, (fraction, info)


def test_slide_is_deterministic(small, tmp_path):
    path, info = small
    again = make_slide(tmp_path / "again.tif", 6000, 12000, 0.243, library=6, seed=3)
    assert again == {**info, "bytes": again["bytes"]} and (tmp_path / "again.tif").read_bytes() == path.read_bytes()
