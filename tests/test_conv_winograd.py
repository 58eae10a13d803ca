"""Winograd F(2x2, 3x3) (minicnn/functional/conv_winograd.py) against the naive loops.

conv_fast sends every stride-1 3x3 layer with more than 3 input channels through Winograd, and the
fused Conv2D -> ReLU [-> MaxPool2D(2)] runs use its ReLU/pooling epilogues; both are checked here on
random geometries (odd sizes cut the last tile, paddings 0-2, tasks of one or a few images).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import rng_array, seeds

import minicnn.functional as F
from minicnn.functional import conv_fast
from minicnn.functional.conv_winograd import G, transformed_weights, weight_gradient


@st.composite
def winograd_cases(draw):
    """A geometry conv_fast computes by Winograd: 3x3, stride 1, 4-6 input channels."""
    padding = draw(st.integers(0, 2))
    lo = max(1, 3 - 2 * padding)
    return {
        "n": draw(st.integers(1, 5)), "c": draw(st.integers(4, 6)), "f": draw(st.integers(1, 6)),
        "padding": padding, "h": draw(st.integers(lo, 13)), "w": draw(st.integers(lo, 13)),
        # bytes of work arrays per task: from one image per task (and a shorter last task) to the whole batch
        "chunk": draw(st.sampled_from([1, 1 << 12, 1 << 16, 1 << 20])),
    }


def _arrays(case, seed, dtype):
    x = rng_array(seed, (case["n"], case["c"], case["h"], case["w"]), dtype)
    w = rng_array(seed + 1, (case["f"], case["c"], 3, 3), dtype)
    b = rng_array(seed + 2, (case["f"],), dtype)
    return x, w, b


@settings(max_examples=40, deadline=None)
@given(case=winograd_cases(), seed=seeds)
def test_winograd_matches_naive_float64(case, seed):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(conv_fast, "WINOGRAD_CHUNK_BYTES", case["chunk"])
        _check_against_naive(case, seed)


def _check_against_naive(case, seed):
    x, w, b = _arrays(case, seed, np.float64)
    p = case["padding"]
    assert conv_fast.ConvGeometry.of(x.shape, w.shape, 1, p, 8).winograd
    expected, cache = F.conv2d_forward_naive(x, w, b, 1, p)
    dout = rng_array(seed + 3, expected.shape)
    want = F.conv2d_backward_naive(dout, cache)
    out, fast_cache = F.conv2d_forward_fast(x, w, b, 1, p)
    got = F.conv2d_backward_fast(dout, fast_cache)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)
    for g, e, name in zip(got, want, ("dx", "dw", "db"), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("c, f, size", [(16, 32, 48), (32, 64, 24), (64, 64, 12)])
def test_tile_cnn_layers_float32(c, f, size):
    """The tile CNN's 3x3 layers in float32, against float64 naive loops: within float32 rounding."""
    x, w, b = (rng_array(7, (3, c, size, size), np.float32), rng_array(8, (f, c, 3, 3), np.float32, 0.1),
               rng_array(9, (f,), np.float32))
    expected, cache = F.conv2d_forward_naive(*(a.astype(np.float64) for a in (x, w, b)), 1, 1)
    dout = rng_array(10, expected.shape, np.float32)
    want = F.conv2d_backward_naive(dout.astype(np.float64), cache)
    out, fast_cache = F.conv2d_forward_fast(x, w, b, 1, 1)
    got = F.conv2d_backward_fast(dout, fast_cache)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in got)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5 * scale)
    for g, e in zip(got, want, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5 * np.abs(e).max())


@st.composite
def fused_cases(draw):
    case = draw(winograd_cases())
    pool = draw(st.booleans())
    if pool:  # a convolution output of at least 2 x 2 px
        least = 4 - 2 * case["padding"]
        case["h"], case["w"] = max(case["h"], least), max(case["w"], least)
    return {**case, "pool": pool, "input_grad": draw(st.booleans())}


