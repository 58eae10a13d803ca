"""Synthetic cohort: speed, memory, colour-vs-morphology check, and the documentation figures.

Parts (run one or several; results are merged into ``benchmarks/results/synthetic.json``):

``speed``
    Generate the demo cohort (``--patients`` x 5 slides, demo preset: 1.0 um/px, 6144 x 4096 px)
    with 2 worker processes in a child process: wall and CPU time, slides per minute, MB/s
    written, and peak resident memory of any process (``resource.getrusage`` maxrss).
``big``
    Paint one 50,000 x 50,000 px slide (rounded up to 50,176 px, 0.5 um/px, one process): time,
    MB/s and peak memory, to show that streaming keeps memory bounded. Takes minutes.
``auc``
    Does colour alone give tumour away? Per-tile mean RGB of 96 px tiles at 1 um/px (10x),
    tumour (centre 32 x 32 px all tumour) against normal tissue (no tumour in the tile), a
    logistic regression (NumPy) trained on centres 0-2 and tested on centres 3-4: tile AUC.
    Target: at most 0.75. For comparison, the same with one texture number (grey-level standard
    deviation of the tile averaged down to 4 um/px).
``figures``
    ``docs/img/synthetic_tiles.png`` (tumour and normal tiles per centre at 10x) and
    ``docs/img/synthetic_thumbnails.png`` (a cohort overview with the lesion outlines).

Usage::

    .venv/bin/python benchmarks/bench_synthetic.py speed auc figures
    .venv/bin/python benchmarks/bench_synthetic.py big
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "synthetic.json"
IMG = ROOT / "docs" / "img"

# ----------------------------------------------------------------------------------------------
# speed and memory: measured in a child process so that maxrss is the child's own
# ----------------------------------------------------------------------------------------------

_CHILD_COHORT = """
import json, resource, sys
from camelyon.synthetic import generate_cohort
s = generate_cohort(sys.argv[1], n_patients=int(sys.argv[2]), n_centers=5, seed=int(sys.argv[3]),
                    mpp=float(sys.argv[4]), size=(int(sys.argv[5]), int(sys.argv[6])), workers=int(sys.argv[7]),
                    progress=False)
main_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print("RESULT", json.dumps({"worker_cpu_s": s.cpu_seconds, "worker_peak_rss_mb": s.peak_rss_mb,
                            "main_peak_rss_mb": main_rss, "in_process_s": s.seconds}))
"""

_CHILD_SLIDE = """
import sys
from camelyon.synthetic import plan_slide, render_slide
plan = plan_slide(int(sys.argv[2]), 0, 0, 0, "macro", float(sys.argv[3]), (int(sys.argv[4]), int(sys.argv[4])))
render_slide(plan, sys.argv[1])
"""


def _run_child(code: str, args: list[str]) -> dict:
    """Run ``code`` in a fresh interpreter; wall, CPU and peak RSS (MB) of it and its workers."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], check=True, cwd=str(ROOT), capture_output=True,
                          text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": after.ru_maxrss / 1024.0}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            out.update(json.loads(line[len("RESULT "):]))
    return out


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.tif"))


def bench_speed(patients: int, workers: int, repeats: int) -> dict:
    from camelyon.synthetic import DEMO_MPP, DEMO_SIZE

    runs = []
    for r in range(repeats):
        with tempfile.TemporaryDirectory(dir=ROOT / "benchmarks") as tmp:
            out = Path(tmp) / "cohort"
            m = _run_child(_CHILD_COHORT, [str(out), str(patients), str(r), str(DEMO_MPP),
                                           str(DEMO_SIZE[0]), str(DEMO_SIZE[1]), str(workers)])
            m["bytes"] = _folder_bytes(out)
            # the pool's workers are not our children (forkserver): count their CPU as they report it
            m["cpu_s"] += m.get("worker_cpu_s", 0.0)
            m["peak_rss_mb"] = max(m["peak_rss_mb"], m.get("worker_peak_rss_mb", 0.0))
            runs.append(m)
            print(f"  run {r}: {m['wall_s']:.1f} s wall, {m['cpu_s']:.1f} s CPU, {m['bytes'] / 1e6:.0f} MB, "
                  f"peak {m['peak_rss_mb']:.0f} MB, load {os.getloadavg()[0]:.1f}", flush=True)
    n = patients * 5
    wall = float(np.median([m["wall_s"] for m in runs]))
    cpu = float(np.median([m["cpu_s"] for m in runs]))
    nbytes = float(np.median([m["bytes"] for m in runs]))
    return {
        "slides": n,
        "slide_px": list(DEMO_SIZE),
        "mpp": DEMO_MPP,
        "workers": workers,
        "wall_s_median": wall,
        "cpu_s_median": cpu,
        "cpu_s_per_slide": cpu / n,
        "slides_per_min": n / wall * 60,
        "slides_per_min_per_cpu_core": n / cpu * 60,
        "mb_per_slide": nbytes / n / 1e6,
        "mb_per_s": nbytes / 1e6 / wall,
        "mb_per_cpu_s": nbytes / 1e6 / cpu,
        "peak_rss_mb": max(m["peak_rss_mb"] for m in runs),
        "runs": runs,
    }


