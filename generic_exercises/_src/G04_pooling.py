# %% [markdown]
# # G04 · Pooling
#
# **Prerequisites:** none: G04 needs no other exercise. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - write max pooling and average pooling (forward and backward) and global average pooling;
# - understand where the gradient of a max goes, and what happens with ties;
# - see what pooling buys: smaller feature maps, a larger receptive field, some tolerance to small shifts.
#
# **What you implement** (in `minicnn/functional/pooling_naive.py` and `minicnn/functional/global_pool.py`):
# `max_pool2d_forward_naive/backward_naive`, `avg_pool2d_forward_naive/backward_naive`,
# `global_avg_pool2d_forward/backward`; in `minicnn/layers/pooling.py`: `forward` and `backward` of
# `MaxPool2D`, `AvgPool2D`, `GlobalAvgPool2D`; in this notebook: `max_pool_2x2_reshape`.
# The self-check at the end runs `pytest -m G04`.

# %%
import sys
import pathlib
import time

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "minicnn" / "__init__.py").exists())
sys.path.insert(0, str(ROOT))

from minicnn.teaching.progress import start_notebook

start_notebook("G04")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np

from minicnn import functional as F
from minicnn.gradcheck import numeric_gradient, relative_error
from minicnn.teaching.selfcheck import self_check

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Definitions
#
# With window $k$ and stride $s$ (by default $s = k$: windows do not overlap), for each image $n$ and channel $c$:
#
# $$y^{\max}_{n,c,i,j} = \max_{0 \le u,v < k} x_{n,c,is+u,js+v}, \qquad
#   y^{\text{avg}}_{n,c,i,j} = \frac{1}{k^2}\sum_{0 \le u,v < k} x_{n,c,is+u,js+v}, \qquad
#   O_H = \left\lfloor\frac{H-k}{s}\right\rfloor + 1.$$
#
# Global average pooling averages each channel over the whole map: $(N, C, H, W) \to (N, C)$. The tile CNN
# uses it before its last dense layer, so it accepts any tile size.
#
# **Deriving the backward pass.** An average is a sum with coefficient $1/k^2$: what is
# $\partial y^{\text{avg}}_{n,c,i,j}/\partial x_{n,c,p,q}$ for an input inside the window, and outside it? A
# maximum behaves locally like the one input that attains it: moving any other input a little does not change
# $y^{\max}$. So the derivative of the window's output is 1 for one input and 0 for the others. With a tie the
# max is not differentiable; minicnn gives the whole gradient to the first maximum in row-major order, as most
# libraries do. When windows overlap ($s < k$), an input lies in several windows: the chain rule sums over them.
#
# <details><summary>Hint 1: the idea</summary>
#
# Loop over the output positions as in the forward pass; each `dout[:, :, i, j]` goes back into its window of
# `dx` (which starts as zeros shaped like the input), all images and channels at once.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# Average: every input of the window receives $\frac{1}{k^2}\,\partial L/\partial y_{n,c,i,j}$. Max: the input
# at the window's (first) argmax receives $\partial L/\partial y_{n,c,i,j}$, the others 0. Overlapping windows
# add their contributions.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# dx = zeros(shape of x)
# for each output row i and column j:
#     window of x: rows i*s .. i*s+k, columns j*s .. j*s+k          (N, C, k, k)
#     max: index of the first maximum of each flattened window       (N, C)  -> unravel to (u, v)
#          dx[n, c, i*s+u, j*s+v] += dout[n, c, i, j]                (fancy indexing over n, c)
#     avg: dx[window] += dout[:, :, i, j] / k**2, broadcast over the window
# ```
# </details>

# %%
size = 32
yy, xx = np.mgrid[:size, :size]
image = np.sin(xx / 3.0) * np.cos(yy / 5.0) + 0.3 * rng.standard_normal((size, size))
x = image[None, None]
mx, cache_max = F.max_pool2d_forward_naive(x, 2)
av, cache_avg = F.avg_pool2d_forward_naive(x, 2)
mx4, _ = F.max_pool2d_forward_naive(x, 4)
# where does the gradient of sum(max_pool(x)) go? to each window's maximum
routed = F.max_pool2d_backward_naive(np.ones_like(mx), cache_max)

fig, axes = plt.subplots(1, 5, figsize=(15, 3))
for ax, img, title in zip(
    axes,
    (image, mx[0, 0], av[0, 0], mx4[0, 0], routed[0, 0]),
    ("input 32x32", "max pool 2 -> 16x16", "avg pool 2 -> 16x16", "max pool 4 -> 8x8", "gradient of sum(max pool 2)"),
):
    ax.imshow(img, cmap="viridis")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
