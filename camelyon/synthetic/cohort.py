"""A CAMELYON17-style cohort of synthetic slides: plan every patient, paint every slide, write the tables.

Layout of the output folder ``ROOT`` (as CAMELYON17 ships it)::

    ROOT/center_<c>/patient_<ppp>_node_<n>.tif     pyramidal tiled JPEG TIFF, mpp in the tags
    ROOT/lesion_annotations/patient_<ppp>_node_<n>.xml   ASAP XML, group "metastases"
    ROOT/stage_labels.csv      patient,stage  (patient rows, each followed by its five slides)
    ROOT/ground_truth.csv      one row per lesion, to check every label
    ROOT/synth_config.json     the settings (lets an interrupted run resume)

Everything follows from the settings and the seed. Each slide's random stream is seeded from
``(seed, patient, node)`` with :class:`numpy.random.SeedSequence`, so neither the number of worker
processes nor the order they finish in changes a byte. Slides are painted in parallel through
:func:`camelyon.executor.map_slides`; the calling process writes the tables.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from camelyon.annotations import Annotation, asap_xml, largest_diameter_mm
from camelyon.errors import CamelyonError
from camelyon.executor import default_workers, map_slides, runs_in_process
from camelyon.messages import count_noun
from camelyon.staging import STAGES
from camelyon.synth_presets import DEFAULT_MPP, DEFAULT_SIZE_MM, DEMO_MPP, DEMO_SIZE  # noqa: F401 (re-exported)
from camelyon.synthetic.challenge_painter import ChallengePainter
from camelyon.synthetic.challenge_plan import (
    CHALLENGE_RANGES_MM,
    ChallengeExtras,
    place_challenge_lesions,
    plan_artefacts,
    plan_lookalikes,
    polygon_area,
    sinus_cores,
)
from camelyon.synthetic.lesions import (
    DEFAULT_STAGE_MIX,
    DIAMETER_RANGES_MM,
    labels_for_stage,
    place_lesions,
    stage_counts,
)
from camelyon.synthetic.painter import Painter, SlidePlan
from camelyon.synthetic.pyramid_writer import TILE, write_pyramid
from camelyon.synthetic.scanners import center_mpp, center_scanner, scanned_stain
from camelyon.synthetic.stains import slide_stain
from camelyon.synthetic.tissue_layout import make_sections
from minicnn.io import atomic_write

#: Nodes (slides) per patient, as in CAMELYON17.
NODES_PER_PATIENT = 5
CONFIG_NAME = "synth_config.json"
#: Presets: ``easy`` (the demo's: clear morphology, no look-alikes) and ``challenge`` (see docs/synthetic.md).
DIFFICULTIES = ("easy", "challenge")
#: Folder of the look-alike and artefact outlines of a challenge cohort (ASAP XML, one group per kind).
LOOKALIKE_DIR = "lookalike_annotations"
#: Smallest slide side in mm: room for a macro-metastasis (> 2 mm) inside a capsule.
MIN_SIDE_MM = 3.5
#: Largest slide side in px: above the largest CAMELYON slides (about 220,000 px wide).
MAX_SIDE_PX = 250_000
#: Bytes of the finished JPEG TIFF per level-0 px (measured 0.19-0.23, docs/synthetic.md), rounded up.
OUTPUT_BYTES_PER_PX = 0.25
#: Bytes of raw scratch per level-0 px while a slide is painted (levels 1.. as raw RGB: 3/4 + 3/16 + ...).
SCRATCH_BYTES_PER_PX = 1.0


def slide_name(patient: int, node: int) -> str:
    """``patient_<ppp>_node_<n>`` (CAMELYON17 naming)."""
    return f"patient_{patient:03d}_node_{node}"


def slide_seed(seed: int, patient: int, node: int) -> np.random.SeedSequence:
    """The seed sequence of one slide: independent of every other slide and of the run's order."""
    return np.random.SeedSequence([int(seed), 17, int(patient), int(node)])


def default_size(mpp: float) -> tuple[int, int]:
    """Level-0 size (px, multiples of the tile) of a 6 x 4 mm slide at ``mpp`` um/px."""
    return tuple(int(round(mm * 1000.0 / mpp / TILE)) * TILE for mm in DEFAULT_SIZE_MM)


