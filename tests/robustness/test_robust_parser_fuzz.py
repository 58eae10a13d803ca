"""Fuzz the parsers of user files: a parsed result or a CamelyonError naming the file, nothing else.

Parsers: ASAP XML (``read_asap`` and ``read_annotations``), QuPath GeoJSON (``read_annotations``),
stage CSVs (``read_stage_csv``) and feature CSVs (``read_features_csv``). Inputs are valid files
mutated byte by byte (flips, cuts, insertions of hostile snippets) and structured hostile
documents drawn by hypothesis; each parse must finish within TIME_LIMIT seconds.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_annotations import ASAP

from camelyon.annotations import read_annotations, read_asap
from camelyon.errors import CamelyonError
from camelyon.features import read_features_csv
from camelyon.staging import read_stage_csv

#: Seconds one parse may take (the files are at most a few kB; a parse takes milliseconds).
TIME_LIMIT = 5.0
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID_XML = ASAP.encode()  # every kind of ASAP annotation, comma decimals, shuffled Order attributes

VALID_GEOJSON = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [100, 0], [100, 80], [0, 0]]]},
     "properties": {"classification": {"name": "Tumor", "color": [200, 0, 0]}}},
    {"type": "Feature", "geometry": {"type": "MultiPolygon",
                                     "coordinates": [[[[10, 10], [20, 10], [20, 20], [10, 10]]]]},
     "properties": {"classification": {"name": "Other"}}},
]}).encode()

VALID_STAGES = b"patient,stage\npatient_000.zip,pN1\npatient_000_node_0.tif,macro\npatient_000_node_1.tif,negative\n"
VALID_FEATURES = b"slide,label,area,max_prob\npatient_000_node_0.tif,macro,12.5,0.9\npatient_000_node_1.tif,negative,0,0.1\n"

HOSTILE_SNIPPETS = [
    b"<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>",
    b"<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>", b"&e;", b"X=\"nan\"", b"X=\"1e400\"",
    b"Y=\"-inf\"", b"\x00", b"\xff\xfe", b"\"", b"<", b">", b"]]>", b"<Coordinate/>", b",", b"\n", b"\r",
    b"{", b"}", b"[", b"]", b"null", b"1e999", b"NaN", b"\"coordinates\": 5", b"=cmd()", b"'", b"\xef\xbb\xbf",
    b"pN9", b".zip", b",,,,", b"9" * 400,
]


@st.composite
def mutated(draw, valid: bytes):
    """A valid file with a few byte flips, cuts and hostile insertions."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete", "duplicate"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.sampled_from(HOSTILE_SNIPPETS))
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 20))]
        else:
            data[i:i] = data[i:i + draw(st.integers(1, 60))] * draw(st.integers(2, 5))
    return bytes(data)


def _json_values():
    scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.sampled_from(["type", "features", "geometry", "coordinates",
                                                           "properties", "classification", "name", "color",
                                                           "objectType", "isLocked", "measurements"]),
                                          inner, max_size=5), max_leaves=30)


@st.composite
def geojson_like(draw):
    """GeoJSON-shaped documents with hostile values in every slot."""
    coords = draw(st.lists(st.lists(st.one_of(st.floats(), st.integers(-2**64, 2**64), st.text(max_size=3),
                                              st.none()), min_size=0, max_size=3), max_size=6))
    geometry = {"type": draw(st.sampled_from(["Polygon", "MultiPolygon", "Point", "LineString", "polygon", 7])),
                "coordinates": draw(st.sampled_from([[coords], coords, [[coords]], "x", None]))}
    feature = {"type": draw(st.sampled_from(["Feature", "feature", None])), "geometry": geometry,
               "properties": draw(_json_values())}
    doc = draw(st.sampled_from([{"type": "FeatureCollection", "features": [feature]}, [feature], feature,
                                {"type": "FeatureCollection", "features": draw(_json_values())}]))
    return json.dumps(doc, allow_nan=True).encode()


@st.composite
def csv_like(draw):
    cell = st.one_of(st.sampled_from(["patient_000.zip", "patient_001_node_2.tif", "pN0", "pN1mi", "pN0(i+)",
                                      "macro", "itc", "negative", "slide", "label", "patient", "stage", "1.5",
                                      "nan", "inf", "-1e308", "=1+1", "", " "]), st.text(max_size=6))
    rows = draw(st.lists(st.lists(cell, min_size=0, max_size=5), max_size=8))
    sep = draw(st.sampled_from([",", ";", "\t"]))
    text = "\n".join(sep.join(r) for r in rows)
    return text.encode(draw(st.sampled_from(["utf-8", "utf-16", "latin-1"])), errors="replace")


def _check(parser, suffix: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"fuzzed{suffix}"
        path.write_bytes(data)
        t0 = time.perf_counter()
        try:
            parser(path)
        except CamelyonError as exc:
            assert str(path) in str(exc), f"the error does not name the file: {exc}"
        seconds = time.perf_counter() - t0
        assert seconds < TIME_LIMIT, f"parse took {seconds:.1f} s"


#: What each fuzzed parser reads: (parser, file suffix, inputs).
PARSERS = {
    "asap_xml": (read_asap, ".xml", mutated(VALID_XML)),
    "annotations_by_content_xml": (read_annotations, ".xml", mutated(VALID_XML)),
    "geojson_mutations_and_hostile_documents": (read_annotations, ".geojson",
                                                mutated(VALID_GEOJSON) | geojson_like()),
    "stage_csv": (read_stage_csv, ".csv", mutated(VALID_STAGES) | csv_like()),
    "feature_csv": (read_features_csv, ".csv", mutated(VALID_FEATURES) | csv_like()),
}


@pytest.mark.parametrize("name", PARSERS)
@FUZZ
@given(data=st.data())
def test_a_fuzzed_file_parses_or_raises_an_error_naming_it(name, data):
    parser, suffix, inputs = PARSERS[name]
    _check(parser, suffix, data.draw(inputs, label="file bytes"))
