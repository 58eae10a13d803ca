# %% [markdown]
# # G10 · Evaluation: confusion matrix, ROC and AUC, Cohen's kappa
#
# **Prerequisites:** none: G10 needs no other exercise. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - read a confusion matrix and derive accuracy, precision, recall and F1 from it; see why accuracy misleads
#   when classes are imbalanced (most lymph nodes are negative);
# - draw a ROC curve, and understand the AUC as a ranking probability;
# - measure agreement on ordered classes with Cohen's kappa, unweighted, linear and quadratic, the score of
#   the CAMELYON17 challenge.
#
# **What you implement** (in `minicnn/metrics/`): `confusion_counts`, `binary_counts`, `kappa_from_confusion`;
# in this notebook: `auc_by_pairs`. The self-check at the end runs `pytest -m G10`.

# %%
import sys
import pathlib

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "minicnn" / "__init__.py").exists())
sys.path.insert(0, str(ROOT))

from minicnn.teaching.progress import start_notebook

start_notebook("G10")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np

from minicnn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    plot_confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)
from minicnn.teaching.selfcheck import self_check

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The confusion matrix
#
# Row $i$, column $j$ counts the samples of true class $i$ predicted as class $j$; the diagonal holds the
# correct ones. For a positive class: true positives $TP$, false positives $FP$ (column minus diagonal), false
# negatives $FN$ (row minus diagonal), and
#
# $$\text{precision} = \frac{TP}{TP+FP},\qquad \text{recall (sensitivity)} = \frac{TP}{TP+FN},\qquad
#   F_1 = \frac{2\,\text{precision}\cdot\text{recall}}{\text{precision}+\text{recall}}.$$
#
# 95 % of our simulated slides are negative. A "classifier" that always answers negative has 95 % accuracy and
# finds no metastasis at all:

# %%
y_true = (rng.uniform(size=1000) < 0.05).astype(int)
always_negative = np.zeros_like(y_true)
score = np.clip(0.25 + 0.35 * y_true + 0.15 * rng.standard_normal(1000), 0, 1)  # a real, imperfect model
model = (score > 0.45).astype(int)
for name, pred in (("always negative", always_negative), ("model", model)):
    p, r, f, _ = precision_recall_fscore_support(y_true, pred, labels=[0, 1], zero_division=0)
    print(f"{name:16s} accuracy {accuracy_score(y_true, pred):.3f}  precision {p[1]:.2f}  recall {r[1]:.2f}  "
          f"F1 {f[1]:.2f}")

fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
plot_confusion_matrix(y_true, always_negative, labels=[0, 1], display_labels=["negative", "tumour"], ax=axes[0],
                      title="always negative")
plot_confusion_matrix(y_true, model, labels=[0, 1], display_labels=["negative", "tumour"], ax=axes[1],
                      title="model, threshold 0.45")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 2. ROC curve and AUC
#
# A score becomes a decision with a threshold $t$: positive when $s > t$. Each threshold gives a true-positive
# rate $\text{TPR} = TP/P$ and a false-positive rate $\text{FPR} = FP/N$; the ROC curve traces them all, from
# (0, 0) (nothing positive) to (1, 1) (everything positive). The area under it has a neat meaning:
#
# $$\text{AUC} = P\left(s_{\text{positive}} > s_{\text{negative}}\right) + \tfrac12 P\left(s_{\text{positive}} = s_{\text{negative}}\right),$$
#
# the probability that a random positive is ranked above a random negative (the Mann-Whitney statistic).
# It ignores the threshold and the class balance. CAMELYON16 ranked slide-level tumour detection by AUC.
#
# **Exercise.** Write `auc_by_pairs(y, s)` that compares every positive with every negative (ties count one
# half). It costs $O(PN)$ against $O(n \log n)$ for the curve, but it is the definition.

# %% [markdown]
# **Hints for `auc_by_pairs`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# The AUC is the probability that a random positive scores higher than a random negative. Count it over every (positive, negative) pair; a tie counts as half.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# $\mathrm{AUC} = \frac{1}{n_+ n_-}\sum_{i \in +}\sum_{j \in -} \big([s_i > s_j] + \tfrac12 [s_i = s_j]\big)$.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# split the scores by class: positives (y == 1) and negatives (y == 0)
# a (n_pos, n_neg) table of score differences, by broadcasting a column against a row
# return float(mean over the table of: 1 where the difference is > 0, 0.5 where it is 0)
# ```
# </details>

# %%
def auc_by_pairs(y, s):
    """AUC as the fraction of (positive, negative) pairs ranked correctly, ties counting 1/2."""
    ### BEGIN SOLUTION (G10) broadcast positives against negatives: mean of [s_pos > s_neg] + 0.5 [s_pos == s_neg]
    pos, neg = s[y == 1], s[y == 0]
    diff = pos[:, None] - neg[None, :]
    return float(np.mean((diff > 0) + 0.5 * (diff == 0)))
    ### END SOLUTION


