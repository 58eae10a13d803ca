"""The CAMELYON16 pipeline: training slides -> tile CNN -> heatmaps of the test slides -> slide
probabilities (task 1) and lesion detections (task 2) -> AUC and FROC.

Steps (each skips what an earlier run finished, so a rerun resumes):

1. ``tiles``: a tile store from ``training/normal`` and ``training/tumor`` (tumour tiles from
   ``lesion_annotations``), with the pipeline's tile size, resolution and negative cap.
2. ``train``: the tile CNN, validated on held-out training slides.
3. ``heatmaps``: the CNN over every test slide (``testing/images``).
4. ``detect``: :func:`camelyon.camelyon16.detection.detect_lesions` on each heatmap ->
   ``detections/<stem>.csv``; the slide probability (task 1) is the highest value of the smoothed
   heatmap -> ``slide_probabilities.csv`` (``image,probability``).
5. ``evaluate``: with ``testing/reference.csv`` (or annotations saying which test slides are tumour),
   :func:`camelyon.camelyon16.evaluation.evaluate16` -> ``evaluation16.json`` and ``figures/froc.png``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from camelyon.camelyon16.layout import Layout, detect_layout
from camelyon.errors import CamelyonError
from camelyon.messages import count_noun

__all__ = ["run_pipeline16"]


def _heatmap_job(job: tuple) -> str:
    from camelyon.heatmap import compute_heatmap

    slide_path, model_path, stride, out_path, min_tissue = job
    compute_heatmap(slide_path, model_path, stride=stride, min_tissue=min_tissue).save(out_path)
    return out_path


def _write_json(path: Path, obj) -> None:
    from minicnn.io import write_text

    write_text(path, json.dumps(obj, indent=2, default=str))


def run_pipeline16(data_dir, out_dir, config=None, *, layout: Layout | None = None, log=print,
                   detection=None) -> dict:
    """Run (or resume) the CAMELYON16 pipeline.

    Parameters
    ----------
    data_dir : path
        A CAMELYON16-layout folder (training/normal, training/tumor, testing/images,
        lesion_annotations, testing/reference.csv).
    out_dir : path
        Run folder.
    config : camelyon.pipeline.PipelineConfig, optional
        Tile, training, heatmap, worker settings (the CAMELYON17-only ones are not used).
    layout : Layout, optional
        The layout when already detected.
    log : callable or None
    detection : DetectionParams, optional

    Returns
    -------
    dict
        Summary (also ``run_summary.json``): ``froc``, ``auc``, ``auc_ci``, steps with seconds, paths.
    """
    from camelyon.camelyon16.detection import DetectionParams, detect_lesions, slide_probability
    from camelyon.camelyon16.reference import write_detections, write_probabilities
    from camelyon.dataset import build_tile_store
    from camelyon.executor import map_slides
    from camelyon.heatmap import Heatmap
    from camelyon.pipeline import PipelineConfig
    from camelyon.tiling import TileGrid
    from camelyon.training import TrainingConfig, train_from_store

    cfg = config or PipelineConfig()
    log = log or (lambda _m: None)
    layout = layout or detect_layout(data_dir)
    if layout.kind != "camelyon16":
        raise CamelyonError(f"{data_dir} is not a CAMELYON16 layout ({layout.describe()})")
    train_slides, test_slides = layout.training, layout.testing
    if not layout.with_role("tumour") or not layout.with_role("normal"):
        raise CamelyonError(f"{data_dir}: training/tumor and training/normal must both hold slides "
                            f"({layout.describe()})")
    if not test_slides:
        raise CamelyonError(f"{data_dir}: no test slide in testing/images")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"layout": layout.describe(), "data_dir": str(data_dir), "steps": {}}
    t_all = time.perf_counter()

    def step(name):
        log(f"[{name}] running")
        return time.perf_counter()

    def done(name, t0, **info):
        summary["steps"][name] = {"seconds": round(time.perf_counter() - t0, 2), **info}
        log(f"[{name}] done in {time.perf_counter() - t0:.1f} s")

    t0 = step("tiles")
    store = out / "tiles.h5"
    annotations = {stem: layout.annotation_of(stem) for stem in train_slides if layout.annotation_of(stem)}
    grid = TileGrid(tile_size=cfg.tile_size, stride=cfg.tile_stride, um_per_px=cfg.tile_um_per_px,
                    min_tissue=cfg.min_tissue)
    report = build_tile_store(list(train_slides.values()), store, grid=grid, annotations=annotations,
                              max_negatives_per_slide=cfg.max_negatives_per_slide, seed=cfg.seed,
                              workers=cfg.workers, scheduler=cfg.scheduler, progress=cfg.progress)
    if report.failed:
        raise CamelyonError("tiling failed for " + "; ".join(f"{Path(p).name}: {e}" for p, e in report.failed))
    done("tiles", t0, n_slides=len(train_slides), n_tiles=int(report.n_tiles))

    t0 = step("train")
    model = out / "model" / "tile_model.npz"
    if not model.is_file():
        model.parent.mkdir(parents=True, exist_ok=True)
        tc = TrainingConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, steps_per_epoch=cfg.steps_per_epoch,
                            lr=cfg.lr, normalize=cfg.normalize or "none", augment=cfg.augment,
                            val_fraction=cfg.val_fraction, seed=cfg.seed)
        result = train_from_store(store, model, tc, resume=True, progress=cfg.progress)
        summary["training"] = {k: v[-1] for k, v in result.history.items() if isinstance(v, list) and v}
    done("train", t0)

    t0 = step("heatmaps")
    hm_dir = out / "heatmaps"
    hm_dir.mkdir(exist_ok=True)
    jobs = [(str(p), str(model), cfg.heatmap_stride, str(hm_dir / f"{stem}.npz"), cfg.min_tissue)
            for stem, p in test_slides.items() if not (hm_dir / f"{stem}.npz").is_file()]
    log(f"[heatmaps] {len(jobs)} of {count_noun(len(test_slides), 'test slide')} to compute")
    failed = [f"{Path(r.item[0]).name}: {r.error}" for r in map_slides(
        _heatmap_job, jobs, workers=cfg.workers, scheduler=cfg.scheduler, desc="heatmaps", progress=cfg.progress)
        if not r.ok]
    if failed:
        raise CamelyonError("heatmaps failed for " + "; ".join(failed))
    done("heatmaps", t0, computed=len(jobs))

    t0 = step("detect")
    params = detection or DetectionParams()
    det_dir = out / "detections"
    probs = {}
    n_det = 0
    for stem in test_slides:
        hm = Heatmap.load(hm_dir / f"{stem}.npz")
        p, x, y = detect_lesions(hm, params)
        write_detections(det_dir / f"{stem}.csv", p, x, y)
        probs[stem] = slide_probability(hm, params)
        n_det += len(p)
    prob_csv = write_probabilities(out / "slide_probabilities.csv", probs)
    done("detect", t0, n_detections=n_det)
    summary["slide_probabilities"] = str(prob_csv)
    summary["detections"] = str(det_dir)

    t0 = step("evaluate")
    from camelyon.camelyon16.evaluation import evaluate16
    from camelyon.camelyon16.froc import plot_froc
    from camelyon.slide import Slide

    with Slide(next(iter(test_slides.values()))) as s0:
        mpp = float(sum(s0.mpp) / 2) if s0.has_mpp else None
    slide_mpp = mpp is not None and not 0.2 <= mpp <= 0.3
    if slide_mpp:
        log(f"[evaluate] the slides are at {mpp:g} um/px, not CAMELYON's ~0.243: the evaluation mask is scaled to "
            "their resolution (evaluate16 --slide-mpp; the official evaluation assumes 0.243 um/px)")
    summary["evaluation_mask_scaled_to_slide_mpp"] = slide_mpp
    try:
        ev = evaluate16(layout.root, det_dir, prob_csv, seed=cfg.seed, slide_mpp=slide_mpp)
    except CamelyonError as exc:
        log(f"[evaluate] skipped: {exc}")
        summary["evaluation"] = None
    else:
        _write_json(out / "evaluation16.json", ev.to_dict())
        summary.update({"froc": ev.froc, "sensitivities": ev.to_dict()["sensitivities"], "auc": ev.auc,
                        "auc_ci": list(ev.auc_ci) if ev.auc_ci else None,
                        "n_test_slides": len(ev.slides), "n_lesions": ev.n_lesions})
        summary["froc_plot"] = plot_froc(ev.fp_per_slide, ev.sensitivity, out / "figures" / "froc.png", ev.froc,
                                         title="CAMELYON16 layout: lesion FROC")
        for line in ev.summary().splitlines():
            log(line)
    done("evaluate", t0)
    summary["total_seconds"] = round(time.perf_counter() - t_all, 2)
    _write_json(out / "run_summary.json", summary)
    return summary
