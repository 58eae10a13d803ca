"""Start-up time of a fresh install: the first run (Numba compiles, Python writes bytecode) and warm runs.

Copies this checkout's ``minicnn`` and ``camelyon`` packages (without any ``__pycache__``) to a
temporary folder, as a fresh install would have them, and times in new processes:

- ``camelyon info SLIDE`` on a small test slide: the first run, then ``--warm`` more runs (median);
- one training step of the tile CNN (``minicnn.models.tile_cnn``, 2 tiles of 96 px) in a new
  process: this is where the convolution and pooling kernels compile on the first run.

Each process runs with ``MINICNN_COMPILE_NOTICE=always`` so that the notice line is recorded when a
kernel compiles. Writes ``benchmarks/results/startup.json``.

Usage::

    .venv/bin/python benchmarks/bench_startup.py --warm 3
    .venv/bin/python benchmarks/bench_startup.py --warm 5 --info-only --base 6d81fd2 --out /tmp/startup.json

``--base REV`` also times ``camelyon info`` from git revision REV's packages in the same run (before /
after); ``--info-only`` skips the training step.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from minicnn.io import write_json

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

STEP = """
import numpy as np, minicnn
from minicnn.models import tile_cnn
from minicnn.losses import BCEWithLogits
m = tile_cnn(rng=0); loss = BCEWithLogits()
x = np.zeros((2, 3, 96, 96), np.float32); y = np.zeros((2, 1), np.float32)
loss.forward(m.forward(x), y); m.backward(loss.backward())
print(minicnn.__file__)
"""


def _timed(cmd, env, cwd):
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"bench_startup: {' '.join(cmd[:4])} failed:\n{proc.stderr[-3000:]}")
    return {"seconds": seconds, "notice": "compiling the Numba kernels" in proc.stderr,
            "stdout_tail": proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []}


def measure(name, cmd, env, warm, cwd):
    first = _timed(cmd, env, cwd)
    return _row(name, first, [_timed(cmd, env, cwd) for _ in range(warm)])


def _row(name, first, warms):
    row = {"first_s": first["seconds"], "first_printed_notice": first["notice"],
           "warm_s_median": statistics.median(w["seconds"] for w in warms),
           "warm_s_all": [w["seconds"] for w in warms], "warm_printed_notice": any(w["notice"] for w in warms),
           "stdout_tail": first["stdout_tail"]}
    print(f"{name}: first run {row['first_s']:.1f} s (notice: {row['first_printed_notice']}), "
          f"warm {row['warm_s_median']:.1f} s (notice: {row['warm_printed_notice']})", flush=True)
    return row


def _copy_packages(dest, revision=None):
    """``minicnn`` and ``camelyon`` of this checkout (or of git `revision`) in ``dest``, without bytecode."""
    dest.mkdir(parents=True)
    if revision is None:
        for package in ("minicnn", "camelyon"):
            shutil.copytree(ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__"))
        return
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "minicnn", "camelyon"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--warm", type=int, default=3, help="warm runs after the first (median)")
    p.add_argument("--base", default=None,
                   help="git revision whose `camelyon info` start-up is measured too, in the same run (key camelyon_info_base)")
    p.add_argument("--info-only", action="store_true", help="skip the tile CNN's first step (no Numba compilation)")
    p.add_argument("--out", default=str(HERE / "results" / "startup.json"))
    args = p.parse_args(argv)
    from wsi_factory import SlideSpec, write_slide

    load = os.getloadavg()
    result = {"benchmark": "start-up of a fresh copy: first run vs warm runs"}
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        tmp = Path(tmp)
        _copy_packages(tmp / "src")
        slide = tmp / "slide.tif"
        write_slide(slide, SlideSpec(width=2048, height=1536, tissue=[(256, 256, 1536, 1024)]), mpp=0.5)
        copies = {"camelyon_info": tmp / "src"}
        if args.base:
            _copy_packages(tmp / "base", args.base)
            copies["camelyon_info_base"] = tmp / "base"
            result["base"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", args.base], check=True,
                                            capture_output=True, text=True).stdout.strip()
        runs = {}
        for key, src in copies.items():  # first runs, then the warm runs alternating between the copies
            env = dict(os.environ, PYTHONPATH=str(src), MINICNN_COMPILE_NOTICE="always")
            env.pop("NUMBA_CACHE_DIR", None)
            # run from the copy's folder: "python -c" and "-m" put the current folder first on sys.path
            runs[key] = ([sys.executable, "-m", "camelyon", "info", str(slide)], env, src, [])
            runs[key][3].append(_timed(*runs[key][:3]))
        for _ in range(args.warm):
            for cmd, env, src, timings in runs.values():
                timings.append(_timed(cmd, env, src))
        for key, (_, _, _, timings) in runs.items():
            result[key] = _row(key.replace("_", " "), timings[0], timings[1:])
        if not args.info_only:
            env = dict(os.environ, PYTHONPATH=str(tmp / "src"), MINICNN_COMPILE_NOTICE="always")
            env.pop("NUMBA_CACHE_DIR", None)
            step = measure("tile CNN first step", [sys.executable, "-c", STEP], env, args.warm, tmp / "src")
            if not step["stdout_tail"] or not step["stdout_tail"][0].startswith(str(tmp)):
                raise SystemExit(f"bench_startup: the copy was not the minicnn imported ({step['stdout_tail']})")
            result["tile_cnn_first_step"] = step
    result.update({"warm_runs": args.warm, "load_average_before": list(load),
                   "load_average_after": list(os.getloadavg()), "cpu_count": os.cpu_count(),
                   "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    out = write_json(args.out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
