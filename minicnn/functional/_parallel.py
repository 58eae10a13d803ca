"""Coarse data parallelism over the batch for the convolution kernels.

The batch is cut into one contiguous part per worker thread; each worker runs the whole
im2col -> matrix product -> col2im pipeline on its part with single-threaded Numba kernels and
single-threaded BLAS. There is one synchronisation per call instead of one per kernel launch,
which matters on a loaded machine where a descheduled thread stalls every barrier.

The number of workers is ``NUMBA_NUM_THREADS`` (default: the number of CPUs). BLAS is limited
to one thread inside the workers with OpenBLAS's ``openblas_set_num_threads_local`` when NumPy's
OpenBLAS provides it; otherwise the workers simply share BLAS's own threads.
"""

import ctypes
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

_lock = threading.Lock()
_executor = None


def _find_local_thread_setter():
    folder = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(folder, "*openblas*.so*"))):
        try:
            lib = ctypes.CDLL(path)
            fn = lib.openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes = [ctypes.c_int]
        fn.restype = ctypes.c_int
        return fn
    return None


_set_blas_threads_local = _find_local_thread_setter()


def n_workers():
    """Worker threads used for the batch-parallel kernels."""
    return max(1, int(numba.config.NUMBA_NUM_THREADS))


def _worker_init():
    if _set_blas_threads_local is not None:
        _set_blas_threads_local(1)


def _get_executor():
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=n_workers(), thread_name_prefix="minicnn",
                                           initializer=_worker_init)
        return _executor


def _forget_executor_in_child():
    # a forked child has none of the parent's threads: start a fresh pool when needed
    global _executor, _lock
    _executor = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_executor_in_child)


def split(n, parts):
    """Cut ``range(n)`` into at most `parts` contiguous (start, stop) pieces of nearly equal size."""
    parts = max(1, min(parts, n))
    bounds = [n * i // parts for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(parts)]


def map_batch(fn, n, work, min_work=1 << 18):
    """Run ``fn(part_index, start, stop)`` over contiguous pieces of a batch of `n` samples.

    Parameters
    ----------
    fn : callable
        Must release the GIL for the heavy work (Numba ``nogil`` kernels, NumPy matmul).
    n : int
        Batch size.
    work : int
        Rough size of the job (elements touched); small jobs run in the calling thread.

    Returns
    -------
    list
        ``fn``'s results, in batch order.
    """
    workers = n_workers()
    if workers == 1 or n == 1 or work < min_work:
        return [fn(0, 0, n)]
    pieces = split(n, workers)
    executor = _get_executor()
    futures = [executor.submit(fn, i, s, e) for i, (s, e) in enumerate(pieces[1:], start=1)]
    # the calling thread does the first piece itself, with one BLAS thread like the workers
    previous = _set_blas_threads_local(1) if _set_blas_threads_local is not None else None
    try:
        first = fn(0, *pieces[0])
    finally:
        if previous is not None:
            _set_blas_threads_local(previous)
    return [first] + [f.result() for f in futures]
