# %% [markdown]
# # S07 · From a heatmap to a handful of numbers: slide features
#
# **Prerequisites:** none: S07 needs no other exercise. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - describe a heatmap by features a slide classifier can use: the highest probability, how much tissue looks
#   like tumour, and the size and shape of the largest suspicious object;
# - measure objects in **millimetres**, because the CAMELYON17 slide labels are defined by sizes (0.2 mm, 2 mm);
# - look at which features separate negative, ITC, micro and macro slides.
#
# **What you implement**
# - in `camelyon/features.py`: `core_features`, the six features of the course (exercise region `S07`);
# - in this notebook: `tumour_burden`.
#
# The self-check runs `pytest -m S07` (save the notebook first).
#
# **Start here if you skipped S01-S06.** By default this notebook (and S08, S09) uses the **sample-solution
# heatmaps** in `specific_exercises/sample_heatmaps/`: heatmaps computed by the reference pipeline on the
# 15-patient demo cohort (its 50 evaluation slides, with the reference `stage_labels.csv` and small
# thumbnails). Load them yourself with
# ```python
# from camelyon.heatmap import Heatmap
# hm = Heatmap.load("sample_heatmaps/patient_004_node_2.npz")   # path relative to this notebook's folder
# hm.probability, hm.tissue, hm.um_per_px      # (H, W) float32, (H, W) bool, um per heatmap pixel
# ```
# or set `HEATMAP_DIR` to a folder of your own heatmaps (e.g. `runs/demo/run/heatmaps` after `make demo`, or the
# output of `camelyon heatmap`) with a `stage_labels.csv` in it or set `DATA_DIR` to the cohort it belongs to.
#
# **Preset.** The sample heatmaps come from the **easy**-preset demo cohort; `docs/synthetic.md` (calibration) shows
# how the same tile CNN fares on the **challenge** preset. Heatmaps of a challenge cohort take a pipeline run
# (`camelyon synth ... --difficulty challenge`, then `camelyon pipeline`; about 15 minutes for 30 patients on a
# loaded 2-core machine), beyond this notebook's budget: set `HEATMAP_DIR` to its heatmaps to use them here.

# %%
HEATMAP_DIR = None  # None: the sample heatmaps; or a folder of <slide>.npz heatmaps
DATA_DIR = None     # only with your own HEATMAP_DIR: the cohort folder holding stage_labels.csv

# %%
import sys
import pathlib

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "camelyon" / "__init__.py").exists())
sys.path[:0] = [str(ROOT), str(ROOT / "specific_exercises")]

from minicnn.teaching.progress import start_notebook

start_notebook("S07")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np

import course_data
from camelyon.features import core_features, feature_names, heatmap_features
from camelyon.staging import SLIDE_LABELS
from minicnn.teaching.selfcheck import self_check

heatmaps = course_data.load_heatmaps(HEATMAP_DIR)
reference = course_data.sample_stage_table(HEATMAP_DIR) if DATA_DIR is None else course_data.stage_table(DATA_DIR)
thumbnails = course_data.sample_thumbnails(HEATMAP_DIR)
labels = {s: reference.slides.get(s, "?") for s in heatmaps}
print(len(heatmaps), "heatmaps; slide labels:", {k: list(labels.values()).count(k) for k in SLIDE_LABELS})

# %% [markdown]
# ## 1. Background
#
# The slide classifier never sees pixels, only a feature vector per slide. The CAMELYON16 winners (Wang et al.
# 2016) used a few dozen such numbers; the six of this course are, at a probability threshold `t`:
#
# 1. the maximum probability on the slide;
# 2. the mean of the probabilities above 0 (how suspicious the tissue looks on average);
# 3. the number of heatmap pixels above `t`;
# 4. and 5. the major and minor axis lengths of the largest **object** (8-connected pixels above `t`), from
#    the ellipse with the same second moments;
# 6. the pixel count of the largest object.
#
# Medically, the largest metastasis decides the label: ITC up to 0.2 mm, micro up to 2 mm, macro beyond. So
# sizes matter in mm: a heatmap pixel here covers `um_per_px` micrometres, and `camelyon.features` also reports
# the longest diameter of the largest object in mm, the number of objects, areas in mm2 and the tumour/tissue
# ratio, at two thresholds (0.5 and 0.9).

# %%
order = {k: [s for s in heatmaps if labels[s] == k] for k in SLIDE_LABELS}
def n_above(s):
    return int((heatmaps[s].probability > 0.5).sum())


# per label, the slide with the most heatmap pixels above 0.5 (for "negative": the worst false alarm)
examples = [max(order[k], key=n_above) for k in SLIDE_LABELS if order[k]]
fig, axes = plt.subplots(2, len(examples), figsize=(3.6 * len(examples), 5.6))
for k, name in enumerate(examples):
    hm = heatmaps[name]
    if name in thumbnails:
        axes[0, k].imshow(thumbnails[name])
    axes[0, k].set_title(f"{name.replace('.tif', '')}\n{labels[name]}", fontsize=9)
    shown = np.ma.masked_where(~hm.tissue, hm.probability)
    axes[1, k].imshow(np.where(hm.tissue, 0.15, 0.0), cmap="Greys", vmin=0, vmax=1)
    axes[1, k].imshow(shown, cmap="jet", vmin=0, vmax=1, interpolation="nearest")
    axes[1, k].set_title(f"max p {hm.probability.max():.2f}, {hm.um_per_px:g} um/px", fontsize=9)
