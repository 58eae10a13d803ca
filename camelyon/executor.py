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

__all__ = ["TaskResult", "map_slides", "default_workers", "runs_in_process"]


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


def _call(fn: Callable, item: Any) -> tuple[Any, str | None, type | None]:
    """Run ``fn(item)`` in a worker; never raises, so one bad slide cannot break the pool.

    Returns (value, ``"Type: message"`` or None, exception class or None).
    """
    try:
        return fn(item), None, None
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        return None, _describe(exc), type(exc)


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
    pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx)
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
        # Ctrl-C, or the caller stopped iterating: drop queued items instead of running them all.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


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
        try:
            client = Client(scheduler)
        except OSError as exc:
            raise CamelyonError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler ({exc})") from None
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
