# %% [markdown]
# # S04 · Colour normalization, augmentation and the centre effect
#
# **Prerequisites:** S04 needs G07 (augmentation and stain maths). Not written yet? S01-S03 and S07-S09 do not need G07. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - see the *centre effect*: tiles from different hospitals differ in colour more than tumour differs from normal;
# - measure colour in optical density (OD), where stains add up;
# - normalize tiles to one reference (Macenko, Reinhard) and augment them (flips, rotations, stain jitter),
#   and measure how much of the centre signal is left.
#
# **What you implement** (in this notebook): `mean_od_per_centre`. The normalizers and augmenters are
# `camelyon.stain` and `camelyon.augment` (their maths is exercise G07).
#
# The self-check runs `pytest -m S04` (save the notebook first).
#
# **Preset.** Tiles come from the notebooks' cohort in the **easy** preset (`course_data.COHORT_SETTINGS`). The
# **challenge** preset (`docs/synthetic.md`) has a centre with much weaker staining and per-centre scanners:
# section 5 paints a few regions of each of its centres straight from slide plans (a second or two), and
# `DATA_DIR` can point at a challenge cohort (`camelyon synth OUT --difficulty challenge --demo`) for the rest.

# %%
DATA_DIR = None  # None: synthetic cohort (runs/notebook_cohort); or a CAMELYON17-style folder

# %%
import sys
import pathlib

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "camelyon" / "__init__.py").exists())
sys.path[:0] = [str(ROOT), str(ROOT / "specific_exercises")]

from minicnn.teaching.progress import start_notebook

start_notebook("S04")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np

import course_data
from camelyon.augment import TileAugmenter
from camelyon.dataset import TileStore
from camelyon.stain import MacenkoNormalizer, ReinhardNormalizer
from minicnn.teaching.selfcheck import self_check

store = TileStore(course_data.tile_store(DATA_DIR))
centres = sorted(set(store.centers.tolist()))
rng = np.random.default_rng(0)
print(len(store), "tiles; centres", centres)

# %% [markdown]
# ## 1. Background: five hospitals, five colours
#
# CAMELYON17 collected slides from five Dutch hospitals. Each lab has its own haematoxylin and eosin recipes,
# staining times, section thickness and scanner (3DHistech, Hamamatsu, Philips), so the same tissue comes out
# bluer, paler or pinker depending on where it was processed. A CNN trained on one centre's colours can fail on
# another's: it may even learn the hospital instead of the tumour when the proportion of positive slides differs
# between centres. Two remedies: **normalize** every tile to one reference appearance before the CNN sees it,
# and **augment** the training tiles with random stain changes so the CNN learns to ignore colour.
#
# Below: random normal and tumour tiles, one row per centre.

# %%
fig, axes = plt.subplots(len(centres), 12, figsize=(14, 1.25 * len(centres) + 0.4))
axes = np.atleast_2d(axes)
for r, c in enumerate(centres):
    for half, label in enumerate((0, 1)):
        pool = np.flatnonzero((store.centers == c) & (store.labels == label))
        pick = np.sort(rng.choice(pool, size=min(6, len(pool)), replace=False)) if len(pool) else []
        tiles = store.read_batch(pick)[0] if len(pick) else []
        for k in range(6):
            ax = axes[r, half * 6 + k]
            if k < len(tiles):
                ax.imshow(tiles[k])
            ax.set_xticks([])
            ax.set_yticks([])
    axes[r, 0].set_ylabel(f"centre {c}")
axes[0, 0].set_title("normal", loc="left")
axes[0, 6].set_title("tumour", loc="left")
plt.show()

# %% [markdown]
# ## 2. Optical density
#
# Light passing through a stain is absorbed exponentially (Beer-Lambert), so the **optical density**
# $\mathrm{OD} = -\log\frac{I + 1}{I_0}$ (with $I_0 = 240$, the brightness of empty glass) is *linear* in
# the amount of each stain: $\mathrm{OD} = c_H\,\mathbf{h} + c_E\,\mathbf{e}$ with one RGB vector per stain.
# Pixels with a small OD (below $\beta = 0.15$ in a channel) are background and are left out of statistics.
#
# **Exercise.** Write `mean_od_per_centre(tiles, centres, io=240.0, beta=0.15)`: for each centre id in
# `centres` (one per tile), the mean OD vector (shape `(3,)`) over the *stained* pixels of its tiles, those
# whose OD is at least `beta` in every channel. OD is clipped below at 0. A centre without stained pixels gets
# zeros. Return a dict `{int centre: ndarray (3,)}` with the centres sorted.

