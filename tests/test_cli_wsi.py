"""``camelyon info`` and ``camelyon tiles`` on small generated slides."""

import shutil

import pytest
from wsi_factory import SlideSpec, make_cohort, small_cohort_specs, write_corrupt_tiff, write_slide

from camelyon.cli import main
from camelyon.dataset import TileStore


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    return make_cohort(root, small_cohort_specs(), mpp=0.5, tile=128, min_size=128)


def test_info_prints_levels_and_writes_png(cohort, tmp_path, capsys):
    slides, annotations = cohort
    png = tmp_path / "pics" / "overview.png"
    status = main(["info", str(slides / "patient_000_node_0.tif"), "--annotations", str(annotations),
                   "--png", str(png), "--max-size", "256"])
    out = capsys.readouterr().out
    assert status == 0
    assert "generic-tiff" in out and "1024 x 768 px" in out and "0.5 x 0.5" in out
    assert "1 tumour area," in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in png.parent.iterdir()] == ["overview.png"]


def test_info_errors_are_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "none.tif")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "slide file not found" in err
    bad = write_corrupt_tiff(tmp_path / "bad.tif")
    assert main(["info", str(bad)]) == 2
    assert "OpenSlide" in capsys.readouterr().err


def test_info_without_mpp(tmp_path, capsys):
    p = write_slide(tmp_path / "n.tif", SlideSpec(width=1024, height=1024, tissue=[(128, 128, 896, 896)]),
                    mpp=None, tile=128, min_size=128)
    assert main(["info", str(p)]) == 0
    assert "unknown (give it with --mpp)" in capsys.readouterr().out
    assert main(["info", str(p), "--mpp", "0.25", "--png", str(tmp_path / "n.png")]) == 0
    assert "0.25 x 0.25" in capsys.readouterr().out


def test_tiles_command_builds_store_and_reports_failures(cohort, tmp_path, capsys):
    slides, annotations = cohort
    work = tmp_path / "slides"
    shutil.copytree(slides, work)
    out = tmp_path / "tiles.h5"
    args = ["tiles", str(work), "--annotations", str(annotations), "--out", str(out), "--level", "1",
            "--tile-size", "32", "--stride", "32", "--workers", "1", "--quiet"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "wrote" in text and "3 slides" in text
    with TileStore(out) as s:
        assert s.tile_size == 32 and s.level == 1 and int((s.labels == 1).sum()) == 18
    write_corrupt_tiff(work / "patient_005_node_0.tif")
    assert main(args) == 1  # the new slide fails, the store keeps the others
    text = capsys.readouterr().out
    assert "1 slide failed and is not in the store" in text and "patient_005_node_0.tif" in text and "3 from an earlier run" in text
    with TileStore(out) as s:
        assert len(s.slide_records) == 3


def test_tiles_command_options(cohort, tmp_path, capsys):
    slides, annotations = cohort
    out = tmp_path / "pcam.h5"
    status = main(["tiles", str(slides / "patient_000_node_0.tif"), "--annotations", str(annotations),
                   "--out", str(out), "--mpp-target", "1.0", "--tile-size", "48", "--stride", "24",
                   "--center-size", "16", "--tumour-threshold", "0", "--max-negatives-per-slide", "10",
                   "--seed", "3", "--compression", "gzip", "--workers", "1", "--quiet"])
    assert status == 0
    with TileStore(out) as s:
        assert s.level == -1 and s.um_per_px == 1.0 and s.params["grid"]["center_size"] == 16
        assert int((s.labels == 0).sum()) == 10
    assert main(["tiles", str(slides), "--out", str(out), "--level", "0", "--workers", "1", "--quiet"]) == 2
    assert "use another --out or --overwrite" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["tiles", str(slides), "--out", str(out), "--level", "0", "--mpp-target", "1.0"])


