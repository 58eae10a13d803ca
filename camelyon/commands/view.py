"""``camelyon view``: a web viewer of the slides of a folder, with a run's heatmaps and predictions."""

from __future__ import annotations

from camelyon.messages import count_noun


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "view",
        help="web viewer: zoom slides with annotations, heatmaps, detections and a ruler",
        description="Serve the slides under DATA_DIR (CAMELYON16/17 style, real or synthetic) to a web page that "
                    "pans and zooms from the whole node to level 0 (Deep Zoom tiles), lists the slides with centre, "
                    "reference label and stage, and overlays lesion annotations (ASAP XML, QuPath GeoJSON), the "
                    "tissue outline and, with --run, predicted labels and stages, features, heatmaps, predicted "
                    "lesions, the tile grid and detections. A ruler measures lesions in mm. Read-only; binds to "
                    "127.0.0.1 unless --host says otherwise. Stop with Ctrl-C.",
    )
    p.add_argument("data", metavar="DATA_DIR", help="folder of slides (searched at any depth), or one slide file")
    p.add_argument("--run", default=None, metavar="RUN_DIR",
                   help="folder written by 'camelyon pipeline' (heatmaps/, predictions, features.csv, tiles.h5)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port)")
    p.add_argument("--mpp", type=float, default=None, help="level-0 um/px for slides that do not record it")
    p.add_argument("--cache-mb", type=int, default=256, help="memory for cached tiles in MB (default 256)")
    p.add_argument("--verbose", action="store_true", help="log every request")
    p.set_defaults(func=run)


def run(args) -> int:
    from camelyon.errors import CamelyonError
    from camelyon.viewer.catalog import Catalog
    from camelyon.viewer.server import ViewerServer

    if not 0 <= args.port <= 65535:
        raise CamelyonError(f"--port must be between 0 and 65535, got {args.port}")
    if args.mpp is not None and not args.mpp > 0:
        raise CamelyonError(f"--mpp must be > 0 um/px, got {args.mpp}")
    if args.cache_mb < 0:
        raise CamelyonError(f"--cache-mb must be >= 0, got {args.cache_mb}")
    catalog = Catalog.from_folders(args.data, args.run)
    server = ViewerServer(catalog, args.host, args.port, mpp=args.mpp, cache_bytes=args.cache_mb << 20,
                          quiet=not args.verbose)
    for w in catalog.warnings:
        print(f"warning: {w}")
    print(f"serving {count_noun(len(catalog), 'slide')} from {args.data}"
          + (f" with run {args.run}" if args.run else "") + f" at {server.url}", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: anyone who can reach this machine can view these slides", flush=True)
    print("press Ctrl-C to stop", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.httpd.server_close()
    return 0
