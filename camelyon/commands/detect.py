"""``camelyon detect``: lesion detections (``probability,X,Y`` per slide) and outlines from heatmaps."""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "detect",
        help="lesion detections per slide (probability,X,Y CSV, CAMELYON16 task 2) and outlines from heatmaps",
        description="Turn each heatmap (.npz written by 'camelyon heatmap' or the pipeline) into OUT/<slide stem>.csv "
                    "of 'probability,X,Y' rows (level-0 px, no header, as the CAMELYON16 lesion task asked), and a "
                    "slide-level OUT/slide_probabilities.csv (image,probability: the heatmap's highest smoothed "
                    "value). Method: Gaussian smoothing (--smooth-um), local maxima at or above --threshold, "
                    "non-maximum suppression within --nms-um. --geojson and --xml also write the detections and "
                    "the predicted lesion outlines (contours of the smoothed map at the threshold) for QuPath "
                    "and ASAP.",
    )
    p.add_argument("heatmaps", metavar="HEATMAP_DIR", help="folder of heatmap .npz files (or one file)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--threshold", type=float, default=0.5, help="smallest smoothed probability (default 0.5)")
    p.add_argument("--smooth-um", type=float, default=None,
                   help="Gaussian sigma in um (default: one heatmap pixel; 0: none)")
    p.add_argument("--nms-um", type=float, default=300.0, help="non-maximum suppression radius in um (default 300)")
    p.add_argument("--max-detections", type=int, default=None, help="keep at most N detections per slide")
    p.add_argument("--geojson", action="store_true",
                   help="also write OUT/<stem>.geojson (outlines and detections, QuPath imports it)")
    p.add_argument("--xml", action="store_true", help="also write OUT/<stem>.xml (ASAP XML: outlines and detections)")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from camelyon.annotations import Annotation, AnnotationSet, write_asap, write_geojson
    from camelyon.camelyon16.detection import (
        DetectionParams,
        detect_lesions,
        lesion_outlines,
        slide_probability,
    )
    from camelyon.camelyon16.reference import write_detections, write_probabilities
    from camelyon.errors import CamelyonError
    from camelyon.heatmap import Heatmap
    from camelyon.messages import count_noun

    src = Path(args.heatmaps)
    if src.is_file():
        files = [src]
    elif src.is_dir():
        files = sorted(f for f in src.glob("*.npz") if not f.name.startswith(".") and ".tmp" not in f.name)
    else:
        raise CamelyonError(f"heatmap folder not found: {src}")
    if not files:
        raise CamelyonError(f"no heatmap .npz files in {src}")
    params = DetectionParams(args.threshold, args.smooth_um, args.nms_um, args.max_detections)
    params.check()
    out = Path(args.out)
    if out.resolve() == (src if src.is_dir() else src.parent).resolve():
        raise CamelyonError(f"--out {out} is the heatmap folder; choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    slide_probs = {}
    total = 0
    for f in files:
        hm = Heatmap.load(f)
        stem = Path(hm.slide).stem if hm.slide else f.stem
        p, x, y = detect_lesions(hm, params)
        write_detections(out / f"{stem}.csv", p, x, y)
        # slide probability: the highest smoothed value over tissue (0 without tissue)
        slide_probs[stem] = slide_probability(hm, params)
        total += len(p)
        if args.geojson or args.xml:
            anns = [Annotation(f"lesion {i}", "Tumor", "Polygon", poly, "#FF0000")
                    for i, poly in enumerate(lesion_outlines(hm, params))]
            anns += [Annotation(f"detection {i} p={pi:.3f}", "detection", "Dot", np.array([[xi, yi]]), "#0000FF")
                     for i, (pi, xi, yi) in enumerate(zip(p, x, y, strict=True))]
            aset = AnnotationSet(anns, {"Tumor": "#FF0000", "detection": "#0000FF"})
            if args.geojson:
                write_geojson(aset, out / f"{stem}.geojson")
            if args.xml:
                write_asap(out / f"{stem}.xml", aset)
    write_probabilities(out / "slide_probabilities.csv", slide_probs)
    extra = " (+ .geojson)" if args.geojson else ""
    extra += " (+ .xml)" if args.xml else ""
    print(f"wrote {count_noun(total, 'detection')} from {count_noun(len(files), 'heatmap')} to {out}/<slide>.csv{extra} "
          f"and {out / 'slide_probabilities.csv'} (threshold {params.threshold:g}, NMS {params.nms_um:g} um)")
    return 0

