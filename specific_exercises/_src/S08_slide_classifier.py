# %% [markdown]
# # S08 · Slide labels with a decision tree and a random forest
#
# **Prerequisites:** S08 needs G08 (decision trees), G09 (random forests), G10 (metrics). Not written yet? S08 reads the sample features when S07 is not written; start at S09 for staging from the sample slide labels. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - learn the slide label (negative, ITC, micro, macro) from heatmap features with your `minicnn.tree`;
# - cross-validate honestly: folds **grouped by patient**;
# - read a decision tree, compare it with a forest, and find where both fail (confusion matrices).
#
# **What you implement** (in this notebook): `patient_folds`. The classifier is
# `camelyon.slide_classifier.SlideClassifier` around your G08/G09 `DecisionTreeClassifier` and
# `RandomForestClassifier`.
#
# The self-check runs `pytest -m S08` (save the notebook first).
#
# Like S07, this notebook starts from the sample heatmaps (`specific_exercises/sample_heatmaps/`) unless
# `HEATMAP_DIR` says otherwise.
#
# **Preset.** The sample heatmaps come from the **easy**-preset demo cohort (see S07).

# %%
HEATMAP_DIR = None  # None: the sample heatmaps; or a folder of <slide>.npz heatmaps
DATA_DIR = None     # only with your own HEATMAP_DIR: the cohort folder holding stage_labels.csv
N_FOLDS = 5

# %%
import sys
import pathlib

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "camelyon" / "__init__.py").exists())
sys.path[:0] = [str(ROOT), str(ROOT / "specific_exercises")]

from minicnn.teaching.progress import start_notebook

start_notebook("S08")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np

import course_data
from camelyon.features import feature_names
from camelyon.slide_classifier import SlideClassifier
from camelyon.staging import SLIDE_LABELS, patient_of
from minicnn.metrics import confusion_matrix, plot_confusion_matrix
from minicnn.tree import plot_tree
from minicnn.teaching.selfcheck import self_check

heatmaps = course_data.load_heatmaps(HEATMAP_DIR)
reference = course_data.sample_stage_table(HEATMAP_DIR) if DATA_DIR is None else course_data.stage_table(DATA_DIR)
names = feature_names()
slides = sorted(heatmaps)
X = course_data.feature_matrix(heatmaps, slides, names, HEATMAP_DIR)  # your S07 features (or the sample ones)
y = np.array([reference.slides[s] for s in slides])
patients = np.array([patient_of(s) for s in slides])
print(f"{len(slides)} slides of {len(set(patients))} patients, {X.shape[1]} features; labels",
      {k: int((y == k).sum()) for k in SLIDE_LABELS})

# %% [markdown]
# ## 1. Background
#
# With a few dozen features per slide and a few hundred slides (CAMELYON17 has 500 training slides), a
# tree-based model is the classic choice (the 2017 winners used random forests or gradient boosting on heatmap
# features). Trees need no feature scaling, cope with features on wildly different scales (a probability, an
# area in mm2, a count), and a single tree can be read by a pathologist.
#
# The slides of one patient share the same lab, day and tumour, so they must stay together: a fold holds
# whole patients. Otherwise the classifier is tested on near-copies of its training slides.
#
# **Exercise.** Write `patient_folds(patients, n_folds, seed)`: an int array with the fold (`0..n_folds-1`)
# of each slide. Take the distinct patients in sorted order, shuffle them with
# `np.random.default_rng(seed).permutation`, and deal them out in turn (the `k`-th patient of the shuffled list
# goes to fold `k % n_folds`); every slide gets the fold of its patient. Raise a `ValueError` when there are
# fewer patients than folds.

# %% [markdown]
# **Hints for `patient_folds`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# Slides of one patient look alike: put all of a patient's slides in the same fold, or the classifier is tested on near-copies of its training slides. Shuffle the patients, deal them to the folds in turn, then give every slide its patient's fold.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# fold(patient at position $k$ of the shuffled list) $= k \bmod K$; fold(slide) = fold(its patient).
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# distinct patients, sorted (fewer than n_folds: ValueError)
# shuffle their positions with a generator seeded by seed
# the k-th patient of the shuffled order -> fold k modulo n_folds (a dict patient -> fold)
# return an int array: each slide's patient's fold, in the order of patients
# ```
# </details>

