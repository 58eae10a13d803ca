"""Pooling: naive loops (exercise G04) against finite differences, fast kernels against naive."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import distinct_values, pool_cases, rng_array, seeds

import minicnn.functional as F
from minicnn.functional import Workspace
from minicnn.gradcheck import numeric_gradient, relative_error

OPS = {
    "max": (F.max_pool2d_forward_naive, F.max_pool2d_backward_naive, F.max_pool2d_forward_fast,
            F.max_pool2d_backward_fast),
    "avg": (F.avg_pool2d_forward_naive, F.avg_pool2d_backward_naive, F.avg_pool2d_forward_fast,
            F.avg_pool2d_backward_fast),
}


def _x(case, seed):
    # distinct values: no ties inside a max-pool window
    return distinct_values(seed, (case["n"], case["c"], case["h"], case["w"]))


@pytest.mark.exercise("G04")
@pytest.mark.parametrize("kind", ["max", "avg"])
@settings(max_examples=20)
@given(case=pool_cases(), seed=seeds)
def test_naive_forward_matches_the_fast_kernel(kind, case, seed):
    # the comparison with the definition (explicit loops) is a hidden test
    x = _x(case, seed)
    out, _ = OPS[kind][0](x, case["k"], case["stride"])
    expected, _ = OPS[kind][2](x, case["k"], case["stride"])
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def _check_backward(fwd, bwd, case, seed):
    """``bwd`` agrees with finite differences of ``fwd`` (relative error < 1e-6)."""
    x = _x(case, seed)
    out, cache = fwd(x, case["k"], case["stride"])
    dout = rng_array(seed, out.shape)
    dx = bwd(dout, cache)
    num = numeric_gradient(lambda v: fwd(v, case["k"], case["stride"])[0], x, dout)
    assert relative_error(dx, num) < 1e-6


@pytest.mark.exercise("G04")
@pytest.mark.parametrize("kind", ["max", "avg"])
@settings(max_examples=20)
@given(case=pool_cases(max_size=6), seed=seeds)
def test_naive_backward_matches_numeric_gradient(kind, case, seed):
    _check_backward(*OPS[kind][:2], case, seed)


@pytest.mark.parametrize("kind", ["max", "avg"])
@settings(max_examples=15)
@given(case=pool_cases(max_size=6), seed=seeds)
def test_fast_backward_matches_numeric_gradient(kind, case, seed):
    _check_backward(*OPS[kind][2:], case, seed)


@pytest.mark.exercise("G04")
@pytest.mark.parametrize("kind", ["max", "avg"])
@settings(max_examples=30)
@given(case=pool_cases(max_size=10, max_kernel=4), seed=seeds)
def test_fast_matches_naive(kind, case, seed):
    fwd_n, bwd_n, fwd_f, bwd_f = OPS[kind]
    x = rng_array(seed, (case["n"], case["c"], case["h"], case["w"]))
    x = np.round(x, 1)  # many ties: both versions must send the gradient to the first maximum
    out_n, cache_n = fwd_n(x, case["k"], case["stride"])
    out_f, cache_f = fwd_f(x, case["k"], case["stride"])
    np.testing.assert_allclose(out_f, out_n, rtol=1e-12, atol=1e-12)
    dout = rng_array(seed + 1, out_n.shape)
    np.testing.assert_allclose(bwd_f(dout, cache_f), bwd_n(dout, cache_n), rtol=1e-12, atol=1e-12)


@pytest.mark.exercise("G04")
@settings(max_examples=40)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(2, 9), w=st.integers(2, 9), seed=seeds,
       workspace=st.booleans())
def test_2x2_max_pool_matches_naive_with_odd_sides_and_reused_buffers(n, c, h, w, seed, workspace):
    # the unrolled 2x2 stride-2 kernel: odd H and W leave a last row/column outside every window, which
    # must get a zero gradient even when the workspace's output array holds the previous call's values
    ws = Workspace() if workspace else None
    if ws is not None:
        ws.reuse_outputs = True
    x = np.round(rng_array(seed, (n, c, h, w)), 1)  # ties go to the first maximum
    out_n, cache_n = F.max_pool2d_forward_naive(x, 2, 2)
    for _ in range(2):  # the second call reuses the workspace's arrays
        out_f, cache_f = F.max_pool2d_forward_fast(x, 2, 2, workspace=ws)
        np.testing.assert_array_equal(out_f, out_n)
        dout = rng_array(seed + 1, out_n.shape)
        np.testing.assert_array_equal(F.max_pool2d_backward_fast(dout, cache_f), F.max_pool2d_backward_naive(dout, cache_n))
        if ws is not None:
            ws.output("dx", x.shape, x.dtype).fill(7.0)  # the buffer the next backward call writes into


@pytest.mark.exercise("G04")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_fast_matches_naive_on_tile_cnn_shapes(dtype):
    rng = np.random.default_rng(3)
    ws = Workspace()
    for c, size in [(16, 96), (32, 48), (64, 24)]:
        x = rng.standard_normal((2, c, size, size)).astype(dtype)
        out_n, cache_n = F.max_pool2d_forward_naive(x, 2)
        out_f, cache_f = F.max_pool2d_forward_fast(x, 2, workspace=ws)
        assert out_f.dtype == dtype
        np.testing.assert_array_equal(out_f, out_n)
        dout = rng.standard_normal(out_n.shape).astype(dtype)
        np.testing.assert_array_equal(F.max_pool2d_backward_fast(dout, cache_f), F.max_pool2d_backward_naive(dout, cache_n))


@pytest.mark.exercise("G04")
def test_max_pool_gradient_goes_to_first_maximum_on_ties():
    x = np.ones((1, 1, 2, 2))
    for fwd, bwd in [OPS["max"][:2], OPS["max"][2:]]:
        out, cache = fwd(x, 2)
        dx = bwd(np.array([[[[5.0]]]]), cache)
        np.testing.assert_array_equal(dx, [[[[5.0, 0.0], [0.0, 0.0]]]])


def test_fast_is_the_default():
    assert F.max_pool2d_forward is F.max_pool2d_forward_fast
    assert F.avg_pool2d_backward is F.avg_pool2d_backward_fast


@pytest.mark.parametrize("op", [OPS["max"][0], OPS["max"][2], OPS["avg"][0], OPS["avg"][2]])
def test_bad_input_raises_clear_error(op):
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, H, W\), got \(4, 4\)"):
        op(np.zeros((4, 4)), 2)
    with pytest.raises(ValueError, match="kernel 3 is larger than the padded input H 2"):
        op(np.zeros((1, 1, 2, 5)), 3)
    with pytest.raises(ValueError, match="kernel_size"):
        op(np.zeros((1, 1, 4, 4)), 0)
