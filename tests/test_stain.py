"""Stain normalization: Macenko stain vectors, Reinhard LAB statistics, no-tissue tiles."""

import json

import numpy as np
import pytest
from skimage.color import rgb2lab

from camelyon.stain import (
    REFERENCE_STAIN_MATRIX,
    MacenkoNormalizer,
    ReinhardNormalizer,
    estimate_stain_matrix,
    make_normalizer,
    match_lab_statistics,
    normalizer_from_dict,
    od_to_rgb,
    rgb_to_od,
)

REF = REFERENCE_STAIN_MATRIX / np.linalg.norm(REFERENCE_STAIN_MATRIX, axis=1, keepdims=True)
# a bluer hematoxylin and a redder eosin, as another hospital might produce
OTHER = np.array([[0.65, 0.70, 0.30], [0.10, 0.85, 0.45]])
OTHER = OTHER / np.linalg.norm(OTHER, axis=1, keepdims=True)


# the Reinhard transform is exercise G07: its tests belong to that exercise
REINHARD_G07 = pytest.mark.exercise("G07")


def compose(stains, seed, size=64, amount=(1.0, 1.0), background=0.0):
    """An H&E-like image whose OD is exactly concentrations @ stains (rows H, E)."""
    rng = np.random.default_rng(seed)
    n = size * size
    frac = rng.uniform(0, 1, n)
    total = rng.uniform(0.4, 1.4, n)
    conc = np.stack([total * frac * amount[0], total * (1 - frac) * amount[1]], axis=1)
    if background:
        conc[rng.uniform(size=n) < background] = 0.0
    return od_to_rgb((conc @ stains).reshape(size, size, 3)), conc.reshape(size, size, 2)


def angle_deg(u, v):
    return np.degrees(np.arccos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1, 1)))


def mean_lab(img):
    lab = rgb2lab(img)
    return lab[lab[..., 0] < 85].mean(axis=0)


def test_optical_density_round_trip():
    rgb = np.arange(256, dtype=np.uint8).repeat(3).reshape(16, 16, 3)
    od = rgb_to_od(rgb)
    assert od.dtype == np.float32 and od.min() >= 0
    back = od_to_rgb(od)
    below = rgb < 240  # intensities above Io are clipped to OD 0
    assert np.abs(back[below].astype(int) - rgb[below]).max() <= 1


@pytest.mark.parametrize("stains", [REF, OTHER], ids=["reference", "other"])
def test_macenko_recovers_known_stain_vectors(stains):
    img, _ = compose(stains, seed=1, size=96, background=0.3)
    m = estimate_stain_matrix(rgb_to_od(img))
    assert m is not None and m.shape == (2, 3)
    # H first (larger red component), each within 2 degrees of the truth
    assert m[0, 0] > m[1, 0]
    assert angle_deg(m[0], stains[0]) < 2.0, (m, stains)
    assert angle_deg(m[1], stains[1]) < 2.0, (m, stains)


def test_macenko_separation_returns_concentrations_and_matrix():
    img, conc = compose(REF, seed=2)
    norm = MacenkoNormalizer()
    sep = norm.separate(img)
    assert sep.hematoxylin.shape == img.shape[:2] and sep.eosin.shape == img.shape[:2]
    assert sep.stain_matrix.shape == (2, 3) and sep.has_tissue
    assert np.corrcoef(sep.hematoxylin.ravel(), conc[..., 0].ravel())[0, 1] > 0.98
    assert np.corrcoef(sep.eosin.ravel(), conc[..., 1].ravel())[0, 1] > 0.98
    batch = norm.separate(np.stack([img, img]))
    assert batch.hematoxylin.shape == (2, *img.shape[:2]) and batch.stain_matrix.shape == (2, 2, 3)
    np.testing.assert_allclose(batch.hematoxylin[1], sep.hematoxylin)


@pytest.mark.parametrize("method", [pytest.param("reinhard", marks=REINHARD_G07), "macenko"])
def test_normalizing_stain_shifted_image_moves_mean_lab_to_target(method):
    target, _ = compose(REF, seed=3, size=96)
    source, _ = compose(OTHER, seed=4, size=96, amount=(1.5, 0.6))
    norm = make_normalizer(method).fit(target)
    out = norm.transform(source)
    assert out.dtype == np.uint8 and out.shape == source.shape
    before = np.linalg.norm(mean_lab(source) - mean_lab(target))
    after = np.linalg.norm(mean_lab(out) - mean_lab(target))
    assert before > 10.0  # the shift is visible
    assert after < 2.5, (method, before, after)


