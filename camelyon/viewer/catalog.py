"""What the viewer may show: the slides under a data folder and the files a run wrote about them.

The catalogue is built once, when the viewer starts, by walking the folders it was given (which files are
slides: :func:`camelyon.discovery.is_slide_file`; the walk is this module's own because it must not follow
links out of the folders). Every
file the server will ever read is in it, found by that walk and checked to lie inside one of the
given folders after symbolic links are resolved. A request names a slide by its file stem and the
server looks the stem up here: no part of a URL is ever joined to a path, so ``..``, absolute paths
and links that lead out of the folders cannot reach a file.

Layouts understood (CAMELYON17 and CAMELYON16 style, real or synthetic)::

    DATA/center_<c>/patient_<ppp>_node_<n>.tif     slides (any OpenSlide format, any depth)
    DATA/**/<stem>.xml                             ASAP annotations of a slide
    DATA/**/<stem>.geojson                         QuPath GeoJSON annotations of a slide
    DATA/stage_labels.csv                          reference slide labels and pN stages
    RUN/slide_predictions.csv, RUN/predictions.csv predicted slide labels and pN stages
    RUN/features.csv                               heatmap features of each slide
    RUN/heatmaps/<stem>.npz, RUN/<stem>.npz        tumour-probability heatmaps (pipeline, camelyon heatmap)
    RUN/tiles.h5                                   the tile store (tile grid with labels)
    RUN/**/<stem>.csv  probability,X,Y rows      detections (CAMELYON16 FROC submission, header optional)
    DATA/training/{normal,tumor}/, DATA/testing/images/, DATA/testing/reference.csv   CAMELYON16 labels
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from camelyon.discovery import SLIDE_SUFFIXES, is_slide_file
from camelyon.errors import CamelyonError

__all__ = ["SlideEntry", "Catalog", "inside"]

#: Annotation file suffixes, by format.
ANNOTATION_SUFFIXES = {".xml": "asap", ".geojson": "geojson", ".json": "geojson"}


def inside(path: Path, roots) -> bool:
    """True when ``path``, with every symbolic link resolved, lies in one of ``roots`` (resolved)."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    for root in roots:
        try:
            real.relative_to(root)
            return True
        except ValueError:
            continue
    return False


@dataclass
class SlideEntry:
    """One slide of the catalogue and what is known about it.

    Attributes
    ----------
    stem : str
        File name without suffix; the slide's name in URLs (``patient_004_node_3``).
    path : Path
        The slide file.
    centre : str
        The folder the slide lies in (``center_2``), or '' at the top of the data folder.
    reference_label, reference_stage : str
        Slide label (negative/itc/micro/macro) and the patient's pN stage from
        ``stage_labels.csv``; '' when unknown.
    predicted_label, predicted_stage : str
        The same from a run's predictions; '' without ``--run``.
    features : dict
        Feature name -> value from the run's ``features.csv``.
    annotations : Path or None
        ASAP XML or GeoJSON file; or an in-memory :class:`~camelyon.annotations.AnnotationSet`
        (notebooks).
    heatmap : Path or None
        ``.npz`` written by ``camelyon heatmap``; or an in-memory :class:`~camelyon.heatmap.Heatmap`.
    detections : Path or None
        CSV with columns ``probability,X,Y`` (level-0 px).
    tile_store : Path or None
        Tile store holding this slide's tiles.
    """

    stem: str
    path: Path
    centre: str = ""
    reference_label: str = ""
    reference_stage: str = ""
    predicted_label: str = ""
    predicted_stage: str = ""
    features: dict = field(default_factory=dict)
    annotations: object = None
    heatmap: object = None
    detections: object = None
    tile_store: Path | None = None

    def summary(self) -> dict:
        """The row of ``/slides.json``."""
        return {
            "name": self.stem, "file": self.path.name, "centre": self.centre,
            "reference_label": self.reference_label, "reference_stage": self.reference_stage,
            "predicted_label": self.predicted_label, "predicted_stage": self.predicted_stage,
            "features": self.features,
            "overlays": {"annotations": self.annotations is not None, "heatmap": self.heatmap is not None,
                         "detections": self.detections is not None, "grid": self.tile_store is not None,
                         "lesions": self.heatmap is not None},
        }


