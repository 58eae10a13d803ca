# %% [markdown]
# # G06 · Training a CNN end to end
#
# **Prerequisites:** G06 needs G01 (dense layer and activations), G02 (losses), G03 (convolution), G04 (pooling), G05 (optimizers). The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - follow the shapes through a CNN, layer by layer, and count its parameters;
# - write the training step (forward, loss, backward, update) and the epoch loop over shuffled minibatches;
# - train on synthetic shapes, then on handwritten digits; read learning curves;
# - recognise overfitting, and see what dropout and batch normalisation change.
#
# **What you implement** (in `minicnn/training.py`): `Trainer.train_step`, `Trainer.train_epoch`; in
# `minicnn/functional/dropout.py` and `minicnn/functional/batchnorm.py`: `dropout_forward/backward`,
# `batch_norm_forward/backward`; in this notebook: `build_shapes_cnn`. The self-check at the end runs
# `pytest -m G06`.

# %%
import sys
import pathlib

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "minicnn" / "__init__.py").exists())
sys.path.insert(0, str(ROOT))

from minicnn.teaching.progress import start_notebook

start_notebook("G06")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np

from minicnn import Sequential
from minicnn.datasets import load_digits, make_shapes, train_test_split
from minicnn.layers import BatchNorm1D, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU
from minicnn.losses import SoftmaxCrossEntropy
from minicnn.models import digits_cnn
from minicnn.optim import SGD, Adam
from minicnn.teaching.selfcheck import self_check
from minicnn.training import Trainer

# %% [markdown]
# ## 1. The training loop
#
# One **step** on a minibatch $(X_B, y_B)$:
#
# 1. forward: scores $= f_\theta(X_B)$; 2. loss $L = \ell(\text{scores}, y_B)$ (check it is finite);
# 3. set the gradients to zero; 4. backward: $\partial L/\partial \text{scores}$ from the loss, then through
# the layers in reverse order, each writing $\partial L/\partial \theta$ into its `grads`; 5. the optimizer
# updates $\theta$.
#
# One **epoch** shuffles the training set and runs a step on each minibatch; its loss is the mean over the
# samples (weight each batch's loss by its size: the last batch may be smaller).
#
# ## 2. Shapes through a network
#
# A 3x3 convolution with padding 1 keeps height and width; a 2x2 max pooling halves them. A convolution with
# $C_{\text{in}}$ inputs and $C_{\text{out}}$ filters of $k\times k$ has $C_{\text{out}}(C_{\text{in}}k^2 + 1)$ parameters.
#
# **Exercise 1.** Build a CNN for 1x16x16 images and 3 classes:
# conv 3x3 (1 -> 8, padding 1), ReLU, max pool 2, conv 3x3 (8 -> 16, padding 1), ReLU, max pool 2, flatten,
# dense to 3 scores. What is the input size of the dense layer?

# %%
def build_shapes_cnn(rng):
    """The small CNN of exercise 1 as a minicnn.Sequential; rng seeds the weights."""
    ### BEGIN SOLUTION (G06) two conv/ReLU/pool stages (8 then 16 filters), flatten, Dense(16 * 4 * 4, 3)
    return Sequential(
        Conv2D(1, 8, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),
        Conv2D(8, 16, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),
        Flatten(),
        Dense(16 * 4 * 4, 3, rng=rng),
    )  # fmt: skip
    ### END SOLUTION


model = build_shapes_cnn(np.random.default_rng(0))
print(model.summary((1, 16, 16)))

# %% [markdown]
# ## 3. Synthetic shapes
#
# Circles, squares and triangles at random positions, sizes and rotations, with noise.

# %%
X, y = make_shapes(n_samples=900, image_size=16, seed=0)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, seed=0)
names = ("circle", "square", "triangle")

trainer = Trainer(model, SoftmaxCrossEntropy(), Adam(model.parameters(), lr=1e-2), progress=False, seed=0)
history = trainer.fit(X_train, y_train, epochs=12, batch_size=32, X_val=X_val, y_val=y_val)
for epoch, loss, val_loss, acc in zip(history["epoch"], history["loss"], history["val_loss"], history["val_accuracy"]):
    print(f"epoch {epoch}: loss {loss:.3f}  val_loss {val_loss:.3f}  val_accuracy {acc:.3f}")

