"""Layer classes: gradients against finite differences, the params/grads contract, config, errors."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import away_from_zero, conv_cases, distinct_values, pool_cases, rng_array, seeds, shapes

from minicnn.gradcheck import check_layer_gradients
from minicnn.layers import (
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    LeakyReLU,
    MaxPool2D,
    ReLU,
    Sigmoid,
    Tanh,
)
from minicnn.layers import __all__ as LAYER_NAMES

TOL = 1e-6


def _assert_small(errors):
    assert max(errors.values()) < TOL, errors


@pytest.mark.exercise("G03")
@settings(max_examples=10)
@given(case=conv_cases(max_batch=2, max_size=5, max_filters=3), seed=seeds)
def test_conv2d_gradients(case, seed):
    layer = Conv2D(case["c"], case["f"], case["k"], case["stride"], case["padding"], rng=seed)
    layer.params["b"][...] = rng_array(seed, (case["f"],))
    x = rng_array(seed + 1, (case["n"], case["c"], case["h"], case["w"]))
    errors = check_layer_gradients(layer, x, seed=seed)
    assert set(errors) == {"x", "W", "b"}
    _assert_small(errors)


@pytest.mark.exercise("G01")
@settings(max_examples=20)
@given(n=st.integers(1, 4), d=st.integers(1, 6), m=st.integers(1, 4), seed=seeds)
def test_dense_gradients(n, d, m, seed):
    layer = Dense(d, m, rng=seed)
    _assert_small(check_layer_gradients(layer, rng_array(seed, (n, d)), seed=seed))


@pytest.mark.exercise("G01")
@pytest.mark.parametrize("make", [ReLU, lambda: LeakyReLU(0.1), Sigmoid, Tanh], ids=["relu", "leaky", "sigmoid", "tanh"])
@settings(max_examples=15)
@given(shape=shapes(), seed=seeds)
def test_activation_gradients(make, shape, seed):
    x = away_from_zero(rng_array(seed, shape, scale=2.0))
    _assert_small(check_layer_gradients(make(), x, seed=seed))


@pytest.mark.exercise("G04")
@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@settings(max_examples=15)
@given(case=pool_cases(max_size=6), seed=seeds)
def test_pool_gradients(cls, case, seed):
    x = distinct_values(seed, (case["n"], case["c"], case["h"], case["w"]))
    _assert_small(check_layer_gradients(cls(case["k"], case["stride"]), x, seed=seed))


@pytest.mark.exercise("G04")
@settings(max_examples=15)
@given(shape=shapes(min_dims=4, max_dims=4), seed=seeds)
def test_global_avg_pool_gradients(shape, seed):
    _assert_small(check_layer_gradients(GlobalAvgPool2D(), rng_array(seed, shape), seed=seed))


@settings(max_examples=10)
@given(shape=shapes(min_dims=2), seed=seeds)
def test_flatten_gradients(shape, seed):
    _assert_small(check_layer_gradients(Flatten(), rng_array(seed, shape), seed=seed))


@pytest.mark.exercise("G06")
@settings(max_examples=15)
@given(shape=shapes(min_dims=2), p=st.sampled_from([0.1, 0.5]), seed=seeds)
def test_dropout_gradients(shape, p, seed):
    _assert_small(check_layer_gradients(Dropout(p, rng=seed), rng_array(seed, shape), seed=seed))


@pytest.mark.exercise("G06")
@settings(max_examples=15)
@given(n=st.integers(3, 5), c=st.integers(1, 3), image=st.booleans(), training=st.booleans(), seed=seeds)
def test_batchnorm_gradients(n, c, image, training, seed):
    layer = BatchNorm2D(c) if image else BatchNorm1D(c)
    layer.params["gamma"][...] = 1 + 0.5 * rng_array(seed, (c,))
    layer.params["beta"][...] = rng_array(seed + 1, (c,))
    if not training:
        layer.eval()
    shape = (n, c, 2, 3) if image else (n, c)
    _assert_small(check_layer_gradients(layer, rng_array(seed + 2, shape, scale=2.0) + 1, seed=seed))


# ----------------------------------------------------------------------------- contract

def _examples():
    """(layer, input) pairs covering every layer class, float32 inputs."""
    rng = np.random.default_rng(0)
    img = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    vec = rng.standard_normal((4, 5)).astype(np.float32)
    return [
        (Conv2D(3, 4, 3, padding=1, rng=0), img),
        (Conv2D(3, 2, 2, stride=2, rng=0), img),
        (Dense(5, 3, rng=0), vec),
        (MaxPool2D(2), img),
        (AvgPool2D(3, 2), img),
        (GlobalAvgPool2D(), img),
        (ReLU(), vec),
        (LeakyReLU(0.2), vec),
        (Sigmoid(), vec),
        (Tanh(), img),
        (Flatten(), img),
        (Dropout(0.5, rng=0), vec),
        (BatchNorm1D(5), vec),
        (BatchNorm2D(3), img),
    ]


def test_every_layer_class_is_covered():
    covered = {type(layer).__name__ for layer, _ in _examples()}
    assert covered == set(LAYER_NAMES) - {"Layer"}


#: The exercise whose regions a layer class runs (Flatten is given to students).
EXERCISE_OF_LAYER = {
    "Conv2D": "G03", "Dense": "G01", "ReLU": "G01", "LeakyReLU": "G01", "Sigmoid": "G01", "Tanh": "G01",
    "MaxPool2D": "G04", "AvgPool2D": "G04", "GlobalAvgPool2D": "G04",
    "Dropout": "G06", "BatchNorm1D": "G06", "BatchNorm2D": "G06",
}


def _marked_examples():
    """The examples, each marked with its own exercise so that `pytest -m G01` runs only G01's layers."""
    out = []
    for layer, x in _examples():
        name = type(layer).__name__
        ex = EXERCISE_OF_LAYER.get(name)
        marks = [pytest.mark.exercise(ex)] if ex else []
        out.append(pytest.param(layer, x, marks=marks, id=name))
    return out


