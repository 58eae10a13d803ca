"""camelyon: a whole-slide histopathology pipeline for the CAMELYON16/17 lymph-node task.

Slides, annotations, tissue detection, tiling, an HDF5 tile store, stain normalization,
the tile CNN (built on :mod:`minicnn`), heatmaps, features, slide classification, pN staging
and evaluation, plus a synthetic cohort generator so everything runs on a laptop.
"""

__version__ = "0.1.0"

import os as _os  # noqa: E402

import minicnn.numba_cache as _numba_cache  # noqa: E402

# camelyon's own Numba kernels (synthetic painter, ...) need a writable cache folder too
_numba_cache.ensure_writable_cache(_os.path.dirname(_os.path.abspath(__file__)))
