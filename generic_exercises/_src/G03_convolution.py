# %% [markdown]
# # G03 · Convolution: naive loops, im2col, and the fast kernel
#
# **Prerequisites:** none: G03 needs no other exercise. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - compute a 2-D convolution (cross-correlation) with padding and stride, and its output size;
# - derive its backward pass: the gradient of a convolution is again a convolution;
# - turn convolution into one matrix product with *im2col*, and measure why this is faster.
#
# **What you implement** (in `minicnn/functional/conv_naive.py`): `conv2d_forward_naive`,
# `conv2d_backward_naive`; in `minicnn/layers/conv.py`: `Conv2D.forward` and `Conv2D.backward`; in this
# notebook: `im2col_numpy`. The self-check at the end runs `pytest -m G03`.

# %%
import sys
import pathlib
import time

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "minicnn" / "__init__.py").exists())
sys.path.insert(0, str(ROOT))

from minicnn.teaching.progress import start_notebook

start_notebook("G03")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np

from minicnn import functional as F
from minicnn.gradcheck import numeric_gradient, relative_error
from minicnn.teaching.selfcheck import self_check

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Definition
#
# Images are stored NCHW: $x \in \mathbb{R}^{N\times C\times H\times W}$. A layer has $F$ filters
# $w \in \mathbb{R}^{F\times C\times K_H\times K_W}$ and biases $b \in \mathbb{R}^F$. With zero padding $P$ and
# stride $S$ (what deep-learning libraries call convolution is a cross-correlation: the filter is not flipped):
#
# $$y_{n,f,i,j} = b_f + \sum_{c=0}^{C-1}\sum_{u=0}^{K_H-1}\sum_{v=0}^{K_W-1}
#   w_{f,c,u,v}\; x^{\text{pad}}_{n,c,\,iS+u,\,jS+v}, \qquad
#   O_H = \left\lfloor \frac{H + 2P - K_H}{S} \right\rfloor + 1 .$$
#
# **Deriving the backward pass.** $y_{n,f,i,j}$ is a sum of products, so its derivative with respect to one
# weight $w_{f,c,u,v}$ is the input pixel that weight multiplies in window $(i, j)$, and with respect to $b_f$
# it is 1. The loss reaches $w_{f,c,u,v}$ through **every** output of filter $f$ (all $n, i, j$): the chain
# rule sums over them. An input pixel $x^{\text{pad}}_{n,c,p,q}$ is reached through every output whose window
# covers it, each time with the weight at the offset $(p - iS,\, q - jS)$. Write these three sums yourself
# before opening the hints; the padding only shifts indices (compute the gradient of the padded input, then
# crop it). The result is again a correlation: the gradient of a convolution is a convolution.
#
# <details><summary>Hint 1: the idea</summary>
#
# Loop over the output positions $(i, j)$ as in the forward pass. For each one, the window of the padded input
# and `dout[:, :, i, j]` (shape $N \times F$) give one contribution to `dw` (all filters at once) and one
# to the window of `dx_pad` (all images at once). `db` needs no loop.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# $$\frac{\partial L}{\partial w_{f,c,u,v}} = \sum_{n,i,j} \frac{\partial L}{\partial y_{n,f,i,j}}\,
#   x^{\text{pad}}_{n,c,iS+u,jS+v}, \qquad
# \frac{\partial L}{\partial b_f} = \sum_{n,i,j} \frac{\partial L}{\partial y_{n,f,i,j}},$$
#
# and $\partial L/\partial x^{\text{pad}}$ accumulates $w_{f,c,u,v}\,\partial L/\partial y_{n,f,i,j}$ into the
# window at $(iS+u, jS+v)$; cropping the padding gives $\partial L/\partial x$.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# x_pad = x padded with zeros; dx_pad = zeros like x_pad; dw = zeros like w
# for each output row i and column j:
#     window = x_pad[:, :, i*S : i*S+KH, j*S : j*S+KW]             (N, C, KH, KW)
#     dw     += contraction of dout[:, :, i, j] (N, F) with window over N   -> (F, C, KH, KW)
#     dx_pad[same window] += contraction of dout[:, :, i, j] with w over F -> (N, C, KH, KW)
# dx = dx_pad without the padding; db = dout summed over N, OH, OW
# ```
# </details>
#
# The simplest correct code loops over the output positions $(i, j)$ and handles all images and filters at
# once for each window. Write it in `conv_naive.py`, then try it on a synthetic image with two edge filters:

