"""Input checks shared by the functional operations and the layers.

Every check raises ValueError with a message that names the operation or layer (`who`) and
the shape it expected, so that a wrong input never surfaces as a NumPy broadcasting error
from deep inside a kernel.
"""

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def as_float(x, who, name="input"):
    """Return `x` as a float32 or float64 ndarray (other dtypes become float32)."""
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as exc:  # pragma: no cover - exotic inputs
            raise ValueError(f"{who}: {name} must be array-like, got {type(x).__name__}") from exc
    if x.dtype.type not in FLOAT_DTYPES:
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
            raise ValueError(f"{who}: {name} must be numeric, got dtype {x.dtype}")
        x = x.astype(np.float32)
    return x


def shape_str(shape):
    """Format a shape tuple whose entries may be ints or letters, e.g. ``(N, 3, H, W)``."""
    parts = [str(s) for s in shape]
    if len(parts) == 1:
        return f"({parts[0]},)"
    return "(" + ", ".join(parts) + ")"


def check_ndim(x, ndim, who, expected):
    """Raise unless `x.ndim == ndim`; `expected` is the shape pattern used in the message."""
    if x.ndim != ndim:
        raise ValueError(f"{who}: expected input of shape {shape_str(expected)}, got {tuple(x.shape)}")


def check_nchw(x, who, channels=None):
    """Check a 4-D NCHW input, optionally with a fixed channel count."""
    c = "C" if channels is None else channels
    expected = ("N", c, "H", "W")
    check_ndim(x, 4, who, expected)
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{who}: expected input of shape {shape_str(expected)}, got {tuple(x.shape)}")


def check_positive_int(value, name, who, minimum=1):
    """Return `value` as int, raising unless it is an integer >= `minimum`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{who}: {name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{who}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def window_output_size(size, kernel, stride, padding, who, axis, x_shape, expected):
    """Output length of a sliding window along one axis; ValueError if the kernel does not fit.

    Parameters
    ----------
    size, kernel, stride, padding : int
        Input length (px), window length (px), step (px) and zero padding on each side (px).
    """
    if kernel > size + 2 * padding:
        raise ValueError(
            f"{who}: kernel {kernel} is larger than the padded input {axis} {size} + 2*{padding} = "
            f"{size + 2 * padding}; expected input of shape {shape_str(expected)} with "
            f"{axis} >= {max(kernel - 2 * padding, 1)}, got {tuple(x_shape)}"
        )
    return (size + 2 * padding - kernel) // stride + 1


def match_dtype(arr, dtype):
    """`arr` cast to `dtype` without copying when it already has that dtype."""
    return arr if arr.dtype == dtype else arr.astype(dtype)


def conv2d_geometry(x, w, b, stride, padding, who):
    """Validate a conv2d call and return its sizes.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (F, C, KH, KW)
    b : ndarray of shape (F,)

    Returns
    -------
    tuple
        (N, C, H, W, F, KH, KW, OH, OW)
    """
    stride = check_positive_int(stride, "stride", who)
    padding = check_positive_int(padding, "padding", who, minimum=0)
    if w.ndim != 4:
        raise ValueError(f"{who}: expected weights of shape (F, C, KH, KW), got {tuple(w.shape)}")
    f, c, kh, kw = w.shape
    check_nchw(x, who, channels=c)
    if b.shape != (f,):
        raise ValueError(f"{who}: expected bias of shape ({f},), got {tuple(b.shape)}")
    n, _, h, wd = x.shape
    expected = ("N", c, "H", "W")
    oh = window_output_size(h, kh, stride, padding, who, "H", x.shape, expected)
    ow = window_output_size(wd, kw, stride, padding, who, "W", x.shape, expected)
    return n, c, h, wd, f, kh, kw, oh, ow


def pool2d_geometry(x, kernel_size, stride, who):
    """Validate a pooling call; return (kernel_size, stride, OH, OW) with stride defaulting to kernel."""
    kernel_size = check_positive_int(kernel_size, "kernel_size", who)
    stride = kernel_size if stride is None else check_positive_int(stride, "stride", who)
    check_nchw(x, who)
    expected = ("N", "C", "H", "W")
    oh = window_output_size(x.shape[2], kernel_size, stride, 0, who, "H", x.shape, expected)
    ow = window_output_size(x.shape[3], kernel_size, stride, 0, who, "W", x.shape, expected)
    return kernel_size, stride, oh, ow
