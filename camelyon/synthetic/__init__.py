"""Synthetic CAMELYON17-style whole-slide images with exact ground truth.

``generate_cohort(out, n_patients, n_centers=5, seed=0, mpp=0.5, size=None, workers=None, progress=True)``
writes pyramidal TIFF slides of H&E-like lymph-node sections from five "centres" with different
staining, ASAP XML outlines of every metastasis, ``stage_labels.csv`` and ``ground_truth.csv``.
See ``docs/synthetic.md``.

Modules: :mod:`~camelyon.synthetic.stains` (centre colours), :mod:`~camelyon.synthetic.tissue_layout`
(sections), :mod:`~camelyon.synthetic.cells` (nuclei and fat), :mod:`~camelyon.synthetic.lesions`
(metastasis sizes and labels), :mod:`~camelyon.synthetic.painter` (pixels of a region),
:mod:`~camelyon.synthetic.pyramid_writer` (the TIFF), :mod:`~camelyon.synthetic.cohort` (the whole cohort).
"""

from camelyon.synthetic.cohort import (
    DEFAULT_MPP,
    DEMO_MPP,
    DEMO_SIZE,
    CohortSummary,
    generate_cohort,
    make_painter,
    plan_patients,
    plan_slide,
    render_slide,
)
from camelyon.synthetic.lesions import DEFAULT_STAGE_MIX
from camelyon.synthetic.painter import Painter, SlidePlan
from camelyon.synthetic.stains import CENTER_STAINS, center_stain

__all__ = [
    "generate_cohort",
    "make_painter",
    "plan_patients",
    "plan_slide",
    "render_slide",
    "CohortSummary",
    "Painter",
    "SlidePlan",
    "CENTER_STAINS",
    "center_stain",
    "DEFAULT_STAGE_MIX",
    "DEFAULT_MPP",
    "DEMO_MPP",
    "DEMO_SIZE",
]