for ax in axes.ravel():
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 2. The six features on one heatmap
#
# `core_features(probability, threshold)` (your exercise in `camelyon/features.py`) also returns the labelled
# objects, so we can draw the largest one.

# %%
name = max(order["macro"] or list(heatmaps), key=n_above)
f = core_features(heatmaps[name].probability, threshold=0.5)
for key in ("max_probability", "mean_positive_probability", "pixels_above", "largest_major_axis_px",
            "largest_minor_axis_px", "largest_area_px"):
    print(f"{key:28s} {f[key]:.3f}" if isinstance(f[key], float) else f"{key:28s} {f[key]}")
fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
axes[0].imshow(heatmaps[name].probability, cmap="jet", vmin=0, vmax=1, interpolation="nearest")
axes[0].set_title(name)
axes[1].imshow(f["labels"], cmap="tab20", interpolation="nearest")
if f["largest_label"]:
    axes[1].contour(f["labels"] == f["largest_label"], levels=[0.5], colors="k")
axes[1].set_title(f"{int(f['labels'].max())} objects above 0.5 (largest outlined)")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# **Exercise.** Write `tumour_burden(heatmap, threshold=0.5)`: a dict with `area_mm2`, the area of the heatmap
# pixels whose probability is above `threshold` in mm2 (one pixel is `(um_per_px / 1000) ** 2` mm2), and
# `tissue_ratio`, the number of those pixels over the number of tissue pixels (`heatmap.tissue`; 0.0 when there
# is no tissue). Both plain floats.

# %% [markdown]
# **Hints for `tumour_burden`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# Count the heatmap pixels the CNN calls tumour; each pixel covers a known area of tissue, so the count becomes an area in mm²; relative to the tissue pixels it becomes a share.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# area $= n_{>t}\,(\text{um\_per\_px}/1000)^2$ mm²; ratio $= n_{>t} / n_\text{tissue}$ (0 without tissue).
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# above = count_nonzero(heatmap.probability > threshold); tissue = count_nonzero(heatmap.tissue)
# return {'area_mm2': above * <pixel area in mm^2>, 'tissue_ratio': above / tissue if tissue else 0.0}
# ```
# </details>

# %%
import numpy as np


def tumour_burden(heatmap, threshold=0.5):
    """dict(area_mm2, tissue_ratio) of the heatmap pixels above ``threshold``."""
    ### BEGIN SOLUTION (S07) return {"area_mm2", "tissue_ratio"}: the pixels above threshold, their area from the heatmap's um_per_px, their share of the tissue pixels (0.0 without tissue)
    above = int(np.count_nonzero(heatmap.probability > threshold))
    tissue = int(np.count_nonzero(heatmap.tissue))
    return {"area_mm2": above * (heatmap.um_per_px / 1000.0) ** 2,
            "tissue_ratio": above / tissue if tissue else 0.0}
    ### END SOLUTION

# %%
print(tumour_burden(heatmaps[name]))

# %% [markdown]
# ## 3. A feature table for the whole cohort
#
# `heatmap_features` computes every feature of one heatmap (in the order of `feature_names()`); one row per
# slide gives the table S08 learns from.

# %%
names = feature_names()
slides = sorted(heatmaps)
X = np.array([[heatmap_features(heatmaps[s])[n] for n in names] for s in slides])
y = np.array([labels[s] for s in slides])
print(X.shape, "features:", ", ".join(names[:6]), "...")

colours = {"negative": "tab:green", "itc": "tab:olive", "micro": "tab:orange", "macro": "tab:red"}
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
j_max, j_diam = names.index("max_probability"), names.index("largest_diameter_mm_t50")
for k in SLIDE_LABELS:
    sel = y == k
    axes[0].scatter(X[sel, j_max], X[sel, j_diam], c=colours[k], label=f"{k} ({sel.sum()})", s=30, alpha=0.8)
for mm in (0.2, 2.0):
    axes[0].axhline(mm, color="grey", ls=":", lw=1)
axes[0].set_xlabel("max probability")
axes[0].set_ylabel("longest diameter of the largest object (mm, t = 0.5)")
axes[0].set_yscale("symlog", linthresh=0.1)
axes[0].legend()
axes[0].set_title("two features per slide (dotted: 0.2 and 2 mm)")
burden = np.array([tumour_burden(heatmaps[s])["area_mm2"] for s in slides])
data = [burden[y == k] for k in SLIDE_LABELS]
axes[1].boxplot([d if len(d) else [np.nan] for d in data])
axes[1].set_xticks(range(1, len(data) + 1), [f"{k}\n({len(d)})" for k, d in zip(SLIDE_LABELS, data)])
axes[1].set_yscale("symlog", linthresh=0.01)
axes[1].set_ylabel("area above 0.5 (mm2)")
axes[1].set_title("tumour burden per slide label")
plt.show()

# %% [markdown]
# **Questions.** (1) Which label is hardest to separate, and why (think of the heatmap pixel size against
# 0.2 mm)? (2) A single false-positive pixel at the tissue edge sets `max_probability` high on a negative slide:
# which features are robust to that? (3) Why might the diameter of the largest object be *larger* than the
# lesion in the pathologist's outline?

# %% [markdown]
# ## Self-check
# Runs the tests marked `S07`: `core_features` in `camelyon/features.py` and your `tumour_burden`.
#
# **Save the notebook first** (Ctrl-S): the tests read your functions from the saved file.

# %%
self_check("S07")
