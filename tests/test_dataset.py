"""The HDF5 tile store: build (parallel, resumable, failure-isolating), read, sample, split."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
from wsi_factory import SlideSpec, make_cohort, small_cohort_specs, write_corrupt_tiff, write_slide

import camelyon
from camelyon.dataset import (
    BalancedSampler,
    TileStore,
    build_tile_store,
    find_slides,
    parse_slide_name,
    prefetch,
    split_by_center,
    split_by_patient,
)
from camelyon.errors import CamelyonError, DatasetError
from camelyon.slide import Slide
from camelyon.tiling import TileGrid, TileReader

GRID = TileGrid(tile_size=64, level=0, stride=64, tissue_um_per_px=2.0)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("cohort")
    slides, annotations = make_cohort(root, small_cohort_specs(), mpp=0.5, tile=128, min_size=128)
    return slides, annotations


def _copy_cohort(cohort, dest: Path):
    import shutil

    slides, annotations = cohort
    shutil.copytree(slides, dest / "slides")
    shutil.copytree(annotations, dest / "annotations")
    return dest / "slides", dest / "annotations"


def store_contents(path):
    """Everything in a store except the list of failures, as plain Python/NumPy values."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                data = obj.asstr()[()] if obj.dtype.kind == "O" else obj[()]
                out[name] = np.asarray(data)
        f.visititems(visit)
        out["attrs"] = {k: f.attrs[k] for k in f.attrs if k != "failed"}
    return out


def assert_same_store(a, b):
    ca, cb = store_contents(a), store_contents(b)
    assert ca.keys() == cb.keys()
    for k in ca:
        if k == "attrs":
            assert {k2: str(v) for k2, v in ca[k].items()} == {k2: str(v) for k2, v in cb[k].items()}
        else:
            np.testing.assert_array_equal(ca[k], cb[k], err_msg=k)


