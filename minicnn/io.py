"""One way to write a file under its final name: never half-written, never a stray temporary.

Every file minicnn and camelyon write for a user (models, checkpoints, CSV tables, figures, HDF5
stores, JSON stamps) goes through this module:

- :func:`atomic_write` ``(path, writer)``: ``writer(fh)`` fills an open temporary file in the same
  folder; the file is flushed and ``fsync``-ed, then renamed over ``path`` in one step
  (``os.replace``), and the folder is synced so that the rename itself survives a power cut.
- :func:`atomic_path` ``(path)``: the same for libraries that want a file *name* (h5py, tifffile,
  matplotlib): a context manager that yields the temporary name and commits it on a clean exit.
- :func:`atomic_paths` / :func:`atomic_write_many`: several files committed together. Every file is
  written and synced before any final name is touched, so a failure while writing (an exception, a
  full disk, a kill) leaves all the previous files as they were. The renames then follow one another
  immediately; a reader that must know the files belong together stores a fingerprint of one in the
  other (see ``camelyon.slide_classifier``).
- :func:`atomic_folder` ``(path)``: a folder replaced as a whole (built under a temporary name, then
  renamed over the old one).
- :func:`write_text`, :func:`write_json`, :func:`save_npz`: the common cases in one line.

Temporary names are hidden and unique (``.<name>.<pid>.<random>.tmp``), so two processes writing the
same file never share one, and :func:`remove_stale_temporaries` can sweep what a killed run left.
On any failure the temporary file is deleted and the exception propagates; a full disk
(``ENOSPC``) is re-raised as an ``OSError`` that names the file.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as folder:
...     path = pathlib.Path(folder) / "hello.txt"
...     _ = atomic_write(path, lambda fh: fh.write("hello"), mode="w")
...     path.read_text(), sorted(p.name for p in pathlib.Path(folder).iterdir())
('hello', ['hello.txt'])
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "AtomicFiles",
    "atomic_folder",
    "atomic_path",
    "atomic_paths",
    "atomic_write",
    "atomic_write_many",
    "remove_stale_temporaries",
    "save_npz",
    "temporary_name",
    "write_json",
    "write_text",
]

TEMPORARY_SUFFIX = ".tmp"


def temporary_name(path: str | os.PathLike) -> Path:
    """A unique hidden name next to ``path`` (same folder, so that ``os.replace`` is atomic).

    ``data/model.npz`` -> ``data/.model.npz.<pid>.<8 hex digits>.tmp``.
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{TEMPORARY_SUFFIX}")


def is_temporary_name(name: str) -> bool:
    """True for a name :func:`temporary_name` makes (hidden, ending in ``.tmp``)."""
    return name.startswith(".") and name.endswith(TEMPORARY_SUFFIX)


