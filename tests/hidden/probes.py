"""Hidden probes: the exercises' functions on random inputs, compared by the grader with the reference.

``PROBES`` maps an exercise id to functions ``probe(rng) -> dict of arrays``. The grader (``python -m
minicnn.teaching grade``) calls each probe in a sandboxed process over the exercise's tree (the student's
files of that exercise on top of the solution edition) and once over the solution edition, with the same
``numpy.random.Generator``: its seed mixes the probe's name with the grading seed (``grade --seed``, drawn
at grading time when not given, recorded in ``grade.json``), so the inputs are not known in advance. The
grader compares the outputs in its own process (floats to ``rtol`` 1e-7 of ``grading.toml`` unless an
exercise says otherwise, integers, booleans and strings exactly).

Probes set every parameter explicitly from ``rng``, so that a different (but valid) initialisation order
does not count as a mistake, and they import inside the function, so that an exercise that does not
import does not stop the others. A probe that fails on the reference is skipped (reported). Probes named
``notebook_*`` check the functions students write inside the notebooks (read from the saved notebook of the
tree being graded). This file is hidden: it is not in the student edition.

Outputs named ``visible*`` are the function on the inputs of its visible tests; the other outputs of the
same probe are on new inputs of the same shapes and parameters. A function right on the first and wrong on
the second special-cases what it was tested on: the grader reports the exercise as gamed
(``grading.toml``: ``gamed``).
"""

import json
from pathlib import Path

import numpy as np

TREE = Path.cwd()  # the grader runs probes with the graded tree as working folder

# ----------------------------------------------------------------------------------------------- G01


def probe_dense(rng):
    from minicnn import functional as F

    x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    out, cache = F.dense_forward(x, w, b)
    dx, dw, db = F.dense_backward(rng.standard_normal(out.shape), cache)
    return {"out": out, "dx": dx, "dw": dw, "db": db}


def probe_activations(rng):
    from minicnn import functional as F

    x = rng.standard_normal((6, 5)) * 3
    alpha = float(rng.uniform(0.01, 0.3))
    result = {}
    for name, fwd, bwd in (
        ("relu", F.relu_forward, F.relu_backward),
        ("leaky", lambda v: F.leaky_relu_forward(v, alpha), F.leaky_relu_backward),
        ("sigmoid", F.sigmoid_forward, F.sigmoid_backward),
        ("tanh", F.tanh_forward, F.tanh_backward),
    ):
        out, cache = fwd(x)
        result[name] = out
        result[name + "_dx"] = bwd(rng.standard_normal(x.shape), cache)
    return result


def probe_dense_layer(rng):
    from minicnn.layers import Dense

    layer = Dense(4, 3, rng=0).astype(np.float64)
    layer.params["W"][...] = rng.standard_normal(layer.params["W"].shape)
    layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)
    out = layer.forward(rng.standard_normal((5, 4)))
    dx = layer.backward(rng.standard_normal(out.shape))
    return {"out": out, "dx": dx, "dW": layer.grads["W"], "db": layer.grads["b"]}


# ----------------------------------------------------------------------------------------------- G02


def probe_losses(rng):
    from minicnn.losses import MSE, BCEWithLogits, SoftmaxCrossEntropy

    scores = rng.standard_normal((6, 4)) * 5
    result = {}
    for name, loss, y in (
        ("softmax_ce", SoftmaxCrossEntropy(), rng.integers(0, 4, 6)),
        ("bce", BCEWithLogits(), rng.integers(0, 2, (6, 4)).astype(np.float64)),
        ("bce_pos_weight", BCEWithLogits(pos_weight=3.0), rng.integers(0, 2, (6, 4)).astype(np.float64)),
        ("mse", MSE(), rng.standard_normal((6, 4))),
    ):
        result[name] = np.array(loss.forward(scores, y))
        result[name + "_grad"] = loss.backward()
    return result


def probe_losses_extreme(rng):
    from minicnn.losses import BCEWithLogits, SoftmaxCrossEntropy

    scores = rng.choice([-1e4, 1e4, 0.0], size=(5, 3))
    ce = SoftmaxCrossEntropy()
    bce = BCEWithLogits()
    y = rng.integers(0, 3, 5)
    t = rng.integers(0, 2, (5, 3)).astype(np.float64)
    return {
        "ce": np.array(ce.forward(scores, y)),
        "ce_grad": ce.backward(),
        "bce": np.array(bce.forward(scores, t)),
        "bce_grad": bce.backward(),
    }


