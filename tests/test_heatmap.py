"""Slide heatmaps: highest inside a known lesion, zero off tissue, geometry, the command line."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from wsi_factory import SlideSpec, write_slide  # noqa: E402

from camelyon.cli import main  # noqa: E402
from camelyon.heatmap import Heatmap, compute_heatmap, plot_heatmap  # noqa: E402
from camelyon.tile_model import TileModel  # noqa: E402

# level 0 at 0.5 um/px; the model reads 16 px tiles at 1 um/px (level 1): 32 level-0 px per tile
LESION = [(320, 256), (640, 256), (640, 512), (320, 512)]
SPEC = SlideSpec(width=1024, height=768, tissue=[(128, 128, 896, 640)], lesions=[LESION], seed=3)


def in_lesion(x, y):
    return (x > 320) & (x < 640) & (y > 256) & (y < 512)


def in_tissue(x, y):
    return (x > 128) & (x < 896) & (y > 128) & (y < 640)


def purple_detector(tile_size=16):
    """A tile CNN with hand-set weights: the logit grows with the area of dark-red-poor (purple) pixels.

    Channel 0 of the first convolution is relu(0.72 - red/255): about 0.17 on the purple tumour
    colour, 0 on pink tissue and white background. The next convolutions copy channel 0, global
    pooling averages it, and the dense layer maps a fully purple tile to logit ~ +5 and a tile
    without purple to -5.
    """
    model = TileModel.new(tile_size=tile_size, um_per_px=1.0, level=1, input_mean=np.zeros(3),
                          input_std=np.ones(3), seed=0)
    convs = [layer for layer in model.network.layers if type(layer).__name__ == "Conv2D"]
    dense = [layer for layer in model.network.layers if type(layer).__name__ == "Dense"][0]
    for layer in convs + [dense]:
        for arr in layer.params.values():
            arr[...] = 0.0
    convs[0].params["W"][0, 0, 1, 1] = -1.0
    convs[0].params["b"].reshape(-1)[0] = 0.72
    for conv in convs[1:]:
        conv.params["W"][0, 0, 1, 1] = 1.0
    w = dense.params["W"]
    w.reshape(-1)[0] = 60.0  # (64, 1) or (1, 64): element 0 links pooled channel 0 to the logit
    dense.params["b"].reshape(-1)[0] = -5.0
    return model


@pytest.fixture(scope="module")
def slide_path(tmp_path_factory):
    return write_slide(tmp_path_factory.mktemp("slides") / "tumor_001.tif", SPEC, mpp=0.5)


def cell_centres(hm):
    rows, cols = hm.shape
    half = hm.tile_size * hm.downsample / 2
    ys = hm.origin[1] + np.arange(rows) * hm.stride_level0 + half
    xs = hm.origin[0] + np.arange(cols) * hm.stride_level0 + half
    return np.meshgrid(xs, ys)


def test_purple_detector_separates_colours():
    model = purple_detector()
    tiles = np.empty((3, 16, 16, 3), np.uint8)
    tiles[0], tiles[1], tiles[2] = (140, 78, 170), (226, 150, 196), (243, 243, 243)
    p = model.predict_proba(tiles)
    assert p[0] > 0.95 and p[1] < 0.05 and p[2] < 0.05


def test_heatmap_is_highest_inside_the_lesion(slide_path):
    hm = compute_heatmap(slide_path, purple_detector(), batch_size=50)
    assert hm.level == 1 and hm.tile_size == 16 and hm.stride == 16
    assert hm.um_per_px == pytest.approx(16.0) and hm.stride_level0 == pytest.approx(32.0)
    assert hm.shape == (768 // 32, 1024 // 32)
    x, y = cell_centres(hm)
    inside_lesion = in_lesion(x, y)
    tissue = in_tissue(x, y)
    # tissue cells are classified, background cells are not and stay 0
    assert hm.tissue[inside_lesion].all()
    assert hm.tissue[tissue].mean() > 0.9 and not hm.tissue[~tissue].any()
    assert np.all(hm.probability[~hm.tissue] == 0)
    assert hm.probability[inside_lesion].min() > 0.9
    outside = hm.tissue & ~inside_lesion
    assert np.median(hm.probability[outside]) < 0.05
    peak = np.unravel_index(np.argmax(hm.probability), hm.shape)
    assert inside_lesion[peak]
    assert hm.extra["tiles"] == int(hm.tissue.sum())


def test_finer_stride_gives_finer_map_over_the_same_area(slide_path):
    model = purple_detector()
    coarse = compute_heatmap(slide_path, model)
    fine = compute_heatmap(slide_path, model, stride=8, batch_size=64)
    assert fine.stride == 8 and fine.um_per_px == pytest.approx(8.0)
    assert fine.shape[0] == 2 * coarse.shape[0] - 1 and fine.shape[1] == 2 * coarse.shape[1] - 1
    # every second fine cell is a coarse cell: same tile, same probability
    np.testing.assert_allclose(fine.probability[::2, ::2], coarse.probability, atol=1e-5)
    x, y = cell_centres(fine)
    inside = in_lesion(x, y)
    assert inside[np.unravel_index(np.argmax(fine.probability), fine.shape)]


def test_heatmap_round_trip_and_picture(slide_path, tmp_path):
    from camelyon.slide import Slide

    hm = compute_heatmap(slide_path, purple_detector())
    again = Heatmap.load(hm.save(tmp_path / "tumor_001.npz"))
    np.testing.assert_array_equal(again.probability, hm.probability)
    assert again.extra["tiles"] == hm.extra["tiles"]
    with Slide(slide_path) as s:
        thumb = s.thumbnail(256)
        ds = s.dimensions[0] / thumb.shape[1]
    png = plot_heatmap(hm, thumb, ds, tmp_path / "tumor_001.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_loading_a_file_that_is_not_a_heatmap_is_a_clear_error(tmp_path):
    from camelyon.errors import CamelyonError

    (tmp_path / "text.npz").write_text("not a heatmap")
    with open(tmp_path / "array.npz", "wb") as fh:  # an .npy array under an .npz name
        np.save(fh, np.zeros(3))
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    for name in ("text.npz", "array.npz", "other.npz"):
        with pytest.raises(CamelyonError, match=f"{name} is not a heatmap file"):
            Heatmap.load(tmp_path / name)


def test_bad_stride_is_a_clear_error(slide_path):
    from camelyon.errors import CamelyonError

    with pytest.raises(CamelyonError, match="stride"):
        compute_heatmap(slide_path, purple_detector(), stride=32)


def test_heatmap_command_writes_maps_and_resumes(slide_path, tmp_path, capsys):
    model_path = purple_detector().save(tmp_path / "model.npz")
    out = tmp_path / "maps"
    assert main(["heatmap", str(slide_path.parent), "--model", str(model_path), "--out", str(out),
                 "--workers", "1", "--quiet"]) == 0
    hm = Heatmap.load(out / "tumor_001.npz")
    assert hm.probability.max() > 0.9
    assert (out / "tumor_001.png").is_file() and (out / "heatmaps.csv").is_file()
    mtime = (out / "tumor_001.npz").stat().st_mtime_ns
    assert main(["heatmap", str(slide_path), "--model", str(model_path), "--out", str(out), "--quiet"]) == 0
    assert (out / "tumor_001.npz").stat().st_mtime_ns == mtime  # kept, not recomputed
    assert "1 heatmap already there" in capsys.readouterr().out
    # a model file that is not a tile model: one-line error, exit status 2
    assert main(["heatmap", str(slide_path), "--model", str(tmp_path / "missing.npz"), "--out", str(out)]) == 2
    assert "model file not found" in capsys.readouterr().err


def test_model_resolution_between_levels_reads_and_scales_tiles(slide_path):
    model = purple_detector()
    model.um_per_px = 0.75  # between level 0 (0.5) and level 1 (1.0): read 24 px at level 0, scale to 16
    hm = compute_heatmap(slide_path, model)
    assert hm.level == 0 and hm.stride_level0 == pytest.approx(24.0)
    assert hm.um_per_px == pytest.approx(12.0)
    x, y = cell_centres(hm)
    assert in_lesion(x, y)[np.unravel_index(np.argmax(hm.probability), hm.shape)]
    assert hm.probability[in_lesion(x, y)].min() > 0.9
