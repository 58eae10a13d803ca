"""pytest plugin for the exercises.

- ``@pytest.mark.exercise("G03")`` also gives a test the plain marker ``G03``, so ``pytest -m G03``
  checks one exercise.
- A test that fails because an exercise is not written yet (a ``NotImplementedError("G03: ...")``
  raised by a solution region of the student edition) is reported in one line,
  ``G03 not implemented: minicnn/functional/conv.py::conv2d_forward_naive``, instead of a traceback,
  and the run ends with a summary of the exercises still to do.
- ``--teaching-report PATH`` writes one JSON record per test (node id, exercises, outcome, the
  exercise that was not implemented, first line of the error); the grader and the student-edition
  check of CI read it. Works under pytest-xdist (the records travel in ``user_properties``).
- ``--teaching-budget SECONDS`` stops each test function and each fixture function after SECONDS
  (``SIGALRM`` raises :class:`OverBudget`, a skip; never while Numba compiles or a module is imported) and
  reports the test skipped, ``over the teaching budget``. In a blank student edition a test that reaches an
  unwritten exercise fails at its first call of it, so running the whole suite with a budget of a second or
  two checks cheaply that every failure names an exercise; what ran longer without failing is listed, not judged.
"""

from __future__ import annotations

import re
import signal
import sys
import threading
import time

import pytest

from minicnn.io import write_json
from minicnn.teaching.progress import MESSAGE_RE, unwritten_in

EXERCISE_ID_RE = re.compile(r"^[A-Z]\d{2}$")


class OverBudget(pytest.skip.Exception):
    """A test or fixture function ran longer than ``--teaching-budget`` seconds: a skip (pytest reports it so,
    and caches it for every test that asks for the same fixture), a BaseException that ``except Exception``
    in the test does not swallow."""

    __test__ = False


def exercise_of(exc: BaseException, depth: int = 0):
    """(exercise id, location) when ``exc`` (or an exception it wraps) comes from a replaced region.

    Looks through exception groups (hypothesis) and ``__cause__``/``__context__`` chains
    (:func:`minicnn.teaching.progress.unwritten_in`).
    """
    found = unwritten_in(exc, depth)
    return (found.exercise, found.where) if found else None


#: An exercise named in text a test printed or asserted on: the one-line stop of a ``camelyon`` command
#: ("stopped at an exercise not written yet: G07 not implemented: ...") or a stub's own message in a
#: traceback or doctest report ("NotImplementedError: G07: implement ..."). Nothing else, so that a real
#: failure of a test that merely prints such text keeps its traceback.
_TEXT_RES = (
    re.compile(r"stopped at an exercise not written yet: (?P<id>[A-Z]\d{2}) not implemented: "
               r"(?P<where>[\w./-]+(?:::[\w.<>]+)?)"),
    re.compile(r"NotImplementedError: (?P<msg>[A-Z]\d{2}: implement [^\n]*)"),
)


def exercise_in_text(text: str):
    """(exercise id, location) named in ``text`` (a command's output, a doctest report), or None."""
    for pattern in _TEXT_RES:
        match = pattern.search(text or "")
        if not match:
            continue
        if "msg" in match.groupdict():
            found = MESSAGE_RE.match(match.group("msg"))
            if found:
                where = found.group("path") + ("::" + found.group("func") if found.group("func") else "")
                return found.group("id"), where
            continue
        return match.group("id"), match.group("where")
    return None


def not_implemented_line(exercise: str, where: str) -> str:
    """The one-line report of an exercise that is not written yet."""
    return f"{exercise} not implemented: {where}"


