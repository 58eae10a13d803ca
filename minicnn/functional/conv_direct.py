"""Direct 2-D convolution in Numba for layers with few input channels (no im2col, no BLAS), stride 1.

For the tile CNN's first layer (3 -> 16 channels, 3x3 kernel, 96 x 96 tiles) im2col + GEMM is slow
per FLOP: the inner dimension of the product is only C*KH*KW + 1 = 28. These kernels compute the
convolution directly from a zero-padded copy of each image, one output row at a time, with the
innermost loop running along a contiguous row (the x axis) so that LLVM vectorises it (AVX-512:
16 float32 per register) and each weight is a broadcast scalar:

* forward: for a block of 4 filters and a group of 3 taps ``(c, ky, kx0 .. kx0+2)``, one input row
  loaded at 3 shifts feeds 12 FMAs into 4 accumulator rows. The accumulator rows live in a small
  contiguous buffer, not in ``out``: the 4 output planes of a block are a multiple of 4 KB apart
  for 96 x 96 outputs, and updating them in place ran 1.5x slower;
* weight gradient: for a block of 4 filters, 3 taps and 4 output rows the inner loop keeps 12
  dot products in registers (reduced once per loop, which needs ``fastmath``).

Kernel widths that are not a multiple of 3 are handled with zero weights (forward) or ignored sums
(weight gradient); filter counts that are not a multiple of 4 repeat the last filter in the block
and drop its copies. Both kernels are single-threaded (``nogil``: a caller may run several on
different images in threads) and work in float32 or float64 (one dtype for all arrays).

Measured on the tile CNN's first layer (3 -> 16, k=3, p=1, 96 x 96 float32, one thread, 7 Dec 2026,
``benchmarks/results/conv_direct.json``): forward 55 GFLOP/s against 40 for im2col + GEMM on one image
(1.4x), weight gradient 63 against 35 (1.8x). Slower variants tried: one filter and one tap per pass,
updating ``out`` in place (15 GFLOP/s); 4 filters x 3 taps in place in ``out`` (31); 8 filters x 2 taps,
16 filters x 3 taps, 2-4 filters x 9 taps (a 3x3 window per pass), 4 filters x 6 taps (12-39); weight
gradient with one filter and one tap per dot product (27), 4 filters x 1 row (49), 4 x 2 (58), 8 x 4 (60),
4 x 8 (61) against 4 filters x 4 rows (63). Benchmarks: ``benchmarks/bench_conv_direct.py``.
"""

import numpy as np
from numba import njit

_JIT = {"cache": True, "nogil": True, "fastmath": True, "boundscheck": False, "error_model": "numpy"}


@njit(**_JIT)
def pad_image(src, padding, dst):
    """Copy one image into `dst` after `padding` zeros on each side, and zero the rest of `dst`.

    Parameters
    ----------
    src : ndarray of shape (C, H, W)
    padding : int
        Zero rows and columns before the image (px), >= 0.
    dst : ndarray of shape (C, HP, WP) with HP >= H + padding and WP >= W + padding
        Overwritten: the image at rows and columns ``padding ..``, zeros elsewhere (the padding after
        the image, and any extra rows or columns a caller needs, such as Winograd's last cut tile).
    """
    n_channels, h, w = src.shape
    hp, wp = dst.shape[1], dst.shape[2]
    for c in range(n_channels):
        for r in range(hp):
            row = dst[c, r]
            y = r - padding
            if y < 0 or y >= h:
                for xx in range(wp):
                    row[xx] = 0.0
                continue
            line = src[c, y]
            for xx in range(padding):
                row[xx] = 0.0
            for xx in range(w):  # unsigned indices: no wrap-around checks, so LLVM vectorises the copy
                row[np.uint64(xx + padding)] = line[np.uint64(xx)]
            for xx in range(padding + w, wp):
                row[xx] = 0.0


