"""Winograd F(2x2, 3x3): a stride-1 3x3 convolution with 2.25 times fewer multiplications.

A 2 x 2 block of outputs of a 3x3 convolution depends on a 4 x 4 block ``d`` of the (padded) input.
Winograd's minimal filtering algorithm (Lavin and Gray, "Fast Algorithms for Convolutional Neural
Networks", 2016) computes it as

    Y = A^T [ (G g G^T) * (B^T d B) ] A        (* element by element, 16 products)

instead of the 36 products of the direct sum, with

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]

Summed over the input channels, the 16 element-wise products become 16 matrix products, one per
position xi of the 4 x 4 block: ``M[xi] = U[xi] @ V[xi]`` with ``U[xi]`` (F, C) the transformed
weights and ``V[xi]`` (C, T) the transformed input blocks of T output tiles. A convolution of C
input and F output channels thus costs ``16 F C`` multiply-adds per 2 x 2 outputs instead of
``36 F C``. The products go to BLAS; the transforms (additions only) are Numba loops.

The backward pass stays in the same domain. With ``Z = A dY A^T`` the transformed output gradient of
a tile, ``dU[xi] = sum over tiles Z[xi] V[xi]^T`` gives the weight gradient ``dW = G^T dU G``, and
``dV[xi] = U[xi]^T Z[xi]`` gives the input gradient once each tile's ``B dV B^T`` is added back at
its place (the blocks of neighbouring tiles overlap by 2 px).

Only the order and grouping of the float operations differ from the direct sum (the transforms add
and subtract inputs before multiplying): ``tests/test_conv_winograd.py`` holds the results to
1e-10 relative of :mod:`~minicnn.functional.conv_naive` in float64, and to 1e-4 in float32.
:mod:`~minicnn.functional.conv_fast` uses these functions for stride-1 3x3 layers (the tile CNN's
layers 2-4); the shapes below are those of one task (a few images of the batch).
"""

import numpy as np
from numba import njit

from .conv_direct import pad_image

# G of F(2x2, 3x3): U = G g G^T (rows: the 4 positions of a block, columns: the 3 taps)
G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def tiles(oh, ow):
    """``(TH, TW)``: 2 x 2 output tiles per column and per row (the last ones cut when OH or OW is odd)."""
    return (oh + 1) // 2, (ow + 1) // 2


# kron(G, G): row 4a + b, column 3i + j holds G[a, i] G[b, j], so that U[4a + b] = sum_ij of it times w[..., i, j]
_GG = np.kron(G, G)


def transformed_weights(w):
    """``U`` of shape (16, F, C): ``U[4a + b, f, c] = (G w[f, c] G^T)[a, b]``, C-contiguous, dtype of `w`.

    Parameters
    ----------
    w : ndarray of shape (F, C, 3, 3)
    """
    f, c = w.shape[0], w.shape[1]
    u = np.empty((16, f, c), dtype=w.dtype)
    _small_product(_GG.astype(w.dtype), np.ascontiguousarray(w).reshape(f * c, 9), u.reshape(16, f * c))
    return u


def weight_gradient(du):
    """``dW`` of shape (F, C, 3, 3) from the gradient ``dU`` (16, F, C) of :func:`transformed_weights`."""
    f, c = du.shape[1], du.shape[2]
    dw = np.empty((f, c, 3, 3), dtype=du.dtype)
    _small_product(np.ascontiguousarray(_GG.T.astype(du.dtype)), np.ascontiguousarray(du.reshape(16, f * c).T),
                   dw.reshape(f * c, 9).T)
    return dw


@njit(cache=True, nogil=True)
def _small_product(a, b_t, out):
    """``out = a @ b_t.T`` in plain loops (a is 16 x 9 or 9 x 16).

    Not BLAS: a BLAS call outside the batch-parallel tasks would run on all threads, and OpenBLAS's
    threads then spin for a while after it, taking a core from the next kernels (with two such calls
    per layer, a whole training step came out slower than with im2col).
    """
    for i in range(a.shape[0]):
        for j in range(b_t.shape[0]):
            acc = a.dtype.type(0)
            for k in range(a.shape[1]):
                acc += a[i, k] * b_t[j, k]
            out[i, j] = acc


