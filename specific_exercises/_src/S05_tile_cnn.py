# %% [markdown]
# # S05 · Training the tile CNN with minicnn
#
# **Prerequisites:** S05 needs G01 (dense layer and activations), G02 (losses), G03 (convolution), G04 (pooling), G05 (optimizers), G06 (training, batch norm, dropout), G07 (augmentation and stain maths), G10 (metrics). Not written yet? Start at S07 instead: it begins from the sample heatmaps. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - turn stored tiles into network input (NCHW float32, standardized) and split them **by patient**;
# - fight class imbalance with balanced minibatches;
# - train the reference tile CNN (`minicnn.models.tile_cnn`) with your minicnn, then judge it on held-out
#   patients with a ROC curve, the AUC and a confusion matrix.
#
# **What you implement** (in this notebook): `balanced_batch_indices`. Everything else is minicnn (your G01-G06
# work) and `camelyon.training` (the same loop with checkpoints, augmentation and resume).
#
# The self-check runs `pytest -m S05` (save the notebook first).
#
# The shared model that S06 uses is trained here once (a minute or two on 2 cores) and stored in
# `runs/notebook_work/tile_model.npz`.
#
# **Preset.** The notebooks' cohort uses the **easy** preset of `camelyon.synthetic` (`course_data.COHORT_SETTINGS`):
# its tile CNN at 4 um/px trains in a minute. Section 3b tests that model on tiles of the **challenge** preset
# (look-alikes, isolated tumour cells, artefacts, five scanners; `docs/synthetic.md`), painted from slide plans
# in seconds. *Training* on the challenge preset needs 1 um/px tiles and far more steps than this notebook's
# budget; point `DATA_DIR` at a challenge cohort (`camelyon synth OUT --difficulty challenge --demo`) to try it.

# %%
DATA_DIR = None  # None: synthetic cohort (runs/notebook_cohort); or a CAMELYON17-style folder
STEPS = 8        # steps of your own training loop below (the shared model is trained separately)

# %%
import sys
import pathlib
import time

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "camelyon" / "__init__.py").exists())
sys.path[:0] = [str(ROOT), str(ROOT / "specific_exercises")]

from minicnn.teaching.progress import start_notebook

start_notebook("S05")  # what this notebook needs; an unwritten exercise stops a cell in one line

import json

import matplotlib.pyplot as plt
import numpy as np

import course_data
from camelyon.dataset import split_by_patient
from camelyon.training import load_store_tiles
from minicnn.losses import BCEWithLogits
from minicnn.metrics import confusion_matrix, plot_confusion_matrix, roc_auc_score, roc_curve
from minicnn.models import tile_cnn
from minicnn.optim import Adam
from minicnn.training import Trainer
from minicnn.teaching.selfcheck import self_check

store_path = course_data.tile_store(DATA_DIR)
data, info = load_store_tiles(store_path, progress=False)
parts = split_by_patient(data.patients, {"train": 0.75, "val": 0.25}, seed=0, labels=data.labels)
train, val = data.subset(parts["train"]), data.subset(parts["val"])
for name, part in (("train", train), ("val", val)):
    print(f"{name:5s}: {len(part):5d} tiles, {int(part.labels.sum()):4d} tumour, "
          f"patients {sorted(set(part.patients.tolist()))}")

# %% [markdown]
# ## 1. Background
#
# The tile CNN answers one question per tile: *is there tumour here?* Its output is one logit; the sigmoid
# turns it into a probability, and binary cross-entropy on logits (G02) is the loss. The network is small
# (four 3x3 convolutions with 16-64 channels, max pooling, global average pooling, one dense unit: about
# 65 000 weights); the challenge winners used GoogLeNet or ResNet with millions of weights on 256 px tiles at
# 40x, trained for days on GPUs. The ideas are the same.
#
# Two traps of medical data:
# - **Leakage.** Tiles of one patient look alike (same lab, same day, same tumour). If a patient's tiles are
#   in both training and validation, validation scores are optimistic. Split by patient, always.
# - **Imbalance.** Tumour tiles are a few percent (S02). We draw each minibatch half tumour, half normal, and
#   keep the evaluation on the natural proportion.

