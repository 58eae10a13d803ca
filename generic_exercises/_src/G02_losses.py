# %% [markdown]
# # G02 · Losses and numerical stability
#
# **Prerequisites:** none: G02 needs no other exercise. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - write softmax cross-entropy, binary cross-entropy and mean squared error as a `forward` / `backward` pair;
# - see why `exp` overflows and how the *log-sum-exp* trick and `softplus` avoid it;
# - check an analytic gradient against finite differences.
#
# **What you implement** (in `minicnn/losses.py`): `SoftmaxCrossEntropy.forward/backward`,
# `BCEWithLogits.forward/backward`, `MSE.forward/backward`; in this notebook: `logsumexp`.
# The self-check at the end runs `pytest -m G02`.

# %%
import sys
import pathlib

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "minicnn" / "__init__.py").exists())
sys.path.insert(0, str(ROOT))

from minicnn.teaching.progress import start_notebook

start_notebook("G02")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np

from minicnn.losses import MSE, BCEWithLogits, SoftmaxCrossEntropy
from minicnn.teaching.selfcheck import self_check

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Softmax cross-entropy
#
# A classifier outputs one raw score (logit) $s_{c}$ per class. Softmax turns the scores of a sample into
# probabilities, and cross-entropy is the negative log-probability of the true class $y$:
#
# $$p_c = \frac{e^{s_c}}{\sum_k e^{s_k}}, \qquad \ell = -\log p_y = -s_y + \log \sum_k e^{s_k}.$$
#
# The batch loss is the mean over the $N$ samples, $L = \frac1N \sum_i \ell_i$.
#
# **Deriving the gradient.** Sample $i$'s loss depends only on its own scores. Differentiate the two terms of
# $\ell = -s_y + \log\sum_k e^{s_k}$ with respect to one score $s_c$: the first gives $-1$ when $c = y$ and $0$
# otherwise; for the second, the derivative of $\log u$ is $u'/u$ with $u = \sum_k e^{s_k}$, and
# $\partial u/\partial s_c = e^{s_c}$, so it is a quantity you already computed in the forward pass. Add the two
# and do not forget the $\frac1N$ of the mean. Check your result: the gradient of one sample sums to 0 over the
# classes (why?), and it is negative only for the true class.
#
# <details><summary>Hint 1: the idea</summary>
#
# Keep the probabilities from the forward pass in the cache: the gradient is built from them and the labels,
# one row per sample, with the shape of the scores $(N, C)$.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# $$\frac{\partial L}{\partial s_{ic}} = \frac{1}{N}\left(p_{ic} - [c = y_i]\right).$$
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# probs, y = self.cache
# dscores = copy of probs; subtract 1 at (row i, column y[i]) for every i; divide by N
# ```
# </details>
#
# Computed literally, $e^{s}$ overflows for $s \gtrsim 709$ in float64 (89 in float32) and the loss becomes `nan`:

# %%
def log_softmax_naive(s):
    e = np.exp(s)
    return np.log(e / e.sum(axis=1, keepdims=True))


with np.errstate(over="ignore", invalid="ignore"):
    print(log_softmax_naive(np.array([[1.0, 2.0, 3.0]])))
    print(log_softmax_naive(np.array([[1000.0, 1001.0, 1002.0]])))

# %% [markdown]
# The fix: softmax does not change when a constant is subtracted from every score. With $m = \max_k s_k$,
#
# $$\log \sum_k e^{s_k} = m + \log \sum_k e^{s_k - m},$$
#
# and now the largest exponent is $e^0 = 1$: nothing overflows, and at least one term of the sum is 1, so
# the log never sees 0.
#
# **Exercise 1.** Write `logsumexp(s)` for a 2-D array, reducing over axis 1 and keeping the dimension
# (shape `(N, 1)`), with the max trick.

# %%
def logsumexp(s):
    """log(sum(exp(s), axis=1, keepdims=True)) without overflow; s of shape (N, C)."""
    ### BEGIN SOLUTION (G02) subtract each row's max, sum the exponentials, add the max back
    m = s.max(axis=1, keepdims=True)
    return m + np.log(np.exp(s - m).sum(axis=1, keepdims=True))
    ### END SOLUTION


def log_softmax_stable(s):
    return s - logsumexp(s)


print(log_softmax_stable(np.array([[1000.0, 1001.0, 1002.0]])))
assert np.allclose(log_softmax_stable(np.array([[1.0, 2.0, 3.0]])), log_softmax_naive(np.array([[1.0, 2.0, 3.0]])))

# %% [markdown]
# How far can the scores go before each version breaks? We scale random scores by a growing factor and
# measure the error of the naive version against the stable one (errors above the plot's top are `nan`/`inf`).

