# %% [markdown]
# # G08 · Decision trees
#
# **Prerequisites:** none: G08 needs no other exercise. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - measure the impurity of a node (Gini, entropy) and the impurity decrease of a split;
# - find the best axis-aligned split by trying every threshold, then grow a tree greedily and recursively;
# - read a tree (rules, drawing, decision regions), and see how depth trades bias for variance.
#
# **What you implement** (in `minicnn/tree/criteria.py`, `split_naive.py`, `builder.py`): `gini`, `entropy`,
# `best_split_naive`, `grow_node`; in this notebook: `best_threshold_1d`. The self-check runs `pytest -m G08`.

# %%
import sys
import pathlib
import time

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "minicnn" / "__init__.py").exists())
sys.path.insert(0, str(ROOT))

from minicnn.teaching.progress import start_notebook

start_notebook("G08")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np

from minicnn.datasets import make_blobs, make_spirals, make_xor, train_test_split
from minicnn.teaching.selfcheck import self_check
from minicnn.tree import DecisionTreeClassifier, entropy, export_text, gini, plot_decision_boundary, plot_tree

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Impurity
#
# A node holds samples with class proportions $p_1, \dots, p_K$. It is *pure* when one class has them all.
#
# $$\text{Gini} = 1 - \sum_k p_k^2 \qquad\qquad \text{entropy} = -\sum_k p_k \log_2 p_k \;\;(0 \log 0 = 0)$$
#
# Gini is the probability that two samples drawn at random from the node have different classes; entropy is
# the number of bits needed to tell the class. Both are 0 for a pure node and largest for equal proportions.
#
# A split sends the $n$ samples of a node to a left child ($n_L$) and a right child ($n_R$). Its quality is the
# **impurity decrease**
#
# $$\Delta = I(\text{node}) - \frac{n_L}{n} I(\text{left}) - \frac{n_R}{n} I(\text{right}).$$

# %%
p = np.linspace(0, 1, 201)
fig, ax = plt.subplots(figsize=(5.5, 3.3))
ax.plot(p, [gini(np.array([q, 1 - q])) for q in p], label="Gini")
ax.plot(p, [entropy(np.array([q, 1 - q])) for q in p], label="entropy (bits)")
ax.plot(p, 1 - np.maximum(p, 1 - p), "--", label="misclassification rate")
ax.set_xlabel("proportion of class 1 in the node")
ax.set_ylabel("impurity")
ax.legend()
plt.show()
print("gini([5, 5]) =", gini(np.array([5.0, 5.0])), "  entropy([2, 2, 2, 2]) =", entropy(np.array([2.0, 2, 2, 2])))

# %% [markdown]
# ## 2. The best threshold on one feature
#
# With feature values sorted, only thresholds between two consecutive *distinct* values change the partition;
# the usual choice is the midpoint. Trying each one and recomputing the children's impurity costs $O(n^2)$ per
# feature; sweeping the sorted samples and updating the class counts incrementally costs $O(n)$ after the sort
# (that is what `splitter="fast"` does).
#
# **Exercise 1.** Write `best_threshold_1d(x, y)`: try the midpoint between each pair of consecutive distinct
# sorted values, compute the Gini decrease, and return the best `(threshold, decrease)`. Samples with
# `x <= threshold` go left.

# %% [markdown]
# **Hints for `best_threshold_1d`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# Only thresholds between two neighbouring distinct values of `x` give different splits. Try each of them, measure how much the split lowers the Gini impurity, and keep the best.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# For a split into $L$ and $R$: decrease $= G(\text{parent}) - \frac{|L|}{n} G(L) - \frac{|R|}{n} G(R)$ with $G$ the Gini impurity of the class counts; thresholds are midpoints $(v_i + v_{i+1})/2$ of the sorted distinct values.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# values = np.unique(x)
# for low, high in consecutive pairs of values:
#     t = midpoint; left = x <= t
#     child = weighted mean of gini(counts of y[left]) and gini(counts of y[~left])
#     keep t if parent - child is the largest so far
# return best t, its decrease
# ```
# </details>

# %%
def best_threshold_1d(x, y):
    """Best Gini split of one feature: (threshold, impurity decrease); (None, 0.0) if x is constant."""
    n_classes = int(y.max()) + 1
    parent = gini(np.bincount(y, minlength=n_classes).astype(np.float64))
    ### BEGIN SOLUTION (G08) try the midpoints of consecutive distinct sorted values; keep the largest decrease
    values = np.unique(x)
    best, best_decrease = None, 0.0
    for low, high in zip(values[:-1], values[1:]):
        threshold = (low + high) / 2
        left = x <= threshold
        n_left = left.sum()
        child = (n_left * gini(np.bincount(y[left], minlength=n_classes).astype(np.float64))
                 + (len(x) - n_left) * gini(np.bincount(y[~left], minlength=n_classes).astype(np.float64))) / len(x)
        if parent - child > best_decrease:
            best, best_decrease = threshold, parent - child
    return best, best_decrease
    ### END SOLUTION