@njit(cache=True, nogil=True)
def pad_input(x, padding, xpad):
    """Copy `x` into the middle of `xpad` and zero the rest (:func:`~minicnn.functional.conv_direct.pad_image`).

    Parameters
    ----------
    x : ndarray of shape (n, C, H, W)
    padding : int
        Rows and columns of zeros before the image (px).
    xpad : C-contiguous ndarray of shape (n, C, 2*TH + 2, 2*TW + 2)
        Holds at least ``padding + H`` rows and ``padding + W`` columns; the rows and columns past the
        image are zeros (the padding after it, and one more when OH or OW is odd).
    """
    for n in range(x.shape[0]):
        pad_image(x[n], padding, xpad[n])


@njit(cache=True, nogil=True)
def input_transform(xpad, v):
    """``V[:, c, t] = B^T d B`` (flattened) for the 4 x 4 input block ``d`` of every tile t.

    Parameters
    ----------
    xpad : ndarray of shape (n, C, 2*TH + 2, 2*TW + 2)
        Padded input (:func:`pad_input`); tile (ty, tx) reads rows ``2 ty .. 2 ty + 3``, columns
        ``2 tx .. 2 tx + 3``.
    v : C-contiguous ndarray of shape (16, P), P >= C*T with T = n*TH*TW
        Written: ``v[xi, c*T + t]`` for tile t = (image * TH + ty) * TW + tx (a (16, C, T) array whose
        planes are P elements apart, see :class:`minicnn.functional.conv_fast.Planes`).
    """
    n_img, c_in, hp, wp = xpad.shape
    th, tw = (hp - 2) // 2, (wp - 2) // 2
    n_tiles = n_img * th * tw
    for n in range(n_img):
        for c in range(c_in):
            for ty in range(th):
                r0 = xpad[n, c, 2 * ty]
                r1 = xpad[n, c, 2 * ty + 1]
                r2 = xpad[n, c, 2 * ty + 2]
                r3 = xpad[n, c, 2 * ty + 3]
                t0 = (n * th + ty) * tw
                for tx in range(tw):
                    j = 2 * tx
                    # B^T d, column by column: a, b, c, e are the four rows of the result
                    a0, b0, c0, e0 = _bt(r0[j], r1[j], r2[j], r3[j])
                    a1, b1, c1, e1 = _bt(r0[j + 1], r1[j + 1], r2[j + 1], r3[j + 1])
                    a2, b2, c2, e2 = _bt(r0[j + 2], r1[j + 2], r2[j + 2], r3[j + 2])
                    a3, b3, c3, e3 = _bt(r0[j + 3], r1[j + 3], r2[j + 3], r3[j + 3])
                    t = c * n_tiles + t0 + tx
                    # (B^T d) B: the same combinations along each row
                    v[0, t], v[1, t], v[2, t], v[3, t] = _bt(a0, a1, a2, a3)
                    v[4, t], v[5, t], v[6, t], v[7, t] = _bt(b0, b1, b2, b3)
                    v[8, t], v[9, t], v[10, t], v[11, t] = _bt(c0, c1, c2, c3)
                    v[12, t], v[13, t], v[14, t], v[15, t] = _bt(e0, e1, e2, e3)


@njit(cache=True, nogil=True, inline="always")
def _bt(d0, d1, d2, d3):
    """``B^T d`` for a column (d0, d1, d2, d3) of a block: (d0 - d2, d1 + d2, d2 - d1, d1 - d3)."""
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


@njit(cache=True, nogil=True, inline="always")
def _b(v0, v1, v2, v3):
    """``B v`` for a column (v0, v1, v2, v3), the adjoint of :func:`_bt`: (v0, v1 - v2 + v3, v1 + v2 - v0, -v3)."""
    return v0, v1 - v2 + v3, v1 + v2 - v0, -v3


@njit(cache=True, nogil=True, inline="always")
def _tile_outputs(m, i):
    """The 2 x 2 outputs ``A^T m A`` (without bias) of the tile whose products are ``m[:, i]``: (y00, y01, y10, y11)."""
    # A^T m: rows m0 + m1 + m2 and m1 - m2 - m3, column by column; then the same along both rows
    p0 = m[0, i] + m[4, i] + m[8, i]
    p1 = m[1, i] + m[5, i] + m[9, i]
    p2 = m[2, i] + m[6, i] + m[10, i]
    p3 = m[3, i] + m[7, i] + m[11, i]
    q0 = m[4, i] - m[8, i] - m[12, i]
    q1 = m[5, i] - m[9, i] - m[13, i]
    q2 = m[6, i] - m[10, i] - m[14, i]
    q3 = m[7, i] - m[11, i] - m[15, i]
    return p0 + p1 + p2, p1 - p2 - p3, q0 + q1 + q2, q1 - q2 - q3


