"""Tile stores carry a CRC-32 per tile: a flipped byte names the file, the tile and its slide.

Hostile cases: one flipped byte in a compressed tile and in a tile stored as is (read through the
mmap fast path and through h5py's chunk reads); a store missing a dataset or the slide table; an
old store without checksums (still read; extended with checksums).
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from camelyon.dataset import TileStore, build_tile_store
from camelyon.errors import DatasetError
from camelyon.tiling import TileGrid

GRID = TileGrid(tile_size=64, min_tissue=0.3)


@pytest.fixture
def store(cohort, tmp_path):
    slides, ann = cohort
    out = tmp_path / "tiles.h5"
    build_tile_store(slides, out, grid=GRID, annotations=ann, workers=1, progress=False)
    return out


def _flip(path, i, store_obj):
    offsets, sizes, _ = store_obj._chunks
    pos = int(offsets[i] + sizes[i] // 2)
    with open(path, "r+b") as f:
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([b[0] ^ 0x10]))


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_flipped_byte_names_the_file_tile_and_slide(store, fast_path):
    with TileStore(store) as s:
        assert s._chunks is not None, "the mmap fast path should be in use"
        n = len(s)
        victim = n // 2
        slide = s.slides[victim]
        clean, _ = s.read_batch(np.arange(n))
        _flip(store, victim, s)
    with TileStore(store) as s:
        if not fast_path:
            s._chunks = None  # h5py's chunk reads
        with pytest.raises(DatasetError, match=rf"{store}: tile {victim} \(slide {slide}\) is damaged"):
            s.read_batch([0, victim])
        others = np.delete(np.arange(n), victim)
        tiles, _ = s.read_batch(others)  # every other tile is intact and readable
        np.testing.assert_array_equal(tiles, clean[others])
        assert s.verify_checksums() == [victim]


def test_a_tile_stored_uncompressed_is_checked_too(cohort, tmp_path):
    slides, ann = cohort
    out = tmp_path / "raw.h5"
    build_tile_store(slides, out, grid=GRID, annotations=ann, workers=1, progress=False, compression="none")
    with TileStore(out) as s:
        _flip(out, 0, s)
    with TileStore(out) as s, pytest.raises(DatasetError, match="tile 0 .* is damaged"):
        s.read_batch([0])


@pytest.mark.parametrize("missing", ["labels", "slides/name", "patients", "coords"])
def test_a_store_missing_a_dataset_names_the_file(store, missing):
    with h5py.File(store, "r+") as f:
        del f[missing]
    with pytest.raises(DatasetError, match=rf"{store}: damaged tile store \(.*{missing.split('/')[-1]}.* is missing\)"):
        TileStore(store)


def test_old_stores_without_checksums_are_read_and_extended_with_them(cohort, tmp_path):
    slides, ann = cohort
    out = tmp_path / "old.h5"
    build_tile_store([slides / "patient_000_node_0.tif"], out, grid=GRID, annotations=ann, workers=1, progress=False)
    with h5py.File(out, "r+") as f:
        del f["tile_crc32"]  # as written before checksums existed
    with TileStore(out) as s:
        first, _ = s.read_batch(np.arange(len(s)))
        with pytest.raises(DatasetError, match="written without tile checksums"):
            s.verify_checksums()
    build_tile_store(slides, out, grid=GRID, annotations=ann, workers=1, progress=False)  # extend it
    with TileStore(out) as s:
        assert s.verify_checksums() == []
        mine = np.flatnonzero(s.slides == "patient_000_node_0")
        again, _ = s.read_batch(mine)
        np.testing.assert_array_equal(again, first)
