"""The HDF5 layout of a tile store, and the code that writes it.

A tile store is one HDF5 file::

    /tiles            (N, T, T, 3) uint8   one tile per chunk, compressed (see below)
    /labels           (N,)  int8           1 tumour, 0 normal
    /coords           (N, 2) int64         level-0 (x, y) of each tile's top-left corner
    /tissue_fraction  (N,)  float32
    /tumour_fraction  (N,)  float32
    /slide            (N,)  int32          row of the tile's slide in /slides
    /patient          (N,)  int32          row of the tile's patient in /patients
    /centre           (N,)  int16          centre (hospital) id, -1 when unknown
    /tile_crc32       (N,)  uint32         CRC-32 of each tile's chunk bytes as stored (compressed or
                                           not); absent in stores written before checksums
    /patients         (P,)  str            patient names
    /slides/<column>  (S,)                 the slide table: name, path, patient, centre, start,
                                           count, positives, width, height, mpp, level, read_size, um_per_px,
                                           annotated, tissue_fraction
    attrs: format, format_version, software, software_version, tile_size, level, um_per_px,
           params (JSON), failed (JSON list of [slide, error])
    /slides attrs: warnings (JSON: slide -> messages), fingerprints (JSON: slide -> input
           fingerprint, see camelyon.fingerprints; absent in stores written before them)

Tiles of a slide are contiguous (rows ``start`` to ``start + count`` of its slide-table row),
slides are sorted by name. A store is only ever written under a temporary name and renamed when
complete, so a reader never sees a half-written file.

A tile's chunk is stored compressed only when compression saves at least
:data:`CHUNK_MIN_SAVING` of its bytes; otherwise it is stored as is, with bit 0 of its HDF5
filter mask set (HDF5 and h5py read both kinds transparently). Decompressing costs more read
time than it saves for tiles that hardly compress (dense, noisy tissue), while tiles with
background compress well and stay compressed.

Per-slide *part files* (``<store>.parts/<slide>.h5``) hold the tiles of one slide in the same
chunk layout; workers write them (atomically) and the parent copies their compressed chunks into
the store without recompressing them.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

import camelyon
from camelyon.errors import DatasetError, DatasetParameterError
from minicnn.io import AtomicFiles, atomic_path

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "TILE_COLUMNS",
    "SLIDE_COLUMNS",
    "SlideRecord",
    "tile_dataset_options",
    "chunk_encoder",
    "CHUNK_MIN_SAVING",
    "PartWriter",
    "CHECKSUM_COLUMN",
    "read_part_info",
    "assemble_store",
]

FORMAT = "camelyon-tile-store"
FORMAT_VERSION = 1

#: A tile chunk is stored compressed only when that saves at least this fraction of its bytes.
#: On the synthetic cohort's 96 px tiles (LZF) this keeps about 57 % of the tiles compressed,
#: costs 2.7 % more disk than compressing every tile, and reads random batches faster
#: (docs/tiles.md).
CHUNK_MIN_SAVING = 0.10

#: Per-tile columns besides /tiles, with their dtypes (shape (N,) or (N, 2)).
TILE_COLUMNS = {
    "labels": np.int8,
    "coords": np.int64,
    "tissue_fraction": np.float32,
    "tumour_fraction": np.float32,
}

_STR = h5py.string_dtype("utf-8")

#: Per-tile checksum column: CRC-32 (zlib) of each tile's chunk bytes exactly as stored in the file.
CHECKSUM_COLUMN = "tile_crc32"


def _crc32_function():
    # libdeflate's CRC-32 (SIMD), the same values as zlib.crc32 and about 4x faster on this machine
    try:
        from imagecodecs import deflate_crc32

        if deflate_crc32(b"camelyon") == zlib.crc32(b"camelyon"):
            return deflate_crc32
    except ImportError:  # pragma: no cover - imagecodecs built without libdeflate
        pass
    return zlib.crc32  # pragma: no cover


#: ``tile_checksum(chunk bytes) -> int``: the CRC-32 stored in :data:`CHECKSUM_COLUMN`.
tile_checksum = _crc32_function()

#: Columns of the slide table (/slides/<name>).
SLIDE_COLUMNS = {
    "name": _STR,
    "path": _STR,
    "patient": _STR,
    "centre": np.int16,
    "start": np.int64,
    "count": np.int64,
    "positives": np.int64,
    "width": np.int64,
    "height": np.int64,
    "mpp": np.float64,
    "level": np.int16,
    "read_size": np.int32,
    "um_per_px": np.float64,
    "annotated": np.bool_,
    "tissue_fraction": np.float32,
}


@dataclass
class SlideRecord:
    """One row of the slide table (``start`` is set when the store is assembled)."""

    name: str
    path: str
    patient: str
    centre: int
    count: int = 0
    positives: int = 0
    width: int = 0
    height: int = 0
    mpp: float = float("nan")
    level: int = 0
    read_size: int = 0
    um_per_px: float = float("nan")
    annotated: bool = False
    tissue_fraction: float = 0.0
    start: int = 0
    warnings: list = field(default_factory=list)
    #: the slide's input fingerprint when it was tiled (:mod:`camelyon.fingerprints`); None in old stores
    fingerprint: dict | None = None

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SlideRecord:
        return cls(**json.loads(text))


def tile_dataset_options(compression: str | None, level: int | None) -> dict:
    """h5py ``create_dataset`` keywords for the tile dataset's filter."""
    if compression in (None, "none"):
        return {}
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": 4 if level is None else int(level)}
    if compression == "lzf":
        return {"compression": "lzf"}
    raise DatasetError(f"compression must be 'gzip', 'lzf' or 'none', got {compression!r}")


