"""``camelyon classify``: train or apply the slide classifier (decision tree or random forest)."""

from __future__ import annotations

from camelyon.errors import CamelyonError
from camelyon.messages import count_noun


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "classify",
        help="slide labels (negative/itc/micro/macro) from a feature CSV; --fit trains the classifier",
        description="With --fit: train a decision tree or random forest (minicnn.tree) on a feature CSV "
                    "that has a 'label' column, report accuracy by cross-validation grouped by patient, "
                    "and save the model (.npz + .json, no pickle). Without --fit: predict the slide labels "
                    "of a feature CSV and write them as CAMELYON17 slide rows (feed them to 'camelyon stage').",
    )
    p.add_argument("features", help="feature CSV written by 'camelyon features'")
    p.add_argument("--model", required=True, help="model file (.npz) to write with --fit, or to read")
    p.add_argument("--fit", action="store_true", help="train the classifier instead of applying it")
    p.add_argument("--kind", choices=("tree", "forest"), default="forest", help="classifier (default forest)")
    p.add_argument("--trees", type=int, default=200, help="trees in the forest (default 200)")
    p.add_argument("--max-depth", type=int, default=None, help="depth limit of the trees")
    p.add_argument("--min-samples-leaf", type=int, default=1)
    p.add_argument("--no-balance", action="store_true", help="no class weights for the rare labels")
    p.add_argument("--cv", type=int, default=5, help="folds of the grouped cross-validation (0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="predicted slide labels CSV (without --fit)")
    p.set_defaults(func=run)


def run(args) -> int:
    from camelyon.features import read_features_csv
    from camelyon.slide_classifier import SlideClassifier, fit_slide_classifier
    from camelyon.staging import write_stage_csv

    slides, names, X, labels = read_features_csv(args.features)
    if args.fit:
        if labels is None:
            raise CamelyonError(f"{args.features} has no 'label' column; write it with 'camelyon features --labels'")
        params = dict(kind=args.kind, n_estimators=args.trees, max_depth=args.max_depth,
                      min_samples_leaf=args.min_samples_leaf,
                      class_weight=None if args.no_balance else "balanced")
        fit = fit_slide_classifier(slides, X, labels, names, cv_folds=args.cv, seed=args.seed, source=args.features,
                                   **params)
        if fit.cv is not None:
            print(f"cross-validated slide accuracy (grouped by patient): {fit.cv.accuracy:.3f}")
            for lab, acc in fit.cv.class_accuracy.items():
                print(f"  {lab:>8}: " + ("-" if acc is None else f"{acc:.3f}"))
        clf = fit.classifier
        path = clf.save(args.model)
        print(f"wrote {path}")
        return 0
    if not args.out:
        raise CamelyonError("--out is required to write predictions (or use --fit to train)")
    clf = SlideClassifier.load(args.model)
    pred = clf.predict(X, feature_names=names)
    path = write_stage_csv(args.out, {}, dict(zip(slides, pred, strict=True)))
    print(f"wrote {count_noun(len(slides), 'slide label')} to {path}")
    return 0
