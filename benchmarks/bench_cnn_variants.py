"""Settings of minicnn's fast path against each other, in one process: fusion, Winograd, chunk sizes.

Times the tile CNN's training step (batch 64, first layer without input gradient, as in
``bench_cnn.py``) and inference (batch 256) for each variant, alternating variant by variant in every
round so that a change of load hits them alike, and reports medians. The variants:

- ``fused`` / ``layer-by-layer``: ``Sequential.fuse`` on (the default) and off (minicnn.fusion);
- ``im2col``: ``minicnn.functional.conv_fast.WINOGRAD`` off, so the 3x3 layers with more than 3 input
  channels run im2col + GEMM instead of Winograd F(2x2, 3x3);
- ``chunk-<size>``: ``minicnn.functional.conv_fast.CHUNK_BYTES``, the im2col columns built per task
  (compared with Winograd off, since only im2col layers use it);
- ``wino-<size>``: ``minicnn.functional.conv_fast.WINOGRAD_CHUNK_BYTES``, the Winograd work arrays per task;
- ``after-pause``: the default settings, but each timed step and inference comes right after a 0.3 s pause
  (as in ``bench_cnn.py --warm-steps 0``, where the timed step follows the matrix products' rest).

Every other timed call follows the previous variant's work without a pause.

Usage::

    .venv/bin/python benchmarks/bench_cnn_variants.py                 # writes results/cnn_variants.json
    .venv/bin/python benchmarks/bench_cnn_variants.py --runs 21 --threads 2
"""

import argparse
import os
import time
from pathlib import Path

from bench_env import pin_threads


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=15, help="timed rounds (median; >= 5)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--chunks", default="", help="im2col chunk sizes to compare (MB, comma-separated)")
    p.add_argument("--winograd-chunks", default="0.5,1,2",
                   help="Winograd work-array sizes per task to compare (MB, comma-separated)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "cnn_variants.json"))
    return p.parse_args(argv)


ARGS = _parse_args()
pin_threads(ARGS.threads)  # before NumPy and Numba start their pools

import numpy as np  # noqa: E402

from minicnn.functional import conv_fast  # noqa: E402
from minicnn.io import write_json  # noqa: E402
from minicnn.losses import BCEWithLogits  # noqa: E402
from minicnn.models import tile_cnn  # noqa: E402
from minicnn.optim import SGD  # noqa: E402

#: seconds of idle time before each timed call of the ``after-pause`` variant
PAUSE_S = 0.3


def variants(chunks_mb, winograd_chunks_mb):
    """name -> dict(fuse, chunk_bytes, winograd, winograd_chunk_bytes[, pause_s]). The default is ``fused``."""
    default = {"fuse": True, "chunk_bytes": conv_fast.CHUNK_BYTES, "winograd": conv_fast.WINOGRAD,
               "winograd_chunk_bytes": conv_fast.WINOGRAD_CHUNK_BYTES}
    out = {"fused": default, "layer-by-layer": {**default, "fuse": False},
           "im2col": {**default, "winograd": False}, "after-pause": {**default, "pause_s": PAUSE_S}}
    for mb in chunks_mb:
        out[f"chunk-{mb:g}MB"] = {**default, "winograd": False, "chunk_bytes": int(mb * (1 << 20))}
    for mb in winograd_chunks_mb:
        out[f"wino-{mb:g}MB"] = {**default, "winograd_chunk_bytes": int(mb * (1 << 20))}
    return out


def main():
    args = ARGS
    if args.runs < 5:
        raise SystemExit("bench_cnn_variants: --runs must be at least 5")
    chunks = [float(c) for c in args.chunks.split(",") if c.strip()]
    winograd_chunks = [float(c) for c in args.winograd_chunks.split(",") if c.strip()]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3, 96, 96)).astype(np.float32)
    y = (rng.random((64, 1)) < 0.5).astype(np.float32)
    x_infer = rng.standard_normal((256, 3, 96, 96)).astype(np.float32)
    settings = variants(chunks, winograd_chunks)
    # one model (same weights) per variant: the layers' work arrays are kept per shape, a few at a time, so
    # variants sharing one model would evict each other's arrays and pay for fresh memory every round
    models = {}
    for name in settings:
        models[name] = tile_cnn(rng=0)
        models[name].layers[0].input_grad = False
    loss = BCEWithLogits()
    optimizers = {name: SGD(m.parameters(), lr=1e-3) for name, m in models.items()}
    current = {}

    def use(name):
        chosen = settings[name]
        current["model"], current["opt"] = models[name], optimizers[name]
        models[name].fuse = chosen["fuse"]
        conv_fast.CHUNK_BYTES, conv_fast.WINOGRAD = chosen["chunk_bytes"], chosen["winograd"]
        conv_fast.WINOGRAD_CHUNK_BYTES = chosen["winograd_chunk_bytes"]
        return chosen.get("pause_s", 0.0)

    def train():
        model = current["model"]
        loss.forward(model.forward(x), y)
        model.backward(loss.backward())
        current["opt"].step()

    def infer():
        model = current["model"]
        model.eval()
        model.forward(x_infer)
        model.train()

    times = {name: {"train": [], "infer": []} for name in settings}
    load_before = os.getloadavg()[0]
    try:
        for name in settings:  # warm-up (compiles, allocates every variant's buffers)
            use(name)
            train()
            infer()
        for _ in range(args.runs):
            for name in settings:
                pause = use(name)
                for kind, fn in (("train", train), ("infer", infer)):
                    if pause:
                        time.sleep(pause)
                    t0 = time.perf_counter()
                    fn()
                    times[name][kind].append((time.perf_counter() - t0) * 1e3)
    finally:
        use("fused")
    result = {
        "benchmark": "bench_cnn_variants: fusion, Winograd and chunk sizes of minicnn's fast path, one process, "
                     "variants alternating round by round",
        "threads": args.threads, "runs": args.runs, "default": settings["fused"],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_1min": load_before, "load_average_1min_after": os.getloadavg()[0],
        "variants": {},
    }
    print(f"tile_cnn, {args.threads} threads, medians of {args.runs} rounds (load {load_before:.1f})")
    base = np.median(times["fused"]["train"]), np.median(times["fused"]["infer"])
    for name, chosen in settings.items():
        t_train, t_infer = (float(np.median(times[name][k])) for k in ("train", "infer"))
        result["variants"][name] = {
            **chosen, "train_step_ms": t_train, "infer_batch_ms": t_infer,
            "infer_images_per_s": 256 / (t_infer / 1e3),
            "train_time_over_default": t_train / base[0], "infer_time_over_default": t_infer / base[1],
            "train_step_ms_all": times[name]["train"], "infer_batch_ms_all": times[name]["infer"],
        }
        print(f"{name:<16} training step {t_train:7.1f} ms ({t_train / base[0]:.3f} of the default)   "
              f"inference {256 / (t_infer / 1e3):7.0f} img/s ({t_infer / base[1]:.3f})")
    print(f"wrote {write_json(args.out, result)}")


if __name__ == "__main__":
    main()