# %% [markdown]
# **Exercise.** Write `balanced_batch_indices(labels, batch_size, rng)`: one minibatch of `batch_size` tile
# indices (int64), `batch_size // 2` drawn **with replacement** from the tiles with label 1 and the rest from
# label 0, in a random order (shuffle the batch with `rng` so the two halves are mixed). Raise a `ValueError`
# naming the missing class when one of the classes has no tile.

# %% [markdown]
# **Hints for `balanced_batch_indices`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# Tumour tiles are rare: draw half the batch from the tumour tiles and half from the normal ones (with replacement), then shuffle so the classes are mixed.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# $\lfloor b/2 \rfloor$ indices drawn from $\{i : y_i = 1\}$, $b - \lfloor b/2 \rfloor$ from $\{i : y_i = 0\}$, in a random order.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)   # both must be non-empty
# idx = concatenate(rng.choice(pos, b // 2), rng.choice(neg, b - b // 2))
# return rng.permutation(idx)
# ```
# </details>

# %%
import numpy as np


def balanced_batch_indices(labels, batch_size, rng):
    """int64 indices of one minibatch: half label 1, half label 0 (with replacement), shuffled by ``rng``."""
    ### BEGIN SOLUTION (S05) rng.choice from np.flatnonzero(labels == 1) and == 0, concatenate, rng.permutation
    labels = np.asarray(labels)
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if len(pos) == 0 or len(neg) == 0:
        missing = "tumour (label 1)" if len(pos) == 0 else "normal (label 0)"
        raise ValueError(f"balanced batches need both classes: no {missing} tile")
    n_pos = batch_size // 2
    idx = np.concatenate([rng.choice(pos, size=n_pos), rng.choice(neg, size=batch_size - n_pos)])
    return rng.permutation(idx).astype(np.int64)
    ### END SOLUTION

# %% [markdown]
# ## 2. Your own training loop
#
# Tiles go in as `(N, 3, H, W)` float32, scaled to [0, 1] and standardized per channel with the training
# set's mean and standard deviation. `Trainer.train_step` (G06) does forward, loss, backward and the Adam step.
# `STEPS` steps are only a start (each step of 32 tiles costs about a second of CPU); the shared model below
# was trained the same way for longer, with augmentation.

# %%
mean = (train.tiles.reshape(-1, 3).mean(axis=0) / 255.0).astype(np.float32)
std = (train.tiles.reshape(-1, 3).std(axis=0) / 255.0).astype(np.float32)


def to_input(tiles):
    x = tiles.astype(np.float32) / 255.0
    x -= mean
    x /= std
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


model = tile_cnn(rng=0)
trainer = Trainer(model, BCEWithLogits(), Adam(model.parameters(), lr=3e-3), progress=False, seed=0)
rng = np.random.default_rng(0)
losses = []
t0 = time.perf_counter()
for step in range(STEPS):
    idx = balanced_batch_indices(train.labels, 32, rng)
    losses.append(trainer.train_step(to_input(train.tiles[idx]), train.labels[idx, None].astype(np.float32)))
seconds = time.perf_counter() - t0
print(f"{STEPS} steps in {seconds:.1f} s ({STEPS * 32 / seconds:.0f} tiles/s); last losses {np.round(losses[-3:], 3)}")

# %% [markdown]
# ## 3. The shared model: longer training, validation on held-out patients
#
# `course_data.tile_model()` calls `camelyon.training.train_from_store` (the pipeline's trainer: balanced
# batches, flips/rotations and stain augmentation, Adam with a cosine schedule, a checkpoint after every epoch,
# validation loss and AUC on held-out patients) with the settings printed below, once; afterwards it just
# loads the file.

# %%
print("settings:", course_data.TRAINING)
t0 = time.perf_counter()
shared = course_data.tile_model(DATA_DIR)
print(f"shared model ready in {time.perf_counter() - t0:.0f} s: {shared.describe()}")
history_path = course_data.tile_model_path(DATA_DIR).with_name("tile_model.history.json")
history = json.loads(history_path.read_text()) if history_path.exists() else shared.extra.get("history", {})

# %%
p_mine = 1.0 / (1.0 + np.exp(-model.predict(to_input(val.tiles))[:, 0]))
p_shared = shared.predict_proba(val.tiles)

