"""Speed of the reference tile CNN: minicnn against PyTorch (CPU) in the same run.

Model: ``minicnn.models.tile_cnn`` (four 3x3 convolutions with ReLU, three 2x2 max pools, global
average pooling, one dense logit) on 3 x 96 x 96 tiles. Measured:

- training step, batch 64: forward + BCE-with-logits + backward + one SGD step (ms),
- inference, batch 256: forward in evaluation mode (images/s).

The roofline: the same run also measures the machine's float32 matrix-product rate (``numpy.matmul``
and ``torch.matmul`` of two 1024 x 1024 matrices, the best of the two medians) and reports each
library's step as a fraction of it, and minicnn's time per layer and per direction (forward, backward)
as GFLOP/s and as a fraction of that rate. The per-layer profile runs the layers one by one (a wrapped
layer is never fused); the fused runs of ``Conv2D -> ReLU [-> MaxPool2D]`` (``minicnn.fusion``), which
the timed steps use, are profiled separately (``minicnn_fused_runs`` in the results).

Both libraries get the same weights and inputs, 2 threads (``NUMBA_NUM_THREADS``, OpenBLAS and
``torch.set_num_threads``), float32. The runs alternate between the two libraries so that load
from other processes hits both alike, and which library goes first changes round by round; the
figures are medians after warm-up. Each timed step follows one untimed step of the same library
(``--warm-steps 1``), as in a training loop. On the 2-core VM a step timed right after a pause
(the matrix-product measurement rests 0.3 s) or after the other library's work ran 20-40 % slower
(docs/cnn-speed.md); ``--warm-steps 0`` measures that way, which was the default before 7 Dec 2026. The first
convolution skips its input gradient in both (PyTorch does not compute it for an input that
does not require grad; minicnn: ``Conv2D.input_grad = False``).

Usage::

    .venv/bin/python benchmarks/bench_cnn.py            # prints a table, writes benchmarks/results/cnn.json
    .venv/bin/python benchmarks/bench_cnn.py --runs 9 --threads 2
    .venv/bin/python benchmarks/compare_revisions.py --base main   # this checkout against main, same run

``--base-from DIR`` adds a third library, ``minicnn-base``: the package ``minicnn_base`` in DIR (another
revision of minicnn with its imports renamed; ``compare_revisions.py`` prepares it), timed in the same
alternating runs, so that "before" and "after" see the same load.
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
    p.add_argument("--warm-steps", type=int, default=1,
                   help="untimed steps of the same library right before each timed one (1, the default: as in a "
                        "training loop, where steps follow each other; 0: the timed step follows the other "
                        "libraries' work or the pause after the matrix products)")
    p.add_argument("--threads", type=int, default=2, help="threads for both libraries")
    p.add_argument("--train-batch", type=int, default=64)
    p.add_argument("--infer-batch", type=int, default=256)
    p.add_argument("--size", type=int, default=96, help="tile side (px)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "cnn.json"))
    p.add_argument("--no-torch", action="store_true", help="minicnn only (no ratios)")
    p.add_argument("--matmul-size", type=int, default=1024, help="side of the square float32 matrices")
    p.add_argument("--base-from", default=None,
                   help="folder holding a package minicnn_base (another revision) to time as 'minicnn-base'")
    p.add_argument("--first-input-grad", action="store_true",
                   help="minicnn computes the first layer's input gradient too (PyTorch never does)")
    return p.parse_args(argv)


ARGS = _parse_args()
# thread counts must be fixed before numpy/numba/torch start their pools
for var in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
if ARGS.base_from:
    sys.path.insert(1, str(Path(ARGS.base_from).resolve()))

import importlib  # noqa: E402

import numpy as np  # noqa: E402
from torch_peer import torch_network  # noqa: E402

from minicnn.functional._parallel import _set_blas_threads_local as _set_blas_threads  # noqa: E402
from minicnn.io import write_json  # noqa: E402


def layer_flops(layer, in_shape):
    """Forward FLOPs (2 per multiply-add) of one layer for one sample of shape `in_shape` (0 if none)."""
    out_shape = layer.output_shape(in_shape)
    kind = type(layer).__name__
    if kind == "Conv2D":
        k = layer.kernel_size
        return 2.0 * out_shape[0] * out_shape[1] * out_shape[2] * layer.in_channels * k * k, out_shape
    if kind == "Dense":
        return 2.0 * layer.in_features * layer.out_features, out_shape
    return 0.0, out_shape


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
        f, shape = layer_flops(layer, shape)
        if first is None and f:
            first = f
        forward += f
    return forward, first or 0.0


def executed_flops(model, input_shape, batch, first_input_grad):
    """FLOPs of the multiplications minicnn actually runs: (training step, forward pass) for `batch` samples.

    Like :func:`conv_flops`, except that the stride-1 3x3 layers that go through Winograd F(2x2, 3x3)
    (``minicnn.functional.conv_fast``) multiply 16 instead of 36 numbers per 2 x 2 outputs and input
    channel: 4/9 of the direct count in all three products (forward, weight and input gradient), plus
    the cut tiles of odd sizes. The transforms (additions only) are not counted.
    """
    from minicnn.functional.conv_fast import ConvGeometry
    from minicnn.functional.conv_winograd import tiles

    shape = tuple(input_shape)
    train = forward = 0.0
    first = True
    for layer in model.layers:
        f, out_shape = layer_flops(layer, shape)
        if f and type(layer).__name__ == "Conv2D":
            k, s, p = layer.kernel_size, layer.stride, layer.padding
            if ConvGeometry.of((batch, *shape), (out_shape[0], shape[0], k, k), s, p).winograd:
                th, tw = tiles(out_shape[1], out_shape[2])
                f = 2.0 * 16 * th * tw * shape[0] * out_shape[0]
        forward += f
        train += f * (2 if first and not first_input_grad else 3) if f else 0.0
        first = first and not f
        shape = out_shape
    return batch * train, batch * forward


def build_torch(model, torch):
    """The same network in PyTorch with minicnn's weights copied in."""
    return torch_network(model, torch, "bench_cnn")


