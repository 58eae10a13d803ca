"""The whole CAMELYON17 pipeline in one call: slides -> tiles -> tile CNN -> heatmaps -> features ->
slide labels -> pN stages -> kappa, with a report.

Protocol (no patient is ever scored by a model that saw it):

1. ``split``: patients are split, stratified by pN stage and centre, into *CNN patients* (their
   annotated slides train the tile CNN) and *evaluation patients* (everything downstream).
2. ``tiles``: a tile store from the CNN patients' slides (tumour tiles from the lesion annotations).
3. ``train``: the tile CNN, validated on a held-out part of the CNN patients.
4. ``heatmaps``: the CNN is applied to every slide of the evaluation patients.
5. ``features``: one feature row per slide (:mod:`camelyon.features`).
6. ``classify``: the slide classifier is cross-validated over the evaluation patients with folds
   grouped by patient; each slide's label comes from the fold model that did not see its patient.
   A final model is fitted on all evaluation slides and saved for later use.
7. ``stage``: pN stages from the predicted slide labels (CAMELYON17 rules), written as a submission CSV.
8. ``evaluate``: quadratic weighted kappa against the reference stages, slide-label confusion matrix.
9. ``report``: PNGs and ``report.html``.

Every step records a stamp (``RUN/stamps/<step>.json``) with its parameters and a fingerprint of its
inputs and outputs; a step whose stamp still matches is skipped, so an interrupted run resumes where it
stopped and a changed parameter re-runs only the steps that depend on it. The heatmap step also
resumes slide by slide.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from camelyon.discovery import find_slides
from camelyon.errors import CamelyonError
from camelyon.staging import (
    STAGES,
    StageTable,
    patient_of,
    read_stage_csv,
    stages_from_slide_labels,
    write_stage_csv,
)
from minicnn.io import write_text

__all__ = ["PipelineConfig", "run_pipeline", "find_slides", "split_patients", "STEPS"]

#: The steps of a run, in order.
STEPS = ("split", "tiles", "train", "heatmaps", "features", "classify", "stage", "evaluate", "report")



@dataclass
class PipelineConfig:
    """Settings of a pipeline run (all of them are recorded in the step stamps).

    Attributes
    ----------
    tile_size : int
        Tile side in px at ``tile_um_per_px``.
    tile_um_per_px : float
        Resolution of the tiles (um per px); 1.0 is about 10x. The defaults (16 px at 4 um/px, so
        64 um per tile and per heatmap pixel) keep the demo within minutes on 2 cores; real slides
        want finer tiles (e.g. 96 px at 1 um/px).
    tile_stride : int or None
        Step of the training-tile grid in px (default: ``tile_size``).
    min_tissue : float
        Tissue fraction a tile needs.
    max_negatives_per_slide : int or None
        Cap on negative training tiles per slide (keeps the tile store small and less unbalanced).
    cnn_fraction : float
        Fraction of the patients whose slides train the tile CNN.
    val_fraction : float
        Fraction of the CNN patients kept for validating the tile CNN.
    epochs, batch_size, steps_per_epoch, lr : int, int, int or None, float
        Tile-CNN training (``steps_per_epoch`` None: about one pass over the training tiles).
    augment : bool
        Geometric and stain augmentation while training.
    normalize : str or None
        Stain normalization of tiles ("macenko", "reinhard" or None).
    heatmap_stride : int or None
        Heatmap grid step in tile px (default: the tile size).
    classifier : str
        "forest" or "tree".
    slide_score : str
        CAMELYON16 layout only: the slide probability is the heatmap maximum (``"max"``) or a slide
        classifier on heatmap features fitted on the training slides' heatmaps (``"classifier"``, see
        :mod:`camelyon.camelyon16.slide_scores`).
    n_estimators : int
        Trees of the forest.
    itc_threshold : float or None
        Decision rule on top of the slide classifier: a slide called negative whose itc probability
        is at least this value is called itc (None: off; see docs/itc-study.md).
    cv_folds : int
        Folds of the slide-classifier cross-validation (grouped by patient).
    seed : int
        Seed of the split, the CNN and the classifier.
    workers : int or None
        Worker processes for the per-slide steps (None: all cores).
    scheduler : str or None
        Dask scheduler address (``tcp://host:8786``): run the per-slide steps (tiles, heatmaps,
        features) on that cluster instead of local processes. Not part of any step's stamp.
    n_report_slides : int
        Heatmap overlays shown in the report.
    progress : bool
        Progress bars.
    """

    tile_size: int = 16
    tile_um_per_px: float = 4.0
    tile_stride: int | None = None
    min_tissue: float = 0.25
    max_negatives_per_slide: int | None = 200
    cnn_fraction: float = 0.34
    val_fraction: float = 0.25
    epochs: int = 4
    batch_size: int = 64
    steps_per_epoch: int | None = None
    lr: float = 2e-3
    augment: bool = True
    normalize: str | None = None
    heatmap_stride: int | None = None
    classifier: str = "forest"
    slide_score: str = "max"
    n_estimators: int = 200
    itc_threshold: float | None = None
    cv_folds: int = 5
    seed: int = 0
    workers: int | None = None
    scheduler: str | None = None
    n_report_slides: int = 4
    progress: bool = True

    def params(self, *names: str) -> dict:
        d = asdict(self)
        return {n: d[n] for n in names}


# ------------------------------------------------------------------------------------------------
# Stamps: is a step's output up to date?
# ------------------------------------------------------------------------------------------------

def _file_fingerprint(path: Path) -> list:
    """Size and modification time (ns) of a large input or an output (slides, stores, heatmaps)."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _content_fingerprint(path: Path) -> list:
    """SHA-256 of a small text input (``stage_labels.csv``, lesion XML/GeoJSON).

    A user may copy these again (new mtime, same bytes: nothing to redo) or edit one within the
    filesystem's mtime resolution without changing its size (a rerun is needed): only the content tells.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return ["sha256", digest.hexdigest()]


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, default=str))


@dataclass
class _Step:
    name: str
    params: dict
    inputs: dict  # name -> fingerprint (JSON-able)
    outputs: list  # paths that must exist and be unchanged


@dataclass
class _Run:
    data_dir: Path
    out: Path
    config: PipelineConfig
    log: Callable[[str], None]
    summary: dict = field(default_factory=dict)
    digests: dict = field(default_factory=dict)  # step name -> digest of its stamp

    def stamp_path(self, name: str) -> Path:
        return self.out / "stamps" / f"{name}.json"

    def execute(self, step: _Step, fn: Callable[[bool], dict | None]) -> dict:
        """Run ``fn(resume)`` unless the step's stamp shows its outputs are up to date; record the time."""
        from camelyon import __version__

        key = {"params": step.params, "inputs": step.inputs, "camelyon": __version__}
        stamp_file = self.stamp_path(step.name)
        t0 = time.perf_counter()
        if stamp_file.is_file():
            try:
                old = json.loads(stamp_file.read_text())
            except ValueError:
                old = None
            if old and old.get("key") == key and self._outputs_unchanged(old.get("outputs", {})):
                self.digests[step.name] = old["digest"]
                self.summary["steps"][step.name] = {"status": "up to date", "seconds": 0.0,
                                                    "ran_seconds": old.get("seconds")}
                self.log(f"[{step.name}] up to date, skipped")
                return old.get("info", {})
        # A step that was started with the same key and interrupted may resume its partial output;
        # a step whose key changed starts afresh.
        started = self.out / "stamps" / f"{step.name}.started.json"
        resume = False
        if started.is_file():
            try:
                resume = json.loads(started.read_text()) == key
            except ValueError:
                resume = False
        self.log(f"[{step.name}] " + ("resuming" if resume else "running"))
        stamp_file.unlink(missing_ok=True)
        _write_json(started, key)
        info = fn(resume) or {}
        started.unlink(missing_ok=True)
        seconds = time.perf_counter() - t0
        outputs = {}
        for p in step.outputs:
            p = Path(p)
            if not p.exists():
                raise CamelyonError(f"step {step.name} did not produce {p}")
            outputs[str(p)] = _file_fingerprint(p)
        digest = _digest([key, outputs])
        _write_json(stamp_file, {"step": step.name, "key": key, "outputs": outputs, "info": info,
                                 "seconds": round(seconds, 3), "digest": digest,
                                 "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
        self.digests[step.name] = digest
        self.summary["steps"][step.name] = {"status": "ran", "seconds": round(seconds, 3)}
        self.log(f"[{step.name}] done in {seconds:.1f} s")
        return info

    @staticmethod
    def _outputs_unchanged(outputs: dict) -> bool:
        for p, fp in outputs.items():
            path = Path(p)
            if not path.exists() or _file_fingerprint(path) != fp:
                return False
        return True


# ------------------------------------------------------------------------------------------------
# Cohort discovery and the patient split
# ------------------------------------------------------------------------------------------------

def split_patients(stages: dict, cnn_fraction: float, seed: int = 0,
                   centers: dict | None = None) -> tuple[list[str], list[str]]:
    """Split patients into CNN-training and evaluation patients, stratified by pN stage and centre.

    Patients are ordered by stage (most severe first), then by centre, shuffled within each
    (stage, centre) group with ``seed``; every ``1 / cnn_fraction``-th patient of that order goes to
    the CNN (a running count, starting with the first patient). So each stage, and about each centre,
    gets ``cnn_fraction`` of its patients in the CNN set. A centre that would still have no CNN patient
    (and has at least two patients) gives its most severe patient to the CNN, so that the CNN sees every
    centre's stain: without this, one unseen centre can ruin a whole run (see docs/pipeline.md).

    Parameters
    ----------
    stages : dict
        Patient id -> pN stage.
    cnn_fraction : float
        Share of the patients that train the CNN, in (0, 1).
    seed : int
    centers : dict, optional
        Patient id -> centre (any value); without it the split is by stage only.

    Returns
    -------
    cnn_patients, eval_patients : list of str, sorted
    """
    if not 0 < cnn_fraction < 1:
        raise CamelyonError(f"cnn_fraction must be between 0 and 1, got {cnn_fraction}")
    rng = np.random.default_rng(seed)
    centers = {p: str((centers or {}).get(p, "")) for p in stages}
    ordered = []
    for stage in reversed(STAGES):  # most tumour first, so small cohorts give the CNN tumour
        for c in sorted(set(centers.values())):
            group = sorted(p for p, s in stages.items() if s == stage and centers[p] == c)
            ordered += [group[i] for i in rng.permutation(len(group))]
    cnn, rest = [], []
    acc = 1.0 - cnn_fraction  # the first patient goes to the CNN
    for p in ordered:
        acc += cnn_fraction
        if acc >= 1.0 - 1e-9:
            cnn.append(p)
            acc -= 1.0
        else:
            rest.append(p)
    for c in sorted(set(centers.values())):
        mine = [p for p in ordered if centers[p] == c]
        if len(mine) >= 2 and not any(p in cnn for p in mine):
            cnn.append(mine[0])
            rest.remove(mine[0])
    return sorted(cnn), sorted(rest)


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------

def _print(msg: str) -> None:
    print(msg, flush=True)


def run_pipeline(data_dir: str | os.PathLike, out_dir: str | os.PathLike, config: PipelineConfig | None = None,
                 *, log: Callable[[str], None] | None = _print, **overrides) -> dict:
    """Run (or resume) the whole pipeline on a CAMELYON17-style cohort.

    Parameters
    ----------
    data_dir : path
        Cohort folder: slides (``center_*/patient_*_node_*.tif``), ``lesion_annotations/*.xml`` and
        ``stage_labels.csv`` (reference stages and slide labels).
    out_dir : path
        Run folder; created if needed. Rerunning with the same folder skips the steps that are up to date.
    config : PipelineConfig, optional
        Settings; keyword ``overrides`` replace single fields (e.g. ``epochs=2``).
    log : callable or None
        Receives one line per step event (None: silent).

    Returns
    -------
    dict
        The run summary, also written to ``out_dir/run_summary.json``: ``kappa``, ``steps`` (status
        and seconds of every step), patients of each role, slide-label accuracy per class, paths.
    """
    config = config or PipelineConfig()
    for k, v in overrides.items():
        if not hasattr(config, k):
            raise CamelyonError(f"unknown pipeline setting {k!r}")
        setattr(config, k, v)
    data_dir, out = Path(data_dir), Path(out_dir)
    if not data_dir.is_dir():
        raise CamelyonError(f"data folder not found: {data_dir}")
    out.mkdir(parents=True, exist_ok=True)
    run = _Run(data_dir, out, config, log or (lambda _m: None))
    run.summary = {"data_dir": str(data_dir), "out_dir": str(out), "config": asdict(config), "steps": {}}
    t_start = time.perf_counter()
    try:
        ctx = _step_split(run)
        _step_tiles(run, ctx)
        _step_train(run, ctx)
        _step_heatmaps(run, ctx)
        _step_features(run, ctx)
        _step_classify(run, ctx)
        _step_stage(run, ctx)
        _step_evaluate(run, ctx)
        _step_report(run, ctx)
    finally:
        run.summary["total_seconds"] = round(time.perf_counter() - t_start, 3)
        _write_json(out / "run_summary.json", run.summary)
    return run.summary


@dataclass
class _Context:
    """What the steps hand on to each other, in memory.

    A step that runs fills its field; a step that is up to date (skipped) leaves it None and the next
    step reads the step's output file instead (``features``, ``predictions``, ``evaluation``).
    """

    reference: StageTable
    slides: dict  # slide name -> path
    cnn_patients: list
    eval_patients: list
    features: tuple | None = None  # (slides, feature names, X, labels) of features.csv
    predictions: dict | None = None  # slide name -> predicted label (out-of-fold), slide_predictions.csv
    evaluation: dict | None = None  # evaluation.json

    def slides_of(self, patients) -> list[str]:
        ps = set(patients)
        return sorted(s for s in self.slides if patient_of(s) in ps)


def _step_split(run: _Run) -> _Context:
    ref_path = run.data_dir / "stage_labels.csv"
    if not ref_path.is_file():
        raise CamelyonError(f"{run.data_dir} has no stage_labels.csv (reference pN stages and slide labels)")
    slide_paths = find_slides(run.data_dir)
    step = _Step("split", run.config.params("cnn_fraction", "seed"),
                 {"stage_labels": _content_fingerprint(ref_path),
                  "slides": _digest([[p.name, _file_fingerprint(p)] for p in slide_paths])},
                 [run.out / "split.json"])

    reference = read_stage_csv(ref_path)
    split: dict = {}

    def do(resume):
        names = {p.name for p in slide_paths}
        for pid in reference.patients:
            if not any(patient_of(s) == pid for s in names):
                raise CamelyonError(f"{reference.where(pid)}: patient {pid} has no slide under {run.data_dir}")
        stages = {p: reference.patients[p] for p in reference.patients}
        # the centre of a patient: the folder of its slides (CAMELYON17: center_<c>)
        centers = {patient_of(p.name): p.parent.name for p in slide_paths}
        cnn, ev = split_patients(stages, run.config.cnn_fraction, run.config.seed, centers)
        if len(ev) < 2:
            raise CamelyonError(f"the cohort has {len(stages)} patients; need at least 3 (CNN + 2 evaluation)")
        split.update(cnn_patients=cnn, eval_patients=ev)
        _write_json(run.out / "split.json", split)
        return {"n_cnn_patients": len(cnn), "n_eval_patients": len(ev)}

    run.execute(step, do)
    split = split or json.loads((run.out / "split.json").read_text())  # the step was up to date
    known = set(reference.patients)
    slides = {p.name: p for p in slide_paths if patient_of(p.name) in known}
    for s in slides:
        if s not in reference.slides:
            raise CamelyonError(f"{ref_path}: no slide row for {s}")
    run.summary["cnn_patients"] = split["cnn_patients"]
    run.summary["eval_patients"] = split["eval_patients"]
    return _Context(reference, slides, split["cnn_patients"], split["eval_patients"])


def _annotations_digest(slide_paths, ann_dir: Path) -> str:
    """Digest of the annotation file each slide's tiles are labelled from (ASAP XML, or QuPath GeoJSON/JSON
    when a slide has no XML: :func:`camelyon.dataset.find_annotation`'s choice), by name and content."""
    from camelyon.dataset.build import find_annotation

    used = []
    if ann_dir.is_dir():
        for sp in slide_paths:
            p = find_annotation(Path(sp), ann_dir)
            if p is not None:
                used.append([Path(sp).name, p.name, _content_fingerprint(p)])
    return _digest(used)


def _step_tiles(run: _Run, ctx: _Context) -> None:
    from camelyon.dataset import build_tile_store
    from camelyon.tiling import TileGrid

    cfg = run.config
    store = run.out / "tiles.h5"
    slides = ctx.slides_of(ctx.cnn_patients)
    ann_dir = run.data_dir / "lesion_annotations"
    step = _Step("tiles", cfg.params("tile_size", "tile_um_per_px", "tile_stride", "min_tissue",
                                     "max_negatives_per_slide", "seed"),
                 {"slides": {s: _file_fingerprint(ctx.slides[s]) for s in slides},
                  "annotations": _annotations_digest([ctx.slides[s] for s in slides], ann_dir)},
                 [store])

    def do(resume):
        grid = TileGrid(tile_size=cfg.tile_size, stride=cfg.tile_stride, um_per_px=cfg.tile_um_per_px,
                        min_tissue=cfg.min_tissue)
        report = build_tile_store([ctx.slides[s] for s in slides], store, grid=grid,
                                  annotations=ann_dir if ann_dir.is_dir() else None,
                                  max_negatives_per_slide=cfg.max_negatives_per_slide, seed=cfg.seed,
                                  workers=cfg.workers, scheduler=cfg.scheduler, overwrite=not resume,
                                  progress=cfg.progress)
        if report.failed:
            raise CamelyonError("tiling failed for " + "; ".join(f"{Path(p).name}: {e}" for p, e in report.failed))
        return {"n_slides": len(slides), "n_tiles": int(report.n_tiles)}

    info = run.execute(step, do)
    run.summary["tiles"] = info


def _step_train(run: _Run, ctx: _Context) -> None:
    from camelyon.training import TrainingConfig, train_from_store

    cfg = run.config
    model = run.out / "model" / "tile_model.npz"
    history = model.with_name(model.stem + ".history.json")
    step = _Step("train", cfg.params("epochs", "batch_size", "steps_per_epoch", "lr", "augment", "normalize",
                                     "val_fraction", "seed"),
                 {"tiles": run.digests["tiles"]}, [model, history])

    def do(resume):
        model.parent.mkdir(parents=True, exist_ok=True)
        tc = TrainingConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, steps_per_epoch=cfg.steps_per_epoch,
                            lr=cfg.lr, normalize=cfg.normalize or "none", augment=cfg.augment,
                            val_fraction=cfg.val_fraction, seed=cfg.seed)
        result = train_from_store(run.out / "tiles.h5", model, tc, resume=resume, progress=cfg.progress)
        h = result.history
        last = {k: (v[-1] if isinstance(v, list) and v else None) for k, v in h.items()}
        return {"epochs": len(h.get("loss", [])), "final": last}

    info = run.execute(step, do)
    run.summary["training"] = info


def _heatmap_is_current(path: Path, model_digest: str) -> bool:
    from camelyon.heatmap import Heatmap

    if not path.is_file():
        return False
    try:
        return Heatmap.load(path).extra.get("model_digest") == model_digest
    except CamelyonError:
        return False


def _step_heatmaps(run: _Run, ctx: _Context) -> None:
    from camelyon.heatmap import compute_heatmaps

    cfg = run.config
    hm_dir = run.out / "heatmaps"
    model_path = run.out / "model" / "tile_model.npz"
    slides = ctx.slides_of(ctx.eval_patients)
    outputs = [hm_dir / f"{Path(s).stem}.npz" for s in slides]
    step = _Step("heatmaps", cfg.params("heatmap_stride", "min_tissue"),
                 {"train": run.digests["train"], "slides": slides}, outputs)
    model_digest = run.digests["train"]

    def do(resume):
        # slide by slide: heatmaps already made by this model are kept (resume)
        done = compute_heatmaps([ctx.slides[s] for s in slides], model_path, hm_dir,
                                keep=lambda p: _heatmap_is_current(p, model_digest), stride=cfg.heatmap_stride,
                                min_tissue=cfg.min_tissue, model_digest=model_digest, workers=cfg.workers,
                                scheduler=cfg.scheduler, progress=cfg.progress,
                                on_start=lambda n, kept: run.log(f"[heatmaps] {n} of {len(slides)} slides to compute"))
        if done.failed:
            raise CamelyonError("heatmaps failed for " + "; ".join(f"{name}: {err}" for name, err in done.failed))
        return {"n_slides": len(slides), "computed": len(done.rows)}

    run.execute(step, do)
    from camelyon.heatmap import Heatmap

    empty = [s for s, o in zip(slides, outputs, strict=True) if not Heatmap.load(o).tissue.any()]
    run.summary["heatmaps_without_tissue"] = empty
    if empty:
        run.log(f"[heatmaps] warning: {len(empty)} of {len(slides)} heatmaps hold no tissue tile "
                f"(e.g. {empty[0]}); their features are all 0")


def _step_features(run: _Run, ctx: _Context) -> None:
    from camelyon.features import compute_feature_table, write_features_csv

    hm_dir = run.out / "heatmaps"
    slides = ctx.slides_of(ctx.eval_patients)
    out = run.out / "features.csv"
    step = _Step("features", {}, {"heatmaps": run.digests["heatmaps"]}, [out])

    def do(resume):
        files = [hm_dir / f"{Path(s).stem}.npz" for s in slides]
        names_, feat_names, X = compute_feature_table(files, workers=run.config.workers, scheduler=run.config.scheduler,
                                                      progress=run.config.progress)
        labels = [ctx.reference.slides[s] for s in names_]
        write_features_csv(out, names_, feat_names, X, labels)
        ctx.features = (list(names_), list(feat_names), np.asarray(X, dtype=np.float64), labels)
        return {"n_slides": len(names_), "n_features": len(feat_names)}

    run.execute(step, do)


def _step_classify(run: _Run, ctx: _Context) -> None:
    from camelyon.features import read_features_csv
    from camelyon.slide_classifier import fit_slide_classifier

    cfg = run.config
    pred_csv = run.out / "slide_predictions.csv"
    model = run.out / "slide_classifier.npz"
    cv_json = run.out / "classifier_cv.json"
    step = _Step("classify", cfg.params("classifier", "n_estimators", "itc_threshold", "cv_folds", "seed"),
                 {"features": run.digests["features"]}, [pred_csv, model, cv_json])

    def do(resume):
        slides, names, X, labels = ctx.features or read_features_csv(run.out / "features.csv")
        strata = [ctx.reference.patients[patient_of(s)] for s in slides]
        fit = fit_slide_classifier(slides, X, labels, names, cv_folds=cfg.cv_folds, strata=strata, seed=cfg.seed,
                                   source=str(run.out / "features.csv"), kind=cfg.classifier,
                                   n_estimators=cfg.n_estimators, itc_threshold=cfg.itc_threshold)
        if fit.cv is None:
            raise CamelyonError(f"the classify step predicts held-out slides by cross-validation: cv_folds must "
                                f"be at least 2, got {cfg.cv_folds}")
        ctx.predictions = dict(zip(slides, fit.cv.predictions.tolist(), strict=True))
        write_stage_csv(pred_csv, {}, ctx.predictions)
        fit.classifier.save(model)
        info = fit.summary()
        _write_json(cv_json, info)
        return info

    info = run.execute(step, do)
    run.summary["classifier"] = info


def _predictions(run: _Run, ctx: _Context) -> dict:
    """Slide name -> predicted label: from the classify step in memory, else from its CSV (step skipped)."""
    if ctx.predictions is None:
        ctx.predictions = read_stage_csv(run.out / "slide_predictions.csv").slides
    return ctx.predictions


def _step_stage(run: _Run, ctx: _Context) -> None:
    submission = run.out / "predictions.csv"
    reference = run.out / "reference.csv"
    step = _Step("stage", {}, {"classify": run.digests["classify"], "split": run.digests["split"]},
                 [submission, reference])

    def do(resume):
        predicted = _predictions(run, ctx)
        write_stage_csv(submission, stages_from_slide_labels(predicted), predicted)
        ev = set(ctx.eval_patients)
        write_stage_csv(reference, {p: s for p, s in ctx.reference.patients.items() if p in ev},
                        {s: lab for s, lab in ctx.reference.slides.items() if patient_of(s) in ev})
        return {}

    run.execute(step, do)


def _step_evaluate(run: _Run, ctx: _Context) -> None:
    from camelyon.evaluation import evaluate

    out = run.out / "evaluation.json"
    step = _Step("evaluate", {}, {"stage": run.digests["stage"]}, [out])

    def do(resume):
        result = evaluate(run.out / "reference.csv", run.out / "predictions.csv")
        _write_json(out, result.to_dict())
        ctx.evaluation = json.loads(json.dumps(result.to_dict(), default=str))  # what evaluation.json holds
        run.log(result.summary())
        return {"kappa": result.kappa}

    run.execute(step, do)
    ev = ctx.evaluation = ctx.evaluation or json.loads(out.read_text())
    run.summary["kappa"] = ev["kappa"]
    run.summary["n_test_patients"] = ev["n_patients"]
    run.summary["stage_accuracy"] = ev["stage_accuracy"]
    run.summary["slide_accuracy"] = ev["slide_accuracy"]
    run.summary["slide_class_accuracy"] = ev["slide_class_accuracy"]


def _report_slides(ctx: _Context, n: int) -> list[str]:
    """Up to ``n`` evaluation slides to show: the most severe reference labels first, one per label."""
    from camelyon.staging import SLIDE_LABELS

    chosen: list[str] = []
    slides = ctx.slides_of(ctx.eval_patients)
    for lab in reversed(SLIDE_LABELS):
        for s in slides:
            if ctx.reference.slides[s] == lab:
                chosen.append(s)
                break
    for s in slides:
        if len(chosen) >= n:
            break
        if s not in chosen:
            chosen.append(s)
    return chosen[:n]


def _step_report(run: _Run, ctx: _Context) -> None:
    from camelyon import report
    from camelyon.heatmap import Heatmap, plot_heatmap
    from camelyon.slide import Slide
    from camelyon.staging import SLIDE_LABELS

    fig_dir = run.out / "figures"
    html = run.out / "report.html"
    step = _Step("report", run.config.params("n_report_slides"),
                 {k: run.digests[k] for k in ("train", "heatmaps", "evaluate")}, [html])

    def do(resume):
        ev = ctx.evaluation
        predictions = _predictions(run, ctx)
        images: dict[str, list] = {}
        overlays = []
        for s in _report_slides(ctx, run.config.n_report_slides):
            hm = Heatmap.load(run.out / "heatmaps" / f"{Path(s).stem}.npz")
            with Slide(ctx.slides[s]) as slide:
                thumb = slide.thumbnail(768)
                ds = slide.dimensions[0] / thumb.shape[1]
            predicted = predictions.get(s, "?")
            overlays.append(plot_heatmap(hm, thumb, ds, fig_dir / f"heatmap_{Path(s).stem}.png",
                                         title=f"{s}: reference {ctx.reference.slides[s]}, predicted {predicted}"))
        images["Heatmaps of held-out slides"] = overlays
        curves = run.out / "model" / "tile_model.training.png"
        if curves.is_file():
            images["Tile CNN training"] = [curves]
        images["pN stages"] = [
            report.save_confusion_matrix(np.array(ev["stage_confusion"]), STAGES, fig_dir / "stage_confusion.png",
                                         title=f"pN stage, kappa {ev['kappa']:.3f}"),
            report.save_kappa_comparison(ev["kappa"], fig_dir / "kappa.png"),
        ]
        if ev.get("slide_confusion") is not None:
            images["Slide labels"] = [report.save_confusion_matrix(
                np.array(ev["slide_confusion"]), SLIDE_LABELS, fig_dir / "slide_confusion.png",
                title=f"slide labels, accuracy {ev['slide_accuracy']:.3f}")]
        tables = {"Slide-label accuracy per class (held-out patients)": (
            ["label", "slides", "accuracy"],
            [(lab, int(np.sum(ev["slide_confusion"][i])) if ev.get("slide_confusion") else 0,
              "-" if ev["slide_class_accuracy"].get(lab) is None else f"{ev['slide_class_accuracy'][lab]:.3f}")
             for i, lab in enumerate(SLIDE_LABELS)])}
        summary = dict(run.summary)
        summary["kappa"] = ev["kappa"]
        summary["n_test_patients"] = ev["n_patients"]
        report.write_html_report(html, summary, images, tables)
        return {"figures": [str(p) for ps in images.values() for p in ps]}

    info = run.execute(step, do)
    run.summary["report"] = str(html)
    run.summary["figures"] = info.get("figures", [])