fig, axes = plt.subplots(1, 3, figsize=(15, 4))
axes[0].plot(np.arange(1, len(losses) + 1), losses, label="your loop (per step)")
if history.get("loss"):
    steps_per_epoch = course_data.TRAINING["steps_per_epoch"]
    epochs = np.arange(1, len(history["loss"]) + 1) * steps_per_epoch
    axes[0].plot(epochs, history["loss"], "o-", label="shared: train (per epoch)")
    if history.get("val_loss"):
        axes[0].plot(epochs, history["val_loss"], "s--", label="shared: validation")
axes[0].set_xlabel("step")
axes[0].set_ylabel("BCE loss")
axes[0].legend()
axes[0].set_title("training curves")
for name, p in (("your loop", p_mine), ("shared model", p_shared)):
    if 0 < val.labels.sum() < len(val.labels):
        fpr, tpr, _ = roc_curve(val.labels, p)
        axes[1].plot(fpr, tpr, label=f"{name}: AUC {roc_auc_score(val.labels, p):.3f}")
axes[1].plot([0, 1], [0, 1], "k:", lw=1)
axes[1].set_xlabel("false positive rate")
axes[1].set_ylabel("true positive rate")
axes[1].legend()
axes[1].set_title("ROC on held-out patients")
cm = confusion_matrix(val.labels, (p_shared > 0.5).astype(int), labels=[0, 1])
plot_confusion_matrix(cm=cm, display_labels=["normal", "tumour"], ax=axes[2], title="shared model, threshold 0.5")
plt.show()

# %% [markdown]
# **Questions.** (1) The validation set has one or two patients: how much would you trust its AUC? What would
# you do on the real CAMELYON16 (270 slides)? (2) Which tiles does the shared model get wrong? Look at a few
# false positives: are they at lesion borders, where the label itself is uncertain? (3) Why do we report an AUC
# and not the accuracy at the natural class proportion?

# %% [markdown]
# ## 3b. The same model on the challenge preset
#
# The shared model learnt the **easy** preset. The **challenge** preset (`docs/synthetic.md`) adds what makes
# CAMELYON hard: look-alikes (germinal centres, sinus histiocytes, venules, vessels), lobular carcinoma in
# single files, isolated tumour cells, artefacts and five scanners (centre 3 weakly stained). Painting a few
# tiles straight from slide plans takes seconds: below, 20 tumour tiles (centre inside a lesion outline) and
# 30 normal tiles inside the node (no lesion within the tile) per centre, at the model's tile size and um per
# pixel.

# %%
from PIL import Image

from camelyon.synthetic import make_painter, plan_slide
from camelyon.synthetic.tissue_layout import points_in_polygon


