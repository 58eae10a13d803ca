"""The batch-parallel task runner of the fast kernels (minicnn/functional/_parallel.py)."""

import numpy as np
import pytest

from minicnn.functional import _parallel


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.setattr(_parallel, "n_workers", lambda: 2)
    monkeypatch.setattr(_parallel, "_executor", None)


def test_every_task_runs_once_in_order(two_threads):
    tasks = _parallel.split(103, 4)
    results = _parallel.map_tasks(lambda slot, s, e: (slot, s, e), tasks, 1 << 20)
    assert [(s, e) for _, s, e in results] == tasks
    assert {slot for slot, _, _ in results} <= {0, 1}


def test_the_callers_blas_thread_count_is_left_as_it_was(two_threads):
    """BLAS runs on one thread inside the tasks only: afterwards the program's own products get their threads back.

    NumPy's OpenBLAS applies ``openblas_set_num_threads_local`` to the whole process; a worker thread that
    started after the caller had finished and restored the count used to set it to 1 for good (every later
    ``numpy.matmul`` of the program ran on one thread). A new worker thread per call makes that late start likely.
    """
    setter = _parallel._set_blas_threads_local
    if setter is None:
        pytest.skip("this NumPy's BLAS has no openblas_set_num_threads_local")
    before = setter(3)
    try:
        a = np.ones((32, 32))
        for _ in range(30):
            _parallel._executor = None  # a new worker thread, started while the caller may already be done
            _parallel.map_tasks(lambda slot, s, e: a @ a, [(0, 1), (1, 2)], 1 << 20)
            assert setter(3) == 3, "map_tasks left BLAS at another thread count"
    finally:
        setter(before)
