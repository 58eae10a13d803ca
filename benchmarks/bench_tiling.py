"""Tiling and tile-store speed against plain OpenSlide reads, measured in the same run.

Measured on a small synthetic cohort (``camelyon.synthetic``; falls back to the flat test slides of
``tests/wsi_factory.py`` when the generator is missing):

1. Tiling throughput in one process: ``camelyon.tiling`` (tissue mask, grid, labels, then reading
   every kept tile as an RGB array) against a plain loop of ``openslide.OpenSlide.read_region``
   over the same tiles (RGBA -> RGB). Overhead = our time / loop time - 1 (target <= 20 %).
2. Building the HDF5 store (tiling + compression + assembly) with 1 and 2 worker processes:
   tiles/s and speed-up.
3. Random minibatches of 64 tiles: ``TileStore.read_batch`` against reading the same tiles from
   the slides with ``Slide.read_region`` (slides kept open), per compression (target >= 10x),
   with the reader's default decode threads and, for LZF, with one thread.
   Also bytes on disk per 1,000 tiles, and the share of tiles whose chunk is stored compressed.

The two sides of each comparison alternate run by run so that load from other processes hits
both alike; figures are medians.

Usage::

    .venv/bin/python benchmarks/bench_tiling.py              # writes benchmarks/results/tiling.json
    .venv/bin/python benchmarks/bench_tiling.py --data DIR   # an existing cohort (CAMELYON17 layout)
"""

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import openslide  # noqa: E402

import camelyon  # noqa: E402
from camelyon.dataset import TileStore, build_tile_store, find_slides  # noqa: E402
from camelyon.slide import Slide  # noqa: E402
from camelyon.tiling import TileGrid, TileReader  # noqa: E402
from minicnn.io import write_json  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None, help="cohort folder (default: generate a synthetic one)")
    p.add_argument("--patients", type=int, default=2, help="synthetic patients (5 slides each)")
    p.add_argument("--size", type=int, default=4096, help="synthetic slide side in px")
    p.add_argument("--mpp", type=float, default=1.0, help="synthetic level-0 um/px")
    p.add_argument("--tile-size", type=int, default=96)
    p.add_argument("--level", type=int, default=0)
    p.add_argument("--runs", type=int, default=5, help="timed runs of the tiling comparison (median)")
    p.add_argument("--build-runs", type=int, default=2, help="timed builds per worker count (median)")
    p.add_argument("--batches", type=int, default=40, help="random minibatches per read measurement")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--work", default=None, help="scratch folder (default: a temporary folder)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tiling.json"))
    return p.parse_args(argv)


def make_cohort(args, work: Path) -> tuple[Path, Path | None, str]:
    if args.data:
        data = Path(args.data)
        ann = data / "lesion_annotations"
        return data, (ann if ann.exists() else None), f"given: {data}"
    try:
        from camelyon.synthetic.cohort import generate_cohort
    except ImportError:
        generate_cohort = None
    cache = Path(tempfile.gettempdir()) / f"camelyon-bench-synth-p{args.patients}-s{args.size}-m{args.mpp}"
    if generate_cohort is not None:
        if not (cache / "stage_labels.csv").exists():
            generate_cohort(cache, args.patients, n_centers=min(5, args.patients), seed=0, mpp=args.mpp,
                            size=(args.size, args.size), workers=2, progress=False, overwrite=True)
        return cache, cache / "lesion_annotations", (
            f"camelyon.synthetic: {args.patients} patient(s) x 5 slides, {args.size} px, {args.mpp} um/px")
    from wsi_factory import SlideSpec
    from wsi_factory import make_cohort as factory_cohort

    specs = {f"patient_000_node_{i}": SlideSpec(width=args.size, height=args.size,
                                                tissue=[(256, 256, args.size - 256, args.size - 256)], seed=i)
             for i in range(5)}
    slides, ann = factory_cohort(work / "factory", specs, mpp=args.mpp)
    return slides, ann, "tests/wsi_factory flat slides (no synthetic generator found)"


def tiling_pass(paths, grid, annotations):
    """Our tiling: tissue, grid, labels, read every kept tile. Returns (seconds, tiles, coords)."""
    from camelyon.annotations import read_asap

    t0 = time.perf_counter()
    n, coords = 0, []
    buf = np.empty((grid.tile_size, grid.tile_size, 3), np.uint8)
    for p in paths:
        xml = annotations / f"{p.stem}.xml" if annotations else None
        with Slide(p) as s:
            table = grid.tiles(s, read_asap(xml) if xml and xml.exists() else None)
            reader = TileReader(s, grid.geometry(s))
            for i in range(len(table)):
                reader.read(table["x"][i], table["y"][i], out=buf)
            n += len(table)
            coords.append((p, table["x"].copy(), table["y"].copy(), int(table["level"][0]) if len(table) else 0))
    return time.perf_counter() - t0, n, coords


