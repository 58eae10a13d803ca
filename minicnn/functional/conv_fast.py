"""Fast 2-D convolution: im2col/col2im in Numba and the products in BLAS.

The forward pass unrolls every receptive field of image n into a column of
``cols[n]`` (shape ``(C*KH*KW + 1, OH*OW)``, the last row all ones so that the bias rides in the
same matrix product), then computes ``out[n] = [W | b] @ cols[n]`` for all images with one
batched ``np.matmul``. The result is already in NCHW order, so no transpose is needed.
The backward pass reuses ``cols``: ``[dW | db] = sum_n dout[n] @ cols[n].T`` and
``dcols[n] = W.T @ dout[n]``, which col2im folds back into ``dx``.

Large scratch arrays come from a :class:`~minicnn.functional._buffers.Workspace` when one is
passed (layers pass their own), so a training loop does not reallocate them every step.
Signatures match :mod:`minicnn.functional.conv_naive`; the extra keyword arguments are optional.
"""

import numpy as np
from numba import njit, prange

from ._buffers import scratch
from ._checks import as_float, conv2d_geometry, match_dtype


@njit(cache=True, nogil=True, parallel=True)
def im2col(x, kh, kw, stride, padding, oh, ow, cols):
    """Unroll receptive fields: ``cols[n, (c*KH + i)*KW + j, oy*OW + ox] = x_pad[n, c, oy*s + i, ox*s + j]``.

    Parameters
    ----------
    x : C-contiguous ndarray of shape (N, C, H, W)
    kh, kw, stride, padding, oh, ow : int
        Kernel size, stride and zero padding (px), output size.
    cols : C-contiguous ndarray of shape (N, R, OH*OW) with R >= C*KH*KW
        Written in place; rows beyond C*KH*KW are set to 1 (the bias row).
    """
    n_img, c_in, h, w = x.shape
    q = oh * ow
    k = c_in * kh * kw
    rows = cols.shape[1]
    xf = x.reshape(n_img, c_in * h * w)
    cf = cols.reshape(n_img, rows * q)
    for n in prange(n_img):
        xn = xf[n]
        cn = cf[n]
        for c in range(c_in):
            for i in range(kh):
                for j in range(kw):
                    r = (c * kh + i) * kw + j
                    lo, hi = _valid_range(j, padding, stride, w, ow)
                    off = j - padding
                    for oy in range(oh):
                        iy = oy * stride + i - padding
                        dst = r * q + oy * ow
                        if iy < 0 or iy >= h:
                            for ox in range(ow):
                                cn[dst + ox] = 0.0
                        else:
                            # unsigned indices let LLVM vectorise the copy (no wrap-around checks)
                            src = (c * h + iy) * w + off
                            for ox in range(lo):
                                cn[dst + ox] = 0.0
                            if stride == 1:
                                for ox in range(lo, hi):
                                    cn[np.uint64(dst + ox)] = xn[np.uint64(src + ox)]
                            else:
                                for ox in range(lo, hi):
                                    cn[np.uint64(dst + ox)] = xn[np.uint64(src + ox * stride)]
                            for ox in range(hi, ow):
                                cn[dst + ox] = 0.0
        for t in range(k * q, rows * q):
            cn[t] = 1.0


