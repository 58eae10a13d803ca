"""Speed of the reference tile CNN: minicnn against PyTorch (CPU) in the same run.

Model: ``minicnn.models.tile_cnn`` (four 3x3 convolutions with ReLU, three 2x2 max pools, global
average pooling, one dense logit) on 3 x 96 x 96 tiles. Measured:

- training step, batch 64: forward + BCE-with-logits + backward + one SGD step (ms),
- inference, batch 256: forward in evaluation mode (images/s).

Both libraries get the same weights and inputs, 2 threads (``NUMBA_NUM_THREADS``, OpenBLAS and
``torch.set_num_threads``), float32. The runs alternate between the two libraries so that load
from other processes hits both alike; the figures are medians after warm-up. The first
convolution skips its input gradient in both (PyTorch does not compute it for an input that
does not require grad; minicnn: ``Conv2D.input_grad = False``).

Usage::

    .venv/bin/python benchmarks/bench_cnn.py            # prints a table, writes benchmarks/results/cnn.json
    .venv/bin/python benchmarks/bench_cnn.py --runs 9 --threads 2
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=7, help="timed runs per measurement (median; >= 5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first")
    p.add_argument("--threads", type=int, default=2, help="threads for both libraries")
    p.add_argument("--train-batch", type=int, default=64)
    p.add_argument("--infer-batch", type=int, default=256)
    p.add_argument("--size", type=int, default=96, help="tile side (px)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "cnn.json"))
    p.add_argument("--no-torch", action="store_true", help="minicnn only (no ratios)")
    p.add_argument("--first-input-grad", action="store_true",
                   help="minicnn computes the first layer's input gradient too (PyTorch never does)")
    return p.parse_args(argv)


ARGS = _parse_args()
# thread counts must be fixed before numpy/numba/torch start their pools
for var in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from torch_peer import torch_network  # noqa: E402

from minicnn.io import write_json  # noqa: E402
from minicnn.layers import Conv2D, Dense  # noqa: E402
from minicnn.losses import BCEWithLogits  # noqa: E402
from minicnn.models import tile_cnn  # noqa: E402
from minicnn.optim import SGD  # noqa: E402


def conv_flops(model, input_shape):
    """Multiply-add FLOPs (2 per MAC) of the convolutions and dense layers for one sample.

    Returns
    -------
    forward : float
        FLOPs of one forward pass.
    first_input_grad : float
        FLOPs of the first layer's input gradient (skipped in training by both libraries).
    """
    shape = tuple(input_shape)
    forward = 0.0
    first = None
    for layer in model.layers:
        out_shape = layer.output_shape(shape)
        if isinstance(layer, Conv2D):
            k = layer.kernel_size
            f = 2.0 * out_shape[0] * out_shape[1] * out_shape[2] * layer.in_channels * k * k
        elif isinstance(layer, Dense):
            f = 2.0 * layer.in_features * layer.out_features
        else:
            f = 0.0
        if first is None and f:
            first = f
        forward += f
        shape = out_shape
    return forward, first or 0.0


def build_torch(model, torch):
    """The same network in PyTorch with minicnn's weights copied in."""
    return torch_network(model, torch, "bench_cnn")


def median_ms(times):
    return float(np.median(times) * 1e3)


