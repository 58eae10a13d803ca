"""Read a tile store fast: random minibatches, per-tile metadata, background prefetch.

Reading 64 random tiles from whole-slide images means 64 JPEG decodes of slide tiles plus
OpenSlide's bookkeeping; from the store it is 64 chunk reads and decompressions. The reader
sorts the requested indices (reads in file order are cheapest), reads each tile's chunk once,
and puts the tiles back in the order asked for.

The fast path skips HDF5 for the pixels: when the store is opened, the reader asks HDF5 once
where every tile's chunk lies in the file (byte offset, size, filter mask), maps the file into
memory read-only, and then decompresses each chunk straight from the mapping into the output
buffer, on several threads when the batch is large (the codecs release the GIL, HDF5 calls do
not). Stores whose layout or filters this does not cover are read through h5py.

Examples
--------
>>> from camelyon.dataset import TileStore, BalancedSampler                       # doctest: +SKIP
>>> with TileStore("tiles.h5") as store:
...     sampler = BalancedSampler(store.labels, batch_size=64, rng=0)
...     for tiles, labels in store.iter_batches(sampler, prefetch=2):
...         ...   # tiles (64, T, T, 3) uint8, labels (64,) int8
"""

from __future__ import annotations

import json
import mmap
import queue
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import h5py
import numpy as np

from camelyon.dataset.store import CHECKSUM_COLUMN, FORMAT, FORMAT_VERSION, read_slide_records, tile_checksum
from camelyon.errors import DatasetError, DatasetParameterError, TileIndexError
from camelyon.executor import default_workers

__all__ = ["TileStore", "prefetch"]

#: A batch is decoded on several threads only when it holds at least this many bytes of tiles.
#: Measured on 2 cores: 64 tiles of 96 px (1.8 MB) read faster on one thread (1.86 vs 2.27 ms per
#: batch, the hand-over costs more than it saves); 64 tiles of 256 px (12.6 MB) read 1.34x faster on
#: two (7.6 vs 10.2 ms).
THREADED_BATCH_MIN_BYTES = 4 << 20


def _stored(name: str, kind: type, doc: str) -> property:
    """A read-only property: the store's HDF5 attribute ``name`` as ``kind`` (int, float or str)."""
    return property(lambda self: kind(self._f.attrs[name]), doc=doc)


