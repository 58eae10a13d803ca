"""Which layout a data folder has, and which slides, annotations and reference tables it holds.

Three layouts are recognised:

``camelyon16`` (as the challenge ships it; ``ROOT`` may also be ``training/`` or ``testing/`` itself)::

    ROOT/training/normal/normal_001.tif ...      160 normal training slides
    ROOT/training/tumor/tumor_001.tif ...        110 tumour training slides
    ROOT/testing/images/test_001.tif ...         129 test slides
    ROOT/lesion_annotations/tumor_001.xml ...    ASAP XML (or QuPath GeoJSON) per tumour slide; also
                                                 looked for in training/ and testing/
    ROOT/testing/reference.csv                   test_001,Tumor,Macro ... (which test slides are tumour)

``camelyon17``: ``ROOT/center_<c>/patient_<ppp>_node_<n>.tif``, ``lesion_annotations/``,
``stage_labels.csv`` (what ``camelyon synth`` writes).

``slides``: any other folder; every slide file below it is used.

Examples
--------
>>> layout = detect_layout("CAMELYON16")                          # doctest: +SKIP
>>> print(layout.describe())                                       # doctest: +SKIP
CAMELYON16 layout in CAMELYON16: 270 training slides (160 normal, 110 tumour), 129 test slides, ...
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from camelyon.camelyon16.reference import read_reference, slide_key
from camelyon.errors import CamelyonError
from camelyon.messages import count_noun

__all__ = ["Layout", "detect_layout", "list_slides", "ANNOTATION_SUFFIXES", "ROLES"]

#: Suffixes of annotation files (ASAP XML, QuPath GeoJSON).
ANNOTATION_SUFFIXES = (".xml", ".geojson", ".json")
#: Roles of a slide in the CAMELYON16 layout.
ROLES = ("normal", "tumour", "test")


def list_slides(folder: Path, recursive: bool = True) -> list[Path]:
    """Slide files in ``folder`` (below it when ``recursive``), sorted by name; hidden and partial files skipped."""
    from camelyon.discovery import slide_files

    return slide_files(folder, recursive=recursive)


@dataclass
class Layout:
    """What :func:`detect_layout` found.

    Attributes
    ----------
    kind : str
        ``"camelyon16"``, ``"camelyon17"`` or ``"slides"``.
    root : Path
    slides : dict
        Slide stem -> path, sorted by stem.
    roles : dict
        Slide stem -> ``"normal"``, ``"tumour"`` or ``"test"`` (CAMELYON16 layout only).
    annotations : dict
        Slide key (lower-case stem) -> annotation file, from every ``lesion_annotations`` folder found.
    annotation_dirs : list of Path
    reference : Path or None
        ``testing/reference.csv`` (CAMELYON16) or ``stage_labels.csv`` (CAMELYON17).
    """

    kind: str
    root: Path
    slides: dict = field(default_factory=dict)
    roles: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    annotation_dirs: list = field(default_factory=list)
    reference: Path | None = None

    def with_role(self, *roles: str) -> dict:
        """Slides (stem -> path) whose role is one of ``roles``."""
        return {s: p for s, p in self.slides.items() if self.roles.get(s) in roles}

    @property
    def training(self) -> dict:
        return self.with_role("normal", "tumour")

    @property
    def testing(self) -> dict:
        return self.with_role("test")

    def annotation_of(self, stem: str) -> Path | None:
        return self.annotations.get(slide_key(stem))

    def is_tumour(self, stem: str) -> bool | None:
        """Tumour or normal when the layout says it (folder, reference.csv); None when it does not."""
        role = self.roles.get(stem)
        if role in ("normal", "tumour"):
            return role == "tumour"
        if self.kind == "camelyon16" and self.reference is not None:
            row = _reference_rows(self.reference).get(slide_key(stem))
            if row is not None:
                return bool(row["tumour"])
        return None

    def describe(self) -> str:
        """One line saying which layout was found and what it holds."""
        n_ann = count_noun(len(self.annotations), "annotation file")
        if self.kind == "camelyon16":
            normal, tumour, test = (len(self.with_role(r)) for r in ROLES)
            parts = []
            if normal or tumour:
                parts.append(f"{count_noun(normal + tumour, 'training slide')} ({normal} normal, {tumour} tumour)")
            if test:
                parts.append(count_noun(test, "test slide"))
            parts.append(n_ann)
            ref = f", reference {self.reference}" if self.reference else ", no testing/reference.csv"
            return f"CAMELYON16 layout in {self.root}: {', '.join(parts)}{ref}"
        if self.kind == "camelyon17":
            centres = sorted({p.parent.name for p in self.slides.values()})
            return (f"CAMELYON17 layout in {self.root}: {count_noun(len(self.slides), 'slide')} in "
                    f"{count_noun(len(centres), 'centre folder')}, {n_ann}"
                    + (f", stages {self.reference}" if self.reference else ", no stage_labels.csv"))
        return f"plain slide folder {self.root}: {count_noun(len(self.slides), 'slide')}, {n_ann}"


_REFERENCE_CACHE: dict = {}


def _reference_rows(path: Path) -> dict:
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _REFERENCE_CACHE:
        _REFERENCE_CACHE[key] = read_reference(path)
    return _REFERENCE_CACHE[key]


def _camelyon16_parts(root: Path) -> dict[str, Path]:
    """Role -> folder of the CAMELYON16 parts present under ``root`` (or ``root`` being a part)."""
    candidates = {
        "normal": [root / "training" / "normal", root / "normal"],
        "tumour": [root / "training" / "tumor", root / "tumor", root / "training" / "tumour", root / "tumour"],
        "test": [root / "testing" / "images", root / "images"],
    }
    parts = {}
    for role, folders in candidates.items():
        for f in folders:
            if f.is_dir():
                parts[role] = f
                break
    # ROOT/images alone is any folder of images, not CAMELYON16: require testing/ or a reference next to it
    if "test" in parts and parts["test"] == root / "images" and not (root / "reference.csv").is_file() \
            and not ({"normal", "tumour"} & parts.keys()):
        del parts["test"]
    return parts


def _annotation_dirs(root: Path) -> list[Path]:
    found = []
    for cand in (root / "lesion_annotations", root / "training" / "lesion_annotations",
                 root / "testing" / "lesion_annotations", root.parent / "lesion_annotations"):
        if cand.is_dir() and cand.resolve() not in [f.resolve() for f in found]:
            found.append(cand)
    return found


def _annotation_files(dirs: list[Path]) -> dict[str, Path]:
    """Slide key -> annotation file; the first folder wins, and in a folder ASAP XML before GeoJSON (as
    :func:`camelyon.dataset.build.find_annotation`)."""
    out: dict[str, Path] = {}
    rank = {suffix: i for i, suffix in enumerate(ANNOTATION_SUFFIXES)}
    for d in dirs:
        found: dict[str, Path] = {}
        files = [f for f in d.iterdir() if f.is_file() and f.suffix.lower() in rank and not f.name.startswith(".")]
        for f in sorted(files, key=lambda f: (rank[f.suffix.lower()], f.name)):
            key = slide_key(f.name)
            if not key.endswith("_mask"):
                found.setdefault(key, f)
        for key, f in found.items():
            out.setdefault(key, f)
    return out


def detect_layout(root: str | os.PathLike) -> Layout:
    """Find out which layout ``root`` has and list its slides, annotations and reference table.

    Raises
    ------
    CamelyonError
        ``root`` is not a folder, or holds no slide file.
    """
    root = Path(root)
    if not root.is_dir():
        raise CamelyonError(f"data folder not found: {root}")
    parts = _camelyon16_parts(root)
    dirs = _annotation_dirs(root)
    if parts:
        slides, roles = {}, {}
        for role in ROLES:
            if role in parts:
                for p in list_slides(parts[role], recursive=False):
                    slides[p.stem] = p
                    roles[p.stem] = role
        if not slides:
            raise CamelyonError(f"{root} has the CAMELYON16 folders ({', '.join(str(f) for f in parts.values())}) "
                                "but no slide file in them")
        reference = None
        for cand in (root / "testing" / "reference.csv", root / "reference.csv"):
            if cand.is_file():
                reference = cand
                break
        return Layout("camelyon16", root, dict(sorted(slides.items())), roles, _annotation_files(dirs), dirs, reference)
    slides_list = list_slides(root)
    if not slides_list:
        from camelyon.discovery import SLIDE_SUFFIXES

        raise CamelyonError(f"no slide files ({', '.join(SLIDE_SUFFIXES)}) under {root}")
    slides = {p.stem: p for p in slides_list}
    stage = root / "stage_labels.csv"
    if stage.is_file() or any(p.parent.name.startswith("center_") for p in slides_list):
        return Layout("camelyon17", root, slides, {}, _annotation_files(dirs), dirs,
                      stage if stage.is_file() else None)
    return Layout("slides", root, slides, {}, _annotation_files(dirs), dirs, None)


def expand_inputs(inputs, roles: tuple[str, ...], purpose: str, log=print) -> list:
    """Slide inputs of a step command, with every folder's layout announced.

    A folder holding a CAMELYON16 layout is replaced by its slides of the given ``roles`` (e.g.
    the training slides for ``camelyon tiles``, the test slides for ``camelyon heatmap``); other
    folders and files are kept as they are.

    Parameters
    ----------
    inputs : iterable of str or Path
    roles : tuple of str
        ``"normal"``, ``"tumour"``, ``"test"``.
    purpose : str
        What the step does with them, for the message (``"tiling"``).
    log : callable
        Receives one line per folder.
    """
    out: list = []
    for item in inputs:
        p = Path(item)
        if not p.is_dir():
            out.append(item)
            continue
        try:
            layout = detect_layout(p)
        except CamelyonError:
            out.append(item)  # the step reports an empty folder in its own words
            continue
        if layout.kind == "camelyon16":
            chosen = layout.with_role(*roles)
            if chosen:
                what = " and ".join({"normal": "normal", "tumour": "tumour", "test": "test"}[r] for r in roles)
                log(f"{layout.describe()}; {purpose} its {count_noun(len(chosen), what + ' slide')}")
                out += list(chosen.values())
                continue
        log(layout.describe())
        out.append(item)
    return out
