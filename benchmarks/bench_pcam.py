"""PatchCamelyon training throughput: the tile CNN trained from PCam's HDF5 file, against the same
training from tiles held in memory (the peer), and the time one epoch of PCam's 262,144 training
tiles would take.

A folder in exactly PCam's layout is written (``camelyonpatch_level_2_split_*_{x,y}.h5``, 96 x 96
tiles, contiguous uint8 as the unpacked download; tiles drawn from a seeded generator: the speed does
not depend on what they show). Per run, ``--steps`` minibatches of ``--batch-size`` tiles are trained
(class-balanced, no augmentation, minicnn's reference tile CNN) once streamed from the file
(:class:`camelyon.dataset.pcam.PCamTiles`) and once from a NumPy array, alternating; medians of
``--runs`` runs. Reading alone (64 random tiles from the file) is timed too. Then the command itself,
``camelyon train --pcam DIR --epochs 1 --steps-per-epoch STEPS`` (in this process, through
``camelyon.cli.main``: validation and test splits of ``--eval-tiles`` tiles each), ``--runs`` times: its
wall time and the training tiles/s the command prints (median epoch).

Usage (heavy: take the bench lock)::

    flock /work/team/bench.lock nice -n 5 .venv/bin/python benchmarks/bench_pcam.py   # -> results/pcam.json
    .venv/bin/python benchmarks/bench_pcam.py --runs 5 --steps 30 --threads 2
"""

import argparse
import contextlib
import io
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

from bench_env import pin_threads


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--steps", type=int, default=20, help="minibatches per timed run")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--tiles", type=int, default=4096, help="training tiles written to the PCam-layout file")
    p.add_argument("--eval-tiles", type=int, default=512, help="valid and test tiles for the command runs")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "pcam.json"))
    return p.parse_args(argv)


ARGS = _parse_args()
ROOT = pin_threads(ARGS.threads)

import numpy as np  # noqa: E402

from camelyon.cli import main as camelyon_main  # noqa: E402
from camelyon.dataset.pcam import PCAM_UM_PER_PX, PCamSplit, write_pcam_split  # noqa: E402
from camelyon.training import TileArrays, TrainingConfig, train_tile_model  # noqa: E402
from minicnn.io import write_json  # noqa: E402

PCAM_TRAIN_TILES = 262_144


def _tiles(n, rng):
    labels = (np.arange(n) % 2).astype(np.uint8)
    tiles = rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)
    return tiles, labels


def _train_once(train, steps, batch_size, seed):
    cfg = TrainingConfig(epochs=1, batch_size=batch_size, steps_per_epoch=steps, seed=seed)
    t0 = time.perf_counter()
    res = train_tile_model(train, None, cfg, None, um_per_px=PCAM_UM_PER_PX, progress=False)
    return steps * batch_size / (time.perf_counter() - t0), res.history["tiles_per_s"][0]


def _loop_runs(folder, tiles, labels, rng) -> tuple[dict, list]:
    """Training loop alone, streamed from the file and from memory, alternating; then batch reads alone."""
    split = PCamSplit(folder, "train")
    try:
        in_memory = TileArrays(tiles, labels)
        streamed = TileArrays(split.tiles, split.labels)
        _train_once(in_memory, 2, ARGS.batch_size, 99)  # warm-up: Numba compilation
        results = {"streamed": [], "in_memory": [], "streamed_loop": [], "in_memory_loop": []}
        for run in range(ARGS.runs):
            for name, data in (("streamed", streamed), ("in_memory", in_memory)):
                total, loop = _train_once(data, ARGS.steps, ARGS.batch_size, run)
                results[name].append(total)
                results[f"{name}_loop"].append(loop)
                print(f"run {run + 1} {name:9s} {total:7.1f} tiles/s", flush=True)
        reads = []
        for _ in range(20):
            idx = rng.choice(len(split), ARGS.batch_size, replace=False)
            t0 = time.perf_counter()
            split.read_batch(idx)
            reads.append(ARGS.batch_size / (time.perf_counter() - t0))
    finally:
        split.close()
    return results, reads


def _command_runs(folder) -> dict:
    """``camelyon train --pcam`` itself, one epoch of ``--steps`` minibatches, ``--runs`` times."""
    out = {"wall_s": [], "epoch_tiles_per_s": [], "load_average": []}
    for run in range(ARGS.runs):
        model = Path(folder) / f"model_{run}.npz"
        text = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(text):
            status = camelyon_main(["train", "--pcam", str(folder), "--out", str(model), "--epochs", "1",
                                    "--steps-per-epoch", str(ARGS.steps), "--batch-size", str(ARGS.batch_size),
                                    "--seed", str(run), "--quiet"])
        wall = time.perf_counter() - t0
        said = re.search(r"([\d.]+) training tiles/s", text.getvalue())
        if status != 0 or said is None:
            raise RuntimeError(f"camelyon train --pcam exited {status}: {text.getvalue()[-500:]}")
        out["wall_s"].append(wall)
        out["epoch_tiles_per_s"].append(float(said.group(1)))
        out["load_average"].append(os.getloadavg()[0])
        print(f"command run {run + 1}: {wall:.1f} s, epoch {out['epoch_tiles_per_s'][-1]} tiles/s", flush=True)
    return out


def main() -> int:
    rng = np.random.default_rng(0)
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_pcam_") as tmp:
        tiles, labels = _tiles(ARGS.tiles, rng)
        write_pcam_split(tmp, "train", tiles, labels)
        for split_name in ("valid", "test"):
            write_pcam_split(tmp, split_name, *_tiles(ARGS.eval_tiles, rng))
        results, reads = _loop_runs(tmp, tiles, labels, rng)
        command = _command_runs(tmp)
    med = {k: float(np.median(v)) for k, v in results.items()}
    cmd_tps = float(np.median(command["epoch_tiles_per_s"]))
    out = {
        "tiles_per_s_streamed": med["streamed"],
        "tiles_per_s_in_memory": med["in_memory"],
        "streamed_over_in_memory": med["streamed"] / med["in_memory"],
        "read_tiles_per_s": float(np.median(reads)),
        "epoch_seconds_262144": PCAM_TRAIN_TILES / med["streamed"],
        "epoch_hours_262144": PCAM_TRAIN_TILES / med["streamed"] / 3600,
        "command_epoch_tiles_per_s": cmd_tps,
        "command_wall_s": float(np.median(command["wall_s"])),
        "command_epoch_hours_262144": PCAM_TRAIN_TILES / cmd_tps / 3600,
        "runs": results,
        "command_runs": command,
        "settings": vars(ARGS),
        "machine": {"cpus": os.cpu_count(), "load_average_1min_at_start": load_start,
                    "load_average_1min_at_end": os.getloadavg()[0], "python": platform.python_version()},
    }
    write_json(ARGS.out, out)
    print(f"training from PCam's file {out['tiles_per_s_streamed']:.1f} tiles/s, from memory "
          f"{out['tiles_per_s_in_memory']:.1f} tiles/s (ratio {out['streamed_over_in_memory']:.2f}); reading "
          f"{out['read_tiles_per_s']:.0f} tiles/s; one epoch of 262,144 tiles: {out['epoch_hours_262144']:.1f} h; "
          f"the command's epoch {cmd_tps:.1f} tiles/s "
          f"(load average {load_start:.1f}-{out['machine']['load_average_1min_at_end']:.1f} on {os.cpu_count()} cores)")
    print(f"wrote {ARGS.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