def remove_stale_temporaries(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Delete the temporary files an interrupted writer left in ``folder``; return what was deleted.

    Only names made by :func:`temporary_name` are touched. Call it when no other process is writing
    into ``folder`` (at the start of a run that owns the folder).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = folder.rglob(".*" + TEMPORARY_SUFFIX) if recursive else folder.glob(".*" + TEMPORARY_SUFFIX)
    removed = []
    for p in found:
        if p.is_file() and is_temporary_name(p.name):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _sync_file(path: Path) -> None:
    """Push the bytes of ``path`` to the disk (for files a library closed itself)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _discard(tmp: Path) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


def _name_the_file(exc: OSError, path) -> OSError:
    """A full disk or quota error that says which file could not be written."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = "no space left on the device" if exc.errno == errno.ENOSPC else "disk quota exceeded"
        return OSError(exc.errno, f"could not write {path}: {reason}; the previous file (if any) is unchanged",
                       str(path))
    return exc


class AtomicFiles:
    """Temporary names for a set of final paths, committed together or discarded together.

    The context-manager functions below are the usual way in; this class is for writers whose
    lifetime is an object's (a part file filled tile by tile, see ``camelyon.dataset.store``).

    Parameters
    ----------
    paths : sequence of str or Path
        Final names (their folders are created). Distinct.

    Attributes
    ----------
    finals : list of Path
    temporaries : list of Path
        One hidden unique name per final path, in the same folder, ending in ``.tmp``.
    """

    def __init__(self, paths: Sequence[str | os.PathLike]):
        self.finals = [Path(p) for p in paths]
        if len(set(self.finals)) != len(self.finals):
            raise ValueError(f"the same path is given twice: {[str(p) for p in self.finals]}")
        for p in self.finals:
            p.parent.mkdir(parents=True, exist_ok=True)
        self.temporaries = [temporary_name(p) for p in self.finals]
        self.committed = False

    def commit(self) -> list[Path]:
        """Sync every temporary file to disk, then rename each over its final name; return the finals.

        No final name is touched until every file is written and synced. On failure the temporaries
        are deleted and the error is raised (a full disk as an ``OSError`` naming the files).
        """
        try:
            for tmp, final in zip(self.temporaries, self.finals, strict=True):
                if not tmp.is_file():
                    raise FileNotFoundError(f"nothing was written for {final} (expected the temporary file {tmp})")
                _sync_file(tmp)
            for tmp, final in zip(self.temporaries, self.finals, strict=True):
                os.replace(tmp, final)
            for folder in {p.parent for p in self.finals}:
                _sync_folder(folder)
        except BaseException as exc:
            self.fail(exc)
        self.committed = True
        return self.finals

    def discard(self) -> None:
        """Delete the temporary files (the final files stay as they were)."""
        for tmp in self.temporaries:
            _discard(tmp)

    def fail(self, exc: BaseException):
        """Discard the temporary files and raise ``exc`` (a full disk as an ``OSError`` naming the files)."""
        self.discard()
        if isinstance(exc, OSError):
            named = _name_the_file(exc, ", ".join(str(p) for p in self.finals))
            if named is not exc:
                raise named from exc
        raise exc


@contextlib.contextmanager
def atomic_paths(paths: Sequence[str | os.PathLike]) -> Iterator[list[Path]]:
    """Yield one temporary name per path; on a clean exit, commit them all under their final names.

    Parameters
    ----------
    paths : sequence of str or Path
        Final names (their folders are created). Distinct.

    Yields
    ------
    list of Path
        Temporary names, in the order of ``paths``. Write each one completely (any library may be used:
        they are plain file names, ending in ``.tmp``, so pass a format explicitly where a library guesses
        it from the suffix).

    Notes
    -----
    On an exception inside the block every temporary file is deleted and no final file is touched.
    On a clean exit each temporary file is synced to disk, then all are renamed, in order, and the
    folders are synced (:meth:`AtomicFiles.commit`).
    """
    files = AtomicFiles(paths)
    try:
        yield files.temporaries
    except BaseException as exc:
        files.fail(exc)
    files.commit()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary name for ``path``; on a clean exit it replaces ``path`` (see :func:`atomic_paths`).

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with atomic_path(pathlib.Path(folder) / "a.bin") as tmp:
    ...         _ = tmp.write_bytes(b"abc")
    ...     (pathlib.Path(folder) / "a.bin").read_bytes()
    b'abc'
    """
    with atomic_paths([path]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new empty folder next to ``path``; on a clean exit it takes the place of ``path``.

    For an output made of several files that is replaced as a whole (e.g. a folder of sample heatmaps).

    Parameters
    ----------
    path : str or Path
        Final folder (its parent is created). An existing folder there is replaced, not merged.

    Yields
    ------
    Path
        The new folder (a hidden temporary name in the same parent). Fill it completely.

    Notes
    -----
    On an exception inside the block the new folder is deleted and ``path`` is unchanged. On a clean exit
    every file in the new folder is synced, an existing ``path`` is moved aside under a temporary name,
    the new folder is renamed to ``path`` and the old one is deleted. POSIX has no portable way to
    exchange two folders in one step, so for an instant between the two renames ``path`` is absent; a
    kill in that instant leaves the previous folder next to it under a hidden ``.tmp`` name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    tmp.mkdir()
    try:
        yield tmp
        for p in sorted(tmp.rglob("*")):
            if p.is_file():
                _sync_file(p)
        old = temporary_name(path) if path.exists() else None
        if old is not None:
            os.replace(path, old)
        try:
            os.replace(tmp, path)
        except BaseException:
            if old is not None:
                os.replace(old, path)
            raise
        _sync_folder(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def atomic_write(path: str | os.PathLike, writer: Callable, *, mode: str = "wb",
                 encoding: str | None = None, newline: str | None = None) -> Path:
    """Write ``path`` by calling ``writer(fh)`` on an open temporary file, then rename it into place.

    Parameters
    ----------
    path : str or Path
        Final name; its folder is created.
    writer : callable
        ``writer(fh)`` writes the whole content to ``fh``; its return value is ignored.
    mode : {"wb", "w"}
        Binary (default) or text.
    encoding, newline : str, optional
        For text mode; ``encoding`` defaults to UTF-8.

    Returns
    -------
    Path
        ``path``.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    text = mode == "w"
    with atomic_path(path) as tmp:
        # "x": a new file with the usual permissions (umask), unlike mkstemp's 0600
        with open(tmp, "x" if text else "xb", encoding=(encoding or "utf-8") if text else None,
                  newline=newline if text else None) as fh:
            writer(fh)  # atomic_paths syncs the file to disk before renaming it
    return path


def atomic_write_many(writers: Mapping[str | os.PathLike, Callable], *, mode: str = "wb") -> list[Path]:
    """Write several files together: ``{path: writer}``, each ``writer(fh)`` as in :func:`atomic_write`.

    No final file changes unless every writer succeeded (see :func:`atomic_paths`).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write_many: mode must be 'wb' or 'w', got {mode!r}")
    items = list(writers.items())
    with atomic_paths([p for p, _ in items]) as temps:
        for tmp, (_, writer) in zip(temps, items, strict=True):
            with open(tmp, "x" if mode == "w" else "xb", encoding="utf-8" if mode == "w" else None) as fh:
                writer(fh)
    return [Path(p) for p, _ in items]


def write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Atomically write ``text`` to ``path``."""
    return atomic_write(path, lambda fh: fh.write(text), mode="w", encoding=encoding)


def write_json(path: str | os.PathLike, obj, *, indent: int | None = 2, sort_keys: bool = False) -> Path:
    """Atomically write ``obj`` as JSON (with a final newline) to ``path``."""
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys) + "\n"
    return write_text(path, text)


def save_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray], *, compressed: bool = False) -> Path:
    """Atomically write ``arrays`` to the ``.npz`` file ``path`` (used exactly as given: no suffix added).

    Parameters
    ----------
    path : str or Path
    arrays : mapping of str -> array-like
        Non-object arrays only (read them back with ``np.load(path, allow_pickle=False)``).
    compressed : bool
        ``np.savez_compressed`` instead of ``np.savez``.
    """
    save = np.savez_compressed if compressed else np.savez
    return atomic_write(path, lambda fh: save(fh, **arrays))
