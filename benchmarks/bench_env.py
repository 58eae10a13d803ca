"""Set-up shared by the benchmark scripts: thread counts fixed before NumPy and Numba start their pools,
and the repository (optionally its tests folder) on ``sys.path``.

Usage, at the top of a benchmark script, before importing NumPy::

    from bench_env import pin_threads
    ROOT = pin_threads(ARGS.threads)
"""

from __future__ import annotations

import os
import sys
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