def challenge_tiles_from_plans(model, centres=range(5), n_tumour=20, n_normal=30, seed=5):
    """Tiles (N, T, T, 3) uint8, labels (N,) and centres (N,) painted from challenge slide plans."""
    rng = np.random.default_rng(seed)
    out = {"tiles": [], "labels": [], "centres": []}
    for c in centres:
        plan = plan_slide(seed, c, 0, c, ("macro", "micro")[c % 2], 2.0, None, difficulty="challenge")
        painter = make_painter(plan)
        side = int(round(model.tile_size * model.um_per_px / plan.mpp))  # level-0 px of one tile
        boxes = [(les.coordinates.min(0) - side / 2, les.coordinates.max(0) + side / 2) for les in plan.lesions]
        wanted = {1: n_tumour, 0: n_normal}
        for _ in range(50 * (n_tumour + n_normal)):
            if not any(wanted.values()):
                break
            label = 1 if wanted[1] else 0
            les = plan.lesions[int(rng.integers(len(plan.lesions)))]
            area = les.coordinates if label else plan.sections[0].inner  # normal: inside the capsule
            x, y = rng.uniform(area.min(0), area.max(0))
            if not points_in_polygon(np.array([[x, y]]), area)[0]:
                continue
            if not label and any((lo <= (x, y)).all() and ((x, y) <= hi).all() for lo, hi in boxes):
                continue
            region = painter.paint(int(x) - side // 2, int(y) - side // 2, side, side)
            tile = Image.fromarray(region).resize((model.tile_size,) * 2, Image.BOX)  # area average, as a pyramid
            out["tiles"].append(np.asarray(tile))
            out["labels"].append(label)
            out["centres"].append(c)
            wanted[label] -= 1
    return {k: np.asarray(v) for k, v in out.items()}


ch = challenge_tiles_from_plans(shared)
p_ch = shared.predict_proba(ch["tiles"]).reshape(-1)
print(f"shared model: AUC {roc_auc_score(val.labels, p_shared):.3f} on the easy held-out patients, "
      f"{roc_auc_score(ch['labels'], p_ch):.3f} on {len(p_ch)} challenge tiles")
for c in range(5):
    sel = ch["centres"] == c
    print(f"  centre {c}: AUC {roc_auc_score(ch['labels'][sel], p_ch[sel]):.3f}, "
          f"normal tiles flagged {np.mean(p_ch[sel & (ch['labels'] == 0)] > 0.5):.0%}")

# %% [markdown]
# **Questions.** (4) Which centres suffer most, and is it colour (compare S04's section 5) or morphology?
# (5) `docs/synthetic.md` measures the same CNN trained *on* the challenge preset: at 4 um per pixel it stays
# well below the same CNN at 1 um per pixel. Which lesion kinds need the finer view, and why is the notebook's
# 4 um per pixel still the right choice for a one-minute exercise?

# %% [markdown]
# ## 4. Optional, real data: PatchCamelyon
#
# PatchCamelyon (PCam) holds 327,680 real 96 x 96 px tiles cut from CAMELYON16 slides at 10x (8 GB instead of
# 3.5 TB; download and unpack as in `docs/real-data.md`). Set `PCAM_DIR` to the folder holding the unpacked
# `camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5` files: the cell below shows real tiles of both
# classes, trains the same tile CNN for a few hundred steps straight from PCam's files (batch by batch, never
# loading the 7.2 GB training file) and reports the test accuracy and AUC on `PCAM_TEST_TILES` test tiles.
# With `PCAM_DIR = None` it is skipped. Expect minutes, not seconds: see the measured throughput in the docs.

# %%
PCAM_DIR = None  # e.g. "/data/pcam"; None: skip this section
PCAM_STEPS, PCAM_TEST_TILES = 200, 4096

if PCAM_DIR is None:
    print("PCAM_DIR is None: the PatchCamelyon section is skipped")
else:
    import pathlib as _pathlib

    import matplotlib.pyplot as plt
    import numpy as np

    from camelyon.dataset.pcam import open_pcam
    from camelyon.pcam_training import train_on_pcam
    from camelyon.training import TrainingConfig

    pcam = open_pcam(PCAM_DIR)
    print({name: f"{len(s)} tiles, {s.labels.mean():.0%} tumour" for name, s in pcam.items()})
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(2, 8, figsize=(16, 4.4))
    for row, label in enumerate((0, 1)):
        pick = np.sort(rng.choice(np.flatnonzero(pcam["train"].labels == label), 8, replace=False))
        tiles, _ = pcam["train"].read_batch(pick)
        for ax, tile in zip(axes[row], tiles):
            ax.imshow(tile)
            ax.add_patch(plt.Rectangle((31.5, 31.5), 32, 32, fill=False, color="yellow", lw=1))
            ax.set_axis_off()
        axes[row, 0].set_title("tumour in the centre" if label else "normal", loc="left", fontsize=10)
    plt.show()
    for s in pcam.values():
        s.close()
    config = TrainingConfig(epochs=1, batch_size=64, steps_per_epoch=PCAM_STEPS, seed=0)
    out = _pathlib.Path("runs") / "pcam_tile_model.npz"
    out.parent.mkdir(exist_ok=True)
    result = train_on_pcam(PCAM_DIR, out, config, max_tiles=PCAM_STEPS * 64, max_val_tiles=1024,
                           max_test_tiles=PCAM_TEST_TILES, progress=True)
    print(f"trained on {result.n_train} PCam tiles at {result.history['tiles_per_s'][-1]:.0f} tiles/s; "
          f"test accuracy {result.test_accuracy:.3f}, test AUC {result.test_auc:.3f} on {result.n_test} test tiles "
          "(published baseline on all of PCam: accuracy 0.898, AUC 0.963)")

# %% [markdown]
# ## Self-check
# Runs the tests marked `S05`: your `balanced_batch_indices` (read from the saved notebook).

# %%
self_check("S05")