@njit(**_JIT)
def _padded_image(x, i, padding, xpad):
    """Image ``i`` of ``x`` with ``padding`` zeros on each side, in ``xpad[i]`` (or ``xpad[0]`` when it holds one image).

    Parameters
    ----------
    x : C-contiguous ndarray of shape (N, C, H, W)
    i : int
        Image index.
    padding : int
        Zeros on each side of H and W (px); with 0, ``x[i]`` itself is returned (no copy).
    xpad : C-contiguous ndarray of shape (N or 1, C, H + 2*padding, W + 2*padding)
        Scratch; the slot used is overwritten.

    Returns
    -------
    ndarray of shape (C, H + 2*padding, W + 2*padding)
    """
    if padding == 0:
        return x[i]
    dst = xpad[i if xpad.shape[0] > 1 else 0]
    pad_image(x[i], padding, dst)
    return dst


@njit(**_JIT)
def _check_geometry(x, n_filters, kh, kw, padding, oh, ow, xpad):
    """Raise ValueError unless ``(OH, OW)`` and ``xpad`` match ``x``, the kernel and ``padding`` (stride 1)."""
    n_img, n_channels, h, w = x.shape
    if padding < 0:
        raise ValueError("direct conv: padding must be >= 0")
    if oh != h + 2 * padding - kh + 1 or ow != w + 2 * padding - kw + 1 or oh < 1 or ow < 1:
        raise ValueError("direct conv: output shape is not (H + 2p - KH + 1, W + 2p - KW + 1) >= 1")
    if padding > 0:
        if xpad.shape[0] != 1 and xpad.shape[0] < n_img:
            raise ValueError("direct conv: xpad must hold 1 or N images")
        if xpad.shape[1] != n_channels or xpad.shape[2] != h + 2 * padding or xpad.shape[3] != w + 2 * padding:
            raise ValueError("direct conv: xpad must have shape (N or 1, C, H + 2p, W + 2p)")
    if n_filters < 1:
        raise ValueError("direct conv: at least one filter")


@njit(**_JIT)
def _forward_rows4(xflat, hp, wp, w, b, f0, y, rows):
    """Output row ``y`` of filters ``f0 .. f0+3`` (indices past the last filter repeat it) into ``rows``.

    Each pass of the inner loop loads one zero-padded input row at three horizontal shifts (taps
    ``kx0 .. kx0+2``) and updates the four accumulator rows with 12 FMAs. Indices are flat and unsigned
    (no array views, no wrap-around tests), which lets LLVM vectorise the loop.

    Parameters
    ----------
    xflat : C-contiguous ndarray of shape (C * HP * WP,)
        One zero-padded image, flattened.
    hp, wp : int
        Padded height and width (px).
    w : ndarray of shape (F, C, KH, KW)
    b : ndarray of shape (F,)
    f0, y : int
        First filter of the block, output row.
    rows : C-contiguous ndarray of shape (4 * OW,)
        Overwritten with bias + correlation (pre-activation) of the four filters, one row after the other.
    """
    n_filters, c_in, kh, kw = w.shape
    ow = rows.shape[0] // 4
    f0 = min(f0 + 0, n_filters - 1)
    f1 = min(f0 + 1, n_filters - 1)
    f2 = min(f0 + 2, n_filters - 1)
    f3 = min(f0 + 3, n_filters - 1)
    row0 = np.uint64(0 * ow)  # start of filter f0's row in rows
    row1 = np.uint64(1 * ow)  # start of filter f1's row in rows
    row2 = np.uint64(2 * ow)  # start of filter f2's row in rows
    row3 = np.uint64(3 * ow)  # start of filter f3's row in rows
    bias0 = b[f0]
    bias1 = b[f1]
    bias2 = b[f2]
    bias3 = b[f3]
    for ox in range(ow):
        u = np.uint64(ox)
        rows[row0 + u] = bias0
        rows[row1 + u] = bias1
        rows[row2 + u] = bias2
        rows[row3 + u] = bias3
    zero = b[0] - b[0]  # 0 in the arrays' dtype (a float64 literal would promote float32 sums)
    for c in range(c_in):
        for ky in range(kh):
            start = (c * hp + y + ky) * wp  # input row y + ky of channel c
            for kx0 in range(0, kw, 3):
                # taps past the kernel's last column get weight 0 and a valid (repeated) shift
                kx1 = min(kx0 + 1, kw - 1)
                kx2 = min(kx0 + 2, kw - 1)
                src0 = np.uint64(start + kx0)
                src1 = np.uint64(start + kx1)
                src2 = np.uint64(start + kx2)
                w00 = w[f0, c, ky, kx0]
                w01 = w[f0, c, ky, kx1] if kx0 + 1 < kw else zero
                w02 = w[f0, c, ky, kx2] if kx0 + 2 < kw else zero
                w10 = w[f1, c, ky, kx0]
                w11 = w[f1, c, ky, kx1] if kx0 + 1 < kw else zero
                w12 = w[f1, c, ky, kx2] if kx0 + 2 < kw else zero
                w20 = w[f2, c, ky, kx0]
                w21 = w[f2, c, ky, kx1] if kx0 + 1 < kw else zero
                w22 = w[f2, c, ky, kx2] if kx0 + 2 < kw else zero
                w30 = w[f3, c, ky, kx0]
                w31 = w[f3, c, ky, kx1] if kx0 + 1 < kw else zero
                w32 = w[f3, c, ky, kx2] if kx0 + 2 < kw else zero
                for ox in range(ow):
                    u = np.uint64(ox)
                    x0 = xflat[src0 + u]
                    x1 = xflat[src1 + u]
                    x2 = xflat[src2 + u]
                    rows[row0 + u] += w00 * x0 + w01 * x1 + w02 * x2
                    rows[row1 + u] += w10 * x0 + w11 * x1 + w12 * x2
                    rows[row2 + u] += w20 * x0 + w21 * x1 + w22 * x2
                    rows[row3 + u] += w30 * x0 + w31 * x1 + w32 * x2


