"""Read a tile store fast: random minibatches, per-tile metadata, background prefetch.

Reading 64 random tiles from whole-slide images means 64 JPEG decodes of slide tiles plus
OpenSlide's bookkeeping; from the store it is 64 chunk reads and decompressions. The reader
sorts the requested indices (HDF5 reads in file order are cheapest), reads each tile's chunk
once, and puts the tiles back in the order asked for.

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
import queue
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import h5py
import numpy as np

from camelyon.dataset.store import FORMAT, FORMAT_VERSION, read_slide_records
from camelyon.errors import DatasetError
from camelyon.executor import default_workers

__all__ = ["TileStore", "prefetch"]

class TileStore:
    """A tile store opened for reading.

    Parameters
    ----------
    path : path-like
        A store written by :func:`camelyon.dataset.build_tile_store`.
    threads : int, optional
        Threads that decompress the tiles of a batch (default: up to 4, one per core).

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

    def __init__(self, path: str | Path, threads: int | None = None):
        self.path = Path(path)
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
        self._chunk_bytes = int(np.prod(self._tiles.shape[1:]))
        self._decode = _chunk_decoder(self._tiles)

    # -- metadata ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._tiles.shape[0])

    @property
    def tile_shape(self) -> tuple[int, int, int]:
        return tuple(self._tiles.shape[1:])

    @property
    def tile_size(self) -> int:
        return int(self._f.attrs["tile_size"])

    @property
    def level(self) -> int:
        """Level the tiles were read at (-1 when a um/px target was used)."""
        return int(self._f.attrs["level"])

    @property
    def um_per_px(self) -> float:
        return float(self._f.attrs["um_per_px"])

    @property
    def software_version(self) -> str:
        return str(self._f.attrs["software_version"])

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
            raise IndexError(f"tile index out of range for a store of {n} tiles")
        idx = np.where(idx < 0, idx + n, idx)
        shape = (len(idx),) + self.tile_shape
        if out is None:
            out = np.empty(shape, dtype=np.uint8)
        elif out.shape != shape or out.dtype != np.uint8:
            raise ValueError(f"out must be a uint8 array of shape {shape}, got {out.dtype} {out.shape}")
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
        if self._decode is None or self.threads <= 1 or n < 16:
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
        if self._decode is not None:
            # one tile = one chunk: read its bytes and decompress them here, which skips
            # HDF5's selection machinery (several times faster for small tiles)
            mask, data = self._tiles.id.read_direct_chunk((i, 0, 0, 0))
            if not mask & 1:  # bit set: the filter was skipped for this chunk (stored as is)
                data = self._decode(data, self._chunk_bytes)
            if len(data) == self._chunk_bytes:
                dest[...] = np.frombuffer(data, dtype=np.uint8).reshape(dest.shape)
                return
        self._tiles.read_direct(dest, source_sel=np.s_[i], dest_sel=np.s_[...])

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
        if self._f.id.valid:
            self._f.close()

    def __enter__(self) -> TileStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _chunk_decoder(tiles: h5py.Dataset):
    """A function ``(chunk bytes, size) -> raw bytes`` for the tiles' filter, or None (use h5py)."""
    if tiles.chunks != (1,) + tiles.shape[1:]:
        return None
    if tiles.shuffle or tiles.fletcher32 or tiles.scaleoffset is not None:
        return None  # a filter pipeline this reader does not decode itself: let h5py do it
    if tiles.compression is None:
        return lambda data, n: data
    try:
        import imagecodecs
    except ImportError:  # pragma: no cover - imagecodecs is a dependency
        imagecodecs = None
    if tiles.compression == "gzip":
        if imagecodecs is not None and hasattr(imagecodecs, "zlibng_decode"):
            return lambda data, n: imagecodecs.zlibng_decode(data, out=n)
        return lambda data, n: zlib.decompress(data)
    if tiles.compression == "lzf" and imagecodecs is not None:
        return lambda data, n: imagecodecs.lzf_decode(data, header=False, out=n)
    return None


_END = object()


def prefetch_iter(iterable: Iterable, depth: int = 2) -> Iterator:
    """Iterate ``iterable`` in a background thread, keeping up to ``depth`` items ready.

    Exceptions raised by the producer are re-raised in the consumer. Stopping early (``break``)
    stops the producer.
    """
    if depth < 1:
        raise ValueError(f"prefetch depth must be >= 1, got {depth}")
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
