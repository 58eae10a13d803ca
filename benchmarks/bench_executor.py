"""Per-slide work on 1 and 2 local worker processes and on a 2-worker local Dask cluster.

Builds the same HDF5 tile store from the same synthetic slides three ways and reports tiles/s
(medians of several builds, the three ways alternating run by run so that outside load hits all
alike), and checks that the three stores hold the same tiles.

Usage::

    .venv/bin/python benchmarks/bench_executor.py           # writes benchmarks/results/executor.json
    .venv/bin/python benchmarks/bench_executor.py --data DIR  # an existing cohort
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import h5py  # noqa: E402
import numpy as np  # noqa: E402

from camelyon.dataset import build_tile_store  # noqa: E402
from camelyon.synthetic import generate_cohort  # noqa: E402
from camelyon.tiling import TileGrid  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None, help="cohort folder (default: a synthetic one)")
    p.add_argument("--patients", type=int, default=2, help="synthetic patients (5 slides each)")
    p.add_argument("--size", type=int, default=4096, help="synthetic slide side in px (1 um/px)")
    p.add_argument("--tile-size", type=int, default=96)
    p.add_argument("--runs", type=int, default=3, help="builds per configuration (median)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "executor.json"))
    return p.parse_args(argv)


def tiles_of(path):
    with h5py.File(path, "r") as f:
        return f["tiles"][()], f["labels"][()]


def main(argv=None):
    args = parse_args(argv)
    from distributed import LocalCluster

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        data = Path(args.data) if args.data else work / "cohort"
        if not args.data:
            generate_cohort(data, n_patients=args.patients, n_centers=min(5, args.patients), seed=7,
                            mpp=1.0, size=args.size, workers=2, progress=False)
        grid = TileGrid(tile_size=args.tile_size, level=0, stride=args.tile_size)
        ann = data / "lesion_annotations"
        configs = {"local-1": dict(workers=1), "local-2": dict(workers=2)}
        times = {name: [] for name in [*configs, "dask-2"]}
        n_tiles = {}
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
            configs["dask-2"] = dict(scheduler=cluster.scheduler_address)
            for run in range(args.runs):
                for name, kw in configs.items():
                    out = work / f"{name}-{run}.h5"
                    t0 = time.perf_counter()
                    report = build_tile_store(data, out, grid=grid, annotations=ann, progress=False, **kw)
                    times[name].append(time.perf_counter() - t0)
                    n_tiles[name] = report.n_tiles
                    if report.failed:
                        raise SystemExit(f"{name}: failed slides {report.failed}")
            ref = tiles_of(work / "local-1-0.h5")
            same = all(all(np.array_equal(a, b) for a, b in zip(ref, tiles_of(work / f"{n}-0.h5"), strict=True))
                       for n in configs)
    result = {
        "benchmark": "tile-store build: local processes vs a local Dask cluster",
        "slides": str(data) if args.data else f"synthetic, {args.patients * 5} slides of {args.size} px at 1 um/px",
        "tile_size": args.tile_size, "runs": args.runs, "identical_stores": bool(same),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "load_avg_1min": os.getloadavg()[0]},
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "configs": {},
    }
    for name, ts in times.items():
        med = statistics.median(ts)
        result["configs"][name] = {"seconds_median": med, "seconds_all": ts, "tiles": n_tiles[name],
                                   "tiles_per_s": n_tiles[name] / med}
    base = result["configs"]["local-1"]["seconds_median"]
    for c in result["configs"].values():
        c["speedup_vs_local_1"] = base / c["seconds_median"]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"{'config':10s} {'tiles':>7s} {'median s':>9s} {'tiles/s':>9s} {'speed-up':>9s}")
    for name, c in result["configs"].items():
        print(f"{name:10s} {c['tiles']:7d} {c['seconds_median']:9.2f} {c['tiles_per_s']:9.0f} "
              f"{c['speedup_vs_local_1']:9.2f}")
    print(f"identical stores: {same}; load average {result['machine']['load_avg_1min']:.1f}")


if __name__ == "__main__":
    main()
