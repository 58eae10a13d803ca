"""Small whole-slide images with known geometry for the tests (and for anyone who needs one).

The slides are real pyramidal tiled TIFF files with JPEG tiles, written with tifffile, that
OpenSlide opens as ``generic-tiff`` with ``openslide.mpp-x/y`` taken from the resolution tags
(centimetres). What is drawn is known exactly: white background, pink "tissue" rectangles and
purple "tumour" polygons, so masks and labels can be checked against the geometry.

Examples
--------
>>> from wsi_factory import SlideSpec, write_slide   # doctest: +SKIP
>>> spec = SlideSpec(width=2048, height=1536, tissue=[(256, 256, 1536, 1024)],
...                  lesions=[[(600, 400), (900, 420), (880, 700), (620, 680)]])
>>> write_slide(tmp_path / "tumor_001.tif", spec, mpp=0.5)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile
from skimage.draw import polygon as draw_polygon

from camelyon.annotations import Annotation, write_asap

__all__ = [
    "BACKGROUND",
    "TISSUE",
    "TUMOUR",
    "SlideSpec",
    "render",
    "write_pyramid_tiff",
    "write_slide",
    "write_lesion_xml",
    "write_corrupt_tiff",
    "make_cohort",
    "small_cohort_specs",
]

BACKGROUND = (243, 243, 243)
TISSUE = (226, 150, 196)  # pink: HSV saturation ~0.34
TUMOUR = (140, 78, 170)  # purple: HSV saturation ~0.54


@dataclass
class SlideSpec:
    """What a test slide shows, in level-0 pixels.

    Attributes
    ----------
    width, height : int
        Level-0 size in px.
    tissue : list of (x0, y0, x1, y1)
        Tissue rectangles.
    lesions : list of list of (x, y)
        Tumour polygons (drawn purple and written to the XML).
    exclusions : list of list of (x, y)
        Polygons inside lesions drawn as tissue again (CAMELYON16 ``_2``).
    noise : float
        Standard deviation of the pixel noise (grey levels).
    seed : int
    """

    width: int = 2048
    height: int = 1536
    tissue: list = field(default_factory=lambda: [(256, 256, 1792, 1280)])
    lesions: list = field(default_factory=list)
    exclusions: list = field(default_factory=list)
    noise: float = 2.0
    seed: int = 0


def _fill_polygon(img: np.ndarray, poly, colour) -> None:
    p = np.asarray(poly, dtype=np.float64)
    rr, cc = draw_polygon(p[:, 1] - 0.5, p[:, 0] - 0.5, shape=img.shape[:2])
    img[rr, cc] = colour


def render(spec: SlideSpec) -> np.ndarray:
    """The level-0 RGB image of ``spec``: array of shape (height, width, 3), uint8."""
    img = np.empty((spec.height, spec.width, 3), dtype=np.uint8)
    img[...] = BACKGROUND
    for x0, y0, x1, y1 in spec.tissue:
        img[int(y0) : int(y1), int(x0) : int(x1)] = TISSUE
    for poly in spec.lesions:
        _fill_polygon(img, poly, TUMOUR)
    for poly in spec.exclusions:
        _fill_polygon(img, poly, TISSUE)
    if spec.noise > 0:
        rng = np.random.default_rng(spec.seed)
        noisy = img.astype(np.int16) + rng.normal(0, spec.noise, img.shape[:2] + (1,)).astype(np.int16)
        img = np.clip(noisy, 0, 255).astype(np.uint8)
    return img


def write_pyramid_tiff(
    path: str | os.PathLike,
    rgb: np.ndarray,
    mpp: float | None = 0.5,
    tile: int = 256,
    min_size: int = 256,
    quality: int = 90,
) -> Path:
    """Write a pyramidal tiled JPEG TIFF that OpenSlide reads as ``generic-tiff``.

    Parameters
    ----------
    path : path-like
    rgb : ndarray of shape (H, W, 3), uint8
        Level 0.
    mpp : float or None
        Level-0 um/px written as TIFF resolution (pixels per cm); None writes no resolution.
    tile : int
        Tile side in px (a multiple of 16).
    min_size : int
        Levels halve until the longer side is below this.
    quality : int
        JPEG quality.
    """
    path = Path(path)
    levels = [rgb]
    while max(levels[-1].shape[:2]) // 2 >= min_size:
        prev = levels[-1]
        h2, w2 = prev.shape[0] // 2, prev.shape[1] // 2
        down = prev[: 2 * h2, : 2 * w2].reshape(h2, 2, w2, 2, 3).astype(np.uint16).sum(axis=(1, 3))
        levels.append(((down + 2) // 4).astype(np.uint8))
    tmp = path.with_name(f".{path.name}.tmp")
    with tifffile.TiffWriter(tmp, bigtiff=False) as tw:
        for i, level in enumerate(levels):
            kwargs = {}
            if mpp is not None:
                ppcm = 1e4 / (mpp * 2**i)
                kwargs = dict(resolution=(ppcm, ppcm), resolutionunit="CENTIMETER")
            tw.write(
                level,
                photometric="rgb",
                tile=(tile, tile),
                compression="jpeg",
                compressionargs={"level": quality},
                subfiletype=0 if i == 0 else 1,
                metadata=None,
                **kwargs,
            )
    os.replace(tmp, path)
    return path


def write_slide(path: str | os.PathLike, spec: SlideSpec, mpp: float | None = 0.5, **kwargs) -> Path:
    """Render ``spec`` and write it as a pyramidal TIFF (see :func:`write_pyramid_tiff`)."""
    return write_pyramid_tiff(path, render(spec), mpp=mpp, **kwargs)


def write_lesion_xml(path: str | os.PathLike, spec: SlideSpec, tumour_group: str = "metastases") -> Path:
    """Write the lesions (and exclusions, group ``_2``) of ``spec`` as ASAP XML."""
    anns = [
        Annotation(f"Annotation {i}", tumour_group, "Polygon", np.asarray(p, dtype=np.float64), "#F4FA58")
        for i, p in enumerate(spec.lesions)
    ]
    anns += [
        Annotation(f"Annotation {len(anns) + i}", "_2", "Polygon", np.asarray(p, dtype=np.float64), "#64FE2E")
        for i, p in enumerate(spec.exclusions)
    ]
    return write_asap(path, anns)


def write_corrupt_tiff(path: str | os.PathLike, seed: int = 0) -> Path:
    """Write a file named like a slide that OpenSlide cannot read (a TIFF header, then garbage)."""
    rng = np.random.default_rng(seed)
    data = b"II*\x00" + b"\x08\x00\x00\x00" + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    Path(path).write_bytes(data)
    return Path(path)


def make_cohort(
    root: str | os.PathLike, specs: dict[str, SlideSpec], mpp: float = 0.5, **kwargs
) -> tuple[Path, Path]:
    """Write slides ``root/slides/<name>.tif`` and, for specs with lesions, ``root/annotations/<name>.xml``.

    ``kwargs`` go to :func:`write_pyramid_tiff` (tile, min_size, quality).

    Returns
    -------
    (slides_dir, annotations_dir)
    """
    root = Path(root)
    slides, annotations = root / "slides", root / "annotations"
    slides.mkdir(parents=True, exist_ok=True)
    annotations.mkdir(parents=True, exist_ok=True)
    for name, spec in specs.items():
        write_slide(slides / f"{name}.tif", spec, mpp=mpp, **kwargs)
        if spec.lesions:
            write_lesion_xml(annotations / f"{name}.xml", spec)
    return slides, annotations


def small_cohort_specs() -> dict[str, SlideSpec]:
    """Three small CAMELYON17-named slides (1024 x 768 px): two with a lesion, one without.

    Lesion rectangles are aligned to a 64 px grid at level 0 so that tile labels are known exactly.
    """
    return {
        "patient_000_node_0": SlideSpec(
            width=1024, height=768, tissue=[(128, 128, 896, 640)],
            lesions=[[(256, 256), (512, 256), (512, 448), (256, 448)]], seed=1,
        ),
        "patient_000_node_1": SlideSpec(width=1024, height=768, tissue=[(64, 64, 640, 704)], seed=2),
        "patient_001_node_0": SlideSpec(
            width=1024, height=768, tissue=[(192, 64, 960, 576)],
            lesions=[[(640, 192), (768, 192), (768, 384), (640, 384)]], seed=3,
        ),
    }
