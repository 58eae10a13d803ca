"""``camelyon demo``: synthesize a small cohort with a fixed seed and run the whole pipeline on it."""

from __future__ import annotations

import time
from pathlib import Path

#: The demo cohort: fixed seed and size, so that every run gives the same data.
DEMO_SEED = 2017
DEMO_PATIENTS = 24
DEMO_CENTERS = 5
#: ``camelyon demo --small``: the same pipeline on a cohort and settings small enough to check in about a minute
#: that every step runs (CI runs it in the student editions, see tests/test_g_filled_edition.py); its kappa
#: means little. Slides of 3.5 x 3.5 mm (the smallest that holds a macro-metastasis), 6 patients, one short epoch.
SMALL_PATIENTS = 6
SMALL_SIZE = (3584, 3584)
SMALL_PIPELINE = {"epochs": 1, "steps_per_epoch": 20, "n_estimators": 30, "cv_folds": 3, "n_report_slides": 1}


def register(subparsers) -> None:
    from camelyon.commands.pipeline import add_pipeline_options

    p = subparsers.add_parser(
        "demo",
        help="synthesize a small CAMELYON17-style cohort and run the whole pipeline (about 2 minutes on 2 idle cores)",
        description=f"Create {DEMO_PATIENTS} synthetic patients (5 lymph-node slides each, seed {DEMO_SEED}) "
                    "in OUT/data (1 um/px, 6 x 4 mm) and run 'camelyon pipeline' on them into OUT/run. Rerunning resumes.",
    )
    p.add_argument("--out", default="runs/demo", help="demo folder (default runs/demo)")
    p.add_argument("--patients", type=int, default=None, help=f"patients (default {DEMO_PATIENTS}; --small: {SMALL_PATIENTS})")
    p.add_argument("--small", action="store_true",
                   help=f"a quick check that every step runs: {SMALL_PATIENTS} patients, 3.5 x 3.5 mm slides, one epoch "
                        "of 20 steps, 30 trees (about a minute on 2 cores; the kappa means little)")
    add_pipeline_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from camelyon.commands.pipeline import config_from_args
    from camelyon.pipeline import run_pipeline
    from camelyon.synthetic import DEMO_MPP, DEMO_SIZE, generate_cohort

    out = Path(args.out)
    data = out / "data"
    small = bool(getattr(args, "small", False))
    patients = args.patients if args.patients is not None else (SMALL_PATIENTS if small else DEMO_PATIENTS)
    t0 = time.perf_counter()
    print(f"synthesizing {patients} patients into {data} (seed {DEMO_SEED}{', --small' if small else ''})", flush=True)
    try:
        generate_cohort(data, n_patients=patients, n_centers=DEMO_CENTERS, seed=DEMO_SEED, mpp=DEMO_MPP,
                        size=SMALL_SIZE if small else DEMO_SIZE, workers=args.workers,
                        scheduler=args.scheduler, progress=not args.quiet)
        summary = run_pipeline(data, out / "run", config_from_args(args, **(SMALL_PIPELINE if small else {})))
    except NotImplementedError as exc:
        from minicnn.teaching.progress import unwritten_in

        found = unwritten_in(exc)
        if found is None:
            raise
        print(student_stop_message(found, (time.perf_counter() - t0) / 60))
        return 3
    minutes = (time.perf_counter() - t0) / 60
    print(f"\nquadratic weighted kappa: {summary['kappa']:.4f} on {summary['n_test_patients']} held-out patients "
          f"(CAMELYON17 best single entry 2017: 0.89)")
    print(f"report: {Path(summary['report']).resolve()}")
    print(f"zoom into the slides, heatmaps and lesions: camelyon view {data} --run {out / 'run'}")
    print(f"demo finished in {minutes:.1f} min")
    return 0


def student_stop_message(found, minutes: float) -> str:
    """What the demo says in the student edition when it reaches an exercise that is not written yet.

    Names the exercise it stopped at and every exercise of the library (``minicnn/``, ``camelyon/``) still
    a stub: the pipeline needs all of them; the notebooks' own functions it does not.
    """
    from minicnn.teaching.progress import stubs

    root = Path(__file__).resolve().parents[2]
    left = {ex: [w for w in where if w.startswith(("minicnn/", "camelyon/"))] for ex, where in stubs(root).items()}
    left = {ex: where for ex, where in left.items() if where}
    lines = [
        "",
        f"the demo ran as far as your code allows ({minutes:.1f} min): it stopped at {found.line()}",
    ]
    if left:
        lines.append("the whole demo needs these exercises, still to write (EXERCISES.md says where):")
        for ex, where in left.items():
            lines.append(f"  {ex}: {len(where)} function{'s' if len(where) != 1 else ''} ({', '.join(where[:3])}"
                         f"{', ...' if len(where) > 3 else ''})")  # fmt: skip
    lines.append("write them, check with `python -m pytest -m <exercise>`, then run `make demo` again: it resumes")
    return "\n".join(lines)
