# %% [markdown]
# # G07 · Data augmentation and colour normalization
#
# **Prerequisites:** none: G07 needs no other exercise. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - model an H&E image with the Beer-Lambert law: optical density, stain vectors, concentrations;
# - see why slides from different hospitals differ in colour, and why a CNN cares;
# - augment tiles with the eight symmetries of the square and with random stain changes;
# - normalise colours with Reinhard (LAB statistics) and Macenko (stain vectors), and measure the effect.
#
# **What you implement** (in `camelyon/augment.py` and `camelyon/stain/reinhard.py`): `random_flip_rotate`,
# `match_lab_statistics`; in this notebook: `compose_he`. The self-check at the end runs `pytest -m G07`.

# %%
import sys
import pathlib

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "minicnn" / "__init__.py").exists())
sys.path.insert(0, str(ROOT))

from minicnn.teaching.progress import start_notebook

start_notebook("G07")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np
from skimage.color import rgb2lab

from camelyon.augment import random_flip_rotate, stain_augment
from camelyon.stain import MacenkoNormalizer, ReinhardNormalizer, REFERENCE_STAIN_MATRIX
from minicnn.teaching.selfcheck import self_check

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. How stained tissue gets its colour
#
# Hematoxylin colours nuclei blue-purple, eosin colours cytoplasm and stroma pink. Light of intensity $I_0$
# crossing the section is absorbed by each stain in proportion to its concentration (Beer-Lambert). Per pixel
# and per RGB channel, the **optical density**
#
# $$\mathrm{OD} = -\log\frac{I}{I_0} = c_H\, \mathbf{h} + c_E\, \mathbf{e}$$
#
# is linear in the concentrations $c_H, c_E \ge 0$; $\mathbf{h}, \mathbf{e} \in \mathbb{R}^3$ are the unit
# *stain vectors* (how much each stain absorbs red, green and blue). Conversely $I = I_0\, e^{-\mathrm{OD}}$.
# A hospital's stain recipe, staining time and scanner change the vectors and the amounts: the same tissue
# looks different in another centre, and a CNN trained on one centre's colours may fail on another's.
#
# **Exercise 1.** Write `compose_he(conc_h, conc_e, stain_matrix, io)`: an RGB uint8 image from two
# concentration maps (H, W) and a 2x3 stain matrix (rows $\mathbf{h}$, $\mathbf{e}$). Round and clip to 0..255.

# %% [markdown]
# **Hints for `compose_he`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# Work in optical density (OD), where stains add up linearly: each pixel's OD is the H stain vector scaled by the H concentration plus the E vector scaled by the E concentration. Then turn OD back into light.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# $\mathrm{OD} = c_H\,\mathbf h + c_E\,\mathbf e$ (per pixel, 3 channels) and $I = I_0\, e^{-\mathrm{OD}}$, rounded and clipped to 0..255.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# od = conc_h[..., None] * <H row of stain_matrix> + conc_e[..., None] * <E row>   # (H, W, 3)
# rgb = io * <exp of minus od>; round, clip to [0, 255], astype uint8
# ```
# </details>

# %%
def compose_he(conc_h, conc_e, stain_matrix, io=240.0):
    """RGB uint8 image (H, W, 3) from H and E concentrations (H, W) by the Beer-Lambert law."""
    ### BEGIN SOLUTION (G07) the Beer-Lambert law per pixel (theory above): the two stains' optical densities add up; back to intensities, rounded and clipped to uint8 (H, W, 3)
    od = conc_h[..., None] * stain_matrix[0] + conc_e[..., None] * stain_matrix[1]
    return np.clip(np.rint(io * np.exp(-od)), 0, 255).astype(np.uint8)
    ### END SOLUTION


def synthetic_concentrations(rng, size=96, tumour=False):
    """Blobby nuclei (hematoxylin) on a fibrous eosin background, with an empty (white) corner."""
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    conc_h = np.zeros((size, size))
    n_nuclei = 45 if tumour else 20
    radius = (4.5, 6.5) if tumour else (2.5, 3.5)
    for _ in range(n_nuclei):
        cy, cx = rng.uniform(0, size, 2)
        r = rng.uniform(*radius)
        conc_h += 1.1 * np.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (r / 1.5) ** 2)) ** 2)
    fibres = 0.5 + 0.25 * np.sin(xx / 3.0 + 2 * np.sin(yy / 9.0)) + 0.1 * rng.standard_normal((size, size))
    conc_e = np.clip(fibres, 0, None)
    empty = (xx + yy) > 1.55 * size  # background: no stain
    conc_h[empty] = 0
    conc_e[empty] = 0
    return np.clip(conc_h, 0, 2.0), conc_e


def unit_rows(m):
    m = np.asarray(m, dtype=np.float64)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


