"""Data parallelism over the batch for the fast kernels, robust to a busy machine.

The batch is cut into small tasks (a few images each). The calling thread and the worker
threads pull tasks from a shared counter until none is left, each running the whole pipeline
of a task (im2col -> matrix product -> col2im, or a pooling kernel) with single-threaded Numba
kernels and single-threaded BLAS. When a worker is slow to start or is descheduled by the
operating system, the others simply take more tasks: the wait at the end is at most one task,
never half a batch. A worker that has not started by the time the work is done is cancelled.

The number of threads is ``NUMBA_NUM_THREADS`` (default: the number of CPUs). BLAS is limited
to one thread inside a task with OpenBLAS's ``openblas_set_num_threads_local`` when NumPy's
OpenBLAS provides it. In NumPy's own OpenBLAS that setting is not local to the calling thread: it
changes the count for every thread of the process. So it is set when the first :func:`map_tasks` of
the process starts and put back when the last one running ends, after every worker has finished its
tasks; before 7 Dec 2026 a worker that started late could leave it at 1 for good, and every matrix
product of the program (``numpy.matmul`` of the caller's own arrays included) then ran on one thread.
"""

import ctypes
import glob
import itertools
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
    """Threads used for the batch-parallel kernels (the calling thread included)."""
    return max(1, int(numba.config.NUMBA_NUM_THREADS))


_blas_lock = threading.Lock()
_blas_users = 0  # map_tasks calls running now, in any thread
_blas_saved = None  # the BLAS thread count before the first of them


def _single_threaded_blas():
    """Limit BLAS to one thread (for this thread, and, in NumPy's OpenBLAS, for the whole process)."""
    global _blas_users, _blas_saved
    if _set_blas_threads_local is None:
        return
    with _blas_lock:
        previous = _set_blas_threads_local(1)
        if _blas_users == 0:
            _blas_saved = previous
        _blas_users += 1


def _restore_blas_threads():
    """Undo :func:`_single_threaded_blas` once the last map_tasks running has finished."""
    global _blas_users
    if _set_blas_threads_local is None:
        return
    with _blas_lock:
        _blas_users -= 1
        if _blas_users == 0 and _blas_saved is not None:
            _set_blas_threads_local(_blas_saved)


def _get_executor():
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=max(1, n_workers() - 1), thread_name_prefix="minicnn")
        return _executor


def _forget_executor_in_child():
    # a forked child has none of the parent's threads: start a fresh pool when needed
    global _executor, _lock
    _executor = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_executor_in_child)


def split(n, step):
    """``range(n)`` cut into (start, stop) pieces of `step` samples (the last may be shorter)."""
    step = max(1, int(step))
    return [(s, min(n, s + step)) for s in range(0, n, step)]


def map_tasks(fn, tasks, work, min_work=1 << 18):
    """Run ``fn(slot, start, stop)`` for every (start, stop) in `tasks`, spread over the threads.

    Parameters
    ----------
    fn : callable
        Must release the GIL for its heavy work (Numba ``nogil`` kernels, NumPy matmul). `slot`
        (0 for the calling thread, 1, 2, ... for workers) says which per-thread scratch buffers
        to use: two calls with the same slot never run at the same time.
    tasks : list of (int, int)
        Pieces of the batch, e.g. from :func:`split`.
    work : int
        Rough size of the whole job (elements touched); small jobs run in the calling thread.

    Returns
    -------
    list
        ``fn``'s results, in task order.
    """
    results = [None] * len(tasks)
    threads = min(n_workers(), len(tasks))
    if threads <= 1 or work < min_work:
        for t, (s, e) in enumerate(tasks):
            results[t] = fn(0, s, e)
        return results
    counter = itertools.count()  # next() on it is atomic under the GIL

    def drain(slot):
        if slot and _set_blas_threads_local is not None:
            _set_blas_threads_local(1)  # an OpenBLAS whose setting is local to the thread needs it here too
        while True:
            t = next(counter)
            if t >= len(tasks):
                return
            results[t] = fn(slot, *tasks[t])

    executor = _get_executor()
    _single_threaded_blas()  # before the workers start: their first product must not spawn BLAS threads
    try:
        futures = [executor.submit(drain, slot) for slot in range(1, threads)]
        try:
            drain(0)
        finally:
            for f in futures:
                if not f.cancel():  # started: wait for its last task
                    f.result()
    finally:
        _restore_blas_threads()  # only now: no worker of this call runs any more
    return results
