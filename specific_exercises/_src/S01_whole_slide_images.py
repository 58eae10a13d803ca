# %% [markdown]
# # S01 · Whole-slide images: levels, regions, thumbnails, annotations
#
# **Prerequisites:** none: S01 needs no other exercise. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - open a pyramidal whole-slide image and read its levels, downsamples and resolution (um per pixel);
# - read a region at any level with *level-0* coordinates, and a thumbnail of the whole slide;
# - read the pathologists' lesion outlines (ASAP XML), draw them over the slide and measure a lesion in mm.
#
# **What you implement** (in this notebook): `centred_location` and `to_thumbnail` (Exercises 1 and 2), the
# coordinate glue every whole-slide program needs. The reading itself comes from `camelyon.slide` (OpenSlide
# underneath) and `camelyon.annotations`.
#
# The self-check at the end runs `pytest -m S01` (save the notebook first: the checks read the saved file).
#
# **Data.** `DATA_DIR = None` uses the small synthetic CAMELYON17-style cohort of the notebooks (4 patients,
# 5 lymph-node slides each, painted once into `runs/notebook_cohort`, about a minute). Set `DATA_DIR` to a
# folder with `center_*/patient_*_node_*.tif`, `lesion_annotations/` and `stage_labels.csv` (real CAMELYON17, or
# `runs/demo/data` after `make demo`) to work on those slides instead.

# %%
DATA_DIR = None  # None: synthetic cohort; or e.g. "/data/camelyon17/training"

# %%
import sys
import pathlib

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "camelyon" / "__init__.py").exists())
sys.path[:0] = [str(ROOT), str(ROOT / "specific_exercises")]

from minicnn.teaching.progress import start_notebook

start_notebook("S01")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np

import course_data
from camelyon.annotations import largest_diameter_mm, rasterize, read_asap
from camelyon.slide import Slide
from camelyon.staging import slide_label_from_diameter
from minicnn.teaching.selfcheck import self_check

cohort = course_data.cohort_dir(DATA_DIR, progress=True)
slide_paths = course_data.slides(DATA_DIR)
print(len(slide_paths), "slides in", cohort)

# %% [markdown]
# ## 1. Background: a lymph node under the microscope
#
# Breast cancer spreads first to the lymph nodes of the armpit. After surgery the nodes are cut into thin
# sections, stained with haematoxylin (purple-blue, binds the DNA of nuclei) and eosin (pink, binds proteins
# of cytoplasm and connective tissue), and scanned. A metastasis is a cluster of tumour cells in a node; its
# size decides the slide label (negative, isolated tumour cells, micro- or macro-metastasis) and the labels of
# a patient's nodes decide the pN stage, which decides treatment (S09).
#
# A scan at 40x has about 0.25 um per pixel: a 15 x 15 mm section is 60 000 x 60 000 pixels, 10 GB of RGB.
# No program reads that at once. Whole-slide files are therefore **pyramids**: level 0 at full resolution,
# then copies downsampled by 2, 4, 8, ..., each cut into small JPEG tiles so that any region of any level can be
# read without decoding the rest. OpenSlide reads these formats; `camelyon.slide.Slide` wraps it and returns
# plain RGB NumPy arrays.

# %%
path = next((p for p in slide_paths if "node" in p.name), slide_paths[0])
with Slide(path) as s:
    print("slide     :", s.name, f"({s.vendor})")
    print("level 0   :", s.dimensions, "px,", f"{s.mpp[0]:.3f} um/px")
    for level in range(s.level_count):
        w, h = s.level_dimensions[level]
        print(f"level {level}   : {w:6d} x {h:6d} px, downsample {s.level_downsamples[level]:5.1f}, "
              f"{s.mpp_at_level(level):6.2f} um/px")
    thumb = s.thumbnail(512)

plt.figure(figsize=(6, 4))
plt.imshow(thumb)
plt.title(f"{path.name}: thumbnail")
plt.axis("off")
plt.show()