y_bin = rng.integers(0, 2, 400)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for separation in (0.0, 0.5, 1.0, 2.5):
    s = y_bin * separation + rng.standard_normal(400)
    s = np.round(s, 1)  # create ties on purpose
    fpr, tpr, _ = roc_curve(y_bin, s)
    auc = roc_auc_score(y_bin, s)
    assert abs(auc - auc_by_pairs(y_bin, s)) < 1e-12
    axes[0].plot(fpr, tpr, label=f"separation {separation}: AUC {auc:.3f}")
    if separation in (0.5, 2.5):
        axes[1].hist(s[y_bin == 0], bins=30, alpha=0.5, label=f"negatives (sep. {separation})")
        axes[1].hist(s[y_bin == 1], bins=30, alpha=0.5, label=f"positives (sep. {separation})")
axes[0].plot([0, 1], [0, 1], "k:", lw=1)
axes[0].set_xlabel("false-positive rate")
axes[0].set_ylabel("true-positive rate")
axes[0].legend(fontsize=8)
axes[1].set_xlabel("score")
axes[1].legend(fontsize=7)
plt.show()
print("pairwise AUC and roc_auc_score agree on all four score sets")

# %% [markdown]
# ## 3. Cohen's kappa, and weights for ordered classes
#
# Two raters (say, the reference and an algorithm) agree on a fraction $p_o$ of the samples. Part of that
# agreement happens by chance: with marginal frequencies $r_i$ (rater 1) and $c_j$ (rater 2), chance agreement is
# $p_e = \sum_i r_i c_i$. Kappa rescales the agreement so that chance is 0 and perfection is 1:
#
# $$\kappa = \frac{p_o - p_e}{1 - p_e}.$$
#
# With **ordered** classes, some mistakes are worse than others. Weighted kappa uses disagreement weights
# $w_{ij}$, with observed proportions $O_{ij}$ and chance-expected ones $E_{ij} = r_i c_j$:
#
# $$\kappa_w = 1 - \frac{\sum_{ij} w_{ij} O_{ij}}{\sum_{ij} w_{ij} E_{ij}},\qquad
#   w_{ij} = \frac{|i-j|}{K-1}\ \text{(linear)}\quad\text{or}\quad \frac{(i-j)^2}{(K-1)^2}\ \text{(quadratic)}.$$
#
# ($w_{ij} = [i \ne j]$ gives back the unweighted kappa.) CAMELYON17 scores the five pN stages of each patient,
# pN0 < pN0(i+) < pN1mi < pN1 < pN2, with the quadratic kappa: calling a pN2 patient pN1 costs little, calling
# it pN0 costs 16 times more.
#
# Two simulated algorithms with the *same accuracy*: A errs by one stage, B errs far.

# %%
stages = ["pN0", "pN0(i+)", "pN1mi", "pN1", "pN2"]
reference = rng.choice(5, size=200, p=[0.45, 0.1, 0.15, 0.2, 0.1])
wrong = rng.uniform(size=200) < 0.3
step = rng.choice([-1, 1], size=200)
near = np.where(reference == 0, 1, np.where(reference == 4, 3, reference + step))  # always one stage off
far = (reference + rng.integers(2, 4, size=200)) % 5
algo_a = np.where(wrong, near, reference)
algo_b = np.where(wrong, far, reference)
for name, pred in (("A (near misses)", algo_a), ("B (far misses)", algo_b)):
    print(f"{name:16s} accuracy {accuracy_score(reference, pred):.3f}  "
          f"kappa {cohen_kappa_score(reference, pred):.3f}  "
          f"linear {cohen_kappa_score(reference, pred, weights='linear'):.3f}  "
          f"quadratic {cohen_kappa_score(reference, pred, weights='quadratic'):.3f}")

fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
for ax, (name, pred) in zip(axes, (("A: near misses", algo_a), ("B: far misses", algo_b))):
    plot_confusion_matrix(reference, pred, labels=range(5), display_labels=stages, ax=ax, title=name)
plt.tight_layout()
plt.show()

# %% [markdown]
# For scale: in CAMELYON17 the best team reached a quadratic kappa of 0.89, an ensemble of the top algorithms
# 0.93, and the weakest entries were below 0 (worse than chance). S09 computes it for your pipeline.
#
# ## Self-check
# Runs the quick tests marked `G10` (`pytest -m "G10 and not slow"`) in a fresh Python process.
#
# **Save the notebook first** (Ctrl-S): the tests read your functions from the saved file.

# %%
self_check("G10")
