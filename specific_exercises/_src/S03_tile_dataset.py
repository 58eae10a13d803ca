# %% [markdown]
# # S03 · The HDF5 tile dataset, and reading it fast
#
# **Prerequisites:** none: S03 needs no other exercise. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - store the tiles of many slides once, in one HDF5 file with their labels, patients and centres;
# - understand chunking and compression: one tile per chunk makes random access cheap;
# - measure: random minibatches from the store against the same tiles read from the slides.
#
# **What you implement** (in this notebook): `random_batches`, the index plan of one epoch. The store itself
# is `camelyon.dataset` (`build_tile_store`, `TileStore`).
#
# The self-check runs `pytest -m S03` (save the notebook first).

# %%
DATA_DIR = None  # None: synthetic cohort (runs/notebook_cohort); or a CAMELYON17-style folder

# %%
import sys
import pathlib
import time

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "camelyon" / "__init__.py").exists())
sys.path[:0] = [str(ROOT), str(ROOT / "specific_exercises")]

from minicnn.teaching.progress import start_notebook

start_notebook("S03")  # what this notebook needs; an unwritten exercise stops a cell in one line

import h5py
import matplotlib.pyplot as plt
import numpy as np

import course_data
from camelyon.dataset import TileStore
from camelyon.slide import Slide
from camelyon.tiling import TileReader
from minicnn.teaching.selfcheck import self_check

# %% [markdown]
# ## 1. Why a tile store?
#
# Training a tile CNN reads each tile many times (once per epoch, in random order). Reading a tile from a
# slide means: find the JPEG tiles of the level that cover it, decode them (each 256 x 256 or larger), crop,
# maybe resize. Doing that for every minibatch makes the GPU (here: the CPU) wait on the disk and the JPEG
# decoder. So pipelines cut the tiles once and store them in a format built for random access: here HDF5,
# with
# - `tiles`: `(N, T, T, 3)` uint8, **one chunk per tile**, LZF-compressed (fast to decompress);
# - `labels`, `coords` (level-0 x, y), `slide`, `patient`, `centre`, `tissue_fraction`, `tumour_fraction`;
# - a slide table and the tiling parameters as attributes, so a model knows how its tiles were made.
#
# The store is built in parallel (one process per slide, each writing a part file) and assembled at the end;
# an interrupted build resumes. Normal tiles are capped per slide to keep the store small.

# %%
t0 = time.perf_counter()
store_path = course_data.tile_store(DATA_DIR, progress=False)
print(f"tile store {store_path} ({store_path.stat().st_size / 1e6:.1f} MB), ready in {time.perf_counter() - t0:.1f} s")
with h5py.File(store_path, "r") as f:
    for name, ds in f.items():
        if isinstance(ds, h5py.Dataset):
            print(f"  {name:16s} {str(ds.shape):22s} {str(ds.dtype):8s} chunks={ds.chunks} "
                  f"compression={ds.compression}")

store = TileStore(store_path)
print(f"{len(store)} tiles of {store.tile_shape} px at {store.um_per_px:g} um/px, "
      f"{int(store.labels.sum())} tumour, {len(np.unique(store.patients))} patients, "
      f"centres {sorted(set(store.centers.tolist()))}")

# %% [markdown]
# ## 2. Tiles per class
#
# A look at what the CNN will see: random tumour and normal tiles.

# %%
rng = np.random.default_rng(0)
fig, axes = plt.subplots(2, 8, figsize=(12, 3.4))
for r, label in enumerate((0, 1)):
    idx = rng.choice(np.flatnonzero(store.labels == label), size=8, replace=False)
    tiles, labels = store.read_batch(np.sort(idx))
    for ax, tile in zip(axes[r], tiles):
        ax.imshow(tile)
        ax.axis("off")
    axes[r, 0].set_title(["normal", "tumour"][label], loc="left")
plt.show()