def median_ms(times):
    return float(np.median(times) * 1e3)


#: seconds of rest after each library's matrix products: OpenBLAS's and OpenMP's worker threads spin for
#: a while after a product (about 0.1-0.2 s), and would otherwise slow whatever runs next
SETTLE_S = 0.3


def matmul_rates(size, torch, reps=3):
    """One timing each of ``reps`` float32 products ``a @ b`` (size x size), numpy then torch: GFLOP/s."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((size, size)).astype(np.float32)
    b = rng.standard_normal((size, size)).astype(np.float32)
    out = np.empty_like(a)
    flop = 2.0 * size ** 3
    rates = {}
    # the machine's rate with the run's threads: a revision with the thread-count bug of 7 Dec 2026 (its
    # map_tasks could leave NumPy's OpenBLAS on one thread for the whole process) must not lower it
    previous = _set_blas_threads(ARGS.threads) if _set_blas_threads is not None else None
    t0 = time.perf_counter()
    for _ in range(reps):
        np.matmul(a, b, out=out)
    rates["numpy"] = flop * reps / (time.perf_counter() - t0) / 1e9
    if previous is not None:
        _set_blas_threads(previous)
    time.sleep(SETTLE_S)
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        tout = torch.from_numpy(out)
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.matmul(ta, tb, out=tout)
        rates["torch"] = flop * reps / (time.perf_counter() - t0) / 1e9
        time.sleep(SETTLE_S)
    return rates


class LayerTimer:
    """Wraps every layer's forward and backward of a minicnn model to time them (seconds, appended per call)."""

    def __init__(self, model):
        self.model = model
        self.times = {(i, d): [] for i in range(len(model.layers)) for d in ("forward", "backward")}
        self._saved = []
        for i, layer in enumerate(model.layers):
            self._saved.append((layer, layer.forward, layer.backward))
            layer.forward = self._timed(layer.forward, (i, "forward"))
            layer.backward = self._timed(layer.backward, (i, "backward"))

    def _timed(self, fn, key):
        def run(x):
            t0 = time.perf_counter()
            out = fn(x)
            self.times[key].append(time.perf_counter() - t0)
            return out
        return run

    def remove(self):
        for layer, _, _ in self._saved:  # back to the class's methods (a layer with its own is never fused)
            del layer.forward, layer.backward


