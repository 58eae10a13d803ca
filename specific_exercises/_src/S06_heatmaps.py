# %% [markdown]
# # S06 · Heatmaps: the tile CNN over whole slides
#
# **Prerequisites:** S06 needs G01 (dense layer and activations), G02 (losses), G03 (convolution), G04 (pooling), G05 (optimizers), G06 (training, batch norm, dropout), G07 (augmentation and stain maths). Not written yet? Start at S07 instead: it begins from the sample heatmaps. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - slide the tile CNN over every tissue tile of a slide and assemble a tumour-probability **heatmap**;
# - keep the geometry that ties a heatmap pixel to the slide (origin, stride, um per pixel) and draw heatmaps
#   over thumbnails;
# - compare a heatmap with the pathologists' outlines, tile by tile;
# - mine **hard negatives** (look-alikes the model flags) and train again with them.
#
# **What you implement** (in this notebook): `heatmap_pixel_box`, `overlay_extent` and `hard_negatives`. The
# heatmap itself is `camelyon.heatmap.compute_heatmap` with the shared tile model from S05.
#
# The self-check runs `pytest -m S06` (save the notebook first).
#
# **Preset.** Sections 1-3 use the notebooks' cohort in the **easy** preset; section 4 (hard negatives) reads a
# small **challenge**-preset cohort (`course_data.CHALLENGE_SETTINGS`, painted once in about ten seconds).

# %%
DATA_DIR = None   # None: synthetic cohort (runs/notebook_cohort); or a CAMELYON17-style folder
MODEL_PATH = None  # None: the shared model of S05 (trained once if missing); or a tile-model .npz
N_SLIDES = 3       # heatmaps computed here (about 5 s each on a free core)

# %%
import sys
import pathlib
import time

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "camelyon" / "__init__.py").exists())
sys.path[:0] = [str(ROOT), str(ROOT / "specific_exercises")]

from minicnn.teaching.progress import start_notebook

start_notebook("S06")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np

import course_data
from camelyon.annotations import read_asap
from camelyon.heatmap import Heatmap, compute_heatmap
from camelyon.slide import Slide
from camelyon.tile_model import load_tile_model
from minicnn.teaching.selfcheck import self_check

model = course_data.tile_model(DATA_DIR) if MODEL_PATH is None else load_tile_model(MODEL_PATH)
print(model.describe())
table = course_data.stage_table(DATA_DIR)
slide_paths = course_data.slides(DATA_DIR)
ann_dir = course_data.annotation_dir(DATA_DIR)

# one slide per label, the largest lesions first
by_label = {}
for p in slide_paths:
    by_label.setdefault(table.slides.get(p.name, "negative"), []).append(p)
chosen = [by_label[k][0] for k in ("macro", "micro", "negative", "itc") if by_label.get(k)][:N_SLIDES]
print("slides:", [(p.name, table.slides.get(p.name)) for p in chosen])

# %% [markdown]
# ## 1. Background: from tiles to a map
#
# A pathologist scans a node at low power, then zooms in on suspicious areas. The pipeline does the opposite
# and classifies *every* tissue tile, which gives one probability per grid cell: the heatmap. Its resolution
# is the grid step (here 128 um per heatmap pixel); a finer step (half a tile) gives smoother maps for four
# times the work. The CAMELYON16 winners computed heatmaps at 40x on GPUs; on our CPU the budget decides the
# tile size and resolution.
#
# A heatmap is only useful with its **geometry**: heatmap pixel `(row, col)` is the tile whose level-0
# top-left corner is `origin + (col, row) * stride_level0`, and it covers `tile_size * downsample` level-0
# pixels. `Heatmap` (in `camelyon/heatmap.py`) stores the probabilities, the tissue map and this geometry in one
# `.npz` file.

# %%
heatmaps = {}
out_dir = course_data.work_dir(DATA_DIR) / "heatmaps"
for p in chosen:
    t0 = time.perf_counter()
    hm = compute_heatmap(p, model)
    heatmaps[p.name] = hm
    hm.save(out_dir / (p.stem + ".npz"))
    print(f"{p.name}: {hm.shape[0]} x {hm.shape[1]} heatmap, {int(hm.tissue.sum())} tissue tiles, "
          f"{hm.um_per_px:g} um per heatmap px, {time.perf_counter() - t0:.1f} s")