# ----------------------------------------------------------------------------------------------- G03


def probe_conv_naive(rng):
    from minicnn import functional as F

    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    result = {}
    for stride, pad in ((1, 0), (2, 1)):
        out, cache = F.conv2d_forward_naive(x, w, b, stride, pad)
        dx, dw, db = F.conv2d_backward_naive(rng.standard_normal(out.shape), cache)
        key = f"s{stride}p{pad}"
        result.update({key: out, key + "_dx": dx, key + "_dw": dw, key + "_db": db})
    return result


def probe_conv_layer(rng):
    from minicnn.layers import Conv2D

    layer = Conv2D(2, 3, 3, stride=1, padding=1, rng=0).astype(np.float64)
    for value in layer.params.values():
        value[...] = rng.standard_normal(value.shape)
    out = layer.forward(rng.standard_normal((2, 2, 5, 5)))
    dx = layer.backward(rng.standard_normal(out.shape))
    return {"out": out, "dx": dx, **{"d" + k: v for k, v in layer.grads.items()}}


# ----------------------------------------------------------------------------------------------- G04


def probe_pooling_naive(rng):
    from minicnn import functional as F

    x = rng.standard_normal((2, 3, 7, 7))
    result = {}
    for name, fwd, bwd in (
        ("max", F.max_pool2d_forward_naive, F.max_pool2d_backward_naive),
        ("avg", F.avg_pool2d_forward_naive, F.avg_pool2d_backward_naive),
    ):
        for k, s in ((2, 2), (3, 2)):
            out, cache = fwd(x, k, s)
            result[f"{name}{k}{s}"] = out
            result[f"{name}{k}{s}_dx"] = bwd(rng.standard_normal(out.shape), cache)
    out, cache = F.global_avg_pool2d_forward(x)
    result["global"] = out
    result["global_dx"] = F.global_avg_pool2d_backward(rng.standard_normal(out.shape), cache)
    return result


def probe_pooling_layers(rng):
    from minicnn.layers import AvgPool2D, GlobalAvgPool2D, MaxPool2D

    x = rng.standard_normal((2, 2, 6, 6))
    result = {}
    for name, layer in (("max", MaxPool2D(2)), ("avg", AvgPool2D(2)), ("global", GlobalAvgPool2D())):
        out = layer.forward(x)
        result[name] = out
        result[name + "_dx"] = layer.backward(rng.standard_normal(out.shape))
    return result


# ----------------------------------------------------------------------------------------------- G05


def _optimizer_run(rng, make, steps=5):
    p = rng.standard_normal((3, 4))
    g = np.zeros_like(p)
    opt = make([(p, g)])
    grads = rng.standard_normal((steps, 3, 4))
    for t in range(steps):
        g[...] = grads[t]
        opt.step()
    return p


