"""ASAP XML reading and writing, clipping, rasterization and lesion diameters."""

import os
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.path import Path as MplPath

from camelyon.annotations import (
    Annotation,
    AnnotationSet,
    clip_polygon,
    largest_diameter_mm,
    rasterize,
    read_asap,
    write_asap,
)
from camelyon.errors import AnnotationError

ASAP = """<?xml version="1.0"?>
<ASAP_Annotations>
  <Annotations>
    <Annotation Name="Annotation 0" Type="Polygon" PartOfGroup="_0" Color="#F4FA58">
      <Coordinates>
        <Coordinate Order="2" X="30,5" Y="40" />
        <Coordinate Order="0" X="10" Y="10,25" />
        <Coordinate Order="1" X="50" Y="12" />
      </Coordinates>
    </Annotation>
    <Annotation Name="Annotation 1" Type="Spline" PartOfGroup="Tumor" Color="#F4FA58">
      <Coordinates>
        <Coordinate Order="0" X="1" Y="1" /><Coordinate Order="1" X="5" Y="1" />
        <Coordinate Order="2" X="5" Y="5" />
      </Coordinates>
    </Annotation>
    <Annotation Name="Annotation 2" Type="Rectangle" PartOfGroup="_2" Color="#64FE2E">
      <Coordinates>
        <Coordinate Order="0" X="20" Y="20" /><Coordinate Order="1" X="25" Y="30" />
      </Coordinates>
    </Annotation>
    <Annotation Name="Annotation 3" Type="Dot" PartOfGroup="metastases" Color="#F4FA58">
      <Coordinates><Coordinate Order="0" X="7.5" Y="8.5" /></Coordinates>
    </Annotation>
    <Annotation Name="Annotation 4" Type="PointSet" PartOfGroup="lymphocytes" Color="#F4FA58">
      <Coordinates><Coordinate Order="0" X="1" Y="2" /><Coordinate Order="1" X="3" Y="4" /></Coordinates>
    </Annotation>
    <Annotation Name="Annotation 5" Type="Polygon" PartOfGroup="_1" Color="#F4FA58">
      <Coordinates>
        <Coordinate Order="0" X="100" Y="100" /><Coordinate Order="1" X="110" Y="100" />
        <Coordinate Order="2" X="110" Y="110" />
      </Coordinates>
    </Annotation>
  </Annotations>
  <AnnotationGroups>
    <Group Name="_0" PartOfGroup="None" Color="#FF0000"><Attributes /></Group>
    <Group Name="_2" PartOfGroup="None" Color="#00FF00"><Attributes /></Group>
  </AnnotationGroups>
</ASAP_Annotations>
"""


def test_read_asap_groups_kinds_commas_and_order(tmp_path):
    p = tmp_path / "tumor_001.xml"
    p.write_text(ASAP)
    s = read_asap(p)
    assert len(s) == 6
    a0 = s[0]
    assert a0.group == "_0" and a0.kind == "Polygon" and a0.is_area and a0.is_tumour
    # Order attribute sorts the vertices; commas are decimal separators
    np.testing.assert_array_equal(a0.coordinates, [[10.0, 10.25], [50.0, 12.0], [30.5, 40.0]])
    assert s[1].kind == "Spline" and s[1].is_tumour  # "Tumor" group
    rect = s[2]
    assert rect.is_exclusion and not rect.is_tumour
    np.testing.assert_array_equal(rect.coordinates, [[20, 20], [25, 20], [25, 30], [20, 30]])
    assert not s[3].is_area and s[3].is_tumour  # a Dot is a point, even in a tumour group
    assert s[4].group == "lymphocytes" and not s[4].is_tumour and not s[4].is_exclusion
    assert [a.name for a in s.tumour()] == ["Annotation 0", "Annotation 1", "Annotation 5"]
    assert [a.name for a in s.exclusions()] == ["Annotation 2"]
    assert [a.name for a in s.points()] == ["Annotation 3", "Annotation 4"]
    assert s.groups == {"_0": "#FF0000", "_2": "#00FF00"}
    assert s.path == str(p)


def test_write_read_roundtrip_is_exact_and_atomic(tmp_path):
    rng = np.random.default_rng(0)
    anns = [
        Annotation("Annotation 0", "metastases", "Polygon", rng.uniform(0, 1e5, (17, 2))),
        Annotation("a & <b>", "_2", "Rectangle", [[1.0, 2.0], [3.0, 2.0], [3.0, 5.0], [1.0, 5.0]]),
        Annotation("pts", "None", "PointSet", [[0.1, 0.2], [1e-7, 123456.789]]),
    ]
    p = tmp_path / "x.xml"
    p.write_text("old content")
    write_asap(p, anns)
    back = read_asap(p)
    assert [(a.name, a.group, a.kind) for a in back] == [(a.name, a.group, a.kind) for a in anns]
    for a, b in zip(anns, back, strict=True):
        np.testing.assert_array_equal(a.coordinates, b.coordinates)
    assert "metastases" in back.groups and "_2" in back.groups
    assert sorted(os.listdir(tmp_path)) == ["x.xml"]  # no temporary left behind
    assert os.stat(p).st_mode & 0o044  # readable by others like any normally written file