# %%
pred = model.predict(X_val).argmax(axis=1)
fig, axes = plt.subplots(2, 8, figsize=(12, 3.4))
for ax, i in zip(axes.ravel(), range(16)):
    ax.imshow(X_val[i, 0], cmap="gray", vmin=0, vmax=1)
    ok = pred[i] == y_val[i]
    ax.set_title(names[pred[i]], color="green" if ok else "red", fontsize=9)
    ax.axis("off")
fig.suptitle("validation images and predicted class (red: wrong)")
plt.show()

# %% [markdown]
# ## 4. Handwritten digits
#
# 1 797 digits of 8x8 pixels (shipped with scikit-learn). `minicnn.models.digits_cnn` is a slightly larger CNN.

# %%
Xd, yd = load_digits()
Xd_train, Xd_val, yd_train, yd_val = train_test_split(Xd, yd, test_size=0.25, seed=0)
digits_model = digits_cnn(rng=0)
print(f"{digits_model.num_parameters()} parameters")
digits_trainer = Trainer(
    digits_model, SoftmaxCrossEntropy(), Adam(digits_model.parameters(), lr=2e-3), progress=False, seed=0
)
dh = digits_trainer.fit(Xd_train, yd_train, epochs=3, batch_size=32, X_val=Xd_val, y_val=yd_val)
print("validation accuracy per epoch:", np.round(dh["val_accuracy"], 3))

fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
axes[0].plot(history["epoch"], history["loss"], "o-", label="shapes: train")
axes[0].plot(history["epoch"], history["val_loss"], "o--", label="shapes: validation")
axes[0].plot(dh["epoch"], dh["loss"], "s-", label="digits: train")
axes[0].plot(dh["epoch"], dh["val_loss"], "s--", label="digits: validation")
axes[0].set_xlabel("epoch")
axes[0].set_ylabel("cross-entropy")
axes[0].legend()
axes[1].plot(history["epoch"], history["val_accuracy"], "o-", label="shapes")
axes[1].plot(dh["epoch"], dh["val_accuracy"], "s-", label="digits")
axes[1].set_xlabel("epoch")
axes[1].set_ylabel("validation accuracy")
axes[1].legend()
plt.show()

# %% [markdown]
# ## 5. Overfitting and dropout
#
# With few training samples and many parameters, a network can learn the training set by heart: the training
# loss keeps falling while the validation loss turns back up. **Dropout** zeroes each activation with
# probability $p$ during training (and scales the others by $1/(1-p)$ so the expected value is unchanged);
# at evaluation it does nothing. A network can then not rely on any single unit, which regularises it.
#
# We train a wide two-layer network on only 100 digits, with and without dropout.

# %%
def mlp(dropout, rng):
    layers = [Flatten(), Dense(64, 256, rng=rng), ReLU()]
    if dropout:
        layers.append(Dropout(dropout, rng=rng))
    layers.append(Dense(256, 10, rng=rng))
    return Sequential(*layers)


small_X, small_y = Xd_train[:100], yd_train[:100]
curves = {}
for p in (0.0, 0.5):
    net = mlp(p, np.random.default_rng(1))
    t = Trainer(net, SoftmaxCrossEntropy(), Adam(net.parameters(), lr=3e-3), progress=False, seed=1)
    curves[p] = t.fit(small_X, small_y, epochs=100, batch_size=20, X_val=Xd_val, y_val=yd_val)

fig, ax = plt.subplots(figsize=(6.5, 3.5))
for p, h in curves.items():
    color = "tab:blue" if p == 0 else "tab:red"
    ax.plot(h["epoch"], h["loss"], color=color, label=f"train, dropout {p}")
    ax.plot(h["epoch"], h["val_loss"], "--", color=color, label=f"validation, dropout {p}")
ax.set_xlabel("epoch")
ax.set_ylabel("cross-entropy")
ax.set_title("100 training digits: overfitting")
ax.legend(fontsize=8)
plt.show()
for p, h in curves.items():
    best = int(np.argmin(h["val_loss"]))
    print(f"dropout {p}: lowest validation loss {h['val_loss'][best]:.3f} at epoch {best + 1}, "
          f"final {h['val_loss'][-1]:.3f}, final validation accuracy {h['val_accuracy'][-1]:.3f}")