def chunk_encoder(compression: str | None, level: int | None, min_saving: float = CHUNK_MIN_SAVING):
    """A function ``raw bytes -> (chunk bytes, filter mask)`` matching :func:`tile_dataset_options`.

    Parameters
    ----------
    compression : {'lzf', 'gzip', 'none'} or None
    level : int or None
        gzip level (default 4).
    min_saving : float in [0, 1)
        A chunk whose compressed size is above ``(1 - min_saving)`` times its raw size is
        stored as is, with filter-mask bit 0 set, as HDF5's own filters do for chunks that
        do not shrink.
    """
    if not 0.0 <= min_saving < 1.0:
        raise DatasetError(f"min_saving must be in [0, 1), got {min_saving!r}")
    if compression in (None, "none"):
        return lambda raw: (raw, 0)
    if compression == "gzip":
        lv = 4 if level is None else int(level)
        compress = lambda raw: zlib.compress(raw, lv)  # noqa: E731
    elif compression == "lzf":
        import imagecodecs

        compress = lambda raw: imagecodecs.lzf_encode(raw, header=False)  # noqa: E731
    else:
        raise DatasetError(f"compression must be 'gzip', 'lzf' or 'none', got {compression!r}")

    def encode(raw):
        limit = len(raw) * (1.0 - min_saving)
        try:
            data = compress(raw)
        except Exception:  # noqa: BLE001 - incompressible: liblzf gives up
            return raw, 1
        return (data, 0) if len(data) < len(raw) and len(data) <= limit else (raw, 1)

    return encode


