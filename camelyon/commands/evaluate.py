"""``camelyon evaluate``: score pN-stage predictions against the reference as CAMELYON17 does."""

from __future__ import annotations

from minicnn.io import write_json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="quadratic weighted kappa of predicted pN stages (CAMELYON17), slide-label accuracy",
        description="Compare a submission CSV (patient,stage) with the reference stage_labels.csv: "
                    "quadratic weighted kappa over the patients' pN stages (rows ending in .zip, stage "
                    "names case-insensitive), and when the submission has slide rows, the slide-label "
                    "confusion matrix and accuracy per class.",
    )
    p.add_argument("--reference", required=True, help="reference CSV, e.g. DATA_DIR/stage_labels.csv")
    p.add_argument("--submission", required=True, help="predicted CSV in the same format")
    p.add_argument("--json", default=None, help="also write the full result to this JSON file")
    p.set_defaults(func=run)


def run(args) -> int:
    from camelyon.evaluation import evaluate
    from camelyon.outputs import refuse_inputs_as_output

    if args.json:  # before any work: the result never replaces the reference or the submission
        refuse_inputs_as_output(args.json, [args.reference, args.submission], option="--json")
    result = evaluate(args.reference, args.submission)
    print(result.summary())
    if args.json:
        path = write_json(args.json, result.to_dict())
        print(f"wrote {path}")
    return 0
