"""Data shared by the specific notebooks (S01-S09): the small synthetic cohort and what is built from it.

Every notebook starts with ``DATA_DIR = None``. With ``None`` the notebooks work on a small synthetic
CAMELYON17-style cohort that the first notebook to need it creates (4 patients x 5 lymph-node slides,
fixed seed) under ``runs/notebook_cohort``; later notebooks reuse it, and so do the tile store and the
tile model built from it (``runs/notebook_work``). Each expensive step runs under a file lock and writes
to a temporary name first, so notebooks executed in parallel (pytest-xdist) build it once and wait for
each other instead of writing the same files twice.

Point ``DATA_DIR`` at a real CAMELYON17 folder (``center_*/patient_*_node_*.tif``,
``lesion_annotations/``, ``stage_labels.csv``) or at ``runs/demo/data`` to use those slides instead.

S07-S09 start from heatmaps: by default the sample-solution heatmaps in ``sample_heatmaps/`` (computed
by the reference pipeline on the 15-patient demo cohort, see ``sample_heatmaps/README.md``).

Checkpoints: next to the sample heatmaps lie the features the reference computes from them
(``features.csv``) and the cross-validated slide labels of S09's random forest (``slide_predictions.csv``).
:func:`feature_matrix` and :func:`predicted_slide_labels` compute both with your code and fall back on the
checkpoint, with one line saying so, when an exercise they need (S07; G08, G09) is not written yet: a
student can start at S08 or S09 without S07, and at S09 without the trees.
"""

# teaching: no-regions

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RUNS = REPO / "runs"
#: The notebooks' synthetic cohort: small and fixed.
COHORT_SETTINGS = {
    "n_patients": 4,
    "n_centers": 4,
    "seed": 11,
    "mpp": 2.0,
    "stage_mix": {"pN0": 0.25, "pN1mi": 0.25, "pN1": 0.25, "pN2": 0.25},
}
#: A small cohort of the challenge preset (look-alikes, isolated tumour cells, artefacts, per-centre scanners;
#: see docs/synthetic.md): one patient, five slides, for the hard-negative task of S06.
CHALLENGE_SETTINGS = {
    "n_patients": 2,
    "n_centers": 2,
    "seed": 29,
    "mpp": 2.0,
    "stage_mix": {"pN1": 1.0},
    "difficulty": "challenge",
}
#: Tiles of the notebooks: 32 px at 4 um/px (128 um, a coarse 2.5x-like view that keeps the CNN cheap).
TILE_SIZE = 32
TILE_UM_PER_PX = 4.0
SAMPLE_HEATMAPS = HERE / "sample_heatmaps"
#: File of small slide thumbnails next to the sample heatmaps (not a heatmap).
THUMBNAILS = "thumbnails.npz"


@contextlib.contextmanager
def file_lock(path: Path):
    """Hold an exclusive lock on ``path`` (created if needed) for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def cohort_dir(data_dir=None, progress: bool = False) -> Path:
    """The cohort folder: ``data_dir`` when given, else the notebooks' synthetic cohort (created once).

    Parameters
    ----------
    data_dir : path-like or None
        A CAMELYON17-style folder, or None for the synthetic cohort in ``runs/notebook_cohort``.
    progress : bool
        Progress bar while the synthetic cohort is painted (about a minute on 2 cores).
    """
    if data_dir is not None:
        path = Path(data_dir).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"DATA_DIR {path} is not a folder; set DATA_DIR = None for the synthetic cohort")
        return path
    return _synthetic_cohort("notebook_cohort", COHORT_SETTINGS, progress, announce=True)


def challenge_cohort_dir(progress: bool = False) -> Path:
    """The notebooks' challenge-preset cohort in ``runs/notebook_challenge`` (created once, ~10 s)."""
    return _synthetic_cohort("notebook_challenge", CHALLENGE_SETTINGS, progress)


