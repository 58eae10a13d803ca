"""Settings checked before any work: sizes, um/px, seeds, scheduler addresses, free disk space.

Each case ends in exit status 2 with one line naming the argument, before anything is written.
"""

from __future__ import annotations

import time

import pytest
from wsi_factory import SlideSpec, write_slide

from camelyon.cli import main


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(("option", "value", "words"), [
    ("--tile-size", "100000", ["tile size must be between 1 and 4096 px"]),
    ("--tile-size", "0", ["tile size must be between 1 and 4096 px"]),
    ("--stride", "10000000", ["stride must be between 1 and 4096"]),
    ("--mpp-target", "1e-6", ["target um/px must be between 0.01 and 100"]),
    ("--mpp-target", "inf", ["target um/px must be between 0.01 and 100"]),
    ("--mpp-target", "nan", ["target um/px must be between 0.01 and 100"]),
    ("--mpp", "1e13", ["mpp must be a level-0 resolution between 0.01 and 100"]),
    ("--min-tissue", "nan", ["min_tissue must be in [0, 1]"]),
    ("--scheduler", "not a url", ["--scheduler 'not a url': expected a Dask scheduler address"]),
])
def test_tiles_settings_are_checked_before_any_work(cohort, tmp_path, capsys, option, value, words):
    slides, _ = cohort
    out = tmp_path / "x.h5"
    assert main(["tiles", str(slides), "--out", str(out), "--quiet", option, value]) == 2
    _one_line_error(capsys, *words)
    assert not out.exists() and not (tmp_path / "x.h5.parts").exists() or option == "--scheduler"


def test_a_slide_claiming_an_absurd_resolution_fails_alone(cohort, tmp_path, capsys):
    slides, _ = cohort
    write_slide(slides / "odd_slide.tif", SlideSpec(width=512, height=512, tissue=[(64, 64, 448, 448)]), mpp=1e-5)
    out = tmp_path / "x.h5"
    assert main(["tiles", str(slides), "--out", str(out), "--quiet", "--workers", "1", "--tile-size", "128"]) == 1
    text = capsys.readouterr().out
    assert "odd_slide.tif: the slide claims 1e-05 x 1e-05 um/px, outside 0.01-100 um/px" in text
    assert "from 3 slides" in text


@pytest.mark.parametrize(("argv", "words"), [
    (["--size", "1000000"], ["--size 1000000 x 1000000 px: each side must be between 1 and 250,000 px"]),
    (["--size", "-5"], ["each side must be between 1 and 250,000 px"]),
    (["--seed", "-1"], ["seed must be a whole number >= 0, got -1"]),
])
def test_synth_refuses_unbounded_sizes_and_bad_seeds_at_once(tmp_path, capsys, argv, words):
    out = tmp_path / "cohort"
    t0 = time.perf_counter()
    assert main(["synth", str(out), "--patients", "1", "--quiet", *argv]) == 2
    assert time.perf_counter() - t0 < 10
    _one_line_error(capsys, *words)
    assert not out.exists() or not any(out.rglob("*.tif*")) and not any(out.rglob(".*raw*"))


def test_synth_checks_free_disk_space_before_painting(small_disk, capsys):
    out = small_disk / "cohort"
    assert main(["synth", str(out), "--patients", "1", "--size", "20000", "--quiet", "--workers", "1"]) == 2
    _one_line_error(capsys, "need about", "GB are free; use a smaller --size")
    assert not any(p.is_file() and p.suffix != ".json" for p in out.rglob("*"))


def test_info_png_of_a_float_tiff_is_one_line(tmp_path, capsys):
    import numpy as np
    import tifffile

    path = tmp_path / "float.tif"
    tifffile.imwrite(path, np.random.default_rng(0).random((256, 256, 3)).astype(np.float32), tile=(128, 128),
                     photometric="rgb")
    assert main(["info", str(path), "--png", str(tmp_path / "f.png")]) == 2
    _one_line_error(capsys, f"{path}: OpenSlide cannot decode this slide's pixels", "expected 8-bit RGB(A)")
    assert not (tmp_path / "f.png").exists()


def test_info_png_of_a_huge_slide_without_pyramid_is_refused_before_decoding(tmp_path, capsys):
    """A 100,000 x 100,000 px single-level TIFF (30 MB of compressed zeros): no 37 GiB allocation."""
    import zlib

    import numpy as np
    import tifffile

    path, tile, side = tmp_path / "huge.tif", 512, 100_000
    encoded = zlib.compress(np.zeros((tile, tile, 3), np.uint8).tobytes(), 6)
    n = (-(-side // tile)) ** 2
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        tif.write((encoded for _ in range(n)), shape=(side, side, 3), dtype=np.uint8, tile=(tile, tile),
                  photometric="rgb", compression="zlib", resolution=(20000, 20000), resolutionunit="CENTIMETER")
    t0 = time.perf_counter()
    assert main(["info", str(path), "--png", str(tmp_path / "h.png")]) == 2
    assert time.perf_counter() - t0 < 30
    _one_line_error(capsys, f"{path}: the smallest stored level usable for a 2048 px thumbnail is 100000 x 100000 px",
                    "convert it to a pyramidal tiled TIFF")