# %% [markdown]
# ## 2. Reading regions
#
# `read_region(location, level, size)` takes the **top-left corner in level-0 pixels** whatever the level,
# and a size in pixels *of that level*. This mixed convention (OpenSlide's) is the source of many bugs: a
# region of `w x h` pixels at a level with downsample `d` covers `w*d x h*d` level-0 pixels.
#
# **Exercise 1.** Write `centred_location(center_xy, size_wh, downsample)`: the level-0 top-left corner
# `(x, y)` (ints, rounded to the nearest pixel) of a region of `size_wh` pixels at a level with the given
# downsample, centred on the level-0 point `center_xy`.
#
# **Exercise 2.** Write `to_thumbnail(coordinates, thumbnail_downsample)`: level-0 outline coordinates
# (an `(N, 2)` array of x, y) expressed in the pixels of an image that is `thumbnail_downsample` times
# smaller (a float array of the same shape). A thumbnail's downsample can differ slightly in x and y;
# `thumbnail_downsample` may be one number or a pair `(dx, dy)`.

# %% [markdown]
# **Hints for `centred_location`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# A region of `size_wh` pixels at a level with downsample `d` covers `d` times as many level-0 pixels. Centre that level-0 extent on the point.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# $x = c_x - \frac{w\,d}{2}$, $y = c_y - \frac{h\,d}{2}$, rounded to the nearest integer.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# cx, cy = center_xy; w, h = size_wh
# return int(round(cx - <half the level-0 width>)), int(round(cy - <half the level-0 height>))
# ```
# </details>

# %% [markdown]
# **Hints for `to_thumbnail`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# A thumbnail `d` times smaller divides every level-0 coordinate by `d`; x and y may have their own `d`.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# $(x', y') = (x / d_x,\; y / d_y)$; a single number means $d_x = d_y$.
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# ds = thumbnail_downsample as a float array broadcast to shape (2,)
# return coordinates (as float64) / ds       # broadcasting over the N rows
# ```
# </details>

# %%
import numpy as np


def centred_location(center_xy, size_wh, downsample):
    """Level-0 (x, y) top-left corner of a ``size_wh`` px region at ``downsample``, centred on ``center_xy``."""
    ### BEGIN SOLUTION (S01) return (x, y) ints: the region's level-0 extent follows from size_wh and downsample; the corner lies half of it before the centre
    cx, cy = center_xy
    w, h = size_wh
    return int(round(cx - w * downsample / 2.0)), int(round(cy - h * downsample / 2.0))
    ### END SOLUTION


def to_thumbnail(coordinates, thumbnail_downsample):
    """(N, 2) level-0 x, y -> (N, 2) float x, y in pixels of an image ``thumbnail_downsample`` times smaller."""
    ### BEGIN SOLUTION (S01) divide x by the x downsample and y by the y downsample (a scalar applies to both)
    ds = np.broadcast_to(np.asarray(thumbnail_downsample, dtype=np.float64), (2,))
    return np.asarray(coordinates, dtype=np.float64) / ds
    ### END SOLUTION

# %%
assert centred_location((1000, 800), (100, 50), 4.0) == (800, 700)
assert np.allclose(to_thumbnail(np.array([[64.0, 32.0]]), (32.0, 16.0)), [[2.0, 2.0]])

# %% [markdown]
# ## 3. Lesion annotations
#
# In CAMELYON the pathologists outlined metastases (only some CAMELYON17 slides are annotated, ITC not
# exhaustively) as polygons in ASAP's XML format, in level-0 pixels. `read_asap` returns an `AnnotationSet`; `tumour()` keeps the tumour areas and
# `exclusions()` the holes cut out of them (CAMELYON16 group `_2`). The slide label follows from the *longest
# diameter* of the largest metastasis: ITC up to 0.2 mm, micro up to 2 mm, macro beyond.

# %%
ann_dir = course_data.annotation_dir(DATA_DIR)
annotated = [p for p in slide_paths if (ann_dir / (p.stem + ".xml")).exists()]
print(len(annotated), "annotated slides")


