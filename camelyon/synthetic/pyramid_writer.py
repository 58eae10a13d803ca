"""Write a pyramidal, tiled, JPEG-compressed TIFF that OpenSlide opens as ``generic-tiff``.

Level 0 is painted tile by tile (row-major) and written as it comes. While a row of level-0 tiles
is at hand, it is also halved again and again into one row of every smaller level; those rows are
appended to raw scratch files next to the output (disk, not memory), which are then read back a
row of tiles at a time to write levels 1, 2, ... So memory holds at most one row of tiles per
level, whatever the slide size, and the file appears under its final name only when complete
(``minicnn.io.atomic_path``: a temporary name, then a rename).

The level-0 resolution goes into the TIFF resolution tags in pixels per centimetre, which OpenSlide
reports as ``openslide.mpp-x`` / ``openslide.mpp-y``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import tifffile
from numba import njit

from camelyon.errors import SyntheticError
from minicnn.io import atomic_path

#: Default tile edge in px (what ASAP-converted CAMELYON files use).
TILE = 512
#: Levels are added until the largest side is at most this many px.
THUMBNAIL_MAX = 512


@njit(cache=True, nogil=True)
def halve(src, dst):
    """2 x 2 box average: ``dst[r, c] = mean(src[2r:2r+2, 2c:2c+2])`` with rounding.

    Parameters
    ----------
    src : ndarray (2h, 2w, 3) uint8
    dst : ndarray (h, w, 3) uint8
    """
    h, w, nc = dst.shape
    for r in range(h):
        for c in range(w):
            for k in range(nc):
                s = (np.uint16(src[2 * r, 2 * c, k]) + np.uint16(src[2 * r, 2 * c + 1, k])
                     + np.uint16(src[2 * r + 1, 2 * c, k]) + np.uint16(src[2 * r + 1, 2 * c + 1, k]))
                dst[r, c, k] = np.uint8((s + np.uint16(2)) // np.uint16(4))


def level_sizes(width: int, height: int, tile: int = TILE, thumbnail_max: int = THUMBNAIL_MAX) -> list[tuple[int, int]]:
    """Sizes (w, h) of the pyramid levels: halving while the largest side exceeds ``thumbnail_max``.

    Every level is exactly half the previous one, so ``width`` and ``height`` must be multiples of
    ``tile`` (itself a power of two), which bounds the number of halvings.
    """
    if width % tile or height % tile:
        raise SyntheticError(f"slide size {width} x {height} must be a multiple of the tile size {tile}")
    sizes = [(width, height)]
    w, h = width, height
    while max(w, h) > thumbnail_max and w % 2 == 0 and h % 2 == 0 and (width // (w // 2)) <= tile:
        w, h = w // 2, h // 2
        sizes.append((w, h))
    return sizes


def write_pyramid(
    path: str | os.PathLike,
    width: int,
    height: int,
    paint: Callable[[int, int, int, int, np.ndarray], np.ndarray],
    mpp: float,
    *,
    tile: int = TILE,
    quality: int = 85,
    background: tuple[int, int, int] = (255, 255, 255),
    thumbnail_max: int = THUMBNAIL_MAX,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Paint and write a slide, streaming, atomically.

    Parameters
    ----------
    path : path-like
        Destination ``.tif``; its folder must exist.
    width, height : int
        Level-0 size in px, multiples of ``tile``.
    paint : callable
        ``paint(x, y, w, h, out)`` fills ``out`` (h, w, 3) uint8 with the level-0 region at (x, y).
    mpp : float
        Level-0 um per px, written as resolution tags (px per cm).
    tile : int
        Tile edge in px (multiple of 16).
    quality : int
        JPEG quality 1-100.
    background : (int, int, int)
        Colour that pads the tiles of levels smaller than a tile.
    progress : callable, optional
        Called with the number of level-0 tiles written so far.

    Returns
    -------
    Path
        ``path``, complete.
    """
    path = Path(path)
    sizes = level_sizes(width, height, tile, thumbnail_max)
    scratch = [path.with_name(f".{path.name}.level{k}.raw-{os.getpid()}") for k in range(len(sizes))]
    bigtiff = width * height * 3 * 4 // 3 > 2**31
    px_per_cm = 1e4 / mpp
    files = {}
    try:
        for k in range(1, len(sizes)):
            files[k] = open(scratch[k], "wb")
        options = dict(
            dtype=np.uint8,
            tile=(tile, tile),
            photometric="rgb",
            compression="jpeg",
            compressionargs={"level": int(quality)},
            resolutionunit="CENTIMETER",
            metadata=None,
            software=False,
        )
        with atomic_path(path) as tmp, tifffile.TiffWriter(tmp, bigtiff=bigtiff) as tif:
            tif.write(
                _level0_tiles(width, height, tile, paint, sizes, files, progress),
                shape=(height, width, 3),
                resolution=(px_per_cm, px_per_cm),
                subfiletype=0,
                **options,
            )
            for f in files.values():
                f.close()
            for k in range(1, len(sizes)):
                w, h = sizes[k]
                tif.write(
                    _raw_tiles(scratch[k], w, h, tile, background),
                    shape=(h, w, 3),
                    resolution=(px_per_cm / 2**k, px_per_cm / 2**k),
                    subfiletype=1,
                    **options,
                )
    finally:
        for f in files.values():
            f.close()
        for p in scratch[1:]:
            if p.exists():
                p.unlink()
    return path


def _level0_tiles(width, height, tile, paint, sizes, files, progress) -> Iterator[np.ndarray]:
    """Yield level-0 tiles row-major; append each finished row, halved, to the level files."""
    n_levels = len(sizes)
    strips = [None] + [np.empty((tile >> k, sizes[k][0], 3), dtype=np.uint8) for k in range(1, n_levels)]
    halves = [None] + [np.empty((tile >> k, tile >> k, 3), dtype=np.uint8) for k in range(1, n_levels)]
    done = 0
    for y in range(0, height, tile):
        for x in range(0, width, tile):
            buf = np.empty((tile, tile, 3), dtype=np.uint8)
            paint(x, y, tile, tile, buf)
            prev = buf
            for k in range(1, n_levels):
                halve(prev, halves[k])
                t = tile >> k
                xk = x >> k
                strips[k][:, xk : xk + t] = halves[k]
                prev = halves[k]
            if x + tile >= width:
                # the row is complete: store it before handing over its last tile (the TIFF
                # writer stops asking once it has every tile)
                for k in range(1, n_levels):
                    files[k].write(strips[k].tobytes())
            done += 1
            if progress is not None:
                progress(done)
            yield buf


def _raw_tiles(raw_path: Path, width: int, height: int, tile: int, background) -> Iterator[np.ndarray]:
    """Yield tiles of a raw RGB level image stored row-major in ``raw_path``, padded to ``tile``."""
    row_bytes = width * 3
    with open(raw_path, "rb") as f:
        for y in range(0, height, tile):
            rows = min(tile, height - y)
            strip = np.frombuffer(f.read(rows * row_bytes), dtype=np.uint8).reshape(rows, width, 3)
            for x in range(0, width, tile):
                cols = min(tile, width - x)
                if rows == tile and cols == tile:
                    yield np.ascontiguousarray(strip[:, x : x + tile])
                else:
                    out = np.empty((tile, tile, 3), dtype=np.uint8)
                    out[:] = np.asarray(background, dtype=np.uint8)
                    out[:rows, :cols] = strip[:, x : x + cols]
                    yield out
