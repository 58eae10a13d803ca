"""``camelyon synth``: write a synthetic CAMELYON17-style cohort (slides, lesion XML, stage labels)."""

from __future__ import annotations

from camelyon.commands import add_worker_options
from camelyon.errors import CamelyonError


def register(subparsers) -> None:
    from camelyon.synth_presets import DEFAULT_MPP, DEMO_MPP, DEMO_SIZE

    p = subparsers.add_parser(
        "synth",
        help="generate a synthetic CAMELYON17-style cohort of whole-slide images with exact ground truth",
        description="Write OUT/center_<c>/patient_<ppp>_node_<n>.tif (pyramidal JPEG TIFF), "
                    "OUT/lesion_annotations/*.xml (ASAP, group 'metastases'), OUT/stage_labels.csv and "
                    "OUT/ground_truth.csv. The same seed and settings give byte-identical files. An "
                    "interrupted run resumes when started again with the same settings.",
    )
    p.add_argument("out", metavar="OUT", help="output folder (empty, absent, or an unfinished run to resume)")
    p.add_argument("--patients", type=int, required=True, help="number of patients (5 slides each)")
    p.add_argument("--centers", type=int, default=5, help="number of centres with different staining (default 5)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--mpp", type=float, default=None,
                   help=f"level-0 um/px (default {DEFAULT_MPP}; 0.243 like CAMELYON; --demo: {DEMO_MPP})")
    p.add_argument("--size", default=None,
                   help="level-0 slide size in px, WIDTHxHEIGHT or one number for a square, rounded up to "
                        "multiples of 512 (default 6 x 4 mm at the chosen um/px)")
    p.add_argument("--demo", action="store_true",
                   help=f"the demo preset: {DEMO_MPP} um/px (10x) and {DEMO_SIZE[0]}x{DEMO_SIZE[1]} px slides")
    p.add_argument("--difficulty", choices=("easy", "challenge"), default="easy",
                   help="easy (default, the demo's cohort) or challenge: look-alikes, isolated tumour cells, "
                        "lesions near the size thresholds, artefacts and per-centre scanners (--mpp is then "
                        "nominal: 0.25 gives each centre its scanner's real resolution, 0.226-0.2527 um/px)")
    p.add_argument("--stage-mix", default=None,
                   help="fractions of patients per stage, e.g. 'pN0=0.3,pN0(i+)=0.1,pN1mi=0.2,pN1=0.25,pN2=0.15'")
    add_worker_options(p, overwrite="replace a different cohort already in OUT")
    p.set_defaults(func=run)


def parse_stage_mix(text: str | None) -> dict[str, float] | None:
    """``'pN0=0.3,pN1=0.7'`` -> ``{'pN0': 0.3, 'pN1': 0.7}``; CamelyonError naming a bad entry."""
    if not text:
        return None
    from camelyon.staging import STAGES

    lookup = {s.lower(): s for s in STAGES}
    mix = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        stage = lookup.get(name.strip().lower())
        if not sep or stage is None:
            raise CamelyonError(f"--stage-mix entry {part!r}: expected STAGE=FRACTION with STAGE one of "
                                f"{', '.join(STAGES)}")
        try:
            mix[stage] = float(value)
        except ValueError:
            raise CamelyonError(f"--stage-mix entry {part!r}: {value!r} is not a number") from None
        if mix[stage] < 0:
            raise CamelyonError(f"--stage-mix entry {part!r}: fractions must be >= 0")
    return mix


def run(args) -> int:
    from camelyon.synthetic.cohort import DEFAULT_MPP, DEMO_MPP, DEMO_SIZE, generate_cohort

    mpp = args.mpp if args.mpp is not None else (DEMO_MPP if args.demo else DEFAULT_MPP)
    size = args.size if args.size is not None else (DEMO_SIZE if args.demo else None)
    summary = generate_cohort(
        args.out,
        n_patients=args.patients,
        n_centers=args.centers,
        seed=args.seed,
        mpp=mpp,
        size=size,
        workers=args.workers,
        progress=not args.quiet,
        stage_mix=parse_stage_mix(args.stage_mix),
        overwrite=args.overwrite,
        scheduler=args.scheduler,
        difficulty=args.difficulty,
    )
    n = len(summary.slides)
    kept = n - summary.painted
    w, h = summary.plans[0].width, summary.plans[0].height
    at = f"{w} x {h} px at {mpp} um/px" if args.difficulty == "easy" else \
        f"{args.difficulty}, nominal {mpp} um/px, " + "/".join(sorted({f"{p.mpp:.4g}" for p in summary.plans})) + " um/px by centre"
    print(
        f"{n} slides ({at}) in {summary.root}: {summary.painted} painted"
        + (f", {kept} kept from an earlier run" if kept else "")
        + f"; {summary.bytes / 1e6:.1f} MB in {summary.seconds:.1f} s"
    )
    stages = {}
    for pat in summary.patients:
        stages[pat.stage] = stages.get(pat.stage, 0) + 1
    print("stages: " + ", ".join(f"{s} {c}" for s, c in stages.items()))
    return 0
