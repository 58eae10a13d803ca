"""Guards for the files a command writes: outputs are never inputs, and one run per output.

Three rules, checked before a command creates or deletes anything:

- an output path is never one of the command's inputs (``camelyon tiles s.tif --out s.tif``);
- an existing file is replaced only when it is the command's own kind of output (a tile store
  for ``tiles``, a CSV for ``features``, ...), and only with ``--overwrite`` where the command
  asks for it; a slide, an XML or a file of another kind is never touched;
- one run at a time per output: :class:`OutputLock` holds ``<output>.lock``, a small JSON file
  naming the process (pid, host, command, start time). A lock left by a process that is gone
  (killed, machine restarted) is taken over with a note.

Examples
--------
>>> from camelyon.outputs import refuse_inputs_as_output, OutputLock   # doctest: +SKIP
>>> refuse_inputs_as_output("tiles.h5", ["slides/a.tif"], option="--out")
>>> with OutputLock("tiles.h5", command="tiles"):
...     ...                                # write tiles.h5 (atomically)
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path

from camelyon.errors import CamelyonError
from camelyon.executor import process_alive

__all__ = [
    "OutputError",
    "same_file",
    "refuse_inputs_as_output",
    "file_kind",
    "refuse_foreign_output",
    "OutputLock",
    "lock_path",
]

_SIGNATURES = [
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    (b"II*\x00", "a TIFF image (a slide?)"),
    (b"MM\x00*", "a TIFF image (a slide?)"),
    (b"II+\x00", "a BigTIFF image (a slide?)"),
    (b"MM\x00+", "a BigTIFF image (a slide?)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"PK\x03\x04", "a zip or .npz file"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"<?xml", "an XML file"),
    (b"<ASAP", "an XML file"),
]


class OutputError(CamelyonError):
    """An output path that would destroy an input or a file of another kind, or that is in use."""


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same file (also through symlinks and hard links)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist: compare the resolved names
        return Path(a).resolve() == Path(b).resolve()


def refuse_inputs_as_output(out: str | os.PathLike, inputs: Iterable[str | os.PathLike], *,
                            option: str = "--out") -> None:
    """Raise :class:`OutputError` when ``out`` is one of ``inputs`` (also through a link).

    Parameters
    ----------
    out : path
        The output the command is about to write.
    inputs : iterable of paths
        Every input file or folder of the command (slides, annotations, models, references, ...).
    option : str
        How the output was given on the command line, named in the message.
    """
    out = Path(out)
    for item in inputs:
        if item is None:
            continue
        p = Path(item)
        if same_file(out, p):
            raise OutputError(
                f"{option} {out} is also an input of this command; outputs are never inputs: choose "
                f"another {option} (nothing was written or deleted)"
            )


def file_kind(path: str | os.PathLike) -> str:
    """A short description of what a file is, from its first bytes (``"a TIFF image (a slide?)"``)."""
    p = Path(path)
    if p.is_dir():
        return "a folder"
    try:
        with open(p, "rb") as f:
            head = f.read(16)
    except OSError:
        return "an unreadable file"
    if not head:
        return "an empty file"
    for sig, kind in _SIGNATURES:
        if head.startswith(sig):
            return kind
    return "a file of another kind"


def refuse_foreign_output(out: str | os.PathLike, *, is_own_kind: bool, own_kind: str,
                          option: str = "--out", overwrite_option: str | None = "--overwrite") -> None:
    """Raise :class:`OutputError` when ``out`` exists and is not the command's own kind of output.

    Parameters
    ----------
    out : path
    is_own_kind : bool
        Whether the existing file was recognised as this command's output (checked by the caller).
    own_kind : str
        What the command writes, for the message ("a camelyon tile store").
    overwrite_option : str or None
        The option that replaces an output of the own kind, named in the message.
    """
    out = Path(out)
    if not out.exists() or is_own_kind:
        return
    replace = f"; {overwrite_option} only replaces {own_kind}" if overwrite_option else ""
    raise OutputError(
        f"{option} {out} exists and is {file_kind(out)}, not {own_kind}{replace}: choose another {option} "
        "(the file was not touched)"
    )


def lock_path(out: str | os.PathLike) -> Path:
    """The lock file of an output: ``<folder>/<name>.lock``."""
    out = Path(out)
    return out.with_name(out.name + ".lock")


class OutputLock:
    """Hold ``<output>.lock`` while a command writes ``output``; a second run on it is refused.

    Parameters
    ----------
    out : path
        The output (a file or a folder).
    command : str
        Named in the lock file and in the message another run gets.

    Raises
    ------
    OutputError
        Another live process on this host holds the lock (the message names its pid and command),
        or a lock from another host exists.
    """

    def __init__(self, out: str | os.PathLike, command: str = "camelyon"):
        self.out = Path(out)
        self.path = lock_path(self.out)
        self.command = command
        self.taken_over: dict | None = None
        self._held = False

    def _describe(self) -> bytes:
        return json.dumps({
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": self.command,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }).encode()

    def acquire(self) -> OutputLock:
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self._read_holder()
                if holder is None or self._holder_alive(holder):
                    self._refuse(holder)
                self.taken_over = holder  # its process is gone: the lock is stale
                self.path.unlink(missing_ok=True)
                continue
            try:
                os.write(fd, self._describe())
            finally:
                os.close(fd)
            self._held = True
            return self
        self._refuse(self._read_holder())  # pragma: no cover - lost three races in a row
        return self

    def _read_holder(self) -> dict | None:
        try:
            holder = json.loads(self.path.read_text())
            return holder if isinstance(holder, dict) and isinstance(holder.get("pid"), int) else {}
        except FileNotFoundError:
            return {"pid": -1}  # removed in between: try again
        except (OSError, ValueError):
            return {}  # unreadable or half-written: treat as held

    def _holder_alive(self, holder: dict) -> bool:
        if holder.get("pid") == -1:
            return False
        if not holder or holder.get("host") != socket.gethostname():
            return True  # cannot tell: another machine's process may be running
        return process_alive(holder["pid"]) and holder["pid"] != os.getpid()

    def _refuse(self, holder: dict | None) -> None:
        who = (f"process {holder['pid']} ({holder.get('command', '?')}, on {holder.get('host', '?')}, "
               f"since {holder.get('started', '?')})" if holder else "another process")
        raise OutputError(
            f"{self.out} is being written by {who}; wait for it to finish, or, if that process is gone, "
            f"remove {self.path}"
        )

    def release(self) -> None:
        if self._held:
            self.path.unlink(missing_ok=True)
            self._held = False

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
