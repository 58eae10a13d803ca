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
4b. with ``slide_score="classifier"`` (``--slide-score classifier``): heatmaps of the training slides
   (``heatmaps_training/``), a slide classifier on their features
   (:mod:`camelyon.camelyon16.slide_scores`) -> ``slide_probabilities.csv``; the heatmap maximum goes to
   ``slide_probabilities_max.csv`` and its AUC is reported next to the classifier's.
5. ``evaluate``: with ``testing/reference.csv`` (or annotations saying which test slides are tumour),
   :func:`camelyon.camelyon16.evaluation.evaluate16` -> ``evaluation16.json`` and ``figures/froc.png``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass
class _Run16:
    """One run: the layout, settings, run folder and the summary the steps fill."""

    layout: Layout
    cfg: object  # camelyon.pipeline.PipelineConfig
    out: Path
    log: Callable[[str], None]
    summary: dict = field(default_factory=dict)

    @property
    def test_slides(self) -> dict:
        return self.layout.testing

    def start(self, name: str) -> float:
        self.log(f"[{name}] running")
        return time.perf_counter()

    def done(self, name: str, t0: float, **info) -> None:
        seconds = time.perf_counter() - t0
        self.summary["steps"][name] = {"seconds": round(seconds, 2), **info}
        self.log(f"[{name}] done in {seconds:.1f} s")


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

    Raises
    ------
    NotImplementedError
        An exercise a step needs is not written yet (student edition), also when it was raised in a
        worker process; the command line turns it into one line.
    """
    from camelyon.pipeline import PipelineConfig

    layout = layout or detect_layout(data_dir)
    _check_layout(layout, data_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = _Run16(layout, config or PipelineConfig(), out, log or (lambda _m: None),
                 {"layout": layout.describe(), "data_dir": str(data_dir), "steps": {}})
    t_all = time.perf_counter()
    if run.cfg.slide_score not in ("max", "classifier"):
        raise CamelyonError(f"slide_score must be 'max' or 'classifier', got {run.cfg.slide_score!r}")
    store = _step_tiles(run)
    model = _step_train(run, store)
    hm_dir = _step_heatmaps(run, model, layout.testing, out / "heatmaps", "heatmaps")
    with_classifier = run.cfg.slide_score == "classifier"
    prob_csv, det_dir = _step_detect(run, hm_dir, detection,
                                     "slide_probabilities_max.csv" if with_classifier else "slide_probabilities.csv")
    if with_classifier:
        train_dir = _step_heatmaps(run, model, layout.training, out / "heatmaps_training", "training heatmaps")
        prob_csv = _step_slide_classifier(run, train_dir, hm_dir)
    _step_evaluate(run, det_dir, prob_csv)
    run.summary["total_seconds"] = round(time.perf_counter() - t_all, 2)
    _write_json(out / "run_summary.json", run.summary)
    return run.summary


def _check_layout(layout: Layout, data_dir) -> None:
    if layout.kind != "camelyon16":
        raise CamelyonError(f"{data_dir} is not a CAMELYON16 layout ({layout.describe()})")
    if not layout.with_role("tumour") or not layout.with_role("normal"):
        raise CamelyonError(f"{data_dir}: training/tumor and training/normal must both hold slides "
                            f"({layout.describe()})")
    if not layout.testing:
        raise CamelyonError(f"{data_dir}: no test slide in testing/images")


def _step_tiles(run: _Run16) -> Path:
    """The tile store of the training slides (tumour tiles from their annotations)."""
    from camelyon.dataset import build_tile_store
    from camelyon.tiling import TileGrid

    cfg, layout = run.cfg, run.layout
    t0 = run.start("tiles")
    store = run.out / "tiles.h5"
    train_slides = layout.training
    annotations = {stem: layout.annotation_of(stem) for stem in train_slides if layout.annotation_of(stem)}
    grid = TileGrid(tile_size=cfg.tile_size, stride=cfg.tile_stride, um_per_px=cfg.tile_um_per_px,
                    min_tissue=cfg.min_tissue)
    report = build_tile_store(list(train_slides.values()), store, grid=grid, annotations=annotations,
                              max_negatives_per_slide=cfg.max_negatives_per_slide, seed=cfg.seed,
                              workers=cfg.workers, scheduler=cfg.scheduler, progress=cfg.progress)
    if report.failed:
        raise CamelyonError("tiling failed for " + "; ".join(f"{Path(p).name}: {e}" for p, e in report.failed))
    run.done("tiles", t0, n_slides=len(train_slides), n_tiles=int(report.n_tiles))
    return store


def _step_train(run: _Run16, store: Path) -> Path:
    """The tile CNN (kept when a finished model is in the run folder)."""
    from camelyon.training import TrainingConfig, train_from_store

    cfg = run.cfg
    t0 = run.start("train")
    model = run.out / "model" / "tile_model.npz"
    if not model.is_file():
        model.parent.mkdir(parents=True, exist_ok=True)
        tc = TrainingConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, steps_per_epoch=cfg.steps_per_epoch,
                            lr=cfg.lr, normalize=cfg.normalize or "none", augment=cfg.augment,
                            val_fraction=cfg.val_fraction, seed=cfg.seed)
        result = train_from_store(store, model, tc, resume=True, progress=cfg.progress)
        run.summary["training"] = {k: v[-1] for k, v in result.history.items() if isinstance(v, list) and v}
    run.done("train", t0)
    return model


def _step_heatmaps(run: _Run16, model: Path, slides: dict, hm_dir: Path, name: str) -> Path:
    """A heatmap per slide of ``slides`` into ``hm_dir`` (the ones already computed are kept); stops on an
    unwritten exercise."""
    from camelyon.executor import map_slides

    cfg = run.cfg
    t0 = run.start(name)
    hm_dir.mkdir(exist_ok=True)
    jobs = [(str(p), str(model), cfg.heatmap_stride, str(hm_dir / f"{stem}.npz"), cfg.min_tissue)
            for stem, p in slides.items() if not (hm_dir / f"{stem}.npz").is_file()]
    run.log(f"[{name}] {len(jobs)} of {count_noun(len(slides), 'slide')} to compute")
    failed = []
    for res in map_slides(_heatmap_job, jobs, workers=cfg.workers, scheduler=cfg.scheduler, desc=name,
                          progress=cfg.progress):
        if not res.ok:
            res.raise_if_unwritten()  # an exercise not written yet (student edition) is not a bad slide
            failed.append(f"{Path(res.item[0]).name}: {res.error}")
    if failed:
        raise CamelyonError(f"{name} failed for " + "; ".join(failed))
    run.done(name, t0, computed=len(jobs))
    return hm_dir


def _step_slide_classifier(run: _Run16, train_dir: Path, test_dir: Path) -> Path:
    """Slide probabilities from a classifier on heatmap features, fitted on the training slides' heatmaps.

    The heatmap-maximum probabilities are in ``slide_probabilities_max.csv`` (the baseline the
    evaluation reports next to the classifier's); the classifier is saved as ``slide_classifier16.npz``.
    """
    from camelyon.camelyon16.reference import write_probabilities
    from camelyon.camelyon16.slide_scores import (
        fit_slide_scorer,
        load_heatmaps,
        training_slide_label,
        tumour_probabilities,
    )

    t0 = run.start("slide classifier")
    cfg, layout = run.cfg, run.layout
    labels = {stem: training_slide_label(layout, stem) for stem in layout.training}
    clf = fit_slide_scorer(load_heatmaps(train_dir, layout.training), labels, kind=cfg.classifier,
                           n_estimators=cfg.n_estimators, seed=cfg.seed)
    clf.save(run.out / "slide_classifier16.npz")
    probs = tumour_probabilities(clf, load_heatmaps(test_dir, layout.testing))
    prob_csv = write_probabilities(run.out / "slide_probabilities.csv", probs)
    counts = {lab: sum(v == lab for v in labels.values()) for lab in ("negative", "itc", "micro", "macro")}
    run.done("slide classifier", t0, training_labels=counts)
    run.summary["slide_probabilities_max"] = run.summary["slide_probabilities"]
    run.summary["slide_probabilities"] = str(prob_csv)
    return prob_csv


def _step_detect(run: _Run16, hm_dir: Path, detection, prob_name: str) -> tuple[Path, Path]:
    """Lesion detections (``detections/<stem>.csv``) and the heatmap-maximum slide probabilities (``prob_name``)."""
    from camelyon.camelyon16.detection import DetectionParams, detect_lesions, slide_probability
    from camelyon.camelyon16.reference import write_detections, write_probabilities
    from camelyon.heatmap import Heatmap

    t0 = run.start("detect")
    params = detection or DetectionParams()
    det_dir = run.out / "detections"
    probs = {}
    n_det = 0
    for stem in run.test_slides:
        hm = Heatmap.load(hm_dir / f"{stem}.npz")
        p, x, y = detect_lesions(hm, params)
        write_detections(det_dir / f"{stem}.csv", p, x, y)
        probs[stem] = slide_probability(hm, params)
        n_det += len(p)
    prob_csv = write_probabilities(run.out / prob_name, probs)
    run.done("detect", t0, n_detections=n_det)
    run.summary["slide_probabilities"] = str(prob_csv)
    run.summary["detections"] = str(det_dir)
    return prob_csv, det_dir


def _evaluation_at_slide_mpp(run: _Run16) -> bool:
    """Whether the test slides are off CAMELYON's ~0.243 um/px (the evaluation mask then follows them)."""
    from camelyon.slide import Slide

    with Slide(next(iter(run.test_slides.values()))) as s0:
        mpp = float(sum(s0.mpp) / 2) if s0.has_mpp else None
    slide_mpp = mpp is not None and not 0.2 <= mpp <= 0.3
    if slide_mpp:
        run.log(f"[evaluate] the slides are at {mpp:g} um/px, not CAMELYON's ~0.243: the evaluation mask is scaled "
                "to their resolution (evaluate16 --slide-mpp; the official evaluation assumes 0.243 um/px)")
    run.summary["evaluation_mask_scaled_to_slide_mpp"] = slide_mpp
    return slide_mpp


def _step_evaluate(run: _Run16, det_dir: Path, prob_csv: Path) -> None:
    """FROC and slide AUC when the test slides' truth is known (``evaluation16.json``, ``figures/froc.png``)."""
    from camelyon.camelyon16.evaluation import evaluate16
    from camelyon.camelyon16.froc import plot_froc

    t0 = run.start("evaluate")
    slide_mpp = _evaluation_at_slide_mpp(run)
    try:
        ev = evaluate16(run.layout.root, det_dir, prob_csv, seed=run.cfg.seed, slide_mpp=slide_mpp)
    except CamelyonError as exc:
        run.log(f"[evaluate] skipped: {exc}")
        run.summary["evaluation"] = None
    else:
        _write_json(run.out / "evaluation16.json", ev.to_dict())
        run.summary.update({"froc": ev.froc, "sensitivities": ev.to_dict()["sensitivities"], "auc": ev.auc,
                            "auc_ci": list(ev.auc_ci) if ev.auc_ci else None,
                            "n_test_slides": len(ev.slides), "n_lesions": ev.n_lesions})
        run.summary["froc_plot"] = plot_froc(ev.fp_per_slide, ev.sensitivity, run.out / "figures" / "froc.png",
                                             ev.froc, title="CAMELYON16 layout: lesion FROC")
        for line in ev.summary().splitlines():
            run.log(line)
        _evaluate_baseline(run)
    run.done("evaluate", t0)


def _evaluate_baseline(run: _Run16) -> None:
    """With the slide classifier: the slide AUC of the heatmap maximum too, for comparison."""
    from camelyon.camelyon16.evaluation import evaluate16

    baseline = run.summary.get("slide_probabilities_max")
    if baseline is None:
        return
    ev = evaluate16(run.layout.root, None, baseline, seed=run.cfg.seed)
    run.summary["auc_max_score"] = ev.auc
    run.summary["auc_max_score_ci"] = list(ev.auc_ci) if ev.auc_ci else None
    lo, hi = run.summary["auc_max_score_ci"] or (float("nan"), float("nan"))
    run.log(f"slide AUC of the heatmap maximum (baseline) {ev.auc:.4f} ({lo:.3f}-{hi:.3f})")
