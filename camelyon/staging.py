"""Slide labels and pN stages by the CAMELYON17 rules.

A slide's label comes from its largest metastasis, measured by its longest diameter:
macro above 2.0 mm, micro above 0.2 mm up to 2.0 mm, itc up to 0.2 mm, negative without tumour.
A patient's pN stage comes from the labels of its (five) lymph-node slides; ITC does not count
as a metastasis when nodes are counted.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from camelyon.csv_cells import escape_cell, unescape_cell
from camelyon.discovery import slide_stem
from camelyon.errors import CamelyonError
from minicnn.io import atomic_write

#: Slide labels, from least to most severe.
SLIDE_LABELS = ("negative", "itc", "micro", "macro")
#: pN stages in the order used by the quadratic weighted kappa.
STAGES = ("pN0", "pN0(i+)", "pN1mi", "pN1", "pN2")

#: Largest-diameter thresholds in mm (CAMELYON17).
ITC_MAX_MM = 0.2
MICRO_MAX_MM = 2.0


def slide_label_from_diameter(largest_diameter_mm: float | None) -> str:
    """Slide label from the longest diameter (mm) of its largest lesion; ``None`` or 0 means no lesion.

    >>> slide_label_from_diameter(None), slide_label_from_diameter(0.15), slide_label_from_diameter(2.5)
    ('negative', 'itc', 'macro')
    """
    if largest_diameter_mm is None or largest_diameter_mm <= 0:
        return "negative"
    if largest_diameter_mm <= ITC_MAX_MM:
        return "itc"
    if largest_diameter_mm <= MICRO_MAX_MM:
        return "micro"
    return "macro"


def normalize_slide_label(label: str) -> str:
    """Lower-case and check a slide label; raises CamelyonError naming the bad value."""
    value = str(label).strip().lower()
    if value not in SLIDE_LABELS:
        raise CamelyonError(f"unknown slide label {label!r}; expected one of {', '.join(SLIDE_LABELS)}")
    return value


def pn_stage(slide_labels: Iterable[str]) -> str:
    """pN stage of a patient from the labels of its lymph-node slides (CAMELYON17 rules).

    Parameters
    ----------
    slide_labels : iterable of str
        One of negative / itc / micro / macro per node (case-insensitive).

    Returns
    -------
    str
        One of ``STAGES``.

    Examples
    --------
    >>> pn_stage(["negative", "itc", "negative", "negative", "negative"])
    'pN0(i+)'
    >>> pn_stage(["micro", "micro", "micro", "micro", "negative"])
    'pN1mi'
    >>> pn_stage(["macro", "micro", "micro", "micro", "negative"])
    'pN2'
    """
    labels = [normalize_slide_label(x) for x in slide_labels]
    ### BEGIN SOLUTION (S09)
    n_macro = labels.count("macro")
    n_micro = labels.count("micro")
    n_metastatic = n_macro + n_micro  # ITC is not counted as a metastasis
    if n_macro > 0:
        return "pN2" if n_metastatic >= 4 else "pN1"
    if n_micro > 0:
        return "pN1mi"
    if "itc" in labels:
        return "pN0(i+)"
    return "pN0"
    ### END SOLUTION


# --------------------------------------------------------------------------------------------
# CAMELYON17 CSV files: ``patient,stage`` with patient rows (``patient_004.zip,pN1``) and slide
# rows (``patient_004_node_0.tif,negative``).
# --------------------------------------------------------------------------------------------

_STAGE_BY_LOWER = {s.lower(): s for s in STAGES}
_NODE_RE = re.compile(r"^(?P<patient>.+?)_node_\d+$")


def normalize_stage(stage: str) -> str:
    """The canonical spelling (one of ``STAGES``) of a stage name given in any case.

    >>> normalize_stage("PN0(I+)")
    'pN0(i+)'
    """
    value = _STAGE_BY_LOWER.get(str(stage).strip().lower())
    if value is None:
        raise CamelyonError(f"unknown pN stage {stage!r}; expected one of {', '.join(STAGES)}")
    return value


def patient_of(slide: str) -> str:
    """Patient id of a slide file name: ``patient_004_node_3.tif`` -> ``patient_004``.

    A name without ``_node_<n>`` is its own patient (its stem).
    """
    stem = slide_stem(slide)
    m = _NODE_RE.match(stem)
    return m.group("patient") if m else stem


def _slide_identity(name: str) -> str:
    """A slide name without its file extension, which may differ in case (``a.TIF`` is ``a.tif``)."""
    return slide_stem(name)


@dataclass
class StageTable:
    """The contents of a CAMELYON17 ``patient,stage`` CSV.

    Attributes
    ----------
    patients : dict of str to str
        Patient id (without ``.zip``, e.g. ``patient_004``) -> pN stage (one of ``STAGES``).
    slides : dict of str to str
        Slide file name (``patient_004_node_0.tif``) -> slide label (one of ``SLIDE_LABELS``).
    path : str
        File the table was read from ('' when built in memory).
    lines : dict of str to int
        Line number of each patient id and slide name in ``path`` (1-based; header is line 1).
    """

    patients: dict = field(default_factory=dict)
    slides: dict = field(default_factory=dict)
    path: str = ""
    lines: dict = field(default_factory=dict)

    def where(self, key: str) -> str:
        """``file:line`` of a patient id or slide name, for error messages."""
        line = self.lines.get(key)
        return f"{self.path}:{line}" if line else (self.path or "<table>")

    def slides_of(self, patient: str) -> list[str]:
        """Slide names of one patient, sorted."""
        return sorted(s for s in self.slides if patient_of(s) == patient)


def read_stage_csv(path: str | os.PathLike) -> StageTable:
    """Read a CAMELYON17 ``patient,stage`` CSV (reference labels or a submission).

    Rows whose first column ends in ``.zip`` are patients (stage names compared case-insensitively);
    other rows are slides (labels negative / itc / micro / macro, case-insensitive). The header line
    ``patient,stage`` may be missing. Blank lines are skipped.

    Raises
    ------
    CamelyonError
        Missing file; a row without exactly two columns; an unknown stage or slide label; a patient or
        slide listed twice. The message names the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise CamelyonError(f"stage CSV not found: {path}")
    table = StageTable(path=str(path))
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CamelyonError(f"cannot read stage CSV {path}: {exc}") from exc
    seen_slides: dict[str, str] = {}  # slide identity (name without extension) -> the row's name
    for line_no, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not cells or all(c == "" for c in cells):
            continue
        if line_no == 1 and [c.lower() for c in cells[:2]] == ["patient", "stage"]:
            continue
        if len(cells) != 2:
            raise CamelyonError(f"{path}:{line_no}: expected 2 columns 'patient,stage', got {len(cells)}: {row}")
        name, value = unescape_cell(cells[0]), cells[1]
        if name == "":
            raise CamelyonError(f"{path}:{line_no}: empty patient/slide name")
        if name.lower().endswith(".zip"):
            key = name[:-4]
            target = table.patients
            try:
                parsed = normalize_stage(value)
            except CamelyonError as exc:
                raise CamelyonError(f"{path}:{line_no}: {exc}") from None
        else:
            key = name
            target = table.slides
            try:
                parsed = normalize_slide_label(value)
            except CamelyonError as exc:
                if line_no == 1:  # neither a data row nor the expected header
                    raise CamelyonError(f"{path}:1: expected the header 'patient,stage' or a data row, "
                                        f"got {','.join(row)!r}") from None
                raise CamelyonError(f"{path}:{line_no}: {exc}") from None
        if key in target:
            raise CamelyonError(
                f"{path}:{line_no}: duplicated row {name!r} (already on line {table.lines[key]})"
            )
        same = _slide_identity(key) if target is table.slides else None
        if same is not None and same in seen_slides:
            first = seen_slides[same]
            raise CamelyonError(
                f"{path}:{line_no}: {name!r} is the same slide as {first!r} on line {table.lines[first]} (file "
                "extensions differ only in case or are left out); keep one row per slide"
            )
        if same is not None:
            seen_slides[same] = key
        target[key] = parsed
        table.lines[key] = line_no
    return table


