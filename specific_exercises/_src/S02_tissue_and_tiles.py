# %% [markdown]
# # S02 · Tissue detection, tiling and tile labels
#
# **Prerequisites:** none: S02 needs no other exercise. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - find the tissue on a slide from a thumbnail (HSV saturation, Otsu's threshold, morphology in microns);
# - cut the tissue into a grid of tiles at a chosen resolution (um per pixel), keeping tiles with enough tissue;
# - label each tile from the lesion outlines (tumour fraction above a threshold) and see how rare tumour tiles are.
#
# **What you implement** (in this notebook): `grid_image` and `tile_table_summary`. Tissue detection
# (`camelyon.tissue`) and the tile grid (`camelyon.tiling`) come with the library; read their code.
#
# The self-check runs `pytest -m S02` (save the notebook first).

# %%
DATA_DIR = None  # None: synthetic cohort (runs/notebook_cohort); or a CAMELYON17-style folder

# %%
import sys
import pathlib

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "camelyon" / "__init__.py").exists())
sys.path[:0] = [str(ROOT), str(ROOT / "specific_exercises")]

from minicnn.teaching.progress import start_notebook

start_notebook("S02")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np

import course_data
from camelyon.annotations import read_asap
from camelyon.slide import Slide
from camelyon.tissue import otsu_threshold, saturation, slide_tissue_mask
from minicnn.teaching.selfcheck import self_check

slide_paths = course_data.slides(DATA_DIR)
ann_dir = course_data.annotation_dir(DATA_DIR)
annotated = [p for p in slide_paths if (ann_dir / (p.stem + ".xml")).exists()]
example = annotated[0] if annotated else slide_paths[0]
print("example slide:", example.name)

# %% [markdown]
# ## 1. Tissue or glass?
#
# Most of a slide is empty glass; classifying it would waste most of the compute and teach the CNN nothing.
# Stained tissue is *coloured* while glass is white or grey, so the **saturation** of the HSV colour space,
# `(max - min) / max` over R, G, B, separates them better than brightness does (dust and pen marks are dark
# but grey; faint fat tissue is bright but pinkish). The public tools (CLAM, PathML, histolab) all work on a
# low-resolution copy (8-32 um per pixel), blur it, threshold it with **Otsu's method** (the threshold that
# best separates the histogram into two classes), close small gaps and drop tiny specks. Sizes are given in
# microns, so the same settings work on 20x and 40x scans.

# %%
with Slide(example) as s:
    tm = slide_tissue_mask(s, um_per_px=8.0)
    rgb, ds = s.read_at_downsample(tm.downsample)
sat = saturation(rgb)
t = otsu_threshold(sat)
print(tm, f"Otsu threshold on saturation: {t:.1f}")

fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
axes[0].imshow(rgb)
axes[0].set_title(f"{example.name} at {tm.um_per_px:.0f} um/px")
axes[1].imshow(sat, cmap="magma")
axes[1].set_title("saturation")
axes[2].hist(sat.ravel(), bins=64, color="grey")
axes[2].axvline(t, color="red", label=f"Otsu {t:.0f}")
axes[2].set_yscale("log")
axes[2].legend()
axes[2].set_title("saturation histogram")
axes[3].imshow(rgb)
axes[3].contour(tm.mask, levels=[0.5], colors="lime", linewidths=1)
axes[3].set_title(f"tissue mask ({tm.fraction:.0%} of the slide)")
for ax in axes[[0, 1, 3]]:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 2. A grid of tiles
#
# A `TileGrid` says what a tile is: its size in pixels, its resolution (`um_per_px`: the slide level closest
# to it is read and scaled), the grid step, how much tissue it needs, and how a label is decided. The notebooks
# use 32-pixel tiles at 4 um/px (128 um: a few dozen cells, cheap enough to train a CNN in a notebook; the real
# challenge entries used 256 px at 0.25-0.5 um/px). `grid.tiles(slide, annotations)` returns a structured
# table, one row per kept tile: level-0 `x, y`, grid `row, col`, `tissue_fraction`, `tumour_fraction`, `label`.
#
# The tumour fraction of a tile is measured on a rasterized lesion mask with an **integral image**: after one
# cumulative sum over rows and columns, the number of tumour pixels in any box is four lookups, whatever the
# box size (`camelyon.tiling.box_fraction`).

# %%
grid = course_data.tile_grid()
with Slide(example) as s:
    aset = read_asap(ann_dir / (example.stem + ".xml")) if example in annotated else None
    table = grid.tiles(s, aset, tissue=tm)
    geo = grid.geometry(s)
    thumb, tds = s.read_at_downsample(geo.stride_level0 / 4)
print(f"grid {geo.rows} x {geo.cols} cells of {geo.tile_size} px at level {geo.level} "
      f"({geo.um_per_px:g} um/px); {len(table)} tiles kept, {int(table['label'].sum())} tumour")
print(table[:3])

# %% [markdown]
# **Exercise 1.** Write `grid_image(rows, cols, values, shape)`: a float array of `shape` (grid rows, grid
# columns) filled with NaN, with `values[i]` at `(rows[i], cols[i])`. It turns any per-tile number into a
# picture of the slide; S06 builds heatmaps the same way.
#
# **Exercise 2.** Write `tile_table_summary(table)` returning a dict with `n_tiles`, `n_tumour` (tiles with
# label 1), `tumour_share` (`n_tumour / n_tiles`, 0.0 for an empty table) and `mean_tissue_fraction`
# (0.0 for an empty table), as plain Python numbers.

