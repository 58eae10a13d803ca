"""Set-up shared by the benchmark scripts: thread counts fixed before NumPy and Numba start their pools,
and the repository (optionally its tests folder) on ``sys.path``.

Usage, at the top of a benchmark script, before importing NumPy::

    from bench_env import pin_threads
    ROOT = pin_threads(ARGS.threads)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The variables that size the thread pools of Numba, OpenBLAS, OpenMP and MKL.
THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def thread_env(threads: int, env: dict | None = None) -> dict:
    """A copy of ``env`` (default: this process's environment) with every pool sized to ``threads``."""
    out = dict(os.environ if env is None else env)
    out.update({var: str(int(threads)) for var in THREAD_VARIABLES})
    return out


def pin_threads(threads: int, *, tests: bool = False) -> Path:
    """Size this process's thread pools to ``threads`` (call before importing NumPy) and put the repository
    (and, with ``tests``, its ``tests`` folder) first on ``sys.path``; returns the repository root."""
    os.environ.update(thread_env(threads, {}))
    for p in ([ROOT / "tests"] if tests else []) + [ROOT]:
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))
    return ROOT


def alternating_thread_times(contenders, runs, flops):
    """Time single-thread kernels against each other: CPU time of the calling thread, call by call.

    Parameters
    ----------
    contenders : dict of name -> callable
        Each call does one unit of work and returns an array or a tuple of arrays (copied, for comparing).
    runs : int
        Timed rounds; a first, untimed round warms up (compilation or cache loading, page faults).
    flops : float
        Work of one call (FLOPs), for the GFLOP/s figure.

    Returns
    -------
    rows : dict of name -> {"median_ms", "gflops", "times_ms"}
        ``time.thread_time`` of every timed call (ms) and their median.
    results : dict of name -> tuple of ndarrays
        Copies of what each contender returned last.
    first_call_s : dict of name -> float
        Wall time of each contender's warm-up call (s).
    """
    times = {name: [] for name in contenders}
    results, first_call_s = {}, {}
    for r in range(runs + 1):
        for name, impl in contenders.items():  # alternating call by call, so load hits all alike
            t0, w0 = time.thread_time(), time.perf_counter()
            out = impl()
            elapsed = time.thread_time() - t0
            if r == 0:
                first_call_s[name] = time.perf_counter() - w0
            else:
                times[name].append(elapsed * 1e3)
            results[name] = tuple(a.copy() for a in (out if isinstance(out, tuple | list) else (out,)))
    rows = {}
    for name, ms in times.items():
        median = statistics.median(ms)
        rows[name] = {"median_ms": median, "gflops": flops / (median * 1e-3) / 1e9, "times_ms": ms}
    return rows, results, first_call_s
