"""One synthetic slide at CAMELYON's scale, streamed: wall time, CPU time and peak memory per step.

CAMELYON16 slides are about 100,000 x 200,000 px at 0.243 um/px (24 x 49 mm). This benchmark makes one
synthetic slide of ``--width x --height`` px at ``--mpp``, then runs, each step in a fresh process so that
its peak resident memory is its own:

1. ``tissue``: :func:`camelyon.tissue.slide_tissue_mask` at 8 um/px;
2. ``tiles``: ``build_tile_store`` with 96 px tiles at 1 um/px (10x), tissue >= 50 %, one process;
3. ``heatmap``: ``compute_heatmap`` with the tile CNN (seeded random weights: the speed does not depend
   on them), 96 px at 1 um/px, stride 96.

The slide is made (step ``make``, measured too, not part of the pipeline) either by
``benchmarks/real_scale_slide.py`` (``--maker library``, default: painted tiles reused, a few minutes at
full size) or by :mod:`camelyon.synthetic`'s painter (``--maker painter``: every pixel painted, about
1,000 CPU-s at full size). Both write a tiled, JPEG, pyramidal BigTIFF streamed tile by tile.

Slides at two or more sizes (``--scales``) show whether time grows with the area and memory stays
bounded; the per-slide time of the largest run is scaled by area to the full size and extrapolated to the
400 CAMELYON16 slides on 2 cores (one process; two local workers and a 2-worker Dask cluster at the
two-worker speed-ups measured in docs/cluster.md).

Usage (heavy: take the bench lock)::

    flock /work/team/bench.lock nice -n 5 .venv/bin/python benchmarks/bench_real_scale.py --scales 0.3 1.0
    .venv/bin/python benchmarks/bench_real_scale.py --scales 0.1 --out /tmp/rs.json   # a quick try

Sides under 3.5 mm are refused by the synthetic painter (room for a macro-metastasis).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from minicnn.io import write_json  # noqa: E402

_PAINT = """
import json, resource, sys, time
from camelyon.synthetic import plan_slide, render_slide
t = time.process_time()
plan = plan_slide(7, 0, 0, 0, "macro", float(sys.argv[2]), (int(sys.argv[3]), int(sys.argv[4])))
render_slide(plan, sys.argv[1])
print("RESULT", json.dumps({"cpu_s": time.process_time() - t, "maker": "painter",
                            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_LIBRARY = """
import json, resource, sys, time
sys.path.insert(0, "benchmarks")
from real_scale_slide import make_slide
t = time.process_time()
info = make_slide(sys.argv[1], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[2]), seed=7)
print("RESULT", json.dumps({"cpu_s": time.process_time() - t, "maker": "library", **info,
                            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_TISSUE = """
import json, resource, sys, time
from camelyon.slide import Slide
from camelyon.tissue import slide_tissue_mask
t = time.process_time()
with Slide(sys.argv[1]) as s:
    m = slide_tissue_mask(s, 8.0)
print("RESULT", json.dumps({"cpu_s": time.process_time() - t, "tissue_fraction": m.fraction,
                            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_TILES = """
import json, os, resource, sys, time
from camelyon.dataset import build_tile_store
from camelyon.tiling import TileGrid
t = time.process_time()
r = build_tile_store([sys.argv[1]], sys.argv[2], grid=TileGrid(tile_size=96, um_per_px=1.0, min_tissue=0.5),
                     workers=1, progress=False)
print("RESULT", json.dumps({"cpu_s": time.process_time() - t, "tiles": int(r.n_tiles),
                            "store_bytes": os.path.getsize(sys.argv[2]),
                            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_HEATMAP = """
import json, resource, sys, time
from camelyon.heatmap import compute_heatmap
from camelyon.tile_model import TileModel
t = time.process_time()
hm = compute_heatmap(sys.argv[1], TileModel.new(96, 1.0, None, seed=0), stride=96)
print("RESULT", json.dumps({"cpu_s": time.process_time() - t, "tiles": int(hm.tissue.sum()),
                            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

#: Speed-ups of two workers over one on this 2-core machine, measured for the tile-store build in
#: docs/cluster.md (idle machine): two local processes 1.31x, a 2-worker Dask cluster 1.60x.
SPEEDUP_2_LOCAL, SPEEDUP_2_DASK = 1.31, 1.60


def _child(code: str, args: list, threads: int) -> dict:
    env = dict(os.environ)
    for var in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=str(ROOT), env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    out = {"wall_s": time.perf_counter() - t0, "load_average_after": os.getloadavg()[0]}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            out.update(json.loads(line[7:]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--width", type=int, default=100_000)
    ap.add_argument("--height", type=int, default=200_000)
    ap.add_argument("--mpp", type=float, default=0.243)
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0], help="side scale factors to run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--maker", choices=("library", "painter"), default="library",
                    help="how the slide is made: painted tiles reused (fast) or every pixel painted")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "real_scale.json"))
    args = ap.parse_args()
    runs = []
    for scale in args.scales:
        w, h = int(args.width * scale), int(args.height * scale)
        with tempfile.TemporaryDirectory(dir=ROOT / "benchmarks", prefix="real_scale_") as tmp:
            slide, store = Path(tmp) / "big.tif", Path(tmp) / "tiles.h5"
            run = {"scale": scale, "width": w, "height": h, "mpp": args.mpp,
                   "load_average_before": os.getloadavg()[0]}
            print(f"scale {scale}: making {w} x {h} px at {args.mpp} um/px ({args.maker})", flush=True)
            run["make"] = _child(_LIBRARY if args.maker == "library" else _PAINT, [slide, args.mpp, w, h], 1)
            run["bytes"] = slide.stat().st_size
            print(f"  {'make':8s} {run['make']['wall_s']:8.1f} s wall, {run['make']['cpu_s']:8.1f} CPU-s, "
                  f"peak {run['make']['peak_rss_mb']:6.0f} MB, {run['bytes'] / 1e9:.2f} GB", flush=True)
            for name, code, extra in (("tissue", _TISSUE, []), ("tiles", _TILES, [store]),
                                      ("heatmap", _HEATMAP, [])):
                run[name] = _child(code, [slide, *extra], args.threads)
                print(f"  {name:8s} {run[name]['wall_s']:8.1f} s wall, {run[name]['cpu_s']:8.1f} CPU-s, "
                      f"peak {run[name]['peak_rss_mb']:6.0f} MB", flush=True)
            run["load_average_after"] = os.getloadavg()[0]
            runs.append(run)
    full_area = args.width * args.height
    per_slide = {}
    for step in ("tissue", "tiles", "heatmap"):
        # the largest run, scaled by area to the full size
        r = max(runs, key=lambda r: r["width"] * r["height"])
        factor = full_area / (r["width"] * r["height"])
        per_slide[step] = {"wall_s": r[step]["wall_s"] * factor, "cpu_s": r[step]["cpu_s"] * factor}
    one = sum(v["wall_s"] for v in per_slide.values())
    cpu = sum(v["cpu_s"] for v in per_slide.values())
    out = {
        "runs": runs,
        "full_size_per_slide_extrapolated": per_slide,
        "per_slide_wall_s": one,
        "per_slide_cpu_s": cpu,
        "cohort_400_hours": {"one_process_wall": 400 * one / 3600, "one_process_cpu": 400 * cpu / 3600,
                             "two_cores_ideal": 400 * cpu / 3600 / 2,
                             "two_local_workers": 400 * cpu / 3600 / SPEEDUP_2_LOCAL,
                             "two_worker_dask": 400 * cpu / 3600 / SPEEDUP_2_DASK},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, out)
    print(json.dumps(out["cohort_400_hours"], indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