def normalize_size(size, mpp: float) -> tuple[int, int]:
    """Check and round a slide size to multiples of the tile size.

    Parameters
    ----------
    size : None, int or (int, int) or str
        ``None`` for the default 6 x 4 mm; an int for a square slide; ``(w, h)``; or ``"WxH"``.
    mpp : float

    Returns
    -------
    (int, int)
        Width and height in level-0 px.
    """
    if size is None:
        w, h = default_size(mpp)
    else:
        if isinstance(size, str):
            try:
                parts = [int(p) for p in size.lower().replace("*", "x").split("x")]
            except ValueError:
                raise CamelyonError(f"--size {size!r}: expected a number of px or WIDTHxHEIGHT") from None
            size = parts[0] if len(parts) == 1 else tuple(parts)
        if np.isscalar(size):
            w = h = int(size)
        else:
            if len(size) != 2:
                raise CamelyonError(f"size {size!r}: expected (width, height) in px")
            w, h = (int(v) for v in size)
        if not (0 < w <= MAX_SIDE_PX and 0 < h <= MAX_SIDE_PX):
            raise CamelyonError(f"--size {w} x {h} px: each side must be between 1 and {MAX_SIDE_PX:,} px "
                                "(the largest CAMELYON slides are about 220,000 px wide)")
        w = max(TILE, int(np.ceil(w / TILE)) * TILE)
        h = max(TILE, int(np.ceil(h / TILE)) * TILE)
    if min(w, h) * mpp / 1000.0 < MIN_SIDE_MM:
        raise CamelyonError(
            f"slide size {w} x {h} px at {mpp} um/px is {w * mpp / 1000:.2f} x {h * mpp / 1000:.2f} mm; "
            f"each side must be at least {MIN_SIDE_MM} mm to hold a macro-metastasis"
        )
    return w, h


@dataclass
class PatientPlan:
    """A patient: index, centre, pN stage and the labels of its nodes."""

    patient: int
    center: int
    stage: str
    labels: list[str]


