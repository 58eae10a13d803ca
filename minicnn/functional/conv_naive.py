"""2-D convolution written with plain loops over output positions (exercise G03).

This is the version a student writes first: easy to read, easy to check, slow. It is the
oracle for :mod:`minicnn.functional.conv_fast`, which has the same signatures.
"""

import numpy as np

from ._checks import as_float, conv2d_geometry, match_dtype


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    """Forward pass of a 2-D convolution (cross-correlation), NCHW layout.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
        Input images.
    w : ndarray of shape (F, C, KH, KW)
        Filters.
    b : ndarray of shape (F,)
        Biases.
    stride : int
        Step between neighbouring windows (px).
    padding : int
        Zeros added on each side of H and W (px).

    Returns
    -------
    out : ndarray of shape (N, F, OH, OW)
        ``OH = (H + 2*padding - KH) // stride + 1`` and likewise OW.
    cache : tuple
        What the backward pass needs: (x, w, b, stride, padding).
    """
    who = "conv2d_forward_naive"
    x = as_float(x, who)
    w = match_dtype(as_float(w, who, "weights"), x.dtype)
    b = match_dtype(as_float(b, who, "bias"), x.dtype)
    n, c, h, wd, f, kh, kw, oh, ow = conv2d_geometry(x, w, b, stride, padding, who)
    ### BEGIN SOLUTION (G03) out (N, F, OH, OW), OH = (H + 2 padding - KH) // stride + 1: loop over output pixels; each one compares the zero-padded input window (N, C, KH, KW) with every filter, plus that filter's bias; the cache returned below is what backward gets
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.empty((n, f, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            top, left = i * stride, j * stride
            window = x_pad[:, :, top : top + kh, left : left + kw]  # (N, C, KH, KW)
            # every filter against every image's window: sum over C, KH, KW
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    ### END SOLUTION
    cache = (x, w, b, stride, padding)
    return out, cache


def conv2d_backward_naive(dout, cache):
    """Backward pass of :func:`conv2d_forward_naive`.

    Parameters
    ----------
    dout : ndarray of shape (N, F, OH, OW)
        Gradient of the loss with respect to the output.
    cache : tuple
        From the forward pass.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dw : ndarray of shape (F, C, KH, KW)
    db : ndarray of shape (F,)
    """
    x, w, b, stride, padding = cache
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    dout = np.asarray(dout)
    if dout.shape != (n, f, oh, ow):
        raise ValueError(f"conv2d_backward_naive: expected dout of shape {(n, f, oh, ow)}, got {dout.shape}")
    dout = match_dtype(dout, x.dtype)
    ### BEGIN SOLUTION (G03) dx (N, C, H, W), dw (F, C, KH, KW), db (F,) from dout (N, F, OH, OW) and the cache (x, w, b, stride, padding): walk the forward pass's windows and ask how each output pixel depends on its window, on w and on b (G03 theory); remove the padding from dx at the end
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for i in range(oh):
        for j in range(ow):
            top, left = i * stride, j * stride
            window = x_pad[:, :, top : top + kh, left : left + kw]  # (N, C, KH, KW)
            d = dout[:, :, i, j]  # (N, F)
            dw += np.tensordot(d, window, axes=([0], [0]))  # (F, C, KH, KW)
            dx_pad[:, :, top : top + kh, left : left + kw] += np.tensordot(d, w, axes=([1], [0]))
    dx = dx_pad[:, :, padding : padding + h, padding : padding + wd].copy()
    db = dout.sum(axis=(0, 2, 3))
    ### END SOLUTION
    return dx, dw, db