def write_stage_csv(path: str | os.PathLike, patients: Mapping[str, str],
                    slides: Mapping[str, str] | None = None) -> Path:
    """Write a CAMELYON17 ``patient,stage`` CSV atomically.

    Each patient row (``patient_004.zip,pN1``) is followed by the rows of its slides, sorted.

    Parameters
    ----------
    path : path
        Output file.
    patients : mapping
        Patient id (with or without ``.zip``) -> pN stage (any case; written canonically).
    slides : mapping, optional
        Slide file name -> slide label.
    """
    slides = dict(slides or {})
    by_patient: dict[str, list[str]] = {}
    for s in slides:
        by_patient.setdefault(patient_of(s), []).append(s)

    def write_rows(fh) -> None:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["patient", "stage"])
        written = set()
        for pid in sorted(patients):
            key = pid[:-4] if pid.lower().endswith(".zip") else pid
            w.writerow([escape_cell(f"{key}.zip"), normalize_stage(patients[pid])])
            for s in sorted(by_patient.get(key, [])):
                w.writerow([escape_cell(s), normalize_slide_label(slides[s])])
                written.add(s)
        for s in sorted(set(slides) - written):  # slides of patients without a stage row
            w.writerow([escape_cell(s), normalize_slide_label(slides[s])])

    return atomic_write(path, write_rows, mode="w", newline="")


def stages_from_slide_labels(slide_labels: Mapping[str, str]) -> dict:
    """pN stage of every patient from its slides' labels.

    Parameters
    ----------
    slide_labels : mapping
        Slide file name (``patient_004_node_0.tif``) -> slide label.

    Returns
    -------
    dict
        Patient id (``patient_004``) -> pN stage, sorted by patient id.
    """
    by_patient: dict[str, list[str]] = {}
    for s, lab in slide_labels.items():
        by_patient.setdefault(patient_of(s), []).append(lab)
    return {p: pn_stage(by_patient[p]) for p in sorted(by_patient)}