class BlockTimer:
    """Times the fused runs of a model (``<package>.fusion.FusedConvBlock``), per run of layers and direction.

    The class's methods are wrapped (the blocks are made anew by every forward pass), so the layers stay
    unwrapped and fusion stays on, unlike :class:`LayerTimer`, whose wrapped layers run one by one.
    """

    def __init__(self, block_class, model):
        self.block_class = block_class
        self.saved = (block_class.forward, block_class.backward)
        index = {id(layer): i for i, layer in enumerate(model.layers)}
        self.times = {}

        def timed(fn, direction):
            def run(block, x):
                t0 = time.perf_counter()
                out = fn(block, x)
                key = (index[id(block.layers[0])], index[id(block.layers[-1])], direction)
                self.times.setdefault(key, []).append(time.perf_counter() - t0)
                return out
            return run

        block_class.forward = timed(self.saved[0], "forward")
        block_class.backward = timed(self.saved[1], "backward")

    def remove(self):
        self.block_class.forward, self.block_class.backward = self.saved


def block_profiles(models, steps, runs, batch, input_shape, rate):
    """Time of every fused run (conv -> ReLU [-> pool]) of each minicnn model that fuses, over `runs` training steps.

    Returns, per model name, rows with the layers of the run, the median ms per direction, GFLOP, GFLOP/s and
    the fraction of `rate` (the convolution's work; ReLU and pooling count as none).
    """
    timers = {}
    for name, model in models.items():
        package = type(model).__module__.split(".")[0]
        try:
            fusion = importlib.import_module(f"{package}.fusion")
        except ImportError:  # a revision from before fusion
            continue
        timers[name] = BlockTimer(fusion.FusedConvBlock, model)
    try:
        for _ in range(runs):
            for name in timers:
                steps[name][0]()
    finally:
        for timer in timers.values():
            timer.remove()
    profiles = {}
    for name, timer in timers.items():
        model = models[name]
        shapes = [tuple(input_shape)]
        for layer in model.layers:
            shapes.append(tuple(layer.output_shape(shapes[-1])))
        rows = []
        for (first, last, direction), times in sorted(timer.times.items()):
            conv = model.layers[first]
            flop = batch * layer_flops(conv, shapes[first])[0]
            if direction == "backward":
                flop *= 2 if getattr(conv, "input_grad", True) and first > 0 else 1
            ms = median_ms(times)
            names = " + ".join(model.layers[i].describe() for i in range(first, last + 1))
            row = {"layers": [first, last], "name": names, "direction": direction, "ms": ms, "gflop": flop / 1e9,
                   "gflops_per_s": flop / 1e9 / (ms / 1e3)}
            row["fraction_of_matmul"] = row["gflops_per_s"] / rate
            rows.append(row)
        profiles[name] = rows
    return profiles


def print_blocks(rows):
    print("fused runs (training step, median ms; GFLOP/s and fraction of the matmul rate)")
    for r in rows:
        print(f"{r['layers'][0]:>2}-{r['layers'][1]:<2} {r['direction']:<9}{r['ms']:>7.1f} ms{r['gflops_per_s']:>8.1f}"
              f" GFLOP/s{r['fraction_of_matmul']:>6.2f}  {r['name']}")


def layer_profiles(models, steps, runs, batch, input_shape, rate):
    """Time per layer and direction of each minicnn model over `runs` training steps (alternating models).

    Returns, per model name, a list of rows with the median ms, GFLOP and GFLOP/s and the fraction of `rate`.
    """
    timers = {name: LayerTimer(model) for name, model in models.items()}
    try:
        for _ in range(runs):
            for name in models:
                steps[name][0]()
    finally:
        for timer in timers.values():
            timer.remove()
    profiles = {}
    for name, model in models.items():
        rows = []
        shape = tuple(input_shape)
        for i, layer in enumerate(model.layers):
            fwd_flops, shape = layer_flops(layer, shape)
            for direction in ("forward", "backward"):
                flop = batch * fwd_flops
                if direction == "backward":
                    needs_dx = getattr(layer, "input_grad", True) and i > 0
                    flop = batch * fwd_flops * (2 if needs_dx else 1)
                ms = median_ms(timers[name].times[(i, direction)])
                row = {"layer": i, "name": layer.describe(), "direction": direction, "ms": ms, "gflop": flop / 1e9}
                if flop:
                    row["gflops_per_s"] = flop / 1e9 / (ms / 1e3)
                    row["fraction_of_matmul"] = row["gflops_per_s"] / rate
                rows.append(row)
        profiles[name] = rows
    return profiles