@njit(cache=True, nogil=True)
def output_transform(m, b, out, relu):
    """``out`` tile by tile: ``A^T m A + b`` (then ``max(., 0)`` when `relu`) for the products of each tile.

    Parameters
    ----------
    m : C-contiguous ndarray of shape (16, P), P >= F*T with T = n*TH*TW
        ``U @ V`` (see the module docstring).
    b : ndarray of shape (F,)
        Biases.
    out : ndarray of shape (n, F, OH, OW) with TH = ceil(OH / 2), TW = ceil(OW / 2)
        Written (a cut last tile writes only its first row or column).
    relu : bool
        Apply a ReLU to the outputs.
    """
    n_img, f_out, oh, ow = out.shape
    th, tw = (oh + 1) // 2, (ow + 1) // 2
    n_tiles = n_img * th * tw
    full_w = ow // 2
    zero = out.dtype.type(0)
    for n in range(n_img):
        for f in range(f_out):
            bias = b[f]
            for ty in range(th):
                t0 = (n * th + ty) * tw
                y = 2 * ty
                o0 = out[n, f, y]
                if y + 1 < oh:
                    o1 = out[n, f, y + 1]
                    for tx in range(full_w):
                        y00, y01, y10, y11 = _tile_outputs(m, f * n_tiles + t0 + tx)
                        y00, y01, y10, y11 = y00 + bias, y01 + bias, y10 + bias, y11 + bias
                        if relu:
                            y00, y01, y10, y11 = max(y00, zero), max(y01, zero), max(y10, zero), max(y11, zero)
                        o0[2 * tx] = y00
                        o0[2 * tx + 1] = y01
                        o1[2 * tx] = y10
                        o1[2 * tx + 1] = y11
                    if full_w < tw:
                        y00, y01, y10, y11 = _tile_outputs(m, f * n_tiles + t0 + full_w)
                        o0[ow - 1] = max(y00 + bias, zero) if relu else y00 + bias
                        o1[ow - 1] = max(y10 + bias, zero) if relu else y10 + bias
                else:
                    for tx in range(tw):
                        y00, y01, y10, y11 = _tile_outputs(m, f * n_tiles + t0 + tx)
                        o0[2 * tx] = max(y00 + bias, zero) if relu else y00 + bias
                        if tx < full_w:
                            o0[2 * tx + 1] = max(y01 + bias, zero) if relu else y01 + bias


@njit(cache=True, nogil=True)
def output_transform_relu_pool(m, b, th, tw, out, where):
    """ReLU and 2x2 max pool (stride 2) of ``A^T m A + b``: each 2 x 2 output tile is one pooling window.

    The convolution's output is never written: only the pooled values and where their maximum was.
    Ties go to the first maximum in row-major order, as in
    :func:`minicnn.functional.fused.relu_max_pool2x2`.

    Parameters
    ----------
    m : C-contiguous ndarray of shape (16, P), P >= F*T with T = n*TH*TW
        ``U @ V`` for a convolution output of OH x OW px.
    b : ndarray of shape (F,)
    th, tw : int
        Tiles per column and per row, ``ceil(OH / 2)`` and ``ceil(OW / 2)``.
    out : ndarray of shape (n, F, OH // 2, OW // 2)
        Written: ``max(0, max of the window)``. A cut last tile (odd OH or OW) is no window: the
        pooling drops that row or column.
    where : int8 ndarray of shape (n, F, OH // 2, OW // 2)
        Written: the position of the window's maximum, 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right.
    """
    n_img, f_out, ph, pw = out.shape
    n_tiles = n_img * th * tw
    # every tile is a window (even OH and OW): one loop over an image's tiles, long enough to vectorise
    rows, cols = (1, ph * pw) if th == ph and tw == pw else (ph, pw)
    out_rows = out.reshape(n_img, f_out, rows, cols)
    where_rows = where.reshape(n_img, f_out, rows, cols)
    zero = out.dtype.type(0)
    for n in range(n_img):
        for f in range(f_out):
            bias = b[f]
            for py in range(rows):
                t0 = f * n_tiles + (n * th + py) * tw
                o = out_rows[n, f, py]
                p = where_rows[n, f, py]
                for px in range(cols):
                    # unsigned indices: no wrap-around checks, so LLVM vectorises the loop (7x faster)
                    a, b1, d, e = _tile_outputs(m, np.uint64(t0 + px))
                    top = max(a, b1)
                    top_at = np.int8(0) if a >= b1 else np.int8(1)
                    bottom = max(d, e)
                    bottom_at = np.int8(2) if d >= e else np.int8(3)
                    first = top >= bottom
                    best = (top if first else bottom) + bias
                    p[np.uint64(px)] = top_at if first else bottom_at
                    o[np.uint64(px)] = best if best > zero else zero