# %% [markdown]
# **Hints for `mean_od_per_centre`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# Light absorbed by stain is measured as optical density (OD). Background is bright (low OD); keep the pixels dense enough in every channel, then average their OD per centre: that colour signature differs between scanners.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# $\mathrm{OD} = \max\!\big(-\ln\frac{I + 1}{I_0},\, 0\big)$ per channel; a pixel is stained when all three ODs are $\ge \beta$.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# od = np.maximum(-np.log((tiles + 1.0) / io), 0.0)      # (..., 3)
# stained = all three channels >= beta
# for each centre c: mean over its stained pixels of od (zeros(3) if none)
# ```
# </details>

# %%
import numpy as np


def mean_od_per_centre(tiles, centres, io=240.0, beta=0.15):
    """{centre: (3,) mean optical density of the stained pixels} for uint8 tiles (N, H, W, 3), centres (N,)."""
    ### BEGIN SOLUTION (S04) per pixel the optical density of each channel (theory above, with io and the +1 offset, never below 0); a pixel is stained when all three reach beta; return {centre (int): mean OD (3,) of its stained pixels, zeros when none}
    tiles = np.asarray(tiles)
    centres = np.asarray(centres)
    od = np.maximum(-np.log((tiles.astype(np.float64) + 1.0) / io), 0.0)
    stained = np.all(od >= beta, axis=-1)
    out = {}
    for c in sorted(set(centres.tolist())):
        sel = od[centres == c][stained[centres == c]]
        out[int(c)] = sel.mean(axis=0) if len(sel) else np.zeros(3)
    return out
    ### END SOLUTION

# %% [markdown]
# ## 3. Normalization removes most of the centre signal
#
# We take up to 60 tiles per centre, normalize them to one reference image with Macenko (stain vectors and
# amounts) and Reinhard (LAB mean and spread), and compare the mean OD per centre. A simple test of how much
# "hospital" is left in the colours: predict each tile's centre from its own mean OD with a nearest-centroid rule
# (chance level is 1 / number of centres).

# %%
pick = np.concatenate([np.sort(rng.choice(np.flatnonzero(store.centers == c), size=min(60, int((store.centers == c).sum())),
                                          replace=False)) for c in centres])