def bench_big(size: int, mpp: float) -> dict:
    with tempfile.TemporaryDirectory(dir=ROOT / "benchmarks") as tmp:
        path = Path(tmp) / "big.tif"
        m = _run_child(_CHILD_SLIDE, [str(path), "1", str(mpp), str(size)])
        m["bytes"] = path.stat().st_size
        import openslide

        with openslide.OpenSlide(str(path)) as s:
            m["dimensions"] = list(s.dimensions)
            m["levels"] = s.level_count
    m["mpp"] = mpp
    m["slides_per_min"] = 60.0 / m["wall_s"]
    m["mb_per_s"] = m["bytes"] / 1e6 / m["wall_s"]
    m["mb_per_cpu_s"] = m["bytes"] / 1e6 / m["cpu_s"]
    m["mpx_per_cpu_s"] = m["dimensions"][0] * m["dimensions"][1] / 1e6 / m["cpu_s"]
    return m


# ----------------------------------------------------------------------------------------------
# colour alone: per-tile mean RGB, trained on centres 0-2, tested on centres 3-4
# ----------------------------------------------------------------------------------------------

TILE = 96


def sample_tiles(plan, rng, n_per_class: int, tile: int = TILE):
    """Tumour tiles (centre 32 x 32 px all tumour) and normal tiles (no tumour), >= 60 % tissue.

    Returns
    -------
    (ndarray (P, tile, tile, 3) uint8, ndarray (N, tile, tile, 3) uint8)
    """
    from camelyon.annotations import Annotation, rasterize
    from camelyon.synthetic import Painter

    painter = Painter(plan)
    anns = [Annotation(f"a{i}", "metastases", "Polygon", les.coordinates) for i, les in enumerate(plan.lesions)]
    glass = np.asarray(plan.stain.background)
    lesion = plan.lesions[0].coordinates
    pos, neg = [], []
    size = np.array([plan.width, plan.height])
    for _ in range(6000):
        if len(pos) >= n_per_class and len(neg) >= n_per_class:
            break
        want_pos = len(pos) < n_per_class and (len(neg) >= n_per_class or rng.random() < 0.5)
        lo, hi = (lesion.min(0), lesion.max(0)) if want_pos else (np.zeros(2), size)
        x, y = np.clip((rng.uniform(lo, hi) - tile / 2).astype(int), 0, size - tile)
        img = painter.paint(int(x), int(y), tile, tile)
        if (np.abs(img.astype(np.int16) - glass).max(-1) > 20).mean() < 0.6:
            continue
        m = rasterize(anns, (tile, tile), 1.0, origin=(float(x), float(y)))
        c = tile // 3
        if m[c : 2 * c, c : 2 * c].all():
            if len(pos) < n_per_class:
                pos.append(img)
        elif not m.any() and len(neg) < n_per_class:
            neg.append(img)
    return np.array(pos), np.array(neg)


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula."""
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    # average ranks of ties
    s = score[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j + 2) / 2.0
        i = j + 1
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def logistic_regression(X: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 4000, lr: float = 0.2):
    """Plain gradient descent on the mean log-loss; returns (w, b)."""
    w = np.zeros(X.shape[1])
    b = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
        g = p - y
        w -= lr * (X.T @ g / len(y) + l2 * w)
        b -= lr * g.mean()
    return w, b


def _tile_features(tiles: np.ndarray) -> np.ndarray:
    """Per tile: mean R, G, B at full resolution, and the grey std after 4 x 4 averaging, shape (N, 4)."""
    n, h, w, _ = tiles.shape
    mean_rgb = tiles.reshape(n, -1, 3).mean(1)
    small = tiles.reshape(n, h // 4, 4, w // 4, 4, 3).mean((2, 4)).mean(-1)
    return np.c_[mean_rgb, small.reshape(n, -1).std(1)]


def bench_auc(slides_per_center: int, tiles_per_class: int, seed: int) -> dict:
    from camelyon.synthetic import DEMO_MPP, DEMO_SIZE, plan_slide

    rng = np.random.default_rng(seed)
    feats = {}
    for c in range(5):
        P, N = [], []
        for k in range(slides_per_center):
            label = "macro" if k % 2 == 0 else "micro"
            plan = plan_slide(seed, 100 * c + k, k % 5, c, label, DEMO_MPP, DEMO_SIZE)
            pos, neg = sample_tiles(plan, rng, tiles_per_class)
            P.append(_tile_features(pos))
            N.append(_tile_features(neg))
        feats[c] = (np.concatenate(P), np.concatenate(N))

    def xy(centres, cols=(0, 1, 2)):
        X = np.concatenate([np.concatenate(feats[c])[:, list(cols)] for c in centres])
        y = np.concatenate([np.r_[np.ones(len(feats[c][0])), np.zeros(len(feats[c][1]))] for c in centres])
        return X, y

    # for comparison: one texture number, the grey-level std of the tile shrunk to 4 um/px
    Xtr, ytr = xy([0, 1, 2], (3,))
    Xte, yte = xy([3, 4], (3,))
    mu, sd = Xtr.mean(0), Xtr.std(0)
    w, b = logistic_regression((Xtr - mu) / sd, ytr)
    texture_auc = roc_auc(yte, (Xte - mu) / sd @ w)

    Xtr, ytr = xy([0, 1, 2])
    Xte, yte = xy([3, 4])
    mu, sd = Xtr.mean(0), Xtr.std(0)
    w, b = logistic_regression((Xtr - mu) / sd, ytr)
    result = {
        "tile_px": TILE,
        "um_per_px": DEMO_MPP,
        "tiles_train": int(len(ytr)),
        "tiles_test": int(len(yte)),
        "auc_train_centres_0_2": roc_auc(ytr, (Xtr - mu) / sd @ w),
        "auc_test_centres_3_4": roc_auc(yte, (Xte - mu) / sd @ w),
        "per_centre_auc_of_that_model": {},
        "grey_std_at_4um_auc_test_centres_3_4": texture_auc,
        "mean_rgb": {},
    }
    for c in range(5):
        X, y = xy([c])
        result["per_centre_auc_of_that_model"][c] = roc_auc(y, (X - mu) / sd @ w)
        result["mean_rgb"][c] = {"tumour": feats[c][0].mean(0).round(1).tolist(),
                                 "normal": feats[c][1].mean(0).round(1).tolist()}
    return result


# ----------------------------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------------------------


def figure_tiles(path: Path, seed: int = 4) -> None:
    """Two tumour and two normal 96 px tiles per centre at 1 um/px, and a 256 um lesion border."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from camelyon.synthetic import DEMO_MPP, DEMO_SIZE, Painter, plan_slide

    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(5, 5, figsize=(10, 10.6))
    for c in range(5):
        plan = plan_slide(seed, 7 * c + 1, 0, c, "macro", DEMO_MPP, DEMO_SIZE)
        pos, neg = sample_tiles(plan, rng, 2)
        # the border: the leftmost vertex of the lesion in the middle of a 256 px crop
        v = plan.lesions[0].coordinates[np.argmin(plan.lesions[0].coordinates[:, 0])]
        border = Painter(plan).paint(int(v[0]) - 128, int(v[1]) - 128, 256, 256)
        for r, (img, what) in enumerate([(pos[0], "tumour"), (pos[1], "tumour"), (neg[0], "normal"),
                                         (neg[1], "normal"), (border, "border, 256 um")]):
            ax = axes[r, c]
            ax.imshow(img, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"centre {c}", fontsize=11)
            if c == 0:
                ax.set_ylabel(what, fontsize=11)
    fig.suptitle("Synthetic tiles at 10x (1 um/px): 96 px tumour / normal tiles and a lesion border", fontsize=12)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_thumbnails(path: Path, seed: int = 2017) -> dict:
    """Generate a small demo-preset cohort and show one patient per centre, lesions outlined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import openslide

    from camelyon.annotations import read_asap
    from camelyon.synthetic import DEMO_MPP, DEMO_SIZE, generate_cohort

    with tempfile.TemporaryDirectory(dir=ROOT / "benchmarks") as tmp:
        t0 = time.perf_counter()
        summary = generate_cohort(Path(tmp) / "c", n_patients=5, n_centers=5, seed=seed, mpp=DEMO_MPP,
                                  size=DEMO_SIZE, workers=2, progress=False)
        seconds = time.perf_counter() - t0
        fig, axes = plt.subplots(5, 5, figsize=(15, 9.2))
        for pat in summary.patients:
            for node, label in enumerate(pat.labels):
                name = f"patient_{pat.patient:03d}_node_{node}"
                with openslide.OpenSlide(str(summary.root / f"center_{pat.center}" / f"{name}.tif")) as s:
                    lv = s.level_count - 1
                    ds = s.level_downsamples[lv]
                    img = np.asarray(s.read_region((0, 0), lv, s.level_dimensions[lv]).convert("RGB"))
                ax = axes[pat.patient, node]
                ax.imshow(img)
                xml = summary.root / "lesion_annotations" / f"{name}.xml"
                if xml.exists():
                    for a in read_asap(xml):
                        xy = np.vstack([a.coordinates, a.coordinates[:1]]) / ds
                        ax.plot(xy[:, 0], xy[:, 1], color="#00b000", lw=1.0)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"{name}: {label}", fontsize=8)
            axes[pat.patient, 0].set_ylabel(f"centre {pat.center}\n{pat.stage}", fontsize=10)
        fig.suptitle("A synthetic cohort (5 patients x 5 nodes, one patient per centre); metastases outlined",
                     fontsize=12)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return {"slides": len(summary.slides), "seconds_in_process": seconds, "bytes": summary.bytes}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("parts", nargs="+", choices=["speed", "big", "auc", "figures"])
    p.add_argument("--patients", type=int, default=10, help="demo cohort size for 'speed' (default 10)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--big-size", type=int, default=50000)
    p.add_argument("--big-mpp", type=float, default=0.5)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args()
    out = Path(args.out)
    results = {}
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "load_average_at_start": os.getloadavg()}
    if "speed" in args.parts:
        print("speed: demo cohort", flush=True)
        results["speed_demo"] = bench_speed(args.patients, args.workers, args.repeats)
        print(json.dumps({k: v for k, v in results["speed_demo"].items() if k != "runs"}, indent=1))
    if "auc" in args.parts:
        print("auc: mean-RGB tile classifier, centres 0-2 -> 3-4", flush=True)
        results["colour_only_auc"] = bench_auc(slides_per_center=4, tiles_per_class=40, seed=7)
        print(json.dumps(results["colour_only_auc"], indent=1))
    if "figures" in args.parts:
        print("figures", flush=True)
        figure_tiles(IMG / "synthetic_tiles.png")
        results["figure_cohort"] = figure_thumbnails(IMG / "synthetic_thumbnails.png")
    if "big" in args.parts:
        print(f"big: one {args.big_size} x {args.big_size} px slide", flush=True)
        results["big_slide"] = bench_big(args.big_size, args.big_mpp)
        print(json.dumps(results["big_slide"], indent=1))
    # merge into what other runs of this script wrote meanwhile
    out.parent.mkdir(parents=True, exist_ok=True)
    merged = json.loads(out.read_text()) if out.exists() else {}
    merged.update(results)
    out.write_text(json.dumps(merged, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