class TileStore:
    """A tile store opened for reading.

    Parameters
    ----------
    path : path-like
        A store written by :func:`camelyon.dataset.build_tile_store`.
    threads : int, optional
        Threads that decompress the tiles of a batch (default: up to 4, one per core). Batches
        smaller than :data:`THREADED_BATCH_MIN_BYTES` are decoded in the calling thread.
    verify : bool
        Check each tile's stored bytes against its CRC-32 before decoding it (default True;
        stores written before checksums are read unchecked). A damaged tile raises a
        :class:`DatasetError` naming the file, the tile index and its slide.

    Raises
    ------
    DatasetError
        Missing file, not HDF5, not a tile store, or a newer format.

    Attributes
    ----------
    labels : ndarray of shape (N,), int8
    coords : ndarray of shape (N, 2), int64
        Level-0 (x, y) of each tile.
    slide_index : ndarray of shape (N,), int32
        Row of each tile's slide in :attr:`slide_table`.
    slides : ndarray of shape (N,), str
        Slide name of each tile.
    patients : ndarray of shape (N,), str
    centers : ndarray of shape (N,), int16
        Centre id of each tile (-1 unknown).
    tissue_fraction, tumour_fraction : ndarray of shape (N,), float32
    """

    def __init__(self, path: str | Path, threads: int | None = None, verify: bool = True):
        self.path = Path(path)
        self.verify = bool(verify)
        self.threads = min(4, default_workers()) if threads is None else max(1, int(threads))
        self._pool = None
        if not self.path.exists():
            raise DatasetError(f"{self.path}: tile store not found")
        try:
            self._f = h5py.File(self.path, "r")
        except OSError as exc:
            raise DatasetError(f"{self.path}: not a readable HDF5 file ({exc})") from None
        f = self._f
        if f.attrs.get("format") != FORMAT:
            self._f.close()
            raise DatasetError(f"{self.path}: not a camelyon tile store (attribute 'format' missing)")
        if int(f.attrs.get("format_version", 0)) > FORMAT_VERSION:
            self._f.close()
            raise DatasetError(
                f"{self.path}: store format {f.attrs['format_version']} is newer than this software "
                f"reads ({FORMAT_VERSION}); update camelyon"
            )
        try:
            self._read_columns(f)
        except KeyError as exc:
            self._f.close()
            name = exc.args[0] if exc.args else "?"
            raise DatasetError(f"{self.path}: damaged tile store ({name} is missing); rebuild it with "
                               "camelyon tiles ... --overwrite") from None
        self._chunk_bytes = int(np.prod(self._tiles.shape[1:]))
        self._decode = _chunk_decoder(self._tiles)
        self._map = None
        self._chunks = None
        if self._decode is not None:
            self._open_chunk_map()

    def _read_columns(self, f: h5py.File) -> None:
        """Read the per-tile columns and the slide table (KeyError when one is missing)."""
        self._tiles = f["tiles"]
        self.labels = f["labels"][()]
        self.coords = f["coords"][()]
        self.slide_index = f["slide"][()]
        self.centers = f["centre"][()]
        self.tissue_fraction = f["tissue_fraction"][()]
        self.tumour_fraction = f["tumour_fraction"][()]
        self._patient_names = np.asarray(f["patients"].asstr()[()], dtype=object)
        self._patient_index = f["patient"][()]
        self.slide_records = read_slide_records(f)
        self._slide_names = np.array([r.name for r in self.slide_records], dtype=object)
        # per-tile checksums of the stored chunk bytes (stores written before them have none)
        self._crc = f[CHECKSUM_COLUMN][()] if CHECKSUM_COLUMN in f else None
        if self._crc is not None and self._crc.shape != self.labels.shape:
            raise KeyError(f"{CHECKSUM_COLUMN} of the right length")

    def _open_chunk_map(self) -> None:
        """Index every tile chunk's place in the file and map the file, if HDF5 can tell us."""
        index = _chunk_index(self._tiles)
        if index is None:
            return
        try:
            with open(self.path, "rb") as fh:
                mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return
        view = memoryview(mapped)
        offsets, sizes, masks = index
        stored = np.flatnonzero(offsets >= 0)
        if stored.size:  # check one chunk against HDF5's own read before trusting the offsets
            i = int(stored[0])
            mask, data = self._tiles.id.read_direct_chunk((i, 0, 0, 0))
            if mask != masks[i] or bytes(view[offsets[i] : offsets[i] + sizes[i]]) != bytes(data):
                view.release()
                mapped.close()
                return
        self._map, self._view, self._chunks = mapped, view, index

    # -- metadata ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._tiles.shape[0])

    @property
    def tile_shape(self) -> tuple[int, int, int]:
        return tuple(self._tiles.shape[1:])

    tile_size = _stored("tile_size", int, "Tile side (px).")
    level = _stored("level", int, "Level the tiles were read at (-1 when a um/px target was used).")
    um_per_px = _stored("um_per_px", float, "Resolution of the tiles (um/px).")
    software_version = _stored("software_version", str, "Version of the software that built the store.")

    @property
    def params(self) -> dict:
        """The build parameters (tile grid, negatives cap, seed, compression)."""
        return json.loads(self._f.attrs["params"])

    @property
    def failed(self) -> list:
        """(slide path, error) of slides that failed in the last build."""
        return [tuple(x) for x in json.loads(self._f.attrs.get("failed", "[]"))]

    @property
    def slides(self) -> np.ndarray:
        """Slide name of each tile, shape (N,), object array of str."""
        return self._slide_names[self.slide_index]

    @property
    def patients(self) -> np.ndarray:
        """Patient name of each tile, shape (N,), object array of str."""
        return self._patient_names[self._patient_index]

    @property
    def slide_table(self) -> dict[str, np.ndarray]:
        """The slide table as columns (name, path, patient, centre, start, count, positives, ...)."""
        keys = [k for k in self.slide_records[0].__dict__ if k != "warnings"] if self.slide_records else []
        return {k: np.array([getattr(r, k) for r in self.slide_records]) for k in keys}

    def __repr__(self) -> str:
        pos = int((self.labels == 1).sum())
        return (f"TileStore({str(self.path)!r}: {len(self)} tiles of {self.tile_size} px at "
                f"{self.um_per_px:.3g} um/px, {pos} tumour, {len(self.slide_records)} slides)")

    # -- pixels ----------------------------------------------------------------------------------
    def read_batch(self, indices, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Read tiles by index, in the order given (repeats allowed).

        Parameters
        ----------
        indices : array-like of int, shape (B,)
        out : ndarray of shape (B, T, T, 3), uint8, optional
            Buffer to fill (reuse it across batches).

        Returns
        -------
        tiles : ndarray of shape (B, T, T, 3), uint8
        labels : ndarray of shape (B,), int8
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise TileIndexError(f"tile index out of range for a store of {n} tiles")
        idx = np.where(idx < 0, idx + n, idx)
        shape = (len(idx),) + self.tile_shape
        if out is None:
            out = np.empty(shape, dtype=np.uint8)
        elif out.shape != shape or out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise DatasetParameterError(f"out must be a C-contiguous uint8 array of shape {shape}, got "
                             f"{'a strided ' if not out.flags.c_contiguous else ''}{out.dtype} {out.shape}")
        # read each distinct tile once, in file order; then fill the repeats from memory
        order = np.argsort(idx, kind="stable")
        sorted_idx = idx[order]
        first = np.ones(len(idx), dtype=bool)
        first[1:] = sorted_idx[1:] != sorted_idx[:-1]
        group_start = np.maximum.accumulate(np.where(first, np.arange(len(idx)), 0))
        slots = order[first]
        self._read_into(idx[slots], out, slots)
        repeats = ~first
        out[order[repeats]] = out[order[group_start[repeats]]]
        return out, self.labels[idx]

    def _read_into(self, indices: np.ndarray, out: np.ndarray, slots: np.ndarray) -> None:
        """Read tiles ``indices`` (ascending) into ``out[slots]``, on several threads when worth it."""
        n = len(indices)
        if self._decode is None or self.threads <= 1 or n < 2 or n * self._chunk_bytes < THREADED_BATCH_MIN_BYTES:
            for i, k in zip(indices, slots, strict=True):
                self._read_one(int(i), out[k])
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="tile-read")
        bounds = np.linspace(0, n, self.threads + 1).astype(int)

        def work(a, b):
            for j in range(a, b):  # decompression releases the GIL, so threads overlap
                self._read_one(int(indices[j]), out[slots[j]])

        for f in [self._pool.submit(work, a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]:
            f.result()

    def _read_one(self, i: int, dest: np.ndarray) -> None:
        """Read tile ``i`` into ``dest`` (a C-contiguous (T, T, 3) uint8 view)."""
        if self._chunks is not None:
            offsets, sizes, masks = self._chunks
            start = offsets[i]
            if start >= 0:
                self._decode_into(i, self._view[start : start + sizes[i]], masks[i], dest)
                return
        elif self._decode is not None:
            # one tile = one chunk: read its bytes and decompress them here, which skips
            # HDF5's selection machinery (several times faster for small tiles)
            try:
                mask, data = self._tiles.id.read_direct_chunk((i, 0, 0, 0))
            except RuntimeError:  # never written: h5py's read below gives the fill value
                data = None
            if data is not None:
                self._decode_into(i, data, mask, dest)
                return
        self._tiles.read_direct(dest, source_sel=np.s_[i], dest_sel=np.s_[...])

    def _decode_into(self, i: int, data, mask: int, dest: np.ndarray) -> None:
        """Check and decompress tile ``i``'s chunk bytes ``data`` (HDF5 filter ``mask``) into ``dest``."""
        if self.verify and self._crc is not None and tile_checksum(data) != self._crc[i]:
            raise DatasetError(self._damaged(i))
        flat = dest.reshape(-1)
        if mask & 1 or self._decode is _stored_as_is:  # mask bit 0: the filter was skipped (stored as is)
            got = data
            if len(data) == self._chunk_bytes:
                flat[:] = np.frombuffer(data, dtype=np.uint8)
        else:
            try:
                got = self._decode(data, flat)
            except Exception as exc:  # noqa: BLE001 - any codec error means a damaged chunk
                raise DatasetError(f"{self.path}: tile {i} cannot be decompressed ({exc})") from None
        if len(got) != self._chunk_bytes:
            raise DatasetError(f"{self.path}: tile {i} holds {len(got)} bytes, expected {self._chunk_bytes}")

    def _damaged(self, i: int) -> str:
        slide = self._slide_names[self.slide_index[i]] if len(self._slide_names) else "?"
        return (f"{self.path}: tile {i} (slide {slide}) is damaged: its stored bytes do not match their checksum; "
                "rebuild the store (camelyon tiles ... --overwrite) or copy it again")

    def verify_checksums(self) -> list[int]:
        """Indices of the tiles whose stored bytes do not match their checksum (reads every chunk once).

        Returns
        -------
        list of int
            Empty when every tile is intact.

        Raises
        ------
        DatasetError
            The store has no checksums (written before they existed).
        """
        if self._crc is None:
            raise DatasetError(f"{self.path}: this store was written without tile checksums; rebuild it to get them")
        bad = []
        for i in range(len(self)):
            if self._chunks is not None and self._chunks[0][i] >= 0:
                start = self._chunks[0][i]
                data = self._view[start : start + self._chunks[1][i]]
            else:
                _, data = self._tiles.id.read_direct_chunk((i, 0, 0, 0))
            if tile_checksum(data) != self._crc[i]:
                bad.append(i)
        return bad

    def iter_batches(
        self,
        batches: Iterable | None = None,
        *,
        batch_size: int = 64,
        shuffle: bool = False,
        rng: np.random.Generator | int | None = None,
        indices: np.ndarray | None = None,
        prefetch: int = 2,
        transform: Callable | None = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(tiles, labels)`` minibatches, read ahead in a background thread.

        Parameters
        ----------
        batches : iterable of index arrays, optional
            E.g. a :class:`BalancedSampler`. Default: ``indices`` (or all tiles) cut into
            ``batch_size`` pieces, shuffled with ``rng`` when ``shuffle``.
        prefetch : int
            Batches read ahead (0: read in the calling thread).
        transform : callable, optional
            ``transform(tiles, labels) -> (tiles, labels)`` applied in the background thread.
        """
        if batches is None:
            idx = np.arange(len(self)) if indices is None else np.asarray(indices, dtype=np.int64)
            if shuffle:
                idx = np.random.default_rng(rng).permutation(idx)
            batches = [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]

        def load():
            for b in batches:
                tiles, labels = self.read_batch(b)
                yield transform(tiles, labels) if transform is not None else (tiles, labels)

        return prefetch_iter(load(), prefetch) if prefetch > 0 else load()

    # -- lifetime --------------------------------------------------------------------------------
    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._map is not None:
            self._chunks = None
            self._view.release()
            try:
                self._map.close()
            except BufferError:  # a caller still holds a view of the mapping: the GC closes it
                pass
            self._map = None
        if self._f.id.valid:
            self._f.close()

    def __enter__(self) -> TileStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _stored_as_is(data, out):
    """The 'decoder' of an uncompressed store (never called: such chunks are copied as they are)."""
    return data


def _chunk_decoder(tiles: h5py.Dataset):
    """A function ``(chunk bytes, out) -> out`` for the tiles' filter, or None (use h5py).

    ``out`` is a flat uint8 array of one tile, which the function fills and returns.
    """
    if tiles.chunks != (1,) + tiles.shape[1:]:
        return None
    if tiles.shuffle or tiles.fletcher32 or tiles.scaleoffset is not None:
        return None  # a filter pipeline this reader does not decode itself: let h5py do it
    if tiles.compression is None:
        return _stored_as_is
    try:
        import imagecodecs
    except ImportError:  # pragma: no cover - imagecodecs is a dependency
        imagecodecs = None
    if tiles.compression == "gzip":
        for name in ("zlibng_decode", "zlib_decode"):  # zlib-ng is the faster inflate
            if imagecodecs is not None and hasattr(imagecodecs, name):
                decode = getattr(imagecodecs, name)
                return lambda data, out: decode(data, out=out)
        return _inflate_into
    if tiles.compression == "lzf" and imagecodecs is not None:
        return lambda data, out: imagecodecs.lzf_decode(data, header=False, out=out)
    return None


def _inflate_into(data, out: np.ndarray) -> np.ndarray:
    raw = zlib.decompress(data)
    if len(raw) != len(out):
        return raw  # the caller reports the wrong size
    out[:] = np.frombuffer(raw, dtype=np.uint8)
    return out


def _chunk_index(tiles: h5py.Dataset):
    """Byte offset, size and filter mask of each tile's chunk, shape (N,) int64 each, or None.

    Tiles never written have offset -1. None when this h5py/HDF5 cannot list chunks.
    """
    n = int(tiles.shape[0])
    offsets = np.full(n, -1, dtype=np.int64)
    sizes = np.zeros(n, dtype=np.int64)
    masks = np.zeros(n, dtype=np.int64)

    def note(info):
        i = info.chunk_offset[0]
        offsets[i], sizes[i], masks[i] = info.byte_offset, info.size, info.filter_mask

    try:
        tiles.id.chunk_iter(note)
    except (AttributeError, RuntimeError, OSError, ValueError):  # older HDF5, or no chunks at all
        try:
            for k in range(tiles.id.get_num_chunks()):
                note(tiles.id.get_chunk_info(k))
        except (AttributeError, RuntimeError, OSError, ValueError):
            return None
    return offsets, sizes, masks


_END = object()


def prefetch_iter(iterable: Iterable, depth: int = 2) -> Iterator:
    """Iterate ``iterable`` in a background thread, keeping up to ``depth`` items ready.

    Exceptions raised by the producer are re-raised in the consumer. Stopping early (``break``)
    stops the producer.
    """
    if depth < 1:
        raise DatasetParameterError(f"prefetch depth must be >= 1, got {depth}")
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce():
        try:
            for item in iterable:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", _END))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(("error", exc))

    thread = threading.Thread(target=produce, name="tile-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


#: Public name used in the API description.
prefetch = prefetch_iter
