# %% [markdown]
# # G01 · Dense layer, activations and gradient checking
#
# **Prerequisites:** none: G01 needs no other exercise. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - write the forward and backward pass of a dense (fully connected) layer and of four activations;
# - derive each backward pass with the chain rule, in matrix form;
# - check a backward pass with centred finite differences, and choose the step $h$ wisely.
#
# **What you implement** (in `minicnn/functional/dense.py` and `minicnn/functional/activations.py`):
# `dense_forward`, `dense_backward`, `relu_*`, `leaky_relu_*`, `sigmoid_*`, `tanh_*`; the layers that call
# them (in `minicnn/layers/dense.py` and `minicnn/layers/activations.py`): `forward` and `backward` of `Dense`,
# `ReLU`, `LeakyReLU`, `Sigmoid`, `Tanh`; in this notebook: `centred_difference`. The self-check at the end
# runs `pytest -m G01`.

# %%
import sys
import pathlib

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "minicnn" / "__init__.py").exists())
sys.path.insert(0, str(ROOT))

from minicnn.teaching.progress import start_notebook

start_notebook("G01")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np

from minicnn import functional as F
from minicnn.gradcheck import check_layer_gradients, format_errors, numeric_gradient, relative_error
from minicnn.layers import Dense, LeakyReLU, ReLU, Sigmoid, Tanh
from minicnn.teaching.selfcheck import self_check

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The forward / backward contract
#
# Every operation of minicnn is a pair `out, cache = op_forward(x, ...)` and
# `dx, dparams... = op_backward(dout, cache)`. `dout` is $\partial L/\partial \text{out}$, the gradient of the
# final loss with respect to this operation's output, handed down by the next operation; the backward pass
# turns it into $\partial L/\partial x$ (and the parameter gradients) by the chain rule.
#
# **Dense layer.** For a batch $X \in \mathbb{R}^{N\times D}$, weights $W \in \mathbb{R}^{D\times M}$ and bias
# $b \in \mathbb{R}^M$ the forward pass is $Y = XW + \mathbf{1} b^\top$, entry by entry
#
# $$Y_{nm} = \sum_{d} X_{nd} W_{dm} + b_m .$$
#
# **Deriving the backward pass.** The loss depends on $W_{dm}$ only through the outputs $Y_{nm}$ of column $m$
# (one per sample $n$), and $\partial Y_{nm}/\partial W_{dm} = X_{nd}$. The chain rule sums over those paths:
#
# $$\frac{\partial L}{\partial W_{dm}} = \sum_n \frac{\partial L}{\partial Y_{nm}}\,\frac{\partial Y_{nm}}{\partial W_{dm}}
#   = \sum_n \frac{\partial L}{\partial Y_{nm}}\, X_{nd}.$$
#
# Do the same for $X_{nd}$ (which outputs does it reach, with which coefficient?) and for $b_m$ (every sample's
# $Y_{nm}$ contains it with coefficient 1). Then read each sum as a matrix product: a sum over an index shared
# by two factors is a product of matrices, possibly transposed. A shape check finds most mistakes:
# $\partial L/\partial W$ must be $D\times M$ like $W$, $\partial L/\partial X$ $N\times D$ like $X$.
#
# **Exercise 1** (in `minicnn/functional/dense.py` and `minicnn/layers/dense.py`): `dense_forward`,
# `dense_backward`, and the layer's `forward`/`backward` that call them. Open the hints one at a time, only when
# stuck; the gradient check of section 3 tells you when you are right.
#
# <details><summary>Hint 1: the idea</summary>
#
# Each gradient has the shape of what it is the gradient of. Every entry is a sum over the samples (for $W$,
# $b$) or over the outputs (for $X$) of `dout` times the coefficient of that variable in $Y$.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# $\partial L/\partial X = \partial L/\partial Y\; W^\top$ ($N\times D$),
# $\partial L/\partial W = X^\top\, \partial L/\partial Y$ ($D\times M$),
# $\partial L/\partial b = \sum_n \partial L/\partial Y_{n,:}$ ($M$).
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# x, w = cache                      # what dense_forward kept
# dx = (dout, w) -> one matrix product with a transpose
# dw = (x, dout) -> one matrix product with a transpose
# db = dout summed over axis 0
# Dense.backward: write dW, db into self.grads["W"][...], self.grads["b"][...]; return dx
# ```
# </details>

# %%
x = rng.standard_normal((4, 3))
w = rng.standard_normal((3, 2))
b = rng.standard_normal(2)
out, cache = F.dense_forward(x, w, b)
dx, dw, db = F.dense_backward(np.ones_like(out), cache)
print("out", out.shape, "dx", dx.shape, "dw", dw.shape, "db", db.shape)