# %%
size = 48
yy, xx = np.mgrid[:size, :size]
image = ((xx - 20) ** 2 + (yy - 26) ** 2 < 14**2).astype(np.float64)
image += 0.5 * ((xx > 30) & (yy < 14))
sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
filters = np.stack([sobel_x, sobel_x.T])[:, None]  # (F=2, C=1, 3, 3)
edges, _ = F.conv2d_forward_naive(image[None, None], filters, np.zeros(2), stride=1, padding=1)
print("input", image[None, None].shape, "-> output", edges.shape)

fig, axes = plt.subplots(1, 4, figsize=(12, 3))
axes[0].imshow(image, cmap="gray")
axes[0].set_title("input")
axes[1].imshow(edges[0, 0], cmap="RdBu")
axes[1].set_title("vertical edges (Sobel x)")
axes[2].imshow(edges[0, 1], cmap="RdBu")
axes[2].set_title("horizontal edges (Sobel y)")
axes[3].imshow(np.hypot(edges[0, 0], edges[0, 1]), cmap="magma")
axes[3].set_title("gradient magnitude")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# Check the backward pass with finite differences (float64, small sizes):

# %%
x = rng.standard_normal((2, 3, 7, 6))
w = rng.standard_normal((4, 3, 3, 3))
b = rng.standard_normal(4)
for stride, pad in ((1, 0), (2, 1)):
    out, cache = F.conv2d_forward_naive(x, w, b, stride, pad)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = F.conv2d_backward_naive(dout, cache)
    ex = relative_error(dx, numeric_gradient(lambda v: F.conv2d_forward_naive(v, w, b, stride, pad)[0], x, dout))
    ew = relative_error(dw, numeric_gradient(lambda v: F.conv2d_forward_naive(x, v, b, stride, pad)[0], w, dout))
    eb = relative_error(db, numeric_gradient(lambda v: F.conv2d_forward_naive(x, w, v, stride, pad)[0], b, dout))
    print(f"stride {stride} pad {pad}: dx {ex:.1e}  dw {ew:.1e}  db {eb:.1e}  (should be < 1e-7)")

# %% [markdown]
# ## 2. im2col: convolution as one matrix product
#
# Copy every receptive field of image $n$ into a column of a matrix
# $X_{\text{col}} \in \mathbb{R}^{(C K_H K_W) \times (O_H O_W)}$, with row index $r = (c K_H + u) K_W + v$.
# Then with the filters flattened to $W_{\text{row}} \in \mathbb{R}^{F \times C K_H K_W}$,
#
# $$y_n = W_{\text{row}}\, X_{\text{col}} + b \quad (F \times O_H O_W),$$
#
# a single matrix product that BLAS runs at close to the machine's peak. The price: each pixel is copied
# up to $K_H K_W$ times (9 times for 3x3 filters).
#
# **Exercise 2.** Write `im2col_numpy(x, kh, kw, stride, padding)` returning shape $(N, C K_H K_W, O_H O_W)$.
# Hint: loop over the $K_H K_W$ kernel offsets $(u, v)$ only; for each, the strided slice
# `x_pad[:, :, u : u + S*O_H : S, v : v + S*O_W : S]` gives that offset's pixel for every output position.

