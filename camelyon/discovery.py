"""Which files are slides, and how to find them: one table and one search for the whole package.

``camelyon tiles``, ``camelyon heatmap``, ``camelyon pipeline`` and the tile-store builder all call
:func:`find_slides`, so they see the same slides (``.scn`` and ``.bif`` included) in the same order.
Layout-specific readers (CAMELYON16 ``training/tumor``, CAMELYON17 ``center_*``) build on it.

>>> SLIDE_FORMATS[".ndpi"]
'Hamamatsu NanoZoomer'
>>> is_slide_file("center_0/patient_000_node_0.tif"), is_slide_file(".patient_000_node_0.tif.42.ab12cd34.tmp")
(True, False)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path

from camelyon.errors import CamelyonError

__all__ = ["SLIDE_FORMATS", "SLIDE_SUFFIXES", "DiscoveryError", "DiscoveryWarning", "find_slides", "is_slide_file", "slide_files",
           "slide_stem"]

#: Whole-slide file suffixes that OpenSlide opens, with the scanner formats they stand for.
SLIDE_FORMATS: dict[str, str] = {
    ".tif": "generic or pyramidal TIFF (CAMELYON16/17)",
    ".tiff": "generic or pyramidal TIFF",
    ".svs": "Aperio",
    ".ndpi": "Hamamatsu NanoZoomer",
    ".vms": "Hamamatsu VMS",
    ".vmu": "Hamamatsu VMU",
    ".mrxs": "3DHISTECH MIRAX",
    ".scn": "Leica",
    ".bif": "Ventana",
    ".svslide": "Sakura",
}

#: The suffixes of :data:`SLIDE_FORMATS`, lower case, in the table's order.
SLIDE_SUFFIXES: tuple[str, ...] = tuple(SLIDE_FORMATS)


class DiscoveryError(CamelyonError):
    """A slide file or folder that does not exist, a folder without slides, or two slides with one name."""


def is_slide_file(path: str | os.PathLike) -> bool:
    """True for a name with a slide suffix that is neither hidden nor a temporary file (``.name.tmp``)."""
    name = Path(path).name
    return Path(name).suffix.lower() in SLIDE_SUFFIXES and not name.startswith(".")


def slide_stem(name: str | os.PathLike) -> str:
    """The file name without its slide suffix: ``center_1/patient_004_node_3.tif`` -> ``patient_004_node_3``.

    Names without a slide suffix (``patient_004.zip``, ``tumor_001``) keep everything but a final
    ``.zip`` or ``.npz``.
    """
    name = Path(str(name)).name
    lower = name.lower()
    for suffix in (*SLIDE_SUFFIXES, ".npz", ".zip"):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


class DiscoveryWarning(UserWarning):
    """Part of a slide folder could not be searched: an unreadable subfolder, a symlink loop, a broken link."""


def slide_files(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """The :func:`is_slide_file` files in ``folder`` (and below it when ``recursive``), sorted by name.

    Symbolic links to folders are followed, each real folder once (a link back to a parent is a
    loop and is skipped). What cannot be searched is not skipped silently: an unreadable subfolder,
    a symlink loop and a broken link with a slide suffix each give a :class:`DiscoveryWarning`
    naming the path. No error for a folder without slides (an empty list); :func:`find_slides` is
    the checked search.
    """
    folder = Path(folder)
    found: list[Path] = []
    problems: list[str] = []
    seen = {os.path.realpath(folder)}

    def unreadable(exc: OSError) -> None:
        problems.append(f"{exc.filename}: cannot read this folder ({exc.strerror or exc}); its slides are left out")

    for top, dirs, files in os.walk(folder, onerror=unreadable, followlinks=True):
        for name in files:
            p = Path(top) / name
            if not is_slide_file(p):
                continue
            if p.is_file():
                found.append(p)
            elif p.is_symlink():
                problems.append(f"{p}: broken symbolic link (to {os.readlink(p)}); left out")
        if not recursive:
            break
        keep = []
        for name in dirs:
            real = os.path.realpath(os.path.join(top, name))
            if real in seen:
                problems.append(f"{Path(top) / name}: leads to {real}, already searched (a symbolic link loop or a "
                                "second path to the same folder); not followed")
                continue
            seen.add(real)
            keep.append(name)
        dirs[:] = sorted(keep)
    for message in problems:
        warnings.warn(message, DiscoveryWarning, stacklevel=2)
    return sorted(found, key=lambda p: (p.name, str(p)))


def _suffix_list() -> str:
    return ", ".join(SLIDE_SUFFIXES)


def find_slides(inputs: str | os.PathLike | Iterable[str | os.PathLike], *, keep_missing: bool = False) -> list[Path]:
    """Slide files named directly or found (recursively) in folders: sorted, each once.

    Parameters
    ----------
    inputs : path or iterable of paths
        Slide files (taken whatever their suffix) and folders (searched recursively for
        :func:`is_slide_file` names).
    keep_missing : bool
        Keep a named file that does not exist (the tile builder reports it as a failed slide)
        instead of raising.

    Returns
    -------
    list of Path
        Sorted by file name, then by full path.

    Raises
    ------
    DiscoveryError
        A path that does not exist (unless ``keep_missing``), a folder with no slide file, or two
        slides with the same name stem (their tiles and heatmaps would overwrite each other).
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    found: dict[str, Path] = {}
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            hits = slide_files(p)
            if not hits:
                raise DiscoveryError(f"{p}: no slide files ({_suffix_list()}) in this folder")
            for q in hits:
                found.setdefault(str(q), q)
        elif p.is_file() or keep_missing:
            found.setdefault(str(p), p)
        else:
            raise DiscoveryError(f"slide file or folder not found: {p}")
    slides = sorted(found.values(), key=lambda q: (q.name, str(q)))
    by_stem: dict[str, Path] = {}
    for q in slides:
        other = by_stem.setdefault(slide_stem(q), q)
        if other is not q:
            raise DiscoveryError(f"two slides share the name {slide_stem(q)!r}: {other} and {q}; their tiles and "
                                 f"heatmaps would overwrite each other (rename or move one)")
    return slides