@njit(**_JIT)
def _weight_grad_rows4(xp, d, f0, y, dw):
    """Add to ``dw`` the contributions of output rows ``y .. y+3`` of filters ``f0 .. f0+3`` (those that exist).

    For each group of three taps ``(c, ky, kx0 .. kx0+2)`` the inner loop runs along the 4 output row(s)
    and keeps 12 sums (4 filters x 3 taps) in registers: dot products of ``d`` rows with shifted
    zero-padded input rows, reduced once at the end of the loop.

    Parameters
    ----------
    xp : C-contiguous ndarray of shape (C, H + 2p, W + 2p)
        One zero-padded image.
    d : C-contiguous ndarray of shape (F, OH, OW)
        Gradient of the loss with respect to this image's output.
    f0, y : int
        First filter of the block, first output row.
    dw : ndarray of shape (F, C, KH, KW)
        Accumulated in place.
    """
    n_filters, c_in, kh, kw = dw.shape
    ow = d.shape[2]
    f0 = min(f0 + 0, n_filters - 1)
    f1 = min(f0 + 1, n_filters - 1)
    f2 = min(f0 + 2, n_filters - 1)
    f3 = min(f0 + 3, n_filters - 1)
    grad0_0 = d[f0, y + 0]
    grad0_1 = d[f0, y + 1]
    grad0_2 = d[f0, y + 2]
    grad0_3 = d[f0, y + 3]
    grad1_0 = d[f1, y + 0]
    grad1_1 = d[f1, y + 1]
    grad1_2 = d[f1, y + 2]
    grad1_3 = d[f1, y + 3]
    grad2_0 = d[f2, y + 0]
    grad2_1 = d[f2, y + 1]
    grad2_2 = d[f2, y + 2]
    grad2_3 = d[f2, y + 3]
    grad3_0 = d[f3, y + 0]
    grad3_1 = d[f3, y + 1]
    grad3_2 = d[f3, y + 2]
    grad3_3 = d[f3, y + 3]
    zero = dw[0, 0, 0, 0] - dw[0, 0, 0, 0]  # 0 in the arrays' dtype
    for c in range(c_in):
        for ky in range(kh):
            src0 = xp[c, y + 0 + ky]
            src1 = xp[c, y + 1 + ky]
            src2 = xp[c, y + 2 + ky]
            src3 = xp[c, y + 3 + ky]
            for kx0 in range(0, kw, 3):
                shift0 = np.uint64(kx0)
                shift1 = np.uint64(min(kx0 + 1, kw - 1))
                shift2 = np.uint64(min(kx0 + 2, kw - 1))
                s00 = zero
                s01 = zero
                s02 = zero
                s10 = zero
                s11 = zero
                s12 = zero
                s20 = zero
                s21 = zero
                s22 = zero
                s30 = zero
                s31 = zero
                s32 = zero
                for ox in range(ow):
                    u = np.uint64(ox)
                    x00 = src0[u + shift0]
                    x01 = src0[u + shift1]
                    x02 = src0[u + shift2]
                    g00 = grad0_0[u]
                    g10 = grad1_0[u]
                    g20 = grad2_0[u]
                    g30 = grad3_0[u]
                    x10 = src1[u + shift0]
                    x11 = src1[u + shift1]
                    x12 = src1[u + shift2]
                    g01 = grad0_1[u]
                    g11 = grad1_1[u]
                    g21 = grad2_1[u]
                    g31 = grad3_1[u]
                    x20 = src2[u + shift0]
                    x21 = src2[u + shift1]
                    x22 = src2[u + shift2]
                    g02 = grad0_2[u]
                    g12 = grad1_2[u]
                    g22 = grad2_2[u]
                    g32 = grad3_2[u]
                    x30 = src3[u + shift0]
                    x31 = src3[u + shift1]
                    x32 = src3[u + shift2]
                    g03 = grad0_3[u]
                    g13 = grad1_3[u]
                    g23 = grad2_3[u]
                    g33 = grad3_3[u]
                    s00 += g00 * x00 + g01 * x10 + g02 * x20 + g03 * x30
                    s01 += g00 * x01 + g01 * x11 + g02 * x21 + g03 * x31
                    s02 += g00 * x02 + g01 * x12 + g02 * x22 + g03 * x32
                    s10 += g10 * x00 + g11 * x10 + g12 * x20 + g13 * x30
                    s11 += g10 * x01 + g11 * x11 + g12 * x21 + g13 * x31
                    s12 += g10 * x02 + g11 * x12 + g12 * x22 + g13 * x32
                    s20 += g20 * x00 + g21 * x10 + g22 * x20 + g23 * x30
                    s21 += g20 * x01 + g21 * x11 + g22 * x21 + g23 * x31
                    s22 += g20 * x02 + g21 * x12 + g22 * x22 + g23 * x32
                    s30 += g30 * x00 + g31 * x10 + g32 * x20 + g33 * x30
                    s31 += g30 * x01 + g31 * x11 + g32 * x21 + g33 * x31
                    s32 += g30 * x02 + g31 * x12 + g32 * x22 + g33 * x32
                if f0 + 0 < n_filters:
                    dw[f0, c, ky, kx0] += s00
                    if kx0 + 1 < kw:
                        dw[f0, c, ky, kx0 + 1] += s01
                    if kx0 + 2 < kw:
                        dw[f0, c, ky, kx0 + 2] += s02
                if f0 + 1 < n_filters:
                    dw[f1, c, ky, kx0] += s10
                    if kx0 + 1 < kw:
                        dw[f1, c, ky, kx0 + 1] += s11
                    if kx0 + 2 < kw:
                        dw[f1, c, ky, kx0 + 2] += s12
                if f0 + 2 < n_filters:
                    dw[f2, c, ky, kx0] += s20
                    if kx0 + 1 < kw:
                        dw[f2, c, ky, kx0 + 1] += s21
                    if kx0 + 2 < kw:
                        dw[f2, c, ky, kx0 + 2] += s22
                if f0 + 3 < n_filters:
                    dw[f3, c, ky, kx0] += s30
                    if kx0 + 1 < kw:
                        dw[f3, c, ky, kx0 + 1] += s31
                    if kx0 + 2 < kw:
                        dw[f3, c, ky, kx0 + 2] += s32