class Catalog:
    """The slides the viewer serves, keyed by stem.

    Parameters
    ----------
    entries : list of SlideEntry
    roots : list of Path
        Folders (resolved) the files were found in.
    warnings : list of str
        Tables that could not be read (shown on the page, the viewer still starts).
    """

    def __init__(self, entries, roots, warnings=None):
        self.entries = {e.stem: e for e in entries}
        self.roots = [Path(r) for r in roots]
        self.warnings = list(warnings or [])

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, stem: str) -> SlideEntry | None:
        return self.entries.get(stem)

    def rows(self) -> list[dict]:
        return [self.entries[s].summary() for s in sorted(self.entries)]

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def from_folders(cls, data_dir, run_dir=None) -> Catalog:
        """Walk ``data_dir`` (and ``run_dir``) and collect slides, labels and overlays.

        Parameters
        ----------
        data_dir : path-like
            Folder of slides (searched at any depth), or one slide file.
        run_dir : path-like, optional
            Folder written by ``camelyon pipeline`` (or ``heatmap`` / ``tiles``).

        Raises
        ------
        CamelyonError
            A folder does not exist, or no slide is in ``data_dir``.
        """
        data = Path(data_dir)
        if not data.exists():
            raise CamelyonError(f"data folder not found: {data}")
        single = data if data.is_file() else None
        root = (data.parent if single else data).resolve()
        roots = [root]
        run = None
        if run_dir is not None:
            run = Path(run_dir)
            if not run.is_dir():
                raise CamelyonError(f"run folder not found: {run}")
            run = run.resolve()
            roots.append(run)
        files = [single.resolve()] if single else _walk(root, roots)
        slides = [p for p in files if is_slide_file(p)]
        if not slides:
            raise CamelyonError(f"no slide files ({', '.join(SLIDE_SUFFIXES)}) under {data}")
        entries, seen = [], {}
        for p in sorted(slides, key=lambda q: (q.name, str(q))):
            stem = p.stem
            if stem in seen:  # two slides with one stem: keep the first, say so
                continue
            seen[stem] = p
            centre = p.parent.name if p.parent != root else ""
            entries.append(SlideEntry(stem, p, centre=centre))
        warnings = [f"{q}: a second slide named {q.stem}; only {seen[q.stem]} is shown"
                    for q in slides if seen.get(q.stem) not in (None, q)]
        by_stem = {e.stem: e for e in entries}
        data_files = files if not single else _walk(root, roots)
        _attach_annotations(by_stem, data_files)
        if (root / "stage_labels.csv").is_file():
            _attach_reference(by_stem, root / "stage_labels.csv", warnings)
        elif not single:
            _attach_camelyon16_reference(by_stem, root, roots, warnings)
        if run is not None:
            _attach_run(by_stem, run, _walk(run, roots), warnings)
        return cls(entries, roots, warnings)


