# %% [markdown]
# # G09 · Random forests, bias and variance
#
# **Prerequisites:** G09 needs G08 (decision trees). The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - draw bootstrap samples and know which samples are "out of bag";
# - average many decorrelated trees, and explain with the bias-variance decomposition why it helps;
# - use the out-of-bag score as a free validation estimate, and read feature importances.
#
# **What you implement** (in `minicnn/tree/forest.py`): `bootstrap_counts`, `average_proba`; in this
# notebook: `bias_variance`. The self-check at the end runs `pytest -m G09`.

# %%
import sys
import pathlib

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "minicnn" / "__init__.py").exists())
sys.path.insert(0, str(ROOT))

from minicnn.teaching.progress import start_notebook

start_notebook("G09")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np

from minicnn.datasets import make_spirals, train_test_split
from minicnn.teaching.selfcheck import self_check
from minicnn.tree import DecisionTreeClassifier, RandomForestClassifier, plot_decision_boundary
from minicnn.tree.forest import bootstrap_counts

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Bootstrap samples
#
# A bootstrap sample draws $n$ samples *with replacement* from the $n$ training samples. A given sample is
# never drawn with probability $(1 - 1/n)^n \to e^{-1} \approx 0.368$: about a third of the training set is
# **out of bag** (OOB) for each tree, and can test it. The number of times a sample is drawn is
# Binomial$(n, 1/n)$, close to Poisson(1). minicnn grows a tree on a bootstrap sample by using these draw
# counts as sample weights.

# %%
counts = np.stack([bootstrap_counts(500, 500, np.random.default_rng(s)) for s in range(200)])
print(f"out-of-bag fraction: {np.mean(counts == 0):.3f} (theory {np.exp(-1):.3f}); every row sums to 500: "
      f"{np.all(counts.sum(axis=1) == 500)}")
values, freq = np.unique(counts, return_counts=True)
fig, ax = plt.subplots(figsize=(5.5, 3))
ax.bar(values, freq / freq.sum(), label="bootstrap draw counts")
k = np.arange(8)
poisson = np.exp(-1) / np.array([np.prod(np.arange(1, i + 1)) for i in k])
ax.plot(k, poisson, "ko--", label="Poisson(1)")
ax.set_xlabel("times a sample is drawn")
ax.set_ylabel("fraction")
ax.legend()
plt.show()

# %% [markdown]
# ## 2. Bias and variance
#
# Think of the training set $D$ as random. A model trained on $D$ predicts $\hat p_D(x)$ for the probability of
# class 1; the truth is $p^*(x)$. Averaged over training sets, the squared error splits into
#
# $$\mathbb{E}_D\big[(\hat p_D(x) - p^*(x))^2\big] =
#   \underbrace{\big(\mathbb{E}_D[\hat p_D(x)] - p^*(x)\big)^2}_{\text{bias}^2}
#   + \underbrace{\mathbb{E}_D\big[(\hat p_D(x) - \mathbb{E}_D[\hat p_D(x)])^2\big]}_{\text{variance}} .$$
#
# A deep tree has low bias but high variance (it follows its training set closely). Averaging $B$ trees, each
# with variance $\sigma^2$ and pairwise correlation $\rho$, gives variance $\rho\sigma^2 + \frac{1-\rho}{B}\sigma^2$:
# bagging removes the second term, and trying only a random subset of features at each split (the *random* in
# random forest) lowers $\rho$.
#
# **Exercise.** Write `bias_variance(predictions, truth)`: `predictions` has shape (n_models, n_points), one row per
# model trained on its own training set; `truth` has shape (n_points,). Return the bias² and the variance, each
# averaged over the points.

# %% [markdown]
# **Hints for `bias_variance`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# At each point, average the models' predictions: how far that average is from the truth is the bias; how much the models scatter around that average is the variance. Average both over the points.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# With $\bar f(x) = \frac{1}{M}\sum_m f_m(x)$: bias$^2$ $= \mathrm{mean}_x(\bar f(x) - y(x))^2$, variance $= \mathrm{mean}_x \frac{1}{M}\sum_m (f_m(x) - \bar f(x))^2$.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# mean = predictions averaged over axis 0          # (n_points,)
# bias2 = mean over points of the squared gap to truth
# variance = mean over points of predictions' variance over axis 0
# return float(bias2), float(variance)
# ```
# </details>

# %%
def bias_variance(predictions, truth):
    """(mean squared bias, mean variance) over the points of models' predictions (n_models, n_points)."""
    ### BEGIN SOLUTION (G09) the mean prediction per point gives the bias; the spread around it the variance
    mean = predictions.mean(axis=0)
    return float(np.mean((mean - truth) ** 2)), float(np.mean(predictions.var(axis=0)))
    ### END SOLUTION


