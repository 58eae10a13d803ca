"""The overlays of a slide, as JSON-able dictionaries in level-0 pixels.

Every coordinate sent to the page is a level-0 pixel of the slide, the same space as the last
Deep Zoom level, so that the page draws all overlays with one transform.

- annotations: ASAP XML (or QuPath GeoJSON) outlines, each with its kind (tumour, exclusion,
  other), its largest diameter in mm and the slide label that diameter alone would give;
- tissue: the outline of the tissue mask (:func:`camelyon.tissue.slide_tissue_mask`);
- grid: the tiles of a tile store, with their labels and tumour fractions;
- heatmap: geometry of the probability map; the map itself is a grey PNG with alpha (0 outside
  tissue) that the page colours with the chosen colour map;
- lesions: outlines of the connected regions of the heatmap at or above a threshold, with their
  diameters (what the slide classifier sees);
- detections: points with probabilities (CAMELYON16 FROC submission ``probability,X,Y``).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

__all__ = [
    "annotations_json", "tissue_json", "grid_json", "heatmap_json", "heatmap_png", "lesions_json",
    "detections_json", "load_annotations", "load_heatmap", "colour_maps", "heatmap_cell_box",
]

#: Colour maps offered for the heatmap (matplotlib names).
COLOUR_MAPS = ("inferno", "viridis", "jet", "RdYlBu_r")


def _label(diameter_mm: float) -> str:
    from camelyon.staging import ITC_MAX_MM, MICRO_MAX_MM

    if diameter_mm <= 0:
        return "negative"
    return "itc" if diameter_mm <= ITC_MAX_MM else "micro" if diameter_mm <= MICRO_MAX_MM else "macro"


def _round(coords: np.ndarray) -> list:
    return np.round(np.asarray(coords, dtype=np.float64), 1).tolist()


def load_annotations(source):
    """An :class:`~camelyon.annotations.AnnotationSet` from a path (ASAP XML or GeoJSON) or as given."""
    from camelyon.annotations import AnnotationSet, read_annotations

    if source is None or isinstance(source, AnnotationSet):
        return source
    return read_annotations(source)


def load_heatmap(source):
    """A :class:`~camelyon.heatmap.Heatmap` from a path (``.npz``) or as given."""
    from camelyon.heatmap import Heatmap

    if source is None or isinstance(source, Heatmap):
        return source
    return Heatmap.load(source)


def annotations_json(source, mpp) -> dict:
    """Outlines of the annotations.

    Parameters
    ----------
    source : path or AnnotationSet
    mpp : (float, float) or None
        Level-0 um/px, for the diameters (None: diameters left out).
    """
    from camelyon.annotations import largest_diameter_mm

    aset = load_annotations(source)
    items = []
    for a in aset:
        kind = "tumour" if a.is_tumour else "exclusion" if a.is_exclusion else "other"
        item = {"name": a.name, "group": a.group, "kind": kind, "area": bool(a.is_area),
                "coordinates": _round(a.coordinates)}
        if mpp is not None and a.is_area and len(a.coordinates) >= 2:
            d = largest_diameter_mm(a.coordinates, mpp)
            item["diameter_mm"] = round(d, 4)
            item["label"] = _label(d) if kind == "tumour" else ""
        items.append(item)
    return {"source": str(getattr(aset, "path", "") or ""), "annotations": items}


def _contours(mask: np.ndarray, tolerance: float = 0.6) -> list[np.ndarray]:
    """Outlines (row, col) of the True regions of a mask, in mask-pixel coordinates (pixel centres)."""
    from skimage.measure import approximate_polygon, find_contours

    padded = np.pad(mask.astype(np.float32), 1)
    out = []
    for c in find_contours(padded, 0.5):
        c = approximate_polygon(c, tolerance) if len(c) > 8 else c
        out.append(c - 1.0)
    return out


def tissue_json(slide, um_per_px: float = 8.0) -> dict:
    """The tissue-mask outline of an open :class:`~camelyon.slide.Slide` (needs its um/px)."""
    import warnings

    from camelyon.tissue import slide_tissue_mask

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "no tissue": an empty outline says it
        tm = slide_tissue_mask(slide, um_per_px)
    f = tm.downsample
    outlines = [_round(np.column_stack([(c[:, 1] + 0.5) * f, (c[:, 0] + 0.5) * f])) for c in _contours(tm.mask)]
    return {"um_per_px": tm.um_per_px, "fraction": round(tm.fraction, 4), "outlines": outlines}


def grid_json(store_path, slide_name: str) -> dict:
    """The tiles of one slide in a tile store: top-left corner (level-0), label, tumour fraction."""
    import h5py

    stem = Path(slide_name).stem
    with h5py.File(store_path, "r") as f:
        names = [Path(n.decode() if isinstance(n, bytes) else str(n)).stem for n in f["slides/name"][:]]
        if stem not in names:
            return {"extent": 0, "tiles": []}
        i = names.index(stem)
        start, count = int(f["slides/start"][i]), int(f["slides/count"][i])
        mpp = float(f["slides/mpp"][i])
        um = float(f["slides/um_per_px"][i])
        tile_size = int(f.attrs["tile_size"])
        coords = f["coords"][start:start + count]
        labels = f["labels"][start:start + count]
        tumour = f["tumour_fraction"][start:start + count]
    extent = tile_size * um / mpp if mpp > 0 else float(tile_size)
    tiles = [[int(x), int(y), int(lab), round(float(t), 3)] for (x, y), lab, t in zip(coords, labels, tumour, strict=True)]
    return {"store": Path(store_path).name, "extent": round(extent, 3), "tile_size": tile_size,
            "um_per_px": um, "tiles": tiles}


def heatmap_cell_box(hm) -> tuple[float, float, float]:
    """Level-0 (x, y) of the top-left corner of heatmap pixel (0, 0) as drawn, and the side of a pixel.

    A heatmap pixel stands for a tile of side ``tile_size * downsample`` whose top-left corner is
    ``origin + (col, row) * stride_level0``; it is drawn as a square of side ``stride_level0``
    centred on that tile's centre, so that neighbouring pixels tile the plane without overlap
    (when the stride equals the tile size, the square is the tile).
    """
    s = float(hm.stride_level0)
    extent = float(hm.tile_size * hm.downsample)
    shift = (extent - s) / 2.0
    return float(hm.origin[0]) + shift, float(hm.origin[1]) + shift, s


def heatmap_json(source) -> dict:
    hm = load_heatmap(source)
    x0, y0, s = heatmap_cell_box(hm)
    rows, cols = hm.shape
    p = hm.probability[hm.tissue] if hm.tissue.any() else np.zeros(1, np.float32)
    return {"x0": x0, "y0": y0, "cell": s, "rows": int(rows), "cols": int(cols),
            "max_probability": round(float(p.max()), 4), "um_per_px": float(hm.um_per_px)}


def heatmap_png(source) -> bytes:
    """The probability map as an 8-bit grey PNG with alpha: value ``round(255 p)``, alpha 0 outside tissue."""
    from PIL import Image

    hm = load_heatmap(source)
    grey = np.clip(np.rint(hm.probability * 255.0), 0, 255).astype(np.uint8)
    alpha = np.where(hm.tissue, 255, 0).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(np.dstack([grey, alpha]), mode="LA").save(buf, "png")
    return buf.getvalue()


def lesions_json(source, mpp, threshold: float = 0.5) -> dict:
    """Outlines of the heatmap regions with probability >= ``threshold`` (predicted lesions).

    Each outline runs along the borders of the heatmap pixels as drawn (see :func:`heatmap_cell_box`);
    its diameter is the largest distance between its vertices, in mm.
    """
    from camelyon.annotations import largest_diameter_mm

    hm = load_heatmap(source)
    x0, y0, s = heatmap_cell_box(hm)
    mask = (hm.probability >= threshold) & hm.tissue
    items = []
    for c in _contours(mask, tolerance=0.0):
        xy = np.column_stack([x0 + (c[:, 1] + 0.5) * s, y0 + (c[:, 0] + 0.5) * s])
        item = {"coordinates": _round(xy)}
        if mpp is not None:
            d = largest_diameter_mm(xy, mpp)
            item["diameter_mm"] = round(d, 4)
            item["label"] = _label(d)
        items.append(item)
    items.sort(key=lambda it: -it.get("diameter_mm", 0.0))
    return {"threshold": threshold, "lesions": items}


def detections_json(path, limit: int = 20000) -> dict:
    """Points of a detection CSV (``probability,X,Y`` rows in level-0 px, header optional), most probable first.

    Raises
    ------
    CamelyonError
        A row that is not three numbers (names the file and line).
    """
    from camelyon.camelyon16.reference import read_detections

    det = read_detections(path)
    order = np.argsort(-det.probability, kind="stable")[:limit]
    points = [[round(float(det.x[i]), 1), round(float(det.y[i]), 1), round(float(det.probability[i]), 4)] for i in order]
    return {"source": Path(path).name, "total": len(det), "points": points}


def colour_maps(n: int = 256) -> dict:
    """``name -> list of n [r, g, b]`` (0-255) for the colour maps the page offers."""
    import matplotlib

    out = {}
    for name in COLOUR_MAPS:
        cmap = matplotlib.colormaps[name]
        rgb = np.rint(cmap(np.linspace(0.0, 1.0, n))[:, :3] * 255).astype(int)
        out[name] = rgb.tolist()
    return out