@njit(**_JIT)
def _weight_grad_row(xp, d, y, dw):
    """Add to ``dw`` the contributions of output row ``y`` of every filter (the rows left after blocks of 4).

    Plain dot products of a ``d`` row with shifted zero-padded input rows: slower per row than
    :func:`_weight_grad_rows4`, but used for at most three rows of an image (none when OH is a multiple
    of 4, as in the tile CNN).
    """
    n_filters, c_in, kh, kw = dw.shape
    ow = d.shape[2]
    for f in range(n_filters):
        grad = d[f, y]
        for c in range(c_in):
            for ky in range(kh):
                src = xp[c, y + ky]
                for kx in range(kw):
                    total = dw[f, c, ky, kx] - dw[f, c, ky, kx]  # 0 in the arrays' dtype
                    for ox in range(ow):
                        total += grad[ox] * src[ox + kx]
                    dw[f, c, ky, kx] += total


@njit(**_JIT)
def direct_conv_forward(x, w, b, padding, out, xpad):
    """Forward pass of a stride-1 2-D convolution (cross-correlation) plus bias, written into ``out``.

    Single-threaded. Besides ``out`` and ``xpad`` it allocates only a (4, OW) accumulator buffer
    (1.5 KB for OW = 96) per call.

    Parameters
    ----------
    x : C-contiguous ndarray of shape (N, C, H, W)
        Input images, float32 or float64.
    w : C-contiguous ndarray of shape (F, C, KH, KW)
        Filters (same dtype as ``x``).
    b : ndarray of shape (F,)
        Biases.
    padding : int
        Zeros added on each side of H and W (px), >= 0.
    out : C-contiguous ndarray of shape (N, F, OH, OW)
        ``OH = H + 2*padding - KH + 1`` and likewise OW. Overwritten with the pre-activation
        ``conv(x, w) + b``.
    xpad : C-contiguous ndarray of shape (N or 1, C, H + 2*padding, W + 2*padding)
        Scratch for the zero-padded images (unused when ``padding == 0``); with one slot the images
        are padded one after the other into it.
    """
    n_img = x.shape[0]
    n_filters, _, kh, kw = w.shape
    oh, ow = out.shape[2], out.shape[3]
    _check_geometry(x, n_filters, kh, kw, padding, oh, ow, xpad)
    hp, wp = x.shape[2] + 2 * padding, x.shape[3] + 2 * padding
    rows = np.empty(4 * ow, dtype=out.dtype)
    out_flat = out.reshape(-1)
    for i in range(n_img):
        xflat = _padded_image(x, i, padding, xpad).reshape(-1)
        for y in range(oh):
            for f0 in range(0, n_filters, 4):
                _forward_rows4(xflat, hp, wp, w, b, f0, y, rows)
                for j in range(min(4, n_filters - f0)):
                    dst = np.uint64(((i * n_filters + f0 + j) * oh + y) * ow)  # out[i, f0 + j, y, 0]
                    src = np.uint64(j * ow)
                    for ox in range(ow):
                        out_flat[dst + np.uint64(ox)] = rows[src + np.uint64(ox)]


