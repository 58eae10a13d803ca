# %% [markdown]
# # G05 · Optimizers: SGD, momentum, Adam
#
# **Prerequisites:** none: G05 needs no other exercise. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - write the update rules of SGD (with momentum, Nesterov momentum and weight decay) and of Adam/AdamW;
# - see on 2-D loss surfaces why plain gradient descent zig-zags in narrow valleys and how momentum and
#   per-parameter step sizes help;
# - pick a learning rate: too small crawls, too large diverges; schedules lower it over time.
#
# **What you implement** (in `minicnn/optim.py`): `SGD.step`, `Adam.step` (which also serves AdamW);
# in this notebook: `rosenbrock_grad`. The self-check at the end runs `pytest -m G05`.

# %%
import sys
import pathlib

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "minicnn" / "__init__.py").exists())
sys.path.insert(0, str(ROOT))

from minicnn.teaching.progress import start_notebook

start_notebook("G05")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np

from minicnn.optim import SGD, Adam
from minicnn.schedules import CosineLR, StepLR
from minicnn.teaching.selfcheck import self_check

# %% [markdown]
# ## 1. The update rules
#
# An optimizer holds references to each parameter array $p$ and its gradient array $g$ (the layers write
# $g$ in place during `backward`), and `step()` changes $p$ in place.
#
# - **SGD**: $p \leftarrow p - \eta\, g$.
# - **Momentum** (heavy ball): $v \leftarrow \mu v + g$, $p \leftarrow p - \eta v$. The velocity $v$
#   averages recent gradients: directions that keep the same sign add up, oscillating ones cancel.
# - **Nesterov**: $v \leftarrow \mu v + g$, $p \leftarrow p - \eta\,(g + \mu v)$, a look-ahead version.
# - **Weight decay** (L2): use $g + \lambda p$ instead of $g$.
# - **Adam**: running means of the gradient and of its square, bias-corrected because they start at 0:
#
# $$m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad
#   \hat m = \frac{m}{1-\beta_1^t},\quad \hat v = \frac{v}{1-\beta_2^t},\quad
#   p \leftarrow p - \eta \frac{\hat m}{\sqrt{\hat v} + \epsilon}.$$
#
#   Each coordinate moves about $\eta$ per step whatever the scale of its gradient.
# - **AdamW** decouples weight decay: $p \leftarrow p - \eta\lambda p$ besides the Adam step, instead of
#   adding $\lambda p$ to $g$ (where Adam's normalisation would weaken it).
#
# ## 2. Two toy loss surfaces
#
# An ill-conditioned quadratic $f(x, y) = \frac{1}{2}(x^2 + 25 y^2)$ (curvature 25 times larger along $y$) and
# the Rosenbrock function $f(x, y) = (1-x)^2 + 100\,(y - x^2)^2$, a curved valley with its minimum at $(1, 1)$.
#
# **Exercise.** Write the gradient of the Rosenbrock function.

# %% [markdown]
# **Hints for `rosenbrock_grad`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# The gradient is the pair of partial derivatives. Differentiate each of the two squared terms on its own; the second one depends on $x$ through $x^2$, so the chain rule applies there.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# $\partial f/\partial x = -2(1-x) - 400\,x\,(y - x^2)$ and $\partial f/\partial y = 200\,(y - x^2)$.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# x, y = p[0], p[1]
# return np.array([<d/dx>, <d/dy>])   # shape (2,); compare with the finite differences below
# ```
# </details>

# %%
def quadratic(p):
    return 0.5 * (p[0] ** 2 + 25 * p[1] ** 2)


def quadratic_grad(p):
    return np.array([p[0], 25 * p[1]])


def rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def rosenbrock_grad(p):
    """Gradient of (1 - x)^2 + 100 (y - x^2)^2 at p = (x, y), as an array of shape (2,)."""
    x, y = p[0], p[1]
    ### BEGIN SOLUTION (G05) differentiate with respect to x (chain rule through x^2) and to y
    return np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])
    ### END SOLUTION


# check against finite differences
p0, h = np.array([-0.7, 1.3]), 1e-6
numeric = [(rosenbrock(p0 + h * e) - rosenbrock(p0 - h * e)) / (2 * h) for e in np.eye(2)]
print("analytic", rosenbrock_grad(p0), "numeric", np.round(numeric, 5))

# %% [markdown]
# `run` drives a minicnn optimizer by hand: the "model" is one parameter vector of length 2.

# %% [markdown]
# **Hints for `run`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# `SGD.step` and `Adam.step` (in `minicnn/optim.py`) loop over the (param, grad) pairs and change each `p` in place; the state they keep between steps (the velocity, the two moments) lives in `self.state`, one entry per parameter, created at zero on the first step.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# The update rules are those of section 1: momentum $v \leftarrow \mu v + g$, then $p \leftarrow p - \eta v$ (Nesterov: $p \leftarrow p - \eta (g + \mu v)$); Adam's $m$, $v$, their bias corrections with $t$ and $p \leftarrow p - \eta \hat m / (\sqrt{\hat v} + \epsilon)$.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# for each (p, g):
#     g = g + weight_decay * p            # a new array: never touch the layer's gradient
#     v = self.state[...]                  # updated in place: v *= mu; v += g
#     p -= lr * (v or the Nesterov look-ahead)   # in place: p -= ..., never p = ...
# ```
# </details>

