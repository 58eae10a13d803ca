"""Export the sample-solution heatmaps of S07-S09 from a finished pipeline run.

Copies ``RUN/heatmaps/*.npz`` (the evaluation patients' heatmaps), writes the reference ``stage_labels.csv``
restricted to those patients, small thumbnails (``thumbnails.npz``, uint8, no pickle) and a provenance file
``run.json`` into ``specific_exercises/sample_heatmaps/``. Heatmaps are re-saved with float16-rounded
probabilities (still float32 on load) so the folder stays small.

Usage::

    python specific_exercises/make_sample_heatmaps.py DATA_DIR RUN_DIR [--out specific_exercises/sample_heatmaps]
"""

# teaching: no-regions

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

THUMBNAIL_SIZE = 96


def export(data_dir: Path, run_dir: Path, out: Path) -> Path:
    from camelyon.heatmap import Heatmap
    from camelyon.slide import Slide
    from camelyon.staging import patient_of, read_stage_csv, write_stage_csv
    from minicnn.io import atomic_folder

    reference = read_stage_csv(data_dir / "stage_labels.csv")
    files = sorted((run_dir / "heatmaps").glob("*.npz"))
    if not files:
        raise SystemExit(f"no heatmaps in {run_dir / 'heatmaps'}")
    with atomic_folder(out) as tmp:
        slides, thumbs = {}, {}
        for f in files:
            hm = Heatmap.load(f)
            hm.probability = hm.probability.astype(np.float16).astype(np.float32)
            hm.extra = {k: v for k, v in hm.extra.items() if k in ("model", "tile_size", "um_per_px", "stride")}
            hm.save(tmp / f.name)
            slides[hm.slide] = reference.slides[hm.slide]
            path = next(data_dir.glob(f"center_*/{hm.slide}"))
            with Slide(path) as s:
                thumbs[Path(hm.slide).stem] = s.thumbnail(THUMBNAIL_SIZE)
        patients = {p: reference.patients[p] for p in sorted({patient_of(s) for s in slides})}
        write_stage_csv(tmp / "stage_labels.csv", patients, slides)
        np.savez_compressed(tmp / "thumbnails.npz", **thumbs)
        summary = json.loads((run_dir / "run_summary.json").read_text()) if (run_dir / "run_summary.json").exists() else {}
        provenance = {
            "cohort": str(data_dir), "run": str(run_dir),
            "synth_config": json.loads((data_dir / "synth_config.json").read_text())
            if (data_dir / "synth_config.json").exists() else None,
            "pipeline_config": summary.get("config"), "kappa": summary.get("kappa"),
            "cnn_patients": summary.get("cnn_patients"), "eval_patients": sorted(patients),
        }
        (tmp / "run.json").write_text(json.dumps(provenance, indent=1, default=str) + "\n")
        readme = out / "README.md"
        if readme.exists():
            shutil.copy2(readme, tmp / "README.md")
    return out


def checkpoint_texts(folder: Path) -> dict[str, str]:
    """The checkpoint CSVs of a sample-heatmap folder, computed by this edition's code: ``{file name: text}``.

    ``features.csv``: ``slide`` and the features of :func:`camelyon.features.heatmap_features`;
    ``slide_predictions.csv``: ``slide,predicted``, the cross-validated random forest of S09.
    """
    import csv
    import io

    import course_data

    from camelyon.features import feature_names

    heatmaps = course_data.load_heatmaps(folder)
    reference = course_data.sample_stage_table(folder)
    slides, names = sorted(heatmaps), feature_names()
    X = course_data.compute_feature_matrix(heatmaps, slides, names)
    y = [reference.slides[s] for s in slides]
    predicted = course_data.compute_slide_predictions(X, y, slides, names)
    texts = {}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["slide", *names])
    for s, row in zip(slides, X, strict=True):
        w.writerow([s, *(repr(float(v)) for v in row)])
    texts[course_data.FEATURES_CSV] = buf.getvalue()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["slide", "predicted"])
    for s in slides:
        w.writerow([s, predicted[s]])
    texts[course_data.PREDICTIONS_CSV] = buf.getvalue()
    return texts


def write_checkpoints(folder: Path) -> list[Path]:
    """Write the checkpoint CSVs next to the sample heatmaps (each atomically)."""
    from minicnn.io import write_text

    return [write_text(folder / name, text) for name, text in checkpoint_texts(folder).items()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, nargs="?")
    parser.add_argument("run_dir", type=Path, nargs="?")
    parser.add_argument("--out", type=Path, default=HERE / "sample_heatmaps")
    parser.add_argument("--checkpoints", action="store_true",
                        help="only (re)write the checkpoint CSVs (features, slide labels) of --out")
    args = parser.parse_args(argv)
    if args.checkpoints:
        for path in write_checkpoints(args.out):
            print(f"wrote {path}")
        return 0
    if args.data_dir is None or args.run_dir is None:
        parser.error("DATA_DIR and RUN_DIR are needed (or --checkpoints)")
    out = export(args.data_dir, args.run_dir, args.out)
    write_checkpoints(out)
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {out} ({len(list(out.glob('*.npz'))) - 1} heatmaps, {size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
