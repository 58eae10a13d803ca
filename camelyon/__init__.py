"""camelyon: a whole-slide histopathology pipeline for the CAMELYON16/17 lymph-node task.

Slides, annotations, tissue detection, tiling, an HDF5 tile store, stain normalization,
the tile CNN (built on :mod:`minicnn`), heatmaps, features, slide classification, pN staging
and evaluation, plus a synthetic cohort generator so everything runs on a laptop.
"""

__version__ = "0.1.0"
