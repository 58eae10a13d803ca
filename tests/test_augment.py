"""Tile augmentation: shapes and labels kept, reproducible from the seed, real symmetries."""

import numpy as np
import pytest

from camelyon.augment import TileAugmenter, random_flip_rotate, stain_augment, stain_basis
from camelyon.stain import REFERENCE_STAIN_MATRIX, od_to_rgb, rgb_to_od, stain_concentrations


def tiles(n=16, size=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


def symmetries(img):
    out = []
    for k in range(4):
        r = np.rot90(img, k)
        out += [r, r[:, ::-1]]
    return out


@pytest.mark.exercise("G07")
def test_flip_rotate_gives_a_symmetry_of_each_tile():
    x = tiles(64)
    y = random_flip_rotate(x, np.random.default_rng(1))
    assert y.shape == x.shape and y.dtype == x.dtype
    seen = set()
    for a, b in zip(x, y, strict=True):
        matches = [i for i, s in enumerate(symmetries(a)) if np.array_equal(s, b)]
        assert matches, "output is not a rotation/mirror of its input"
        seen.add(matches[0])
    assert len(seen) == 8  # all eight symmetries occur in 64 draws
    np.testing.assert_array_equal(x, tiles(64))  # input untouched


@pytest.mark.exercise("G07")
def test_flip_rotate_is_reproducible_from_seed():
    x = tiles()
    np.testing.assert_array_equal(random_flip_rotate(x, 5), random_flip_rotate(x, 5))
    assert not all(np.array_equal(a, b) for a, b in zip(random_flip_rotate(x, 5), random_flip_rotate(x, 6), strict=True))


def test_flip_rotate_needs_square_tiles():
    with pytest.raises(ValueError, match="square"):
        random_flip_rotate(np.zeros((2, 4, 6, 3), np.uint8), 0)


def test_stain_augment_scales_concentrations_within_range():
    rng = np.random.default_rng(2)
    conc = rng.uniform(0.2, 1.0, size=(4, 32, 32, 2))
    m = stain_basis()[:2]
    x = od_to_rgb(conc @ m)
    y = stain_augment(x, rng=3, scale=0.3, shift=0.0)
    assert y.shape == x.shape and y.dtype == np.uint8
    c_in = stain_concentrations(rgb_to_od(x), m)
    c_out = stain_concentrations(rgb_to_od(y), m)
    ratio = np.median(c_out / c_in, axis=(1, 2))  # (4, 2) per image and stain
    assert np.all(ratio > 0.68) and np.all(ratio < 1.32)
    assert np.abs(ratio - 1).max() > 0.02  # something changed
    # scale 0 and shift 0 is the identity up to 8-bit rounding
    same = stain_augment(x, rng=3, scale=0.0, shift=0.0)
    assert np.abs(same.astype(int) - x).max() <= 1


@pytest.mark.exercise("G07")
def test_augmenter_keeps_labels_shapes_and_is_reproducible():
    x = tiles(32, 32)
    labels = np.arange(32) % 2
    a1, l1 = TileAugmenter(seed=7)(x, labels)
    a2, l2 = TileAugmenter(seed=7)(x, labels)
    a3, _ = TileAugmenter(seed=8)(x, labels)
    assert a1.shape == x.shape and a1.dtype == np.uint8
    np.testing.assert_array_equal(l1, labels)
    np.testing.assert_array_equal(a1, a2)
    assert not np.array_equal(a1, a3)
    # successive calls differ (the generator advances) but the sequence is reproducible
    aug = TileAugmenter(seed=7)
    first, second = aug(x), aug(x)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, a1)


def test_augmenter_options_and_errors():
    x = tiles(4)
    out = TileAugmenter(geometric=False, stain=False, seed=0)(x)
    np.testing.assert_array_equal(out, x)
    assert out is not x
    with pytest.raises(ValueError, match="labels"):
        TileAugmenter(seed=0)(x, np.zeros(3))
    with pytest.raises(ValueError, match="uint8"):
        TileAugmenter(seed=0)(x.astype(float))
    with pytest.raises(ValueError, match="scale"):
        stain_augment(x, 0, scale=1.5)
    with pytest.raises(ValueError, match="parallel"):
        stain_basis(np.array([REFERENCE_STAIN_MATRIX[0], REFERENCE_STAIN_MATRIX[0]]))