def _synthetic_cohort(name: str, settings: dict, progress: bool, announce: bool = False) -> Path:
    """``runs/<name>``, painted once with ``settings`` (a :func:`generate_cohort` call) under a file lock.

    ``runs/<name>/.complete.json`` holds the settings of the finished cohort; a cohort painted with
    other settings is painted again.
    """
    out = RUNS / name
    done = out / ".complete.json"

    def complete() -> bool:
        return done.exists() and json.loads(done.read_text()) == settings

    if complete():
        return out
    from camelyon.synthetic import generate_cohort
    from minicnn.io import write_json

    with file_lock(RUNS / f".{name}.lock"):
        if complete():
            return out
        t0 = time.perf_counter()
        if announce:
            print("painting the notebooks' synthetic cohort (once) into", out, flush=True)
        s = dict(settings)
        generate_cohort(out, s.pop("n_patients"), workers=2, progress=progress, overwrite=done.exists(), **s)
        write_json(done, settings, indent=None)
        if announce:
            print(f"cohort ready in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def work_dir(data_dir=None) -> Path:
    """Folder for what the notebooks build from a cohort (tile store, tile model, heatmaps)."""
    name = "notebook_work" if data_dir is None else "notebook_work_" + Path(data_dir).resolve().name
    path = RUNS / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def slides(data_dir=None) -> list[Path]:
    """Slide files of the cohort, sorted (``center_*/patient_*_node_*.tif`` or any ``*.tif`` below it)."""
    root = cohort_dir(data_dir)
    found = sorted(root.glob("center_*/*.tif")) or sorted(p for p in root.rglob("*.tif"))
    if not found:
        raise FileNotFoundError(f"no .tif slides below {root}")
    return found


def annotation_dir(data_dir=None) -> Path:
    """Folder of the ASAP XML lesion annotations (``lesion_annotations`` or ``annotations``)."""
    root = cohort_dir(data_dir)
    for name in ("lesion_annotations", "annotations"):
        if (root / name).is_dir():
            return root / name
    return root / "lesion_annotations"


def tile_grid():
    """The tile grid of the notebooks (32 px tiles at 4 um/px, at least half tissue)."""
    from camelyon.tiling import TileGrid

    return TileGrid(tile_size=TILE_SIZE, um_per_px=TILE_UM_PER_PX, min_tissue=0.5, tumour_threshold=0.5)


def tile_store(data_dir=None, max_negatives_per_slide: int = 60, progress: bool = False) -> Path:
    """The HDF5 tile store of the cohort (built once, then reused).

    Tumour tiles are all kept; normal tiles are capped at ``max_negatives_per_slide`` per slide (seed 0).
    """
    from camelyon.dataset import build_tile_store

    out = work_dir(data_dir) / "tiles.h5"
    if out.exists():
        return out
    paths = slides(data_dir)
    with file_lock(out.with_suffix(".lock")):
        if out.exists():
            return out
        t0 = time.perf_counter()
        report = build_tile_store(paths, out, grid=tile_grid(), annotations=annotation_dir(data_dir),
                                  max_negatives_per_slide=max_negatives_per_slide, seed=0, workers=2,
                                  progress=progress)
        print(f"tile store built in {time.perf_counter() - t0:.0f} s: {out}", flush=True)
        if getattr(report, "failed", None):
            print("slides that failed:", report.failed)
    return out


#: Training of the shared tile model (small: it has to fit in a notebook's time budget).
TRAINING = {"epochs": 4, "steps_per_epoch": 25, "batch_size": 32, "lr": 3e-3, "augment": True, "seed": 0,
            "val_fraction": 0.25}


def tile_model_path(data_dir=None) -> Path:
    """Where the shared tile model of a cohort is stored."""
    return work_dir(data_dir) / "tile_model.npz"


def tile_model(data_dir=None, progress: bool = False):
    """The tile CNN trained on the cohort's tile store with :data:`TRAINING` (trained once, then loaded).

    Returns
    -------
    camelyon.tile_model.TileModel
    """
    from camelyon.tile_model import load_tile_model
    from camelyon.training import TrainingConfig, train_from_store
    from minicnn.io import write_json

    path = tile_model_path(data_dir)
    stamp = path.with_name(path.stem + ".settings.json")

    def up_to_date():
        return path.exists() and stamp.exists() and json.loads(stamp.read_text()) == TRAINING

    if not up_to_date():
        store = tile_store(data_dir)
        with file_lock(path.with_suffix(".lock")):
            if not up_to_date():
                t0 = time.perf_counter()
                print("training the shared tile CNN (once) ...", flush=True)
                from camelyon.errors import CamelyonError

                try:  # an interrupted run with the same settings continues from its checkpoint
                    train_from_store(store, path, TrainingConfig(**TRAINING), resume=True, progress=progress)
                except CamelyonError:  # the checkpoint comes from other settings: start again
                    train_from_store(store, path, TrainingConfig(**TRAINING), resume=False, progress=progress)
                write_json(stamp, TRAINING, indent=None)
                print(f"tile model trained in {time.perf_counter() - t0:.0f} s: {path}", flush=True)
    return load_tile_model(path)


def stage_table(data_dir=None):
    """The reference ``stage_labels.csv`` of the cohort as a :class:`camelyon.staging.StageTable`."""
    from camelyon.staging import read_stage_csv

    return read_stage_csv(cohort_dir(data_dir) / "stage_labels.csv")


def heatmap_dir(heatmap_dir=None) -> Path:
    """``heatmap_dir`` when given (a folder of ``<slide>.npz`` heatmaps), else the sample heatmaps."""
    path = SAMPLE_HEATMAPS if heatmap_dir is None else Path(heatmap_dir).expanduser()
    if not any(path.glob("*.npz")):
        raise FileNotFoundError(f"no heatmap .npz files in {path}")
    return path


def load_heatmaps(heatmap_dir_=None) -> dict:
    """Every heatmap of a folder (default: the sample heatmaps), as ``{slide name: Heatmap}``, sorted."""
    from camelyon.heatmap import Heatmap

    folder = heatmap_dir(heatmap_dir_)
    maps = {}
    for p in sorted(folder.glob("*.npz")):
        if p.name == THUMBNAILS:
            continue
        h = Heatmap.load(p)
        maps[h.slide] = h
    return maps


def sample_stage_table(heatmap_dir_=None):
    """The reference stages and slide labels that go with a heatmap folder (``stage_labels.csv`` in it)."""
    from camelyon.staging import read_stage_csv

    return read_stage_csv(heatmap_dir(heatmap_dir_) / "stage_labels.csv")


def sample_thumbnails(heatmap_dir_=None) -> dict:
    """Small RGB thumbnails shipped with the sample heatmaps: ``{slide name: (h, w, 3) uint8}`` (may be empty)."""
    path = heatmap_dir(heatmap_dir_) / THUMBNAILS
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as z:
        return {k + ".tif": z[k] for k in z.files}


#: Checkpoint files next to the sample heatmaps (written by ``make_sample_heatmaps.py --checkpoints``).
FEATURES_CSV = "features.csv"
PREDICTIONS_CSV = "slide_predictions.csv"
#: The cross-validation of S09 (and of the slide-label checkpoint).
CV_SETTINGS = {"n_splits": 5, "seed": 0, "kind": "forest", "n_estimators": 100}


def _unwritten(exc: BaseException, exercises: tuple[str, ...]):
    from minicnn.teaching.progress import unwritten_in

    found = unwritten_in(exc)
    return found if found is not None and found.exercise in exercises else None


def read_feature_csv(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """(slides, feature names, X) of a ``slide,<feature>,...`` CSV."""
    import csv

    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    names = rows[0][1:]
    slides = [r[0] for r in rows[1:]]
    X = np.array([[float(v) for v in r[1:]] for r in rows[1:]], dtype=np.float64).reshape(len(slides), len(names))
    return slides, names, X


def compute_feature_matrix(heatmaps: dict, slides: list[str], names: list[str]) -> np.ndarray:
    """(n_slides, n_features) of :func:`camelyon.features.heatmap_features` (your S07 ``core_features``)."""
    from camelyon.features import heatmap_features

    return np.array([[heatmap_features(heatmaps[s])[n] for n in names] for s in slides], dtype=np.float64)


def feature_matrix(heatmaps: dict, slides: list[str], names: list[str], heatmap_dir_=None) -> np.ndarray:
    """Slide features from your code, or the sample features while S07 is not written (sample heatmaps only)."""
    try:
        return compute_feature_matrix(heatmaps, slides, names)
    except NotImplementedError as exc:
        found = _unwritten(exc, ("S07",))
        path = heatmap_dir(heatmap_dir_) / FEATURES_CSV
        if found is None or not path.exists():
            raise
        shipped, shipped_names, X = read_feature_csv(path)
        if shipped_names != list(names) or not set(slides) <= set(shipped):
            raise
        print(f"{found.line()}: using the sample features ({path.name}) instead; write S07 to use yours")
        row = {s: i for i, s in enumerate(shipped)}
        return X[[row[s] for s in slides]]


def compute_slide_predictions(X: np.ndarray, y, slides: list[str], names: list[str]) -> dict:
    """Cross-validated slide labels (folds grouped by patient) of S09's random forest: ``{slide: label}``."""
    from camelyon.slide_classifier import cross_validate
    from camelyon.staging import patient_of

    groups = [patient_of(s) for s in slides]
    cv = cross_validate(X, np.asarray(y), groups, feature_names=names, **CV_SETTINGS)
    return dict(zip(slides, cv.predictions, strict=True))


def predicted_slide_labels(X: np.ndarray, y, slides: list[str], names: list[str], heatmap_dir_=None) -> dict:
    """Your forest's cross-validated slide labels, or the sample ones while G08/G09/G10 are not written."""
    try:
        return compute_slide_predictions(X, y, slides, names)
    except NotImplementedError as exc:
        found = _unwritten(exc, ("G08", "G09", "G10"))
        path = heatmap_dir(heatmap_dir_) / PREDICTIONS_CSV
        if found is None or not path.exists():
            raise
        import csv

        with open(path, newline="", encoding="utf-8") as fh:
            shipped = {r["slide"]: r["predicted"] for r in csv.DictReader(fh)}
        if not set(slides) <= set(shipped):
            raise
        print(f"{found.line()}: using the sample slide labels ({path.name}) instead; write it to use yours")
        return {s: shipped[s] for s in slides}
