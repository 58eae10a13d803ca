"""One way to run a per-slide step: in this process, on local worker processes, or on a Dask cluster.

Every per-slide step of the pipeline (synthesis, tiling, heatmaps, features) calls
:func:`map_slides`. Work items go out to workers; results come back to the calling
process, which stays the only writer of shared outputs (for example the HDF5 tile store).

Examples
--------
>>> from camelyon.executor import map_slides
>>> for r in map_slides(len, ["a", "bb"], workers=1, progress=False):
...     print(r.item, r.value, r.error)
a 1 None
bb 2 None
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from camelyon.errors import CamelyonError


class _ParameterError(CamelyonError, ValueError):
    """A bad ``workers`` or ``retries``: a ValueError that the command line prints in one line."""

__all__ = ["TaskResult", "map_slides", "default_workers", "runs_in_process", "process_alive"]


@dataclass
class TaskResult:
    """The outcome of one work item.

    Attributes
    ----------
    item : object
        The work item as it was given.
    value : object or None
        What the function returned, or None when it failed.
    error : str or None
        ``"ExceptionType: message"`` of the last attempt when every attempt failed, else None.
    attempts : int
        How many times the item was tried.
    error_type : type or None
        The class of that exception (``NotImplementedError`` from an exercise not written yet in the
        student edition is not retried and callers stop on it), else None.
    """

    item: Any
    value: Any = None
    error: str | None = None
    attempts: int = 1
    error_type: type | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def raise_if_unwritten(self) -> None:
        """Raise the item's ``NotImplementedError`` again in the caller (an exercise the student has not written:
        not a bad slide, so the caller stops with the exercise's message instead of listing failed slides)."""
        if self.error_type is not None and issubclass(self.error_type, NotImplementedError):
            raise NotImplementedError(self.error.split(": ", 1)[-1])