def test_build_store_layout_and_content(cohort, tmp_path):
    slides, annotations = cohort
    out = tmp_path / "tiles.h5"
    report = build_tile_store(slides, out, grid=GRID, annotations=annotations, workers=1, progress=False)
    assert report.ok and sorted(report.tiled) == sorted(small_cohort_specs())
    assert not (tmp_path / "tiles.h5.parts").exists()
    with TileStore(out) as store:
        n = len(store)
        assert store.tile_size == 64 and store.level == 0 and store.um_per_px == pytest.approx(0.5)
        assert store.software_version == camelyon.__version__
        assert store.params["grid"]["tile_size"] == 64
        table = store.slide_table
        assert list(table["name"]) == sorted(small_cohort_specs())
        assert table["count"].sum() == n and list(table["start"]) == [0, *np.cumsum(table["count"])[:-1]]
        # lesion rectangles (256x192 and 128x192 px, on the 64 px grid) give 12 and 6 tumour tiles
        assert list(table["positives"]) == [12, 0, 6]
        assert int((store.labels == 1).sum()) == 18
        assert set(store.patients) == {"patient_000", "patient_001"}
        assert (store.centers == -1).all()
        with h5py.File(out, "r") as f:
            assert f["tiles"].chunks == (1, 64, 64, 3) and f["tiles"].compression == "lzf"
            assert f["coords"].shape == (n, 2)
        # tiles are exactly what the slide gives at those coordinates
        tiles, labels = store.read_batch(np.arange(n))
        for row, name in enumerate(table["name"]):
            sel = np.flatnonzero(store.slide_index == row)
            assert (store.slides[sel] == name).all()
            with Slide(slides / f"{name}.tif") as s:
                reader = TileReader(s, GRID.geometry(s))
                for i in sel[:: max(1, len(sel) // 7)]:
                    x, y = store.coords[i]
                    np.testing.assert_array_equal(tiles[i], reader.read(x, y))
        np.testing.assert_array_equal(labels, store.labels)


def test_bad_slides_are_reported_and_cost_nothing(cohort, tmp_path):
    slides, annotations = _copy_cohort(cohort, tmp_path)
    write_corrupt_tiff(slides / "patient_002_node_0.tif")
    write_slide(slides / "patient_002_node_1.tif", SlideSpec(width=512, height=512, tissue=[(64, 64, 448, 448)]),
                mpp=None, tile=128, min_size=128)
    write_slide(slides / "patient_002_node_2.tif", SlideSpec(width=512, height=512), mpp=0.5,
                tile=128, min_size=128)
    (annotations / "patient_002_node_2.xml").write_text("<ASAP_Annotations>\n<Annotations>\n<Annotation>\n")
    write_slide(slides / "patient_002_node_3.tif", SlideSpec(width=512, height=512, tissue=[]), mpp=0.5,
                tile=128, min_size=128)
    missing = tmp_path / "nowhere" / "patient_009_node_0.tif"
    out = tmp_path / "tiles.h5"
    with pytest.warns(UserWarning):
        report = build_tile_store([slides, missing], out, grid=GRID, annotations=annotations, workers=1,
                                  progress=False)
    failed = dict(report.failed)
    assert set(failed) == {str(slides / "patient_002_node_0.tif"), str(slides / "patient_002_node_1.tif"),
                           str(slides / "patient_002_node_2.xml".replace(".xml", ".tif")), str(missing)}
    assert "OpenSlide" in failed[str(slides / "patient_002_node_0.tif")]
    assert "--mpp" in failed[str(slides / "patient_002_node_1.tif")]
    bad_xml = failed[str(slides / "patient_002_node_2.tif")]
    assert "patient_002_node_2.xml:4" in bad_xml and "malformed XML" in bad_xml
    assert "not found" in failed[str(missing)]
    assert "no tissue" in " ".join(report.warnings["patient_002_node_3"])
    with TileStore(out) as store:
        names = list(store.slide_table["name"])
        assert names == sorted([*small_cohort_specs(), "patient_002_node_3"])
        assert store.slide_table["count"][names.index("patient_002_node_3")] == 0
        assert len(store.failed) == 4
        n_good = len(store)
    reference = tmp_path / "good.h5"
    build_tile_store(cohort[0], reference, grid=GRID, annotations=cohort[1], workers=1, progress=False)
    with TileStore(reference) as ref:
        assert len(ref) == n_good
    # the no-mpp slide works with an override and a rerun only tiles what is missing
    report2 = build_tile_store([slides / "patient_002_node_1.tif"], out, grid=GRID, mpp=0.5, workers=1,
                               progress=False)
    assert report2.tiled == ["patient_002_node_1"] and report2.ok
    with TileStore(out) as store:
        assert "patient_002_node_1" in list(store.slide_table["name"])
        assert len(store) == n_good + 36  # 384 x 384 px of tissue in 64 px tiles


_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from camelyon.dataset import build_tile_store
    from camelyon.tiling import TileGrid
    done = []
    def stop(name):
        done.append(name)
        if len(done) == int(sys.argv[4]):
            os.kill(os.getpid(), signal.SIGKILL)  # no clean-up of any kind
    build_tile_store(sys.argv[1], sys.argv[2], annotations=sys.argv[3], workers=1, progress=False,
                     grid=TileGrid(tile_size=64, level=0, stride=64, tissue_um_per_px=2.0), on_slide_done=stop)
    """
)


def test_killed_build_resumes_to_the_same_store(cohort, tmp_path):
    slides, annotations = cohort
    reference = tmp_path / "reference.h5"
    build_tile_store(slides, reference, grid=GRID, annotations=annotations, workers=1, progress=False)
    out = tmp_path / "killed.h5"
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(slides), str(out), str(annotations), "2"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not out.exists()  # the store only appears when complete
    parts = sorted(p.name for p in (tmp_path / "killed.h5.parts").glob("*.h5"))
    assert len(parts) == 2
    report = build_tile_store(slides, out, grid=GRID, annotations=annotations, workers=1, progress=False)
    assert len(report.reused) == 2 and len(report.tiled) == 1
    assert_same_store(out, reference)


@pytest.mark.slow
def test_failure_injected_mid_build_then_rerun(cohort, tmp_path):
    slides, annotations = cohort
    reference = tmp_path / "reference.h5"
    build_tile_store(slides, reference, grid=GRID, annotations=annotations, workers=2, progress=False)
    out = tmp_path / "tiles.h5"
    build_tile_store([slides / "patient_000_node_0.tif"], out, grid=GRID, annotations=annotations,
                     workers=1, progress=False)
    before = store_contents(out)

    def boom(name):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_tile_store(slides, out, grid=GRID, annotations=annotations, workers=1, progress=False,
                         on_slide_done=boom)
    after = store_contents(out)  # the interrupted run left the old store readable and unchanged
    for k in before:
        if k != "attrs":
            np.testing.assert_array_equal(before[k], after[k])
    report = build_tile_store(slides, out, grid=GRID, annotations=annotations, workers=1, progress=False)
    assert sorted(report.reused) == ["patient_000_node_0", "patient_000_node_1"]
    assert_same_store(out, reference)  # built with 2 workers: same bytes as in one process


def test_negative_cap_is_seeded(cohort, tmp_path):
    slides, annotations = cohort
    kw = dict(grid=GRID, annotations=annotations, workers=1, progress=False, max_negatives_per_slide=5)
    build_tile_store(slides, tmp_path / "a.h5", seed=1, **kw)
    build_tile_store(slides, tmp_path / "b.h5", seed=1, **kw)
    build_tile_store(slides, tmp_path / "c.h5", seed=2, **kw)
    with TileStore(tmp_path / "a.h5") as a, TileStore(tmp_path / "b.h5") as b, TileStore(tmp_path / "c.h5") as c:
        assert list(a.slide_table["count"] - a.slide_table["positives"]) == [5, 5, 5]
        assert int((a.labels == 1).sum()) == 18  # positives are never dropped
        np.testing.assert_array_equal(a.coords, b.coords)
        assert not np.array_equal(a.coords, c.coords)
        for s in (a, c):  # tiles of a slide stay in grid order
            for row in range(3):
                sel = s.slide_index == row
                ys, xs = s.coords[sel, 1], s.coords[sel, 0]
                assert np.all(np.diff(ys * 10_000 + xs) > 0)


def test_parameter_mismatch_and_overwrite(cohort, tmp_path):
    slides, annotations = cohort
    out = tmp_path / "tiles.h5"
    build_tile_store([slides / "patient_000_node_1.tif"], out, grid=GRID, workers=1, progress=False)
    with pytest.raises(DatasetError, match="tile_size: 64 -> 32"):
        build_tile_store(slides, out, grid=TileGrid(tile_size=32), workers=1, progress=False)
    build_tile_store([slides / "patient_000_node_1.tif"], out, grid=TileGrid(tile_size=32, tissue_um_per_px=2.0),
                     workers=1, progress=False, overwrite=True)
    with TileStore(out) as s:
        assert s.tile_size == 32
    (tmp_path / "junk.h5").write_text("junk")
    with pytest.raises(CamelyonError, match="is a file of another kind, not a camelyon tile store"):
        build_tile_store(slides, tmp_path / "junk.h5", grid=GRID, workers=1, progress=False, overwrite=True)
    assert (tmp_path / "junk.h5").read_text() == "junk"  # --overwrite replaces a tile store only
    (tmp_path / "empty").mkdir()
    with pytest.raises(CamelyonError, match="no slide files"):
        build_tile_store(tmp_path / "empty", tmp_path / "x.h5", workers=1, progress=False)
    with pytest.raises(DatasetError, match="annotation folder not found"):
        build_tile_store(slides, tmp_path / "y.h5", annotations=tmp_path / "no_such_folder", workers=1,
                         progress=False)
    assert not (tmp_path / "y.h5").exists()


@pytest.fixture(scope="module")
def store_path(cohort, tmp_path_factory):
    out = tmp_path_factory.mktemp("store") / "tiles.h5"
    build_tile_store(cohort[0], out, grid=GRID, annotations=cohort[1], workers=1, progress=False)
    return out


def test_read_batch_order_repeats_and_buffer(store_path, monkeypatch):
    with TileStore(store_path) as store, h5py.File(store_path, "r") as f:
        idx = np.array([17, 3, 3, len(store) - 1, 0, 17, -1])
        tiles, labels = store.read_batch(idx)
        want = np.stack([f["tiles"][int(i)] for i in idx])
        np.testing.assert_array_equal(tiles, want)
        np.testing.assert_array_equal(labels, f["labels"][()][idx])
        buf = np.empty_like(tiles)
        assert store.read_batch(idx, out=buf)[0] is buf
        with pytest.raises(IndexError):
            store.read_batch([len(store)])
        with pytest.raises(ValueError, match="out must be"):
            store.read_batch([0, 1], out=buf)
        assert store.read_batch([])[0].shape == (0, 64, 64, 3)
        many = np.random.default_rng(0).integers(0, len(store), 150)  # repeats, several threads
        all_tiles = f["tiles"][()]
        import camelyon.dataset.reader as reader

        monkeypatch.setattr(reader, "THREADED_BATCH_MIN_BYTES", 0)  # small tiles: force the threaded path
        for threads in (1, 3):
            with TileStore(store_path, threads=threads) as s2:
                np.testing.assert_array_equal(s2.read_batch(many)[0], all_tiles[many])
                assert (s2._pool is not None) == (threads > 1)


def test_gzip_and_uncompressed_stores_read_the_same(cohort, tmp_path, store_path):
    slides, annotations = cohort
    with TileStore(store_path) as ref:
        want = ref.read_batch(np.arange(len(ref)))[0]
    for comp in ("gzip", "none"):
        out = tmp_path / f"{comp}.h5"
        build_tile_store(slides, out, grid=GRID, annotations=annotations, workers=1, progress=False,
                         compression=comp, compression_level=None)
        with TileStore(out) as s:
            np.testing.assert_array_equal(s.read_batch(np.arange(len(s)))[0], want)


def test_iter_batches_and_prefetch(store_path):
    with TileStore(store_path) as store:
        plain = list(store.iter_batches(batch_size=10, shuffle=True, rng=3, prefetch=0))
        ahead = list(store.iter_batches(batch_size=10, shuffle=True, rng=3, prefetch=3))
        assert len(plain) == int(np.ceil(len(store) / 10))
        for (a, la), (b, lb) in zip(plain, ahead, strict=True):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(la, lb)
        sampler = BalancedSampler(store.labels, batch_size=8, rng=0, batches_per_epoch=3)
        got = list(store.iter_batches(sampler, transform=lambda t, y: (t[:, ::2, ::2], y)))
        assert len(got) == 3 and got[0][0].shape == (8, 32, 32, 3) and all((y == 1).sum() == 4 for _, y in got)
        it = store.iter_batches(batch_size=5, prefetch=2)
        next(it)
        it.close()  # stopping early stops the background thread

    def broken():
        yield 1
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        list(prefetch(broken(), 2))


def test_tile_store_errors(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        TileStore(tmp_path / "none.h5")
    (tmp_path / "a.h5").write_bytes(b"nope")
    with pytest.raises(DatasetError, match="not a readable HDF5"):
        TileStore(tmp_path / "a.h5")
    with h5py.File(tmp_path / "b.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(DatasetError, match="not a camelyon tile store"):
        TileStore(tmp_path / "b.h5")


def test_balanced_sampler():
    labels = np.array([0] * 90 + [1] * 10)
    s1 = BalancedSampler(labels, batch_size=16, rng=5)
    s2 = BalancedSampler(labels, batch_size=16, rng=5)
    batches = list(s1)
    assert len(batches) == len(s1) == 100 // 16
    for b, b2 in zip(batches, s2, strict=True):
        np.testing.assert_array_equal(b, b2)
        assert (labels[b] == 1).sum() == 8 and b.dtype == np.int64
    sub = BalancedSampler(labels, 7, rng=0, indices=np.arange(80, 100), class_fractions={0: 0.75, 1: 0.25})
    b = sub.sample()
    assert len(b) == 7 and set(b) <= set(range(80, 100)) and (labels[b] == 1).sum() == 2
    with pytest.raises(ValueError, match="no tiles"):
        BalancedSampler(labels[:90], 8, class_fractions={0: 0.5, 1: 0.5})
    with pytest.raises(ValueError, match="sum to 1"):
        BalancedSampler(labels, 8, class_fractions={0: 0.5, 1: 0.6})
    with pytest.raises(ValueError, match="batch_size"):
        BalancedSampler(labels, 0)


def test_split_by_patient_keeps_patients_together():
    rng = np.random.default_rng(0)
    patients = np.array([f"patient_{i:03d}" for i in rng.integers(0, 40, 2000)])
    labels = (rng.random(2000) < 0.1).astype(np.int8) * np.isin(patients, patients[:300]).astype(np.int8)
    sp = split_by_patient(patients, seed=1, labels=labels)
    assert set(sp) == {"train", "val", "test"}
    allidx = np.sort(np.concatenate(list(sp.values())))
    np.testing.assert_array_equal(allidx, np.arange(2000))
    sets = {k: set(patients[v]) for k, v in sp.items()}
    assert not (sets["train"] & sets["val"]) and not (sets["train"] & sets["test"]) and not (sets["val"] & sets["test"])
    assert all((labels[v] == 1).any() for v in sp.values())  # tumour patients in every split
    assert len(sets["train"]) == pytest.approx(0.7 * len(set(patients)), abs=2)
    again = split_by_patient(patients, seed=1, labels=labels)
    assert all(np.array_equal(sp[k], again[k]) for k in sp)
    other = split_by_patient(patients, {"a": 1, "b": 1}, seed=2)
    assert set(other) == {"a", "b"}


def test_split_by_center(store_path):
    centers = np.array([0, 1, 2, 3, 4, 0, 3])
    sp = split_by_center(centers, test=[3, 4], val=[2])
    assert list(sp["test"]) == [3, 4, 6] and list(sp["val"]) == [2] and list(sp["train"]) == [0, 1, 5]
    with pytest.raises(ValueError, match="both"):
        split_by_center(centers, test=[3], val=[3])
    with pytest.raises(ValueError, match="no tiles"):
        split_by_center(centers, test=[7])
    with TileStore(store_path) as store:  # a store works directly
        sp = split_by_patient(store, seed=0)
        assert sum(len(v) for v in sp.values()) == len(store)
        assert len(split_by_center(store, test=[-1])["test"]) == len(store)


def test_names_and_slide_discovery(tmp_path):
    assert parse_slide_name("data/center_3/patient_012_node_3.tif") == ("patient_012", 3)
    assert parse_slide_name("tumor_001.tif") == ("tumor_001", -1)
    assert parse_slide_name("x/centre_1/normal_044.svs") == ("normal_044", 1)
    (tmp_path / "center_0").mkdir()
    for n in ("b.tif", "a.svs", ".hidden.tif", "notes.txt"):
        (tmp_path / "center_0" / n).write_text("x")
    found = find_slides([tmp_path, tmp_path / "center_0" / "a.svs"])
    assert [p.name for p in found] == ["a.svs", "b.tif"]
    assert os.path.basename(str(find_slides([tmp_path / "missing.tif"], keep_missing=True)[0])) == "missing.tif"


def test_store_records_failures_attr(cohort, tmp_path):
    out = tmp_path / "t.h5"
    write_corrupt_tiff(tmp_path / "broken.tif")
    report = build_tile_store([cohort[0] / "patient_000_node_1.tif", tmp_path / "broken.tif"], out, grid=GRID,
                              workers=1, progress=False)
    assert not report.ok
    with h5py.File(out, "r") as f:
        assert json.loads(f.attrs["failed"])[0][0].endswith("broken.tif")


@pytest.mark.parametrize("compression", ["lzf", "gzip", "none"])
def test_chunks_written_directly_decode_everywhere(tmp_path, compression):
    from camelyon.dataset.store import PartWriter, SlideRecord, assemble_store
    from camelyon.tiling import TILE_DTYPE

    rng = np.random.default_rng(0)
    tiles = np.stack([rng.integers(0, 256, (16, 16, 3)), np.full((16, 16, 3), 7),
                      np.tile(np.arange(16), (16, 3, 1)).transpose(0, 2, 1)]).astype(np.uint8)
    table = np.zeros(3, TILE_DTYPE)
    table["x"] = [0, 16, 32]
    table["label"] = [1, 0, 1]
    rec = SlideRecord("s", "s.tif", "p", 2, count=3, positives=2)
    part = tmp_path / "s.h5"
    with PartWriter(part, 3, 16, compression) as w:
        for i, t in enumerate(tiles):
            w.write_tile(i, t)
        w.commit(table, rec, "{}")
    with h5py.File(part, "r") as f:  # plain HDF5 reading decodes the raw chunks
        np.testing.assert_array_equal(f["tiles"][()], tiles)
        if compression != "none":
            assert f["tiles"].id.read_direct_chunk((0, 0, 0, 0))[0] == 1  # noise: stored as is
            assert f["tiles"].id.read_direct_chunk((1, 0, 0, 0))[0] == 0  # flat: compressed
    out = tmp_path / "store.h5"
    assemble_store(out, [(rec, part, 0)], tile_size=16, compression=compression, compression_level=None,
                   attrs={"params": "{}", "level": 0, "um_per_px": 1.0})
    for mapped in (True, False):  # the chunk map reads straight from the file; h5py is the fallback
        with TileStore(out) as s:
            if not mapped:
                s._chunks = None
            assert (s._chunks is not None) == mapped
            np.testing.assert_array_equal(s.read_batch([2, 0, 1])[0], tiles[[2, 0, 1]])
            assert list(s.centers) == [2, 2, 2] and list(s.labels) == [1, 0, 1]
    with pytest.raises(ValueError, match="expected 768"):
        with PartWriter(tmp_path / "t.h5", 1, 16, compression) as w:
            w.write_tile(0, tiles[0, :8])


@pytest.mark.parametrize("compression", ["lzf", "gzip"])
def test_chunks_that_hardly_compress_are_stored_as_is(compression):
    from camelyon.dataset.store import CHUNK_MIN_SAVING, chunk_encoder

    rng = np.random.default_rng(1)
    raw = rng.integers(0, 256, 3000, dtype=np.uint8)
    almost = raw.copy()
    almost[:150] = 0  # saves about 5 %: below the 10 % that pays for decompressing it
    half = raw.copy()
    half[:1500] = 0
    encode = chunk_encoder(compression, None)
    assert CHUNK_MIN_SAVING == pytest.approx(0.10)
    assert encode(almost.tobytes()) == (almost.tobytes(), 1)
    data, mask = encode(half.tobytes())
    assert mask == 0 and len(data) < 0.6 * half.nbytes
    keep_all = chunk_encoder(compression, None, min_saving=0.0)
    assert keep_all(almost.tobytes())[1] == 0
    with pytest.raises(DatasetError, match="min_saving"):
        chunk_encoder(compression, None, min_saving=1.0)


def test_chunk_map_reads_unwritten_tiles_and_reports_damaged_chunks(store_path, tmp_path):
    import shutil

    # a tile whose chunk was never written reads as zeros, as h5py reads it
    copy = tmp_path / "holes.h5"
    shutil.copy(store_path, copy)
    with h5py.File(copy, "r+") as f:
        n = f["tiles"].shape[0]
        f["tiles"].resize(n + 2, axis=0)
    for mapped in (True, False):
        with TileStore(copy) as s, h5py.File(store_path, "r") as f:
            np.testing.assert_array_equal(s._chunks[0] >= 0, np.arange(n + 2) < n)
            if not mapped:
                s._chunks = None  # the h5py path must cope too
            got = np.full((2, *s.tile_shape), 9, np.uint8)
            s._read_into(np.array([3, n]), got, np.array([0, 1]))
            np.testing.assert_array_equal(got[0], f["tiles"][3])
            assert not got[1].any()
            with pytest.raises(ValueError, match="C-contiguous"):
                s.read_batch([0, 1], out=np.empty((2, *s.tile_shape), np.uint8)[:, ::-1])

    # a damaged compressed chunk is named in a clear error, not a codec traceback
    bad = tmp_path / "bad.h5"
    shutil.copy(store_path, bad)
    with h5py.File(store_path, "r") as f:
        masks = [f["tiles"].id.get_chunk_info(k).filter_mask for k in range(f["tiles"].shape[0])]
        k = masks.index(0)  # a compressed chunk
        info = f["tiles"].id.get_chunk_info(k)
    with open(bad, "r+b") as fh:
        fh.seek(info.byte_offset)
        fh.write(b"\xff" * min(64, info.size))
    with TileStore(bad) as s:
        with pytest.raises(DatasetError, match=rf"bad.h5: tile {k} "):
            s.read_batch([k])


def test_leftovers_of_a_killed_writer_are_ignored(cohort, tmp_path):
    slides, annotations = cohort
    out = tmp_path / "tiles.h5"
    parts = tmp_path / "tiles.h5.parts"
    parts.mkdir()
    (parts / ".patient_000_node_0.h5.999.tmp").write_bytes(b"half a part file")
    (parts / "patient_000_node_1.h5").write_bytes(b"\x89HDF\r\n\x1a\n truncated")  # damaged part: redone
    (tmp_path / ".tiles.h5.999.tmp").write_bytes(b"half a store")
    report = build_tile_store(slides, out, grid=GRID, annotations=annotations, workers=1, progress=False)
    assert report.ok and len(report.tiled) == 3 and not report.reused
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiles.h5"]
    with TileStore(out) as s:
        assert len(s.slide_records) == 3