def print_profile(rows):
    print("minicnn per layer (training step, median ms; GFLOP/s and fraction of the matmul rate)")
    print(f"{'layer':<30}{'forward ms':>11}{'GFLOP/s':>9}{'frac':>6}{'backward ms':>13}{'GFLOP/s':>9}{'frac':>6}")
    by_layer = {}
    for r in rows:
        by_layer.setdefault((r["layer"], r["name"]), {})[r["direction"]] = r
    for (i, name), d in by_layer.items():
        cells = []
        for direction in ("forward", "backward"):
            r = d[direction]
            rate = f"{r['gflops_per_s']:>9.1f}{r['fraction_of_matmul']:>6.2f}" if "gflops_per_s" in r else " " * 15
            cells.append(f"{r['ms']:>{11 if direction == 'forward' else 13}.1f}{rate}")
        print(f"{f'{i:>2} {name}':<30}{cells[0]}{cells[1]}")


def minicnn_steps(package, args, x_train, y_train, x_infer):
    """The tile CNN of `package` (minicnn or a renamed copy) with its training step and inference functions."""
    tile_cnn = importlib.import_module(f"{package}.models").tile_cnn
    loss = importlib.import_module(f"{package}.losses").BCEWithLogits()
    model = tile_cnn(rng=0)
    model.layers[0].input_grad = bool(args.first_input_grad)
    opt = importlib.import_module(f"{package}.optim").SGD(model.parameters(), lr=1e-3)

    def train():
        scores = model.forward(x_train)
        loss.forward(scores, y_train)
        model.backward(loss.backward())
        opt.step()

    def infer():
        return model.forward(x_infer)

    return model, (train, infer)


def torch_steps(torch, model, args, x_train, y_train, x_infer):
    """The same network in PyTorch, checked against `model`: (tmodel, (train, infer), max logit difference)."""
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

    return tmodel, (torch_train, torch_infer), max_diff


def timed_rounds(steps, models, tmodel, torch, args):
    """Warm-up, then ``args.runs`` rounds of the matmul rate and every library's step, alternating.

    Returns
    -------
    times : dict
        ``times[library]["train" | "infer"]``: seconds of each run.
    matmul, matmul_medians : dict
        GFLOP/s of every round and their median, per library that has a matmul.
    """
    times = {name: {"train": [], "infer": []} for name in steps}
    matmul = {"numpy": [], "torch": []}
    for kind, index in (("train", 0), ("infer", 1)):
        for fns in steps.values():
            if kind == "infer":
                for m in models.values():
                    m.eval()
                if torch is not None:
                    tmodel.eval()
            for _ in range(args.warmup):
                fns[index]()
        matmul_rates(args.matmul_size, torch, reps=1)  # warm-up
        for _ in range(args.runs):
            for lib, rate in matmul_rates(args.matmul_size, torch).items():
                matmul[lib].append(rate)
            names = list(steps)
            first = len(times[names[0]][kind]) % len(names)
            for name in names[first:] + names[:first]:  # alternate libraries, and which one goes first, run by run
                fns = steps[name]
                for _ in range(args.warm_steps):
                    fns[index]()
                t0 = time.perf_counter()
                fns[index]()
                times[name][kind].append(time.perf_counter() - t0)
    matmul = {lib: rates for lib, rates in matmul.items() if rates}
    matmul_medians = {lib: float(np.median(r)) for lib, r in matmul.items()}
    return times, matmul, matmul_medians


