"""An HDF5 tile dataset: build it from slides in parallel, read random minibatches fast.

- :func:`build_tile_store` tiles many slides in worker processes into one HDF5 file
  (resumable; a failing slide is reported and costs no other slide its tiles).
- :class:`TileStore` reads it: ``read_batch(indices)``, per-tile ``labels``, ``patients``,
  ``centers``, ``slides``, and ``iter_batches`` with background :func:`prefetch`.
- :class:`BalancedSampler` draws class-balanced batches; :func:`split_by_patient` and
  :func:`split_by_center` make splits that keep a patient's tiles together.
"""

from camelyon.dataset.build import BuildReport, build_tile_store, find_slides, parse_slide_name
from camelyon.dataset.reader import TileStore, prefetch
from camelyon.dataset.sampling import BalancedSampler
from camelyon.dataset.splits import split_by_center, split_by_patient

__all__ = [
    "build_tile_store",
    "BuildReport",
    "find_slides",
    "parse_slide_name",
    "TileStore",
    "prefetch",
    "BalancedSampler",
    "split_by_patient",
    "split_by_center",
]