plt.show()
print("each 2x2 window sends its gradient to exactly one input:", routed.sum() == mx.size)

# %% [markdown]
# ## 2. Non-overlapping max pooling without loops
#
# When $s = k$ and $k$ divides $H$ and $W$, each window is a block of a reshaped array:
# `x.reshape(N, C, H // k, k, W // k, k)` puts the window rows on axis 3 and the window columns on axis 5.
#
# **Exercise.** Write `max_pool_2x2_reshape(x)` for $k = s = 2$ with one reshape and one `max`.

# %%
def max_pool_2x2_reshape(x):
    """2x2 max pooling with stride 2 of an (N, C, H, W) array with even H and W."""
    n, c, h, w = x.shape
    ### BEGIN SOLUTION (G04) reshape to (N, C, H/2, 2, W/2, 2) and take the max over axes 3 and 5
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
    ### END SOLUTION


xb = rng.standard_normal((32, 16, 32, 32)).astype(np.float32)
print("reshape trick == naive:", np.array_equal(max_pool_2x2_reshape(xb), F.max_pool2d_forward_naive(xb, 2)[0]))

# %% [markdown]
# ## 3. Gradient check and timings
#
# Random continuous inputs have no ties, so max pooling is differentiable there. Overlapping windows
# ($k = 3, s = 2$) test the accumulation.

# %%
x = rng.standard_normal((2, 3, 7, 7))
for name, fwd, bwd, k, s in (
    ("max 2/2", F.max_pool2d_forward_naive, F.max_pool2d_backward_naive, 2, 2),
    ("max 3/2", F.max_pool2d_forward_naive, F.max_pool2d_backward_naive, 3, 2),
    ("avg 3/2", F.avg_pool2d_forward_naive, F.avg_pool2d_backward_naive, 3, 2),
):
    out, cache = fwd(x, k, s)
    dout = rng.standard_normal(out.shape)
    err = relative_error(bwd(dout, cache), numeric_gradient(lambda v: fwd(v, k, s)[0], x, dout))
    print(f"{name}: relative error {err:.1e} (should be < 1e-7)")
out, cache = F.global_avg_pool2d_forward(x)
dout = rng.standard_normal(out.shape)
err = relative_error(F.global_avg_pool2d_backward(dout, cache), numeric_gradient(lambda v: F.global_avg_pool2d_forward(v)[0], x, dout))
print(f"global avg: relative error {err:.1e}, output shape {out.shape}")

# %%
import numba


def median_time(fn, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


F.max_pool2d_forward_fast(xb[:1], 2)  # compile the Numba kernel
threads = numba.get_num_threads()
numba.set_num_threads(1)
timings = {
    "naive loops": median_time(lambda: F.max_pool2d_forward_naive(xb, 2)),
    "reshape trick": median_time(lambda: max_pool_2x2_reshape(xb)),
    "fast (Numba, keeps argmax)": median_time(lambda: F.max_pool2d_forward_fast(xb, 2)),
}
numba.set_num_threads(threads)
for name, seconds in timings.items():
    print(f"{name:28s} {1e3 * seconds:7.2f} ms")
fig, ax = plt.subplots(figsize=(6, 2.5))
ax.barh(list(timings), [1e3 * t for t in timings.values()])
ax.set_xlabel("max pool 2x2 forward (ms), one thread, batch 32x16x32x32")
plt.show()

# %% [markdown]
# ## 4. Tolerance to small shifts
#
# Take an image of small bright dots and shift it by one pixel: pixel by pixel the two images hardly overlap,
# but a maximum often stays inside its pooling window, so the pooled maps stay similar, more so for larger
# windows. Correlation between the maps of the original and of the shifted image:

# %%
dots = np.zeros((64, 64))
dots[rng.integers(0, 64, 40), rng.integers(0, 64, 40)] = 1.0
shifted = np.roll(dots, 1, axis=1)
for k in (1, 2, 4, 8):
    a = F.max_pool2d_forward_naive(dots[None, None], k)[0] if k > 1 else dots
    b = F.max_pool2d_forward_naive(shifted[None, None], k)[0] if k > 1 else shifted
    print(f"max pool {k}: correlation after a 1-px shift {np.corrcoef(a.ravel(), b.ravel())[0, 1]:.2f}")

# %% [markdown]
# ## Self-check
# Runs the tests marked `G04` (`pytest -m G04`) in a fresh Python process.
#
# **Save the notebook first** (Ctrl-S): the tests read your functions from the saved file.

# %%
self_check("G04")