def pytest_addoption(parser):
    group = parser.getgroup("teaching")
    group.addoption(
        "--teaching-report",
        default=None,
        metavar="PATH",
        help="write a JSON record per test (exercises, outcome, not-implemented exercise) to PATH",
    )
    group.addoption(
        "--teaching-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop each test function and fixture function after SECONDS and report the test skipped (over the "
             "teaching budget): "
             "a cheap run of a blank student edition's whole suite, whose tests fail at their first unwritten exercise",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "exercise(id): the test checks exercise <id>; select it with -m <id>")
    config.addinivalue_line("markers", "hidden: a grading test students do not see (put it in tests/hidden/)")
    config._teaching_records = []
    config._teaching_missing = {}


def pytest_collection_modifyitems(config, items):
    for item in items:
        # item.keywords also holds the names of parent nodes (a folder called G08): look at the marks only
        marks = {m.name for m in item.iter_markers()}
        for mark in item.iter_markers("exercise"):
            for ex_id in mark.args:
                if ex_id not in marks:
                    item.add_marker(getattr(pytest.mark, ex_id))
                    marks.add(ex_id)


def _budget(config) -> float:
    value = config.getoption("--teaching-budget", default=None)
    if not value or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return 0.0
    return float(value)


#: budget in seconds; alarms fired so far; the count at the last report (a report after more fired is over budget)
_STATE: dict = {"budget": 0.0, "fired": 0, "reported": 0}


def _in_critical_section(frame) -> bool:
    """Whether interrupting now would break the process for later tests: Numba compiling (a half-compiled
    kernel), or a module being imported (a half-initialised module stays in ``sys.modules``)."""
    compiler = sys.modules.get("numba.core.compiler_lock")
    if compiler is not None and compiler.global_compiler_lock.is_locked():
        return True
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _on_budget(signum, frame):
    if _in_critical_section(frame):  # try again a little later
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        return
    _STATE["fired"] += 1
    raise OverBudget(f"over the teaching budget ({_STATE['budget']:g} s)")


def _over_budget(exc: BaseException | None, depth: int = 0) -> bool:
    """Whether ``exc`` is an OverBudget or was raised while handling one (``__context__``/``__cause__``)."""
    if exc is None or depth > 8:
        return False
    if isinstance(exc, OverBudget):
        return True
    return _over_budget(exc.__context__, depth + 1) or _over_budget(exc.__cause__, depth + 1)


def _within_budget(config):
    """Hook body around the test function and each fixture function (never around pytest's own code, whose
    state an interruption would break): a SIGALRM after ``--teaching-budget`` seconds raises OverBudget."""
    budget = _budget(config)
    if budget > 0:
        _STATE["budget"] = budget
        previous = signal.signal(signal.SIGALRM, _on_budget)
        outer, _ = signal.setitimer(signal.ITIMER_REAL, budget)  # a fixture asked for inside another one
        start = time.monotonic()
    try:
        yield
    finally:
        if budget > 0:
            left = outer - (time.monotonic() - start) if outer > 0 else 0.0
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.01) if outer > 0 else 0.0)
            signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    yield from _within_budget(pyfuncitem.config)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    yield from _within_budget(request.config)


def _exercises_of(item) -> list[str]:
    ids = []
    for mark in item.iter_markers("exercise"):
        ids.extend(str(a) for a in mark.args)
    return sorted(set(ids))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.when == "setup":
        report.user_properties.append(("teaching_exercises", _exercises_of(item)))
    fired, _STATE["reported"] = _STATE["fired"] > _STATE["reported"], _STATE["fired"]
    if call.excinfo is not None and (fired or _over_budget(call.excinfo.value)):
        # also an error the interruption caused: while the test cleaned up (the OverBudget is in its chain) or in
        # C code that turned it into another error (ast.parse: "SystemError: AST constructor recursion depth")
        if report.failed:
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0,
                               f"Skipped: over the teaching budget ({_STATE['budget']:g} s), then "
                               f"{call.excinfo.exconly().splitlines()[0][:200]}")  # fmt: skip
        report.user_properties.append(("teaching_over_budget", True))
        return
    if not report.failed or call.excinfo is None:
        return
    found = exercise_of(call.excinfo.value)
    if found is None and call.when == "call":
        # a command run in the test (CLI exit status 3, a subprocess, a doctest) that stopped at an exercise
        # says so in its output or in the assertion message
        text = "\n".join([report.capstdout, report.capstderr, str(call.excinfo.value)])
        found = exercise_in_text(text)
    if found is None:
        message = call.excinfo.exconly().splitlines()[0] if call.excinfo else ""
        report.user_properties.append(("teaching_error", message[:300]))
        return
    exercise, where = found
    line = not_implemented_line(exercise, where)
    report.longrepr = line
    report.user_properties.append(("teaching_not_implemented", [exercise, where]))
    report.user_properties.append(("teaching_error", line))