def probe_sgd(rng):
    from minicnn.optim import SGD

    return {
        "plain": _optimizer_run(rng, lambda ps: SGD(ps, lr=0.1)),
        "momentum": _optimizer_run(rng, lambda ps: SGD(ps, lr=0.1, momentum=0.9)),
        "nesterov_wd": _optimizer_run(rng, lambda ps: SGD(ps, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    }


def probe_adam(rng):
    from minicnn.optim import Adam, AdamW

    return {
        "adam": _optimizer_run(rng, lambda ps: Adam(ps, lr=0.01)),
        "adam_wd": _optimizer_run(rng, lambda ps: Adam(ps, lr=0.01, weight_decay=0.1)),
        "adamw": _optimizer_run(rng, lambda ps: AdamW(ps, lr=0.01, weight_decay=0.1)),
    }


# ----------------------------------------------------------------------------------------------- G06


def probe_batchnorm_dropout(rng):
    from minicnn import functional as F

    x = rng.standard_normal((8, 3)) * 2 + 1
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    running_mean, running_var = np.zeros(3), np.ones(3)
    out, cache = F.batch_norm_forward(x, gamma, beta, running_mean, running_var, training=True)
    grads = F.batch_norm_backward(rng.standard_normal(out.shape), cache)
    result = {"bn": out, "running_mean": running_mean, "running_var": running_var}
    result.update({f"bn_grad{i}": g for i, g in enumerate(grads)})
    xd = rng.standard_normal((50, 4))
    out, cache = F.dropout_forward(xd, p=0.5, training=True, rng=np.random.default_rng(3))
    result["dropout_kept_fraction"] = np.array(np.mean(out != 0))
    result["dropout_scale_ok"] = np.array(np.allclose(out[out != 0], 2 * xd[out != 0]))
    result["dropout_dx_matches_mask"] = np.array(
        np.array_equal(F.dropout_backward(np.ones_like(xd), cache) != 0, out != 0)
    )
    result["dropout_eval"] = F.dropout_forward(xd, p=0.5, training=False)[0]
    return result


def probe_train_step(rng):
    from minicnn import Sequential
    from minicnn.layers import Dense, ReLU
    from minicnn.losses import SoftmaxCrossEntropy
    from minicnn.optim import SGD
    from minicnn.training import Trainer

    model = Sequential(Dense(4, 5, rng=0), ReLU(), Dense(5, 3, rng=0)).astype(np.float64)
    for _, param, _ in model.named_parameters():
        param[...] = rng.standard_normal(param.shape)
    trainer = Trainer(model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1), progress=False, seed=0)
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    losses = [trainer.train_step(x, y) for _ in range(3)]
    return {"losses": np.array(losses), **{name: p for name, p, _ in model.named_parameters()}}


# ----------------------------------------------------------------------------------------------- G07


def probe_flip_rotate(rng):
    from camelyon.augment import random_flip_rotate

    images = rng.integers(0, 256, (12, 5, 5, 3)).astype(np.uint8)
    return {"out": random_flip_rotate(images, rng=np.random.default_rng(7))}


def probe_reinhard(rng):
    from camelyon.stain import match_lab_statistics

    lab = rng.uniform(0, 100, (6, 7, 3))
    mask = rng.uniform(size=(6, 7)) < 0.6
    return {"out": match_lab_statistics(lab, mask, np.array([50.0, 10.0, -5.0]), np.array([8.0, 3.0, 2.0]))}


# ----------------------------------------------------------------------------------------------- G08


def probe_criteria(rng):
    from minicnn.tree import entropy, gini

    counts = rng.integers(0, 10, (5, 4)).astype(np.float64) + np.eye(5, 4)
    return {"gini": np.array([gini(c) for c in counts]), "entropy": np.array([entropy(c) for c in counts])}


def probe_naive_tree(rng):
    from minicnn.tree import DecisionTreeClassifier

    X = rng.standard_normal((80, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 + 0.3 * rng.standard_normal(80) > 0.3).astype(np.int64)
    tree = DecisionTreeClassifier(splitter="naive", max_depth=4, random_state=0).fit(X, y)
    X_test = rng.standard_normal((40, 3))
    return {"proba": tree.predict_proba(X_test), "depth": np.array(tree.get_depth()), "leaves": np.array(tree.get_n_leaves())}


# ----------------------------------------------------------------------------------------------- G09


def probe_bootstrap(rng):
    from minicnn.tree.forest import bootstrap_counts

    counts = bootstrap_counts(50, 50, np.random.default_rng(11))
    return {"sum": np.array(counts.sum()), "shape": np.array(counts.shape), "dtype_float": np.array(counts.dtype.kind == "f")}


def probe_forest(rng):
    from minicnn.tree import RandomForestClassifier

    X = rng.standard_normal((100, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    forest = RandomForestClassifier(10, random_state=0).fit(X, y)
    proba = forest.predict_proba(rng.standard_normal((30, 4)))
    return {"rows_sum_to_one": np.array(np.allclose(proba.sum(axis=1), 1.0)), "shape": np.array(proba.shape)}


# ----------------------------------------------------------------------------------------------- G10


def probe_metrics(rng):
    from minicnn.metrics import cohen_kappa_score, confusion_matrix, roc_auc_score, roc_curve

    y1, y2 = rng.integers(0, 5, 60), rng.integers(0, 5, 60)
    yb = rng.integers(0, 2, 60)
    s = np.round(rng.standard_normal(60) + yb, 1)
    fpr, tpr, _ = roc_curve(yb, s)
    return {
        "confusion": confusion_matrix(y1, y2, labels=[0, 1, 2, 3, 4]),
        "kappa": np.array(cohen_kappa_score(y1, y2)),
        "kappa_linear": np.array(cohen_kappa_score(y1, y2, weights="linear")),
        "kappa_quadratic": np.array(cohen_kappa_score(y1, y2, weights="quadratic")),
        "auc": np.array(roc_auc_score(yb, s)),
        "fpr": fpr,
        "tpr": tpr,
    }



# ------------------------------------------------------------------------------------ notebook functions


def _generic(exercise, name, **overrides):
    from minicnn.teaching.notebooks import find_notebook, notebook_function

    return notebook_function(find_notebook(TREE / "generic_exercises", exercise), name, overrides)


def _specific(exercise, name):
    paths = sorted((TREE / "specific_exercises").glob(f"{exercise}_*.ipynb"))
    nb = json.loads(paths[0].read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if cell["cell_type"] == "code" and f"def {name}(" in source:
            namespace = {"__name__": f"{exercise}_notebook"}
            exec(compile(source, f"{paths[0].name}::{name}", "exec"), namespace)
            return namespace[name]
    raise LookupError(f"{paths[0].name} has no cell defining {name}()")


def notebook_g01_centred_difference(rng):
    f = _generic("G01", "centred_difference")
    x = rng.uniform(-3, 3, 7)
    a, b = rng.uniform(0.5, 2.0, 2)
    visible = {"visible_cube": np.array(f(lambda v: v**3, 1.0, 0.1)), "visible_sin": f(np.sin, np.linspace(-2.0, 2.0, 9), 1e-5)}
    return {**visible, "cube": np.array(f(lambda v: v**3, float(rng.uniform(-3, 3)), 0.1)),
            "sin": f(np.sin, x, 1e-4), "poly": f(lambda v: a * v**3 - b * v, x, float(rng.uniform(0.01, 0.2)))}  # fmt: skip


def notebook_g02_logsumexp(rng):
    f = _generic("G02", "logsumexp")
    big = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]])
    visible = {"visible_s": f(np.random.default_rng(0).standard_normal((5, 4)) * 3), "visible_big": f(big)}
    return {**visible, "s": f(rng.standard_normal((5, 4)) * 3), "big_same_shape": f(big + rng.uniform(-50, 50, big.shape)),
            "small": f(rng.standard_normal((2, 3))), "big": f(rng.standard_normal((6, 5)) * 300)}  # fmt: skip


def notebook_g03_im2col_numpy(rng):
    f = _generic("G03", "im2col_numpy")
    out = {}
    for i, (shape, kh, kw, stride, padding) in enumerate(
        [((2, 3, 7, 6), 3, 2, 2, 1), ((1, 2, 5, 5), 3, 3, 1, 0), ((3, 1, 4, 6), 1, 1, 1, 2)]
    ):  # the visible test's cases, then the same shapes with new values
        out[f"visible{i}"] = f(np.random.default_rng(1).standard_normal(shape), kh, kw, stride, padding)
        out[f"same_shape{i}"] = f(rng.standard_normal(shape), kh, kw, stride, padding)
    for i in range(3):
        n, c = (int(v) for v in rng.integers(1, 4, 2))
        h, w = (int(v) for v in rng.integers(3, 8, 2))
        kh, kw = (int(v) for v in rng.integers(1, 4, 2))
        stride, padding = int(rng.integers(1, 3)), int(rng.integers(0, 2))
        if (h + 2 * padding - kh) < 0 or (w + 2 * padding - kw) < 0:
            kh, kw = 1, 1
        out[f"case{i}"] = f(rng.standard_normal((n, c, h, w)), kh, kw, stride, padding)
    return out


def notebook_g04_max_pool_2x2_reshape(rng):
    f = _generic("G04", "max_pool_2x2_reshape")
    n, c, h, w = (int(v) for v in rng.integers(1, 4, 4))
    visible = f(np.random.default_rng(2).standard_normal((3, 2, 6, 8)).astype(np.float32))
    same_shape = f(rng.standard_normal((3, 2, 6, 8)).astype(np.float32))
    return {"visible": visible, "same_shape": same_shape, "out": f(rng.standard_normal((n, c, 2 * h, 2 * w)))}


def notebook_g05_rosenbrock_grad(rng):
    f = _generic("G05", "rosenbrock_grad")
    visible = {f"visible{i}": np.asarray(f(np.array(p, dtype=np.float64)), dtype=np.float64)
               for i, p in enumerate([(-0.7, 1.3), (1.0, 1.0), (2.0, -1.0), (0.0, 0.0)])}  # fmt: skip
    return {**visible, **{f"p{i}": np.asarray(f(rng.uniform(-2, 2, 2)), dtype=np.float64) for i in range(4)}}


def notebook_g06_build_shapes_cnn(rng):
    f = _generic("G06", "build_shapes_cnn")
    model = f(np.random.default_rng(int(rng.integers(0, 2**31))))
    x = rng.standard_normal((3, 1, 16, 16)).astype(np.float32)
    shown = f(np.random.default_rng(0))  # the visible test's seed; then a new seed, the same input
    return {"visible_params": np.array(shown.num_parameters()), "visible_out": shown.forward(x).astype(np.float64),
            "new_seed_out": f(np.random.default_rng(int(rng.integers(1, 2**31)))).forward(x).astype(np.float64),
            "n_params": np.array(model.num_parameters()), "out": model.forward(x).astype(np.float64)}  # fmt: skip


def notebook_g07_compose_he(rng):
    f = _generic("G07", "compose_he")
    stains = rng.uniform(0.05, 1.0, (2, 3))
    stains /= np.linalg.norm(stains, axis=1, keepdims=True)
    h, e = rng.uniform(0, 1.5, (4, 5)), rng.uniform(0, 1.0, (4, 5))
    shown = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11]])  # the visible test's stains and inputs
    g = np.random.default_rng(3)
    conc_h, conc_e = g.uniform(0, 1.5, (5, 7)), g.uniform(0, 1.0, (5, 7))
    return {"visible": f(conc_h, conc_e, shown, io=255.0), "visible_zero": f(np.zeros((2, 3)), np.zeros((2, 3)), shown),
            "same_shape": f(rng.uniform(0, 1.5, (5, 7)), rng.uniform(0, 1.0, (5, 7)), shown, io=255.0),
            "out": f(h, e, stains, io=float(rng.uniform(200, 255)))}  # fmt: skip


