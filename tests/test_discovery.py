"""One slide-format table and one discovery function, used by pipeline, tiles, heatmap and stage."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

import camelyon.discovery as discovery
from camelyon.discovery import SLIDE_FORMATS, SLIDE_SUFFIXES, DiscoveryError, find_slides, slide_stem
from camelyon.errors import CamelyonError
from camelyon.staging import patient_of

ROOT = Path(__file__).resolve().parents[1]


def _cohort_of_every_format(root: Path) -> list[str]:
    """One empty file per slide format (discovery never opens them), plus files it must pass over."""
    names = []
    for i, suffix in enumerate(SLIDE_SUFFIXES):
        centre = root / f"center_{i % 2}"
        centre.mkdir(parents=True, exist_ok=True)
        name = f"patient_{i:03d}_node_0{suffix.upper() if i == 3 else suffix}"
        (centre / name).write_bytes(b"")
        names.append(name)
    for junk in (".hidden.tif", ".patient_000_node_0.tif.123.abcd1234.tmp", "notes.txt", "stage_labels.csv",
                 "patient_000_node_0.tif.json"):
        (root / "center_0" / junk).write_bytes(b"")
    return sorted(names)


def test_scn_bif_and_every_format_in_the_table_are_found(tmp_path):
    names = _cohort_of_every_format(tmp_path)
    assert {".scn", ".bif", ".svs", ".ndpi", ".mrxs", ".tif"} <= set(SLIDE_FORMATS)
    assert [p.name for p in find_slides(tmp_path)] == names


def test_pipeline_tiles_heatmap_and_stage_see_the_same_slides(tmp_path, monkeypatch):
    """Every command reaches slides through camelyon.discovery.find_slides (the same function object)."""
    import camelyon.commands.heatmap as heatmap_cmd
    import camelyon.dataset.build as build
    import camelyon.pipeline as pipeline

    names = _cohort_of_every_format(tmp_path)
    for module in (pipeline, build, heatmap_cmd):
        assert module.find_slides is discovery.find_slides, module.__name__
    seen = {}

    def spy(inputs, **kwargs):
        result = discovery.find_slides(inputs, **kwargs)
        seen.setdefault("calls", []).append([p.name for p in result])
        raise _Stop

    class _Stop(Exception):
        pass

    monkeypatch.setattr(build, "find_slides", spy)
    with pytest.raises(_Stop):
        build.build_tile_store(tmp_path, tmp_path / "tiles.h5", workers=1, progress=False)
    assert seen["calls"] == [names]
    # the stage step names patients by the same table: every suffix is stripped
    assert {patient_of(n) for n in names} == {f"patient_{i:03d}" for i in range(len(SLIDE_SUFFIXES))}


def test_errors_name_the_path(tmp_path):
    with pytest.raises(DiscoveryError, match="not found: .*nope"):
        find_slides(tmp_path / "nope")
    assert issubclass(DiscoveryError, CamelyonError)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DiscoveryError, match=r"empty: no slide files \(\.tif, .*\.scn.*\.bif"):
        find_slides(tmp_path / "empty")
    assert find_slides([tmp_path / "missing.tif"], keep_missing=True) == [tmp_path / "missing.tif"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.tif").write_bytes(b"")
    (tmp_path / "b" / "x.svs").write_bytes(b"")
    with pytest.raises(DiscoveryError, match="two slides share the name 'x'"):
        find_slides(tmp_path)
    assert [p.name for p in find_slides([tmp_path / "a", tmp_path / "a" / "x.tif"])] == ["x.tif"]


def test_slide_stem():
    assert slide_stem("center_1/patient_004_node_3.tif") == "patient_004_node_3"
    assert slide_stem("patient_004.zip") == "patient_004"
    assert slide_stem("B.SCN") == "B"
    assert slide_stem("tumor_001") == "tumor_001"


def test_no_other_list_of_slide_suffixes():
    """The suffix table is written once: no module lists slide suffixes or scans folders for slides itself."""
    pattern = re.compile(r"""["']\.svs["']|["']\.ndpi["']|["']\.mrxs["']""")
    offenders = [
        str(p.relative_to(ROOT)) for p in sorted((ROOT / "camelyon").rglob("*.py"))
        if p.name != "discovery.py" and "synthetic" not in p.parts and pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert not offenders


def test_docstring_examples():
    assert doctest.testmod(discovery).failed == 0