def result_header(args, train_flops, infer_flops, load_before, matmul, matmul_medians, rate):
    """The results file's settings, machine, load and matmul rate (libraries and layers are added later)."""
    return {
        "benchmark": "tile_cnn training step and inference",
        "input": [3, args.size, args.size],
        "train_batch": args.train_batch,
        "infer_batch": args.infer_batch,
        "threads": args.threads,
        "runs": args.runs,
        "warmup": args.warmup,
        "warm_steps": args.warm_steps,
        "dtype": "float32",
        "minicnn_first_layer_input_grad": bool(args.first_input_grad),
        "minicnn_source": str(Path(sys.modules["minicnn"].__file__).resolve().parent),
        "minicnn_base_source": str(Path(sys.modules["minicnn_base"].__file__).resolve().parent)
        if "minicnn_base" in sys.modules else None,
        "train_gflop": train_flops / 1e9,
        "infer_gflop": infer_flops / 1e9,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "numpy": np.__version__},
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_1min": load_before,
        "load_average_1min_after": os.getloadavg()[0],
        "matmul": {
            "size": args.matmul_size,
            "gflops_per_s": matmul_medians,
            "gflops_per_s_all": matmul,
            "rate_gflops_per_s": rate,
            "rate_is": "the higher of the libraries' medians",
        },
        "libraries": {},
    }


def summarise(result, times, args, train_flops, infer_flops, rate):
    """Fill ``result["libraries"]`` (median times, GFLOP/s, fraction of `rate`) and the ratios; print the table."""
    print(f"tile_cnn, input 3x{args.size}x{args.size}, {args.threads} threads, median of {args.runs} runs "
          f"(load average before: {result['load_average_1min']:.1f}, after: {os.getloadavg()[0]:.1f})")
    print("float32 matmul {0}x{0}: ".format(args.matmul_size)
          + ", ".join(f"{lib} {r:.1f} GFLOP/s" for lib, r in result["matmul"]["gflops_per_s"].items())
          + f" -> rate {rate:.1f} GFLOP/s")
    print(f"{'library':<10}{'train ms':>10}{'GFLOP/s':>9}{'of matmul':>11}{'infer img/s':>13}{'GFLOP/s':>9}"
          f"{'of matmul':>11}")
    for name in times:
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
        entry["train_fraction_of_matmul"] = entry["train_gflops_per_s"] / rate
        entry["infer_fraction_of_matmul"] = entry["infer_gflops_per_s"] / rate
        result["libraries"][name] = entry
        print(f"{name:<10}{t_train:>10.1f}{entry['train_gflops_per_s']:>9.1f}{entry['train_fraction_of_matmul']:>11.2f}"
              f"{ips:>13.0f}{entry['infer_gflops_per_s']:>9.1f}{entry['infer_fraction_of_matmul']:>11.2f}")
    if "pytorch" in result["libraries"]:
        m, t = result["libraries"]["minicnn"], result["libraries"]["pytorch"]
        result["ratio_train_time_minicnn_over_pytorch"] = m["train_step_ms"] / t["train_step_ms"]
        result["ratio_infer_time_minicnn_over_pytorch"] = t["infer_images_per_s"] / m["infer_images_per_s"]
        print(f"ratio minicnn/PyTorch: training-step time {result['ratio_train_time_minicnn_over_pytorch']:.2f}, "
              f"inference time {result['ratio_infer_time_minicnn_over_pytorch']:.2f} (target <= 1.5)")
    if "minicnn-base" in result["libraries"]:
        m, b = result["libraries"]["minicnn"], result["libraries"]["minicnn-base"]
        result["ratio_train_time_minicnn_over_base"] = m["train_step_ms"] / b["train_step_ms"]
        result["ratio_infer_time_minicnn_over_base"] = m["infer_batch_ms"] / b["infer_batch_ms"]
        print(f"ratio minicnn/minicnn-base: training-step time {result['ratio_train_time_minicnn_over_base']:.3f}, "
              f"inference time {result['ratio_infer_time_minicnn_over_base']:.3f}")