@pytest.mark.parametrize("layer,x", _marked_examples())
def test_layer_contract(layer, x):
    out = layer.forward(x)
    assert out.dtype == np.float32
    assert out.shape[1:] == layer.output_shape(x.shape[1:])
    refs = {k: g for k, g in layer.grads.items()}
    assert set(refs) == set(layer.params)
    dout = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    dx = layer.backward(dout)
    assert dx.shape == x.shape and dx.dtype == np.float32
    for k, g in layer.grads.items():
        assert g is refs[k], f"grads[{k!r}] was rebound instead of written in place"
        assert g.shape == layer.params[k].shape and g.dtype == layer.params[k].dtype
    # config is JSON and rebuilds an equivalent layer
    cfg = json.loads(json.dumps(layer.config()))
    assert cfg["type"] == type(layer).__name__
    kwargs = {k: v for k, v in cfg.items() if k != "type"}
    twin = type(layer)(**kwargs)
    assert twin.config() == layer.config()
    assert {k: p.shape for k, p in twin.params.items()} == {k: p.shape for k, p in layer.params.items()}
    assert layer.eval() is layer and not layer.training
    assert layer.train() is layer and layer.training


@pytest.mark.exercise("G03")
def test_conv_float64_input_and_astype():
    layer = Conv2D(2, 3, 3, padding=1, rng=0)
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5))
    out32 = layer.forward(x.astype(np.float32))
    out = layer.forward(x)  # float64 input works with float32 parameters
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, out32, rtol=1e-4, atol=1e-5)
    layer.astype(np.float64)
    assert layer.params["W"].dtype == np.float64 and layer.grads["W"].dtype == np.float64
    layer.backward(np.ones_like(layer.forward(x)))
    assert layer.grads["b"].dtype == np.float64