# %%
def im2col_numpy(x, kh, kw, stride, padding):
    """Receptive fields as columns: (N, C, H, W) -> (N, C*kh*kw, OH*OW), rows ordered (c, u, v)."""
    n, c, h, w = x.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (w + 2 * padding - kw) // stride + 1
    ### BEGIN SOLUTION (G03) one strided slice of the padded input per kernel offset (u, v)
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for u in range(kh):
        for v in range(kw):
            cols[:, :, u, v] = x_pad[:, :, u : u + stride * oh : stride, v : v + stride * ow : stride]
    return cols.reshape(n, c * kh * kw, oh * ow)
    ### END SOLUTION


def conv2d_im2col(x, w, b, stride=1, padding=0):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    cols = im2col_numpy(x, kh, kw, stride, padding)
    out = np.matmul(w.reshape(f, -1), cols) + b[:, None]
    return out.reshape(n, f, oh, ow)


ref, _ = F.conv2d_forward_naive(x, w, b, 2, 1)
print("im2col vs naive, max difference:", np.abs(conv2d_im2col(x, w, b, 2, 1) - ref).max())

# %% [markdown]
# ## 3. Timings
#
# minicnn's fast kernel (`conv2d_forward_fast`) does the same as your im2col, but the copy is a Numba loop
# that writes into a buffer reused between calls, with an extra row of ones so that the bias is part of the
# product, and one batched `matmul` for all images. We time the three versions on a batch shaped like the
# middle of the tile CNN (median of a few runs; the first call of the Numba kernel compiles it, so we warm up).
# Everything runs on one thread, so that we compare algorithms rather than how busy the machine's cores are.

# %%
import numba

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # without threadpoolctl, BLAS keeps its default number of threads
    import contextlib

    def threadpool_limits(limits):
        return contextlib.nullcontext()


def median_time(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


xb = rng.standard_normal((16, 16, 32, 32)).astype(np.float32)
wb = (rng.standard_normal((32, 16, 3, 3)) * 0.1).astype(np.float32)
bb = np.zeros(32, dtype=np.float32)
F.conv2d_forward_fast(xb[:1], wb, bb, 1, 1)  # compile
threads = numba.get_num_threads()
numba.set_num_threads(1)
with threadpool_limits(1):
    timings = {
        "naive": median_time(lambda: F.conv2d_forward_naive(xb, wb, bb, 1, 1)),
        "im2col (NumPy)": median_time(lambda: conv2d_im2col(xb, wb, bb, 1, 1)),
        "fast (Numba + BLAS)": median_time(lambda: F.conv2d_forward_fast(xb, wb, bb, 1, 1)),
    }
numba.set_num_threads(threads)
flops = 2 * 16 * 32 * 32 * 32 * 16 * 9
for name, seconds in timings.items():
    print(f"{name:22s} {1e3 * seconds:8.1f} ms   {flops / seconds / 1e9:6.2f} GFLOP/s")
fast_out, _ = F.conv2d_forward_fast(xb, wb, bb, 1, 1)
naive_out, _ = F.conv2d_forward_naive(xb, wb, bb, 1, 1)
print("fast vs naive, max difference:", float(np.abs(fast_out - naive_out).max()))

fig, ax = plt.subplots(figsize=(6, 3))
ax.barh(list(timings), [1e3 * t for t in timings.values()], color=["tab:red", "tab:orange", "tab:green"])
ax.set_xlabel("forward time (ms), one thread; batch 16x16x32x32, 32 filters 3x3")
ax.set_title("Same convolution, three implementations")
plt.show()

# %% [markdown]
# Questions to think about: why does im2col win although it copies 9 times more data? How does the
# ratio change with 1x1 filters, or with a batch of one image? (Try it.)
#
# ## Self-check
# Runs the tests marked `G03` (`pytest -m G03`) in a fresh Python process.
#
# **Save the notebook first** (Ctrl-S): the tests read your functions from the saved file.

# %%
self_check("G03")