tiles, labels = store.read_batch(np.sort(pick))
tile_centres = store.centers[np.sort(pick)]
# the target appearance: a 4 x 4 mosaic of tiles of the first centre (one tile may hold a single stain)
first = tiles[tile_centres == centres[0]][:16]
reference = np.concatenate([np.concatenate(list(first[r * 4:(r + 1) * 4]), axis=1) for r in range(len(first) // 4)])

versions = {"original": tiles,
            "Macenko": MacenkoNormalizer().fit(reference).transform(tiles),
            "Reinhard": ReinhardNormalizer().fit(reference).transform(tiles)}


def centre_accuracy(images, centres_):
    """Leave-in nearest-centroid accuracy of predicting the centre from a tile's mean OD."""
    od = np.maximum(-np.log((images.astype(np.float64) + 1) / 240.0), 0).reshape(len(images), -1, 3).mean(axis=1)
    ids = sorted(set(centres_.tolist()))
    centroids = np.stack([od[centres_ == c].mean(axis=0) for c in ids])
    pred = np.array(ids)[np.argmin(((od[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)]
    return float(np.mean(pred == centres_))


fig, axes = plt.subplots(1, len(versions), figsize=(14, 3.6), sharey=True)
for ax, (name, images) in zip(axes, versions.items()):
    means = mean_od_per_centre(images, tile_centres)
    m = np.stack([means[c] for c in centres])
    for k, (channel, colour) in enumerate(zip("RGB", ("tab:red", "tab:green", "tab:blue"))):
        ax.bar(np.arange(len(centres)) + (k - 1) * 0.27, m[:, k], width=0.27, color=colour, label=f"OD {channel}")
    acc = centre_accuracy(images, tile_centres)
    ax.set_title(f"{name}: centre from colour {acc:.0%}")
    ax.set_xticks(range(len(centres)), [f"centre {c}" for c in centres])
axes[0].set_ylabel("mean OD of stained pixels")
axes[0].legend()
plt.show()

# %%
show = np.concatenate([np.flatnonzero(tile_centres == c)[:2] for c in centres])
fig, axes = plt.subplots(len(versions), len(show), figsize=(1.4 * len(show), 4.6))
for r, (name, images) in enumerate(versions.items()):
    for k, i in enumerate(show):
        axes[r, k].imshow(images[i])
        axes[r, k].set_xticks([])
        axes[r, k].set_yticks([])
        if r == 0:
            axes[r, k].set_title(f"c{tile_centres[i]}", fontsize=9)
    axes[r, 0].set_ylabel(name)
plt.show()

# %% [markdown]
# ## 4. Augmentation
#
# Augmentation goes the other way: instead of removing colour differences it *adds* random ones while
# training, so the CNN cannot rely on them. Tissue has no orientation, so the 8 flips and 90-degree rotations
# are free extra data; stain jitter scales and shifts the H and E concentrations of each tile.

# %%
augment = TileAugmenter(geometric=True, stain=True, scale=0.25, shift=0.05, seed=0)
one = np.repeat(tiles[show[:1]], 8, axis=0)
augmented, _ = augment(one, np.zeros(8))
fig, axes = plt.subplots(1, 9, figsize=(13, 1.8))
axes[0].imshow(one[0])
axes[0].set_title("original", fontsize=9)
for ax, img in zip(axes[1:], augmented):
    ax.imshow(img)
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 5. The challenge preset: five scanners and one weakly stained lab
#
# The notebooks' cohort above uses the **easy** preset. In the **challenge** preset (`docs/synthetic.md`) each
# centre also has its own scanner (resolution, blur, noise, JPEG quality), and centre 3's lab stains weakly
# (about half the hematoxylin and eosin of the others). No cohort is needed to look at it: a slide *plan* is
# cheap, and its painter renders any small region on demand. Below, six 128 um regions of tissue per centre,
# their mean OD (your `mean_od_per_centre`), and the spread of mean OD that the stain augmentation of section 4
# gives centre 0's regions at the default strength (`scale=0.25, shift=0.05`) and at a strong one
# (`scale=0.6, shift=0.15`).

# %%
from camelyon.synthetic import make_painter, plan_slide
from camelyon.synthetic.tissue_layout import points_in_polygon

ch_tiles, ch_centres = [], []
for c in range(5):
    plan = plan_slide(4, c, 0, c, "micro", 2.0, None, difficulty="challenge")
    painter = make_painter(plan)
    side = int(round(128 / plan.mpp))  # 128 um in level-0 px of this centre's scanner
    inner = plan.sections[0].inner
    lo, hi = inner.min(0), inner.max(0)
    got = 0
    while got < 6:
        x, y = rng.uniform(lo, hi)
        if points_in_polygon(np.array([[x, y]]), inner)[0]:
            region = painter.paint(int(x) - side // 2, int(y) - side // 2, side, side)
            pick = (np.arange(64) * side / 64).astype(int)  # 64 px at 2 um/px, whatever the scanner
            ch_tiles.append(region[pick][:, pick])
            ch_centres.append(c)
            got += 1
ch_tiles, ch_centres = np.stack(ch_tiles), np.array(ch_centres)
ch_means = mean_od_per_centre(ch_tiles, ch_centres)


def mean_od_spread(images, scale, shift, n=30):
    """5th and 95th percentile of the total mean OD of ``images`` under ``n`` rounds of stain augmentation."""
    aug = TileAugmenter(geometric=False, stain=True, scale=scale, shift=shift, seed=1)
    values = []
    for _ in range(n):
        od = np.maximum(-np.log((aug(images).astype(np.float64) + 1.0) / 240.0), 0.0)
        values += list(od.reshape(len(images), -1, 3).mean(axis=1).sum(axis=1))
    return np.percentile(values, [5, 95])


zero = ch_tiles[ch_centres == 0]
fig, axes = plt.subplots(1, 2, figsize=(13, 3.4), gridspec_kw={"width_ratios": [1.1, 1]})
total = {c: float(np.maximum(-np.log((ch_tiles[ch_centres == c].astype(np.float64) + 1.0) / 240.0), 0.0)
              .reshape(-1, 3).mean(axis=0).sum()) for c in range(5)}
axes[0].bar(range(5), [total[c] for c in range(5)], color="0.6")
for (scale, shift), colour in (((0.25, 0.05), "tab:blue"), ((0.6, 0.15), "tab:orange")):
    low, high = mean_od_spread(zero, scale, shift)
    axes[0].axhspan(low, high, alpha=0.25, color=colour, label=f"centre 0 augmented, scale {scale}")
axes[0].set_xticks(range(5), [f"centre {c}" for c in range(5)])
axes[0].set_ylabel("mean OD of the regions (R + G + B)")
axes[0].legend(fontsize=8)
strip = np.concatenate([np.concatenate(list(ch_tiles[ch_centres == c][:3]), axis=1) for c in range(5)], axis=0)
axes[1].imshow(strip)
axes[1].set_yticks([32 + 64 * c for c in range(5)], [f"centre {c}" for c in range(5)])
axes[1].set_xticks([])
plt.show()
print("mean OD of stained pixels per centre:", {c: np.round(v, 2).tolist() for c, v in ch_means.items()})

# %% [markdown]
# **Questions.** (1) Normalization needs a reference tile: what happens when the reference has little
# haematoxylin, or is mostly fat? (2) Why is stain augmentation applied to training tiles only, while
# normalization (if used) must be applied the same way at training and at test time? (3) On CAMELYON17, a
# classifier that can tell the centre from colour is a warning sign: why, if positive patients are not spread
# evenly over the centres?

# %% [markdown]
# ## Self-check
# Runs the tests marked `S04`: your `mean_od_per_centre` against `camelyon.stain` (read from the saved notebook).

# %%
store.close()
self_check("S04")