def test_tiles_finds_lesion_annotations_folder(cohort, tmp_path, capsys):
    slides, annotations = cohort
    data = tmp_path / "camelyon17"
    shutil.copytree(slides, data / "center_2")
    shutil.copytree(annotations, data / "lesion_annotations")
    out = tmp_path / "t.h5"
    assert main(["tiles", str(data), "--out", str(out), "--level", "1", "--tile-size", "32", "--workers", "1",
                 "--quiet"]) == 0
    assert "lesion_annotations" in capsys.readouterr().out
    with TileStore(out) as s:
        assert int((s.labels == 1).sum()) == 18 and set(s.centers.tolist()) == {2}
    assert main(["info", str(data / "center_2" / "patient_000_node_1.tif"), "--annotations",
                 str(data / "lesion_annotations")]) == 0
    assert "annotations none" in capsys.readouterr().out


def test_tiles_warns_when_the_tile_is_larger_than_a_slide(cohort, tmp_path, capsys):
    slides, annotations = cohort
    work = tmp_path / "slides"
    shutil.copytree(slides, work)
    write_slide(work / "patient_007_node_0.tif", SlideSpec(width=256, height=192, tissue=[(32, 32, 224, 160)]),
                mpp=0.5, tile=128, min_size=128)  # level 1: 128 x 96 px
    out = tmp_path / "tiles.h5"
    assert main(["tiles", str(work), "--annotations", str(annotations), "--out", str(out), "--level", "1",
                 "--tile-size", "112", "--workers", "1", "--quiet"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("warning:")]
    assert len(lines) == 1
    assert "patient_007_node_0" in lines[0] and "tile size 112 px" in lines[0]
    assert "level 1 (128 x 96 px)" in lines[0]
    with TileStore(out) as s:
        counts = dict(zip(s.slide_table["name"], s.slide_table["count"], strict=True))
    assert counts.pop("patient_007_node_0") == 0
    assert sorted(counts) == sorted(small_cohort_specs()) and all(c > 0 for c in counts.values())


@pytest.mark.parametrize("option,value,words", [
    ("--workers", "0", "workers must be a whole number >= 1"),
    ("--workers", "-2", "workers must be a whole number >= 1"),
    ("--seed", "-1", "seed must be a whole number >= 0"),
    ("--mpp", "0", "mpp must be"),
    ("--tile-size", "0", "tile size must be between 1 and 4096 px"),
])
def test_tiles_bad_parameters_write_nothing(cohort, tmp_path, capsys, option, value, words):
    slides, _ = cohort
    folder = tmp_path / "out"
    folder.mkdir()
    status = main(["tiles", str(slides / "patient_000_node_1.tif"), "--out", str(folder / "t.h5"), option, value,
                   "--quiet"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and words in err and f"got {value}" in err
    assert list(folder.iterdir()) == []


def test_tiles_bad_workers_keep_an_existing_store(cohort, tmp_path, capsys):
    slides, _ = cohort
    out = tmp_path / "t.h5"
    args = ["tiles", str(slides / "patient_000_node_1.tif"), "--out", str(out), "--level", "1", "--tile-size", "64",
            "--quiet"]
    assert main([*args, "--workers", "1"]) == 0
    before = out.read_bytes()
    assert main([*args, "--workers", "0", "--overwrite"]) == 2
    assert "workers" in capsys.readouterr().err
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["t.h5"]


def test_tiles_missing_paths_are_an_error_before_any_work(cohort, tmp_path, capsys):
    slides, annotations = cohort
    folder = tmp_path / "out"
    folder.mkdir()
    nope = tmp_path / "nope.tif"
    assert main(["tiles", str(nope), "--out", str(folder / "t.h5"), "--workers", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{nope}: slide file or folder not found" in err
    assert list(folder.iterdir()) == []
    # some paths exist, others do not: nothing is tiled, and the error names only the missing ones
    gone = tmp_path / "center_9"
    assert main(["tiles", str(slides / "patient_000_node_0.tif"), str(nope), str(gone), "--annotations",
                 str(annotations), "--out", str(folder / "t.h5"), "--workers", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{nope}, {gone}: slide files or folders not found" in err
    assert "patient_000_node_0" not in err
    assert list(folder.iterdir()) == []


def _tile(inputs, out, *extra):
    return main(["tiles", *map(str, inputs), "--out", str(out), "--level", "1", "--tile-size", "32",
                 "--workers", "1", "--quiet", *extra])


def test_tiles_finds_camelyon17_annotations_next_to_the_centre_folder(cohort, tmp_path, capsys):
    slides, annotations = cohort
    training = tmp_path / "training"
    shutil.copytree(slides, training / "center_0")
    shutil.copytree(annotations, training / "lesion_annotations")
    assert _tile([training / "center_0"], tmp_path / "t.h5") == 0
    out = capsys.readouterr().out
    assert f"annotations: {training / 'lesion_annotations'}\n" in out
    assert "no annotation XML" not in out
    with TileStore(tmp_path / "t.h5") as s:
        assert int((s.labels == 1).sum()) == 18
        assert sorted(r.name for r in s.slide_records if r.annotated) == ["patient_000_node_0", "patient_001_node_0"]
    # a slide file given alone: the same folder, found from the file's folder
    assert _tile([training / "center_0" / "patient_001_node_0.tif"], tmp_path / "one.h5") == 0
    out = capsys.readouterr().out
    assert f"annotations: {training / 'lesion_annotations'}\n" in out and "(6 tumour) from 1 slide " in out


def test_tiles_finds_camelyon16_annotations_once_for_tumor_and_normal(cohort, tmp_path, capsys):
    slides, annotations = cohort
    training = tmp_path / "training"
    (training / "tumor").mkdir(parents=True)
    (training / "normal").mkdir()
    (training / "lesion_annotations").mkdir()
    shutil.copy(slides / "patient_000_node_0.tif", training / "tumor" / "tumor_001.tif")
    shutil.copy(annotations / "patient_000_node_0.xml", training / "lesion_annotations" / "tumor_001.xml")
    shutil.copy(slides / "patient_000_node_1.tif", training / "normal" / "normal_001.tif")
    assert _tile([training / "tumor", training / "normal"], tmp_path / "t.h5") == 0
    out = capsys.readouterr().out
    assert out.count("annotations: ") == 1 and f"annotations: {training / 'lesion_annotations'}\n" in out
    with TileStore(tmp_path / "t.h5") as s:
        assert int((s.labels == 1).sum()) == 12  # the lesion of patient_000_node_0 (the other 6 are patient_001's)
    # normal slides alone legitimately have no XML: no warning
    assert _tile([training / "normal"], tmp_path / "n.h5") == 0
    out = capsys.readouterr().out
    assert "no annotation XML" not in out and "from 1 slide " in out


def test_tiles_warns_once_when_no_slide_has_an_annotation(cohort, tmp_path, capsys):
    slides, annotations = cohort
    assert _tile([slides], tmp_path / "t.h5") == 0
    out = capsys.readouterr().out
    assert "annotations: none" in out
    warned = [ln for ln in out.splitlines() if "no annotation XML" in ln]
    assert warned == ["warning: no annotation XML found for 3 of 3 slides; all their tiles are labelled normal; "
                      "give --annotations DIR"]
    # an annotation folder that matches none of the slides is just as wrong
    other = tmp_path / "other_xml"
    other.mkdir()
    shutil.copy(annotations / "patient_000_node_0.xml", other / "patient_999_node_0.xml")
    assert _tile([slides], tmp_path / "u.h5", "--annotations", str(other)) == 0
    assert capsys.readouterr().out.count("no annotation XML found for 3 of 3 slides") == 1
    # some slides annotated (CAMELYON17: only some are): no warning
    assert _tile([slides], tmp_path / "v.h5", "--annotations", str(annotations)) == 0
    assert "no annotation XML" not in capsys.readouterr().out
