"""``camelyon tiles``: tile slides into an HDF5 tile store, in parallel and resumably."""

from __future__ import annotations

import warnings
from pathlib import Path

from camelyon.commands import add_worker_options
from camelyon.messages import count_noun


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "tiles",
        help="tile slides (tissue only, labelled from the annotations) into an HDF5 tile store",
        description="Detect tissue on every slide, lay a grid of TILE_SIZE px tiles every STRIDE px at a pyramid "
                    "level (or at a target um/px), keep tiles with enough tissue, label them from the ASAP "
                    "annotations (tumour fraction of the tile, or of its centre with --center-size) and write "
                    "them to one HDF5 file. Slides are tiled in worker processes; an interrupted run resumes "
                    "where it stopped when the same command is run again. Slides that cannot be read are "
                    "reported at the end (exit status 1) and the other slides' tiles are kept; a path that does "
                    "not exist is an error before any work.",
    )
    p.add_argument("inputs", nargs="+", metavar="SLIDES_OR_DIR", help="slide files and/or folders of slides")
    p.add_argument("--annotations", default=None,
                   help="folder of ASAP XML (SLIDE_STEM.xml) or QuPath GeoJSON (SLIDE_STEM.geojson) files (default: SLIDES_DIR/lesion_annotations, "
                        "else SLIDES_DIR/../lesion_annotations as in CAMELYON16/17, when it exists)")
    p.add_argument("--out", required=True, help="tile store to write (.h5)")
    res = p.add_mutually_exclusive_group()
    res.add_argument("--level", type=int, default=None, help="pyramid level to tile (default 0)")
    res.add_argument("--mpp-target", type=float, default=None,
                     help="tile resolution in um/px instead of a level (e.g. 1.0 for 10x)")
    p.add_argument("--tile-size", type=int, default=256, help="tile side in px (default 256)")
    p.add_argument("--stride", type=int, default=None, help="grid step in px (default: the tile size)")
    p.add_argument("--min-tissue", type=float, default=0.5,
                   help="smallest tissue fraction of a kept tile (default 0.5)")
    p.add_argument("--tumour-threshold", type=float, default=0.5,
                   help="a tile is tumour when more than this fraction is tumour (default 0.5; 0: any tumour)")
    p.add_argument("--center-size", type=int, default=None,
                   help="measure the tumour fraction on the centre CENTER_SIZE px only (PCam: 32 of 96)")
    p.add_argument("--max-negatives-per-slide", type=int, default=None,
                   help="keep at most this many normal tiles per slide, chosen at random with --seed")
    p.add_argument("--seed", type=int, default=0, help="seed of the negative subsampling (default 0)")
    p.add_argument("--mpp", type=float, default=None,
                   help="level-0 um/px for slides whose file does not say it (e.g. 0.243)")
    p.add_argument("--compression", choices=["lzf", "gzip", "none"], default="lzf",
                   help="compression of the tiles: lzf (default, fast to read), gzip (smaller, slower to read)")
    add_worker_options(p, overwrite="start again, discarding an existing store")
    p.set_defaults(func=run)


