"""The generated kernel of :mod:`minicnn.functional.conv_direct_pool`: do not edit.

Written by ``python -m minicnn.functional.conv_direct_pool`` from ``_kernel_source()``;
``tests/test_conv_direct_pool.py`` fails when this file differs from what the generator writes.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, fastmath=True, boundscheck=False, error_model="numpy")
def _window_row(xflat, wt, offs, bias, y0, wp, vals, ats, pos):
    end = np.uint64(0xFFFFFFFFFFFFFFFF)
    n_windows = vals.shape[0] // 16
    wpu = np.uint64(wp)
    one = np.uint64(1)
    zero = pos[0]
    p1 = pos[1]
    p2 = pos[2]
    p3 = pos[3]
    for q in range(0, n_windows, 1):
        px0 = min(q + 0, n_windows - 1)
        base0 = np.uint64(y0 * wp + 2 * px0)
        a00_0 = bias[0]
        a00_1 = bias[1]
        a00_2 = bias[2]
        a00_3 = bias[3]
        a00_4 = bias[4]
        a00_5 = bias[5]
        a00_6 = bias[6]
        a00_7 = bias[7]
        a00_8 = bias[8]
        a00_9 = bias[9]
        a00_10 = bias[10]
        a00_11 = bias[11]
        a00_12 = bias[12]
        a00_13 = bias[13]
        a00_14 = bias[14]
        a00_15 = bias[15]
        a01_0 = bias[0]
        a01_1 = bias[1]
        a01_2 = bias[2]
        a01_3 = bias[3]
        a01_4 = bias[4]
        a01_5 = bias[5]
        a01_6 = bias[6]
        a01_7 = bias[7]
        a01_8 = bias[8]
        a01_9 = bias[9]
        a01_10 = bias[10]
        a01_11 = bias[11]
        a01_12 = bias[12]
        a01_13 = bias[13]
        a01_14 = bias[14]
        a01_15 = bias[15]
        a02_0 = bias[0]
        a02_1 = bias[1]
        a02_2 = bias[2]
        a02_3 = bias[3]
        a02_4 = bias[4]
        a02_5 = bias[5]
        a02_6 = bias[6]
        a02_7 = bias[7]
        a02_8 = bias[8]
        a02_9 = bias[9]
        a02_10 = bias[10]
        a02_11 = bias[11]
        a02_12 = bias[12]
        a02_13 = bias[13]
        a02_14 = bias[14]
        a02_15 = bias[15]
        a03_0 = bias[0]
        a03_1 = bias[1]
        a03_2 = bias[2]
        a03_3 = bias[3]
        a03_4 = bias[4]
        a03_5 = bias[5]
        a03_6 = bias[6]
        a03_7 = bias[7]
        a03_8 = bias[8]
        a03_9 = bias[9]
        a03_10 = bias[10]
        a03_11 = bias[11]
        a03_12 = bias[12]
        a03_13 = bias[13]
        a03_14 = bias[14]
        a03_15 = bias[15]
        t = 0
        while True:  # not a range loop: LLVM's loop vectoriser would gather over the taps
            off = offs[t]
            if off == end:
                break
            r = np.uint64(t * 16)
            o = base0 + off
            x00 = xflat[o]
            x01 = xflat[o + one]
            x02 = xflat[o + wpu]
            x03 = xflat[o + wpu + one]
            w0 = wt[r + np.uint64(0)]
            w1 = wt[r + np.uint64(1)]
            w2 = wt[r + np.uint64(2)]
            w3 = wt[r + np.uint64(3)]
            w4 = wt[r + np.uint64(4)]
            w5 = wt[r + np.uint64(5)]
            w6 = wt[r + np.uint64(6)]
            w7 = wt[r + np.uint64(7)]
            w8 = wt[r + np.uint64(8)]
            w9 = wt[r + np.uint64(9)]
            w10 = wt[r + np.uint64(10)]
            w11 = wt[r + np.uint64(11)]
            w12 = wt[r + np.uint64(12)]
            w13 = wt[r + np.uint64(13)]
            w14 = wt[r + np.uint64(14)]
            w15 = wt[r + np.uint64(15)]
            a00_0 += x00 * w0
            a00_1 += x00 * w1
            a00_2 += x00 * w2
            a00_3 += x00 * w3
            a00_4 += x00 * w4
            a00_5 += x00 * w5
            a00_6 += x00 * w6
            a00_7 += x00 * w7
            a00_8 += x00 * w8
            a00_9 += x00 * w9
            a00_10 += x00 * w10
            a00_11 += x00 * w11
            a00_12 += x00 * w12
            a00_13 += x00 * w13
            a00_14 += x00 * w14
            a00_15 += x00 * w15
            a01_0 += x01 * w0
            a01_1 += x01 * w1
            a01_2 += x01 * w2
            a01_3 += x01 * w3
            a01_4 += x01 * w4
            a01_5 += x01 * w5
            a01_6 += x01 * w6
            a01_7 += x01 * w7
            a01_8 += x01 * w8
            a01_9 += x01 * w9
            a01_10 += x01 * w10
            a01_11 += x01 * w11
            a01_12 += x01 * w12
            a01_13 += x01 * w13
            a01_14 += x01 * w14
            a01_15 += x01 * w15
            a02_0 += x02 * w0
            a02_1 += x02 * w1
            a02_2 += x02 * w2
            a02_3 += x02 * w3
            a02_4 += x02 * w4
            a02_5 += x02 * w5
            a02_6 += x02 * w6
            a02_7 += x02 * w7
            a02_8 += x02 * w8
            a02_9 += x02 * w9
            a02_10 += x02 * w10
            a02_11 += x02 * w11
            a02_12 += x02 * w12
            a02_13 += x02 * w13
            a02_14 += x02 * w14
            a02_15 += x02 * w15
            a03_0 += x03 * w0
            a03_1 += x03 * w1
            a03_2 += x03 * w2
            a03_3 += x03 * w3
            a03_4 += x03 * w4
            a03_5 += x03 * w5
            a03_6 += x03 * w6
            a03_7 += x03 * w7
            a03_8 += x03 * w8
            a03_9 += x03 * w9
            a03_10 += x03 * w10
            a03_11 += x03 * w11
            a03_12 += x03 * w12
            a03_13 += x03 * w13
            a03_14 += x03 * w14
            a03_15 += x03 * w15
            t += 1
        d = np.uint64(px0 * 16)
        top = a00_0 if a00_0 >= a01_0 else a01_0
        top_at = zero if a00_0 >= a01_0 else p1
        bottom = a02_0 if a02_0 >= a03_0 else a03_0
        bottom_at = p2 if a02_0 >= a03_0 else p3
        first = top >= bottom
        best0 = top if first else bottom
        at0 = top_at if first else bottom_at
        top = a00_1 if a00_1 >= a01_1 else a01_1
        top_at = zero if a00_1 >= a01_1 else p1
        bottom = a02_1 if a02_1 >= a03_1 else a03_1
        bottom_at = p2 if a02_1 >= a03_1 else p3
        first = top >= bottom
        best1 = top if first else bottom
        at1 = top_at if first else bottom_at
        top = a00_2 if a00_2 >= a01_2 else a01_2
        top_at = zero if a00_2 >= a01_2 else p1
        bottom = a02_2 if a02_2 >= a03_2 else a03_2
        bottom_at = p2 if a02_2 >= a03_2 else p3
        first = top >= bottom
        best2 = top if first else bottom
        at2 = top_at if first else bottom_at
        top = a00_3 if a00_3 >= a01_3 else a01_3
        top_at = zero if a00_3 >= a01_3 else p1
        bottom = a02_3 if a02_3 >= a03_3 else a03_3
        bottom_at = p2 if a02_3 >= a03_3 else p3
        first = top >= bottom
        best3 = top if first else bottom
        at3 = top_at if first else bottom_at
        top = a00_4 if a00_4 >= a01_4 else a01_4
        top_at = zero if a00_4 >= a01_4 else p1
        bottom = a02_4 if a02_4 >= a03_4 else a03_4
        bottom_at = p2 if a02_4 >= a03_4 else p3
        first = top >= bottom
        best4 = top if first else bottom
        at4 = top_at if first else bottom_at
        top = a00_5 if a00_5 >= a01_5 else a01_5
        top_at = zero if a00_5 >= a01_5 else p1
        bottom = a02_5 if a02_5 >= a03_5 else a03_5
        bottom_at = p2 if a02_5 >= a03_5 else p3
        first = top >= bottom
        best5 = top if first else bottom
        at5 = top_at if first else bottom_at
        top = a00_6 if a00_6 >= a01_6 else a01_6
        top_at = zero if a00_6 >= a01_6 else p1
        bottom = a02_6 if a02_6 >= a03_6 else a03_6
        bottom_at = p2 if a02_6 >= a03_6 else p3
        first = top >= bottom
        best6 = top if first else bottom
        at6 = top_at if first else bottom_at
        top = a00_7 if a00_7 >= a01_7 else a01_7
        top_at = zero if a00_7 >= a01_7 else p1
        bottom = a02_7 if a02_7 >= a03_7 else a03_7
        bottom_at = p2 if a02_7 >= a03_7 else p3
        first = top >= bottom
        best7 = top if first else bottom
        at7 = top_at if first else bottom_at
        top = a00_8 if a00_8 >= a01_8 else a01_8
        top_at = zero if a00_8 >= a01_8 else p1
        bottom = a02_8 if a02_8 >= a03_8 else a03_8
        bottom_at = p2 if a02_8 >= a03_8 else p3
        first = top >= bottom
        best8 = top if first else bottom
        at8 = top_at if first else bottom_at
        top = a00_9 if a00_9 >= a01_9 else a01_9
        top_at = zero if a00_9 >= a01_9 else p1
        bottom = a02_9 if a02_9 >= a03_9 else a03_9
        bottom_at = p2 if a02_9 >= a03_9 else p3
        first = top >= bottom
        best9 = top if first else bottom
        at9 = top_at if first else bottom_at
        top = a00_10 if a00_10 >= a01_10 else a01_10
        top_at = zero if a00_10 >= a01_10 else p1
        bottom = a02_10 if a02_10 >= a03_10 else a03_10
        bottom_at = p2 if a02_10 >= a03_10 else p3
        first = top >= bottom
        best10 = top if first else bottom
        at10 = top_at if first else bottom_at
        top = a00_11 if a00_11 >= a01_11 else a01_11
        top_at = zero if a00_11 >= a01_11 else p1
        bottom = a02_11 if a02_11 >= a03_11 else a03_11
        bottom_at = p2 if a02_11 >= a03_11 else p3
        first = top >= bottom
        best11 = top if first else bottom
        at11 = top_at if first else bottom_at
        top = a00_12 if a00_12 >= a01_12 else a01_12
        top_at = zero if a00_12 >= a01_12 else p1
        bottom = a02_12 if a02_12 >= a03_12 else a03_12
        bottom_at = p2 if a02_12 >= a03_12 else p3
        first = top >= bottom
        best12 = top if first else bottom
        at12 = top_at if first else bottom_at
        top = a00_13 if a00_13 >= a01_13 else a01_13
        top_at = zero if a00_13 >= a01_13 else p1
        bottom = a02_13 if a02_13 >= a03_13 else a03_13
        bottom_at = p2 if a02_13 >= a03_13 else p3
        first = top >= bottom
        best13 = top if first else bottom
        at13 = top_at if first else bottom_at
        top = a00_14 if a00_14 >= a01_14 else a01_14
        top_at = zero if a00_14 >= a01_14 else p1
        bottom = a02_14 if a02_14 >= a03_14 else a03_14
        bottom_at = p2 if a02_14 >= a03_14 else p3
        first = top >= bottom
        best14 = top if first else bottom
        at14 = top_at if first else bottom_at
        top = a00_15 if a00_15 >= a01_15 else a01_15
        top_at = zero if a00_15 >= a01_15 else p1
        bottom = a02_15 if a02_15 >= a03_15 else a03_15
        bottom_at = p2 if a02_15 >= a03_15 else p3
        first = top >= bottom
        best15 = top if first else bottom
        at15 = top_at if first else bottom_at
        vals[d + np.uint64(0)] = best0 if best0 > zero else zero
        vals[d + np.uint64(1)] = best1 if best1 > zero else zero
        vals[d + np.uint64(2)] = best2 if best2 > zero else zero
        vals[d + np.uint64(3)] = best3 if best3 > zero else zero
        vals[d + np.uint64(4)] = best4 if best4 > zero else zero
        vals[d + np.uint64(5)] = best5 if best5 > zero else zero
        vals[d + np.uint64(6)] = best6 if best6 > zero else zero
        vals[d + np.uint64(7)] = best7 if best7 > zero else zero
        vals[d + np.uint64(8)] = best8 if best8 > zero else zero
        vals[d + np.uint64(9)] = best9 if best9 > zero else zero
        vals[d + np.uint64(10)] = best10 if best10 > zero else zero
        vals[d + np.uint64(11)] = best11 if best11 > zero else zero
        vals[d + np.uint64(12)] = best12 if best12 > zero else zero
        vals[d + np.uint64(13)] = best13 if best13 > zero else zero
        vals[d + np.uint64(14)] = best14 if best14 > zero else zero
        vals[d + np.uint64(15)] = best15 if best15 > zero else zero
        ats[d + np.uint64(0)] = at0
        ats[d + np.uint64(1)] = at1
        ats[d + np.uint64(2)] = at2
        ats[d + np.uint64(3)] = at3
        ats[d + np.uint64(4)] = at4
        ats[d + np.uint64(5)] = at5
        ats[d + np.uint64(6)] = at6
        ats[d + np.uint64(7)] = at7
        ats[d + np.uint64(8)] = at8
        ats[d + np.uint64(9)] = at9
        ats[d + np.uint64(10)] = at10
        ats[d + np.uint64(11)] = at11
        ats[d + np.uint64(12)] = at12
        ats[d + np.uint64(13)] = at13
        ats[d + np.uint64(14)] = at14
        ats[d + np.uint64(15)] = at15
