"""Probes: the exercises' functions on fixed random inputs, compared by the grader with the reference.

``PROBES`` maps an exercise id to functions ``probe(rng) -> dict of arrays``. The grader calls each
probe with the same seeded ``numpy.random.Generator`` over the student's tree and over the reference
tree (in separate processes) and compares the outputs (floats to ``rtol=1e-3``, integers exactly).
Probes set every parameter explicitly from ``rng``, so that a different (but valid) initialisation
order does not count as a mistake, and they import inside the function, so that one exercise that
does not import does not stop the others. A probe that fails on the reference is skipped (reported).
"""

import numpy as np

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
    result = {}
    for name, fwd, bwd in (
        ("relu", F.relu_forward, F.relu_backward),
        ("leaky", lambda v: F.leaky_relu_forward(v, 0.1), F.leaky_relu_backward),
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


PROBES = {
    "G01": [probe_dense, probe_activations, probe_dense_layer],
    "G02": [probe_losses, probe_losses_extreme],
    "G03": [probe_conv_naive, probe_conv_layer],
    "G04": [probe_pooling_naive, probe_pooling_layers],
    "G05": [probe_sgd, probe_adam],
    "G06": [probe_batchnorm_dropout, probe_train_step],
    "G07": [probe_flip_rotate, probe_reinhard],
    "G08": [probe_criteria, probe_naive_tree],
    "G09": [probe_bootstrap, probe_forest],
    "G10": [probe_metrics],
}