class PartWriter:
    """Write the tiles of one slide to a part file, one tile at a time (bounded memory).

    Use as a context manager; the file appears under its final name only after :meth:`commit`.

    Parameters
    ----------
    path : Path
        Final part-file path.
    n : int
        Number of tiles.
    tile_size : int
    compression, compression_level :
        Filter of the tile chunks (must match the store).
    """

    def __init__(self, path: Path, n: int, tile_size: int, compression: str | None, compression_level=None):
        self.path = Path(path)
        self._files = AtomicFiles([self.path])
        self.tmp = self._files.temporaries[0]
        self.n = int(n)
        self._f = h5py.File(self.tmp, "w")
        t = int(tile_size)
        self.tiles = self._f.create_dataset(
            "tiles",
            shape=(self.n, t, t, 3),
            maxshape=(None, t, t, 3),
            dtype=np.uint8,
            chunks=(1, t, t, 3),
            **tile_dataset_options(compression, compression_level),
        )
        self._chunk_bytes = t * t * 3
        self._encode = chunk_encoder(compression, compression_level)
        self._crc = np.zeros(self.n, dtype=np.uint32)

    def write_tile(self, i: int, tile: np.ndarray) -> None:
        """Store tile ``i`` (shape (T, T, 3), uint8).

        The tile is compressed here and written as one raw chunk, which skips h5py's selection
        machinery and chunk cache (about 3x faster than ``dataset[i] = tile``); the bytes are what
        HDF5's own filter would write, so any HDF5 reader decodes them.
        """
        raw = np.ascontiguousarray(tile, dtype=np.uint8).tobytes()
        if len(raw) != self._chunk_bytes:
            raise DatasetParameterError(f"tile {i} has {len(raw)} bytes, expected {self._chunk_bytes} ({self.tiles.shape[1:]})")
        data, mask = self._encode(raw)
        self._crc[i] = tile_checksum(data)
        self.tiles.id.write_direct_chunk((i, 0, 0, 0), data, mask)

    def commit(self, table: np.ndarray, record: SlideRecord, params_json: str) -> None:
        """Write the per-tile columns and the slide record, close, and rename to the final name."""
        f = self._f
        f.create_dataset("labels", data=table["label"].astype(np.int8))
        f.create_dataset("coords", data=np.stack([table["x"], table["y"]], axis=1).astype(np.int64).reshape(-1, 2))
        f.create_dataset("tissue_fraction", data=table["tissue_fraction"].astype(np.float32))
        f.create_dataset("tumour_fraction", data=table["tumour_fraction"].astype(np.float32))
        f.create_dataset(CHECKSUM_COLUMN, data=self._crc)
        f.attrs["record"] = record.to_json()
        f.attrs["params"] = params_json
        f.close()
        self._files.commit()

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._f.id.valid:
            self._f.close()
        if not self._files.committed:
            self._files.discard()


def read_part_info(path: Path) -> tuple[SlideRecord, str] | None:
    """(record, params JSON) of a complete part file, or None when it is unreadable or incomplete."""
    try:
        with h5py.File(path, "r") as f:
            return SlideRecord.from_json(f.attrs["record"]), str(f.attrs["params"])
    except Exception:  # noqa: BLE001 - any damage means "redo this slide"
        return None


def _copy_chunks(src: h5py.Dataset, dst: h5py.Dataset, src_start: int, dst_start: int, n: int,
                 crc: np.ndarray) -> None:
    """Copy ``n`` compressed tile chunks without decompressing them; their checksums go to ``crc``.

    The checksums are those of the source file when it has them (so a chunk damaged on its way
    through this copy is still caught on reading), else computed from the bytes read here.
    """
    src_crc = src.file[CHECKSUM_COLUMN] if CHECKSUM_COLUMN in src.file else None
    for k in range(n):
        filter_mask, data = src.id.read_direct_chunk((src_start + k, 0, 0, 0))
        dst.id.write_direct_chunk((dst_start + k, 0, 0, 0), data, filter_mask)
        crc[dst_start + k] = tile_checksum(data)
    if src_crc is not None and n:
        expected = src_crc[src_start : src_start + n]
        bad = np.flatnonzero(expected != crc[dst_start : dst_start + n])
        if bad.size:
            raise DatasetError(f"{src.file.filename}: tile {src_start + int(bad[0])} is damaged (its checksum does "
                               "not match its bytes); rebuild this file (camelyon tiles ... --overwrite)")