# %%
scales = np.logspace(0, 3.5, 40)
base = rng.standard_normal((64, 10))
err32, err64 = [], []
with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
    for k in scales:
        s = base * k
        ref = log_softmax_stable(s)
        for dtype, errs in ((np.float32, err32), (np.float64, err64)):
            naive = log_softmax_naive(s.astype(dtype)).astype(np.float64)
            e = np.abs(naive - ref).max()
            errs.append(e if np.isfinite(e) else 1e3)

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog(scales, np.maximum(err32, 1e-17), label="naive, float32")
ax.loglog(scales, np.maximum(err64, 1e-17), label="naive, float64")
ax.axhline(1e3, color="k", ls=":", lw=1)
ax.set_xlabel("score scale")
ax.set_ylabel("max |naive - stable|")
ax.set_title("Naive log-softmax breaks down (dotted line: nan/inf)")
ax.legend()
plt.show()

# %% [markdown]
# ## 2. Binary cross-entropy on logits
#
# With one logit $s$ per sample and label $y \in \{0, 1\}$, $p = \sigma(s) = 1/(1+e^{-s})$ and
#
# $$\ell = -w\,y \log \sigma(s) - (1-y)\log(1-\sigma(s)) = w\,y\,\mathrm{softplus}(-s) + (1-y)\,\mathrm{softplus}(s),$$
#
# where $\mathrm{softplus}(x) = \log(1+e^x) = \max(x,0) + \log(1+e^{-|x|})$ never overflows, and $w$
# (`pos_weight`) makes positives count more, useful when they are rare (tumour tiles!). The gradient is
#
# $$\frac{\partial \ell}{\partial s} = w\,y\,(\sigma(s) - 1) + (1-y)\,\sigma(s).$$
#
# **Exercise 2** is in `minicnn/losses.py`: `SoftmaxCrossEntropy`, `BCEWithLogits`, and `MSE`
# ($\ell = \mathrm{mean}\,(s-y)^2$, gradient $2(s-y)/n$). The cells below use your code.

# %%
s = np.linspace(-8, 8, 201)[:, None]
fig, ax = plt.subplots(figsize=(6, 3.5))
for y_value, w in ((1.0, 1.0), (0.0, 1.0), (1.0, 3.0)):
    loss = BCEWithLogits(pos_weight=w if w != 1.0 else None)
    values = [loss.forward(np.array([[v]]), np.array([[y_value]])) for v in s[:, 0]]
    ax.plot(s[:, 0], values, label=f"y = {y_value:.0f}, pos_weight = {w:g}")
ax.set_xlabel("logit s")
ax.set_ylabel("loss")
ax.set_title("Binary cross-entropy on logits")
ax.legend()
plt.show()

# %% [markdown]
# Your losses must stay finite for huge scores:

# %%
huge = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]])
print("softmax CE:", SoftmaxCrossEntropy().forward(huge, np.array([1, 1])))
print("BCE       :", BCEWithLogits().forward(np.array([[1e4], [-1e4]]), np.array([[0.0], [1.0]])))

# %% [markdown]
# ## 3. Gradient check
#
# The centred difference $\frac{L(s + h e_j) - L(s - h e_j)}{2h}$ approximates $\partial L/\partial s_j$
# with an error of order $h^2$. The relative error $\frac{|a-b|}{\max(|a|,|b|)}$ between the analytic and
# the numerical gradient should be around $10^{-7}$ or smaller in float64; $10^{-2}$ means a bug.

# %%
def numerical_gradient(f, x, h=1e-6):
    grad = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        old = x[j]
        x[j] = old + h
        plus = f(x)
        x[j] = old - h
        minus = f(x)
        x[j] = old
        grad[j] = (plus - minus) / (2 * h)
    return grad


def relative_error(a, b):
    return np.max(np.abs(a - b) / np.maximum(1e-12, np.maximum(np.abs(a), np.abs(b))))


scores = rng.standard_normal((5, 4))
labels = rng.integers(0, 4, size=5)
targets = rng.integers(0, 2, size=(5, 4)).astype(np.float64)
for name, loss, y in (
    ("SoftmaxCrossEntropy", SoftmaxCrossEntropy(), labels),
    ("BCEWithLogits", BCEWithLogits(pos_weight=2.0), targets),
    ("MSE", MSE(), targets),
):
    loss.forward(scores, y)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda s: loss.forward(s, y), scores.copy())
    print(f"{name:20s} relative error {relative_error(analytic, numeric):.2e}  (should be < 1e-6)")

# %% [markdown]
# ## Self-check
# Runs the tests marked `G02` (`pytest -m G02`) in a fresh Python process.
#
# **Save the notebook first** (Ctrl-S): the tests read your functions from the saved file.

# %%
self_check("G02")
