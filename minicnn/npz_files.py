"""Open ``.npz`` model and checkpoint files with errors that say what is wrong with the file.

``numpy.load`` answers a text file, an empty or a truncated file with ``BadZipFile``,
``EOFError`` or advice about pickled data that does not apply (these files never hold pickles).
:func:`open_npz` turns each into a ``ValueError`` that names the file and what it is.

Examples
--------
>>> from minicnn.npz_files import open_npz                                  # doctest: +SKIP
>>> with open_npz("model.npz", "model file") as data:
...     names = data.files
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

__all__ = ["NPZ_READ_ERRORS", "open_npz", "describe_npz_error"]

#: What reading an entry of a damaged ``.npz`` file can raise.
NPZ_READ_ERRORS = (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile)

_ZIP_MAGIC = b"PK\x03\x04"


def describe_npz_error(exc: BaseException) -> str:
    """A short reason for a failed ``.npz`` read, without numpy's advice about pickles."""
    text = str(exc)
    if "pickled data" in text or "allow_pickle" in text:
        return "not a .npz file"
    if isinstance(exc, EOFError):
        return "the file ends early (truncated)"
    if isinstance(exc, zipfile.BadZipFile):
        return f"damaged zip data ({text})" if text else "damaged zip data"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def open_npz(path, what: str = ".npz file"):
    """``numpy.load(path, allow_pickle=False)`` with a clear ``ValueError`` for files that are not ``.npz``.

    Parameters
    ----------
    path : str or Path
    what : str
        What the file should be, for the messages ("model file", "checkpoint").

    Returns
    -------
    numpy.lib.npyio.NpzFile
        Use it as a context manager.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file is empty, truncated, not a zip/.npz file, or damaged; the message names it.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise ValueError(f"{path}: empty file, not a {what}; write it again")
    if head != _ZIP_MAGIC:
        raise ValueError(f"{path}: not a {what} (.npz files start with 'PK'; this one starts with {head!r})")
    try:
        data = np.load(path, allow_pickle=False)
    except NPZ_READ_ERRORS as exc:
        raise ValueError(f"{path}: truncated or damaged {what} ({describe_npz_error(exc)}); write it again") from None
    if not hasattr(data, "files"):  # pragma: no cover - a .npy file renamed .npz does not start with PK
        raise ValueError(f"{path}: a single .npy array, not a {what}")
    return data