# %% [markdown]
# **Exercise.** Write `random_batches(n, batch_size, rng)`: the minibatches of one epoch over `n` tiles, as a
# list of int64 index arrays. Every index `0..n-1` appears exactly once, in a random order drawn from the
# NumPy `Generator` `rng` (use `rng.permutation`), cut into consecutive batches of `batch_size` (the last one
# may be shorter).

# %% [markdown]
# **Hints for `random_batches`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# An epoch visits every tile once in a random order: shuffle the indices once, then cut them into consecutive batches (the last one may be shorter).
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# Batch $k$ holds positions $k\,b, \dots, \min((k+1)\,b, n) - 1$ of one permutation of $0..n-1$.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# order = rng.permutation(n)
# return [order[i:i + batch_size] for i in range(0, n, batch_size)]   # batch_size >= 1
# ```
# </details>

# %%
import numpy as np


def random_batches(n, batch_size, rng):
    """List of int64 index arrays covering 0..n-1 once, shuffled by ``rng``, of ``batch_size`` (last shorter)."""
    ### BEGIN SOLUTION (S03) permute range(n) with rng.permutation, then slice it every batch_size
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = rng.permutation(n).astype(np.int64)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]
    ### END SOLUTION

# %%
batches = random_batches(len(store), 64, np.random.default_rng(0))
assert sum(len(b) for b in batches) == len(store)
print(len(batches), "batches; first:", batches[0][:8])

# %% [markdown]
# ## 3. Timings: store against slides
#
# Read the same 256 random tiles (a) from the store with `read_batch`, (b) from the slides, each with
# `read_region` (what a pipeline without a store would do). The slide reads include opening the slide once per
# slide, as a data loader would.

# %%
sample = np.sort(rng.choice(len(store), size=min(256, len(store)), replace=False))
buffer = np.empty((len(sample),) + store.tile_shape, dtype=np.uint8)


def read_from_store():
    store.read_batch(sample, out=buffer)


records = {r.name: r for r in store.slide_records}
grid = course_data.tile_grid()


def read_from_slides():
    by_slide = {}
    for i in sample:
        by_slide.setdefault(store.slides[i], []).append(i)
    for name, idx in by_slide.items():
        with Slide(records[name].path) as s:
            reader = TileReader(s, grid.geometry(s))
            for i in idx:
                x, y = store.coords[i]
                reader.read(x, y)


def median_seconds(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


t_store = median_seconds(read_from_store)
t_slide = median_seconds(read_from_slides)
print(f"store : {len(sample) / t_store:9.0f} tiles/s")
print(f"slides: {len(sample) / t_slide:9.0f} tiles/s  (store is {t_slide / t_store:.0f}x faster)")

# sanity: the store holds what the slide holds (same pixels, up to the JPEG of the synthetic slide's writer)
i = sample[0]
with Slide(records[store.slides[i]].path) as s:
    from_slide = TileReader(s, grid.geometry(s)).read(*store.coords[i]).copy()
print("max |store - slide| on one tile:", int(np.abs(buffer[0].astype(int) - from_slide.astype(int)).max()))

fig, ax = plt.subplots(figsize=(5, 2.5))
ax.barh(["slides (read_region)", "tile store (read_batch)"], [len(sample) / t_slide, len(sample) / t_store],
        color=["tab:grey", "tab:blue"])
ax.set_xscale("log")
ax.set_xlabel("tiles per second (log)")
ax.set_title(f"{len(sample)} random {store.tile_shape[0]} px tiles")
plt.show()

# %% [markdown]
# **Questions.** (1) `read_batch` sorts the indices before reading: why would that help on a spinning disk or a
# network file system? (2) With one chunk per tile, what would gzip level 9 change (file size, read speed)?
# (3) Why should tiles of one patient never be split between training and validation (`split_by_patient`)?

# %% [markdown]
# ## Self-check
# Runs the tests marked `S03`: your `random_batches`, read from the saved notebook.

# %%
store.close()
self_check("S03")