@njit(cache=True, nogil=True, inline="always")
def _gradient_tile(z, i, d00, d01, d10, d11):
    """``z[:, i] = A d A^T`` (flattened) for the 2 x 2 gradient block ``d``."""
    # A d: rows d0, d0 + d1, d0 - d1, -d1; then the same along each row
    s0 = d00 + d10
    s1 = d01 + d11
    e0 = d00 - d10
    e1 = d01 - d11
    z[0, i] = d00
    z[1, i] = d00 + d01
    z[2, i] = d00 - d01
    z[3, i] = -d01
    z[4, i] = s0
    z[5, i] = s0 + s1
    z[6, i] = s0 - s1
    z[7, i] = -s1
    z[8, i] = e0
    z[9, i] = e0 + e1
    z[10, i] = e0 - e1
    z[11, i] = -e1
    z[12, i] = -d10
    z[13, i] = -d10 - d11
    z[14, i] = d11 - d10
    z[15, i] = d11


@njit(cache=True, nogil=True)
def output_gradient_transform(dy, out, relu, z, db):
    """``z[:, f*T + t] = A dy A^T`` (flattened) for the 2 x 2 gradient block of every tile t; ``db += sum dy``.

    Parameters
    ----------
    dy : ndarray of shape (n, F, OH, OW)
        Gradient with respect to the convolution's output, or to its ReLU's output when `relu`.
    out : ndarray of shape (n, F, OH, OW)
        With `relu`: the ReLU's output (the gradient passes where it is positive). Not read otherwise.
    relu : bool
    z : C-contiguous ndarray of shape (16, P), P >= F*T with T = n*TH*TW
        Written (outputs past OH or OW count as zero gradient).
    db : ndarray of shape (F,)
        The bias gradient: the sum of the (masked) `dy` over images and pixels is added to it.
    """
    n_img, f_out, oh, ow = dy.shape
    th, tw = (oh + 1) // 2, (ow + 1) // 2
    n_tiles = n_img * th * tw
    full_w = ow // 2
    zero = z.dtype.type(0)
    for n in range(n_img):
        for f in range(f_out):
            total = zero
            for ty in range(th):
                t0 = (n * th + ty) * tw
                y = 2 * ty
                y1 = y + 1 if y + 1 < oh else y
                g0 = dy[n, f, y]
                g1 = dy[n, f, y1]
                k0 = out[n, f, y] if relu else g0
                k1 = out[n, f, y1] if relu else g1
                row1 = zero + (y + 1 < oh)  # 0 for the cut last row of an odd OH
                for tx in range(tw):
                    x = 2 * tx
                    x1 = x + 1 if tx < full_w else x
                    col1 = zero + (tx < full_w)
                    d00 = g0[x]
                    d01 = g0[x1] * col1
                    d10 = g1[x] * row1
                    d11 = g1[x1] * (row1 * col1)
                    if relu:
                        d00 = d00 * (k0[x] > 0)
                        d01 = d01 * (k0[x1] > 0)
                        d10 = d10 * (k1[x] > 0)
                        d11 = d11 * (k1[x1] > 0)
                    total += d00 + d01 + d10 + d11
                    _gradient_tile(z, f * n_tiles + t0 + tx, d00, d01, d10, d11)
            db[f] += total


