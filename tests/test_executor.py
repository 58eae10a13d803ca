"""camelyon.executor: in-process, local processes and a Dask cluster give the same results."""

import re
import sys

import pytest
from executor_tasks import checksum_task, dying_task, failing_task, flaky_task

from camelyon.errors import CamelyonError
from camelyon.executor import map_slides


def _collect(results):
    return {r.item: r for r in results}


def test_inline_and_processes_agree():
    items = list(range(6))
    inline = _collect(map_slides(checksum_task, items, workers=1, progress=False))
    procs = _collect(map_slides(checksum_task, items, workers=2, progress=False))
    assert set(inline) == set(procs) == set(items)
    for i in items:
        assert inline[i].ok and procs[i].ok
        assert inline[i].value == procs[i].value


@pytest.mark.parametrize("workers", [1, 2])
def test_failure_is_reported_and_others_finish(workers):
    res = _collect(map_slides(failing_task, range(6), workers=workers, retries=1, progress=False))
    assert res[3].error == "ValueError: item 3 is bad"
    assert res[3].attempts == 2
    assert all(res[i].value == i * 10 for i in range(6) if i != 3)


@pytest.mark.parametrize("workers", [1, 2])
def test_transient_failure_is_retried(tmp_path, workers):
    dirs = []
    for k in range(2):
        d = tmp_path / f"d{k}"
        d.mkdir()
        dirs.append(str(d))
    res = list(map_slides(flaky_task, dirs, workers=workers, retries=1, progress=False))
    assert [r.value for r in res] == ["ok", "ok"]
    assert all(r.attempts == 2 for r in res)


def test_bad_arguments():
    with pytest.raises(ValueError, match="workers"):
        list(map_slides(checksum_task, [1, 2], workers=-1, progress=False))
    with pytest.raises(ValueError, match="retries"):
        list(map_slides(checksum_task, [1, 2], retries=-1, progress=False))
    # the command line prints these in one line (CamelyonError), not as a traceback
    with pytest.raises(CamelyonError, match="workers must be >= 0"):
        list(map_slides(checksum_task, [1, 2], workers=-1, progress=False))


@pytest.mark.parametrize("retries", [0, 1])
def test_dead_worker_is_a_clear_error(retries):
    got = []
    with pytest.raises(CamelyonError) as err:
        for r in map_slides(dying_task, range(4), workers=2, retries=retries, progress=False):
            got.append(r)
    message = str(err.value)
    assert "worker process died" in message
    assert 'if __name__ == "__main__":' in message
    assert "fewer workers" in message and "workers=1" in message and "memory" in message
    # results that finished before the worker died were yielded as they were, none as a failure
    assert all(r.ok and r.value == r.item * 10 for r in got)
    assert 2 not in {r.item for r in got}


def test_missing_dask_names_the_checkout_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(CamelyonError, match=re.escape("pip install -e '.[cluster]'")):
        list(map_slides(checksum_task, [1, 2], scheduler="tcp://127.0.0.1:1", progress=False))


@pytest.mark.slow
def test_dask_cluster_equals_local_processes():
    distributed = pytest.importorskip("distributed")
    items = list(range(6))
    local = _collect(map_slides(checksum_task, items, workers=2, progress=False))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster:
        dask = _collect(map_slides(checksum_task, items, scheduler=cluster.scheduler_address,
                                   progress=False))
        failed = _collect(map_slides(failing_task, range(5), scheduler=cluster.scheduler_address,
                                     retries=1, progress=False))
    assert all(dask[i].value == local[i].value for i in items)
    assert failed[3].error == "ValueError: item 3 is bad" and failed[3].attempts == 2
    assert failed[4].value == 40