# %% [markdown]
# **Exercise 1.** Write `heatmap_pixel_box(heatmap, row, col)`: the level-0 box `(x0, y0, x1, y1)` (floats)
# covered by heatmap pixel `(row, col)`: `x0 = origin_x + col * stride_level0`, `y0` likewise with `row`, and
# the box is `tile_size * downsample` level-0 pixels wide and high.
#
# **Exercise 2.** Write `overlay_extent(heatmap, thumbnail_downsample)`: the matplotlib `extent`
# `(left, right, bottom, top)` in thumbnail pixels that makes `imshow(heatmap.probability, extent=...)` land on
# the right place over `imshow(thumbnail)`. The heatmap's `W` columns span level-0 x from `origin_x` to
# `origin_x + W * stride_level0` (and `H` rows likewise in y; with `imshow`'s default orientation the *bottom*
# is the larger y). Divide level-0 coordinates by `thumbnail_downsample` to get thumbnail pixels.

# %% [markdown]
# **Hints for `heatmap_pixel_box`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# A heatmap pixel is one tile of the grid: it starts at the heatmap's level-0 origin plus `col` (and `row`) grid steps, and spans one tile at level 0.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# $x_0 = o_x + \text{col}\cdot s$, $y_0 = o_y + \text{row}\cdot s$, $x_1 = x_0 + t\,d$, $y_1 = y_0 + t\,d$ with $s$ = `stride_level0`, $t$ = `tile_size`, $d$ = `downsample`.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# step = heatmap.stride_level0; extent = heatmap.tile_size * heatmap.downsample
# x0 = origin x + col * step; y0 = ...
# return x0, y0, x0 + extent, y0 + extent
# ```
# </details>

# %% [markdown]
# **Hints for `overlay_extent`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# `imshow(..., extent=...)` places an image by its edges. The heatmap covers level-0 pixels from its origin to W (H) grid steps further; divide by the thumbnail's downsample to get thumbnail pixels.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# left $= o_x/d$, right $= (o_x + W s)/d$, bottom $= (o_y + H s)/d$, top $= o_y/d$ (image rows grow downwards).
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# h, w = heatmap.shape; step = heatmap.stride_level0; ox, oy = heatmap.origin; ds = float(thumbnail_downsample)
# return (ox / ds, <right>, <bottom>, oy / ds)
# ```
# </details>

# %%
def heatmap_pixel_box(heatmap, row, col):
    """Level-0 (x0, y0, x1, y1) covered by heatmap pixel (row, col)."""
    ### BEGIN SOLUTION (S06) return level-0 floats (x0, y0, x1, y1): start at the heatmap's origin, move col (and row) grid steps of stride_level0; the box spans one tile at level 0
    step = heatmap.stride_level0
    extent = heatmap.tile_size * heatmap.downsample
    x0 = float(heatmap.origin[0] + col * step)
    y0 = float(heatmap.origin[1] + row * step)
    return x0, y0, x0 + extent, y0 + extent
    ### END SOLUTION


def overlay_extent(heatmap, thumbnail_downsample):
    """matplotlib extent (left, right, bottom, top) in thumbnail px of a heatmap drawn over a thumbnail."""
    ### BEGIN SOLUTION (S06) return (left, right, bottom, top) for imshow: the heatmap's level-0 origin and far edge (its width and height in grid steps later) in thumbnail pixels; image rows grow downwards, so bottom is the far edge in y
    h, w = heatmap.shape
    step = heatmap.stride_level0
    ox, oy = heatmap.origin
    ds = float(thumbnail_downsample)
    return (ox / ds, (ox + w * step) / ds, (oy + h * step) / ds, oy / ds)
    ### END SOLUTION

# %% [markdown]
# ## 2. Heatmaps over thumbnails

