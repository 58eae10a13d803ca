"""Heatmap throughput: ``camelyon.heatmap.compute_heatmap`` with minicnn against PyTorch.

A slide with known tissue is written with ``tests/wsi_factory.py`` (pyramidal JPEG TIFF,
0.5 um/px at level 0). A tile model (``minicnn.models.tile_cnn``, seeded random weights, 96 px tiles
at 1 um/px) computes its heatmap. The PyTorch run uses a copy of the same weights inside the
same ``compute_heatmap`` (same tissue grid, same region reads, same input preparation), so the
only difference is the network's forward pass. Measured, alternating the two libraries run by run
(medians after a warm-up run):

- end to end: tissue mask, reading, preparation and inference, in tiles/s;
- inference only: the network on the same (N, 3, 96, 96) batch of the slide's tiles, in tiles/s.

The heatmaps of both libraries are compared (largest probability difference).

Usage::

    .venv/bin/python benchmarks/bench_heatmap.py          # writes benchmarks/results/bench_heatmap.json
    .venv/bin/python benchmarks/bench_heatmap.py --runs 5 --stride 48 --threads 2
"""

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from bench_env import pin_threads


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=5, help="timed runs per library (median)")
    p.add_argument("--threads", type=int, default=2, help="threads for both libraries")
    p.add_argument("--tile-size", type=int, default=96)
    p.add_argument("--stride", type=int, default=None, help="heatmap stride in tile px (default: tile size)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--width", type=int, default=4096, help="level-0 slide width (px at 0.5 um/px)")
    p.add_argument("--height", type=int, default=3072)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "bench_heatmap.json"))
    return p.parse_args(argv)


ARGS = _parse_args()
ROOT = pin_threads(ARGS.threads, tests=True)

import numpy as np  # noqa: E402
from torch_peer import torch_network  # noqa: E402

from camelyon.heatmap import compute_heatmap  # noqa: E402
from camelyon.tile_model import TileModel  # noqa: E402
from minicnn.io import write_json  # noqa: E402


def torch_peer(network, torch):
    """The minicnn network rebuilt in PyTorch with the same weights, in evaluation mode."""
    return torch_network(network, torch, "bench_heatmap").eval()


class TorchTileModel(TileModel):
    """A TileModel whose forward pass runs in PyTorch (everything else is shared)."""

    torch = None
    torch_net = None

    def predict_logits(self, tiles, batch_size=128, normalize=True):
        out = np.empty(len(tiles), np.float32)
        buf = None
        with self.torch.inference_mode():
            for start in range(0, len(tiles), batch_size):
                buf = self.prepare(tiles[start:start + batch_size], normalize, out=buf)
                x = buf[: min(batch_size, len(tiles) - start)]
                out[start:start + len(x)] = self.torch_net(self.torch.from_numpy(x)).numpy().reshape(-1)
        return out


def main():
    import torch
    from wsi_factory import SlideSpec, write_slide

    args = ARGS
    torch.set_num_threads(args.threads)
    w, h = args.width, args.height
    spec = SlideSpec(width=w, height=h, tissue=[(w // 8, h // 8, 7 * w // 8, 7 * h // 8)],
                     lesions=[[(w // 3, h // 3), (w // 2, h // 3), (w // 2, h // 2), (w // 3, h // 2)]], seed=0)
    tmp = Path(tempfile.mkdtemp(prefix="bench_heatmap_"))
    slide = write_slide(tmp / "bench_slide.tif", spec, mpp=0.5)
    model = TileModel.new(tile_size=args.tile_size, um_per_px=1.0, level=1, seed=0)
    tmodel = TorchTileModel(model.network, model.tile_size, model.um_per_px, model.level, None,
                            model.input_mean, model.input_std)
    tmodel.torch, tmodel.torch_net = torch, torch_peer(model.network, torch)

    runners = {"minicnn": model, "pytorch": tmodel}
    kw = {"stride": args.stride, "batch_size": args.batch_size}
    maps = {name: compute_heatmap(slide, m, **kw) for name, m in runners.items()}  # warm-up
    n_tiles = maps["minicnn"].extra["tiles"]
    diff = float(np.abs(maps["minicnn"].probability - maps["pytorch"].probability).max())
    e2e = {name: [] for name in runners}
    for _ in range(args.runs):
        for name, m in runners.items():
            t0 = time.perf_counter()
            compute_heatmap(slide, m, **kw)
            e2e[name].append(time.perf_counter() - t0)

    # inference only, on the slide's own tiles
    from camelyon.slide import Slide

    hm = maps["minicnn"]
    rows, cols = np.nonzero(hm.tissue)
    pick = np.linspace(0, len(rows) - 1, min(len(rows), args.batch_size)).astype(int)
    t = model.tile_size
    with Slide(slide) as s:
        tiles = np.stack([s.read_region((int(c * hm.stride_level0), int(r * hm.stride_level0)), hm.level, (t, t))
                          for r, c in zip(rows[pick], cols[pick], strict=True)])
    x = model.prepare(tiles)
    infer = {"minicnn": [], "pytorch": []}
    model.network.eval()
    model.network.forward(x)
    with torch.inference_mode():
        tx = torch.from_numpy(x)
        tmodel.torch_net(tx)
        for _ in range(args.runs):
            t0 = time.perf_counter()
            model.network.forward(x)
            infer["minicnn"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            tmodel.torch_net(tx)
            infer["pytorch"].append(time.perf_counter() - t0)

    e2e_rate = {k: n_tiles / float(np.median(v)) for k, v in e2e.items()}
    inf_rate = {k: len(x) / float(np.median(v)) for k, v in infer.items()}
    result = {
        "benchmark": "slide heatmap throughput, minicnn vs PyTorch (same weights, same tiles)",
        "slide_px_level0": [w, h], "mpp_level0": 0.5, "tile_size": t, "um_per_px": 1.0,
        "stride": hm.stride, "tiles": n_tiles, "batch_size": args.batch_size, "threads": args.threads,
        "runs": args.runs, "max_probability_difference": diff,
        "end_to_end_tiles_per_s": e2e_rate,
        "end_to_end_seconds_all": e2e,
        "inference_tiles_per_s": inf_rate,
        "inference_seconds_all": infer,
        "ratio_end_to_end_time_minicnn_over_pytorch": e2e_rate["pytorch"] / e2e_rate["minicnn"],
        "ratio_inference_time_minicnn_over_pytorch": inf_rate["pytorch"] / inf_rate["minicnn"],
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "numpy": np.__version__,
                    "torch": torch.__version__, "load_average": list(os.getloadavg())},
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(f"heatmap of a {w}x{h} px slide: {n_tiles} tiles of {t} px (stride {hm.stride}), {args.threads} threads, "
          f"median of {args.runs} runs; max |p_minicnn - p_torch| = {diff:.1e}")
    print(f"{'library':<10}{'end-to-end tiles/s':>20}{'inference tiles/s':>20}")
    for k in runners:
        print(f"{k:<10}{e2e_rate[k]:>20.1f}{inf_rate[k]:>20.1f}")
    print(f"time ratio minicnn/PyTorch: end to end {result['ratio_end_to_end_time_minicnn_over_pytorch']:.2f}, "
          f"inference {result['ratio_inference_time_minicnn_over_pytorch']:.2f} (target <= 1.5)")
    out = write_json(args.out, result)
    print(f"wrote {out}")
    for p in tmp.iterdir():
        p.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    main()