# Three "hospitals": reference stain, a purple-heavy one, and a pale, pinker one with less hematoxylin.
centres = {
    "centre A": (REFERENCE_STAIN_MATRIX, 1.0, 1.0),
    "centre B": (unit_rows([[0.45, 0.80, 0.40], [0.15, 0.85, 0.50]]), 1.4, 1.2),
    "centre C": (unit_rows([[0.65, 0.68, 0.34], [0.10, 0.75, 0.65]]), 0.6, 0.8),
}
tiles = {name: [] for name in centres}
labels = []
for i in range(6):
    tumour = i % 2 == 1
    labels.append(int(tumour))
    ch, ce = synthetic_concentrations(np.random.default_rng(100 + i), tumour=tumour)
    for name, (matrix, amount_h, amount_e) in centres.items():
        tiles[name].append(compose_he(amount_h * ch, amount_e * ce, matrix))
tiles = {name: np.stack(t) for name, t in tiles.items()}

fig, axes = plt.subplots(3, 6, figsize=(12, 6.3))
for row, (name, batch) in enumerate(tiles.items()):
    for col in range(6):
        axes[row, col].imshow(batch[col])
        axes[row, col].set_xticks([])
        axes[row, col].set_yticks([])
        if row == 0:
            axes[row, col].set_title("tumour" if labels[col] else "normal", fontsize=9)
    axes[row, 0].set_ylabel(name)
fig.suptitle("The same synthetic tissue stained in three centres")
plt.show()

# %% [markdown]
# ## 2. Augmentation
#
# A tile's label does not change when it is rotated by 90 degrees or mirrored: the eight symmetries of the
# square are free extra training data (the *dihedral group* $D_4$). `random_flip_rotate` applies one of
# them, chosen at random, to each tile. **Stain augmentation** imitates centre differences during training:
# split each tile into H and E concentrations, scale and shift each by a random amount, recompose.

# %%
tile = tiles["centre A"][1]
batch = np.repeat(tile[None], 8, axis=0)
flipped = random_flip_rotate(batch, rng=1)
stained = stain_augment(batch, rng=2, scale=0.3, shift=0.08)
fig, axes = plt.subplots(2, 8, figsize=(13, 3.6))
for col in range(8):
    axes[0, col].imshow(flipped[col])
    axes[1, col].imshow(stained[col])
    axes[0, col].axis("off")
    axes[1, col].axis("off")
axes[0, 0].set_title("random flips and rotations", loc="left", fontsize=10)
axes[1, 0].set_title("random stain changes", loc="left", fontsize=10)
plt.show()

# every output must be one of the eight symmetries of the input
symmetries = [np.rot90(tile, k) for k in range(4)] + [np.rot90(tile, k)[:, ::-1] for k in range(4)]
print("each output is a symmetry of the tile:", all(any(np.array_equal(f, s) for s in symmetries) for f in flipped))

# %% [markdown]
# ## 3. Colour normalization
#
# **Reinhard**: convert to the CIE L\*a\*b\* space (lightness, green-red, blue-yellow), and for each channel
# shift and scale the tissue pixels so that their mean and standard deviation match a reference image:
#
# $$\ell' = \frac{\ell - \mu}{\sigma}\,\sigma_{\text{ref}} + \mu_{\text{ref}}.$$
#
# **Macenko**: estimate each image's own stain vectors from its optical densities (the plane of the two main
# directions, and the extreme angles in that plane), compute the concentrations, and recompose them with the
# reference's vectors and concentration scale. Reinhard only moves colour statistics; Macenko separates the
# stains, so it also corrects a centre that has the wrong *mix* of stains.
#
# We fit both on centre A's tiles and normalise every centre. The numbers below are the mean colour
# distance (in LAB units, $\Delta E$) between a tile of centre B or C and the same tissue in centre A.

# %%
reinhard = ReinhardNormalizer().fit(tiles["centre A"])
macenko = MacenkoNormalizer().fit(tiles["centre A"])
results = {"original": tiles, "Reinhard": {}, "Macenko": {}}
for name, batch in tiles.items():
    results["Reinhard"][name] = reinhard.transform(batch)
    results["Macenko"][name] = macenko.transform(batch)


def delta_e(a, b):
    return float(np.mean(np.linalg.norm(rgb2lab(a) - rgb2lab(b), axis=-1)))


for method, res in results.items():
    dists = [delta_e(res[name], tiles["centre A"]) for name in ("centre B", "centre C")]
    print(f"{method:9s} mean Delta E to centre A: B {dists[0]:5.1f}   C {dists[1]:5.1f}")

fig, axes = plt.subplots(3, 3, figsize=(8, 8))
for row, (method, res) in enumerate(results.items()):
    for col, name in enumerate(tiles):
        axes[row, col].imshow(res[name][3])
        axes[row, col].set_xticks([])
        axes[row, col].set_yticks([])
        if row == 0:
            axes[row, col].set_title(name)
    axes[row, 0].set_ylabel(method)
fig.suptitle("One tumour tile from each centre, before and after normalization")
plt.show()

# %% [markdown]
# Questions: which method brings centre C (pale, different stain vectors) closer? Should you normalise,
# augment, or both, when the test slides come from a hospital you have never seen? (S04 measures it on tiles
# of the synthetic cohort.)
#
# ## Self-check
# Runs the quick tests marked `G07` (`pytest -m "G07 and not slow"`) in a fresh Python process.
#
# **Save the notebook first** (Ctrl-S): the tests read your functions from the saved file.

# %%
self_check("G07")