def _gini_formula(counts):
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    return 0.0 if total == 0 else 1.0 - float(np.sum((counts / total) ** 2))


def notebook_g08_best_threshold_1d(rng):
    f = _generic("G08", "best_threshold_1d", gini=_gini_formula)
    out = {}
    shown = [(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0, 0, 1, 1])),
             (np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]), np.array([1, 0, 1, 0, 1, 1, 0, 1]))]  # fmt: skip
    for i, (x, y) in enumerate(shown):  # the visible test's cases, then new values of the same sizes
        out[f"visible{i}"] = np.array(f(x, y)[1], dtype=np.float64)  # the decrease (thresholds may differ validly)
        new_x = np.round(rng.uniform(0, 10, len(x)), 1)
        out[f"same_size{i}"] = np.array(f(new_x, rng.permutation(y))[1], dtype=np.float64)
    for i in range(3):
        x = np.round(rng.standard_normal(int(rng.integers(5, 30))), 1)
        y = (x + rng.standard_normal(len(x)) > 0).astype(np.int64)
        threshold, decrease = f(x, y)
        out[f"decrease{i}"] = np.array(decrease, dtype=np.float64)
    return out


def notebook_g09_bias_variance(rng):
    f = _generic("G09", "bias_variance")
    same = np.tile(np.array([0.5, 1.5, 2.0]), (4, 1))
    cases = {"visible_2x2": (np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([1.0, 1.0])), "visible_same": (same, same[0]),
             "visible_shift": (same + 2.0, same[0]), "new_2x2": (rng.uniform(-3, 3, (2, 2)), rng.uniform(-3, 3, 2)),
             "new_4x3": (rng.uniform(0, 3, (4, 3)), rng.uniform(0, 3, 3)),
             "new": (rng.uniform(size=(int(rng.integers(2, 9)), 20)), rng.uniform(size=20))}  # fmt: skip
    return {name: np.array(f(*args), dtype=np.float64) for name, args in cases.items()}