@pytest.mark.parametrize("method", [pytest.param("reinhard", marks=REINHARD_G07), "macenko"])
def test_tile_without_tissue_passes_through_unchanged(method):
    target, _ = compose(REF, seed=5)
    norm = make_normalizer(method).fit(target)
    rng = np.random.default_rng(0)
    blank = np.clip(rng.normal(242, 3, (2, 48, 48, 3)), 0, 255).astype(np.uint8)
    blank[1] = 255
    tissue, _ = compose(OTHER, seed=6, size=48)
    batch = np.concatenate([blank, tissue[None]])
    out = norm.transform(batch)
    np.testing.assert_array_equal(out[:2], blank)
    assert not np.array_equal(out[2], tissue)
    np.testing.assert_array_equal(out[2], norm.transform(tissue))  # batch == one by one
    if method == "macenko":
        sep = norm.separate(blank)
        assert np.all(np.isfinite(sep.hematoxylin)) and not sep.has_tissue.any()


@pytest.mark.parametrize("method", [pytest.param("reinhard", marks=REINHARD_G07), "macenko"])
def test_normalizer_round_trips_through_json(method):
    target, _ = compose(REF, seed=7)
    norm = make_normalizer(method).fit(target)
    again = normalizer_from_dict(json.loads(json.dumps(norm.to_dict())))
    source, _ = compose(OTHER, seed=8)
    np.testing.assert_array_equal(again.transform(source), norm.transform(source))


def test_bad_input_gives_clear_errors():
    norm = MacenkoNormalizer()
    img, _ = compose(REF, seed=9)
    with pytest.raises(ValueError, match="not fitted"):
        norm.transform(img)
    with pytest.raises(ValueError, match="uint8"):
        norm.fit(img.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        norm.fit(img[..., :2])
    with pytest.raises(ValueError, match="too little"):
        norm.fit(np.full((32, 32, 3), 250, np.uint8))
    with pytest.raises(ValueError, match="too little"):
        ReinhardNormalizer().fit(np.full((32, 32, 3), 250, np.uint8))
    with pytest.raises(ValueError, match="unknown normalization"):
        make_normalizer("vahadane")


@pytest.mark.exercise("G07")
def test_match_lab_statistics_matches_mean_and_std_on_mask_only():
    rng = np.random.default_rng(10)
    lab = rng.normal([60, 20, -10], [8, 5, 4], size=(32, 32, 3))
    original = lab.copy()
    mask = np.zeros((32, 32), bool)
    mask[4:28, 4:28] = True
    target_mean, target_std = np.array([55.0, 30.0, -20.0]), np.array([10.0, 3.0, 6.0])
    out = match_lab_statistics(lab, mask, target_mean, target_std)
    np.testing.assert_allclose(out[mask].mean(axis=0), target_mean, atol=1e-9)
    np.testing.assert_allclose(out[mask].std(axis=0), target_std, rtol=1e-9)
    np.testing.assert_array_equal(out[~mask], lab[~mask])
    np.testing.assert_array_equal(lab, original)  # the input is not modified


def test_fast_lab_conversion_matches_skimage():
    from skimage.color import lab2rgb

    from camelyon.stain.lab import lab_to_rgb, rgb_to_lab

    rgb = np.random.default_rng(11).integers(0, 256, size=(40, 40, 3), dtype=np.uint8)
    lab = rgb_to_lab(rgb)
    assert lab.dtype == np.float32
    np.testing.assert_allclose(lab, rgb2lab(rgb), atol=2e-3)
    np.testing.assert_array_equal(lab_to_rgb(lab), rgb)
    shifted = rgb2lab(rgb) + np.array([3.0, 8.0, -6.0])
    reference = np.rint(np.clip(lab2rgb(shifted), 0, 1) * 255).astype(int)
    assert np.abs(lab_to_rgb(shifted).astype(int) - reference).max() <= 1