def assemble_store(
    out: Path,
    sources: list[tuple[SlideRecord, Path, int]],
    *,
    tile_size: int,
    compression: str | None,
    compression_level: int | None,
    attrs: dict,
    progress=None,
) -> None:
    """Write a complete store from slide sources, under a temporary name, then rename it to ``out``.

    Parameters
    ----------
    out : Path
    sources : list of (SlideRecord, file, offset)
        Each slide's tiles are rows ``offset`` to ``offset + record.count`` of ``file``'s tile
        datasets (a part file with offset 0, or an existing store).
    attrs : dict
        Extra file attributes (level, um_per_px, params, failed...).
    progress : callable, optional
        Called with the number of tiles copied after each slide.
    """
    sources = sorted(sources, key=lambda s: s[0].name)
    n_total = int(sum(rec.count for rec, _, _ in sources))
    t = int(tile_size)
    patients = sorted({rec.patient for rec, _, _ in sources})
    patient_row = {p: i for i, p in enumerate(patients)}
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["software"] = "camelyon"
        f.attrs["software_version"] = camelyon.__version__
        f.attrs["tile_size"] = t
        for k, v in attrs.items():
            f.attrs[k] = v
        tiles = f.create_dataset(
            "tiles",
            shape=(n_total, t, t, 3),
            maxshape=(None, t, t, 3),
            dtype=np.uint8,
            chunks=(1, t, t, 3),
            **tile_dataset_options(compression, compression_level),
        )
        cols = _empty_columns(n_total)
        records = []
        start = 0
        for row, (rec, path, offset) in enumerate(sources):
            n = int(rec.count)
            with h5py.File(path, "r") as src:
                if n:
                    _copy_chunks(src["tiles"], tiles, offset, start, n, cols[CHECKSUM_COLUMN])
                    for name in TILE_COLUMNS:
                        cols[name][start : start + n] = src[name][offset : offset + n]
            cols["slide"][start : start + n] = row
            cols["patient"][start : start + n] = patient_row[rec.patient]
            cols["centre"][start : start + n] = rec.centre
            rec = SlideRecord(**{**rec.__dict__, "start": start})
            records.append(rec)
            start += n
            if progress is not None:
                progress(n)
        for name, values in cols.items():
            f.create_dataset(name, data=values)
        f.create_dataset("patients", data=np.array(patients, dtype=object), dtype=_STR)
        _write_slide_table(f, records)


def _empty_columns(n_total: int) -> dict[str, np.ndarray]:
    """The per-tile columns of a store of ``n_total`` tiles, zero-filled, by dataset name."""
    return {
        "labels": np.zeros(n_total, np.int8),
        "coords": np.zeros((n_total, 2), np.int64),
        "tissue_fraction": np.zeros(n_total, np.float32),
        "tumour_fraction": np.zeros(n_total, np.float32),
        "slide": np.zeros(n_total, np.int32),
        "patient": np.zeros(n_total, np.int32),
        "centre": np.zeros(n_total, np.int16),
        CHECKSUM_COLUMN: np.zeros(n_total, np.uint32),
    }


def _write_slide_table(f: h5py.File, records: list[SlideRecord]) -> None:
    """The ``slides`` group of an open store: one row per record (the inverse of :func:`read_slide_records`)."""
    g = f.create_group("slides")
    for name, dtype in SLIDE_COLUMNS.items():
        values = [getattr(r, name) for r in records]
        if dtype is _STR:
            g.create_dataset(name, data=np.array(values, dtype=object), dtype=_STR)
        else:
            g.create_dataset(name, data=np.array(values, dtype=dtype).reshape(len(records)))
    g.attrs["warnings"] = json.dumps({r.name: r.warnings for r in records if r.warnings})
    g.attrs["fingerprints"] = json.dumps({r.name: r.fingerprint for r in records if r.fingerprint})


def read_slide_records(f: h5py.File) -> list[SlideRecord]:
    """The slide table of an open store as records."""
    g = f["slides"]
    n = len(g["name"])
    warnings_by_slide = json.loads(g.attrs.get("warnings", "{}"))
    fingerprints = json.loads(g.attrs.get("fingerprints", "{}"))  # absent in stores from before fingerprints
    cols = {}
    for name, dtype in SLIDE_COLUMNS.items():
        data = g[name].asstr()[()] if dtype is _STR else g[name][()]
        cols[name] = data
    out = []
    for i in range(n):
        kw = {}
        for name, dtype in SLIDE_COLUMNS.items():
            v = cols[name][i]
            kw[name] = str(v) if dtype is _STR else v.item()
        kw["warnings"] = warnings_by_slide.get(kw["name"], [])
        kw["fingerprint"] = fingerprints.get(kw["name"])
        out.append(SlideRecord(**kw))
    return out