def notebook_g10_auc_by_pairs(rng):
    f = _generic("G10", "auc_by_pairs")
    out = {"visible4": np.array(f(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))),
           "visible2": np.array(f(np.array([0, 1]), np.array([0.5, 0.5])))}  # fmt: skip
    g = np.random.default_rng(6)
    y60 = g.integers(0, 2, 60)
    out["visible60"] = np.array(f(y60, np.round(y60 * 0.8 + g.standard_normal(60), 1)))
    out["new4"] = np.array(f(np.array([0, 0, 1, 1]), np.round(rng.uniform(0, 1, 4), 2)))
    out["new2"] = np.array(f(np.array([0, 1]), rng.uniform(0, 1, 2)))
    y = rng.integers(0, 2, 60)
    y[:2] = [0, 1]
    out["new60"] = np.array(f(y, np.round(y * 0.8 + rng.standard_normal(60), 1)))
    y = rng.integers(0, 2, 40)
    y[:2] = [0, 1]
    out["auc"] = np.array(f(y, np.round(y * 0.7 + rng.standard_normal(40), 1)))
    return out


def notebook_s01(rng):
    centred, thumb = _specific("S01", "centred_location"), _specific("S01", "to_thumbnail")
    xy = rng.uniform(0, 5000, (5, 2))
    loc = centred(tuple(float(v) for v in rng.uniform(500, 9000, 2)), tuple(int(v) for v in rng.integers(16, 512, 2)), float(rng.choice([1.0, 2.0, 4.0])))
    shown = np.array([[64.0, 32.0], [0.0, 100.0]])  # the visible tests' inputs, then new values of the same kinds
    visible = {"visible_loc0": np.array(centred((1000, 800), (100, 50), 4.0)), "visible_loc1": np.array(centred((10.4, 10.6), (2, 2), 1.0)),
               "visible_loc2": np.array(centred((5000.0, 3000.0), (256, 128), 2.0)), "visible_thumb": thumb(shown, 32.0),
               "visible_thumb2": thumb(shown, (32.0, 16.0))}  # fmt: skip
    same = {"loc_int": np.array(centred(tuple(int(v) for v in rng.integers(200, 5000, 2)), (100, 50), 4.0)),
            "thumb_same": thumb(rng.uniform(0, 200, (2, 2)), 32.0)}  # fmt: skip
    return {**visible, **same, "centred": np.array(loc), "thumb": thumb(xy, float(rng.uniform(2, 64))), "thumb2": thumb(xy, (4.0, 8.0))}