@njit(cache=True, nogil=True)
def _valid_range(j, padding, stride, w, ow):
    """Output columns ``[lo, hi)`` whose input column ``ox*stride + j - padding`` lies in ``[0, w)``."""
    lo = 0
    if padding > j:
        lo = (padding - j + stride - 1) // stride
    hi = 0
    if w - 1 + padding - j >= 0:
        hi = min(ow, (w - 1 + padding - j) // stride + 1)
    if hi < lo:
        hi = lo
    return lo, hi


@njit(cache=True, nogil=True, parallel=True)
def col2im(dcols, kh, kw, stride, padding, oh, ow, dx):
    """Fold columns back into images, summing overlaps (the adjoint of :func:`im2col`).

    Parameters
    ----------
    dcols : C-contiguous ndarray of shape (N, R, OH*OW) with R >= C*KH*KW (extra rows ignored)
    dx : C-contiguous ndarray of shape (N, C, H, W)
        Overwritten with the folded sums.
    """
    n_img, c_in, h, w = dx.shape
    q = oh * ow
    rows = dcols.shape[1]
    df = dcols.reshape(n_img, rows * q)
    xf = dx.reshape(n_img, c_in * h * w)
    for n in prange(n_img):
        dn = df[n]
        xn = xf[n]
        for t in range(c_in * h * w):
            xn[t] = 0.0
        for c in range(c_in):
            for i in range(kh):
                for j in range(kw):
                    r = (c * kh + i) * kw + j
                    lo, hi = _valid_range(j, padding, stride, w, ow)
                    off = j - padding
                    for oy in range(oh):
                        iy = oy * stride + i - padding
                        if iy < 0 or iy >= h:
                            continue
                        src = r * q + oy * ow
                        dst = (c * h + iy) * w + off
                        if stride == 1:
                            for ox in range(lo, hi):
                                xn[np.uint64(dst + ox)] += dn[np.uint64(src + ox)]
                        else:
                            for ox in range(lo, hi):
                                xn[np.uint64(dst + ox * stride)] += dn[np.uint64(src + ox)]


def conv2d_forward_fast(x, w, b, stride=1, padding=0, workspace=None, keep_cols=True):
    """Forward pass of a 2-D convolution through im2col and one batched matrix product.

    Same contract as :func:`~minicnn.functional.conv_naive.conv2d_forward_naive`.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (F, C, KH, KW)
    b : ndarray of shape (F,)
    stride, padding : int
        Step (px) and zero padding on each side (px).
    workspace : Workspace, optional
        Where the im2col matrix is kept between calls; a fresh array is used when None.
    keep_cols : bool
        Keep the im2col matrix in the cache for the backward pass (set False for inference).

    Returns
    -------
    out : ndarray of shape (N, F, OH, OW)
    cache : tuple
    """
    who = "conv2d_forward_fast"
    x = as_float(x, who)
    w = match_dtype(as_float(w, who, "weights"), x.dtype)
    b = match_dtype(as_float(b, who, "bias"), x.dtype)
    n, c, h, wd, f, kh, kw, oh, ow = conv2d_geometry(x, w, b, stride, padding, who)
    k = c * kh * kw
    x = np.ascontiguousarray(x)
    cols = scratch(workspace, "cols", (n, k + 1, oh * ow), x.dtype)
    im2col(x, kh, kw, stride, padding, oh, ow, cols)
    wb = np.empty((f, k + 1), dtype=x.dtype)
    wb[:, :k] = w.reshape(f, k)
    wb[:, k] = b
    out = np.empty((n, f, oh, ow), dtype=x.dtype)
    np.matmul(wb, cols, out=out.reshape(n, f, oh * ow))
    cache = (x.shape, w, stride, padding, cols if keep_cols else None, workspace)
    return out, cache


def conv2d_backward_fast(dout, cache, need_dx=True):
    """Backward pass of :func:`conv2d_forward_fast`.

    Parameters
    ----------
    dout : ndarray of shape (N, F, OH, OW)
    cache : tuple
        From the forward pass (made with ``keep_cols=True``).
    need_dx : bool
        When False the input gradient is not computed and ``dx`` is None (first layer of a net).

    Returns
    -------
    dx : ndarray of shape (N, C, H, W) or None
    dw : ndarray of shape (F, C, KH, KW)
    db : ndarray of shape (F,)
    """
    x_shape, w, stride, padding, cols, workspace = cache
    if cols is None:
        raise ValueError("conv2d_backward_fast: the forward pass ran with keep_cols=False (inference only)")
    n, c, h, wd = x_shape
    f, _, kh, kw = w.shape
    k = c * kh * kw
    q = cols.shape[2]
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    dout = np.asarray(dout)
    if dout.shape != (n, f, oh, ow):
        raise ValueError(f"conv2d_backward_fast: expected dout of shape {(n, f, oh, ow)}, got {dout.shape}")
    dout = np.ascontiguousarray(match_dtype(dout, w.dtype))
    d3 = dout.reshape(n, f, q)
    # [dW | db] for every image, then summed over the batch (the per-image matrices are small)
    dwb_n = scratch(workspace, "dwb_n", (n, f, k + 1), w.dtype)
    np.matmul(d3, cols.transpose(0, 2, 1), out=dwb_n)
    dwb = dwb_n.sum(axis=0)
    dw = dwb[:, :k].reshape(w.shape)
    db = dwb[:, k].copy()
    if not need_dx:
        return None, dw, db
    dcols = scratch(workspace, "dcols", (n, k, q), w.dtype)
    np.matmul(w.reshape(f, k).T, d3, out=dcols)
    dx = np.empty(x_shape, dtype=w.dtype)
    col2im(dcols, kh, kw, stride, padding, oh, ow, dx)
    return dx, dw, db