def default_workers() -> int:
    """Number of worker processes used when none is given: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class WorkerStopped(BaseException):
    """Raised inside a worker's task when the worker is told to stop (SIGTERM, SIGINT, parent gone).

    A BaseException, so that ``except Exception`` in a task does not swallow it: the task unwinds
    (its ``finally`` blocks and context managers remove temporary files) and the worker exits.
    """


#: Seconds between two checks, in a worker, that the process that started the pool is alive
#: (only on systems without pidfd_open, which tells at once).
PARENT_POLL_SECONDS = 0.5
#: After the parent is gone, how long a worker's task may take to unwind before the worker exits anyway.
STOP_GRACE_SECONDS = 5.0
#: Exit status of a worker that was stopped (128 + SIGTERM, as a shell reports it).
STOPPED_STATUS = 128 + signal.SIGTERM

_in_task = False  # in a worker: whether a task is running (a stop then unwinds it first)


def _stop_worker(signum=None, frame=None) -> None:
    """Signal handler of a worker: unwind the running task (temporary files go), or exit now when idle."""
    if _in_task:
        raise WorkerStopped(signum)
    os._exit(STOPPED_STATUS)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a killed process waiting to be reaped, a zombie, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False
    except OSError:  # pragma: no cover - no /proc: fall back on kill(pid, 0)
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True


def _wait_for_exit(pid: int) -> None:
    """Return when process ``pid`` has ended (even by kill -9, and before it is reaped)."""
    try:
        fd = os.pidfd_open(pid)  # Linux >= 5.3: readable once the process has ended
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        import select

        select.select([fd], [], [])
        os.close(fd)
        return
    while process_alive(pid):  # pragma: no cover - older kernels
        time.sleep(PARENT_POLL_SECONDS)


def _watch_parent(pid: int) -> None:
    """Thread of a worker: when the process that started the pool dies (even by kill -9), stop."""
    _wait_for_exit(pid)
    # to the main thread itself: a process-wide signal may land on this thread and leave a
    # sleeping or reading main thread undisturbed until its call returns
    signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)
    time.sleep(STOP_GRACE_SECONDS)
    os._exit(STOPPED_STATUS)  # the task did not unwind in time (e.g. stuck in compiled code)


def _worker_init(parent_pid: int) -> None:
    """Initializer of every local worker process: exit with the parent, stop cleanly on SIGTERM/SIGINT."""
    signal.signal(signal.SIGTERM, _stop_worker)
    signal.signal(signal.SIGINT, _stop_worker)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="watch-parent", daemon=True).start()


def _call(fn: Callable, item: Any) -> tuple[Any, str | None, type | None]:
    """Run ``fn(item)`` in a worker; never raises, so one bad slide cannot break the pool.

    Returns (value, ``"Type: message"`` or None, exception class or None). A worker told to stop
    (:class:`WorkerStopped`) unwinds the task and exits instead.
    """
    global _in_task
    _in_task = True
    try:
        return fn(item), None, None
    except WorkerStopped:
        os._exit(STOPPED_STATUS)  # the task has unwound: its temporary files are gone
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        return None, _describe(exc), type(exc)
    finally:
        _in_task = False


def _retry(error: str | None, error_type: type | None, attempt: int, retries: int) -> bool:
    """Try an item again: it failed, has attempts left, and not on an exercise the student has not written."""
    return error is not None and attempt <= retries and not (error_type and issubclass(error_type, NotImplementedError))


def map_slides(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    retries: int = 1,
    desc: str = "slides",
    progress: bool = True,
) -> Iterator[TaskResult]:
    """Apply ``fn`` to every item and yield a :class:`TaskResult` per item as it finishes.

    Parameters
    ----------
    fn : callable
        A module-level function (it is sent to other processes) taking one item.
    items : iterable
        Work items, typically one per slide (paths or small dataclasses).
    workers : int, optional
        Local worker processes. ``None`` uses every available core; ``1`` (or 0) runs in this
        process, which is easiest to debug. Ignored when ``scheduler`` is given.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``) to run on a cluster instead.
        Needs the optional extra ``cluster``: ``pip install -e '.[cluster]'`` in the checkout.
    retries : int
        How many times a failing item is tried again before it is reported as failed.
    desc : str
        Label of the progress bar.
    progress : bool
        Show a progress bar (it is also hidden when stderr is not a terminal).

    Yields
    ------
    TaskResult
        In completion order, not input order. Failed items carry ``error`` and do not stop the others.
    """
    items = list(items)
    if retries < 0:
        raise _ParameterError(f"retries must be >= 0, got {retries}")
    bar = tqdm(total=len(items), desc=desc, unit="slide", disable=not progress or None, leave=False)
    try:
        if scheduler is not None:
            yield from _map_dask(fn, items, scheduler, retries, bar)
        else:
            n = default_workers() if workers is None else int(workers)
            if n < 0:
                raise _ParameterError(f"workers must be >= 0, got {workers}")
            if runs_in_process(len(items), workers=n):
                yield from _map_inline(fn, items, retries, bar)
            else:
                yield from _map_processes(fn, items, min(n, len(items)), retries, bar)
    finally:
        bar.close()


def runs_in_process(n_items: int, workers: int | None = None, scheduler=None) -> bool:
    """Whether :func:`map_slides` with these arguments runs every item in the calling process.

    True without a scheduler when at most one worker is asked for, or when there is at most one
    item; a caller can then show progress inside an item (one big slide, for instance).
    """
    if scheduler is not None:
        return False
    n = default_workers() if workers is None else int(workers)
    return n <= 1 or n_items <= 1


def _map_inline(fn, items, retries, bar) -> Iterator[TaskResult]:
    for item in items:
        attempts = 0
        while True:
            attempts += 1
            value, error, error_type = _call(fn, item)
            if not _retry(error, error_type, attempts, retries):
                break
        bar.update(1)
        yield TaskResult(item, value, error, attempts, error_type)


def _map_processes(fn, items, n_workers, retries, bar) -> Iterator[TaskResult]:
    # forkserver: workers start from a clean interpreter (no inherited OpenSlide handles or
    # Numba threads), but start faster than with spawn.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=_worker_init,
                               initargs=(os.getpid(),))
    finished = 0
    try:
        pending = {pool.submit(_call, fn, item): (item, 1) for item in items}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            outcomes, broken = [], None
            for fut in done:
                item, attempt = pending.pop(fut)
                try:
                    value, error, error_type = fut.result()
                except BrokenProcessPool as exc:  # a worker process died: the pool cannot go on
                    broken = exc
                    continue
                except Exception as exc:  # the result could not be sent back (e.g. not picklable)
                    value, error, error_type = None, _describe(exc), type(exc)
                outcomes.append((item, value, error, error_type, attempt))
            for item, value, error, error_type, attempt in outcomes:
                if _retry(error, error_type, attempt, retries):
                    if broken is None:
                        pending[pool.submit(_call, fn, item)] = (item, attempt + 1)
                    continue  # with a broken pool the item stays unfinished
                bar.update(1)
                finished += 1
                yield TaskResult(item, value, error, attempt, error_type)
            if broken is not None:
                raise broken
    except BrokenProcessPool as exc:
        pool.shutdown(wait=True, cancel_futures=True)
        raise CamelyonError(_worker_died_message(method, n_workers, len(items) - finished, len(items))) from exc
    except BaseException:
        # Ctrl-C, SIGTERM, or the caller stopped iterating: drop queued items, stop the running
        # ones (each unwinds and removes its temporary files), and wait for the workers to exit.
        _stop_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Send SIGTERM to the pool's worker processes (they unwind their task and exit)."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGTERM)
        except (OSError, ValueError):  # already gone
            pass


def _worker_died_message(method: str, n_workers: int, unfinished: int, total: int) -> str:
    """What to tell the user when a worker process died (the pool raised BrokenProcessPool)."""
    return (
        f"a worker process died ({n_workers} workers started with {method!r}; {unfinished} of {total} items "
        f"unfinished). Likely causes: the script that called map_slides (or build_tile_store, "
        f"generate_cohort, ...) does its work at module level without an 'if __name__ == \"__main__\":' "
        f"guard, so every new worker imports it and runs it again; or the operating system killed a worker "
        f"that ran out of memory (OOM killer; see 'dmesg'). Fixes: put the script's top-level work under "
        f"'if __name__ == \"__main__\":'; use fewer workers (--workers 2, or --workers 1 / workers=1 to "
        f"run everything in this process); or give the job more memory. The commands that resume (tiles, "
        f"heatmap, synth, pipeline) keep what finished and continue from there when run again."
    )


def _map_dask(fn, items, scheduler, retries, bar) -> Iterator[TaskResult]:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        # the package is installed from its checkout (it is not on PyPI), so is its extra
        raise CamelyonError(
            "--scheduler needs dask.distributed, which is not installed: run pip install -e '.[cluster]' "
            "in the minicnn-camelyon checkout"
        ) from exc
    if isinstance(scheduler, Client):
        client = scheduler
    else:
        if not isinstance(scheduler, str) or "://" not in scheduler and ":" not in scheduler:
            raise CamelyonError(f"--scheduler {scheduler!r}: expected a Dask scheduler address such as "
                                "tcp://host:8786")
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, ValueError, TypeError) as exc:
            raise CamelyonError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler ({exc}); check "
                                "the address (tcp://host:8786) and that the scheduler runs") from None
    try:
        futures = {}
        run_id = uuid.uuid4().hex[:8]
        for i, item in enumerate(items):
            fut = client.submit(_call, fn, item, pure=False, key=f"{desc_key(fn)}-{run_id}-{i}")
            futures[fut] = (item, 1)
        ac = as_completed(list(futures))
        for fut in ac:
            item, attempt = futures.pop(fut)
            try:
                value, error, error_type = fut.result()
            except Exception as exc:  # worker lost
                value, error, error_type = None, _describe(exc), type(exc)
            if _retry(error, error_type, attempt, retries):
                new = client.submit(_call, fn, item, pure=False)
                futures[new] = (item, attempt + 1)
                ac.add(new)
                continue
            bar.update(1)
            yield TaskResult(item, value, error, attempt, error_type)
    finally:
        if not isinstance(scheduler, Client):
            client.close()


def desc_key(fn: Callable) -> str:
    """A readable Dask task-key prefix for ``fn``."""
    return getattr(fn, "__name__", "task").replace("_", "-")