# %% [markdown]
# **Activations** act element-wise, so their backward pass is an element-wise product
# $\partial L/\partial x = \partial L/\partial y \odot f'(x)$:
#
# | activation | $f(x)$ |
# |---|---|
# | ReLU | $\max(x, 0)$ |
# | leaky ReLU | $x$ if $x>0$ else $\alpha x$ |
# | sigmoid | $\sigma(x) = 1/(1+e^{-x})$ |
# | tanh | $\tanh x$ |
#
# Derive $f'(x)$ for each one before you write the backward passes (the plot below checks you). Sigmoid and
# tanh keep their *output* in the cache: write their derivative in terms of the output, it is cheapest from
# it. Computing $1/(1+e^{-x})$ for $x = -1000$ overflows `exp`; use $e^{x}/(1+e^{x})$ for negative $x$.
#
# **Hints for the activations' backward passes** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# ReLU and leaky ReLU are straight lines on each side of 0: their slope is a constant there. For sigmoid,
# differentiate $(1+e^{-x})^{-1}$ with the chain rule and recognise $\sigma(x)$ and $1-\sigma(x)$ in the
# result; for tanh, start from $\tanh = \sinh/\cosh$ and recognise $\tanh^2$.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# ReLU: $[x > 0]$; leaky ReLU: $1$ if $x>0$ else $\alpha$; sigmoid: $\sigma(x)(1-\sigma(x))$;
# tanh: $1 - \tanh^2 x$.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# the cache holds what forward kept (the input x, or the output y for sigmoid and tanh)
# local slope = the derivative above, computed element-wise from the cache
# dx = dout times the local slope (same shape and dtype as dout)
# ```
# </details>
#
# With $\partial L/\partial y = 1$, the backward pass returns $f'(x)$ itself, which we plot:

# %%
xs = np.linspace(-4, 4, 401)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for name, fwd, bwd in (
    ("ReLU", F.relu_forward, F.relu_backward),
    ("leaky ReLU (0.1)", lambda v: F.leaky_relu_forward(v, 0.1), F.leaky_relu_backward),
    ("sigmoid", F.sigmoid_forward, F.sigmoid_backward),
    ("tanh", F.tanh_forward, F.tanh_backward),
):
    y, c = fwd(xs)
    axes[0].plot(xs, y, label=name)
    axes[1].plot(xs, bwd(np.ones_like(xs), c), label=name)
axes[0].set_title("f(x)")
axes[1].set_title("f'(x), from your backward pass")
for ax in axes:
    ax.axhline(0, color="k", lw=0.5)
    ax.legend()
plt.show()

# %% [markdown]
# ## 2. Finite differences and the choice of $h$
#
# The centred difference
#
# $$f'(x) \approx \frac{f(x+h) - f(x-h)}{2h}$$
#
# has a *truncation* error $\frac{h^2}{6} f'''(x)$ that shrinks with $h$, and a *round-off* error
# $\approx \varepsilon |f(x)| / h$ (with $\varepsilon \approx 10^{-16}$ in float64) that grows when $h$ shrinks.
# The best $h$ balances them, around $\varepsilon^{1/3} \approx 10^{-5}$.
#
# **Exercise 1.** Write `centred_difference(f, x, h)` for a scalar function of a scalar.

# %%
def centred_difference(f, x, h):
    """Centred finite-difference estimate of f'(x)."""
    ### BEGIN SOLUTION (G01) (f(x + h) - f(x - h)) / (2 h)
    return (f(x + h) - f(x - h)) / (2 * h)
    ### END SOLUTION


hs = np.logspace(-14, -1, 60)
x0 = 0.7
exact = 1 - np.tanh(x0) ** 2
errors = [abs(centred_difference(np.tanh, x0, h) - exact) for h in hs]
forward_errors = [abs((np.tanh(x0 + h) - np.tanh(x0)) / h - exact) for h in hs]

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog(hs, errors, label="centred (error ~ h²)")
ax.loglog(hs, forward_errors, label="forward (error ~ h)")
ax.set_xlabel("step h")
ax.set_ylabel("|estimate - tanh'(0.7)|")
ax.set_title("Truncation vs round-off")
ax.legend()
plt.show()
print(f"best h for the centred difference: {hs[int(np.argmin(errors))]:.1e}")

# %% [markdown]
# ## 3. Gradient checks of your layers
#
# For arrays, `minicnn.gradcheck.numeric_gradient(f, x, dout)` perturbs one element of `x` at a time and
# differentiates $\sum f(x) \odot \text{dout}$, with a random `dout`. The relative error
# $\|a-b\| / (\|a\| + \|b\|)$ should be around $10^{-8}$ in float64; $10^{-3}$ means a bug.
# Keep ReLU inputs away from 0, where it has no derivative.

# %%
x = rng.standard_normal((5, 4))
w = rng.standard_normal((4, 3))
b = rng.standard_normal(3)
out, cache = F.dense_forward(x, w, b)
dout = rng.standard_normal(out.shape)
dx, dw, db = F.dense_backward(dout, cache)
print("dense dx:", f"{relative_error(dx, numeric_gradient(lambda v: F.dense_forward(v, w, b)[0], x, dout)):.1e}")
print("dense dw:", f"{relative_error(dw, numeric_gradient(lambda v: F.dense_forward(x, v, b)[0], w, dout)):.1e}")
print("dense db:", f"{relative_error(db, numeric_gradient(lambda v: F.dense_forward(x, w, v)[0], b, dout)):.1e}")

x_away_from_kink = rng.standard_normal((6, 5))
x_away_from_kink += np.sign(x_away_from_kink) * 0.1
for layer in (Dense(5, 3, rng=1), ReLU(), LeakyReLU(0.05), Sigmoid(), Tanh()):
    print(type(layer).__name__)
    print(format_errors(check_layer_gradients(layer, x_away_from_kink, seed=2)))

# %% [markdown]
# ## Self-check
# Runs the tests marked `G01` (`pytest -m G01`) in a fresh Python process.
#
# **Save the notebook first** (Ctrl-S): the tests read your functions from the saved file.

# %%
self_check("G01")