# %% [markdown]
# ## 6. Batch normalisation
#
# Batch norm standardises each feature over the minibatch, $\hat x = (x - \mu_B)/\sqrt{\sigma_B^2 + \epsilon}$,
# then rescales it, $y = \gamma \hat x + \beta$ (learned). It keeps the inputs of the next layer in a stable
# range, which lets a deeper network train with a larger learning rate. At evaluation it uses running averages
# of $\mu$ and $\sigma^2$ collected during training.
#
# **Deriving the backward pass** (`batch_norm_backward` in `minicnn/functional/batchnorm.py`). $\partial L/\partial
# \gamma$ and $\partial L/\partial \beta$ come straight from $y = \gamma \hat x + \beta$ (sum over the batch). For
# $x$ the chain rule has three paths, because in training mode $\mu_B$ and $\sigma_B^2$ are functions of the
# whole batch: through $\hat x_i$ directly, through $\sigma_B^2$ (which depends on every $x_j$ and on $\mu_B$),
# and through $\mu_B$. Write $\partial L/\partial \hat x = \gamma\,\partial L/\partial y$, then
# $\partial L/\partial \sigma_B^2$ and $\partial L/\partial \mu_B$ as sums over the batch, and combine. In
# evaluation mode $\mu$ and $\sigma^2$ are constants and only the first path remains.
#
# <details><summary>Hint 1: the idea</summary>
#
# The forward pass keeps $\hat x$, $\gamma$, $1/\sqrt{\sigma_B^2+\epsilon}$ and the mode in the cache. Every sum is over the batch
# axis (axis 0 for $(N, D)$), so each term of $\partial L/\partial x$ is $(N, D)$ or broadcasts from $(D,)$.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# With $g = \gamma\,\partial L/\partial y$ and $m$ the batch size, in training mode
# $$\frac{\partial L}{\partial x} = \frac{1}{m\sqrt{\sigma_B^2+\epsilon}}\Big(m\,g - \sum_i g_i
#   - \hat x \sum_i g_i \hat x_i\Big),$$
# in evaluation mode $\partial L/\partial x = g/\sqrt{\sigma^2+\epsilon}$.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# x_hat, gamma, inv_std, axes, training = cache       (sums run over `axes`: the batch, and H, W for images)
# dgamma = sum of dout * x_hat;  dbeta = sum of dout
# g = dout * gamma
# training: dx = inv_std / m * (m * g - g summed over the batch - x_hat * (g * x_hat) summed over the batch)
# eval:     dx = g * inv_std
# ```
# </details>
#
# A five-layer network trained with plain SGD, with and without batch norm:

# %%
def deep_mlp(batch_norm, rng):
    layers = [Flatten()]
    width = 64
    for _ in range(4):
        layers.append(Dense(width, 64, rng=rng))
        if batch_norm:
            layers.append(BatchNorm1D(64))
        layers.append(ReLU())
        width = 64
    layers.append(Dense(64, 10, rng=rng))
    return Sequential(*layers)


bn_curves = {}
for bn in (False, True):
    net = deep_mlp(bn, np.random.default_rng(2))
    t = Trainer(net, SoftmaxCrossEntropy(), SGD(net.parameters(), lr=0.02), progress=False, seed=2)
    bn_curves[bn] = t.fit(Xd_train, yd_train, epochs=8, batch_size=64, X_val=Xd_val, y_val=yd_val)
fig, ax = plt.subplots(figsize=(6.5, 3.5))
for bn, h in bn_curves.items():
    ax.plot(h["epoch"], h["val_accuracy"], "o-", label="with batch norm" if bn else "without")
ax.set_xlabel("epoch")
ax.set_ylabel("validation accuracy")
ax.set_title("SGD, lr 0.02, 4 hidden layers")
ax.legend()
plt.show()

# %% [markdown]
# ## Self-check
# Runs the quick tests marked `G06` (`pytest -m "G06 and not slow"`) in a fresh Python process;
#
# **Save the notebook first** (Ctrl-S): the tests read your functions from the saved file.
# `self_check("G06", slow=True)` also trains the digits CNN to 97 % (a few minutes).

# %%
self_check("G06")
