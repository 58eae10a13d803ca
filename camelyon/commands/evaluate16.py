"""``camelyon evaluate16``: CAMELYON16 lesion-level FROC and slide-level AUC of a submission."""

from __future__ import annotations

from pathlib import Path

from minicnn.io import write_json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate16",
        help="CAMELYON16 scores: lesion-level FROC of detections, slide-level ROC AUC with bootstrap interval",
        description="Score a CAMELYON16 submission as the challenge did. Lesion level: DETECTIONS_DIR holds one "
                    "<slide stem>.csv per slide of 'probability,X,Y' rows (level-0 px, no header); each tumour "
                    "slide's evaluation mask (level 5, tumour grown by 75 um, holes filled, 8-connected lesions, "
                    "ITC regions under 275 um major axis excluded) is built from its annotation in "
                    "lesion_annotations/ (ASAP XML or QuPath GeoJSON) or read from --masks; the score is the mean "
                    "sensitivity at 1/4, 1/2, 1, 2, 4 and 8 false positives per slide. Slide level: ROC AUC of "
                    "--probabilities (image,probability) with a bootstrap interval. Scores the test slides "
                    "(testing/images) of a CAMELYON16 folder, else every slide in DATA_DIR. Prints 'FROC <value>' "
                    "and 'slide AUC <value>'.",
    )
    p.add_argument("data_dir", metavar="DATA_DIR", help="slides and lesion_annotations/ (CAMELYON16 layout or any folder)")
    p.add_argument("--detections", required=True, metavar="DIR", help="folder of <slide stem>.csv detection files")
    p.add_argument("--probabilities", default=None, metavar="CSV", help="image,probability CSV (slide AUC)")
    p.add_argument("--reference", default=None, metavar="CSV",
                   help="name,Tumor|Normal CSV saying which slides are tumour slides "
                        "(default: testing/reference.csv, the training folders, else: has an annotation)")
    p.add_argument("--masks", default=None, metavar="DIR",
                   help="evaluation-mask TIFFs (<stem>_mask.tif) to use instead of the annotations")
    p.add_argument("--slide-mpp", action="store_true",
                   help="not official: scale the evaluation mask to each slide's own um/px instead of the 0.243 "
                        "um/px the challenge assumed (for synthetic slides at other resolutions)")
    p.add_argument("--json", default=None, metavar="OUT", help="write froc, sensitivities, auc, auc_ci, per-slide counts")
    p.add_argument("--plot", default=None, metavar="PNG", help="save the FROC curve here")
    p.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples of the AUC interval (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p.set_defaults(func=run)


def run(args) -> int:
    from camelyon.camelyon16.evaluation import evaluate16
    from camelyon.camelyon16.froc import plot_froc
    from camelyon.errors import CamelyonError
    from camelyon.messages import count_noun

    if args.bootstrap < 10:
        raise CamelyonError(f"--bootstrap must be at least 10, got {args.bootstrap}")
    result = evaluate16(args.data_dir, args.detections, args.probabilities, args.reference, args.masks,
                        n_bootstrap=args.bootstrap, seed=args.seed, log=print, slide_mpp=args.slide_mpp)
    if result.missing_detections:
        shown = ", ".join(result.missing_detections[:5]) + (" ..." if len(result.missing_detections) > 5 else "")
        print(f"note: {count_noun(len(result.missing_detections), 'slide')} without a detections CSV "
              f"(counted as no detections): {shown}")
    if result.unmatched_detections:
        print(f"warning: {count_noun(len(result.unmatched_detections), 'detections CSV')} match no scored slide "
              f"and were ignored: {', '.join(Path(f).name for f in result.unmatched_detections[:5])}")
    print(result.summary())
    if args.plot and result.fp_per_slide is not None:
        print(f"wrote {plot_froc(result.fp_per_slide, result.sensitivity, args.plot, result.froc)}")
    if args.json:
        path = write_json(args.json, result.to_dict())
        print(f"wrote {path}")
    return 0