@pytest.mark.exercise("G03")
def test_conv_input_grad_switch():
    layer = Conv2D(2, 3, 3, padding=1, rng=0)
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5)).astype(np.float32)
    dout = np.ones((2, 3, 5, 5), np.float32)
    layer.forward(x)
    dx = layer.backward(dout)
    dw = layer.grads["W"].copy()
    layer.input_grad = False
    layer.forward(x)
    assert layer.backward(dout) is None
    np.testing.assert_array_equal(layer.grads["W"], dw)
    assert dx is not None


def test_same_seed_same_weights():
    a, b, c = Conv2D(3, 8, 3, rng=42), Conv2D(3, 8, 3, rng=42), Conv2D(3, 8, 3, rng=43)
    assert a.params["W"].tobytes() == b.params["W"].tobytes()
    assert a.params["W"].tobytes() != c.params["W"].tobytes()
    assert a.params["W"].dtype == np.float32
    # He initialisation: variance 2 / fan_in
    big = Dense(1000, 500, rng=0).params["W"]
    assert abs(big.var() - 2 / 1000) < 1e-4
    np.testing.assert_array_equal(Dense(3, 2, rng=0).params["b"], 0)


@pytest.mark.exercise("G06")
def test_dropout_eval_is_identity_and_train_is_seeded():
    x = np.ones((10, 10), np.float32)
    layer = Dropout(0.5, rng=1)
    a = layer.forward(x)
    assert (a == 0).any()
    assert Dropout(0.5, rng=1).forward(x).tobytes() == a.tobytes()
    layer.eval()
    np.testing.assert_array_equal(layer.forward(x), x)


@pytest.mark.exercise("G06")
def test_batchnorm_buffers_follow_training():
    layer = BatchNorm2D(3)
    x = np.random.default_rng(0).standard_normal((4, 3, 2, 2)).astype(np.float32) + 2
    layer.forward(x)
    assert set(layer.buffers) == {"running_mean", "running_var"}
    moved = layer.buffers["running_mean"].copy()
    assert np.all(moved > 0.1)
    layer.eval()
    layer.forward(x)
    np.testing.assert_array_equal(layer.buffers["running_mean"], moved)


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize(
    "layer,shape,message",
    [
        (Conv2D(3, 16, 3), (8, 4, 32, 32), r"Conv2D\(3->16, k=3\): expected input of shape \(N, 3, H, W\), got \(8, 4, 32, 32\)"),
        (Conv2D(3, 16, 3), (3, 32, 32), r"Conv2D\(3->16, k=3\): expected input of shape \(N, 3, H, W\), got \(3, 32, 32\)"),
        (Conv2D(3, 16, 5, padding=1), (2, 3, 2, 9), r"Conv2D\(3->16, k=5, p=1\): kernel 5 is larger than the padded input H"),
        (Dense(64, 1), (8, 65), r"Dense\(64->1\): expected input of shape \(N, 64\), got \(8, 65\)"),
        (Dense(64, 1), (8, 64, 1), r"Dense\(64->1\): expected input of shape \(N, 64\), got \(8, 64, 1\)"),
        (MaxPool2D(2), (8, 3), r"MaxPool2D\(k=2, s=2\): expected input of shape \(N, C, H, W\), got \(8, 3\)"),
        (MaxPool2D(3), (1, 1, 2, 8), r"MaxPool2D\(k=3, s=3\): kernel 3 is larger than the padded input H 2"),
        (AvgPool2D(2), (1, 1, 1, 8), r"AvgPool2D\(k=2, s=2\): kernel 2 is larger"),
        (GlobalAvgPool2D(), (8, 3, 4), r"GlobalAvgPool2D\(\): expected input of shape \(N, C, H, W\), got \(8, 3, 4\)"),
        (BatchNorm1D(4), (8, 3), r"BatchNorm1D\(4\): expected input of shape \(N, 4\), got \(8, 3\)"),
        (BatchNorm2D(4), (8, 4), r"BatchNorm2D\(4\): expected input of shape \(N, 4, H, W\), got \(8, 4\)"),
        (Flatten(), (8,), r"Flatten\(\): expected input of shape \(N, \.\.\.\)"),
    ],
)
def test_bad_input_names_layer_and_expected_shape(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer.forward(np.zeros(shape, np.float32))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2D(3, 4, 0)
    with pytest.raises(ValueError, match="padding"):
        Conv2D(3, 4, 3, padding=-1)
    with pytest.raises(ValueError, match="out_features"):
        Dense(3, 0)
    with pytest.raises(ValueError, match="p must be"):
        Dropout(1.5)
    with pytest.raises(ValueError, match="rng"):
        Dense(3, 2, rng="seed")


def test_backward_before_forward():
    with pytest.raises(ValueError, match=r"Conv2D\(3->4, k=3\): backward called before forward"):
        Conv2D(3, 4, 3).backward(np.zeros((1, 4, 1, 1)))


def test_output_shape_errors():
    assert Conv2D(3, 16, 3, padding=1).output_shape((3, 96, 96)) == (16, 96, 96)
    assert MaxPool2D(2).output_shape((16, 96, 96)) == (16, 48, 48)
    assert GlobalAvgPool2D().output_shape((64, 12, 12)) == (64,)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, H, W\)"):
        Conv2D(3, 16, 3).output_shape((4, 96, 96))
    with pytest.raises(ValueError, match=r"Dense\(64->1\)"):
        Dense(64, 1).output_shape((63,))