def plan_patients(n_patients: int, n_centers: int = 5, seed: int = 0, stage_mix=None) -> list[PatientPlan]:
    """Stages and slide labels of every patient.

    Patients are split into ``n_centers`` consecutive blocks (as in CAMELYON17, where each centre
    gives 20 patients); the stage counts follow ``stage_mix`` (see
    :func:`camelyon.synthetic.lesions.stage_counts`) and are shuffled over patients.
    """
    counts = stage_counts(n_patients, stage_mix)
    stages = [s for s in STAGES for _ in range(counts[s])]
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 3]))
    stages = [stages[i] for i in rng.permutation(len(stages))]
    plans = []
    for p in range(n_patients):
        prng = np.random.default_rng(np.random.SeedSequence([int(seed), 5, p]))
        labels = labels_for_stage(stages[p], prng, NODES_PER_PATIENT)
        plans.append(PatientPlan(p, p * n_centers // n_patients, stages[p], labels))
    return plans


def _sections_with_room(rng, width, height, mpp, n_sections, need_room_mm, no_room):
    """Lay out ``n_sections`` sections, or fewer until the first one has room for a lesion of ``need_room_mm``.

    Returns ``(sections, room_mm)``: the room (mm) the first section offers. ``no_room`` is the error
    message when even one section has not enough room, or None to keep that one section anyway.
    """
    need_um = need_room_mm * 1000 * 0.56 + 25.0
    for n in range(n_sections, 0, -1):
        try:
            sections = make_sections(rng, width, height, mpp, n, need_um if n == 1 else 0.0)
        except CamelyonError:
            if n == 1:
                raise
            continue
        room_mm = 2 * sections[0].inner_radius_min() * mpp / 1000.0 / 1.12
        if room_mm >= need_room_mm:
            break
        if n == 1 and no_room is not None:  # pragma: no cover - make_sections guarantees the room
            raise CamelyonError(no_room)
    return sections, room_mm


def plan_slide(seed: int, patient: int, node: int, center: int, label: str, mpp: float,
               size: tuple[int, int], difficulty: str = "easy") -> SlidePlan:
    """Lay out one slide: staining, sections and lesions (cheap: no pixels are painted).

    ``size`` is rounded up to multiples of 512 px (see :func:`normalize_size`). The label is re-measured from the lesion polygons (``plan.label``) and equals ``label``.
    With ``difficulty="challenge"`` see :func:`plan_challenge_slide` (``mpp`` and ``size`` are
    then nominal: each centre's scanner has its own level-0 resolution).
    """
    check_difficulty(difficulty)
    if difficulty == "challenge":
        return plan_challenge_slide(seed, patient, node, center, label, mpp, size)
    ss = slide_seed(seed, patient, node)
    rng = np.random.default_rng(ss)
    hash_seed = int(ss.generate_state(1, np.uint64)[0])
    width, height = normalize_size(size, mpp)
    stain = slide_stain(center, rng)
    n_sections = int(rng.choice([1, 2, 2, 3]))
    # room (mm) the largest lesion needs in the first section
    min_room = {"macro": DIAMETER_RANGES_MM["macro"][0] * 1.03, "micro": DIAMETER_RANGES_MM["micro"][0] * 1.5}
    sections, room_mm = _sections_with_room(rng, width, height, mpp, n_sections, min_room.get(label, 0.0),
                                            f"{slide_name(patient, node)}: no room for a {label} lesion")
    lesions = place_lesions(label, sections, rng, mpp, max_diameter_mm=max(room_mm, 0.0))
    plan = SlidePlan(
        name=slide_name(patient, node),
        width=width,
        height=height,
        mpp=float(mpp),
        seed=hash_seed,
        center=center,
        stain=stain,
        sections=sections,
        lesions=lesions,
        fat_fraction=float(rng.uniform(0.05, 0.35)),
    )
    if plan.label != label:  # pragma: no cover - lesion sizes keep clear of the thresholds
        raise AssertionError(f"{plan.name}: planned {label}, measured {plan.label}")
    return plan


def plan_challenge_slide(seed: int, patient: int, node: int, center: int, label: str, nominal_mpp: float,
                         size) -> SlidePlan:
    """Lay out one slide of the challenge preset (see :mod:`camelyon.synthetic.challenge_plan`).

    The slide is painted at its centre's scanner resolution
    (:func:`camelyon.synthetic.scanners.center_mpp`); ``size`` (px at ``nominal_mpp``) keeps its
    physical size, rounded up to multiples of 512 px at that resolution.
    """
    ss = np.random.SeedSequence([int(seed), 1717, int(patient), int(node)])
    rng = np.random.default_rng(ss)
    hash_seed = int(ss.generate_state(1, np.uint64)[0])
    nominal = normalize_size(size, nominal_mpp)
    mpp = center_mpp(center, nominal_mpp)
    width, height = (int(np.ceil(v * nominal_mpp / mpp / TILE)) * TILE for v in nominal)
    stain = scanned_stain(slide_stain(center, rng), center_scanner(center))
    n_sections = int(rng.choice([1, 2, 2, 3]))
    need_room = {"macro": CHALLENGE_RANGES_MM["macro"][0] * 1.03, "micro": 0.3}.get(label, 0.0)
    sections, room_mm = _sections_with_room(rng, width, height, mpp, n_sections, need_room, None)
    cores, sinus_px = sinus_cores(sections, rng, mpp)
    lesions = place_challenge_lesions(label, sections, rng, mpp, max(room_mm, 0.0), sinus_px)
    features = plan_lookalikes(sections, rng, mpp, cores) + plan_artefacts(width, height, sections, rng, mpp)
    inks = [(0.9, 0.15, 0.75), (0.95, 0.7, 0.1), (0.9, 0.9, 0.9)]  # green, blue, black marker
    extras = ChallengeExtras(
        sinus_cores=cores,
        file_angle=float(rng.uniform(0, np.pi)),
        ink_od=inks[int(rng.integers(len(inks)))],
        uneven=float(rng.uniform(0.02, 0.08)),
        stitch_phase_um=float(rng.uniform(0, 1000)),
    )
    plan = SlidePlan(name=slide_name(patient, node), width=width, height=height, mpp=float(mpp), seed=hash_seed,
                     center=center, stain=stain, sections=sections, lesions=lesions, fat_fraction=0.0,
                     difficulty="challenge", features=features, extras=extras)
    if plan.label != label:  # pragma: no cover - place_challenge_lesions checks every label
        raise AssertionError(f"{plan.name}: planned {label}, measured {plan.label}")
    return plan


def check_difficulty(difficulty: str) -> None:
    """CamelyonError unless ``difficulty`` is one of :data:`DIFFICULTIES`."""
    if difficulty not in DIFFICULTIES:
        raise CamelyonError(f"difficulty {difficulty!r}: expected one of {', '.join(DIFFICULTIES)}")


def make_painter(plan: SlidePlan) -> Painter:
    """The painter of a plan: :class:`Painter` (easy) or :class:`ChallengePainter` (challenge)."""
    if plan.difficulty == "challenge":
        return ChallengePainter(plan)
    return Painter(plan)


def render_slide(plan: SlidePlan, path: str | os.PathLike, progress=None) -> int:
    """Paint ``plan`` into a pyramidal TIFF at ``path`` (atomically); returns the file size in bytes."""
    painter = make_painter(plan)

    def paint(x, y, w, h, out):
        return painter.paint(x, y, w, h, out)

    bg = tuple(int(round(b)) for b in plan.stain.background)
    write_pyramid(path, plan.width, plan.height, paint, plan.mpp, quality=plan.stain.jpeg_quality,
                  background=bg, progress=progress)
    return os.path.getsize(path)


def _render_job(job: tuple) -> dict:
    """Worker entry point: paint one slide.

    Parameters
    ----------
    job : (SlidePlan, str) or (SlidePlan, str, bool)
        The plan, the destination path and, optionally, whether to show a progress bar over the
        slide's level-0 tiles (only useful when the slide is painted in the calling process).

    Returns
    -------
    dict
        ``name``, ``bytes``, ``seconds`` (wall), ``cpu_seconds`` (this process) and
        ``peak_rss_mb`` (the worker process's peak resident memory so far).
    """
    plan, path, *rest = job
    show_tiles = bool(rest and rest[0])
    t0 = time.perf_counter()
    c0 = time.process_time()
    if show_tiles:
        from tqdm.auto import tqdm

        total = (plan.width // TILE) * (plan.height // TILE)
        with tqdm(total=total, desc=plan.name, unit="tile", leave=False) as bar:
            nbytes = render_slide(plan, path, progress=lambda done: bar.update(done - bar.n))
    else:
        nbytes = render_slide(plan, path)
    return {
        "name": plan.name,
        "bytes": nbytes,
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": time.process_time() - c0,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> float:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    except (ImportError, OSError):  # pragma: no cover - not POSIX
        return float("nan")


@dataclass
class CohortSummary:
    """What :func:`generate_cohort` did.

    Attributes
    ----------
    root : Path
    slides : list of Path
        Every slide of the cohort.
    painted : int
        Slides painted in this call (the others already existed: a resumed run).
    bytes : int
        Total size of the slide files.
    seconds : float
        Wall-clock time of the call.
    patients : list of PatientPlan
    plans : list of SlidePlan
    cpu_seconds : float
        CPU time spent painting in this call, summed over workers.
    peak_rss_mb : float
        Largest peak resident memory of a process that painted (MB; 0 when nothing was painted).
    """

    root: Path
    slides: list
    painted: int
    bytes: int
    seconds: float
    patients: list
    plans: list
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0


def cohort_config(n_patients, n_centers, seed, mpp, size, stage_mix, difficulty="easy") -> dict:
    """The settings that decide a cohort (stored as ``synth_config.json``; the easy preset's has no
    ``difficulty`` key, as before the challenge preset existed)."""
    mix = dict(DEFAULT_STAGE_MIX if stage_mix is None else stage_mix)
    extra = {} if difficulty == "easy" else {"difficulty": difficulty}
    return extra | {
        "generator": "camelyon.synthetic",
        "format": 1,
        "n_patients": int(n_patients),
        "n_centers": int(n_centers),
        "seed": int(seed),
        "mpp": float(mpp),
        "size": [int(size[0]), int(size[1])],
        "stage_mix": {s: float(mix.get(s, 0.0)) for s in STAGES},
        "tile": TILE,
    }


def _atomic_text(path: Path, text: str, newline: str = "") -> None:
    """Write ``text`` atomically, unless ``path`` already holds exactly that text.

    A rerun of the same cohort then leaves the tables and XMLs untouched (same mtime), so the pipeline's
    stamps, which fingerprint them by size and mtime, still find every step up to date.
    """
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            if fh.read() == text:  # newline "" and "\n" both write the text's own line ends
                return
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write(path, lambda fh: fh.write(text), mode="w", newline=newline)


def _prepare_root(root: Path, config: dict, overwrite: bool) -> None:
    """Create ``root``, or check that it holds this very cohort (resume), or clear it (overwrite)."""
    cfg_path = root / CONFIG_NAME
    if root.exists() and not root.is_dir():
        raise CamelyonError(f"{root} exists and is not a folder")
    if root.is_dir() and any(root.iterdir()):
        same = False
        if cfg_path.is_file():
            try:
                same = json.loads(cfg_path.read_text(encoding="utf-8")) == config
            except (OSError, ValueError):
                same = False
        if not same:
            foreign = [] if cfg_path.is_file() else _cohort_entries(root)
            if foreign:
                # --overwrite replaces a synthetic cohort only, never real data laid out alike
                raise CamelyonError(
                    f"output folder {root} holds {foreign[0].name} but no {CONFIG_NAME}: it is not a cohort written "
                    "by camelyon synth (real CAMELYON data?); nothing was touched: choose another folder "
                    "(--overwrite only replaces a synthetic cohort)"
                )
            if not overwrite:
                hint = "it holds a cohort made with other settings" if cfg_path.is_file() else "it is not empty"
                raise CamelyonError(
                    f"output folder {root}: {hint}; choose an empty folder or pass --overwrite"
                )
            _clear_cohort(root)
    root.mkdir(parents=True, exist_ok=True)
    _atomic_text(cfg_path, json.dumps(config, indent=2) + "\n")


def _cohort_entries(root: Path) -> list[Path]:
    """The entries of ``root`` that a cohort consists of (and that --overwrite would remove)."""
    out = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and (entry.name.startswith("center_") or entry.name in ("lesion_annotations",
                                                                                   LOOKALIKE_DIR)):
            out.append(entry)
        elif entry.name in (CONFIG_NAME, "stage_labels.csv", "ground_truth.csv"):
            out.append(entry)
    return out


def _clear_cohort(root: Path) -> None:
    """Remove what a cohort consists of (only those entries: other files are left alone)."""
    for entry in _cohort_entries(root):
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def generate_cohort(
    out,
    n_patients: int,
    n_centers: int = 5,
    seed: int = 0,
    mpp: float = DEFAULT_MPP,
    size=None,
    workers: int | None = None,
    progress: bool = True,
    *,
    stage_mix: dict[str, float] | None = None,
    overwrite: bool = False,
    scheduler: str | None = None,
    difficulty: str = "easy",
) -> CohortSummary:
    """Generate (or finish) a synthetic CAMELYON17-style cohort in ``out``.

    Parameters
    ----------
    out : path-like
        Output folder. Must be empty or absent, hold an unfinished run with the same settings
        (it is resumed: finished slides are kept), or ``overwrite`` must be set.
    n_patients : int
        Patients; each has five nodes (slides).
    n_centers : int
        Centres (hospitals); patients are split into consecutive blocks, one per centre.
    seed : int
        Same seed and settings -> byte-identical files.
    mpp : float
        Level-0 micrometres per pixel (0.5 ~ 20x; 0.243 like CAMELYON; 1.0 for the demo).
    size : None, int, (int, int) or "WxH"
        Level-0 slide size in px, rounded up to multiples of 512; default 6 x 4 mm.
    workers : int, optional
        Worker processes (None: every core; 1: in this process).
    progress : bool
        Show a progress bar.
    stage_mix : dict, optional
        Fractions of patients per pN stage; default :data:`DEFAULT_STAGE_MIX`.
    overwrite : bool
        Replace a different cohort in ``out``.
    scheduler : str, optional
        Dask scheduler address (see :func:`camelyon.executor.map_slides`).
    difficulty : {"easy", "challenge"}
        ``"easy"`` (default): the demo's cohort, unchanged. ``"challenge"``: look-alikes, small
        disease as it comes, artefacts and per-centre scanners (``mpp`` and ``size`` are then
        nominal: at ``mpp=0.25`` every centre has its scanner's real level-0 resolution); writes a
        ``kind`` column in ``ground_truth.csv`` and ``lookalike_annotations/``.

    Returns
    -------
    CohortSummary

    Raises
    ------
    CamelyonError
        Bad settings, a non-empty folder, or slides that failed (the others are kept: run again).
    """
    t0 = time.perf_counter()
    if int(n_patients) < 1:
        raise CamelyonError(f"n_patients must be at least 1, got {n_patients}")
    if int(n_centers) < 1:
        raise CamelyonError(f"n_centers must be at least 1, got {n_centers}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise CamelyonError(f"seed must be a whole number >= 0, got {seed!r}")
    if not (np.isfinite(mpp) and 0.05 <= float(mpp) <= 20.0):
        raise CamelyonError(f"mpp must be a resolution in um/px between 0.05 and 20, got {mpp}")
    mpp = float(mpp)
    check_difficulty(difficulty)
    size = normalize_size(size, mpp)
    root = Path(out)
    config = cohort_config(n_patients, n_centers, seed, mpp, size, stage_mix, difficulty)
    _prepare_root(root, config, overwrite)

    patients = plan_patients(int(n_patients), int(n_centers), int(seed), stage_mix)
    plans: list[SlidePlan] = []
    paths: list[Path] = []
    jobs = []
    for pat in patients:
        folder = root / f"center_{pat.center}"
        folder.mkdir(exist_ok=True)
        for node, label in enumerate(pat.labels):
            plan = plan_slide(seed, pat.patient, node, pat.center, label, mpp, size, difficulty)
            path = folder / f"{plan.name}.tif"
            plans.append(plan)
            paths.append(path)
            if not path.exists():
                jobs.append((plan, str(path)))
    # slides painted in this process also show how far the current slide is (one big slide can take
    # minutes); worker processes report per slide only
    if progress and runs_in_process(len(jobs), workers=workers, scheduler=scheduler):
        jobs = [(plan, path, True) for plan, path in jobs]
    _remove_stale_temporaries(root)
    check_disk_space(root, size, len(jobs), workers, scheduler)

    failures = []
    cpu = 0.0
    peak = 0.0
    for result in map_slides(_render_job, jobs, workers=workers, scheduler=scheduler, desc="synth",
                             progress=progress):
        if not result.ok:
            failures.append(f"{result.item[0].name}: {result.error}")
        else:
            cpu += result.value["cpu_seconds"]
            peak = max(peak, result.value["peak_rss_mb"])
    if failures:
        raise CamelyonError(
            f"{count_noun(len(failures), 'slide')} failed (the others are kept; run again to resume): " + "; ".join(failures)
        )
    write_tables(root, patients, plans)
    return CohortSummary(
        root=root,
        slides=paths,
        painted=len(jobs),
        bytes=sum(p.stat().st_size for p in paths),
        seconds=time.perf_counter() - t0,
        patients=patients,
        plans=plans,
        cpu_seconds=cpu,
        peak_rss_mb=peak,
    )


def check_disk_space(root: Path, size: tuple[int, int], n_slides: int, workers, scheduler=None) -> None:
    """Raise CamelyonError before painting when the slides and their scratch files would not fit on disk.

    The estimate: :data:`OUTPUT_BYTES_PER_PX` per level-0 px for every slide still to paint, plus
    :data:`SCRATCH_BYTES_PER_PX` for each slide painted at the same time (one per worker).
    """
    if n_slides == 0:
        return
    px = size[0] * size[1]
    at_once = n_slides if scheduler is not None else min(n_slides, default_workers() if workers is None
                                                          else max(1, int(workers)))
    need = n_slides * px * OUTPUT_BYTES_PER_PX + at_once * px * SCRATCH_BYTES_PER_PX
    free = shutil.disk_usage(root).free
    if need > free:
        raise CamelyonError(
            f"{root}: {n_slides} slides of {size[0]} x {size[1]} px need about {need / 1e9:.1f} GB on disk "
            f"(slides and scratch files) but {free / 1e9:.1f} GB are free; use a smaller --size, fewer "
            "--patients or --workers, or another folder"
        )


def _remove_stale_temporaries(root: Path) -> None:
    """Delete half-written files that an interrupted run left behind (hidden ``.*.tmp-*`` / ``.raw-*``)."""
    for folder in list(root.glob("center_*")) + [root / "lesion_annotations", root / LOOKALIKE_DIR, root]:
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.name.startswith(".") and (".tmp" in p.name or ".raw-" in p.name):
                p.unlink()


def write_tables(root: Path, patients: list[PatientPlan], plans: list[SlidePlan]) -> None:
    """Write the lesion XMLs, ``stage_labels.csv`` and ``ground_truth.csv`` (each atomically)."""
    ann_dir = root / "lesion_annotations"
    ann_dir.mkdir(exist_ok=True)
    by_name = {p.name: p for p in plans}
    for plan in plans:
        if plan.lesions:
            anns = [
                Annotation(f"Annotation {i}", "metastases", "Polygon", les.coordinates, "#F4FA58")
                for i, les in enumerate(plan.lesions)
            ]
            _atomic_text(ann_dir / f"{plan.name}.xml", asap_xml(anns, {"metastases": "#FF0000"}), newline="\n")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["patient", "stage"])
    for pat in patients:
        names = [f"patient_{pat.patient:03d}_node_{n}" for n in range(NODES_PER_PATIENT)]
        measured = [by_name[n].label for n in names]
        # the planned stage: plan_slide checks every measured label against the plan, and the plan's labels
        # give the stage (tests/test_synthetic.py); pn_stage is not called here (it is the S09 exercise)
        w.writerow([f"patient_{pat.patient:03d}.zip", pat.stage])
        for n, label in zip(names, measured, strict=False):
            w.writerow([f"{n}.tif", label])
    _atomic_text(root / "stage_labels.csv", buf.getvalue())
    challenge = any(p.difficulty == "challenge" for p in plans)
    if challenge:
        _write_lookalike_xmls(root / LOOKALIKE_DIR, plans)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = ["slide", "center", "lesion", "x", "y", "largest_diameter_mm", "area_mm2", "cells", "lesion_label",
              "slide_label"]
    w.writerow(header + (["kind", "site", "mpp"] if challenge else []))
    for plan in plans:
        for i, les in enumerate(plan.lesions):
            cx, cy = les.center
            row = [f"{plan.name}.tif", plan.center, i, f"{cx:.1f}", f"{cy:.1f}", f"{les.diameter_mm:.4f}",
                   f"{les.area_mm2:.5f}", les.cells, les.label, plan.label]
            w.writerow(row + ([les.kind, les.site, f"{plan.mpp:.4f}"] if challenge else []))
        if challenge:
            for f in plan.features:
                cx, cy = f.center
                area = polygon_area(f.coordinates) * (plan.mpp / 1000.0) ** 2
                w.writerow([f"{plan.name}.tif", plan.center, "", f"{cx:.1f}", f"{cy:.1f}",
                            f"{largest_diameter_mm(f.coordinates, plan.mpp):.4f}", f"{area:.5f}", "", "",
                            plan.label, f.kind, "", f"{plan.mpp:.4f}"])
    _atomic_text(root / "ground_truth.csv", buf.getvalue())


def _write_lookalike_xmls(folder: Path, plans: list[SlidePlan]) -> None:
    """ASAP XML of every look-alike and artefact polygon, one group per kind (challenge preset)."""
    folder.mkdir(exist_ok=True)
    for plan in plans:
        anns = [Annotation(f"{f.kind} {i}", f.kind, "Polygon", f.coordinates, "#64C8FA")
                for i, f in enumerate(plan.features)]
        groups = {f.kind: "#64C8FA" for f in plan.features}
        _atomic_text(folder / f"{plan.name}.xml", asap_xml(anns, groups), newline="\n")