def test_write_asap_failure_leaves_old_file(tmp_path):
    p = tmp_path / "x.xml"
    write_asap(p, [Annotation("a", "metastases", "Polygon", [[0, 0], [1, 0], [1, 1]])])
    before = p.read_bytes()

    class Boom:
        name, group, kind, color = "b", "metastases", "Polygon", "#000000"

        @property
        def coordinates(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_asap(p, [Boom()])
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["x.xml"]


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("<ASAP_Annotations>\n<Annotations>\n<Annotation Name='a'>\n</Annotations>\n", 4, "malformed XML"),
        ("<ASAP_Annotations>\n<Annotations>\n<Annotation Name='a'>\n<Coordinates>\n"
         "<Coordinate Order='0' X='12.5' Y='abc' />\n</Coordinates></Annotation></Annotations>"
         "</ASAP_Annotations>", 5, "not a number"),
        ("<ASAP_Annotations>\n<Annotations>\n<Annotation Name='a'>\n<Coordinates>\n\n"
         "<Coordinate Order='0' X='12.5' />\n</Coordinates></Annotation></Annotations>"
         "</ASAP_Annotations>", 6, "Y attribute is missing"),
        ("<?xml version='1.0'?>\n<svg>\n</svg>", 2, "expected <ASAP_Annotations>"),
    ],
)
def test_malformed_xml_names_file_and_line(tmp_path, text, line, words):
    p = tmp_path / "bad.xml"
    p.write_text(text)
    with pytest.raises(AnnotationError) as err:
        read_asap(p)
    msg = str(err.value)
    assert msg.startswith(f"{p}:{line}"), msg
    assert words in msg


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(AnnotationError, match="not found"):
        read_asap(tmp_path / "nope.xml")
    (tmp_path / "empty.xml").write_text("")
    with pytest.raises(AnnotationError, match="empty.xml"):
        read_asap(tmp_path / "empty.xml")


def test_entity_expansion_is_refused(tmp_path):
    p = tmp_path / "bomb.xml"
    p.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
                 "<ASAP_Annotations>&b;</ASAP_Annotations>")
    with pytest.raises(AnnotationError, match="bomb.xml"):
        read_asap(p)


def _centre_truth(polys_in, polys_out, shape, ds, origin=(0.0, 0.0)):
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    pts = np.stack([origin[0] + (cols.ravel() + 0.5) * ds, origin[1] + (rows.ravel() + 0.5) * ds], axis=1)
    inside = np.zeros(len(pts), bool)
    for p in polys_in:
        inside |= MplPath(p).contains_points(pts)
    for p in polys_out:
        inside &= ~MplPath(p).contains_points(pts)
    return inside.reshape(shape)