def biggest_lesion_slide(paths):
    best = None
    for p in paths:
        aset = read_asap(ann_dir / (p.stem + ".xml")).tumour()
        with Slide(p) as s:
            mpp = s.mpp
        for a in aset:
            if a.is_area:
                d = largest_diameter_mm(a.coordinates, mpp)
                if best is None or d > best[1]:
                    best = (p, d, a)
    return best


lesion_slide, diameter, lesion = biggest_lesion_slide(annotated)
print(f"largest lesion: {lesion_slide.name}, {diameter:.2f} mm -> slide label {slide_label_from_diameter(diameter)}")

# %% [markdown]
# Draw every outline over the thumbnail with your `to_thumbnail`, and show the tumour mask that `rasterize`
# makes at the thumbnail's resolution.

# %%
with Slide(lesion_slide) as s:
    thumb = s.thumbnail(768)
    ds = (s.dimensions[0] / thumb.shape[1], s.dimensions[1] / thumb.shape[0])
aset = read_asap(ann_dir / (lesion_slide.stem + ".xml"))
mask = rasterize(aset, thumb.shape[:2], float(np.mean(ds)))

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
axes[0].imshow(thumb)
for a in aset.tumour():
    xy = to_thumbnail(a.coordinates, ds)
    axes[0].plot(np.r_[xy[:, 0], xy[:, 0][:1]], np.r_[xy[:, 1], xy[:, 1][:1]], color="lime", lw=1.2)
axes[0].set_title(f"{lesion_slide.name}: lesion outlines")
axes[1].imshow(thumb)
axes[1].imshow(np.ma.masked_where(~mask, mask), cmap="autumn", alpha=0.6)
axes[1].set_title(f"rasterized tumour mask ({mask.mean():.2%} of the slide)")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 4. The pyramid at work: the same lesion at three levels
#
# Reading a 256 x 256 px window centred on the lesion at level 0, 1 and 2 shows the trade-off every
# pipeline makes: detail (cells, nuclei) against context (the shape of the lesion in the node).

# %%
cx, cy = lesion.coordinates.mean(axis=0)
with Slide(lesion_slide) as s:
    levels = list(range(min(3, s.level_count)))
    fig, axes = plt.subplots(1, len(levels), figsize=(4 * len(levels), 4))
    for ax, level in zip(np.atleast_1d(axes), levels):
        d = s.level_downsamples[level]
        x, y = centred_location((cx, cy), (256, 256), d)
        region = s.read_region((x, y), level, (256, 256))
        ax.imshow(region)
        xy = (lesion.coordinates - (x, y)) / d
        ax.plot(np.r_[xy[:, 0], xy[:1, 0]], np.r_[xy[:, 1], xy[:1, 1]], color="lime", lw=1)
        ax.set_xlim(0, 256)
        ax.set_ylim(256, 0)
        ax.set_title(f"level {level}: {256 * s.mpp_at_level(level) / 1000:.2f} mm wide")
        ax.axis("off")
plt.show()

# %% [markdown]
# ## 5. Zoom in yourself
#
# `camelyon.viewer.show` opens the slide in the viewer of `camelyon view`, here in the notebook: scroll to zoom
# from the whole node down to the cells, switch the outlines on and off (`a`), and measure the lesion with the
# ruler (press `r`, then drag across it). The ruler gives the length in mm and the label that length would give;
# it should agree with the diameter printed in section 3. (This needs the browser on the kernel's machine, as
# in a local Jupyter; `camelyon view DATA_DIR` does the same for a whole folder.)

# %%
from camelyon.viewer import show

show(lesion_slide, annotations=aset)

# %% [markdown]
# **Questions.** (1) Why does `read_region` take level-0 coordinates even when reading level 2? (2) A real
# CAMELYON slide is 100 000 x 200 000 px at 0.243 um/px: how many MB is one 512 x 512 region, and how many of
# them would tile level 0?

# %% [markdown]
# ## Self-check
# Runs the tests marked `S01` (`pytest -m S01`) in a fresh Python process: your two functions above, read
#
# **Save the notebook first** (Ctrl-S): the tests read your functions from the saved file.
# from the saved notebook.

# %%
self_check("S01")