@njit(cache=True, nogil=True)
def pooled_gradient_transform(dout, out, where, th, tw, z, db):
    """:func:`output_gradient_transform` for a convolution followed by ReLU and a 2x2 max pool.

    The gradient of a 2 x 2 tile (one pooling window) is the pooled gradient at the window's maximum
    (0 when the pooled output is 0) and 0 at its three other outputs, so ``Z`` comes straight from the
    pooled gradient: the convolution's output gradient is never written.

    Parameters
    ----------
    dout : ndarray of shape (n, F, PH, PW)
        Gradient with respect to the pooled output.
    out, where : ndarrays of shape (n, F, PH, PW)
        As written by :func:`output_transform_relu_pool`.
    th, tw : int
        Tiles per column and per row of the convolution's output (PH or PH + 1, PW or PW + 1).
    z : C-contiguous ndarray of shape (16, P), P >= F*T with T = n*TH*TW
        Written; the tiles past the pooled grid (cut tiles of an odd OH or OW) get 0.
    db : ndarray of shape (F,)
        The sum of the gradient reaching the convolution's outputs is added to it.
    """
    n_img, f_out, ph, pw = dout.shape
    n_tiles = n_img * th * tw
    zero = z.dtype.type(0)
    for n in range(n_img):
        for f in range(f_out):
            total = zero
            for ty in range(th):
                t0 = (n * th + ty) * tw
                if ty >= ph:
                    for tx in range(tw):
                        _gradient_tile(z, f * n_tiles + t0 + tx, zero, zero, zero, zero)
                    continue
                g_row = dout[n, f, ty]
                o = out[n, f, ty]
                p = where[n, f, ty]
                for tx in range(pw):
                    g = g_row[tx] * (o[tx] > 0)
                    at = p[tx]
                    total += g
                    _gradient_tile(z, f * n_tiles + t0 + tx, g * (at == 0), g * (at == 1), g * (at == 2), g * (at == 3))
                for tx in range(pw, tw):
                    _gradient_tile(z, f * n_tiles + t0 + tx, zero, zero, zero, zero)
            db[f] += total


@njit(cache=True, nogil=True, inline="always")
def _add_row(row, j, values):
    """``row[j:j + 4] += values``."""
    row[j] += values[0]
    row[j + 1] += values[1]
    row[j + 2] += values[2]
    row[j + 3] += values[3]


@njit(cache=True, nogil=True)
def input_gradient_transform(dv, padding, dxpad, dx):
    """The adjoint of :func:`pad_input` then :func:`input_transform`: ``dx`` from ``dV``.

    Each tile's ``B dv B^T`` (4 x 4) is added into `dxpad` at its input block, then the image part
    of `dxpad` is copied into `dx`.

    Parameters
    ----------
    dv : C-contiguous ndarray of shape (16, P), P >= C*T with T = n*TH*TW
        Gradient with respect to the transformed input blocks.
    padding : int
    dxpad : C-contiguous ndarray of shape (n, C, 2*TH + 2, 2*TW + 2)
        Work array, overwritten.
    dx : ndarray of shape (n, C, H, W)
        Overwritten with the input gradient.
    """
    n_img, c_in, hp, wp = dxpad.shape
    h, w = dx.shape[2], dx.shape[3]
    th, tw = (hp - 2) // 2, (wp - 2) // 2
    n_tiles = n_img * th * tw
    zero = dxpad.dtype.type(0)
    for n in range(n_img):
        for c in range(c_in):
            for r in range(hp):
                row = dxpad[n, c, r]
                for j in range(wp):
                    row[j] = zero
            for ty in range(th):
                r0 = dxpad[n, c, 2 * ty]
                r1 = dxpad[n, c, 2 * ty + 1]
                r2 = dxpad[n, c, 2 * ty + 2]
                r3 = dxpad[n, c, 2 * ty + 3]
                t0 = (n * th + ty) * tw
                for tx in range(tw):
                    t = c * n_tiles + t0 + tx
                    # B v, column by column: k, l, m, o are the four rows of the result
                    k0, l0, m0, o0 = _b(dv[0, t], dv[4, t], dv[8, t], dv[12, t])
                    k1, l1, m1, o1 = _b(dv[1, t], dv[5, t], dv[9, t], dv[13, t])
                    k2, l2, m2, o2 = _b(dv[2, t], dv[6, t], dv[10, t], dv[14, t])
                    k3, l3, m3, o3 = _b(dv[3, t], dv[7, t], dv[11, t], dv[15, t])
                    j = 2 * tx
                    # (B v) B^T: the same combinations along each row, added at the block's place
                    _add_row(r0, j, _b(k0, k1, k2, k3))
                    _add_row(r1, j, _b(l0, l1, l2, l3))
                    _add_row(r2, j, _b(m0, m1, m2, m3))
                    _add_row(r3, j, _b(o0, o1, o2, o3))
            for y in range(h):
                src = dxpad[n, c, y + padding]
                dst = dx[n, c, y]
                for j in range(w):
                    dst[j] = src[padding + j]