def _naive_run(x, w, b, padding, pool, dout):
    """conv (naive) -> ReLU -> 2x2 max pool (naive) and back: output, dx, dw, db."""
    pre, conv_cache = F.conv2d_forward_naive(x, w, b, 1, padding)
    act, relu_cache = F.relu_forward(pre)
    out, pool_cache = F.max_pool2d_forward_naive(act, 2, 2) if pool else (act, None)
    d_act = F.max_pool2d_backward_naive(dout, pool_cache) if pool else dout
    d_pre = F.relu_backward(d_act, relu_cache)
    return (out, *F.conv2d_backward_naive(d_pre, conv_cache))


@settings(max_examples=40, deadline=None)
@given(case=fused_cases(), seed=seeds)
def test_fused_winograd_runs_match_naive_layers(case, seed):
    """ReLU and pooling applied to each 2 x 2 output tile, and the gradient transform taken straight from the
    pooled (or ReLU's) gradient, give what the naive layers give one after the other."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(conv_fast, "WINOGRAD_CHUNK_BYTES", case["chunk"])
        _check_fused_against_naive(case, seed)


def _check_fused_against_naive(case, seed):
    x, w, b = _arrays(case, seed, np.float64)
    p, pool = case["padding"], case["pool"]
    out, cache = F.conv2d_relu_pool_forward(x, w, b, 1, p, pool=pool)
    dout = rng_array(seed + 3, out.shape)
    dx, dw, db = F.conv2d_relu_pool_backward(dout, cache, need_dx=case["input_grad"])
    want = _naive_run(x, w, b, p, pool, dout)
    np.testing.assert_allclose(out, want[0], rtol=1e-10, atol=1e-10)
    if case["input_grad"]:
        np.testing.assert_allclose(dx, want[1], rtol=1e-10, atol=1e-10)
    else:
        assert dx is None
    np.testing.assert_allclose(dw, want[2], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, want[3], rtol=1e-10, atol=1e-10)


def test_im2col_still_computes_3x3_layers_when_winograd_is_off(monkeypatch):
    monkeypatch.setattr(conv_fast, "WINOGRAD", False)
    case = {"n": 2, "c": 5, "f": 3, "padding": 1, "h": 7, "w": 6}
    x, w, b = _arrays(case, 11, np.float64)
    assert not conv_fast.ConvGeometry.of(x.shape, w.shape, 1, 1, 8).winograd
    out, cache = F.conv2d_forward_fast(x, w, b, 1, 1)
    expected, naive_cache = F.conv2d_forward_naive(x, w, b, 1, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(f=st.integers(1, 5), c=st.integers(1, 5), seed=seeds)
def test_weight_transform_and_its_adjoint(f, c, seed):
    """U = G w G^T for every (filter, channel), and weight_gradient is its adjoint: <U(w), dU> = <w, dW(dU)>."""
    w = rng_array(seed, (f, c, 3, 3))
    du = rng_array(seed + 1, (16, f, c))
    u = transformed_weights(w)
    np.testing.assert_allclose(u.reshape(4, 4, f, c), np.einsum("ai,fcij,bj->abfc", G, w, G), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(np.sum(u * du), np.sum(w * weight_gradient(du)), rtol=1e-12)


def test_work_planes_avoid_4k_aliasing():
    """The 16 planes of a work array are 320 bytes past a multiple of 4 KB apart, so they spread over the L1 sets."""
    planes = conv_fast._planes(None, "v", 16, 576, 576, np.float32)
    assert planes.flat.flags.c_contiguous and planes.mats.shape == (16, 16, 576)
    assert planes.mats.strides[0] % 4096 == 320 and planes.mats.strides[0] == planes.flat.strides[0]
    planes.mats[3, 2, 5] = 7.0
    assert planes.flat[3, 2 * 576 + 5] == 7.0


def test_same_input_same_bytes():
    """Tasks are summed in a fixed order: two runs on the same data give the same bytes."""
    x, w, b = (rng_array(1, (9, 16, 20, 20), np.float32), rng_array(2, (8, 16, 3, 3), np.float32),
               rng_array(3, (8,), np.float32))
    runs = []
    for _ in range(2):
        out, cache = F.conv2d_relu_pool_forward(x, w, b, 1, 1, pool=True)
        runs.append((out.copy(), *F.conv2d_relu_pool_backward(np.ones_like(out), cache)))
    for a, c in zip(*runs, strict=True):
        assert a.tobytes() == c.tobytes()
