"""``camelyon tiles`` against hostile slide names, outputs that are inputs, changed inputs, locks.

Hostile cases: a slide name that is not UTF-8 (and the rerun without it); ``--out`` equal to an
input slide with ``--overwrite``; ``--out`` an XML file with ``--overwrite``; an edited, a deleted
and an added annotation file on rerun; a touched slide; a part file of a slide not requested on
the rerun; a store being written by another live process; a lock left by a dead one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from camelyon.cli import main
from camelyon.dataset import TileStore


def _tiles(slides, out, *extra, annotations=None):
    argv = ["tiles", str(slides), "--out", str(out), "--workers", "1", "--quiet", "--tile-size", "128"]
    if annotations is not None:
        argv += ["--annotations", str(annotations)]
    return main(argv + list(extra))


def _labels_by_slide(store_path) -> dict[str, int]:
    with TileStore(store_path) as store:
        return {name: int(store.labels[store.slides == name].sum()) for name in np.unique(store.slides)}


def test_a_slide_name_that_is_not_utf8_fails_alone_and_the_rerun_without_it_works(cohort, tmp_path, capsys):
    slides, ann = cohort
    bad = os.path.join(os.fsencode(slides), b"patient_015_node_0_\xff.tif")
    shutil.copy(slides / "patient_000_node_0.tif", bad)
    out = tmp_path / "x.h5"
    assert _tiles(slides, out, annotations=ann) == 1
    text = capsys.readouterr().out
    assert "patient_015_node_0_\\xff.tif: the file name is not valid UTF-8" in text
    assert sorted(_labels_by_slide(out)) == ["patient_000_node_0", "patient_000_node_1", "patient_001_node_0"]
    os.unlink(bad)
    assert _tiles(slides, out, annotations=ann) == 0


def test_out_equal_to_an_input_slide_is_refused_even_with_overwrite(cohort, capsys):
    slides, _ = cohort
    slide = slides / "patient_000_node_0.tif"
    before = slide.read_bytes()
    for extra in ([], ["--overwrite"]):
        assert main(["tiles", str(slide), "--out", str(slide), "--quiet", *extra]) == 2
        err = capsys.readouterr().err
        assert "is also an input of this command" in err and len(err.strip().splitlines()) == 1
        assert slide.read_bytes() == before


def test_overwrite_only_replaces_a_tile_store(cohort, tmp_path, capsys):
    slides, ann = cohort
    xml = ann / "patient_000_node_0.xml"
    before = xml.read_bytes()
    assert _tiles(slides, xml, "--overwrite") == 2
    assert "is an XML file, not a camelyon tile store; --overwrite only replaces" in capsys.readouterr().err
    assert xml.read_bytes() == before
    other = tmp_path / "other.h5"  # an HDF5 file that is not a tile store
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    assert _tiles(slides, other, "--overwrite") == 2
    with h5py.File(other, "r") as f:
        assert list(f) == ["x"]


def test_changed_inputs_are_recomputed_on_rerun_and_reported(cohort, tmp_path, capsys):
    slides, ann = cohort
    out = tmp_path / "x.h5"
    assert _tiles(slides, out, annotations=ann) == 0
    first = _labels_by_slide(out)
    assert first["patient_000_node_0"] > 0
    capsys.readouterr()

    (ann / "patient_000_node_0.xml").unlink()  # deleted annotation: its tiles become normal
    assert _tiles(slides, out, annotations=ann) == 0
    text = capsys.readouterr().out
    assert "patient_000_node_0: annotation removed" in text and "(1 tiled now, 2 from an earlier run)" in text
    assert _labels_by_slide(out)["patient_000_node_0"] == 0

    shutil.copy(ann / "patient_001_node_0.xml", ann / "patient_000_node_0.xml")  # added (another lesion)
    xml = ann / "patient_001_node_0.xml"
    st = xml.stat()
    xml.write_text(xml.read_text().replace('Name="', 'Name="edited '))  # edited, same mtime kept
    os.utime(xml, ns=(st.st_atime_ns, st.st_mtime_ns))
    slide = slides / "patient_000_node_1.tif"
    os.utime(slide, ns=(slide.stat().st_atime_ns, slide.stat().st_mtime_ns + 10**9))  # touched slide
    assert _tiles(slides, out, annotations=ann) == 0
    text = capsys.readouterr().out
    assert "recomputed 3 slides whose input changed" in text
    assert "patient_000_node_0: annotation added" in text
    assert "patient_001_node_0: annotation changed" in text
    assert "patient_000_node_1: slide file changed" in text
    assert _tiles(slides, out, annotations=ann) == 0
    assert "(0 tiled now, 3 from an earlier run)" in capsys.readouterr().out


def test_part_files_of_slides_not_requested_are_ignored(cohort, tmp_path):
    slides, ann = cohort
    out = tmp_path / "x.h5"
    from camelyon.dataset import build_tile_store
    from camelyon.tiling import TileGrid

    grid = TileGrid(tile_size=128)
    build_tile_store(slides, out, grid=grid, annotations=ann, workers=1, progress=False, keep_parts=True)
    out.unlink()  # as if the run had been interrupted before assembling the store
    one = slides / "patient_001_node_0.tif"
    report = build_tile_store([one], out, grid=grid, annotations=ann, workers=1, progress=False)
    assert report.reused == ["patient_001_node_0"]
    assert sorted(_labels_by_slide(out)) == ["patient_001_node_0"]


def test_a_store_being_written_by_a_live_process_is_refused_and_a_stale_lock_is_taken_over(cohort, tmp_path, capsys):
    slides, ann = cohort
    out = tmp_path / "x.h5"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        import socket

        lock = tmp_path / "x.h5.lock"
        lock.write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname(), "command": "tiles",
                                    "started": "earlier"}))
        assert _tiles(slides, out, annotations=ann) == 2
        err = capsys.readouterr().err
        assert f"is being written by process {sleeper.pid} (tiles" in err and str(lock) in err
        assert not out.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert _tiles(slides, out, annotations=ann) == 0  # its process is gone: the lock is stale
    assert out.exists() and not (tmp_path / "x.h5.lock").exists()


@pytest.mark.parametrize("free_kb", [100, 1500])  # full while writing part files / while assembling the store
def test_full_disk_while_tiling_is_one_line_and_leaves_no_temporary_file(cohort, small_disk, capsys, free_kb):
    slides, ann = cohort
    big = small_disk / "filler"
    out = small_disk / "x.h5"
    with open(big, "wb") as f:
        f.write(b"\0" * (2 * 1024 * 1024 - free_kb * 1024))
    status = _tiles(slides, out, "--compression", "none", annotations=ann)
    captured = capsys.readouterr()
    err = captured.err
    assert status == 2, captured
    assert "no space left on the disk" in err and len(err.strip().splitlines()) == 1
    left = [p.name for p in small_disk.rglob("*") if p.name.endswith(".tmp")]
    assert left == [] and not out.exists()


def test_symlink_loops_and_broken_links_in_slide_folders_are_reported(cohort, tmp_path, capsys):
    slides, ann = cohort
    (slides / "deeper").mkdir()
    (slides / "deeper" / "back_up").symlink_to(slides, target_is_directory=True)  # a loop
    (slides / "deeper" / "gone.tif").symlink_to(tmp_path / "no_such_slide.tif")  # broken link
    out = tmp_path / "x.h5"
    assert _tiles(slides, out, annotations=ann) == 0
    text = capsys.readouterr().out
    assert f"warning: {slides / 'deeper' / 'back_up'}: leads to {slides.resolve()}, already searched" in text
    assert f"warning: {slides / 'deeper' / 'gone.tif'}: broken symbolic link" in text
    assert "from 3 slides" in text