# %%
fig, axes = plt.subplots(1, len(chosen), figsize=(5.5 * len(chosen), 4.2))
for ax, p in zip(np.atleast_1d(axes), chosen):
    hm = heatmaps[p.name]
    with Slide(p) as s:
        thumb = s.thumbnail(640)
        ds = s.dimensions[0] / thumb.shape[1]
    ax.imshow(thumb)
    shown = np.ma.masked_where(~hm.tissue, hm.probability)
    im = ax.imshow(shown, cmap="jet", vmin=0, vmax=1, alpha=0.45, extent=overlay_extent(hm, ds),
                   interpolation="nearest")
    xml = ann_dir / (p.stem + ".xml")
    if xml.exists():
        for a in read_asap(xml).tumour():
            xy = a.coordinates / ds
            ax.plot(np.r_[xy[:, 0], xy[:1, 0]], np.r_[xy[:, 1], xy[:1, 1]], color="white", lw=1.2)
    ax.set_xlim(0, thumb.shape[1])
    ax.set_ylim(thumb.shape[0], 0)
    ax.set_title(f"{p.name} ({table.slides.get(p.name, '?')})")
    ax.axis("off")
plt.colorbar(im, ax=axes, shrink=0.8, label="tumour probability")
plt.show()

# %% [markdown]
# ## 3. Tile by tile against the outlines
#
# The heatmap grid is the tile grid of S02 with the model's tile size, so the reference label of each heatmap
# pixel comes from the same `TileGrid.tiles` table. Sensitivity (tumour tiles found) and the false-positive
# rate (normal tiles flagged) at threshold 0.5:

# %%
from camelyon.tiling import TileGrid

for p in chosen:
    hm = heatmaps[p.name]
    grid = TileGrid(tile_size=model.tile_size, um_per_px=model.um_per_px, min_tissue=0.25)
    xml = ann_dir / (p.stem + ".xml")
    with Slide(p) as s:
        tiles = grid.tiles(s, read_asap(xml) if xml.exists() else None)
    prob = hm.probability[tiles["row"], tiles["col"]]
    pos, neg = tiles["label"] == 1, tiles["label"] == 0
    sens = f"{np.mean(prob[pos] > 0.5):.0%}" if pos.any() else "  - "
    print(f"{p.name:24s} tumour tiles {int(pos.sum()):4d}, found {sens}; "
          f"normal tiles {int(neg.sum()):4d}, flagged {np.mean(prob[neg] > 0.5):.1%}")

x0, y0, x1, y1 = heatmap_pixel_box(hm, *np.unravel_index(np.argmax(hm.probability), hm.shape))
print(f"most suspicious tile of {p.name}: level-0 box x {x0:.0f}-{x1:.0f}, y {y0:.0f}-{y1:.0f}")

# %% [markdown]
# The same heatmap over the slide itself, zoomable, with the lesion outlines and the regions at or above 0.5
# (predicted lesions, cyan): change the colour map and the opacity in the toolbar, and compare where the CNN
# fires with the outlines at full resolution.

# %%
from camelyon.viewer import show

show(p, heatmap=hm, annotations=read_asap(xml) if xml.exists() else None,
     overlays=["heatmap", "annotations", "lesions"])

# %% [markdown]
# Heatmaps are saved as `runs/notebook_work/heatmaps/<slide>.npz`; load one with `Heatmap.load(path)`.
# S07-S09 start from sample heatmaps of the 10 evaluation patients of a 15-patient demo cohort
# (`specific_exercises/sample_heatmaps/`).
#
# **Questions.** (1) Where are the false positives: at lesion borders, in dense normal tissue, at the tissue
# edge? (2) What does a stride of half a tile change (cost, smoothness, the size of the smallest lesion you can
# see)? (3) An ITC cluster is under 0.2 mm: how many heatmap pixels of 128 um is that?