# ----------------------------------------------------------------------------- buffer reuse

@pytest.mark.parametrize("make", [
    pytest.param(lambda: Conv2D(3, 4, 3, padding=1, rng=0), marks=pytest.mark.exercise("G03"), id="conv"),
    pytest.param(ReLU, marks=pytest.mark.exercise("G01"), id="relu"),
    pytest.param(lambda: MaxPool2D(2), marks=pytest.mark.exercise("G04"), id="maxpool"),
])
def test_recycled_outputs_never_overwrite_arrays_still_held(make):
    """Layers reuse output buffers only once nobody references them any more."""
    layer = make()
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((2, 3, 8, 8)).astype(np.float32) for _ in range(5)]
    outs = [layer.forward(x) for x in xs]
    firsts = [o.copy() for o in outs]
    for x in xs:  # more calls must not touch the arrays we keep
        layer.forward(x)
    for o, first in zip(outs, firsts, strict=True):
        np.testing.assert_array_equal(o, first)
    dout = np.ones_like(outs[-1])
    dxs = [layer.backward(dout) for _ in range(4)]
    assert len({id(d) for d in dxs}) == 4  # all still held, so all distinct


def test_workspace_scratch_and_output_arrays():
    from minicnn.functional import Workspace

    ws = Workspace(keep=2)
    a = ws.scratch("cols", (3, 4), np.float32)
    assert ws.scratch("cols", (3, 4), np.float32) is a  # scratch: reused by the next call
    assert ws.scratch("cols", (3, 4), np.float64) is not a
    assert ws.scratch("cols", (3, 4), np.float32) is a  # two shapes kept per name
    ws.scratch("cols", (5,), np.float32)  # a third pushes out the least recently used (float64)
    assert ws.scratch("cols", (3, 4), np.float32) is a
    # outputs: new arrays, unless the owner declares that it reuses them
    held = ws.output("out", (3, 4), np.float32)
    assert ws.output("out", (3, 4), np.float32) is not held
    assert not ws.owns(held)
    ws.reuse_outputs = True
    own = ws.output("out", (3, 4), np.float32)
    assert ws.output("out", (3, 4), np.float32) is own
    assert own is not a  # outputs and scratch arrays never share a name
    assert ws.owns(own[1:]) and ws.owns(own.reshape(-1)) and not ws.owns(held) and not ws.owns(3.0)
    assert ws.nbytes() > 0
    ws.clear()
    assert ws.nbytes() == 0


def test_no_reference_counting_in_buffers():
    """Buffer reuse is decided by the owner, never by CPython's reference counts (issue 19)."""
    from pathlib import Path

    import minicnn.functional as F

    source = (Path(F.__file__).parent / "_buffers.py").read_text()
    assert "getrefcount" not in source
