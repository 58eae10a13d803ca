"""pytest plugin loaded by the grader in each exercise's sandbox (``-p minicnn.teaching.grading_plugin``).

Configured by environment variables set by :mod:`minicnn.teaching.grade`:

- ``MINICNN_GRADING_EVENTS``: a JSON-lines file; the plugin appends ``{"start": nodeid}`` before each test
  and one record per finished test (outcome, first error line, the assertion message, whether it timed out
  or delegated). The file survives a killed process, so the grader knows which test was running (hung);
- ``MINICNN_GRADING_TEST_TIMEOUT``: seconds per test. At the limit ``SIGALRM`` raises :class:`TestTimeout`
  in the test (a ``BaseException``: ``except Exception`` does not swallow it); if the test does not return
  within 5 more seconds (a loop in compiled code ignores signals) ``faulthandler`` dumps the stacks to the
  log and ends the process, and the grader reruns the tests that were not run yet;
- ``MINICNN_GRADING_DELEGATION``: JSON ``{"exercise": id, "rules": [{"guard", "forbid", "message"}]}`` for
  :func:`minicnn.teaching.delegation.install_rules`;
- ``MINICNN_GRADING_NETWORK``: ``"socket guard"`` makes ``socket.connect`` raise (the sandbox could not
  create a network namespace).

``SIGUSR1`` (sent by the sandbox at the exercise's wall limit) dumps every thread's stack to the log.
"""

# teaching: no-regions

from __future__ import annotations

import faulthandler
import json
import os
import signal
import socket
import sys

import pytest

HARD_GRACE_SECONDS = 5.0


class TestTimeout(BaseException):
    """A test ran past the per-test timeout."""

    __test__ = False


def _events_file():
    path = os.environ.get("MINICNN_GRADING_EVENTS")
    return open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115 - kept open for the session


_STATE: dict = {"events": None, "timeout": 0.0}


def _emit(record: dict) -> None:
    fh = _STATE["events"]
    if fh is not None:
        fh.write(json.dumps(record) + "\n")
        fh.flush()


def _block_network() -> None:
    def refuse(*args, **kwargs):
        raise OSError("network access is disabled while grading")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse


def _on_alarm(signum, frame):
    raise TestTimeout(f"test timed out after {_STATE['timeout']:g} s (per-test timeout)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if os.environ.get("MINICNN_GRADING_NETWORK") == "socket guard":
        _block_network()
    faulthandler.enable(file=sys.stderr, all_threads=True)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    _STATE["events"] = _events_file()
    _STATE["timeout"] = float(os.environ.get("MINICNN_GRADING_TEST_TIMEOUT", "0") or 0)
    spec = os.environ.get("MINICNN_GRADING_DELEGATION")
    if spec:
        from minicnn.teaching.delegation import install_rules

        spec = json.loads(spec)
        install_rules(spec["exercise"], spec["rules"])


@pytest.hookimpl(hookwrapper=True)
def pytest_collection(session):
    timeout = _STATE["timeout"]
    if timeout > 0:  # a test module whose import hangs: dump where, and end the process
        faulthandler.dump_traceback_later(max(2 * timeout, 30.0) + HARD_GRACE_SECONDS, exit=True)
    _emit({"collect": "start"})
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        _emit({"collect": "end"})


def pytest_collection_finish(session):
    _emit({"collected": [item.nodeid for item in session.items]})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _emit({"start": item.nodeid})
    timeout = _STATE["timeout"]
    if timeout > 0:
        faulthandler.dump_traceback_later(timeout + HARD_GRACE_SECONDS, exit=True)
    try:
        yield
    finally:
        if timeout > 0:
            faulthandler.cancel_dump_traceback_later()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    timeout = _STATE["timeout"]
    if timeout > 0 and hasattr(signal, "setitimer"):
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        yield
    finally:
        if timeout > 0 and hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def _chain(exc, depth=0):
    if exc is None or depth > 8:
        return
    yield exc
    for inner in getattr(exc, "exceptions", ()) or ():
        yield from _chain(inner, depth + 1)
    yield from _chain(exc.__cause__, depth + 1)
    yield from _chain(exc.__context__, depth + 1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    record = {"nodeid": item.nodeid, "when": call.when, "outcome": report.outcome}
    if report.failed and call.excinfo is not None:
        from minicnn.teaching.delegation import DelegationError
        from minicnn.teaching.pytest_plugin import exercise_of

        exc = call.excinfo.value
        chain = list(_chain(exc))
        record["error"] = call.excinfo.exconly()[:4000]
        record["timeout"] = any(isinstance(e, TestTimeout) for e in chain)
        delegation = next((e for e in chain if isinstance(e, DelegationError)), None)
        if delegation is not None:
            record["delegation"] = str(delegation)
        found = exercise_of(exc)
        if found:
            record["not_implemented"] = list(found)
        entries = [e for e in call.excinfo.traceback if os.path.basename(str(e.path)) != "grading_plugin.py"]
        if entries:
            entry = entries[-1]
            record["where"] = f"{os.path.basename(str(entry.path))}:{entry.lineno + 1}"
        if record["timeout"]:
            record["error"] = f"hung: still running {_STATE['timeout']:g} s after it started (per-test timeout)"
    elif report.skipped:
        longrepr = report.longrepr
        record["reason"] = str(longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else longrepr)[:300]
    _emit(record)


def pytest_collectreport(report):
    if report.failed:
        _emit({"nodeid": report.nodeid, "when": "collect", "outcome": "failed", "error": str(report.longrepr)[-4000:]})


def pytest_sessionfinish(session, exitstatus):
    _emit({"session": "finished", "exitstatus": int(exitstatus)})
    fh = _STATE.get("events")
    if fh is not None:
        fh.close()
        _STATE["events"] = None