# %%
import numpy as np


def patient_folds(patients, n_folds, seed=0):
    """Fold index (int, shape (n_slides,)) of each slide; a patient's slides share one fold."""
    ### BEGIN SOLUTION (S08) unique sorted patients -> rng.permutation -> fold k % n_folds -> map back to slides
    patients = np.asarray(patients)
    unique = np.array(sorted(set(patients.tolist())))
    if len(unique) < n_folds:
        raise ValueError(f"{len(unique)} patients cannot fill {n_folds} folds")
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of = {unique[i]: k % n_folds for k, i in enumerate(order)}
    return np.array([fold_of[p] for p in patients], dtype=np.int64)
    ### END SOLUTION

# %%
n_folds = min(N_FOLDS, len(set(patients)))
folds = patient_folds(patients, n_folds, seed=0)
for k in range(n_folds):
    print(f"fold {k}: patients {sorted(set(patients[folds == k].tolist()))}, labels "
          f"{ {lab: int(((folds == k) & (y == lab)).sum()) for lab in SLIDE_LABELS} }")

# %% [markdown]
# ## 2. Cross-validated predictions: a tree and a forest
#
# For each fold, fit on the other folds and predict the held-out slides. `class_weight="balanced"` gives each
# label the same total weight, so the rare ITC and micro slides are not swamped by the negatives.

# %%
def cross_validated(kind, **params):
    pred = np.empty(len(y), dtype=object)
    for k in range(n_folds):
        train, test = folds != k, folds == k
        if len(set(y[train])) < 2:
            pred[test] = y[train][0]
            continue
        clf = SlideClassifier(kind, random_state=0, **params).fit(X[train], y[train], feature_names=names)
        pred[test] = clf.predict(X[test])
    return pred.astype(str)


predictions = {"decision tree": cross_validated("tree", max_depth=4),
               "random forest": cross_validated("forest", n_estimators=100, min_samples_leaf=1)}
fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
for ax, (name, pred) in zip(axes, predictions.items()):
    acc = float(np.mean(pred == y))
    cm = confusion_matrix(y, pred, labels=list(SLIDE_LABELS))
    plot_confusion_matrix(cm=cm, display_labels=list(SLIDE_LABELS), ax=ax, title=f"{name}: accuracy {acc:.0%}")
    per_class = {k: f"{np.mean(pred[y == k] == k):.0%}" for k in SLIDE_LABELS if (y == k).any()}
    print(f"{name:14s} accuracy {acc:.1%}; per label {per_class}")
plt.show()

# %% [markdown]
# ## 3. What did the tree learn?
#
# Fitted on all slides (for reading, not for scoring), the tree shows which features and thresholds it uses;
# the forest's feature importances say which features matter over its 100 trees.

# %%
tree = SlideClassifier("tree", max_depth=3, random_state=0).fit(X, y, feature_names=names)
forest = SlideClassifier("forest", n_estimators=100, random_state=0).fit(X, y, feature_names=names)
print(tree.describe(max_depth=3))

fig, axes = plt.subplots(1, 2, figsize=(16, 5), gridspec_kw={"width_ratios": [1.6, 1]})
plot_tree(tree.estimator_, feature_names=names, class_names=[str(c) for c in tree.classes_], ax=axes[0], fontsize=7)
axes[0].set_title("decision tree (depth 3), all slides")
imp = forest.feature_importances_
top = np.argsort(imp)[::-1][:12]
axes[1].barh(range(len(top))[::-1], imp[top], color="tab:blue")
axes[1].set_yticks(range(len(top))[::-1], [names[j] for j in top], fontsize=8)
axes[1].set_title("random forest: feature importances (top 12)")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Questions.** (1) Which labels does the forest confuse, and is the mistake near a size threshold (0.2 mm,
# 2 mm)? (2) With only a handful of ITC slides, what does one fold's mistake do to the per-label accuracy?
# (3) The tree fitted on all slides is easy to read; why must it not be used to report the accuracy?

# %% [markdown]
# ## Self-check
# Runs the tests marked `S08`: your `patient_folds` (read from the saved notebook).

# %%
self_check("S08")