# %% [markdown]
# ## 4. Hard negatives on the challenge preset
#
# Everything above used the notebooks' cohort in the **easy** preset of `camelyon.synthetic` (one carcinoma
# type, no look-alikes, no artefacts). Real nodes hold tissue that *looks* like tumour at a glance: germinal
# centres (large pale centroblasts), sheets of sinus histiocytes, venules with plump endothelium, necrosis.
# The **challenge** preset (`difficulty="challenge"`, see `docs/synthetic.md`) paints them and names each region:
# `ground_truth.csv` has a `kind` column and `lookalike_annotations/<slide>.xml` holds one ASAP group per kind.
# Below, the shared model (trained on the easy cohort) reads a small challenge cohort (two patients,
# ten slides at 2 um/px, painted once); each flagged normal tile is looked up in those outlines.
#
# **Exercise 3: hard-negative mining.** A model trained on easy tissue flags look-alikes; *hard-negative mining*
# (used by most CAMELYON16 teams) collects the normal tiles it gets most wrong and trains again with them.
# Write `hard_negatives(prob, labels, k)`: the indices of the `k` normal tiles (`labels == 0`) with the highest
# probability `prob`, the most suspicious first. Tumour tiles are never hard negatives. When two tiles have
# the same probability, the one with the smaller index comes first (so the choice does not depend on the
# sorting algorithm); when there are fewer than `k` normal tiles, all of them are returned. Return an integer
# array of indices into `prob`.
#
# <details><summary>Hint 1: the idea</summary>
#
# First find which positions hold normal tiles, then rank only those positions by their probability, from
# high to low, and keep the first `k`. The answer must be positions in the *original* arrays, not in the
# subset of normal tiles.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# With $N_0 = \{i : y_i = 0\}$, the result is $(i_1, \dots, i_m)$, $m = \min(k, |N_0|)$, the elements of $N_0$
# ordered so that $p_{i_1} \ge p_{i_2} \ge \dots$, and $i_j < i_{j+1}$ whenever $p_{i_j} = p_{i_{j+1}}$.
# `np.flatnonzero` gives $N_0$; `np.argsort(..., kind="stable")` keeps equal keys in their order.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# normal = positions where labels == 0
# order  = stable argsort of (-prob[normal])      # descending, ties in index order
# return normal[order][:k]
# ```
# </details>
#
# Then: (b) which kinds do the hard negatives lie on? (c) the next cell trains a fresh model on the S03 store
# **plus** the hard negatives of the first patient and compares the flag rate of look-alike tiles, and the
# tumour tiles found, on the second patient's slides. Is one short run enough to tell (try other seeds)?
# Which kinds would you add more of? Why does the shared model, trained on the easy cohort, flag so much of
# the challenge cohort's normal tissue?
#
# To keep this section cheap, each slide contributes all its tumour tiles and at most `TILES_PER_SLIDE`
# normal tiles drawn at random (seeded).

# %%
import numpy as np


def hard_negatives(prob, labels, k):
    """Indices of the ``k`` normal tiles (``labels == 0``) with the highest ``prob``, highest first.

    Parameters
    ----------
    prob : ndarray of shape (N,)
        Tumour probability of each tile.
    labels : ndarray of shape (N,)
        1 for tumour, 0 for normal.
    k : int
        How many to return (all normal tiles when there are fewer).

    Returns
    -------
    ndarray of shape (min(k, number of normal tiles),), int
        Positions in ``prob``; equal probabilities keep index order.
    """
    ### BEGIN SOLUTION (S06) positions of the normal tiles, ranked by probability from high to low (ties: smaller index first), the first k
    normal = np.flatnonzero(np.asarray(labels) == 0)
    order = np.argsort(-np.asarray(prob, dtype=np.float64)[normal], kind="stable")
    return normal[order[:k]]
    ### END SOLUTION

# %%
from camelyon.synthetic.tissue_layout import points_in_polygon
from camelyon.tiling import TileReader

TILES_PER_SLIDE = 250  # normal tiles read per challenge slide (all tumour tiles are kept)
ch_root = course_data.challenge_cohort_dir()
ch_slides = sorted(ch_root.glob("center_*/*.tif"))
print(f"{len(ch_slides)} challenge slides in {ch_root}")