# %%
def run(make_optimizer, grad_fn, start, steps):
    p = np.array(start, dtype=np.float64)
    g = np.zeros_like(p)
    opt = make_optimizer([(p, g)])
    path = [p.copy()]
    for _ in range(steps):
        g[...] = grad_fn(p)
        opt.step()
        path.append(p.copy())
    return np.array(path)


def plot_paths(ax, f, paths, extent, levels):
    xs = np.linspace(extent[0], extent[1], 300)
    ys = np.linspace(extent[2], extent[3], 300)
    X, Y = np.meshgrid(xs, ys)
    ax.contour(X, Y, f(np.stack([X, Y])), levels=levels, cmap="Greys", linewidths=0.6)
    for name, path in paths.items():
        ax.plot(path[:, 0], path[:, 1], "o-", ms=3, lw=1, markevery=max(1, len(path) // 30), label=name)
    ax.set_xlim(extent[:2])
    ax.set_ylim(extent[2:])


quad_paths = {
    "SGD lr 0.07": run(lambda ps: SGD(ps, lr=0.07), quadratic_grad, [-9, 1.5], 60),
    "momentum 0.5, lr 0.1": run(lambda ps: SGD(ps, lr=0.1, momentum=0.5), quadratic_grad, [-9, 1.5], 60),
    "Nesterov 0.5, lr 0.05": run(lambda ps: SGD(ps, lr=0.05, momentum=0.5, nesterov=True), quadratic_grad, [-9, 1.5], 60),
    "Adam lr 0.5": run(lambda ps: Adam(ps, lr=0.5), quadratic_grad, [-9, 1.5], 60),
}
rosen_paths = {
    "SGD lr 1e-3": run(lambda ps: SGD(ps, lr=1e-3), rosenbrock_grad, [-1.5, 2.0], 3000),
    "momentum 0.9, lr 1e-3": run(lambda ps: SGD(ps, lr=1e-3, momentum=0.9), rosenbrock_grad, [-1.5, 2.0], 3000),
    "Adam lr 0.02": run(lambda ps: Adam(ps, lr=0.02), rosenbrock_grad, [-1.5, 2.0], 3000),
}
fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
plot_paths(axes[0], quadratic, quad_paths, (-10, 2, -2.5, 2.5), np.logspace(-1, 2.5, 12))
axes[0].set_title("ill-conditioned quadratic, 60 steps")
plot_paths(axes[1], rosenbrock, rosen_paths, (-2, 2, -1, 3), np.logspace(-1, 3, 14))
axes[1].plot(1, 1, "k*", ms=12)
axes[1].set_title("Rosenbrock, 3000 steps (minimum at the star)")
for ax in axes:
    ax.legend(fontsize=8)
plt.show()

fig, axes = plt.subplots(1, 2, figsize=(13, 3.5))
for name, path in quad_paths.items():
    axes[0].semilogy([quadratic(p) + 1e-16 for p in path], label=name)
for name, path in rosen_paths.items():
    axes[1].semilogy([rosenbrock(p) + 1e-16 for p in path], label=name)
for ax, title in zip(axes, ("quadratic", "Rosenbrock")):
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# On the quadratic, momentum with $\mu = 0.5$ and $\eta = 0.1$ (close to the best pair for a condition number
# of 25) beats the best plain SGD (Nesterov's look-ahead diverges at that step: it gets half of it). In the
# Rosenbrock valley, momentum 0.9 moves like SGD with a ten times larger step, and Adam, whose steps do not
# shrink with the gradient, also reaches the minimum while plain SGD is still crawling along the valley.
#
# ## 3. The learning rate
#
# On the quadratic, gradient descent converges only if $\eta < 2/\lambda_{\max}$, where $\lambda_{\max} = 25$ is
# the largest curvature: $\eta < 0.08$. Just above, the $y$ coordinate oscillates with growing amplitude.

# %%
for lr in (0.01, 0.05, 0.079, 0.081):
    final = run(lambda ps: SGD(ps, lr=lr), quadratic_grad, [-9, 1.5], 100)[-1]
    print(f"lr {lr:5.3f}: loss after 100 steps {quadratic(final):.3g}")

# %% [markdown]
# Schedules lower the learning rate once per epoch: `StepLR` divides it by a factor every few epochs,
# `CosineLR` follows half a cosine down to `eta_min`.

# %%
curves = {}
for name, make in (
    ("StepLR(step_size=10, gamma=0.5)", lambda o: StepLR(o, step_size=10, gamma=0.5)),
    ("CosineLR(t_max=40)", lambda o: CosineLR(o, t_max=40)),
):
    opt = SGD([(np.zeros(1), np.zeros(1))], lr=0.1)
    schedule = make(opt)
    lrs = []
    for epoch in range(40):
        lrs.append(opt.lr)
        schedule.step()
    curves[name] = lrs
fig, ax = plt.subplots(figsize=(6, 3))
for name, lrs in curves.items():
    ax.plot(lrs, label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("learning rate")
ax.legend()
plt.show()

# %% [markdown]
# ## Self-check
# Runs the tests marked `G05` (`pytest -m G05`) in a fresh Python process.
#
# **Save the notebook first** (Ctrl-S): the tests read your functions from the saved file.

# %%
self_check("G05")