def true_probability(X):
    """A known P(y = 1 | x): a wavy boundary, softened."""
    margin = X[:, 1] - 0.6 * np.sin(2.5 * X[:, 0])
    return 1 / (1 + np.exp(-6 * margin))


def draw(n, seed):
    r = np.random.default_rng(seed)
    X = r.uniform(-1.5, 1.5, size=(n, 2))
    return X, (r.uniform(size=n) < true_probability(X)).astype(np.int64)


X_points = np.random.default_rng(99).uniform(-1.5, 1.5, size=(400, 2))
truth = true_probability(X_points)
models = {
    "tree, depth 3": lambda s: DecisionTreeClassifier(max_depth=3),
    "tree, full depth": lambda s: DecisionTreeClassifier(),
    "bagging, 50 trees": lambda s: RandomForestClassifier(50, max_features=None, random_state=s),
    "random forest, 50 trees": lambda s: RandomForestClassifier(50, max_features=1, random_state=s),
}
decomposition = {}
for name, make in models.items():
    predictions = np.stack([make(s).fit(*draw(300, s)).predict_proba(X_points)[:, 1] for s in range(20)])
    decomposition[name] = bias_variance(predictions, truth)
    b2, var = decomposition[name]
    print(f"{name:24s} bias² {b2:.4f}  variance {var:.4f}  total {b2 + var:.4f}")

fig, ax = plt.subplots(figsize=(7, 3.2))
names = list(decomposition)
b2 = [decomposition[n][0] for n in names]
var = [decomposition[n][1] for n in names]
ax.barh(names, b2, label="bias²")
ax.barh(names, var, left=b2, label="variance")
ax.set_xlabel("mean squared error of the predicted probability (20 training sets of 300)")
ax.invert_yaxis()
ax.legend()
plt.show()

# %% [markdown]
# ## 3. A tree and a forest on the spirals

# %%
X, y = make_spirals(n_samples=600, n_classes=3, noise=0.25, seed=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, seed=0)
tree = DecisionTreeClassifier(random_state=0).fit(X_train, y_train)
forest = RandomForestClassifier(200, oob_score=True, random_state=0).fit(X_train, y_train)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
plot_decision_boundary(tree, X_train, y_train, ax=axes[0])
axes[0].set_title(f"one tree: test accuracy {tree.score(X_test, y_test):.3f}")
plot_decision_boundary(forest, X_train, y_train, ax=axes[1])
axes[1].set_title(f"forest of 200: test {forest.score(X_test, y_test):.3f}, OOB {forest.oob_score_:.3f}")
plt.show()

# %% [markdown]
# ## 4. How many trees? The out-of-bag estimate
#
# Adding trees never overfits: the forest's prediction converges to the average over all possible trees.
# The OOB score (each training sample predicted by the trees that did not see it) tracks the test accuracy
# without setting any data aside (it needs enough trees for every sample to be out of bag at least once).

# %%
sizes = [1, 2, 5, 10, 20, 50, 100, 200]
test_acc, oob_acc = [], []
for n in sizes:
    f = RandomForestClassifier(n, oob_score=n >= 20, random_state=1).fit(X_train, y_train)
    test_acc.append(f.score(X_test, y_test))
    oob_acc.append(f.oob_score_ if n >= 20 else np.nan)
fig, ax = plt.subplots(figsize=(6, 3.3))
ax.semilogx(sizes, test_acc, "o-", label="test accuracy")
ax.semilogx(sizes, oob_acc, "s--", label="OOB estimate")
ax.set_xlabel("number of trees")
ax.set_ylabel("accuracy")
ax.legend()
plt.show()

# %% [markdown]
# ## 5. Feature importances
#
# Append three pure-noise features to the spirals: the forest's impurity-based importances should find the two
# real ones.

# %%
noise = np.random.default_rng(5).standard_normal((len(X_train), 3))
forest_noise = RandomForestClassifier(100, random_state=0).fit(np.hstack([X_train, noise]), y_train)
for name, imp in zip(["x0", "x1", "noise 1", "noise 2", "noise 3"], forest_noise.feature_importances_):
    print(f"{name:8s} {imp:.3f} " + "#" * int(60 * imp))

# %% [markdown]
# ## Self-check
# Runs the quick tests marked `G09` (`pytest -m "G09 and not slow"`) in a fresh Python process.
#
# **Save the notebook first** (Ctrl-S): the tests read your functions from the saved file.

# %%
self_check("G09")