@given(seed=st.integers(0, 10_000), ds=st.sampled_from([1.0, 2.0, 4.0, 3.3]))
def test_rasterize_equals_polygon_rasterization(seed, ds):
    rng = np.random.default_rng(seed)
    # a random star-shaped polygon (vertices at random angles and radii); random float vertices
    # put no pixel centre exactly on an edge, so the truth is unambiguous
    angles = np.sort(rng.uniform(0, 2 * np.pi, 12))
    r = rng.uniform(20, 60, 12)
    poly = np.stack([100 + r * np.cos(angles), 90 + r * np.sin(angles)], axis=1)
    hole = np.array([[95.3, 85.1], [108.7, 86.2], [104.9, 99.6]])
    anns = AnnotationSet([
        Annotation("t", "metastases", "Polygon", poly),
        Annotation("x", "_2", "Polygon", hole),
        Annotation("dot", "metastases", "Dot", [[100.0, 90.0]]),
        Annotation("other", "stroma", "Polygon", [[0.3, 0.3], [199.1, 0.7], [100.2, 180.9]]),
    ])
    shape = (int(200 // ds), int(210 // ds))
    mask = rasterize(anns, shape, ds)
    truth = _centre_truth([poly], [hole], shape, ds)
    assert mask.dtype == bool and mask.shape == shape
    np.testing.assert_array_equal(mask, truth)


def test_rasterize_with_origin_and_explicit_groups():
    poly = np.array([[1010.2, 2020.3], [1100.7, 2015.1], [1090.4, 2110.9]])
    anns = AnnotationSet([Annotation("a", "stroma", "Polygon", poly)])
    assert not rasterize(anns, (40, 40), 4.0, origin=(1000, 2000)).any()  # not a tumour group
    mask = rasterize(anns, (40, 40), 4.0, origin=(1000, 2000), include=anns, exclude=[])
    np.testing.assert_array_equal(mask, _centre_truth([poly], [], (40, 40), 4.0, (1000, 2000)))


def test_clip_polygon_to_rectangle():
    square = np.array([[-10.0, -10.0], [10.0, -10.0], [10.0, 10.0], [-10.0, 10.0]])
    c = clip_polygon(square, 0, 0, 100, 100)
    assert Annotation("c", "g", "Polygon", c).area_px2 == pytest.approx(100.0)
    assert len(clip_polygon(square + 500, 0, 0, 100, 100)) == 0
    tri = np.array([[50.0, -50.0], [150.0, 50.0], [50.0, 150.0]])  # pokes out of three sides
    ct = clip_polygon(tri, 0, 0, 100, 100)
    assert ct[:, 0].min() >= 0 and ct[:, 0].max() <= 100 and ct[:, 1].min() >= 0 and ct[:, 1].max() <= 100
    pts = np.random.default_rng(1).uniform(0, 100, (20000, 2))
    inside_clip = MplPath(ct).contains_points(pts)
    inside_tri = MplPath(tri).contains_points(pts)
    assert (inside_clip != inside_tri).mean() < 0.002


def test_clipped_set_warns_and_keeps_inside(tmp_path):
    p = tmp_path / "a.xml"
    write_asap(p, [
        Annotation("in", "metastases", "Polygon", [[1, 1], [5, 1], [5, 5]]),
        Annotation("half", "metastases", "Polygon", [[90, 10], [120, 10], [120, 40], [90, 40]]),
        Annotation("gone", "metastases", "Polygon", [[200, 200], [220, 200], [220, 220]]),
        Annotation("dots", "metastases", "PointSet", [[1, 1], [500, 500]]),
    ])
    s = read_asap(p)
    with pytest.warns(UserWarning, match=r"a\.xml: 3 annotation\(s\) reach outside the slide"):
        c = s.clipped(100, 100)
    assert [a.name for a in c] == ["in", "half", "dots"]
    assert c[1].area_px2 == pytest.approx(10 * 30)
    np.testing.assert_array_equal(c[2].coordinates, [[1, 1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(s[:1].clipped(100, 100)) == 1  # nothing outside: no warning


def test_largest_diameter_mm():
    square = np.array([[0, 0], [1000, 0], [1000, 1000], [0, 1000]], float)
    assert largest_diameter_mm(square, 0.5) == pytest.approx(np.sqrt(2) * 0.5)
    assert largest_diameter_mm(square, (0.25, 0.5)) == pytest.approx(np.hypot(250, 500) / 1000)
    assert largest_diameter_mm(square[:1], 0.5) == 0.0
    rng = np.random.default_rng(3)
    pts = rng.normal(0, 300, (500, 2))  # convex-hull shortcut must give the brute-force answer
    d = pts[:, None] - pts[None]
    assert largest_diameter_mm(pts, 0.243) == pytest.approx(np.sqrt((d**2).sum(-1)).max() * 0.243 / 1000)


def test_annotation_validation():
    with pytest.raises(AnnotationError, match="shape"):
        Annotation("a", "g", "Polygon", np.zeros((3, 3)))
    with pytest.raises(AnnotationError, match="finite"):
        Annotation("a", "g", "Polygon", [[0, np.nan], [1, 1], [2, 2]])
    assert Annotation("a", "g", "Dot", []).coordinates.shape == (0, 2)


@given(seed=st.integers(0, 10_000), n=st.integers(3, 12))
def test_polygon_mask_matches_even_odd_rule(seed, n):
    from skimage.draw import polygon as draw_polygon

    from camelyon.annotations import polygon_mask

    rng = np.random.default_rng(seed)
    rows, cols = rng.uniform(-10, 50, n), rng.uniform(-10, 60, n)  # may self-intersect, leave the grid
    want = np.zeros((40, 50), bool)
    rr, cc = draw_polygon(rows, cols, shape=want.shape)
    want[rr, cc] = True
    got = np.zeros_like(want)
    filled = polygon_mask(rows, cols, want.shape)
    if filled is not None:
        r0, c0, inside = filled
        got[r0 : r0 + inside.shape[0], c0 : c0 + inside.shape[1]] = inside
    np.testing.assert_array_equal(got, want)