# %% [markdown]
# **Hints for `grid_image`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# A picture of the tile grid: one pixel per tile position, empty (NaN) where there is no tile.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# `img[rows[i], cols[i]] = values[i]` for every tile $i$, NaN elsewhere.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# img = np.full(shape, np.nan)
# img[rows, cols] = values       # fancy indexing with the two index arrays
# return img
# ```
# </details>

# %% [markdown]
# **Hints for `tile_table_summary`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# Summarise the tile table: how many tiles, how many are tumour (label 1), their share, and the mean tissue fraction. An empty table must give zeros, not a division by zero.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# tumour share $= n_\text{tumour} / n$; mean tissue fraction $= \frac{1}{n}\sum_i f_i$ (both 0.0 when $n = 0$).
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# n = len(table)
# n_tumour = count of table['label'] == 1
# return {'n_tiles': n, 'n_tumour': ..., 'tumour_share': ... if n else 0.0, 'mean_tissue_fraction': ... if n else 0.0}
# ```
# </details>

# %%
import numpy as np


def grid_image(rows, cols, values, shape):
    """(rows, cols) float image of per-tile ``values`` at grid cells ``(rows[i], cols[i])``, NaN elsewhere."""
    ### BEGIN SOLUTION (S02) fill an array of `shape` with NaN, then assign values at [rows, cols]
    img = np.full(shape, np.nan, dtype=np.float64)
    img[np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)] = values
    return img
    ### END SOLUTION


def tile_table_summary(table):
    """dict(n_tiles, n_tumour, tumour_share, mean_tissue_fraction) of a tile table."""
    ### BEGIN SOLUTION (S02) counts from table["label"], mean of table["tissue_fraction"]; 0.0 when empty
    n = int(len(table))
    n_tumour = int(np.count_nonzero(table["label"] == 1)) if n else 0
    return {
        "n_tiles": n,
        "n_tumour": n_tumour,
        "tumour_share": n_tumour / n if n else 0.0,
        "mean_tissue_fraction": float(np.mean(table["tissue_fraction"])) if n else 0.0,
    }
    ### END SOLUTION

# %%
print(tile_table_summary(table))
fig, axes = plt.subplots(1, 3, figsize=(16, 4))
axes[0].imshow(thumb)
scale = 1.0 / tds
for row in table:
    color = "red" if row["label"] else "lime"
    axes[0].add_patch(plt.Rectangle((row["x"] * scale, row["y"] * scale), geo.extent_level0 * scale,
                                    geo.extent_level0 * scale, fill=False, lw=0.4, color=color))
axes[0].set_title("kept tiles (red: tumour)")
im = axes[1].imshow(grid_image(table["row"], table["col"], table["tissue_fraction"], (geo.rows, geo.cols)),
                    cmap="Greens", vmin=0, vmax=1)
plt.colorbar(im, ax=axes[1], shrink=0.8)
axes[1].set_title("tissue fraction per tile")
im = axes[2].imshow(grid_image(table["row"], table["col"], table["tumour_fraction"], (geo.rows, geo.cols)),
                    cmap="Reds", vmin=0, vmax=1)
plt.colorbar(im, ax=axes[2], shrink=0.8)
axes[2].set_title("tumour fraction per tile")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 3. How rare are tumour tiles?
#
# Tile every slide of the cohort and summarize. Even on this cohort, built to have many metastases, tumour
# tiles are a few percent of the tissue; in CAMELYON16 they are well below 1 %. A CNN trained on all tiles
# would learn to say "normal" and be 99 % accurate: S05 samples balanced minibatches instead.

# %%
rows = []
for p in slide_paths:
    with Slide(p) as s:
        aset = read_asap(ann_dir / (p.stem + ".xml")) if (ann_dir / (p.stem + ".xml")).exists() else None
        summary = tile_table_summary(grid.tiles(s, aset))
    rows.append((p.stem, summary))
    print(f"{p.stem:22s} {summary['n_tiles']:5d} tiles  {summary['n_tumour']:4d} tumour  "
          f"({summary['tumour_share']:6.2%})  mean tissue {summary['mean_tissue_fraction']:.2f}")
total = sum(r["n_tiles"] for _, r in rows)
tumour = sum(r["n_tumour"] for _, r in rows)
print(f"cohort: {total} tiles, {tumour} tumour ({tumour / max(total, 1):.2%})")

fig, ax = plt.subplots(figsize=(10, 3))
ax.bar(range(len(rows)), [r["n_tiles"] - r["n_tumour"] for _, r in rows], label="normal", color="tab:green")
ax.bar(range(len(rows)), [r["n_tumour"] for _, r in rows], bottom=[r["n_tiles"] - r["n_tumour"] for _, r in rows],
       label="tumour", color="tab:red")
ax.set_xticks(range(len(rows)), [n.replace("patient_", "p").replace("_node_", "n") for n, _ in rows], rotation=90)
ax.set_ylabel("tiles")
ax.legend()
ax.set_title("tiles per slide")
plt.show()

# %% [markdown]
# **Questions.** (1) What happens to the tile labels if the tumour threshold is 0 (any tumour pixel) instead
# of 0.5? Which errors does each choice make at the border of a lesion? (2) PCam labels a 96 px tile by its
# centre 32 x 32 px only (`TileGrid(center_size=32)`): why?

# %% [markdown]
# ## Self-check
# Runs the tests marked `S02`: your two functions, read from the saved notebook.

# %%
self_check("S02")