def main():
    args = ARGS
    if args.runs < 5:
        raise SystemExit("bench_cnn: --runs must be at least 5")
    rng = np.random.default_rng(0)
    size = args.size
    x_train = rng.standard_normal((args.train_batch, 3, size, size)).astype(np.float32)
    y_train = (rng.random((args.train_batch, 1)) < 0.5).astype(np.float32)
    x_infer = rng.standard_normal((args.infer_batch, 3, size, size)).astype(np.float32)

    models = {}
    steps = {}
    for name, package in (("minicnn", "minicnn"), ("minicnn-base", "minicnn_base")):
        if name == "minicnn-base" and not args.base_from:
            continue
        models[name], steps[name] = minicnn_steps(package, args, x_train, y_train, x_infer)
    model = models["minicnn"]
    if "minicnn-base" in models:  # same function before any training step
        for m in models.values():
            m.eval()
        base_diff = float(np.abs(models["minicnn-base"].forward(x_train[:8]) - model.forward(x_train[:8])).max())
        for m in models.values():
            m.train()
        print(f"same weights: max |minicnn - minicnn-base| logit difference = {base_diff:.2e}")
    torch = tmodel = None
    if not args.no_torch:
        import torch

        tmodel, steps["pytorch"], max_diff = torch_steps(torch, model, args, x_train, y_train, x_infer)

    load_before = os.getloadavg()[0]
    times, matmul, matmul_medians = timed_rounds(steps, models, tmodel, torch, args)
    fused_runs = {name: sum(type(r).__name__ == "FusedConvBlock" for _, _, r in getattr(m, "_steps", None) or [])
                  for name, m in models.items()}  # in the last timed forward pass
    print("fused runs in the timed steps: " + ", ".join(f"{k} {v}" for k, v in fused_runs.items()))
    rate = max(matmul_medians.values())

    for m in models.values():
        m.train()
    profiles = layer_profiles(models, steps, args.runs, args.train_batch, (3, size, size), rate)
    profile = profiles["minicnn"]
    blocks = block_profiles(models, steps, args.runs, args.train_batch, (3, size, size), rate)

    fwd_flops, first_flops = conv_flops(model, (3, size, size))
    # useful work: forward, weight gradients, input gradients except the first layer's
    train_flops = args.train_batch * (3 * fwd_flops - first_flops)
    infer_flops = args.infer_batch * fwd_flops
    result = result_header(args, train_flops, infer_flops, load_before, matmul, matmul_medians, rate)
    result["fused_runs_in_timed_steps"] = fused_runs
    result["minicnn_layers"] = profile  # layer by layer: the timer's wrapped layers are never fused
    for name, rows in blocks.items():
        result[f"{name.replace('-', '_')}_fused_runs"] = rows
    if "minicnn-base" in profiles:
        result["minicnn_base_layers"] = profiles["minicnn-base"]
        result["max_logit_difference_base"] = base_diff
    if torch is not None:
        result["machine"]["torch"] = torch.__version__
        result["max_logit_difference"] = max_diff
    summarise(result, times, args, train_flops, infer_flops, rate)
    executed_train, _ = executed_flops(model, (3, size, size), args.train_batch, args.first_input_grad)
    _, executed_infer = executed_flops(model, (3, size, size), args.infer_batch, args.first_input_grad)
    m = result["libraries"]["minicnn"]
    result["minicnn_multiplications_executed"] = {
        "what": "FLOPs of the multiplications minicnn runs (Winograd layers: 16 instead of 36 per 2 x 2 outputs "
                "and channel; transforms not counted), per training step and per inference batch, and the rate "
                "they run at as a fraction of the matmul rate",
        "train_gflop": executed_train / 1e9, "infer_gflop": executed_infer / 1e9,
        "train_fraction_of_matmul": executed_train / 1e9 / (m["train_step_ms"] / 1e3) / rate,
        "infer_fraction_of_matmul": executed_infer / 1e9 / (m["infer_batch_ms"] / 1e3) / rate,
    }
    e = result["minicnn_multiplications_executed"]
    print(f"minicnn, multiplications actually run: {e['train_gflop']:.2f} GFLOP per training step "
          f"({e['train_fraction_of_matmul']:.2f} of the matmul rate), {e['infer_gflop']:.2f} GFLOP per inference "
          f"batch ({e['infer_fraction_of_matmul']:.2f})")
    for name, rows in profiles.items():
        print(f"[{name}]")
        print_profile(rows)
        if name in blocks:
            print_blocks(blocks[name])
    out = write_json(args.out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
