"""Presets of ``camelyon synth`` that the command line needs without importing the generator.

``camelyon.synthetic`` imports Numba, NumPy kernels and the painters (several seconds on a busy
machine); the argument parser of every ``camelyon`` command shows these defaults in ``synth``'s
help, so they live here and ``camelyon.synthetic.cohort`` re-exports them.
"""

#: Default level-0 resolution (um/px) and physical slide size (mm) of ``camelyon synth``.
DEFAULT_MPP = 0.5
DEFAULT_SIZE_MM = (6.0, 4.0)
#: The demo preset: 10x-like level 0 (1 um/px), 6 x 4 mm slides; ~1 s and a few MB per slide.
DEMO_MPP = 1.0
DEMO_SIZE = (6144, 4096)
