"""Fused Conv2D -> ReLU [-> MaxPool2D(2)] runs of a Sequential: same results as layer by layer, and when they apply."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import rng_array
from student_editions import blank_edition, edition_or_skip, g_filled_edition

import minicnn.functional as F
from minicnn import Sequential, fusion
from minicnn.layers import AvgPool2D, Conv2D, Flatten, MaxPool2D, ReLU
from minicnn.models import tile_cnn

# a student edition never fuses (its layers are the student's code): only the edition tests below apply there
pytestmark = pytest.mark.skipif(not fusion.solution_edition(), reason="a student edition runs every layer's own code")

def _kinds(model):
    return [type(runner).__name__ for _, _, runner in fusion.plan(model.layers, model.fuse)]


def _twins(layers_fn, dtype):
    """Two models with the same weights: one fused (the default), one run layer by layer."""
    fused, plain = Sequential(*layers_fn()), Sequential(*layers_fn())
    plain.fuse = False
    for model in (fused, plain):
        model.astype(dtype)
    plain.load_state_dict(fused.state_dict())
    return fused, plain


def _step(model, x, dout_seed, input_grad):
    model[0].input_grad = input_grad
    out = model.forward(x)
    dout = rng_array(dout_seed, out.shape, x.dtype)
    dx = model.backward(dout)
    return out, dx, [g.copy() for _, _, g in model.named_parameters()]


@st.composite
def fused_cases(draw):
    k = draw(st.integers(1, 4))
    padding = draw(st.integers(0, 2))
    stride = draw(st.integers(1, 2))
    pool = draw(st.booleans())
    least = max(1, k - 2 * padding) + (2 * stride if pool else 0)  # a conv output of >= 2 px when pooled
    return {
        "n": draw(st.integers(1, 5)), "c": draw(st.integers(1, 4)), "f": draw(st.integers(1, 5)),
        "h": draw(st.integers(least, least + 7)), "w": draw(st.integers(least, least + 7)),
        "k": k, "padding": padding, "stride": stride, "pool": pool, "input_grad": draw(st.booleans()),
    }


@settings(max_examples=40, deadline=None)
@given(case=fused_cases(), seed=st.integers(0, 2**16))
def test_fused_run_equals_layer_by_layer(case, seed):
    """Output, input gradient and weight gradients of a fused run match the layers run one by one (float64).

    Odd conv outputs (a pooled window never covers the last row or column), strides, paddings and the
    first layer without its input gradient are all drawn.
    """
    def layers():
        conv = Conv2D(case["c"], case["f"], case["k"], stride=case["stride"], padding=case["padding"], rng=seed)
        return [conv, ReLU()] + ([MaxPool2D(2)] if case["pool"] else []) + [Flatten()]

    fused, plain = _twins(layers, np.float64)
    assert _kinds(fused)[0] == "FusedConvBlock" and "FusedConvBlock" not in _kinds(plain)
    x = rng_array(seed, (case["n"], case["c"], case["h"], case["w"]), np.float64)
    got, want = (_step(m, x, seed + 1, case["input_grad"]) for m in (fused, plain))
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
    if case["input_grad"]:
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-12)
    else:
        assert got[1] is None and want[1] is None
    for g, w in zip(got[2], want[2], strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 3), k=st.integers(1, 3), padding=st.integers(0, 2),
       h=st.integers(5, 21), w=st.integers(5, 40), input_grad=st.booleans(), seed=st.integers(0, 2**16))
def test_first_block_kernels_equal_layer_by_layer(n, c, k, padding, h, w, input_grad, seed):
    """16 filters on <= 3 channels: the forward pass pools from registers (conv_direct_pool), and without an input
    gradient the weight gradient comes from the pooled gradient (conv_direct_pool_backward); float64, random sizes."""
    fused, plain = _twins(lambda: [Conv2D(c, 16, k, padding=padding, rng=seed), ReLU(), MaxPool2D(2), Flatten()],
                          np.float64)
    x = rng_array(seed, (n, c, h, w), np.float64)
    got, want = (_step(m, x, seed + 1, input_grad) for m in (fused, plain))
    for g, e in zip((got[0], *got[2]), (want[0], *want[2]), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)
    if input_grad:
        np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-12)


def test_tile_cnn_fused_equals_layer_by_layer_in_float32():
    """The tile CNN (four fused runs) gives the layer-by-layer logits and gradients within float32 rounding."""
    fused, plain = _twins(lambda: tile_cnn(rng=3).layers, np.float32)
    assert _kinds(fused)[:4] == ["FusedConvBlock"] * 4 and len(_kinds(fused)) == 6
    x = rng_array(5, (6, 3, 96, 96), np.float32)
    got, want = (_step(m, x, 9, False) for m in (fused, plain))
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
    for g, w in zip(got[2], want[2], strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5 * np.abs(w).max())


def test_ties_and_all_negative_windows_follow_the_layers():
    """Equal maxima go to the first in row-major order; a window with no positive value passes no gradient."""
    x = np.array([[[[1.0, 1.0, -2.0, -1.0], [1.0, 0.5, -3.0, -1.0],
                    [0.0, 2.0, 0.0, 0.0], [2.0, 2.0, -1.0, 0.0]]]])
    w, b = np.ones((1, 1, 1, 1)), np.zeros(1)
    out, cache = F.conv2d_relu_pool_forward(x, w, b, pool=True)
    np.testing.assert_array_equal(out[0, 0], [[1.0, 0.0], [2.0, 0.0]])
    dx, _, _ = F.conv2d_relu_pool_backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]])


def test_which_runs_are_fused():
    # conv + relu + 2x2 pool, conv + relu before another pooling, nothing without a ReLU right after the conv
    model = Sequential(Conv2D(1, 2, 3, padding=1, rng=0), ReLU(), MaxPool2D(2),
                       Conv2D(2, 2, 3, padding=1, rng=1), ReLU(), MaxPool2D(3),
                       Conv2D(2, 2, 1, rng=2), AvgPool2D(2), ReLU())
    kinds = [(a, b, type(r).__name__) for a, b, r in fusion.plan(model.layers)]
    assert kinds == [(0, 2, "FusedConvBlock"), (3, 4, "FusedConvBlock"), (5, 5, "MaxPool2D"), (6, 6, "Conv2D"),
                     (7, 7, "AvgPool2D"), (8, 8, "ReLU")]
    model.fuse = False
    assert "FusedConvBlock" not in _kinds(model)


def test_a_wrapped_or_subclassed_layer_runs_its_own_code():
    """A profiler that wraps ``layer.forward``, or a subclass, must see its layer called: no fusion there."""
    calls = []

    class LoudReLU(ReLU):
        def forward(self, x):
            calls.append("subclass")
            return super().forward(x)

    model = Sequential(Conv2D(1, 2, 3, rng=0), LoudReLU(), Conv2D(2, 2, 3, rng=1), ReLU(), MaxPool2D(2))
    conv = model[2]
    original = conv.forward
    conv.forward = lambda x: (calls.append("wrapped"), original(x))[1]
    assert _kinds(model) == ["Conv2D", "LoudReLU", "Conv2D", "ReLU", "MaxPool2D"]
    model.forward(np.ones((1, 1, 8, 8), dtype=np.float32))
    assert calls == ["subclass", "wrapped"]


def test_fused_layers_hold_no_stale_cache_and_errors_name_the_layer():
    model = Sequential(Conv2D(3, 4, 3, padding=1, rng=0), ReLU(), MaxPool2D(2))
    model.fuse = False
    model.forward(np.ones((2, 3, 8, 8), dtype=np.float32))  # the layers' own caches
    model.fuse = True
    model.forward(np.ones((2, 3, 8, 8), dtype=np.float32))
    with pytest.raises(ValueError, match=r"ReLU\(\): backward called before forward"):
        model[1].backward(np.ones((2, 4, 8, 8), dtype=np.float32))
    with pytest.raises(ValueError, match=r"Conv2D\(3->4, k=3, p=1\): expected input of shape \(N, 3, H, W\)"):
        model.forward(np.ones((2, 5, 8, 8), dtype=np.float32))
    with pytest.raises(ValueError, match=r"conv2d_relu_pool_backward: expected dout of shape \(2, 4, 4, 4\)"):
        model.forward(np.ones((2, 3, 8, 8), dtype=np.float32))
        model.backward(np.ones((2, 4, 8, 8), dtype=np.float32))


def test_outputs_returned_to_the_caller_are_not_overwritten():
    model = Sequential(Conv2D(1, 2, 3, padding=1, rng=0), ReLU(), MaxPool2D(2))
    first = model.forward(np.ones((1, 1, 4, 4), dtype=np.float32))
    kept = first.copy()
    model.forward(np.full((1, 1, 4, 4), -5.0, dtype=np.float32))
    np.testing.assert_array_equal(first, kept)


_PLAN = ("from minicnn import fusion; from minicnn.models import tile_cnn; "
         "print(fusion.solution_edition(), len(fusion.plan(tile_cnn(rng=0).layers)))")


@pytest.mark.slow
@pytest.mark.parametrize("make, expected", [(blank_edition, "False 13"), (g_filled_edition, "True 6")],
                         ids=["blank", "G written by the solution"])
def test_student_editions_fuse_only_the_solutions_code(make, expected, tmp_path_factory):
    """A student's Sequential runs the student's layers: the released edition never fuses (its layers hold stubs
    or the student's code); one with the solution's G files does."""
    edition = edition_or_skip(make, tmp_path_factory)
    proc = subprocess.run([sys.executable, "-c", _PLAN], cwd=edition, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(edition)))
    assert proc.stdout.split("\n")[0] == expected, proc.stderr[-2000:]
