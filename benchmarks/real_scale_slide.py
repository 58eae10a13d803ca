"""A CAMELYON-sized synthetic slide, cheap to make: painted tiles reused, pyramid composed from cached halves.

Painting a 100,000 x 200,000 px slide with :mod:`camelyon.synthetic`'s painter costs about 1,000 CPU-s
(20 Gpx, every pixel painted and JPEG-encoded). A speed benchmark of the *reading* side only needs a slide
of the right size, resolution, pyramid and tissue layout, so this module makes one in a few minutes:

1. **Library.** ``library`` level-0 tiles (512 px) are painted once by the synthetic painter from a small
   planned slide with a macro-metastasis (tissue tiles only, tumour ones included), plus one background
   tile; each is JPEG-encoded once and its 2 x 2 box halvings (levels 1, 2, ...) are kept.
2. **Layout.** A few tissue sections are lobed ellipses (seeded). A level-0 tile wholly inside tissue is a
   library tile (seeded choice per tile), one wholly outside is the background tile: both are written as
   their cached JPEG bytes. A tile on a section's edge is composed pixel by pixel (library tile inside,
   background outside) and encoded.
3. **Pyramid.** Level ``k`` is composed from the cached level-``k`` halvings of the level-0 tiles it covers
   (edge tiles: composed at level ``k`` directly), so no level is ever held whole and no scratch file is
   written. Memory holds one tile per level plus the library.

The file is a tiled, JPEG-compressed, pyramidal BigTIFF that OpenSlide opens as ``generic-tiff`` (the same
layout as :func:`camelyon.synthetic.pyramid_writer.write_pyramid`), written atomically.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

from camelyon.synthetic.cohort import make_painter, plan_slide
from camelyon.synthetic.pyramid_writer import TILE, halve, level_sizes
from minicnn.io import atomic_path

#: Level-0 size of the small planned slide the library tiles are painted from (px).
LIBRARY_SLIDE_PX = 16384


@dataclass
class Section:
    """A lobed ellipse in level-0 px: inside when ``(dx/a)^2 + (dy/b)^2 < r(theta)^2``."""

    cx: float
    cy: float
    a: float
    b: float
    amps: np.ndarray  # (n,) lobe amplitudes
    phases: np.ndarray  # (n,) lobe phases (radians)

    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) level-0 px that contain the section."""
        reach = 1.0 + float(np.abs(self.amps).sum())
        return (self.cx - self.a * reach, self.cy - self.b * reach, self.cx + self.a * reach,
                self.cy + self.b * reach)

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Boolean array: which level-0 points (x, y) (broadcast) lie in the section."""
        u = (x - self.cx) / self.a
        v = (y - self.cy) / self.b
        theta = np.arctan2(v, u)
        r = np.ones_like(theta)
        for k, (amp, ph) in enumerate(zip(self.amps, self.phases, strict=True), start=2):
            r = r + amp * np.sin(k * theta + ph)
        return u * u + v * v < r * r


def plan_sections(width: int, height: int, rng: np.random.Generator, n: int = 3) -> list[Section]:
    """``n`` sections stacked along the long side, each filling most of its share of the slide."""
    out = []
    share = height / n
    for i in range(n):
        a = width * rng.uniform(0.30, 0.40)
        b = share * rng.uniform(0.33, 0.42)
        cx = width / 2 + rng.uniform(-0.05, 0.05) * width
        cy = share * (i + 0.5) + rng.uniform(-0.04, 0.04) * share
        out.append(Section(cx, cy, a, b, rng.uniform(0.02, 0.08, 3), rng.uniform(0, 2 * math.pi, 3)))
    return out


def _encode(tile: np.ndarray, quality: int) -> bytes:
    """The JPEG segment tifffile writes for one RGB tile (so cached bytes equal what it would write)."""
    bio = io.BytesIO()
    with tifffile.TiffWriter(bio) as tif:
        tif.write(tile, tile=tile.shape[:2], photometric="rgb", compression="jpeg",
                  compressionargs={"level": int(quality)}, metadata=None, software=False)
    with tifffile.TiffFile(io.BytesIO(bio.getvalue())) as tif:
        page = tif.pages[0]
        if 347 in page.tags:  # JPEGTables: segments would not be self-contained
            raise RuntimeError("tifffile wrote shared JPEG tables; cached segments cannot be reused")
        off, n = page.dataoffsets[0], page.databytecounts[0]
    return bio.getvalue()[off:off + n]


def _halvings(tile: np.ndarray, n_levels: int) -> list[np.ndarray]:
    """``[tile, half, quarter, ...]``: n_levels successive 2 x 2 box averages."""
    out = [tile]
    for _ in range(1, n_levels):
        prev = out[-1]
        h = np.empty((prev.shape[0] // 2, prev.shape[1] // 2, 3), np.uint8)
        halve(prev, h)
        out.append(h)
    return out


def paint_library(mpp: float, n: int, seed: int, tile: int = TILE) -> tuple[list[np.ndarray], np.ndarray]:
    """Paint ``n`` tissue tiles (tumour tiles among them) and one background tile with the synthetic painter."""
    plan = plan_slide(seed, 0, 0, 0, "macro", mpp, (LIBRARY_SLIDE_PX, LIBRARY_SLIDE_PX))
    painter = make_painter(plan)
    rng = np.random.default_rng(seed)
    bg = np.asarray(plan.stain.background, dtype=np.float32)
    tiles: list[np.ndarray] = []
    # a third of the library from inside the lesions (tumour), the rest from the sections
    boxes = [(les.coordinates[:, 0].min(), les.coordinates[:, 1].min(), les.coordinates[:, 0].max(),
              les.coordinates[:, 1].max()) for les in plan.lesions]
    boxes_sec = [(s.inner[:, 0].min(), s.inner[:, 1].min(), s.inner[:, 0].max(), s.inner[:, 1].max())
                 for s in plan.sections]
    want_tumour = n // 3 if boxes else 0
    for pool, want in ((boxes, want_tumour), (boxes_sec, n - want_tumour)):
        got, tries = 0, 0
        while got < want:
            tries += 1
            if tries > 200 * max(want, 1):
                raise RuntimeError(f"could not find {want} tissue tiles in the library slide (seed {seed})")
            x0, y0, x1, y1 = pool[int(rng.integers(len(pool)))]
            if x1 - x0 < tile or y1 - y0 < tile:
                continue
            x = int(rng.uniform(x0, x1 - tile))
            y = int(rng.uniform(y0, y1 - tile))
            t = painter.paint(x, y, tile, tile)
            tissue = np.abs(t.astype(np.float32) - bg).sum(axis=2) > 30.0
            if tissue.mean() >= 0.6:
                tiles.append(t.copy())
                got += 1
    for y in range(0, plan.height, tile):  # a tile far from any tissue
        if not painter.touches_tissue(0, y, tile, tile):
            return tiles, painter.paint(0, y, tile, tile).copy()
    return tiles, np.full((tile, tile, 3), np.round(bg).astype(np.uint8))


def _classify_tiles(sections, cols: int, rows: int, tile: int, samples: int = 9) -> np.ndarray:
    """Per level-0 tile: 0 background, 1 tissue, 2 edge; from a ``samples`` x ``samples`` grid in each tile."""
    s = (np.arange(samples) + 0.5) * tile / samples
    kind = np.empty((rows, cols), np.uint8)
    for r in range(rows):
        ys = (r * tile + s)[None, :, None]
        xs = (np.arange(cols)[:, None, None] * tile + s[None, None, :])
        inside = np.zeros((cols, samples, samples), bool)
        for sec in sections:
            inside |= sec.inside(xs, ys)
        frac = inside.reshape(cols, -1).mean(axis=1)
        kind[r] = np.where(frac == 1.0, 1, np.where(frac == 0.0, 0, 2))
    return kind


def _edge_tile(sections, lib_level: np.ndarray, bg_level: np.ndarray, x0: float, y0: float, step: float) -> np.ndarray:
    """A section-edge tile at one level: library pixels inside the sections, background outside.

    ``x0, y0`` level-0 px of the tile's corner, ``step`` level-0 px per pixel of this level.
    """
    n = lib_level.shape[0]
    c = (np.arange(n) + 0.5) * step
    xs, ys = x0 + c[None, :], y0 + c[:, None]
    inside = np.zeros((n, n), bool)
    x1, y1 = x0 + n * step, y0 + n * step
    for sec in sections:
        bx0, by0, bx1, by1 = sec.bbox()
        if bx0 < x1 and bx1 > x0 and by0 < y1 and by1 > y0:
            inside |= sec.inside(xs, ys)
    return np.where(inside[..., None], lib_level, bg_level)


@dataclass
class _Layout:
    """Which level-0 tile is what (0 background, 1 tissue, 2 edge), the library tile of each, and the
    painted tiles with their halvings and JPEG bytes."""

    sections: list
    kind: np.ndarray  # (rows, cols) uint8
    choice: np.ndarray  # (rows, cols) library index
    lib_halves: list  # per library tile: [level 0, level 1, ...] arrays
    bg_halves: list
    lib_bytes: list
    bg_bytes: bytes
    pad: np.ndarray  # (3,) uint8 colour of the padding beyond the slide
    tile: int
    quality: int

    def source(self, r: int, c: int, k: int) -> np.ndarray:
        """Level-0 tile (r, c) at level ``k`` ((tile >> k)^2 px)."""
        kind = self.kind[r, c]
        if kind == 0:
            return self.bg_halves[k]
        lib = self.lib_halves[self.choice[r, c]][k]
        if kind == 1:
            return lib
        return _edge_tile(self.sections, lib, self.bg_halves[k], c * self.tile, r * self.tile, float(1 << k))

    def level0_segments(self):
        """JPEG segments of level 0, row-major: cached bytes except on section edges."""
        rows, cols = self.kind.shape
        for r in range(rows):
            for c in range(cols):
                kind = self.kind[r, c]
                if kind == 0:
                    yield self.bg_bytes
                elif kind == 1:
                    yield self.lib_bytes[self.choice[r, c]]
                else:
                    yield _encode(np.ascontiguousarray(self.source(r, c, 0), np.uint8), self.quality)

    def level_tiles(self, k: int, size: tuple[int, int]):
        """Tiles of level ``k`` (``size`` = its (w, h)), row-major, composed from the level-0 tiles' halvings."""
        rows, cols = self.kind.shape
        w, h = size
        tile = self.tile
        part, per = tile >> k, 1 << k  # px of one level-0 tile at level k; level-0 tiles per level-k tile side
        for ty in range(-(-h // tile)):
            for tx in range(-(-w // tile)):
                out = np.empty((tile, tile, 3), np.uint8)
                out[:] = self.pad
                for j in range(min(per, rows - ty * per)):
                    for i in range(min(per, cols - tx * per)):
                        out[j * part:(j + 1) * part, i * part:(i + 1) * part] = self.source(ty * per + j,
                                                                                            tx * per + i, k)
                yield out


def _make_layout(width: int, height: int, mpp: float, n_levels: int, seed: int, library: int, sections: int,
                 quality: int, tile: int) -> _Layout:
    rng = np.random.default_rng(seed)
    lib_tiles, bg_tile = paint_library(mpp, library, seed, tile)
    secs = plan_sections(width, height, rng, sections)
    cols, rows = width // tile, height // tile
    kind = _classify_tiles(secs, cols, rows, tile)
    choice = rng.integers(0, len(lib_tiles), size=(rows, cols))
    return _Layout(secs, kind, choice, [_halvings(t, n_levels) for t in lib_tiles], _halvings(bg_tile, n_levels),
                   [_encode(t, quality) for t in lib_tiles], _encode(bg_tile, quality),
                   np.asarray(np.round(bg_tile.reshape(-1, 3).mean(axis=0)), np.uint8), tile, quality)


def make_slide(path: str | os.PathLike, width: int, height: int, mpp: float = 0.243, *, seed: int = 0,
               library: int = 48, sections: int = 3, quality: int = 85, tile: int = TILE) -> dict:
    """Write the slide; returns what was made (sizes, tile counts by kind, tissue fraction of the layout).

    Parameters
    ----------
    path : path-like
        Destination ``.tif`` (its folder must exist); written atomically.
    width, height : int
        Level-0 size in px, rounded up to multiples of ``tile``.
    mpp : float
        Level-0 um per px.
    seed : int
        Seeds the library painting, the section layout and the library choice per tile.
    library : int
        Number of distinct painted tissue tiles.
    sections : int
        Number of tissue sections (lobed ellipses along the long side).
    quality : int
        JPEG quality.
    tile : int
        Tile edge in px (a power of two).
    """
    width = -(-int(width) // tile) * tile
    height = -(-int(height) // tile) * tile
    sizes = level_sizes(width, height, tile)
    lay = _make_layout(width, height, mpp, len(sizes), seed, library, sections, quality, tile)
    px_per_cm = 1e4 / mpp
    options = dict(dtype=np.uint8, tile=(tile, tile), photometric="rgb", compression="jpeg",
                   compressionargs={"level": int(quality)}, resolutionunit="CENTIMETER", metadata=None,
                   software=False)
    path = Path(path)
    with atomic_path(path) as tmp, tifffile.TiffWriter(tmp, bigtiff=True) as tif:
        tif.write(lay.level0_segments(), shape=(height, width, 3), resolution=(px_per_cm, px_per_cm),
                  subfiletype=0, **options)
        for k in range(1, len(sizes)):
            w, h = sizes[k]
            tif.write(lay.level_tiles(k, sizes[k]), shape=(h, w, 3),
                      resolution=(px_per_cm / 2**k, px_per_cm / 2**k), subfiletype=1, **options)
    counts = np.bincount(lay.kind.ravel(), minlength=3)
    return {"width": width, "height": height, "mpp": mpp, "levels": len(sizes), "library_tiles": len(lay.lib_bytes),
            "tiles_background": int(counts[0]), "tiles_tissue": int(counts[1]), "tiles_edge": int(counts[2]),
            "layout_tissue_fraction": float((counts[1] + 0.5 * counts[2]) / lay.kind.size),
            "bytes": path.stat().st_size}
