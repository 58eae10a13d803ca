"""Cost of the per-tile CRC-32 check on the tile store's fast read path, measured in the same run.

A store of textured 96 px and 256 px tiles (LZF, the default) is read in random minibatches of
64 tiles with ``TileStore(path, verify=True)`` (the default: every tile's stored bytes checked
against its CRC-32 before decoding) and ``verify=False``; the two alternate batch by batch so
that load from other processes hits both alike. Figures are medians over batches and repeats.

Usage::

    .venv/bin/python benchmarks/bench_checksums.py      # writes benchmarks/results/checksums.json
"""

import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from camelyon.dataset import TileStore  # noqa: E402
from camelyon.dataset.store import PartWriter, SlideRecord, assemble_store  # noqa: E402

N_TILES = 2000
BATCH = 64
BATCHES = 60
REPEATS = 5


def textured_tiles(n, size, rng):
    """Pink tissue-like tiles with noise and a smooth blob: they compress about as real tiles do."""
    base = rng.normal((226, 150, 196), 14, size=(n, size, size, 3))
    yy, xx = np.mgrid[:size, :size] / size
    blob = np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * 8)[None, :, :, None] * rng.uniform(0, 80, (n, 1, 1, 1))
    return np.clip(base - blob, 0, 255).astype(np.uint8)


def build(path: Path, size: int, rng) -> None:
    tiles = textured_tiles(N_TILES, size, rng)
    table = np.zeros(N_TILES, dtype=[("x", "i8"), ("y", "i8"), ("label", "i1"), ("tissue_fraction", "f4"),
                                     ("tumour_fraction", "f4")])
    rec = SlideRecord(name="bench", path="bench.tif", patient="bench", centre=0, count=N_TILES)
    part = path.with_suffix(".part.h5")
    with PartWriter(part, N_TILES, size, "lzf") as w:
        for i in range(N_TILES):
            w.write_tile(i, tiles[i])
        w.commit(table, rec, "{}")
    assemble_store(path, [(rec, part, 0)], tile_size=size, compression="lzf", compression_level=None,
                   attrs={"params": "{}", "level": 0, "um_per_px": 1.0, "failed": "[]"})


def measure(path: Path, rng) -> dict:
    stores = {True: TileStore(path, verify=True), False: TileStore(path, verify=False)}
    assert stores[True]._chunks is not None, "fast path not in use"
    size = stores[True].tile_size
    out = np.empty((BATCH, size, size, 3), np.uint8)
    times = {True: [], False: []}
    for _ in range(REPEATS):
        for _ in range(BATCHES):
            idx = rng.integers(0, N_TILES, BATCH)
            for verify in (True, False) if rng.random() < 0.5 else (False, True):
                t0 = time.perf_counter()
                stores[verify].read_batch(idx, out=out)
                times[verify].append(time.perf_counter() - t0)
    for s in stores.values():
        s.close()
    on, off = statistics.median(times[True]), statistics.median(times[False])
    return {"tile_px": size, "batch": BATCH, "ms_per_batch_verify": round(on * 1e3, 3),
            "ms_per_batch_no_verify": round(off * 1e3, 3), "overhead": round(on / off - 1, 4)}


def main() -> None:
    rng = np.random.default_rng(0)
    results = []
    with tempfile.TemporaryDirectory() as d:
        for size in (96, 256):
            path = Path(d) / f"store_{size}.h5"
            build(path, size, rng)
            results.append(measure(path, rng))
            print(results[-1])
    out = ROOT / "benchmarks" / "results" / "checksums.json"
    out.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                               "n_tiles": N_TILES, "batches": BATCHES, "repeats": REPEATS,
                               "results": results}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