def main():
    args = ARGS
    if args.runs < 5:
        raise SystemExit("bench_cnn: --runs must be at least 5")
    rng = np.random.default_rng(0)
    size = args.size
    x_train = rng.standard_normal((args.train_batch, 3, size, size)).astype(np.float32)
    y_train = (rng.random((args.train_batch, 1)) < 0.5).astype(np.float32)
    x_infer = rng.standard_normal((args.infer_batch, 3, size, size)).astype(np.float32)

    model = tile_cnn(rng=0)
    model.layers[0].input_grad = bool(args.first_input_grad)
    loss = BCEWithLogits()
    opt = SGD(model.parameters(), lr=1e-3)

    def mini_train():
        scores = model.forward(x_train)
        loss.forward(scores, y_train)
        model.backward(loss.backward())
        opt.step()

    def mini_infer():
        return model.forward(x_infer)

    steps = {"minicnn": (mini_train, mini_infer)}
    torch = None
    if not args.no_torch:
        import torch

        torch.set_num_threads(args.threads)
        tmodel = build_torch(model, torch)
        # same function before any training step
        model.eval()
        tmodel.eval()
        probe = x_train[:8]
        with torch.no_grad():
            t_out = tmodel(torch.from_numpy(probe)).numpy()
        m_out = model.forward(probe)
        max_diff = float(np.abs(t_out - m_out).max())
        print(f"same weights: max |minicnn - torch| logit difference = {max_diff:.2e}")
        model.train()
        tmodel.train()
        tloss = torch.nn.BCEWithLogitsLoss()
        topt = torch.optim.SGD(tmodel.parameters(), lr=1e-3)
        tx, ty, txi = (torch.from_numpy(a) for a in (x_train, y_train, x_infer))

        def torch_train():
            topt.zero_grad(set_to_none=False)
            out = tloss(tmodel(tx), ty)
            out.backward()
            topt.step()

        def torch_infer():
            with torch.no_grad():
                return tmodel(txi)

        steps["pytorch"] = (torch_train, torch_infer)

    times = {name: {"train": [], "infer": []} for name in steps}
    for kind, index in (("train", 0), ("infer", 1)):
        for fns in steps.values():
            if kind == "infer":
                model.eval()
                if torch is not None:
                    tmodel.eval()
            for _ in range(args.warmup):
                fns[index]()
        for _ in range(args.runs):
            for name, fns in steps.items():  # alternate libraries run by run
                t0 = time.perf_counter()
                fns[index]()
                times[name][kind].append(time.perf_counter() - t0)

    fwd_flops, first_flops = conv_flops(model, (3, size, size))
    # useful work: forward, weight gradients, input gradients except the first layer's
    train_flops = args.train_batch * (3 * fwd_flops - first_flops)
    infer_flops = args.infer_batch * fwd_flops
    result = {
        "benchmark": "tile_cnn training step and inference",
        "input": [3, size, size],
        "train_batch": args.train_batch,
        "infer_batch": args.infer_batch,
        "threads": args.threads,
        "runs": args.runs,
        "warmup": args.warmup,
        "dtype": "float32",
        "minicnn_first_layer_input_grad": bool(args.first_input_grad),
        "train_gflop": train_flops / 1e9,
        "infer_gflop": infer_flops / 1e9,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "numpy": np.__version__},
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_1min": os.getloadavg()[0],
        "libraries": {},
    }
    if torch is not None:
        result["machine"]["torch"] = torch.__version__
        result["max_logit_difference"] = max_diff
    print(f"tile_cnn, input 3x{size}x{size}, {args.threads} threads, median of {args.runs} runs "
          f"(load average before: {os.getloadavg()[0]:.1f})")
    print(f"{'library':<10}{'train ms':>10}{'GFLOP/s':>9}{'infer img/s':>13}{'GFLOP/s':>9}")
    for name in steps:
        t_train = median_ms(times[name]["train"])
        t_infer = median_ms(times[name]["infer"])
        ips = args.infer_batch / (t_infer / 1e3)
        entry = {
            "train_step_ms": t_train,
            "train_step_ms_all": [t * 1e3 for t in times[name]["train"]],
            "train_gflops_per_s": train_flops / 1e9 / (t_train / 1e3),
            "infer_batch_ms": t_infer,
            "infer_batch_ms_all": [t * 1e3 for t in times[name]["infer"]],
            "infer_images_per_s": ips,
            "infer_gflops_per_s": infer_flops / 1e9 / (t_infer / 1e3),
        }
        result["libraries"][name] = entry
        print(f"{name:<10}{t_train:>10.1f}{entry['train_gflops_per_s']:>9.1f}{ips:>13.0f}"
              f"{entry['infer_gflops_per_s']:>9.1f}")
    if torch is not None:
        m, t = result["libraries"]["minicnn"], result["libraries"]["pytorch"]
        result["ratio_train_time_minicnn_over_pytorch"] = m["train_step_ms"] / t["train_step_ms"]
        result["ratio_infer_time_minicnn_over_pytorch"] = t["infer_images_per_s"] / m["infer_images_per_s"]
        print(f"ratio minicnn/PyTorch: training-step time {result['ratio_train_time_minicnn_over_pytorch']:.2f}, "
              f"inference time {result['ratio_infer_time_minicnn_over_pytorch']:.2f} (target <= 1.5)")
    out = write_json(args.out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
