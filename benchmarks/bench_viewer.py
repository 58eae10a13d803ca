"""Tile latency of ``camelyon view`` against calling ``DeepZoomGenerator.get_tile`` directly, same run.

The server runs as users run it (``camelyon view DATA --port 0`` in its own process); four client
threads, each on its own kept-alive HTTP connection, ask for the tiles a person zooming through a
slide would see: random tiles of the four finest Deep Zoom levels of every slide of a small synthetic
cohort (default 1 patient = 5 slides at 0.5 um/px, 6 x 4 mm, 12288 x 8192 px).

- cold: a fresh server process (no tile in its cache, no slide open), every tile asked for once;
- warm: the same tiles again from the same server (answered from its cache);
- direct: the same tiles produced in this process by ``DeepZoomGenerator.get_tile`` on fresh
  OpenSlide handles, one thread (the cost of a tile without any server), and with four threads
  (the same concurrency as the clients). ``direct+jpeg`` adds the JPEG encoding a server must do.

Latency is per request (client side: send to last byte). The sides alternate repetition by repetition
so that load from other processes hits them alike; figures are medians over repetitions of each
repetition's p50 / p95. Writes benchmarks/results/viewer.json.

Usage::

    .venv/bin/python benchmarks/bench_viewer.py                 # synthesizes the cohort in a temp dir
    .venv/bin/python benchmarks/bench_viewer.py --data DIR      # any slide folder
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from minicnn.io import write_json  # noqa: E402

CLIENTS = 4


def tile_requests(slides: dict, n: int, seed: int) -> list[tuple[str, int, int, int]]:
    """``n`` distinct (stem, level, col, row) among the four finest Deep Zoom levels of the slides."""
    import openslide
    from openslide.deepzoom import DeepZoomGenerator

    rng = np.random.default_rng(seed)
    pool = []
    for stem, path in slides.items():
        with openslide.OpenSlide(str(path)) as osr:
            dz = DeepZoomGenerator(osr, tile_size=254, overlap=1, limit_bounds=False)
            for level in range(dz.level_count - 4, dz.level_count):
                cols, rows = dz.level_tiles[level]
                pool += [(stem, level, c, r) for r in range(rows) for c in range(cols)]
    pick = rng.choice(len(pool), size=min(n, len(pool)), replace=False)
    return [pool[i] for i in pick]


def percentiles(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)), "n": len(a)}


def _in_threads(worker, requests: list, threads: int) -> list[float]:
    """Run ``worker(part)`` on ``threads`` threads at once; the latencies (ms) they return, together.

    Thread i takes every ``threads``-th request from request i on.
    """
    with ThreadPoolExecutor(max_workers=threads) as pool:
        parts = list(pool.map(worker, [requests[i::threads] for i in range(threads)]))
    return [ms for part in parts for ms in part]


def run_clients(port: int, requests, clients: int = CLIENTS) -> list[float]:
    """Latencies (ms) of ``requests`` shared among ``clients`` threads with kept-alive connections."""
    errors = []

    def worker(part):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for stem, level, col, row in part:
            t0 = time.perf_counter()
            conn.request("GET", f"/slide/{stem}_files/{level}/{col}_{row}.jpeg")
            r = conn.getresponse()
            body = r.read()
            mine.append((time.perf_counter() - t0) * 1e3)
            if r.status != 200 or not body:
                errors.append((stem, level, col, row, r.status))
        conn.close()
        return mine

    lat = _in_threads(worker, requests, clients)
    if errors:
        raise RuntimeError(f"{len(errors)} tile requests failed, e.g. {errors[0]}")
    return lat


def start_server(data: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "camelyon", "view", str(data), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        raise RuntimeError(f"camelyon view did not start: {line}{proc.stderr.read()}")
    return proc, int(line.rsplit(":", 1)[1].strip().rstrip("/"))


def direct(slides: dict, requests, threads: int, encode: bool) -> list[float]:
    """Latencies (ms) of ``get_tile`` (and JPEG encoding) on fresh handles, shared among ``threads``."""
    import openslide
    from openslide.deepzoom import DeepZoomGenerator

    handles = {s: openslide.OpenSlide(str(p)) for s, p in slides.items()}
    gens = {s: DeepZoomGenerator(h, tile_size=254, overlap=1, limit_bounds=False) for s, h in handles.items()}

    def worker(part):
        mine = []
        for stem, level, col, row in part:
            t0 = time.perf_counter()
            img = gens[stem].get_tile(level, (col, row))
            if encode:
                img.save(io.BytesIO(), "jpeg", quality=75)
            mine.append((time.perf_counter() - t0) * 1e3)
        return mine

    lat = _in_threads(worker, requests, threads)
    for h in handles.values():
        h.close()
    return lat


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None, help="slide folder (default: synthesize 1 patient)")
    ap.add_argument("--tiles", type=int, default=300, help="distinct tiles per repetition (default 300)")
    ap.add_argument("--repeats", type=int, default=3, help="repetitions (default 3)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "viewer.json"))
    args = ap.parse_args(argv)

    from camelyon.viewer import Catalog

    tmp = None
    if args.data is None:
        from camelyon.synthetic import generate_cohort

        tmp = tempfile.TemporaryDirectory(prefix="bench_viewer_")
        data = Path(tmp.name) / "data"
        print("synthesizing 1 patient (5 slides, 0.5 um/px, 12288 x 8192 px) ...", flush=True)
        generate_cohort(data, n_patients=1, n_centers=1, seed=3, workers=1, progress=False)
    else:
        data = Path(args.data)
    slides = {e.stem: e.path for e in Catalog.from_folders(data).entries.values()}
    runs: dict[str, list[dict]] = {k: [] for k in ("cold", "warm", "direct_1thread", "direct_4threads",
                                                   "direct_jpeg_1thread")}
    for rep in range(args.repeats):
        reqs = tile_requests(slides, args.tiles, seed=rep)
        runs["direct_1thread"].append(percentiles(direct(slides, reqs, 1, encode=False)))
        runs["direct_jpeg_1thread"].append(percentiles(direct(slides, reqs, 1, encode=True)))
        runs["direct_4threads"].append(percentiles(direct(slides, reqs, CLIENTS, encode=False)))
        proc, port = start_server(data)
        try:
            runs["cold"].append(percentiles(run_clients(port, reqs)))
            runs["warm"].append(percentiles(run_clients(port, reqs)))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        print(f"repetition {rep + 1}/{args.repeats}: " + ", ".join(
            f"{k} p50 {v[-1]['p50_ms']:.1f} p95 {v[-1]['p95_ms']:.1f} ms" for k, v in runs.items()), flush=True)
    med = {k: {q: statistics.median(r[q] for r in v) for q in ("p50_ms", "p95_ms")} for k, v in runs.items()}
    peer = med["direct_4threads"]
    result = {
        "benchmark": "viewer tile latency", "clients": CLIENTS, "tiles_per_repetition": args.tiles,
        "repetitions": args.repeats, "slides": len(slides), "data": "synthetic 1 patient" if tmp else str(data),
        "median_of_repetitions": med,
        "ratio_p95_cold_vs_direct_4threads": med["cold"]["p95_ms"] / peer["p95_ms"],
        "ratio_p95_warm_vs_direct_4threads": med["warm"]["p95_ms"] / peer["p95_ms"],
        "ratio_p50_cold_vs_direct_1thread": med["cold"]["p50_ms"] / med["direct_1thread"]["p50_ms"],
        "target_p95_warm_ms": 50.0, "meets_target": med["warm"]["p95_ms"] <= 50.0,
        "runs": runs, "machine": {"cores": os.cpu_count(), "load_average": os.getloadavg(),
                                  "python": platform.python_version()},
    }
    write_json(args.out, result)  # never a half-written results file
    print(f"\n{'':22s}{'p50 ms':>9s}{'p95 ms':>9s}")
    for k, v in med.items():
        print(f"{k:22s}{v['p50_ms']:9.1f}{v['p95_ms']:9.1f}")
    print(f"p95 cold / direct (4 threads) {result['ratio_p95_cold_vs_direct_4threads']:.2f}x, "
          f"warm / direct {result['ratio_p95_warm_vs_direct_4threads']:.2f}x; "
          f"warm p95 target <= 50 ms: {'met' if result['meets_target'] else 'NOT met'}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"wrote {args.out}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
