"""Colour handling across hospitals: tile AUC on unseen centres with and without normalization.

On a synthetic CAMELYON17-style cohort (:func:`camelyon.synthetic.generate_cohort`, five centres
with different stains, scanners and blur), the reference tile CNN is trained on tiles of centres
0-2 and tested on tiles of centres 3-4 with each colour setting:

- ``none``: raw tiles;
- ``reinhard``: LAB mean/std matched to a target from the training tiles;
- ``macenko``: stain vectors and concentrations mapped to the target's;
- ``augment``: flips, rotations and H&E concentration jitter while training;
- ``macenko+augment`` and ``reinhard+augment``: both.

Every setting uses the same tiles, seed, epochs and schedule; the test AUC is measured once after
the last epoch (no model selection on the test centres). Results go to
``benchmarks/results/stain_ablation.json`` (and a bar chart PNG next to it).

Usage::

    .venv/bin/python benchmarks/stain_ablation.py --work /tmp/ablation          # cohort, store, 6 runs
    .venv/bin/python benchmarks/stain_ablation.py --work /tmp/ablation --settings none macenko
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from minicnn.io import write_json  # noqa: E402

SETTINGS = {
    "none": ("none", False),
    "reinhard": ("reinhard", False),
    "macenko": ("macenko", False),
    "augment": ("none", True),
    "reinhard+augment": ("reinhard", True),
    "macenko+augment": ("macenko", True),
}
#: Tumour-rich stage mix so that every centre has tumour tiles to train or test on.
STAGE_MIX = {"pN1mi": 0.3, "pN1": 0.5, "pN2": 0.2}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "camelyon_stain_ablation"),
                   help="folder for the cohort and the tile store (reused when present)")
    p.add_argument("--patients", type=int, default=10, help="patients (2 per centre with the default 10)")
    p.add_argument("--size", default="10240x7168", help="level-0 slide size in px (at 1 um/px)")
    p.add_argument("--tile-size", type=int, default=96)
    p.add_argument("--crop", type=int, default=None,
                   help="train and test on the centre CROP x CROP px of each tile (e.g. 64, to time smaller tiles)")
    p.add_argument("--per-class", type=int, default=1000,
                   help="tiles per class for training (centres 0-2) and for testing (centres 3-4)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "stain_ablation.json"))
    return p.parse_args(argv)


def pick_balanced(labels, centers, wanted_centers, per_class, rng):
    """Indices of up to ``per_class`` tiles of each class from the given centres (sorted)."""
    out = []
    for cls in (0, 1):
        idx = np.flatnonzero(np.isin(centers, wanted_centers) & (labels == cls))
        out.append(rng.choice(idx, size=min(per_class, len(idx)), replace=False))
    return np.sort(np.concatenate(out))


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    test = [results[n]["test_auc"] for n in names]
    per_centre = {c: [results[n]["test_auc_per_centre"].get(str(c), np.nan) for n in names] for c in (3, 4)}
    x = np.arange(len(names))
    ax.bar(x - 0.25, test, 0.25, label="centres 3+4")
    ax.bar(x, per_centre[3], 0.25, label="centre 3")
    ax.bar(x + 0.25, per_centre[4], 0.25, label="centre 4")
    ax.axhline(0.95, color="k", lw=0.8, ls="--")
    ax.set_xticks(x, names, rotation=15, fontsize=8)
    ax.set_ylim(0.5, 1.0)
    ax.set_ylabel("tile AUC, unseen centres")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("train on centres 0-2, test on 3-4", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    args = parse_args()
    from camelyon.dataset import TileStore, build_tile_store
    from camelyon.synthetic import generate_cohort
    from camelyon.tiling import TileGrid
    from camelyon.training import TileArrays, TrainingConfig, train_tile_model
    from minicnn.metrics import roc_auc_score

    work = Path(args.work)
    cohort, store_path = work / "cohort", work / f"tiles_{args.tile_size}.h5"
    timings = {}
    t0 = time.perf_counter()
    if not (cohort / "stage_labels.csv").is_file():
        w, h = (int(v) for v in args.size.lower().split("x"))
        generate_cohort(cohort, n_patients=args.patients, n_centers=5, seed=args.seed, mpp=1.0, size=(w, h),
                        workers=args.workers, stage_mix=STAGE_MIX)
        timings["cohort_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    if not store_path.is_file():
        build_tile_store(cohort, store_path, grid=TileGrid(tile_size=args.tile_size, um_per_px=1.0, min_tissue=0.5),
                         annotations=cohort / "lesion_annotations", max_negatives_per_slide=150, seed=args.seed,
                         workers=args.workers)
        timings["tile_store_s"] = round(time.perf_counter() - t0, 1)

    rng = np.random.default_rng(args.seed)
    with TileStore(store_path) as store:
        labels, centers, patients = store.labels.astype(int), store.centers.astype(int), store.patients.astype(str)
        counts = {int(c): [int(((centers == c) & (labels == k)).sum()) for k in (0, 1)] for c in range(5)}
        print("tiles per centre (normal, tumour):", counts)
        tr = pick_balanced(labels, centers, [0, 1, 2], args.per_class, rng)
        te = pick_balanced(labels, centers, [3, 4], args.per_class, rng)
        crop = slice(None)
        if args.crop:
            lo = (store.tile_size - args.crop) // 2
            crop = slice(lo, lo + args.crop)
        train = TileArrays(store.read_batch(tr)[0][:, crop, crop], labels[tr], patients[tr], centers[tr])
        test = TileArrays(store.read_batch(te)[0][:, crop, crop], labels[te], patients[te], centers[te])
        um_per_px = store.um_per_px
    print(f"train: {len(train)} tiles ({int(train.labels.sum())} tumour) from centres 0-2; "
          f"test: {len(test)} tiles ({int(test.labels.sum())} tumour) from centres 3-4")

    previous = {}
    if Path(args.out).is_file():
        previous = json.loads(Path(args.out).read_text()).get("results", {})
    results = {}
    for name in args.settings:
        normalize, augment = SETTINGS[name]
        cfg = TrainingConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, normalize=normalize,
                             augment=augment, seed=args.seed)
        t0 = time.perf_counter()
        run = train_tile_model(train, None, cfg, None, um_per_px=um_per_px, progress=True)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        p = run.model.predict_proba(test.tiles)
        test_s = time.perf_counter() - t0
        auc = float(roc_auc_score(test.labels, p))
        per_centre = {}
        for c in (3, 4):
            m = test.centers == c
            if len(np.unique(test.labels[m])) == 2:
                per_centre[str(c)] = float(roc_auc_score(test.labels[m], p[m]))
        results[name] = {
            "test_tiles_per_s": round(len(test) / test_s, 1),
            "normalize": normalize, "augment": augment, "test_auc": auc, "test_auc_per_centre": per_centre,
            "train_loss_per_epoch": run.history["loss"], "train_seconds": round(train_s, 1),
            "train_tiles_per_s": round(args.epochs * (cfg.steps_per_epoch or -(-len(train) // args.batch_size))
                                       * args.batch_size / train_s, 1),
            "test_seconds": round(test_s, 1),
        }
        print(f"{name:<18} test AUC {auc:.4f}  per centre {per_centre}  ({train_s:.0f} s training)")
        merged = {**previous, **results}
        write_json(args.out, {
            "benchmark": "tile AUC on unseen centres (train 0-2, test 3-4) per colour setting",
            "cohort": {"patients": args.patients, "size": args.size, "mpp": 1.0, "stage_mix": STAGE_MIX,
                       "seed": args.seed, "tiles_per_centre_normal_tumour": counts},
            "tile_size": args.crop or args.tile_size, "um_per_px": um_per_px, "train_tiles": len(train), "test_tiles": len(test),
            "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "timings": timings,
            "load_average": list(os.getloadavg()),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "results": merged,
        })
    merged = {**previous, **results}
    plot({k: merged[k] for k in SETTINGS if k in merged}, Path(args.out).with_suffix(".png"))
    best = max(merged, key=lambda k: merged[k]["test_auc"])
    print(f"best: {best} with test AUC {merged[best]['test_auc']:.4f} (target >= 0.95); wrote {args.out}")


if __name__ == "__main__":
    main()