def run(args) -> int:
    from camelyon.dataset import build_tile_store
    from camelyon.errors import SlideError
    from camelyon.tiling import TileGrid

    # a mistyped path is reported before any work, so that fixing it costs nothing; slides that
    # exist but cannot be read are reported at the end and cost the others nothing
    missing = [i for i in args.inputs if not Path(i).exists()]
    if missing:
        raise SlideError(
            f"{', '.join(missing)}: {'slide file or folder' if len(missing) == 1 else 'slide files or folders'} "
            f"not found; nothing was tiled (fix or leave out {'this path' if len(missing) == 1 else 'these paths'})"
        )
    from camelyon.camelyon16.layout import expand_inputs

    given = list(args.inputs)
    args.inputs = expand_inputs(args.inputs, ("normal", "tumour"), "tiling")
    annotations = args.annotations if args.annotations is not None else _found_annotations(given)
    grid = TileGrid(
        tile_size=args.tile_size,
        stride=args.stride,
        level=args.level if args.mpp_target is None else None,
        um_per_px=args.mpp_target,
        min_tissue=args.min_tissue,
        tumour_threshold=args.tumour_threshold,
        center_size=args.center_size,
    )
    from camelyon.discovery import DiscoveryWarning

    with warnings.catch_warnings(record=True) as caught:
        # per-slide warnings are collected in the report and printed below; only the slide search's own
        # (unreadable folders, symlink loops, broken links) are printed from here
        warnings.simplefilter("always")
        report = build_tile_store(
            args.inputs,
            args.out,
            grid=grid,
            annotations=annotations,
            max_negatives_per_slide=args.max_negatives_per_slide,
            seed=args.seed,
            mpp=args.mpp,
            workers=args.workers,
            scheduler=args.scheduler,
            compression=args.compression,
            compression_level=None,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
    for w in caught:
        if issubclass(w.category, DiscoveryWarning):
            print(f"warning: {w.message}")
    return _print_report(report)


def _found_annotations(inputs):
    """The annotation folder(s) in or next to the slide inputs (printed), merged when there are several."""
    folders = find_annotation_folders(inputs)
    print(f"annotations: {', '.join(map(str, folders))}" if folders else
          "annotations: none (no lesion_annotations folder in or next to the slide folder)")
    if len(folders) == 1:
        return folders[0]
    return _merge_annotation_folders(folders) if folders else None


def _print_report(report) -> int:
    """What the build did (warnings, recomputed and failed slides, the store's contents); the exit status."""
    from camelyon.dataset import TileStore

    for name, messages in sorted(report.warnings.items()):
        for m in messages:
            print(f"warning: {name}: {m}")
    if report.changed:
        print(f"recomputed {count_noun(len(report.changed), 'slide')} whose input changed since the earlier run:")
        for name, what in sorted(report.changed.items()):
            print(f"  {name}: {what}")
    with TileStore(report.path) as store:
        pos = int((store.labels == 1).sum())
        records = store.slide_records
        print(f"wrote {report.path}: {count_noun(len(store), 'tile')} ({pos} tumour) from {count_noun(len(records), 'slide')} "
              f"({len(report.tiled)} tiled now, {len(report.reused)} from an earlier run), "
              f"{store.tile_size} px" + (f" at {store.um_per_px:.3g} um/px" if store.um_per_px == store.um_per_px else ""))
    # a normal slide has no XML, and in CAMELYON17 only some slides are annotated: only a store in which
    # no slide at all was labelled from an XML (CAMELYON16 normal_* slides aside) points to a wrong folder
    unannotated = [r.name for r in records if not r.annotated]
    expected = [n for n in unannotated if n.lower().startswith("normal")]
    if records and len(unannotated) == len(records) and len(expected) < len(unannotated):
        print(f"warning: no annotation XML found for {len(unannotated)} of {count_noun(len(records), 'slide')}; "
              "all their tiles are labelled normal; give --annotations DIR")
    if report.failed:
        print(f"{count_noun(len(report.failed), 'slide')} failed and {'is' if len(report.failed) == 1 else 'are'} "
              "not in the store:")
        for path, error in report.failed:
            print(f"  {path}: {error}" if not error.startswith(str(path)) else f"  {error}")
        return 1
    return 0


def find_annotation_folders(inputs) -> list[Path]:
    """The ``lesion_annotations`` folders that go with slide files and folders, without duplicates.

    For each input the slide folder (the input itself, or the folder of a slide file) is searched
    first, then its parent: CAMELYON17 keeps ``lesion_annotations/`` next to the ``center_<c>/``
    folders, CAMELYON16 next to ``tumor/`` and ``normal/``, and a whole ``training/`` folder or a
    synthetic cohort holds it directly.

    Parameters
    ----------
    inputs : iterable of str or Path
        Slide files and/or folders as given on the command line.

    Returns
    -------
    list of Path
        Existing folders in the order of the inputs (empty when there is none).
    """
    found: dict[Path, Path] = {}
    for item in inputs:
        p = Path(item)
        slide_dir = p if p.is_dir() else p.parent
        for candidate in (slide_dir / "lesion_annotations", slide_dir.parent / "lesion_annotations",
                          slide_dir / "training" / "lesion_annotations"):
            if candidate.is_dir():
                found.setdefault(candidate.resolve(), candidate)
                break
    return list(found.values())


def _merge_annotation_folders(folders: list[Path]) -> dict[str, Path]:
    """Slide stem -> annotation file (ASAP XML, else QuPath GeoJSON) over several folders (the first
    folder that has a stem wins)."""
    merged: dict[str, Path] = {}
    for folder in folders:
        for suffix in (".xml", ".geojson", ".json"):
            for f in sorted(folder.glob(f"*{suffix}")):
                merged.setdefault(f.stem, f)
    return merged
