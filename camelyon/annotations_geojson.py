"""Lesion annotations in QuPath's GeoJSON: read, write, and the class-name table.

QuPath exports annotations as GeoJSON: a ``FeatureCollection`` (or a bare list of ``Feature``) whose
geometries are ``Polygon`` or ``MultiPolygon`` in level-0 pixel coordinates (each polygon: the outer
ring, then its holes) with the class in ``properties.classification.name``. Every polygon becomes
one :class:`~camelyon.annotations.Annotation` whose group is the class name, so the same
:class:`~camelyon.annotations.AnnotationSet` comes out as from ASAP XML.

Class names (compared case-insensitively) and what they mean:

==========================================================  ===========================================
QuPath class name                                            meaning
==========================================================  ===========================================
``Tumor``, ``Tumour``, ``Metastasis``, ``Metastases``,        tumour area (filled in masks and labels)
``Carcinoma``, ``_0``, ``_1``
``_2``, ``Exclusion``, ``Non-tumor``, ``Non-tumour``,         cut out of the tumour (CAMELYON16 ``_2``)
``Normal``, ``Ignore``, ``Ignore*``
no class                                                      group ``None``: neither
any other (``Stroma``, ``Other``, ``Region*`` ...)            kept as it is: neither
==========================================================  ===========================================

Holes of a tumour polygon become exclusion areas (group ``_2``) named ``<name> hole <k>``, so the
tumour mask has the hole; holes of other classes are kept under the group ``<class> hole``, which
is neither tumour nor exclusion (cutting them out could remove a tumour drawn inside them).
``Point`` and ``MultiPoint`` geometries become ``Dot`` and ``PointSet`` annotations; other
geometries (lines) are skipped with a warning.

:func:`write_geojson` writes annotations (and :func:`detections_geojson` point detections with
their probability as a measurement) in the form QuPath imports by drag and drop.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

import numpy as np

from camelyon.annotations import Annotation, AnnotationSet, read_annotation_bytes
from camelyon.errors import AnnotationError
from minicnn.io import write_json

__all__ = ["read_geojson", "geojson_dict", "write_geojson", "detections_geojson", "looks_like_geojson",
           "QUPATH_TUMOUR_CLASSES", "QUPATH_EXCLUSION_CLASSES"]

#: QuPath class names read as tumour (they are also in camelyon.annotations.TUMOUR_GROUPS).
QUPATH_TUMOUR_CLASSES = ("Tumor", "Tumour", "Metastasis", "Metastases", "Carcinoma", "_0", "_1")
#: QuPath class names read as exclusions (also in camelyon.annotations.EXCLUSION_GROUPS).
QUPATH_EXCLUSION_CLASSES = ("_2", "Exclusion", "Non-tumor", "Non-tumour", "Normal", "Ignore", "Ignore*")


def looks_like_geojson(data: bytes) -> bool:
    """True when the text starts (after blanks and a BOM) with ``{`` or ``[`` (JSON), not ``<`` (XML)."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] in (b"{", b"[")


def _colour(props: dict) -> str:
    cls = props.get("classification") or {}
    rgb = cls.get("color") if isinstance(cls, dict) else None
    if isinstance(rgb, list) and len(rgb) == 3 and all(isinstance(v, (int, float)) for v in rgb):
        return "#{:02X}{:02X}{:02X}".format(*(int(max(0, min(255, v))) for v in rgb))
    value = cls.get("colorRGB") if isinstance(cls, dict) else None
    if isinstance(value, int):
        value &= 0xFFFFFF
        return f"#{value:06X}"
    return "#F4FA58"


def _ring(ring, where: str) -> np.ndarray:
    try:
        arr = np.asarray(ring, dtype=np.float64)
    except (TypeError, ValueError):
        raise AnnotationError(f"{where}: coordinates must be [x, y] number pairs") from None
    if arr.ndim != 2 or arr.shape[1] < 2 or len(arr) == 0:
        raise AnnotationError(f"{where}: a ring must be a list of [x, y] pairs, got shape {arr.shape}")
    arr = arr[:, :2]
    if not np.all(np.isfinite(arr)):
        raise AnnotationError(f"{where}: coordinates must be finite numbers")
    if len(arr) > 1 and np.array_equal(arr[0], arr[-1]):
        arr = arr[:-1]  # GeoJSON rings repeat the first point at the end
    return arr


def _is_tumour_class(name: str) -> bool:
    from camelyon.annotations import TUMOUR_GROUPS

    return name.lower() in TUMOUR_GROUPS


def read_geojson(path: str | os.PathLike, data: bytes | None = None) -> AnnotationSet:
    """Read a QuPath GeoJSON export.

    Parameters
    ----------
    path : path-like
        The file (any suffix).
    data : bytes, optional
        Its content, when already read.

    Returns
    -------
    AnnotationSet
        One annotation per polygon (holes as described in the module docstring), coordinates in
        level-0 px.

    Raises
    ------
    AnnotationError
        Not JSON (line and column named), not a FeatureCollection / Feature list, or a feature
        whose geometry is malformed (its index named).
    """
    path = Path(path)
    if data is None:
        data = read_annotation_bytes(path)
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise AnnotationError(f"{path}: not UTF-8 text, expected GeoJSON") from None
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path}:{exc.lineno}:{exc.colno}: malformed JSON: {exc.msg}") from None
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        features = doc.get("features")
    elif isinstance(doc, dict) and doc.get("type") == "Feature":
        features = [doc]
    elif isinstance(doc, list):
        features = doc
    else:
        raise AnnotationError(f"{path}: expected a GeoJSON FeatureCollection or a list of Features")
    if not isinstance(features, list):
        raise AnnotationError(f"{path}: 'features' must be a list")
    out: list[Annotation] = []
    groups: dict[str, str] = {}
    skipped = 0
    for i, feat in enumerate(features):
        where = f"{path}: feature {i}"
        if not isinstance(feat, dict) or not isinstance(feat.get("geometry"), dict):
            raise AnnotationError(f"{where}: expected a Feature with a geometry")
        props = feat.get("properties") or {}
        if not isinstance(props, dict):
            raise AnnotationError(f"{where}: 'properties' must be an object")
        cls = props.get("classification")
        cls_name = cls.get("name") if isinstance(cls, dict) else cls if isinstance(cls, str) else None
        group = str(cls_name) if cls_name else "None"
        name = str(props.get("name") or f"Annotation {i}")
        colour = _colour(props)
        if group != "None":
            groups.setdefault(group, colour)
        geom = feat["geometry"]
        gtype = geom.get("type")
        coords = geom.get("coordinates")
        if gtype in ("Polygon", "MultiPolygon"):
            polygons = [coords] if gtype == "Polygon" else coords
            if not isinstance(polygons, list):
                raise AnnotationError(f"{where}: {gtype} coordinates must be a list")
            for j, poly in enumerate(polygons):
                if not isinstance(poly, list) or not poly:
                    raise AnnotationError(f"{where}: polygon {j} must be a list of rings")
                pname = name if len(polygons) == 1 else f"{name} part {j}"
                out.append(Annotation(pname, group, "Polygon", _ring(poly[0], where), colour))
                hole_group = "_2" if _is_tumour_class(group) else f"{group} hole"
                for k, hole in enumerate(poly[1:], start=1):
                    out.append(Annotation(f"{pname} hole {k}", hole_group, "Polygon", _ring(hole, where), colour))
        elif gtype == "Point":
            out.append(Annotation(name, group, "Dot", _ring([coords], where), colour))
        elif gtype == "MultiPoint":
            out.append(Annotation(name, group, "PointSet", _ring(coords, where), colour))
        else:
            skipped += 1
    if skipped:
        warnings.warn(f"{path}: {skipped} feature(s) with a geometry other than Polygon, MultiPolygon, Point "
                      "or MultiPoint were skipped", UserWarning, stacklevel=2)
    return AnnotationSet(out, groups, str(path))


def _rgb(colour: str) -> list[int]:
    c = colour.lstrip("#")
    try:
        return [int(c[i:i + 2], 16) for i in (0, 2, 4)]
    except ValueError:
        return [255, 0, 0]


def _closed(coords: np.ndarray) -> list:
    pts = [[float(x), float(y)] for x, y in coords]
    if pts and pts[0] != pts[-1]:
        pts.append(list(pts[0]))
    return pts


def geojson_dict(annotations) -> dict:
    """The GeoJSON FeatureCollection of ``annotations`` (what :func:`write_geojson` writes).

    Areas become Polygon features (ring closed), Dot / PointSet become Point / MultiPoint; the group
    is the classification name (group ``None``: no classification).
    """
    features = []
    for a in annotations:
        if a.is_area:
            if len(a.coordinates) < 3:
                continue
            geometry = {"type": "Polygon", "coordinates": [_closed(a.coordinates)]}
        elif len(a.coordinates) == 1:
            geometry = {"type": "Point", "coordinates": [float(v) for v in a.coordinates[0]]}
        else:
            geometry = {"type": "MultiPoint", "coordinates": [[float(x), float(y)] for x, y in a.coordinates]}
        props = {"objectType": "annotation", "name": a.name}
        if a.group and a.group != "None":
            props["classification"] = {"name": a.group, "color": _rgb(a.color)}
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def _atomic_json(path: Path, obj) -> Path:
    return write_json(path, obj, indent=1)


def write_geojson(annotations, path: str | os.PathLike) -> Path:
    """Write annotations as a GeoJSON FeatureCollection that QuPath imports, atomically.

    Parameters
    ----------
    annotations : AnnotationSet or iterable of Annotation
    path : path-like
        Destination (``.geojson``).
    """
    return _atomic_json(Path(path), geojson_dict(annotations))


def detections_geojson(probability, x, y, path: str | os.PathLike, class_name: str = "Tumor") -> Path:
    """Write point detections as GeoJSON: one Point per detection, its probability as a measurement.

    Parameters
    ----------
    probability, x, y : array-like of shape (N,)
        Probabilities and level-0 coordinates.
    path : path-like
    class_name : str
        Classification of every point.
    """
    features = []
    for i, (p, px, py) in enumerate(zip(probability, x, y, strict=True)):
        p = float(p)
        if not math.isfinite(p):
            raise AnnotationError(f"detection {i}: probability {p} is not finite")
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(px), float(py)]},
            "properties": {"objectType": "annotation", "name": f"detection {i} p={p:.3f}",
                           "classification": {"name": class_name, "color": [255, 0, 0]},
                           "measurements": {"probability": p}},
        })
    return _atomic_json(Path(path), {"type": "FeatureCollection", "features": features})
