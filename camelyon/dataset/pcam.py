"""PatchCamelyon (PCam) read as it is distributed: 96 x 96 px CAMELYON16 tiles at 10x, no conversion.

PCam's files, once unpacked (they are downloaded gzip-compressed, ``.h5.gz``)::

    camelyonpatch_level_2_split_train_x.h5     dataset "x": (262144, 96, 96, 3) uint8
    camelyonpatch_level_2_split_train_y.h5     dataset "y": (262144, 1, 1, 1) uint8, 1 = tumour in the centre 32 x 32 px
    camelyonpatch_level_2_split_train_meta.csv  ,coord_y,coord_x,tumor_patch,center_tumor_patch,wsi
    ... the same for valid (32768) and test (32768)

:class:`PCamSplit` reads one split the way :class:`camelyon.dataset.TileStore` reads a tile store:
``labels`` in memory, ``read_batch(indices)`` (sorted reads, tiles put back in the order asked),
``iter_batches(sampler, prefetch=2)``; the tiles stay on disk. Indexing (``split.tiles[idx]``)
returns uint8 arrays, so the tile CNN trains from it directly, batch by batch.

Examples
--------
>>> from camelyon.dataset.pcam import open_pcam                                  # doctest: +SKIP
>>> splits = open_pcam("pcam")
>>> train = splits["train"]; len(train), train.labels.mean()
(262144, 0.5)
>>> tiles, labels = train.read_batch([5, 3, 9])   # (3, 96, 96, 3) uint8, (3,) int8
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from camelyon.errors import DatasetError
from minicnn.io import atomic_path

__all__ = ["PCAM_SPLITS", "PCAM_TILE", "PCAM_UM_PER_PX", "pcam_file", "PCamSplit", "open_pcam",
           "write_pcam_split", "PCamTiles"]

#: Split names in PCam's file names.
PCAM_SPLITS = ("train", "valid", "test")
#: Tile side in px.
PCAM_TILE = 96
#: Resolution of PCam tiles: CAMELYON16 level 2 (10x), about 0.243 * 4 um/px.
PCAM_UM_PER_PX = 0.972
_PREFIX = "camelyonpatch_level_2_split_"


def pcam_file(folder: str | os.PathLike, split: str, kind: str) -> Path:
    """Path of a PCam file: ``kind`` is ``x``, ``y`` (``.h5``) or ``meta`` (``.csv``)."""
    suffix = ".csv" if kind == "meta" else ".h5"
    return Path(folder) / f"{_PREFIX}{split}_{kind}{suffix}"


def _unpack_hint(folder: Path) -> str:
    return f"unpack the downloads first: gunzip {folder}/{_PREFIX}*.h5.gz"


class PCamTiles:
    """The ``x`` dataset of a split, indexable like an array without loading it.

    ``tiles[i]``, ``tiles[a:b]`` and ``tiles[index_array]`` return uint8 arrays (HWC); an index array
    is read in sorted order and returned in the order given.
    """

    def __init__(self, dataset, index: np.ndarray | None = None):
        self._ds = dataset
        self._index = None if index is None else np.asarray(index, dtype=np.int64)
        n = dataset.shape[0] if index is None else len(self._index)
        self.shape = (n,) + tuple(dataset.shape[1:])
        self.dtype = np.dtype(np.uint8)
        self.ndim = 4

    def __len__(self) -> int:
        return self.shape[0]

    def subset(self, index) -> PCamTiles:
        """A view of the tiles at ``index`` (positions in this view), still read on demand."""
        index = np.asarray(index, dtype=np.int64)
        return PCamTiles(self._ds, index if self._index is None else self._index[index])

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)) and self._index is None:
            return np.asarray(self._ds[key], dtype=np.uint8)
        if isinstance(key, slice):
            if self._index is None:
                return np.asarray(self._ds[key], dtype=np.uint8)
            key = np.arange(len(self))[key]
        idx = np.asarray(key)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64).reshape(-1)
        out = np.empty((len(idx),) + self.shape[1:], np.uint8)
        self.read_into(idx, out)
        return out

    def read_into(self, idx: np.ndarray, out: np.ndarray) -> None:
        if len(idx) == 0:
            return
        if idx.min() < 0 or idx.max() >= self.shape[0]:
            raise DatasetError(f"tile index out of range 0..{self.shape[0] - 1}")
        if self._index is not None:
            idx = self._index[idx]
        order = np.argsort(idx, kind="stable")
        uniq, inverse = np.unique(idx[order], return_inverse=True)
        # contiguous runs are read as one slice, the rest by h5py's sorted point selection
        breaks = np.flatnonzero(np.diff(uniq) != 1) + 1
        pieces = []
        for run in np.split(uniq, breaks):
            pieces.append(self._ds[int(run[0]):int(run[-1]) + 1])
        data = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
        out[order] = data[inverse]


class PCamSplit:
    """One PCam split (train, valid or test) opened for reading.

    Parameters
    ----------
    folder : path-like
        Folder holding PCam's files.
    split : {"train", "valid", "test"}

    Raises
    ------
    DatasetError
        A file is missing (with a one-line instruction when only the ``.h5.gz`` download is there),
        is not HDF5, lacks its dataset, or ``x`` and ``y`` disagree in shape.

    Attributes
    ----------
    labels : ndarray of shape (N,), int8
        1 when the centre 32 x 32 px hold tumour.
    tiles : PCamTiles
        The tiles, read on demand.
    meta : dict of ndarray or None
        ``coord_y``, ``coord_x``, ``tumor_patch``, ``center_tumor_patch``, ``wsi`` from the meta CSV
        when it is there.
    """

    def __init__(self, folder: str | os.PathLike, split: str):
        import h5py

        if split not in PCAM_SPLITS:
            raise DatasetError(f"PCam split must be one of {', '.join(PCAM_SPLITS)}, got {split!r}")
        self.folder, self.split = Path(folder), split
        self.tile_size = PCAM_TILE
        self.um_per_px = PCAM_UM_PER_PX
        files = {}
        for kind in ("x", "y"):
            path = pcam_file(self.folder, split, kind)
            if not path.is_file():
                gz = path.with_name(path.name + ".gz")
                if gz.is_file():
                    raise DatasetError(f"{gz} is still gzip-compressed; {_unpack_hint(self.folder)}")
                raise DatasetError(f"{path}: PCam file not found (expected {_PREFIX}{{train,valid,test}}_{{x,y}}.h5 "
                                   f"in {self.folder})")
            try:
                files[kind] = h5py.File(path, "r")
            except OSError as exc:
                for f in files.values():
                    f.close()
                raise DatasetError(f"{path}: not a readable HDF5 file ({exc})") from None
        self._files = files
        try:
            x, y = files["x"].get("x"), files["y"].get("y")
            if x is None or y is None:
                missing = "x" if x is None else "y"
                raise DatasetError(f"{pcam_file(self.folder, split, missing)}: no dataset '{missing}' (PCam layout)")
            if x.ndim != 4 or tuple(x.shape[1:]) != (PCAM_TILE, PCAM_TILE, 3) or x.dtype != np.uint8:
                raise DatasetError(f"{pcam_file(self.folder, split, 'x')}: dataset 'x' is {x.dtype} {x.shape}, "
                                   f"expected uint8 (N, 96, 96, 3)")
            if y.shape[0] != x.shape[0]:
                raise DatasetError(f"{pcam_file(self.folder, split, 'y')}: {y.shape[0]} labels for {x.shape[0]} tiles")
            self.labels = np.asarray(y[...]).reshape(len(y), -1)[:, 0].astype(np.int8)
            if not np.isin(self.labels, (0, 1)).all():
                raise DatasetError(f"{pcam_file(self.folder, split, 'y')}: labels must be 0 or 1")
            self.tiles = PCamTiles(x)
            self.meta = self._read_meta()
        except BaseException:
            self.close()
            raise

    def _read_meta(self) -> dict | None:
        path = pcam_file(self.folder, self.split, "meta")
        if not path.is_file():
            return None
        cols: dict[str, list] = {}
        with open(path, newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                return None
            names = [h.strip() for h in header]
            for name in names[1:]:
                cols[name] = []
            for lineno, row in enumerate(reader, start=2):
                if len(row) != len(names):
                    raise DatasetError(f"{path}:{lineno}: {len(row)} columns, expected {len(names)} ({','.join(names)})")
                for name, cell in zip(names[1:], row[1:], strict=True):
                    cols[name].append(cell)
        out = {}
        for name, values in cols.items():
            if name in ("coord_y", "coord_x"):
                out[name] = np.asarray(values, dtype=np.int64)
            elif name in ("tumor_patch", "center_tumor_patch"):
                out[name] = np.asarray([v.strip().lower() == "true" for v in values])
            else:
                out[name] = np.asarray(values)
        n = len(self)
        if any(len(v) != n for v in out.values()):
            raise DatasetError(f"{path}: {len(next(iter(out.values())))} rows for {n} tiles")
        return out

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (f"PCamSplit({str(self.folder)!r}, {self.split!r}: {len(self)} tiles, "
                f"{int(self.labels.sum())} tumour)")

    def read_batch(self, indices, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Tiles and labels at ``indices`` (any order, repeats allowed), as :meth:`TileStore.read_batch`."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if out is None:
            out = np.empty((len(idx), PCAM_TILE, PCAM_TILE, 3), np.uint8)
        self.tiles.read_into(idx, out[: len(idx)])
        return out[: len(idx)], self.labels[idx]

    def iter_batches(self, batches: Iterable, prefetch: int = 2) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``read_batch(b)`` for every index array ``b``, reading ahead on a thread."""
        from camelyon.dataset.reader import prefetch_iter

        return prefetch_iter((self.read_batch(b) for b in batches), depth=prefetch)

    def close(self) -> None:
        for f in getattr(self, "_files", {}).values():
            try:
                f.close()
            except Exception:  # noqa: BLE001 - closing twice or after a failed open
                pass
        self._files = {}

    def __enter__(self) -> PCamSplit:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_pcam(folder: str | os.PathLike, splits: Iterable[str] = PCAM_SPLITS) -> dict[str, PCamSplit]:
    """Open PCam's splits in ``folder``; a missing or still-compressed file is one clear error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"PCam folder not found: {folder}")
    gz = sorted(folder.glob(f"{_PREFIX}*.h5.gz"))
    unpacked = [g for g in gz if g.with_suffix("").is_file()]
    if gz and len(unpacked) < len(gz):
        raise DatasetError(f"{folder} holds {len(gz) - len(unpacked)} gzip-compressed PCam file(s) "
                           f"({gz[0].name}, ...); {_unpack_hint(folder)}")
    out = {}
    try:
        for s in splits:
            out[s] = PCamSplit(folder, s)
    except BaseException:
        for split in out.values():
            split.close()
        raise
    return out


def write_pcam_split(folder: str | os.PathLike, split: str, tiles: np.ndarray, labels: np.ndarray,
                     meta: dict | None = None, compression: str | None = None) -> list[Path]:
    """Write tiles and labels in exactly PCam's layout (for tests and small experiments).

    Parameters
    ----------
    folder : path-like
    split : {"train", "valid", "test"}
    tiles : ndarray of shape (N, 96, 96, 3), uint8
    labels : ndarray of shape (N,), 0 or 1
    meta : dict, optional
        Columns ``coord_y``, ``coord_x``, ``tumor_patch``, ``center_tumor_patch``, ``wsi``.
    compression : str or None
        HDF5 filter of the tiles (default none, stored contiguously: 262,144 tiles of 96 x 96 x 3
        bytes are the 7.2 GB the unpacked train file is).
    """
    import h5py

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tiles = np.asarray(tiles, np.uint8)
    labels = np.asarray(labels, np.uint8).reshape(-1, 1, 1, 1)
    paths = []
    for kind, data in (("x", tiles), ("y", labels)):
        path = pcam_file(folder, split, kind)
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
            chunks = (min(len(data), 32),) + data.shape[1:] if kind == "x" and compression and len(data) else None
            f.create_dataset(kind, data=data, chunks=chunks, compression=compression if kind == "x" else None)
        paths.append(path)
    if meta is not None:
        path = pcam_file(folder, split, "meta")
        cols = ["coord_y", "coord_x", "tumor_patch", "center_tumor_patch", "wsi"]
        lines = ["," + ",".join(cols)]
        for i in range(len(tiles)):
            lines.append(f"{i}," + ",".join(str(bool(meta[c][i])) if c.endswith("patch") else str(meta[c][i])
                                             for c in cols))
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths
