"""Slide labels and pN stages by the CAMELYON17 rules.

A slide's label comes from its largest metastasis, measured by its longest diameter:
macro above 2.0 mm, micro above 0.2 mm up to 2.0 mm, itc up to 0.2 mm, negative without tumour.
A patient's pN stage comes from the labels of its (five) lymph-node slides; ITC does not count
as a metastasis when nodes are counted.
"""

from __future__ import annotations

from collections.abc import Iterable

from camelyon.errors import CamelyonError

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