def read_only_pass(coords, grid):
    """camelyon's reading path alone (Slide + TileReader) over tables computed beforehand."""
    t0 = time.perf_counter()
    buf = np.empty((grid.tile_size, grid.tile_size, 3), np.uint8)
    for p, xs, ys, _ in coords:
        with Slide(p) as s:
            reader = TileReader(s, grid.geometry(s))
            for x, y in zip(xs, ys, strict=True):
                reader.read(x, y, out=buf)
    return time.perf_counter() - t0


def openslide_pass(coords, size):
    """The peer: a plain read_region loop over the same tiles, RGBA -> RGB."""
    t0 = time.perf_counter()
    n = 0
    buf = np.empty((size, size, 3), np.uint8)
    for p, xs, ys, level in coords:
        osr = openslide.OpenSlide(str(p))
        for x, y in zip(xs, ys, strict=True):
            buf[...] = np.asarray(osr.read_region((int(x), int(y)), level, (size, size)))[..., :3]
            n += 1
        osr.close()
    return time.perf_counter() - t0, n


def main():
    args = parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-tiling-"))
    work.mkdir(parents=True, exist_ok=True)
    data, annotations, source = make_cohort(args, work)
    paths = find_slides([data])
    grid = TileGrid(tile_size=args.tile_size, level=args.level)
    warnings.simplefilter("ignore")
    result = {
        "benchmark": "tiling",
        "camelyon_version": camelyon.__version__,
        "openslide_version": openslide.__library_version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
        "data": source,
        "slides": len(paths),
        "tile_size": args.tile_size,
        "level": args.level,
    }
    print(f"data: {source}; {len(paths)} slides; tiles {args.tile_size} px at level {args.level}")

    # 1. tiling vs plain read_region loop, one process -----------------------------------------
    _, n_tiles, coords = tiling_pass(paths, grid, annotations)  # warm-up (file cache, imports)
    openslide_pass(coords, args.tile_size)
    ours, peer, reads = [], [], []
    for r in range(args.runs):
        order = [0, 1, 2] if r % 2 == 0 else [2, 1, 0]
        for which in order:
            if which == 0:
                ours.append(tiling_pass(paths, grid, annotations)[0])
            elif which == 1:
                reads.append(read_only_pass(coords, grid))
            else:
                peer.append(openslide_pass(coords, args.tile_size)[0])
    t_ours, t_peer, t_read = statistics.median(ours), statistics.median(peer), statistics.median(reads)
    result["tiling"] = {
        "tiles": n_tiles,
        "camelyon_tiles_per_s": n_tiles / t_ours,
        "openslide_loop_tiles_per_s": n_tiles / t_peer,
        "overhead": t_ours / t_peer - 1.0,
        "read_path_only_tiles_per_s": n_tiles / t_read,
        "read_path_overhead": t_read / t_peer - 1.0,
        "per_slide_analysis_ms": 1e3 * max(0.0, t_ours - t_read) / len(paths),
        "runs_s": {"camelyon": ours, "camelyon_read_path_only": reads, "openslide_loop": peer},
        "note": "camelyon = tissue detection, grid, labels, then reading every tile as RGB; "
                "read path only = the same reads over tables computed beforehand; the loop only reads",
    }
    print(f"tiling, 1 process: camelyon {n_tiles / t_ours:,.0f} tiles/s, plain read_region loop "
          f"{n_tiles / t_peer:,.0f} tiles/s, overhead {100 * (t_ours / t_peer - 1):+.1f} % "
          f"(reading alone {100 * (t_read / t_peer - 1):+.1f} %; tissue + grid + labels "
          f"{1e3 * max(0.0, t_ours - t_read) / len(paths):.0f} ms per slide)")

    # 2. store builds with 1 and 2 workers, per compression ---------------------------------------
    builds, sizes, stores = {}, {}, {}
    for comp in ("lzf", "gzip", "none"):
        out = work / f"tiles-{comp}.h5"
        worker_counts = (1, 2) if comp == "lzf" else (2,)
        times = {w: [] for w in worker_counts}
        for _ in range(args.build_runs if comp == "lzf" else 1):
            for w in worker_counts:
                t0 = time.perf_counter()
                report = build_tile_store(paths, out, grid=grid, annotations=annotations, workers=w,
                                          compression=comp, overwrite=True, progress=False)
                times[w].append(time.perf_counter() - t0)
                assert report.ok, report.failed
        with TileStore(out) as s:
            n = len(s)
        with h5py.File(out, "r") as f:  # filter-mask bit 0 set: the chunk is stored as is
            ds = f["tiles"]
            compressed = sum(not ds.id.get_chunk_info(k).filter_mask & 1 for k in range(n)) if comp != "none" else 0
        stores[comp] = out
        sizes[comp] = {"bytes_per_1000_tiles": out.stat().st_size / n * 1000,
                       "raw_bytes_per_1000_tiles": args.tile_size ** 2 * 3 * 1000,
                       "share_of_tiles_compressed": compressed / n}
        builds[comp] = {f"workers_{w}": {"tiles_per_s": n / statistics.median(t), "runs_s": t}
                        for w, t in times.items()}
    lzf = builds["lzf"]
    speedup = lzf["workers_2"]["tiles_per_s"] / lzf["workers_1"]["tiles_per_s"]
    from camelyon.dataset.build import parse_slide_name
    from camelyon.executor import map_slides

    t0 = time.perf_counter()  # what starting 2 worker processes costs, with a trivial task
    list(map_slides(parse_slide_name, ["a.tif", "b.tif"], workers=2, progress=False))
    startup = time.perf_counter() - t0
    result["build"] = {"tiles": n, "by_compression": builds, "speedup_2_workers_lzf": speedup,
                       "pool_startup_s": startup}
    result["disk"] = sizes
    print(f"store build (lzf): 1 worker {lzf['workers_1']['tiles_per_s']:,.0f} tiles/s, 2 workers "
          f"{lzf['workers_2']['tiles_per_s']:,.0f} tiles/s, speed-up {speedup:.2f}x "
          f"(starting 2 workers alone: {startup:.1f} s)")
    for comp, sz in sizes.items():
        print(f"disk ({comp}): {sz['bytes_per_1000_tiles'] / 1e6:.2f} MB per 1,000 tiles "
              f"(raw {sz['raw_bytes_per_1000_tiles'] / 1e6:.2f} MB; "
              f"{100 * sz['share_of_tiles_compressed']:.0f} % of tiles stored compressed)")

    # 3. random minibatches: store vs slides -----------------------------------------------------
    rng = np.random.default_rng(0)
    reads = {}
    with TileStore(stores["lzf"]) as ref:
        batches = [rng.integers(0, len(ref), args.batch_size) for _ in range(args.batches)]
        slide_of = ref.slides
        coords_of = ref.coords
        paths_of = dict(zip(ref.slide_table["name"], ref.slide_table["path"], strict=True))
    open_slides = {name: Slide(p) for name, p in paths_of.items()}
    geo = {name: grid.geometry(s) for name, s in open_slides.items()}
    readers = {name: TileReader(s, geo[name]) for name, s in open_slides.items()}
    stores_open = {comp: TileStore(p) for comp, p in stores.items()}
    stores_open["lzf, 1 thread"] = TileStore(stores["lzf"], threads=1)
    out_buf = np.empty((args.batch_size, args.tile_size, args.tile_size, 3), np.uint8)

    def from_slides(b):
        for k, i in enumerate(b):
            readers[slide_of[i]].read(coords_of[i][0], coords_of[i][1], out=out_buf[k])

    for b in batches[:3]:  # warm-up
        from_slides(b)
        for s in stores_open.values():
            s.read_batch(b, out=out_buf)
    t_slides, t_store = [], {c: [] for c in stores_open}
    for b in batches:
        t0 = time.perf_counter()
        from_slides(b)
        t_slides.append(time.perf_counter() - t0)
        for comp, s in stores_open.items():
            t0 = time.perf_counter()
            s.read_batch(b, out=out_buf)
            t_store[comp].append(time.perf_counter() - t0)
    ms_slides = 1e3 * statistics.median(t_slides)
    for comp, ts in t_store.items():
        ms = 1e3 * statistics.median(ts)
        reads[comp] = {"ms_per_batch": ms, "speedup_vs_slides": ms_slides / ms}
        print(f"random batch of {args.batch_size} ({comp}): store {ms:.2f} ms, slides {ms_slides:.2f} ms, "
              f"{ms_slides / ms:.1f}x faster")
    result["random_reads"] = {"batch_size": args.batch_size, "batches": args.batches,
                              "slides_ms_per_batch": ms_slides, "store": reads}
    for s in list(open_slides.values()):
        s.close()
    for s in stores_open.values():
        s.close()
    result["load_average_at_end"] = list(os.getloadavg())

    out = write_json(args.out, result)
    print(f"wrote {out}")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
