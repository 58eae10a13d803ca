"""Deep Zoom tiles of slides, with a cache of open slides and one of encoded tiles.

A Deep Zoom image is a pyramid of JPEG tiles in which every level halves the one above it; the
last level is the slide's level 0. :class:`openslide.deepzoom.DeepZoomGenerator` makes each tile
from the slide level closest to it. The generator is created with ``limit_bounds=False`` so that
Deep Zoom pixel ``(x, y)`` of the last level *is* level-0 pixel ``(x, y)``: overlays, the ruler and
the pointer position need no offset.

Encoded tiles are kept in a least-recently-used cache bounded in bytes; a tile asked for twice is
read and encoded once. Slide handles are kept open (up to ``max_open_slides``); a handle that is
dropped from that cache is closed by the garbage collector once no request still uses it.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

from camelyon.errors import SlideError, ViewerError

__all__ = ["TileSource", "TILE_SIZE", "OVERLAP"]

#: Deep Zoom tile side and overlap in px (OpenSlide's Deep Zoom example uses the same).
TILE_SIZE = 254
OVERLAP = 1
#: JPEG quality of the tiles.
QUALITY = 75


class _LRU:
    """A thread-safe least-recently-used map bounded by the total ``size`` of its values."""

    def __init__(self, budget: int):
        self.budget = int(budget)
        self.used = 0
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value[0]

    def put(self, key, value, size: int = 1) -> None:
        with self._lock:
            if key in self._items:
                self.used -= self._items.pop(key)[1]
            self._items[key] = (value, size)
            self.used += size
            while self.used > self.budget and len(self._items) > 1:
                _, (_, s) = self._items.popitem(last=False)
                self.used -= s

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.used = 0


class TileSource:
    """Deep Zoom descriptors and tiles of the slides of a catalogue.

    Parameters
    ----------
    paths : callable
        ``stem -> Path or None``: the slide file of a name (None: unknown slide).
    cache_bytes : int
        Budget of the encoded-tile cache (default 256 MB).
    max_open_slides : int
        Slides kept open at once.
    """

    def __init__(self, paths, cache_bytes: int = 256 << 20, max_open_slides: int = 16):
        self._paths = paths
        self.tiles = _LRU(cache_bytes)
        self._slides = _LRU(max_open_slides)
        self._open_lock = threading.Lock()

    def generator(self, stem: str):
        """The :class:`~openslide.deepzoom.DeepZoomGenerator` of a slide (opened once, then cached).

        Raises
        ------
        KeyError
            Unknown slide name.
        SlideError
            OpenSlide cannot read the file.
        """
        dz = self._slides.get(stem)
        if dz is not None:
            return dz
        path = self._paths(stem)
        if path is None:
            raise KeyError(stem)
        with self._open_lock:  # one thread opens a slide; the others wait for it
            dz = self._slides.get(stem)
            if dz is None:
                import openslide
                from openslide.deepzoom import DeepZoomGenerator

                try:
                    osr = openslide.OpenSlide(str(path))
                except (openslide.OpenSlideError, OSError) as exc:
                    raise SlideError(f"{path.name}: OpenSlide cannot read this file ({exc})") from None
                dz = DeepZoomGenerator(osr, tile_size=TILE_SIZE, overlap=OVERLAP, limit_bounds=False)
                self._slides.put(stem, dz)
        return dz

    def dzi(self, stem: str) -> str:
        """The Deep Zoom descriptor (XML) of a slide."""
        return self.generator(stem).get_dzi("jpeg")

    def tile(self, stem: str, level: int, col: int, row: int) -> bytes:
        """One JPEG tile.

        Raises
        ------
        KeyError
            Unknown slide name.
        ValueError
            No such level or tile address.
        SlideError
            The slide cannot be read there.
        """
        key = (stem, level, col, row)
        data = self.tiles.get(key)
        if data is not None:
            return data
        dz = self.generator(stem)
        if not 0 <= level < dz.level_count:
            raise ViewerError(f"level {level} does not exist (0..{dz.level_count - 1})")
        cols, rows = dz.level_tiles[level]
        if not (0 <= col < cols and 0 <= row < rows):
            raise ViewerError(f"tile ({col}, {row}) is outside level {level} ({cols} x {rows} tiles)")
        import openslide

        try:
            img = dz.get_tile(level, (col, row))
        except openslide.OpenSlideError as exc:
            raise SlideError(f"{stem}: reading tile {level}/{col}_{row} failed: {exc}") from None
        buf = io.BytesIO()
        img.save(buf, "jpeg", quality=QUALITY)
        data = buf.getvalue()
        self.tiles.put(key, data, len(data))
        return data
