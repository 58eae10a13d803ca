"""A CAMELYON16-layout copy of a synthetic cohort, so the CAMELYON16 tasks run without the real data.

``camelyon synth`` writes a CAMELYON17-style cohort; :func:`camelyon16_from_cohort` lays its slides
out as CAMELYON16 ships them (hard links when possible, copies otherwise)::

    OUT/training/normal/normal_NNN.tif     slides labelled negative
    OUT/training/tumor/tumor_NNN.tif       slides with any lesion (itc, micro, macro)
    OUT/testing/images/test_NNN.tif        the slides of a seeded share of the patients
    OUT/lesion_annotations/<new stem>.xml  the ASAP XML of every tumour slide
    OUT/testing/reference.csv              test_NNN,Tumor,Macro|Micro|ITC or test_NNN,Normal
    OUT/names.csv                          new name,original name

Run it as ``python -m camelyon.camelyon16.synthetic COHORT_DIR OUT_DIR [--test-fraction F] [--seed S]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from camelyon.errors import CamelyonError

__all__ = ["camelyon16_from_cohort"]


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def camelyon16_from_cohort(cohort: str | os.PathLike, out: str | os.PathLike, test_fraction: float = 0.35,
                           seed: int = 0) -> dict:
    """Write a CAMELYON16-layout folder from a synthetic CAMELYON17-style cohort.

    Parameters
    ----------
    cohort : path
        Written by ``camelyon synth`` (``stage_labels.csv``, ``center_*/``, ``lesion_annotations/``).
    out : path
        New folder (its CAMELYON16 parts are replaced when they exist).
    test_fraction : float
        Share of the patients whose slides become test slides (stratified: patients with and without
        tumour are drawn separately).
    seed : int

    Returns
    -------
    dict
        Counts: ``normal``, ``tumor``, ``test``, ``test_tumor``.
    """
    from camelyon.camelyon16.layout import list_slides
    from camelyon.staging import patient_of, read_stage_csv

    cohort, out = Path(cohort), Path(out)
    table = read_stage_csv(cohort / "stage_labels.csv")
    if not 0 < test_fraction < 1:
        raise CamelyonError(f"test fraction must be in (0, 1), got {test_fraction}")
    paths = {p.name: p for p in list_slides(cohort)}
    missing = [s for s in table.slides if s not in paths]
    if missing:
        raise CamelyonError(f"{cohort}: no slide file for {missing[0]} (listed in stage_labels.csv)")
    rng = np.random.default_rng(seed)
    patients = sorted(table.patients)
    with_tumour = [p for p in patients if any(lab != "negative" for s, lab in table.slides.items()
                                              if patient_of(s) == p)]
    without = [p for p in patients if p not in with_tumour]
    test = set()
    for group in (with_tumour, without):
        k = int(round(len(group) * test_fraction))
        test |= {group[i] for i in rng.permutation(len(group))[:k]}
    for part in ("training", "testing", "lesion_annotations"):
        if (out / part).exists():
            shutil.rmtree(out / part)
    counts = {"normal": 0, "tumor": 0, "test": 0, "test_tumor": 0}
    ref_lines, names = [], ["new,original"]
    for name in sorted(table.slides):
        label = table.slides[name]
        tumour = label != "negative"
        if patient_of(name) in test:
            counts["test"] += 1
            new = f"test_{counts['test']:03d}"
            folder = out / "testing" / "images"
            size = {"itc": "ITC", "micro": "Micro", "macro": "Macro"}.get(label, "")
            ref_lines.append(f"{new},Tumor,{size}" if tumour else f"{new},Normal")
            counts["test_tumor"] += int(tumour)
        else:
            kind = "tumor" if tumour else "normal"
            counts[kind] += 1
            new = f"{kind}_{counts[kind]:03d}"
            folder = out / "training" / kind
        _link(paths[name], folder / f"{new}.tif")
        names.append(f"{new},{name}")
        xml = cohort / "lesion_annotations" / f"{Path(name).stem}.xml"
        if tumour and xml.is_file():
            _link(xml, out / "lesion_annotations" / f"{new}.xml")
    (out / "testing").mkdir(parents=True, exist_ok=True)
    (out / "testing" / "reference.csv").write_text("\n".join(ref_lines) + "\n")
    (out / "names.csv").write_text("\n".join(names) + "\n")
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m camelyon.camelyon16.synthetic",
                                 description="Lay a synthetic cohort out as CAMELYON16 (training/, testing/).")
    ap.add_argument("cohort")
    ap.add_argument("out")
    ap.add_argument("--test-fraction", type=float, default=0.35)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        c = camelyon16_from_cohort(args.cohort, args.out, args.test_fraction, args.seed)
    except CamelyonError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {c['normal']} normal + {c['tumor']} tumour training slides, "
          f"{c['test']} test slides ({c['test_tumor']} tumour)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
