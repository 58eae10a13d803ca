"""Input fingerprints: tell, on a rerun, which slides changed since their results were computed.

A fingerprint of a slide is its absolute path, size in bytes and modification time (ns), and the
SHA-256 of its annotation file (None when it has none). Reading every byte of a gigapixel slide
would cost minutes, so a slide is taken as unchanged while its path, size and mtime are; an
annotation file is small and is hashed, so editing it is seen even when its mtime is kept.

Examples
--------
>>> from camelyon.fingerprints import fingerprint, changes           # doctest: +SKIP
>>> old = fingerprint("slides/a.tif", "xml/a.xml")
>>> changes(old, fingerprint("slides/a.tif", None))
'annotation removed'
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["fingerprint", "changes", "file_digest"]


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(slide: str | os.PathLike, annotation: str | os.PathLike | None = None) -> dict:
    """The fingerprint of a slide and its annotation file.

    Returns
    -------
    dict
        ``{"path": str, "size": int, "mtime_ns": int, "annotation": str or None}`` (the annotation's
        SHA-256); ``size`` and ``mtime_ns`` are -1 when the slide cannot be examined.
    """
    p = Path(slide)
    try:
        st = p.stat()
        size, mtime = int(st.st_size), int(st.st_mtime_ns)
    except OSError:
        size, mtime = -1, -1
    digest = None
    if annotation is not None:
        try:
            digest = file_digest(annotation)
        except OSError:
            digest = "unreadable"
    return {"path": os.path.abspath(os.fsdecode(p)), "size": size, "mtime_ns": mtime, "annotation": digest}


def changes(old: dict | None, new: dict) -> str | None:
    """What differs between two fingerprints in words, or None when they match.

    An ``old`` of None (results written before fingerprints existed) counts as unchanged.
    """
    if not old:
        return None
    what = []
    if old.get("path") != new["path"]:
        what.append(f"moved from {old.get('path')}")
    if old.get("size") != new["size"] or old.get("mtime_ns") != new["mtime_ns"]:
        what.append("slide file changed")
    a, b = old.get("annotation"), new["annotation"]
    if a != b:
        what.append("annotation added" if a is None else "annotation removed" if b is None else "annotation changed")
    return ", ".join(what) or None