X, y = make_blobs(n_samples=200, n_classes=2, std=1.5, seed=1)
x0 = X[:, 0].astype(np.float64)
threshold, decrease = best_threshold_1d(x0, y)
print(f"best threshold on feature 0: {threshold:.3f}, Gini decrease {decrease:.3f}")

# what each side of a threshold holds: the share of each class that falls at or left of it
order = np.argsort(x0, kind="stable")
left_share = {k: np.cumsum(y[order] == k) / max(1, int(np.sum(y == k))) for k in (0, 1)}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.3))
for k in (0, 1):
    axes[0].hist(x0[y == k], bins=25, alpha=0.6, label=f"class {k}")
    axes[1].plot(x0[order], left_share[k], label=f"class {k}")
axes[0].axvline(threshold, color="k", ls="--")
axes[0].set_xlabel("feature 0")
axes[0].legend()
axes[1].axvline(threshold, color="k", ls="--", label="your threshold")
axes[1].set_xlabel("threshold")
axes[1].set_ylabel("share of the class at or left of it")
axes[1].legend()
plt.show()

# %% [markdown]
# ## 3. Growing the tree
#
# `grow_node` is recursive: make the node a leaf when it is pure, too small (`min_samples_split`), too deep
# (`max_depth`) or when no split decreases the impurity enough; otherwise find the best split over all
# (or `max_features` random) features, record it, and grow the left and right children.
#
# Your naive splitter and the compiled one must grow the *same* tree:

# %%
X, y = make_xor(n_samples=300, noise=0.15, seed=0)
naive = DecisionTreeClassifier(splitter="naive", max_depth=3).fit(X, y)
fast = DecisionTreeClassifier(splitter="fast", max_depth=3).fit(X, y)
print(export_text(naive, feature_names=["x1", "x2"]))
print("same tree:", export_text(naive) == export_text(fast))

fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1.6, 1]})
plot_tree(naive, feature_names=["x1", "x2"], max_depth=2, ax=axes[0], fontsize=7)
axes[0].set_title("top two levels")
plot_decision_boundary(naive, X, y, ax=axes[1])
axes[1].set_title("XOR, depth 3")
plt.show()

# %% [markdown]
# Look at the root: on XOR no single axis-aligned split separates the classes, so the first split gains
# almost nothing (any threshold leaves both children mixed); the gain comes one level down. Greedy growth
# cannot see that far ahead, which is why trees are usually grown deep and then limited in other ways.
#
# ## 4. Depth: from underfitting to overfitting
#
# A shallow tree cannot follow the spirals (high bias); a fully grown tree carves a region around every
# training point, including the noisy ones (high variance).

# %%
X, y = make_spirals(n_samples=600, n_classes=3, noise=0.25, seed=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, seed=0)
fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
for ax, depth in zip(axes, (1, 3, 6, None)):
    tree = DecisionTreeClassifier(max_depth=depth).fit(X_train, y_train)
    plot_decision_boundary(tree, X_train, y_train, ax=ax)
    ax.set_title(f"max_depth={depth}: train {tree.score(X_train, y_train):.2f}, test {tree.score(X_test, y_test):.2f}",
                 fontsize=9)
plt.show()

depths = range(1, 16)
train_acc, test_acc = [], []
for depth in depths:
    tree = DecisionTreeClassifier(max_depth=depth).fit(X_train, y_train)
    train_acc.append(tree.score(X_train, y_train))
    test_acc.append(tree.score(X_test, y_test))
fig, ax = plt.subplots(figsize=(6, 3.3))
ax.plot(depths, train_acc, "o-", label="training")
ax.plot(depths, test_acc, "s-", label="test")
ax.set_xlabel("max_depth")
ax.set_ylabel("accuracy")
ax.legend()
plt.show()

# %% [markdown]
# ## 5. Naive versus fast split search

# %%
Xb, yb = make_blobs(n_samples=1500, n_classes=3, n_features=5, std=2.0, seed=3)
DecisionTreeClassifier(splitter="fast", max_depth=2).fit(Xb[:50], yb[:50])  # compile once
for splitter in ("naive", "fast"):
    start = time.perf_counter()
    tree = DecisionTreeClassifier(splitter=splitter, max_depth=6).fit(Xb, yb)
    print(f"{splitter:5s}: {time.perf_counter() - start:6.3f} s, {tree.get_n_leaves()} leaves")

# %% [markdown]
# ## Self-check
# Runs the quick tests marked `G08` (`pytest -m "G08 and not slow"`) in a fresh Python process.
#
# **Save the notebook first** (Ctrl-S): the tests read your functions from the saved file.

# %%
self_check("G08")