def _props(report) -> dict:
    return {k: v for k, v in getattr(report, "user_properties", ())}


def pytest_runtest_logreport(report):
    config = _CONFIG.get("config")
    if config is None:
        return
    props = _props(report)
    records = config._teaching_records
    if report.when == "setup":
        records.append(
            {
                "nodeid": report.nodeid,
                "exercises": list(props.get("teaching_exercises", [])),
                "outcome": "passed",
                "when": None,
                "not_implemented": None,
                "where": None,
                "error": None,
                "duration": 0.0,
                "over_budget": False,
            }
        )
    record = next((r for r in reversed(records) if r["nodeid"] == report.nodeid), None)
    if record is None:
        return
    record["duration"] = round(record["duration"] + float(getattr(report, "duration", 0.0)), 4)
    if report.skipped and record["outcome"] == "passed":
        record["outcome"] = "skipped"
    if props.get("teaching_over_budget"):
        record["over_budget"] = True
    if report.failed:
        record["outcome"] = "failed" if report.when == "call" else "error"
        record["when"] = report.when
        missing = props.get("teaching_not_implemented")
        if missing:
            record["not_implemented"], record["where"] = missing[0], missing[1]
            config._teaching_missing.setdefault(tuple(missing), 0)
            config._teaching_missing[tuple(missing)] += 1
        record["error"] = props.get("teaching_error")


_CONFIG: dict = {}
_COLLECT_RE = re.compile(r"NotImplementedError: (?P<msg>[A-Za-z][\w.-]*: implement .*)")


def pytest_collectreport(report):
    """A test module that cannot even be imported (a region runs at import time) is one error record."""
    config = _CONFIG.get("config")
    if config is None or not report.failed:
        return
    text = str(report.longrepr)
    record = {
        "nodeid": report.nodeid,
        "exercises": [],
        "outcome": "error",
        "when": "collect",
        "not_implemented": None,
        "where": None,
        "error": text.strip().splitlines()[-1][:300] if text.strip() else "collection error",
        "duration": 0.0,
    }
    match = _COLLECT_RE.search(text)
    if match:
        found = MESSAGE_RE.match(match.group("msg"))
        if found:
            where = found.group("path") + ("::" + found.group("func") if found.group("func") else "")
            record["not_implemented"], record["where"] = found.group("id"), where
            record["error"] = not_implemented_line(found.group("id"), where)
    config._teaching_records.append(record)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    _CONFIG["config"] = session.config


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    missing = getattr(config, "_teaching_missing", {})
    if missing:
        terminalreporter.section("exercises not implemented yet")
        by_ex: dict[str, list[tuple[str, int]]] = {}
        for (exercise, where), count in missing.items():
            by_ex.setdefault(exercise, []).append((where, count))
        for exercise in sorted(by_ex):
            for where, count in sorted(by_ex[exercise]):
                terminalreporter.write_line(
                    f"{not_implemented_line(exercise, where)}  ({count} test{'s' if count > 1 else ''})"
                )


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    path = config.getoption("--teaching-report", default=None)
    if not path or hasattr(config, "workerinput"):
        return
    payload = {"exitstatus": int(exitstatus), "tests": config._teaching_records}
    write_json(path, payload, indent=1)
