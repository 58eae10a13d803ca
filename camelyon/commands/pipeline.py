"""``camelyon pipeline``: from a cohort folder to pN stages, kappa and an HTML report, resumable."""

from __future__ import annotations

from camelyon.commands import add_worker_options


def add_pipeline_options(p) -> None:
    """Options shared by ``camelyon pipeline`` and ``camelyon demo``."""
    from camelyon.pipeline import PipelineConfig

    d = PipelineConfig()
    add_worker_options(p)
    p.add_argument("--seed", type=int, default=d.seed, help=f"seed of the split, CNN and classifier (default {d.seed})")
    p.add_argument("--epochs", type=int, default=None, help=f"tile-CNN epochs (default {d.epochs})")
    p.add_argument("--tile-size", type=int, default=None, help=f"tile side in px (default {d.tile_size})")
    p.add_argument("--tile-um-per-px", type=float, default=None,
                   help=f"tile resolution in um/px (default {d.tile_um_per_px})")
    p.add_argument("--heatmap-stride", type=int, default=None, help="heatmap grid step in tile px (default: tile size)")
    p.add_argument("--classifier", choices=("forest", "tree"), default=None, help=f"slide classifier (default {d.classifier})")
    p.add_argument("--slide-score", choices=("max", "classifier"), default=None,
                   help="CAMELYON16 layout: slide probability from the heatmap maximum or from a slide classifier "
                        f"fitted on the training slides' heatmap features (default {d.slide_score})")
    p.add_argument("--cnn-fraction", type=float, default=None,
                   help=f"fraction of patients that train the tile CNN (default {d.cnn_fraction})")


def config_from_args(args, **defaults):
    """A PipelineConfig from defaults overridden by the given command-line options."""
    from camelyon.pipeline import PipelineConfig

    cfg = PipelineConfig(**defaults)
    cfg.workers = args.workers
    cfg.scheduler = args.scheduler
    cfg.seed = args.seed
    cfg.progress = not args.quiet
    for opt, field in (("epochs", "epochs"), ("tile_size", "tile_size"), ("tile_um_per_px", "tile_um_per_px"),
                       ("heatmap_stride", "heatmap_stride"), ("classifier", "classifier"),
                       ("cnn_fraction", "cnn_fraction"), ("slide_score", "slide_score")):
        value = getattr(args, opt)
        if value is not None:
            setattr(cfg, field, value)
    return cfg


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "pipeline",
        help="whole pipeline: tiles, tile CNN, heatmaps, features, slide labels, pN stages, kappa, report",
        description="Run every step on a CAMELYON17-style cohort (center_*/patient_*_node_*.tif, "
                    "lesion_annotations/, stage_labels.csv), or, when DATA_DIR has the CAMELYON16 layout "
                    "(training/normal, training/tumor, testing/images, lesion_annotations, testing/reference.csv), "
                    "the CAMELYON16 tasks: slide probabilities (image,probability CSV), lesion detections "
                    "(probability,X,Y per slide), slide AUC and FROC. The layout found is printed. Steps whose outputs are up to date are skipped, "
                    "so running the same command again resumes an interrupted run. Writes RUN_DIR/report.html "
                    "and RUN_DIR/run_summary.json.",
    )
    p.add_argument("data_dir", help="cohort folder")
    p.add_argument("--out", required=True, help="run folder")
    add_pipeline_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from camelyon.camelyon16.layout import detect_layout
    from camelyon.pipeline import run_pipeline

    layout = detect_layout(args.data_dir)
    if layout.kind == "camelyon16":
        from camelyon.camelyon16.pipeline import run_pipeline16

        print(f"{layout.describe()}: running the CAMELYON16 tasks (slide probability, lesion detections)")
        summary = run_pipeline16(args.data_dir, args.out, config_from_args(args), layout=layout)
        if summary.get("froc") is not None:
            lo, hi = summary["auc_ci"]
            print(f"FROC {summary['froc']:.4f}, slide AUC {summary['auc']:.4f} ({lo:.3f}-{hi:.3f}) on "
                  f"{summary['n_test_slides']} test slides; {summary['slide_probabilities']}, {summary['detections']}/")
        return 0
    print(layout.describe())
    summary = run_pipeline(args.data_dir, args.out, config_from_args(args))
    print(f"kappa {summary['kappa']:.4f} on {summary['n_test_patients']} held-out patients; "
          f"report: {summary['report']}")
    return 0