def notebook_s02(rng):
    grid, summary = _specific("S02", "grid_image"), _specific("S02", "tile_table_summary")
    from camelyon.tiling import TILE_DTYPE

    shape = (int(rng.integers(3, 7)), int(rng.integers(3, 7)))
    n = 5
    flat = rng.choice(shape[0] * shape[1], n, replace=False)
    img = grid(flat // shape[1], flat % shape[1], rng.uniform(size=n), shape)
    table = np.zeros(12, dtype=TILE_DTYPE)
    table["label"], table["tissue_fraction"] = rng.integers(0, 2, 12), rng.uniform(size=12)
    s = summary(table)
    rows, cols = np.array([0, 2]), np.array([1, 3])  # the visible test's cells, then new values in them
    return {"visible_grid": grid(rows, cols, np.array([0.25, 0.75]), (3, 4)), "same_cells": grid(rows, cols, rng.uniform(size=2), (3, 4)),
            "grid": img, "summary": np.array([s[k] for k in ("n_tiles", "n_tumour", "tumour_share", "mean_tissue_fraction")], dtype=np.float64)}  # fmt: skip


def notebook_s03(rng):
    f = _specific("S03", "random_batches")
    n, size = int(rng.integers(5, 40)), int(rng.integers(2, 9))
    batches = f(n, size, np.random.default_rng(int(rng.integers(0, 2**31))))
    return {"sizes": np.array([len(b) for b in batches]), "sorted": np.sort(np.concatenate(batches))}


def notebook_s04(rng):
    f = _specific("S04", "mean_od_per_centre")
    tiles = rng.integers(0, 256, size=(6, 5, 5, 3), dtype=np.uint8)
    centres = rng.integers(0, 3, 6)
    got = f(tiles, centres)
    return {"centres": np.array(sorted(got)), "od": np.array([got[c] for c in sorted(got)], dtype=np.float64)}


def notebook_s05(rng):
    f = _specific("S05", "balanced_batch_indices")
    labels = (rng.uniform(size=60) < 0.2).astype(np.int64)
    labels[:2] = [0, 1]
    size = int(rng.integers(2, 20))
    idx = f(labels, size, np.random.default_rng(int(rng.integers(0, 2**31))))
    return {"n": np.array(len(idx)), "tumour": np.array(int(labels[idx].sum()))}


def notebook_s06(rng):
    from camelyon.heatmap import Heatmap

    box, extent = _specific("S06", "heatmap_pixel_box"), _specific("S06", "overlay_extent")
    shape = (int(rng.integers(2, 6)), int(rng.integers(2, 6)))
    stride, down = int(rng.choice([16, 32])), float(rng.choice([1.0, 2.0, 4.0]))
    hm = Heatmap(np.zeros(shape, np.float32), np.ones(shape, bool), "s.tif", 1, 32, stride, stride * down * 0.5,
                 (int(rng.integers(0, 200)), int(rng.integers(0, 200))), down)
    r, c = int(rng.integers(0, shape[0])), int(rng.integers(0, shape[1]))
    return {"box": np.array(box(hm, r, c), dtype=np.float64), "extent": np.array(extent(hm, float(rng.choice([1.0, 8.0]))), dtype=np.float64)}


def notebook_s06_hard_negatives(rng):
    f = _specific("S06", "hard_negatives")

    def run(prob, labels, k):
        return np.asarray(f(prob, labels, k)).astype(np.int64)

    shown = (np.array([0.9, 0.2, 0.8, 0.8, 0.1, 0.95, 0.3]), np.array([1, 0, 0, 0, 0, 1, 0]))  # the visible test's
    out = {"visible3": run(*shown, 3), "visible10": run(*shown, 10)}
    same = (np.round(rng.uniform(size=7), 1), rng.permutation(shown[1]))  # the same sizes, new values (ties likely)
    out.update(same3=run(*same, 3), same10=run(*same, 10))
    n = int(rng.integers(5, 80))
    prob = np.round(rng.uniform(size=n), 2)  # ties on purpose
    labels = (rng.uniform(size=n) < 0.3).astype(np.int64)
    out["hard"] = run(prob, labels, int(rng.integers(0, n + 5)))
    return out


def notebook_s07(rng):
    from camelyon.heatmap import Heatmap

    f = _specific("S07", "tumour_burden")
    prob = rng.random((7, 6)).astype(np.float32) ** 2
    tissue = prob > 0.05
    prob[~tissue] = 0
    got = f(Heatmap(prob, tissue, "s.tif", 0, 32, 32, float(rng.uniform(100, 300))), float(rng.uniform(0.3, 0.7)))
    out = {"area": np.array(got["area_mm2"], dtype=np.float64), "ratio": np.array(got["tissue_ratio"], dtype=np.float64)}
    for name, g in (("visible", np.random.default_rng(0)), ("same_shape", rng)):  # the visible test's map, then a new one
        p = g.random((12, 9)).astype(np.float32) ** 3
        t = p > 0.01
        p[~t] = 0
        burden = f(Heatmap(p, t, "s.tif", 0, 32, 32, 128.0), 0.5)
        out[f"{name}_area"] = np.array(burden["area_mm2"], dtype=np.float64)
        out[f"{name}_ratio"] = np.array(burden["tissue_ratio"], dtype=np.float64)
    return out


def notebook_s08(rng):
    f = _specific("S08", "patient_folds")
    patients = np.array([f"p{int(p)}" for p in rng.integers(0, 9, 30)])
    k = int(rng.integers(2, 4))
    return {"folds": np.asarray(f(patients, k, seed=int(rng.integers(0, 1000)))).astype(np.int64)}


def notebook_s09(rng):
    f = _specific("S09", "stages_for_patients")
    kinds = ["negative", "itc", "micro", "macro"]
    labels = {f"patient_{p:03d}_node_{n}.tif": kinds[int(rng.integers(0, 4))] for p in range(6) for n in range(5)}
    got = f(labels)
    shown = {"patient_000": ["negative"] * 5, "patient_001": ["itc", "negative", "itc", "negative", "negative"],
             "patient_002": ["micro"] * 4 + ["itc"], "patient_003": ["macro", "micro", "negative", "negative", "itc"],
             "patient_004": ["macro", "micro", "micro", "macro", "negative"]}  # the visible test's plan
    visible = f({f"{p}_node_{n}.tif": lab for p, labs in shown.items() for n, lab in enumerate(labs)})
    shuffled = {p: [kinds[int(rng.integers(0, 4))] for _ in labs] for p, labs in shown.items()}  # same patients
    same = f({f"{p}_node_{n}.tif": lab for p, labs in shuffled.items() for n, lab in enumerate(labs)})
    return {"visible": np.array([visible[p] for p in sorted(shown)]), "same_patients": np.array([same[p] for p in sorted(shown)]),
            "patients": np.array(sorted(got)), "stages": np.array([got[p] for p in sorted(got)])}  # fmt: skip


# ------------------------------------------------------------------------ S exercises' camelyon regions


def probe_core_features(rng):
    from camelyon.features import core_features

    out = {}
    for i in range(3):
        shape = (int(rng.integers(6, 20)), int(rng.integers(6, 20)))
        prob = rng.random(shape) ** 3
        prob[rng.random(shape) < 0.3] = 0.0  # outside tissue
        if i == 2:
            prob[:] = 0.0  # an empty map
        got = core_features(prob, float(rng.uniform(0.2, 0.7)))
        for key in ("max_probability", "mean_positive_probability", "pixels_above", "largest_major_axis_px",
                    "largest_minor_axis_px", "largest_area_px"):  # fmt: skip
            out[f"case{i}/{key}"] = np.array(got[key], dtype=np.float64)
    return out


def probe_kappa(rng):
    from camelyon.evaluation import quadratic_weighted_kappa

    out = {}
    for i in range(3):
        k = int(rng.integers(3, 7))
        n = int(rng.integers(10, 40))
        ref = rng.integers(0, k, n)
        pred = np.where(rng.random(n) < 0.6, ref, rng.integers(0, k, n))
        out[f"case{i}"] = np.array(quadratic_weighted_kappa(ref, pred, n_classes=k), dtype=np.float64)
    return out


def probe_pn_stage(rng):
    from camelyon.staging import pn_stage

    kinds = ["negative", "itc", "micro", "macro", "Negative", "ITC", "Micro", "MACRO"]
    weights = np.array([6, 2, 2, 1, 1, 1, 1, 1], dtype=np.float64)
    patients = [[kinds[int(j)] for j in rng.choice(len(kinds), 5, p=weights / weights.sum())] for _ in range(40)]
    return {"stages": np.array([pn_stage(p) for p in patients])}


PROBES = {
    "G01": [probe_dense, probe_activations, probe_dense_layer, notebook_g01_centred_difference],
    "G02": [probe_losses, probe_losses_extreme, notebook_g02_logsumexp],
    "G03": [probe_conv_naive, probe_conv_layer, notebook_g03_im2col_numpy],
    "G04": [probe_pooling_naive, probe_pooling_layers, notebook_g04_max_pool_2x2_reshape],
    "G05": [probe_sgd, probe_adam, notebook_g05_rosenbrock_grad],
    "G06": [probe_batchnorm_dropout, probe_train_step, notebook_g06_build_shapes_cnn],
    "G07": [probe_flip_rotate, probe_reinhard, notebook_g07_compose_he],
    "G08": [probe_criteria, probe_naive_tree, notebook_g08_best_threshold_1d],
    "G09": [probe_bootstrap, probe_forest, notebook_g09_bias_variance],
    "G10": [probe_metrics, notebook_g10_auc_by_pairs],
    "S01": [notebook_s01],
    "S02": [notebook_s02],
    "S03": [notebook_s03],
    "S04": [notebook_s04],
    "S05": [notebook_s05],
    "S06": [notebook_s06, notebook_s06_hard_negatives],
    "S07": [probe_core_features, notebook_s07],
    "S08": [notebook_s08],
    "S09": [probe_kappa, probe_pn_stage, notebook_s09],
}