def tile_kinds(slide_path, tiles, extent):
    """Look-alike or artefact kind under the centre of each tile ('' where none)."""
    anns = read_asap(ch_root / "lookalike_annotations" / (slide_path.stem + ".xml"))
    centres = np.stack([tiles["x"] + extent / 2, tiles["y"] + extent / 2], 1).astype(float)
    kinds = np.full(len(tiles), "", dtype=object)
    for a in anns:
        if a.group in ("capsule", "perinodal_fat", "stitching_stripes", "uneven_background"):
            continue
        inside = points_in_polygon(centres, a.coordinates) & (kinds == "")
        kinds[inside] = a.group
    return kinds


def challenge_tiles(model, paths, seed=0):
    """Tiles, labels, probabilities and kinds of the challenge slides ``paths`` (at the model's um/px):
    every tumour tile and at most ``TILES_PER_SLIDE`` normal tiles per slide."""
    grid = TileGrid(tile_size=model.tile_size, um_per_px=model.um_per_px, min_tissue=0.5)
    rng = np.random.default_rng(seed)
    out = {"tiles": [], "labels": [], "prob": [], "kind": []}
    for p in paths:
        xml = ch_root / "lesion_annotations" / (p.stem + ".xml")
        with Slide(p) as s:
            table = grid.tiles(s, read_asap(xml) if xml.exists() else None)
            normal = np.flatnonzero(table["label"] == 0)
            keep = np.flatnonzero(table["label"] == 1)
            keep = np.sort(np.concatenate([keep, rng.permutation(normal)[:TILES_PER_SLIDE]]))
            table = table[keep]
            geo = grid.geometry(s)
            reader = TileReader(s, geo)
            imgs = np.stack([reader.read(x, y).copy() for x, y in zip(table["x"], table["y"])])
            ext = geo.extent_level0
        out["tiles"].append(imgs)
        out["labels"].append(table["label"])
        out["prob"].append(model.predict_proba(imgs).reshape(-1))
        out["kind"].append(tile_kinds(p, table, ext))
    return {k: np.concatenate(v) for k, v in out.items()}


t0 = time.perf_counter()
first = challenge_tiles(model, [p for p in ch_slides if "patient_000" in p.name])
hard = hard_negatives(first["prob"], first["labels"], 200)
print("flagged normal tiles (p > 0.5):", int(((first["prob"] > 0.5) & (first["labels"] == 0)).sum()),
      "of", int((first["labels"] == 0).sum()), f"({time.perf_counter() - t0:.0f} s)")
kinds, counts = np.unique(first["kind"][hard], return_counts=True)
print(f"the {len(hard)} hardest negatives lie on:", {k or "plain tissue": int(c) for k, c in zip(kinds, counts)})

# %%
from camelyon.training import TileArrays, TrainingConfig, load_store_tiles, train_tile_model

store_tiles, _ = load_store_tiles(course_data.tile_store(DATA_DIR), progress=False)
config = TrainingConfig(epochs=2, steps_per_epoch=20, batch_size=32, lr=3e-3, augment=True, seed=0,
                        val_fraction=0.0)
second = challenge_tiles(model, [p for p in ch_slides if "patient_001" in p.name], seed=1)
look = (second["labels"] == 0) & (second["kind"] != "")
tumour = second["labels"] == 1
rates = {}
for name, extra in (("store only", 0), ("store + hard negatives", len(hard))):
    tiles = np.concatenate([store_tiles.tiles, first["tiles"][hard][:extra]])
    labels = np.concatenate([store_tiles.labels, np.zeros(extra, dtype=np.int64)])
    fresh = train_tile_model(TileArrays(tiles, labels), None, config, um_per_px=model.um_per_px,
                             progress=False).model
    p2 = fresh.predict_proba(second["tiles"]).reshape(-1)
    rates[name] = float(np.mean(p2[look] > 0.5)) if look.any() else float("nan")
    found = f"{np.mean(p2[tumour] > 0.5):.1%}" if tumour.any() else "-"
    print(f"{name:24s}: patient 1's look-alike tiles flagged {rates[name]:.1%} (of {int(look.sum())}), "
          f"tumour tiles found {found} (of {int(tumour.sum())})")

# %% [markdown]
# ## Self-check
# Runs the tests marked `S06`: your two geometry functions and `hard_negatives` (read from the saved notebook).

# %%
self_check("S06")