def _walk(root: Path, roots) -> list[Path]:
    """Files under ``root`` (following no link out of ``roots``), resolved, hidden and temporary skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or ".tmp" in name:
                continue
            p = Path(dirpath) / name
            if inside(p, roots) and p.is_file():
                found.append(p.resolve())
    return found


def _attach_annotations(by_stem: dict, files) -> None:
    """``<stem>.xml`` / ``<stem>.geojson`` anywhere under the data folder; ASAP XML wins a tie."""
    for p in files:
        fmt = ANNOTATION_SUFFIXES.get(p.suffix.lower())
        entry = by_stem.get(p.stem)
        if fmt is None or entry is None:
            continue
        if entry.annotations is None or (fmt == "asap" and Path(entry.annotations).suffix.lower() != ".xml"):
            entry.annotations = p


def _read_or_warn(reader, path: Path, what: str, warnings: list):
    """``reader(path)``; None when the file is absent, or broken (then a warning "<what> not shown: ...")."""
    if not path.is_file():
        return None
    try:
        return reader(path)
    except CamelyonError as exc:
        warnings.append(f"{what} not shown: {exc}")
        return None


def _attach_reference(by_stem: dict, path: Path, warnings: list) -> None:
    from camelyon.staging import patient_of, read_stage_csv

    table = _read_or_warn(read_stage_csv, path, "reference labels", warnings)
    if table is None:
        return
    for e in by_stem.values():
        e.reference_label = table.slides.get(e.path.name, "")
        e.reference_stage = table.patients.get(patient_of(e.path.name), "")


def _attach_camelyon16_reference(by_stem: dict, root: Path, roots, warnings: list) -> None:
    """CAMELYON16: training slides are normal or tumour by folder, test slides by ``reference.csv``."""
    from camelyon.camelyon16.layout import detect_layout
    from camelyon.camelyon16.reference import read_reference, slide_key

    try:
        layout = detect_layout(root)
    except CamelyonError:
        return
    if layout.kind != "camelyon16":
        return
    for stem, role in layout.roles.items():
        if stem in by_stem and role in ("normal", "tumour"):
            by_stem[stem].reference_label = "negative" if role == "normal" else "tumour"
    if layout.reference is None or not inside(layout.reference, roots):
        return
    rows = _read_or_warn(read_reference, layout.reference, "reference labels", warnings)
    if rows is None:
        return
    for e in by_stem.values():
        row = rows.get(slide_key(e.stem))
        if row is not None:
            e.reference_label = (row["size"].lower() or "tumour") if row["tumour"] else "negative"


def _attach_run(by_stem: dict, run: Path, files, warnings: list) -> None:
    from camelyon.staging import patient_of, read_stage_csv

    slide_csv = run / "slide_predictions.csv"
    stage_csv = run / "predictions.csv"
    for path, kind in ((slide_csv, "slides"), (stage_csv, "patients")):
        table = _read_or_warn(read_stage_csv, path, "predictions", warnings)
        if table is None:
            continue
        for e in by_stem.values():
            if kind == "slides" and e.path.name in table.slides:
                e.predicted_label = table.slides[e.path.name]
            if kind == "patients":
                e.predicted_stage = table.patients.get(patient_of(e.path.name), e.predicted_stage)
                if not e.predicted_label:
                    e.predicted_label = table.slides.get(e.path.name, "")
    from camelyon.features import read_features_csv

    features = _read_or_warn(read_features_csv, run / "features.csv", "features", warnings)
    if features is not None:
        slides, names, X, _labels = features
        for s, row in zip(slides, X, strict=True):
            e = by_stem.get(Path(s).stem)
            if e is not None:
                e.features = {n: round(float(v), 6) for n, v in zip(names, row, strict=True)}
    for p in files:
        e = by_stem.get(p.stem)
        if p.suffix == ".npz" and e is not None and (p.parent.name == "heatmaps" or p.parent == run):
            e.heatmap = p
        elif p.suffix.lower() == ".csv" and e is not None and _is_detection_csv(p):
            e.detections = p
    stores = [p for p in files if p.suffix == ".h5" and p.name.startswith("tiles")]
    for store in stores:
        for stem in _store_slides(store, warnings):
            if stem in by_stem and by_stem[stem].tile_store is None:
                by_stem[stem].tile_store = store


def _is_detection_csv(path: Path) -> bool:
    """A CSV of detections: first row ``probability,X,Y`` (any case) or three numbers (CAMELYON16, no header)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            first = next((r for r in csv.reader(fh) if any(c.strip() for c in r)), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    cells = [c.strip().lower() for c in first]
    if cells[:3] == ["probability", "x", "y"]:
        return True
    try:
        return len(cells) == 3 and all(float(c) == float(c) for c in cells)
    except ValueError:
        return False


def _store_slides(path: Path, warnings: list) -> list[str]:
    """Stems of the slides a tile store holds tiles of."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            names = f["slides/name"][:]
    except (OSError, KeyError) as exc:
        warnings.append(f"tile grid not shown: {path} is not a readable tile store ({exc})")
        return []
    return [Path(n.decode() if isinstance(n, bytes) else str(n)).stem for n in names]
