"""``camelyon info``: what a slide holds, and a picture of its tissue and annotations."""

from __future__ import annotations

from pathlib import Path

from camelyon.errors import CamelyonError
from camelyon.messages import count_noun


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "info",
        help="levels, dimensions, um/px and vendor of a slide; a thumbnail with tissue and annotations",
        description="Print the pyramid of a whole-slide image (dimensions, downsample and um/px of every "
                    "level), its vendor and resolution. With --png, also save a thumbnail with the detected "
                    "tissue outlined in green and the annotations (ASAP XML) outlined: tumour red, "
                    "exclusions blue, other groups yellow.",
    )
    p.add_argument("slide", metavar="SLIDE", help="slide file (pyramidal TIFF, SVS, NDPI, ...)")
    p.add_argument("--png", default=None, help="save a thumbnail with tissue and annotation outlines here")
    p.add_argument("--annotations", default=None,
                   help="annotations of the slide (ASAP XML or QuPath GeoJSON), or a folder holding "
                        "SLIDE_STEM.xml / .geojson / .json")
    p.add_argument("--mpp", type=float, default=None,
                   help="level-0 um/px for slides whose file does not say it (e.g. 0.243)")
    p.add_argument("--max-size", type=int, default=2048, help="longer side of the thumbnail in px (default 2048)")
    p.set_defaults(func=run)


def describe(slide) -> str:
    """A few lines describing a :class:`camelyon.slide.Slide`."""
    w, h = slide.dimensions
    lines = [f"{slide.path}", f"  vendor      {slide.vendor}", f"  dimensions  {w} x {h} px (level 0)"]
    if slide.has_mpp:
        mx, my = slide.check_mpp()  # an implausible resolution is refused in one line (use --mpp)
        lines.append(f"  um/px       {mx:.4g} x {my:.4g} (level 0); {w * mx / 1000:.2f} x {h * my / 1000:.2f} mm")
    else:
        lines.append("  um/px       unknown (give it with --mpp)")
    lines.append(f"  levels      {slide.level_count}")
    lines.append("    level   width x height    downsample   um/px")
    for lv, ((lw, lh), ds) in enumerate(zip(slide.level_dimensions, slide.level_downsamples, strict=True)):
        um = f"{slide.mpp_at_level(lv):.4g}" if slide.has_mpp else "?"
        lines.append(f"    {lv:>5}   {lw:>6} x {lh:<8} {ds:>10.4g}   {um}")
    objective = slide.properties.get("openslide.objective-power")
    if objective:
        lines.append(f"  objective   {objective}x")
    return "\n".join(lines)


def save_overview_png(slide, path, annotations=None, max_size: int = 2048, tissue_um_per_px: float = 8.0) -> Path:
    """Save a thumbnail with the tissue mask and annotation outlines (atomic write).

    Parameters
    ----------
    slide : camelyon.slide.Slide
    path : path-like
        PNG to write.
    annotations : AnnotationSet, optional
    max_size : int
        Longer side of the thumbnail in px.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from skimage.measure import find_contours

    from camelyon.tissue import slide_tissue_mask

    path = Path(path)
    w0, h0 = slide.dimensions
    thumb = slide.thumbnail(max_size)
    scale = thumb.shape[1] / w0  # thumbnail px per level-0 px
    fig, ax = plt.subplots(figsize=(10, 10 * thumb.shape[0] / thumb.shape[1] + 0.6), dpi=100)
    ax.imshow(thumb)
    tissue_note = ""
    if slide.has_mpp:
        tm = slide_tissue_mask(slide, tissue_um_per_px)
        f = tm.downsample * scale  # thumbnail px per mask px
        for c in find_contours(np.pad(tm.mask, 1).astype(np.float32), 0.5):
            ax.plot((c[:, 1] - 1 + 0.5) * f, (c[:, 0] - 1 + 0.5) * f, color="lime", lw=1.0)
        tissue_note = f", tissue {tm.fraction:.1%} of the slide"
    colours = {"tumour": "red", "exclusion": "blue", "other": "yellow"}
    if annotations is not None:
        for a in annotations:
            kind = "tumour" if a.is_tumour else "exclusion" if a.is_exclusion else "other"
            xy = a.coordinates * scale
            if a.is_area and len(xy) >= 2:
                closed = np.vstack([xy, xy[:1]])
                ax.plot(closed[:, 0], closed[:, 1], color=colours[kind], lw=1.5)
            else:
                ax.scatter(xy[:, 0], xy[:, 1], color=colours[kind], s=12)
    ax.set_title(f"{slide.path.name}: {w0} x {h0} px{tissue_note}", fontsize=10)
    ax.set_axis_off()
    fig.tight_layout()
    from camelyon.figures import save_figure

    try:
        save_figure(fig, path)  # atomically, in the format of the suffix
    finally:
        plt.close(fig)
    return path


def run(args) -> int:
    from camelyon.annotations import read_annotations
    from camelyon.slide import Slide

    with Slide(args.slide, mpp=args.mpp) as slide:
        print(describe(slide))
        annotations = None
        if args.annotations:
            ann = Path(args.annotations)
            if ann.is_dir():
                found = [ann / f"{slide.name}{s}" for s in (".xml", ".geojson", ".json")]
                ann = next((f for f in found if f.is_file()), found[0])
            if ann.is_file() or not Path(args.annotations).is_dir():
                annotations = read_annotations(ann).clipped(*slide.dimensions)
                print(f"  annotations {len(annotations)} in {ann} "
                      f"({count_noun(len(annotations.tumour()), 'tumour area')}, {count_noun(len(annotations.exclusions()), 'exclusion')})")
            else:
                print(f"  annotations none (no {slide.name}.xml, .geojson or .json in {args.annotations})")
        if args.png:
            if args.max_size < 16:
                raise CamelyonError(f"--max-size must be at least 16 px, got {args.max_size}")
            out = save_overview_png(slide, args.png, annotations, max_size=args.max_size)
            print(f"wrote {out}")
    return 0