@njit(**_JIT)
def direct_conv_weight_grad(x, dout, padding, dw, db, xpad):
    """Weight and bias gradients of a stride-1 2-D convolution, summed over the images of ``x``.

    Single-threaded; allocates nothing.

    Parameters
    ----------
    x : C-contiguous ndarray of shape (N, C, H, W)
        Input images of the forward pass, float32 or float64.
    dout : C-contiguous ndarray of shape (N, F, OH, OW)
        Gradient of the loss with respect to the (pre-activation) output, same dtype.
    padding : int
        Zeros added on each side of H and W (px), >= 0.
    dw : ndarray of shape (F, C, KH, KW)
        Overwritten with ``sum_n`` of the filter gradients.
    db : ndarray of shape (F,)
        Overwritten with ``sum_n`` of the bias gradients (sums of ``dout`` over images and pixels).
    xpad : C-contiguous ndarray of shape (N or 1, C, H + 2*padding, W + 2*padding)
        Scratch for the zero-padded images (unused when ``padding == 0``).
    """
    n_img = x.shape[0]
    n_filters, _, kh, kw = dw.shape
    oh, ow = dout.shape[2], dout.shape[3]
    _check_geometry(x, n_filters, kh, kw, padding, oh, ow, xpad)
    dw[...] = 0.0
    db[...] = 0.0
    for i in range(n_img):
        xp = _padded_image(x, i, padding, xpad)
        d = dout[i]
        for f in range(n_filters):
            total = db[f] - db[f]
            for yy in range(oh):
                row = d[f, yy]
                for ox in range(ow):
                    total += row[ox]
            db[f] += total
        y = 0
        while y + 4 <= oh:
            for f0 in range(0, n_filters, 4):
                _weight_grad_rows4(xp, d, f0, y, dw)
            y += 4
        while y < oh:
            _weight_grad_row(xp, d, y, dw)
            y += 1
