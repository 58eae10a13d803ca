"""Grade a student's edition against the solution edition, one sandboxed exercise at a time.

For each exercise (each id with solution regions in the solution edition):

1. **reuse**: the exercise files the tree would get (:func:`minicnn.teaching.worktree.student_version`) are
   hashed; when the same bytes were graded earlier in this run, their results are used (:class:`GradeCache`);
2. **tree**: a fresh copy of the solution edition with only the student's files of that exercise in it
   (:mod:`minicnn.teaching.worktree`): the instructor's tests (visible and hidden), conftest and plugins
   run, nothing the student added does;
3. **import check and hidden probes**, one sandboxed process (:mod:`minicnn.teaching.sandbox`): the
   exercise's modules are imported one by one, and a module that hangs or crashes the interpreter is named,
   with the file and line, and the exercise stops there (its checks all count as failed); then the hidden
   probes (``tests/hidden/probes.py``) call the exercise's functions (notebook functions included) on inputs
   drawn from the grading seed; the outputs are compared here, in the grader's process, with the solution
   edition's on the same inputs (``rtol`` 1e-7 for floats unless ``grading.toml`` says otherwise), and a
   function right on its visible tests' inputs but wrong on new ones of the same shape is "gamed";
4. **tests**: ``pytest -m <id>`` over the test files that mark the id, in the sandbox, with the grading
   plugin (:mod:`minicnn.teaching.grading_plugin`): per-test timeout, delegation stubs, a record per test
   written as it runs; a test that hangs is reported by name and the others are run again without it.

All of it shares the exercise's wall limit; past it the sandbox's process group is killed and whatever did
not run counts as failed. Skipped tests, and checks that pass on the blank edition (the blank baseline,
:meth:`GradeCache.blank_passes`), are not counted; an exercise whose every check was left out is "not
graded". A gamed or delegating exercise scores 0 (``grading.toml``: ``gamed``, ``delegation``). Points
per exercise and per group of checks come from ``grading.toml`` (:mod:`minicnn.teaching.policy`).
"""

# teaching: no-regions

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from minicnn.io import atomic_write, write_text
from minicnn.teaching import sandbox
from minicnn.teaching.policy import ExercisePolicy, Policy, load_policy
from minicnn.teaching.regions import EXCLUDED_DIRS, EXCLUDED_SUFFIXES, Region
from minicnn.teaching.regions import exercises as group_regions
from minicnn.teaching.release import ReleaseError, check
from minicnn.teaching.selfcheck import exercise_test_files
from minicnn.teaching.worktree import copy_reference, exercise_files, place_student_files, student_version

#: Root of the reference edition this package belongs to (the repository).
REFERENCE_ROOT = Path(__file__).resolve().parents[2]
TEACHING = Path(__file__).resolve().parent
RUNNER_FILE = TEACHING / "probe_runner.py"
IMPORT_CHECK_FILE = TEACHING / "import_check.py"
PROBES_RELATIVE = Path("tests/hidden/probes.py")
IMPORT_TIMEOUT_SECONDS = 30.0


@dataclass
class Settings:
    """How to grade (from ``grading.toml`` and the command line)."""

    reference: Path
    tests: Path | None
    policy: Policy
    seed: int
    test_timeout: float
    wall_limit: float
    cpu_limit: int
    memory_mb: int
    python: str = sys.executable
    keep_work: bool = False
    probes_file: Path | None = None  # default: tests/hidden/probes.py of the graded tree

    def limits(self) -> sandbox.Limits:
        return sandbox.Limits(self.wall_limit, self.cpu_limit, self.memory_mb, network=False)


@dataclass
class ExerciseGrade:
    """Result of one exercise."""

    exercise: str
    points: float = 0.0
    max_points: float = 0.0
    score: float | None = 0.0  # percent of the graded points; None: not graded
    status: str = ""
    functions: list[str] = field(default_factory=list)
    tests_total: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    tests_skipped: int = 0
    tests_not_implemented: int = 0
    probes_total: int = 0
    probes_matched: int = 0
    groups: dict = field(default_factory=dict)
    tests: list[dict] = field(default_factory=list)
    probes: dict = field(default_factory=dict)
    import_problems: dict = field(default_factory=dict)
    delegation: str = ""
    gamed: str = ""  # why the exercise counts as gamed (a delegation, or a function special-casing the visible inputs)
    hung: list[str] = field(default_factory=list)
    files: dict = field(default_factory=dict)
    first_failure: dict | None = None
    hint: str = ""
    seconds: float = 0.0
    wall_limit_reached: bool = False
    leftovers_killed: int = 0
    cpu_seconds: float = 0.0  # CPU of the sandboxed processes (user + system), all steps; 0 when reused
    cpu: dict = field(default_factory=dict)  # step -> CPU seconds
    reused: bool = False  # byte-identical exercise files were graded earlier in this run: their results
    logs: str = ""  # when reused: the folder holding the logs of that grading
    tests_blank: int = 0  # tests that pass on the blank edition too: not counted


# --------------------------------------------------------------------------------------------- helpers


def _env(tree: Path, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "MINICNN_GRADING", "COV_"))}
    env["PYTHONPATH"] = str(tree)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    env["MPLBACKEND"] = "Agg"
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env.setdefault(name, "1")
    env.update(extra or {})
    return env


def module_name(rel: str) -> str:
    """``minicnn/functional/dense.py`` -> ``minicnn.functional.dense``."""
    return rel[:-3].replace("/", ".").removesuffix(".__init__")


def is_package_module(root: Path, rel: str) -> bool:
    """True for a ``.py`` file inside a package (every folder up to the root has ``__init__.py``)."""
    if not rel.endswith(".py"):
        return False
    parts = rel.split("/")[:-1]
    return bool(parts) and all((Path(root).joinpath(*parts[: i + 1]) / "__init__.py").exists() for i in range(len(parts)))


_FRAME_RE = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


def culprit(text: str, tree: Path) -> str | None:
    """``path:line`` of the innermost frame of ``text`` (a traceback or faulthandler dump) in the graded tree.

    faulthandler prints the most recent call first, tracebacks last: both orders are handled by taking
    the frame nearest to the failure (``first`` for dumps, which start with "Thread"/"Current thread").
    """
    tree_s = str(tree) + os.sep
    frames = []
    for m in _FRAME_RE.finditer(text):
        path = m.group("file")
        if path.startswith(tree_s) and f"{os.sep}teaching{os.sep}" not in path:
            frames.append(f"{os.path.relpath(path, tree)}:{m.group('line')}")
    if not frames:
        return None
    dump = "most recent call first" in text or "Current thread" in text or "Thread 0x" in text
    return frames[0] if dump else frames[-1]


def _events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a kill
    return out


_METER = threading.local()


def _run(step: str, *args, **kwargs) -> sandbox.RunResult:
    """:func:`sandbox.run`, adding its CPU seconds to the exercise being graded by this thread (``step``)."""
    result = sandbox.run(*args, **kwargs)
    meter = getattr(_METER, "cpu", None)
    if meter is not None:
        meter[step] = round(meter.get(step, 0.0) + result.cpu_seconds, 3)
    return result


# --------------------------------------------------------------------------------------- import check


def _import_timeout(settings: Settings) -> float:
    return min(IMPORT_TIMEOUT_SECONDS, max(settings.test_timeout, 5.0))


def read_import_steps(text: str, work: Path, result: sandbox.RunResult, import_timeout: float,
                      problems: dict) -> str | None:  # fmt: skip
    """Fold the import check's JSON lines of a log into ``problems`` (module -> what went wrong).

    Returns the module whose import never ended (it hung, or the interpreter died in it), else None.
    """
    started, finished = None, set()
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            step = json.loads(line)
        except ValueError:
            continue
        if not isinstance(step, dict):
            continue
        if "start" in step:
            started = step["start"]
        elif "ok" in step:
            finished.add(step["ok"])
        elif "error" in step:
            finished.add(step["error"])
            where = culprit(step["text"], work)
            last = step["text"].strip().splitlines()[-1] if step["text"].strip() else "error"
            problems[step["error"]] = f"import fails: {last}" + (f" (at {where})" if where else "")
    if started is None or started in finished:
        return None
    where = culprit(text, work)
    if result.timed_out:
        problems[started] = f"import hangs: the exercise's wall limit passed while importing it (at {where or '?'})"
    elif "Timeout (" in text:
        problems[started] = f"import hangs: still running after {import_timeout:g} s (at {where or '?'})"
    else:
        problems[started] = f"import crashes the interpreter (exit code {result.returncode})" + (f" at {where}" if where else "")
    return started


def check_imports(work: Path, modules: list[str], settings: Settings, log: Path, deadline: float) -> tuple[dict, bool]:
    """Import ``modules`` of ``work`` one by one in the sandbox (a process of their own).

    The grader runs this check in the probes' process (:func:`run_probes`); this function carries on after
    a module that hung or crashed there, to report the modules after it.

    Returns
    -------
    problems : dict
        Module -> what went wrong (``hangs at import ...``, ``crashes ...``, the exception).
    fatal : bool
        True when a module hung or killed the interpreter (the exercise's other steps would do the same).
    """
    problems: dict[str, str] = {}
    import_timeout = _import_timeout(settings)
    todo = list(modules)
    fatal = False
    while todo:
        cmd = [settings.python, str(IMPORT_CHECK_FILE), str(import_timeout), *todo]
        # stdout (the JSON steps) and stderr (dumps) both go to the log; the steps are read back from it
        result = _run("import", cmd, work, _env(work), log, settings.limits(), deadline)
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        stuck = read_import_steps(text, work, result, import_timeout, problems)
        if stuck is None or result.returncode == 0:
            break
        fatal = True
        todo = todo[todo.index(stuck) + 1 :] if stuck in todo else []
        if result.timed_out or time.monotonic() >= deadline:
            break
        log.unlink(missing_ok=True)
    return problems, fatal


# ---------------------------------------------------------------------------------------------- tests


def _merge_test_events(events: list[dict], records: dict[str, dict]) -> tuple[list[str], str | None, bool]:
    """Fold the plugin's events into ``records`` (nodeid -> record); returns (collected, running, finished)."""
    collected: list[str] = []
    running = None
    finished = False
    for ev in events:
        if "collected" in ev:
            collected = ev["collected"]
        elif "start" in ev:
            running = ev["start"]
            records.setdefault(running, {"nodeid": running, "outcome": "passed"})
        elif "session" in ev:
            finished = True
        elif ev.get("when") == "collect":
            records.setdefault("collect:" + ev["nodeid"], {"nodeid": ev["nodeid"], "outcome": "error", "error": ev.get("error", "")[-1500:], "when": "collect"})
        elif "nodeid" in ev:
            rec = records.setdefault(ev["nodeid"], {"nodeid": ev["nodeid"], "outcome": "passed"})
            if ev["outcome"] == "failed":
                rec["outcome"] = "failed" if ev["when"] == "call" else "error"
                for key in ("error", "timeout", "delegation", "not_implemented", "where"):
                    if ev.get(key) and not rec.get(key):
                        rec[key] = ev[key]
                rec["when"] = ev["when"]
            elif ev["outcome"] == "skipped" and rec["outcome"] == "passed":
                rec["outcome"] = "skipped"
                rec["reason"] = ev.get("reason", "")
            if ev["when"] == "teardown" and running == ev["nodeid"]:
                running = None
    return collected, running, finished


def run_tests(work: Path, ex_id: str, rules: list[dict], settings: Settings, logs: Path, deadline: float) -> tuple[list[dict], list[str], bool, int]:
    """Run the exercise's tests; returns (records, hung test ids, wall limit reached, leftovers killed)."""
    files = [str(p.relative_to(work)) for p in exercise_test_files(work / "tests", ex_id)]
    events_file = logs / f"{ex_id}.events.jsonl"
    log = logs / f"{ex_id}.pytest.log"
    for path in (events_file, log):
        path.unlink(missing_ok=True)
    extra = {
        "MINICNN_GRADING_EVENTS": str(events_file),
        "MINICNN_GRADING_TEST_TIMEOUT": str(settings.test_timeout),
        "MINICNN_GRADING_SEED": str(settings.seed),
    }
    if rules:
        extra["MINICNN_GRADING_DELEGATION"] = json.dumps({"exercise": ex_id, "rules": rules})
    records: dict[str, dict] = {}
    hung: list[str] = []
    done: set[str] = set()
    leftovers = 0
    wall = False
    collected: list[str] = []
    for _attempt in range(50):
        cmd = [settings.python, "-m", "pytest", *files, "-m", ex_id, "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
               "-p", "minicnn.teaching.grading_plugin", "-o", "addopts=", "-W", "ignore", "--color=no", "-rN",
               "--continue-on-collection-errors",
               "--tb=short", *[f"--deselect={n}" for n in sorted(done)]]  # fmt: skip
        start_len = len(_events(events_file))
        result = _run("tests", cmd, work, _env(work, extra), log, settings.limits(), deadline)
        leftovers += result.leftovers_killed
        events = _events(events_file)[start_len:]
        new_collected, running, finished = _merge_test_events(events, records)
        collected = collected or new_collected
        done.update(n for n in records if not n.startswith("collect:"))
        if finished or running is None:
            if not finished and not events and not result.timed_out:
                records["collect:pytest"] = {"nodeid": "pytest", "outcome": "error", "when": "collect",
                                             "error": "pytest did not start: " + _tail(log)}  # fmt: skip
            if result.timed_out:
                wall = True
            break
        # a test was running when the process ended: it hung (per-test hard stop) or hit the wall limit
        rec = records[running]
        rec["outcome"] = "failed"
        rec["timeout"] = True
        rec["where"] = culprit(_tail(log, 60), work) or rec.get("where")
        if result.timed_out:
            rec["error"] = f"hung: still running when the exercise's wall limit ({settings.wall_limit:g} s) passed"
            wall = True
        elif result.returncode in (0, 1, 2, 3, 4, 5) or "Timeout" in _tail(log, 80):
            rec["error"] = f"hung: still running {settings.test_timeout:g} s after it started (per-test timeout)"
        else:
            rec["error"] = f"the test process died (exit code {result.returncode})"
        hung.append(running)
        done.add(running)
        if time.monotonic() >= deadline:
            wall = True
            break
    why = "not run: the exercise's wall limit passed" if wall else "not run: pytest ended before it"
    for nodeid in collected:
        if nodeid not in records:
            records[nodeid] = {"nodeid": nodeid, "outcome": "failed", "error": why, "not_run": True}
    for rec in records.values():
        if rec.get("timeout") and rec["nodeid"] not in hung:
            hung.append(rec["nodeid"])
    return list(records.values()), hung, wall, leftovers


def _tail(path: Path, n: int = 5) -> str:
    if not path.exists():
        return ""
    lines = [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    return "\n".join(lines[-n:])


# --------------------------------------------------------------------------------------------- probes


def _import_check_failed(tree: Path, modules: list[str], settings: Settings, prefix: Path, log: Path,
                         result: sandbox.RunResult, deadline: float, imports: dict | None) -> bool:  # fmt: skip
    """Read the import check at the start of the probes' log into ``imports``; True when a module hung or
    crashed the interpreter (the modules after it are then checked in a process of their own)."""
    imports = imports if imports is not None else {}
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    stuck = read_import_steps(text, tree, result, _import_timeout(settings), imports)
    if stuck is None:
        return False
    rest = modules[modules.index(stuck) + 1 :] if stuck in modules else []
    if rest and not result.timed_out and time.monotonic() < deadline:
        imports.update(check_imports(tree, rest, settings, Path(str(prefix) + ".import.log"), deadline)[0])
    return True


def _probe_stopped(tree: Path, log: Path, result: sandbox.RunResult, settings: Settings) -> str:
    """Status of the probe that was running when its process ended (hung, or the process died)."""
    where = culprit(_tail(log, 60), tree)
    at = f" at {where}" if where else ""
    if result.timed_out:
        return f"error: hung{at}: still running when the exercise's wall limit passed"
    if "Timeout (" in _tail(log, 80):
        return f"error: hung{at}: still running {settings.test_timeout:g} s after it started"
    return f"error: the probe process died (exit code {result.returncode}){at}"


def run_probes(tree: Path, ex_id: str, prefix: Path, settings: Settings, deadline: float, rules: list[dict],
               modules: list[str] = (), imports: dict | None = None) -> tuple[dict, dict] | tuple[dict, dict, bool]:  # fmt: skip
    """Outputs and status of the hidden probes of one exercise over ``tree`` (sandboxed).

    Each probe has the per-test timeout; a probe that hangs or kills its process is reported (with the
    file and line it was running) and the probes after it run in a new process. With ``modules``, the
    same process first imports them one by one (the import check): their problems go to ``imports``, and
    when one hangs or crashes the interpreter the probes do not run and ``(arrays, status, True)`` is
    returned (``False`` otherwise).
    """
    probes_file = settings.probes_file or tree / PROBES_RELATIVE
    if not probes_file.exists() and not modules:
        return {}, {}
    extra = {"MINICNN_GRADING_DELEGATION": json.dumps({"exercise": ex_id, "rules": rules})} if rules else {}
    extra["MINICNN_GRADING_TEST_TIMEOUT"] = str(settings.test_timeout)
    log = Path(str(prefix) + ".log")
    log.unlink(missing_ok=True)
    arrays: dict = {}
    status: dict = {}
    todo: list[str] | None = None
    for _attempt in range(20):
        part = Path(f"{prefix}.part{_attempt}")
        cmd = [settings.python, str(RUNNER_FILE), str(probes_file), ex_id, str(part), str(settings.seed)]
        if todo is not None:
            cmd.append(",".join(todo))
        env = _env(tree, extra)
        if modules and _attempt == 0:
            env.update(MINICNN_GRADING_IMPORTS=",".join(modules), MINICNN_GRADING_IMPORT_TIMEOUT=str(_import_timeout(settings)))
        result = _run("probes", cmd, tree, env, log, settings.limits(), deadline)
        if modules and _attempt == 0:
            if _import_check_failed(tree, modules, settings, prefix, log, result, deadline, imports):
                return {}, {}, True
            if not probes_file.exists():
                return {}, {}, False
        status_file = Path(str(part) + ".json")
        if not status_file.exists():
            status = status or {"*": "error: the probes did not start: " + _tail(log, 3)}
            break
        new = json.loads(status_file.read_text(encoding="utf-8"))
        if Path(str(part) + ".npz").exists():
            with np.load(str(part) + ".npz", allow_pickle=False) as data:
                arrays.update({k: data[k] for k in data.files})
        running = [name for name, state in new.items() if state == "running"]
        status.update({k: v for k, v in new.items() if v != "running" and not v.startswith("not run")})
        if not running:
            status.update({k: v for k, v in new.items() if k not in status})
            break
        status[running[0]] = _probe_stopped(tree, log, result, settings)
        todo = [k for k, v in new.items() if v.startswith("not run")]
        if not todo or result.timed_out or time.monotonic() >= deadline:
            for k in todo:
                status[k] = "not run: the exercise's wall limit passed"
            break
    return (arrays, status, False) if modules else (arrays, status)


def _show(value) -> str:
    """A value as Python prints it (``0.5``, not ``np.float64(0.5)``)."""
    return repr(value.item() if hasattr(value, "item") else value)


def outputs_match(student: np.ndarray, reference: np.ndarray, rtol: float = 1e-7, atol: float = 1e-12) -> tuple[bool, str]:
    """Compare one output: exact for integers, booleans and strings; floats to ``rtol`` (and ``atol`` times the
    largest magnitude of the expected output). The message gives expected vs got at the first difference."""
    if student.shape != reference.shape:
        return False, f"shape {student.shape}, expected {reference.shape}"
    if reference.dtype.kind in "biuUS" or student.dtype.kind in "US":
        if reference.dtype.kind in "biu" and student.dtype.kind in "biuf":
            same = np.array_equal(student.astype(np.float64), reference.astype(np.float64))
        else:
            same = np.array_equal(student, reference)
        if same:
            return True, ""
        bad = np.argwhere(np.asarray(student != reference).reshape(reference.shape)) if reference.ndim else [()]
        idx = tuple(int(i) for i in bad[0]) if len(bad) and reference.ndim else ()
        return False, f"at {list(idx) if idx else 'the value'}: expected {_show(reference[idx])}, got {_show(student[idx])}"
    if student.dtype.kind not in "biuf":
        return False, f"dtype {student.dtype}, expected numbers"
    ref = reference.astype(np.float64)
    stu = student.astype(np.float64)
    if not np.array_equal(np.isfinite(stu), np.isfinite(ref)) or not np.array_equal(np.isnan(stu), np.isnan(ref)):
        return False, "non-finite values (nan/inf) at other places than expected"
    finite = np.isfinite(ref)
    scale = float(np.max(np.abs(ref[finite]))) if finite.any() else 1.0
    tol = rtol * np.abs(ref) + atol * max(scale, 1e-300)
    bad = finite & (np.abs(stu - ref) > tol)
    if not bad.any():
        return True, ""
    idx = tuple(int(i) for i in np.argwhere(bad)[0]) if ref.ndim else ()
    rel = abs(stu[idx] - ref[idx]) / max(abs(ref[idx]), 1e-300)
    return False, (f"at {list(idx) if idx else 'the value'}: expected {_show(ref[idx])}, got {_show(stu[idx])} "
                   f"(relative error {rel:.2g}, tolerance rtol {rtol:g}); {int(bad.sum())} of {bad.size} values differ")  # fmt: skip


#: Outputs of a probe whose name starts with this are the function on the inputs of the visible tests.
VISIBLE_PREFIX = "visible"


def compare_probes(stu_arrays, stu_status, ref_arrays, ref_status, rtol=1e-7, atol=1e-12) -> dict:
    """Per probe: ``match``, ``gamed: ...``, or why not. Mismatches name the smallest output that differs first.

    A probe may return some outputs under names starting with ``visible`` (:data:`VISIBLE_PREFIX`): the
    function on the inputs of the visible tests. When all of those match and an output on new inputs (same
    shapes and parameters, values drawn at grading time) does not, the function answers exactly what it was
    tested on and nothing else: the verdict is ``gamed: ...`` (special-casing the visible inputs).
    """
    result = {}
    for name, ref_state in ref_status.items():
        if ref_state != "ok":
            result[name] = f"skipped (reference {ref_state})"
            continue
        state = stu_status.get(name, stu_status.get("*", "error: not run"))
        if state != "ok":
            result[name] = state
            continue
        keys = sorted((k for k in ref_arrays if k.startswith(name + "/")), key=lambda k: (ref_arrays[k].size, k))
        problems = []
        for key in keys:
            short = key.split("/", 1)[1]
            if key not in stu_arrays:
                problems.append(f"{short} missing")
                continue
            same, why = outputs_match(stu_arrays[key], ref_arrays[key], rtol, atol)
            if not same:
                problems.append(f"{short}: {why}")
        visible = [k for k in keys if k.split("/", 1)[1].startswith(VISIBLE_PREFIX)]
        new_inputs = [p for p in problems if not p.startswith(VISIBLE_PREFIX)]
        if not problems:
            result[name] = "match"
        elif visible and len(new_inputs) == len(problems):
            result[name] = ("gamed: right on the visible tests' inputs, wrong on new inputs of the same shape: "
                            + "; ".join(new_inputs))  # fmt: skip
        else:
            result[name] = "mismatch: " + "; ".join(problems)
    return result


class ReferenceProbes:
    """Outputs of the probes over the solution edition, computed once per exercise and seed (thread-safe)."""

    def __init__(self, settings: Settings, folder: Path):
        self.settings = settings
        self.folder = folder
        self._cache: dict[str, tuple[dict, dict]] = {}
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def get(self, ex_id: str) -> tuple[dict, dict]:
        with self._lock:
            lock = self._locks.setdefault(ex_id, threading.Lock())
        with lock:
            if ex_id not in self._cache:
                self.folder.mkdir(parents=True, exist_ok=True)
                ref = self.settings.reference
                deadline = time.monotonic() + max(self.settings.wall_limit, 120.0)
                meter, _METER.cpu = getattr(_METER, "cpu", None), None  # not the student's exercise
                try:
                    self._cache[ex_id] = run_probes(ref, ex_id, self.folder / ex_id, self.settings, deadline, [])
                finally:
                    _METER.cpu = meter
            return self._cache[ex_id]


# -------------------------------------------------------------------------------------------- scoring


def score_exercise(g: ExerciseGrade, pol: ExercisePolicy, delegation_policy: str, gamed_policy: str = "zero",
                   blank_passes: frozenset = frozenset()) -> None:  # fmt: skip
    """Fill ``points``, ``max_points``, ``score``, ``groups`` of ``g`` from its tests and probes.

    Checks in ``blank_passes`` (test node ids and probe names that pass on the blank edition) are not counted:
    they earn nothing. ``g.delegation`` scores 0 under ``delegation_policy == "zero"``, any other ``g.gamed``
    under ``gamed_policy == "zero"``.
    """
    groups = {grp.name: {"points": grp.points, "passed": 0, "failed": 0, "skipped": 0, "earned": 0.0} for grp in pol.groups}
    for rec in g.tests:
        grp = pol.group_of_test(rec["nodeid"])
        if grp is None:
            continue
        if rec["nodeid"] in blank_passes:
            groups[grp.name]["blank"] = groups[grp.name].get("blank", 0) + 1
            continue
        key = "passed" if rec["outcome"] == "passed" else "skipped" if rec["outcome"] == "skipped" else "failed"
        groups[grp.name][key] += 1
    for name, verdict in g.probes.items():
        grp = pol.group_of_probe(name)
        if grp is None:
            continue
        if "probe:" + name in blank_passes:
            groups[grp.name]["blank"] = groups[grp.name].get("blank", 0) + 1
            continue
        key = "passed" if verdict == "match" else "skipped" if verdict.startswith("skipped") else "failed"
        groups[grp.name][key] += 1
    earned = maximum = 0.0
    for grp in pol.groups:
        entry = groups[grp.name]
        counted = entry["passed"] + entry["failed"]
        if counted == 0:
            entry["status"] = "not graded"
            continue
        fraction = entry["passed"] / counted
        if grp.all_or_nothing:
            fraction = float(fraction == 1.0)
        entry["earned"] = round(grp.points * fraction, 4)
        earned += entry["earned"]
        maximum += grp.points
    g.groups = groups
    if maximum == 0:
        g.score, g.points, g.max_points = None, 0.0, pol.points
        return
    g.max_points = pol.points
    if (g.delegation and delegation_policy == "zero") or (g.gamed and not g.delegation and gamed_policy == "zero"):
        g.score, g.points = 0.0, 0.0
        return
    g.score = round(100.0 * earned / maximum, 1)
    g.points = round(pol.points * earned / maximum, 2)


def _first_failure(g: ExerciseGrade) -> dict | None:
    """The check to show first in the feedback: a delegation or hang, else the smallest differing probe
    output, else the first failing test that is not merely "not implemented", else the first failure."""
    if g.import_problems:
        module, text = next(iter(g.import_problems.items()))
        return {"check": f"import {module}", "detail": text}
    failing = [r for r in g.tests if r["outcome"] in ("failed", "error")]
    for rec in failing:
        if rec.get("delegation"):
            return {"check": rec["nodeid"], "detail": rec["delegation"]}
    for name, verdict in g.probes.items():
        if verdict.startswith("gamed: "):
            return {"check": f"hidden check {name} (visible inputs, then new random inputs)", "detail": verdict[len("gamed: "):]}
    for rec in failing:
        if rec.get("timeout"):
            return {"check": rec["nodeid"], "detail": rec.get("error", "hung") + (f" (at {rec['where']})" if rec.get("where") else "")}
    for name, verdict in g.probes.items():
        if verdict.startswith("mismatch"):
            return {"check": f"hidden check {name} (random inputs)", "detail": verdict[len("mismatch: "):].split("; ")[0]}
    written = [r for r in failing if not r.get("not_implemented")]
    for rec in written or failing:
        return {"check": rec["nodeid"], "detail": (rec.get("error") or "failed")[:2500]}
    for name, verdict in g.probes.items():
        if verdict != "match" and not verdict.startswith("skipped"):
            return {"check": f"hidden check {name}", "detail": verdict}
    return None


def _hint(regions: list[Region], failure: dict | None) -> str:
    """The hint of the region the failure names (its function), else of the exercise's first region."""
    if not regions:
        return ""
    text = json.dumps(failure or {})
    for r in regions:
        name = (r.function or "").split(".")[-1]
        if name and name in text and r.hint:
            return f"{r.location}: {r.hint}"
    r = regions[0]
    return f"{r.location}: {r.hint}" if r.hint else r.location


def _status(g: ExerciseGrade) -> str:
    if g.import_problems:
        first = next(iter(g.import_problems.items()))
        return f"does not import: {first[0]}: {first[1]}"
    if g.gamed:
        return f"gamed: {g.gamed}"
    notes = []
    if g.wall_limit_reached:
        notes.append("wall limit reached")
    if g.hung:
        notes.append(f"{len(g.hung)} check{'s' if len(g.hung) > 1 else ''} hung ({g.hung[0]})")
    if g.score is None:
        notes.insert(0, "not graded: every check was skipped" if not g.tests_blank else
                     "not graded: every check was skipped or passes on the blank edition")  # fmt: skip
    elif g.tests_not_implemented and g.tests_not_implemented == g.tests_failed and not g.probes_matched:
        notes.insert(0, "not implemented")
    elif g.score == 100.0:
        notes.insert(0, "complete")
    elif g.score == 0.0:
        notes.insert(0, "failing")
    else:
        notes.insert(0, "partly correct")
    return "; ".join(notes)


# ------------------------------------------------------------------------------------------- grading


def _run_checks(work: Path, ex_id: str, files: list[str], settings: Settings, logs: Path,
                references: ReferenceProbes) -> dict:  # fmt: skip
    """Import check, tests and hidden probes of one exercise over its tree ``work``: the raw results."""
    start = time.monotonic()
    deadline = start + settings.wall_limit
    pol = settings.policy.exercise(ex_id)
    cpu: dict = {}
    _METER.cpu = cpu
    raw = {"tests": [], "hung": [], "wall_limit_reached": False, "leftovers_killed": 0, "probes": {},
           "import_problems": {}, "fatal": False, "cpu": cpu, "logs": str(logs)}  # fmt: skip
    try:
        rules = [
            {**rule.as_dict(), "guard": [str(work / p) if p.endswith(".py") else p for p in rule.guard]}
            for rule in pol.delegation
        ]
        modules = [module_name(rel) for rel in files if is_package_module(work, rel)]
        ref_arrays, ref_status = references.get(ex_id)
        # the probes' process first imports the exercise's modules one by one (the import check)
        probed = run_probes(work, ex_id, logs / f"{ex_id}-probes", settings, deadline, rules, modules, raw["import_problems"])
        stu_arrays, stu_status = probed[:2]
        raw["fatal"] = bool(modules) and probed[2]
        if raw["fatal"]:
            raw["tests"] = [{"nodeid": f"import {m}", "outcome": "failed", "error": t} for m, t in raw["import_problems"].items()]
            raw["wall_limit_reached"] = time.monotonic() >= deadline
        else:  # a module whose import raises: the tests that need it fail, and say why
            raw["probes"] = compare_probes(stu_arrays, stu_status, ref_arrays, ref_status, pol.rtol, pol.atol)
            if time.monotonic() < deadline:
                raw["tests"], raw["hung"], raw["wall_limit_reached"], raw["leftovers_killed"] = run_tests(
                    work, ex_id, rules, settings, logs, deadline)
            else:
                raw["wall_limit_reached"] = True
                raw["tests"] = [{"nodeid": f"tests of {ex_id}", "outcome": "failed", "error": "not run: the exercise's wall limit passed",
                                 "not_run": True}]  # fmt: skip
    finally:
        _METER.cpu = None
    raw["seconds"] = round(time.monotonic() - start, 2)
    return raw


def content_key(versions: dict[str, tuple[bytes, str]]) -> str:
    """SHA-256 of the exercise files a tree gets (paths and bytes, :func:`student_version`): equal keys grade
    the same."""
    digest = hashlib.sha256()
    for rel in sorted(versions):
        digest.update(rel.encode("utf-8") + b"\0" + hashlib.sha256(versions[rel][0]).digest())
    return digest.hexdigest()


def _graded_tree(student: Path, ex_id: str, files: list[str], versions: dict, settings: Settings, work: Path,
                 logs: Path, references: ReferenceProbes, skip: list[Path]) -> dict:  # fmt: skip
    """Build the exercise's tree (the solution edition + ``versions``), run its checks, remove the tree."""
    copy_reference(settings.reference, work, settings.tests, skip=skip)
    place_student_files(student, settings.reference, work, files, versions)
    try:
        return _run_checks(work, ex_id, files, settings, logs, references)
    finally:
        if not settings.keep_work:
            shutil.rmtree(work, ignore_errors=True)


def reference_key(settings: Settings) -> str:
    """SHA-256 of what grades: the solution edition's files (as copied into a tree), the seed and the limits."""
    digest = hashlib.sha256(json.dumps([settings.seed, settings.test_timeout, settings.wall_limit, settings.cpu_limit,
                                        settings.memory_mb, settings.policy.source, settings.python]).encode())  # fmt: skip
    roots = [(settings.reference, "")] + ([(settings.tests, "tests/")] if settings.tests else [])
    for root, prefix in roots:
        for path in sorted(Path(root).rglob("*")):
            rel = path.relative_to(root).as_posix()
            parts = rel.split("/")
            if any(p in EXCLUDED_DIRS for p in parts) or rel.endswith(EXCLUDED_SUFFIXES) or not path.is_file():
                continue
            if settings.tests and not prefix and parts[0] == "tests":
                continue
            digest.update((prefix + rel).encode("utf-8") + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    if settings.probes_file:
        digest.update(settings.probes_file.read_bytes())
    return digest.hexdigest()


class GradeCache:
    """Results shared by the students of one run (thread-safe).

    - **Reuse**: an exercise whose files are byte-identical to one already graded in this run (same
      :func:`content_key`) gets that grading's results without running anything again.
    - **Blank baseline**: per exercise, the checks that pass on the blank edition (every region of the
      exercise replaced by its stub). They earn nothing: a test that passes whatever the student writes
      tests nothing the student wrote. Computed once per exercise and run, and kept on disk in ``folder``
      under :func:`reference_key` (the solution edition's content, the seed and the limits), so a later run of
      the same commit with the same seed does not compute it again.
    """

    def __init__(self, folder: Path | None = None, blank_baseline: bool = True):
        self.folder = Path(folder) if folder else None
        self.blank_baseline = blank_baseline  # False: every check counts (tests of the grader's mechanics)
        self.hits = 0
        self.misses = 0
        self._results: dict[tuple[str, str], dict] = {}
        self._blank: dict[str, frozenset] = {}
        self._lock = threading.Lock()
        self._locks: dict = {}
        self._ref_key: str | None = None

    def _lock_for(self, key) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def _bind(self, settings: Settings) -> None:
        """A cache serves one solution edition, seed and set of limits: refuse any other."""
        what = (str(settings.reference), str(settings.tests), settings.seed, settings.policy.source,
                settings.test_timeout, settings.wall_limit, settings.probes_file and str(settings.probes_file))  # fmt: skip
        with self._lock:
            self._settings = getattr(self, "_settings", None) or what
        if self._settings != what:
            raise ValueError(f"GradeCache: made for {self._settings}, used with {what}: results would be mixed up")

    def checks(self, ex_id: str, key: str, compute, settings: Settings) -> tuple[dict, bool]:
        """The raw results of ``(ex_id, key)``: computed by ``compute()`` the first time; (results, reused)."""
        self._bind(settings)
        with self._lock_for((ex_id, key)):
            if (ex_id, key) in self._results:
                with self._lock:
                    self.hits += 1
                return self._results[(ex_id, key)], True
            raw = compute()
            with self._lock:
                self.misses += 1
                self._results[(ex_id, key)] = raw
            return raw, False

    def blank_passes(self, ex_id: str, files: list[str], settings: Settings, work_root: Path,
                     references: ReferenceProbes) -> frozenset:  # fmt: skip
        """Test node ids and ``probe:<name>`` of the checks of ``ex_id`` that pass on the blank edition."""
        if not self.blank_baseline:
            return frozenset()
        self._bind(settings)
        with self._lock_for(("blank", ex_id)):
            if ex_id in self._blank:
                return self._blank[ex_id]
            disk = None
            if self.folder is not None:
                with self._lock:
                    self._ref_key = self._ref_key or reference_key(settings)
                disk = self.folder / f"blank-{self._ref_key[:32]}-{ex_id}.json"
                if disk.is_file():
                    try:
                        self._blank[ex_id] = frozenset(json.loads(disk.read_text(encoding="utf-8"))["passes"])
                        return self._blank[ex_id]
                    except (ValueError, KeyError, OSError):
                        pass  # a damaged cache entry: compute it again
            nobody = work_root / "no-student"  # every exercise file "missing": graded as not written
            versions = {rel: student_version(nobody, settings.reference, rel) for rel in files}
            logs = work_root / "blank-logs"
            logs.mkdir(parents=True, exist_ok=True)
            raw, _ = self.checks(ex_id, content_key(versions), lambda: _graded_tree(
                nobody, ex_id, files, versions, settings, work_root / f"blank-{ex_id}", logs, references, [work_root]),
                settings)  # fmt: skip
            passes = {r["nodeid"] for r in raw["tests"] if r["outcome"] == "passed"}
            passes |= {"probe:" + k for k, v in raw["probes"].items() if v == "match"}
            self._blank[ex_id] = frozenset(passes)
            if disk is not None and not raw["wall_limit_reached"] and not raw["hung"]:
                try:
                    disk.parent.mkdir(parents=True, exist_ok=True)
                    write_text(disk, json.dumps({"exercise": ex_id, "reference_key": self._ref_key,
                                                 "passes": sorted(passes)}, indent=1))  # fmt: skip
                except OSError:
                    pass  # a cache that cannot be written is only slower
            return self._blank[ex_id]


def default_cache_folder() -> Path | None:
    """``$MINICNN_GRADING_CACHE`` (``off``: no disk cache), else ``~/.cache/minicnn/grading``."""
    value = os.environ.get("MINICNN_GRADING_CACHE", "")
    if value.lower() in ("off", "0", "none"):
        return None
    return Path(value) if value else Path.home() / ".cache" / "minicnn" / "grading"


def grade_exercise(student: Path, ex_id: str, regions: list[Region], settings: Settings, work_root: Path, logs: Path,
                   references: ReferenceProbes, cache: GradeCache | None = None) -> ExerciseGrade:  # fmt: skip
    """Grade one exercise of one student (see the module docstring)."""
    start = time.monotonic()
    cache = cache if cache is not None else GradeCache(default_cache_folder())
    pol = settings.policy.exercise(ex_id)
    g = ExerciseGrade(exercise=ex_id, functions=sorted({r.location for r in regions}), max_points=pol.points)
    files = exercise_files(regions)[ex_id]
    blank = cache.blank_passes(ex_id, files, settings, work_root, references)
    versions = {rel: student_version(student, settings.reference, rel) for rel in files}
    g.files = {rel: note for rel, (_, note) in versions.items()}
    raw, g.reused = cache.checks(ex_id, content_key(versions), lambda: _graded_tree(
        student, ex_id, files, versions, settings, work_root / f"tree-{ex_id}", logs, references, [work_root, student]),
        settings)  # fmt: skip
    g.tests = [dict(r) for r in raw["tests"]]
    g.hung = list(raw["hung"])
    g.wall_limit_reached, g.leftovers_killed = raw["wall_limit_reached"], raw["leftovers_killed"]
    g.probes, g.import_problems = dict(raw["probes"]), dict(raw["import_problems"])
    if g.reused:
        g.logs = raw["logs"]
    else:
        g.cpu = dict(raw["cpu"])
    g.tests_total = sum(r["outcome"] != "skipped" for r in g.tests)
    g.tests_passed = sum(r["outcome"] == "passed" for r in g.tests)
    g.tests_skipped = sum(r["outcome"] == "skipped" for r in g.tests)
    g.tests_failed = g.tests_total - g.tests_passed
    g.tests_not_implemented = sum(bool(r.get("not_implemented")) for r in g.tests)
    g.tests_blank = sum(r["nodeid"] in blank for r in g.tests)
    counted = {k: v for k, v in g.probes.items() if not v.startswith("skipped")}
    g.probes_total = len(counted)
    g.probes_matched = sum(v == "match" for v in counted.values())
    delegations = [r["delegation"] for r in g.tests if r.get("delegation")]
    delegations += [v[len("delegation: "):] for v in g.probes.values() if v.startswith("delegation: ")]
    g.delegation = delegations[0] if delegations else ""
    special = [f"{k}: {v[len('gamed: '):]}" for k, v in g.probes.items() if v.startswith("gamed: ")]
    g.gamed = g.delegation or (special[0] if special else "")
    g.hung += [f"hidden check {k}" for k, v in g.probes.items() if v.startswith("error: hung")]
    score_exercise(g, pol, settings.policy.delegation, settings.policy.gamed, blank)
    if raw["fatal"]:
        g.score, g.points = 0.0, 0.0
    g.first_failure = _first_failure(g) if (g.score or 0.0) < 100.0 else None
    g.hint = _hint(regions, g.first_failure) if g.first_failure else ""
    g.status = _status(g)
    g.seconds = round(time.monotonic() - start, 2)
    g.cpu_seconds = round(sum(g.cpu.values()), 2)
    return g


def make_settings(reference: Path = REFERENCE_ROOT, tests: Path | None = None, policy_file: Path | None = None,
                  known: list[str] | None = None, seed: int | None = None, test_timeout: float | None = None,
                  wall_limit: float | None = None, python: str = sys.executable, keep_work: bool = False,
                  probes_file: Path | None = None) -> Settings:  # fmt: skip
    """Settings from ``grading.toml`` of ``reference`` overridden by the given values."""
    reference = Path(reference).resolve()
    policy = load_policy(reference, known=known, path=policy_file)
    return Settings(
        reference=reference,
        tests=Path(tests).resolve() if tests else None,
        policy=policy,
        seed=int(seed) if seed is not None else secrets.randbits(31),
        test_timeout=float(test_timeout if test_timeout is not None else policy.test_timeout),
        wall_limit=float(wall_limit if wall_limit is not None else policy.wall_limit),
        cpu_limit=int(policy.cpu_limit),
        memory_mb=int(policy.memory_mb),
        python=python,
        keep_work=keep_work,
        probes_file=Path(probes_file).resolve() if probes_file else None,
    )


def select_exercises(reference: Path, only: list[str] | None) -> dict[str, list[Region]]:
    """Exercise id -> regions of the solution edition (``only`` those ids; unknown ids are an error)."""
    by_ex = group_regions(check(reference))
    if only:
        unknown = sorted(set(only) - set(by_ex))
        if unknown:
            raise ReleaseError(f"unknown exercise(s) {', '.join(unknown)}; known: {', '.join(by_ex)}")
        by_ex = {k: v for k, v in by_ex.items() if k in only}
    return by_ex


def grade(
    student: Path,
    out: Path,
    reference: Path = REFERENCE_ROOT,
    tests: Path | None = None,
    only: list[str] | None = None,
    python: str = sys.executable,
    timeout: float | None = None,
    progress: bool = True,
    *,
    settings: Settings | None = None,
    test_timeout: float | None = None,
    seed: int | None = None,
    policy_file: Path | None = None,
    probes_file: Path | None = None,
    references: ReferenceProbes | None = None,
    keep_work: bool = False,
    exercises: dict[str, list[Region]] | None = None,
    cache: GradeCache | None = None,
) -> dict:
    """Grade one student's edition; writes ``grade.json``, ``grade.csv``, ``feedback.md``/``.html`` and ``logs/``.

    Parameters
    ----------
    student : path
        The student's edition (a folder released by ``python -m minicnn.teaching release``).
    out : path
        Folder for the reports (created).
    reference : path
        The solution edition (its regions say which exercises exist and where; its tests grade).
    tests : path, optional
        Tests to run instead of ``reference/tests``.
    only : list of str, optional
        Exercise ids to grade (default all).
    timeout : float, optional
        Wall limit of one exercise in seconds (default ``grading.toml``'s ``wall_limit``, 300).
    test_timeout : float, optional
        Seconds per test (default ``grading.toml``'s ``test_timeout``, 60).
    seed : int, optional
        Seed of the hidden probes' inputs (default: drawn now; recorded in ``grade.json``).
    probes_file : path, optional
        Hidden probes (default ``tests/hidden/probes.py`` of the solution edition).
    cache : GradeCache, optional
        Results shared with other students of the same run (class mode); default: a new one whose blank
        baseline is kept in :func:`default_cache_folder`.

    Returns
    -------
    dict
        The content of ``grade.json``.
    """
    student, out = Path(student).resolve(), Path(out).resolve()
    if not student.is_dir():
        raise ReleaseError(f"student edition {student} is not a folder")
    if settings is None:
        by_ex_all = group_regions(check(Path(reference)))
        settings = make_settings(reference, tests, policy_file, list(by_ex_all), seed, test_timeout, timeout, python,
                                 keep_work, probes_file)  # fmt: skip
    by_ex = exercises if exercises is not None else select_exercises(settings.reference, only)
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    references = references or ReferenceProbes(settings, out / "reference-probes")
    cache = cache if cache is not None else GradeCache(default_cache_folder())
    work_root = out / "work"
    grades: list[ExerciseGrade] = []
    for ex_id, regs in by_ex.items():
        g = grade_exercise(student, ex_id, regs, settings, work_root, logs, references, cache)
        grades.append(g)
        if progress:
            shown = "not graded" if g.score is None else f"{g.points:g}/{g.max_points:g}"
            cost = "reused" if g.reused else f"{g.cpu_seconds:.1f} CPU-s"
            print(f"  graded {ex_id}: {shown}  ({g.seconds:.1f} s, {cost}) {g.status}", file=sys.stderr, flush=True)
    if not settings.keep_work:
        shutil.rmtree(work_root, ignore_errors=True)
    return _write_reports(student, out, settings, grades)


def _write_reports(student: Path, out: Path, settings: Settings, grades: list[ExerciseGrade]) -> dict:
    """``grade.json``, ``grade.csv`` and ``feedback.md``/``.html`` of one student; returns grade.json's content."""
    from minicnn.teaching.feedback import write_feedback

    graded = [g for g in grades if g.score is not None]
    total = round(sum(g.points for g in graded), 2)
    maximum = round(sum(g.max_points for g in graded), 2)
    payload = {
        "student": str(student),
        "reference": str(settings.reference),
        "seed": settings.seed,
        "policy": settings.policy.source,
        "reused_exercises": sum(g.reused for g in grades),
        "cpu_seconds": round(sum(g.cpu_seconds for g in grades), 1),
        "limits": {"test_timeout": settings.test_timeout, "wall_limit": settings.wall_limit,
                   "cpu_limit": settings.cpu_limit, "memory_mb": settings.memory_mb,
                   "network": sandbox.network_isolation()},  # fmt: skip
        "total_points": total,
        "max_points": maximum,
        "total_score": round(100.0 * total / maximum, 1) if maximum else None,
        "import_errors": {m: t for g in grades for m, t in g.import_problems.items()},
        "exercises": {g.exercise: asdict(g) for g in grades},
    }
    write_text(out / "grade.json", json.dumps(payload, indent=1))
    rows = [["exercise", "points", "max_points", "score", "tests_passed", "tests_counted", "tests_skipped",
             "probes_matched", "probes_counted", "status"]]  # fmt: skip
    for g in grades:
        rows.append([g.exercise, f"{g.points:g}", f"{g.max_points:g}", "" if g.score is None else f"{g.score:.1f}",
                     g.tests_passed, g.tests_total, g.tests_skipped, g.probes_matched, g.probes_total, g.status])  # fmt: skip
    _write_csv(out / "grade.csv", rows)
    write_feedback(payload, out / "feedback")
    return payload


def _write_csv(path: Path, rows: list[list]) -> None:
    atomic_write(path, lambda fh: csv.writer(fh).writerows(rows), mode="w", newline="")


def format_table(payload: dict) -> str:
    """The score table printed by ``python -m minicnn.teaching grade``."""
    head = f"{'exercise':<9} {'points':>11} {'tests':>7} {'skip':>4} {'hidden':>7}  status"
    lines = [head, "-" * len(head)]
    for ex_id, g in payload["exercises"].items():
        pts = "not graded" if g["score"] is None else f"{g['points']:g}/{g['max_points']:g}"
        tests = f"{g['tests_passed']}/{g['tests_total']}"
        probes = f"{g['probes_matched']}/{g['probes_total']}"
        status = g["status"] if len(g["status"]) < 70 else g["status"][:67] + "..."
        lines.append(f"{ex_id:<9} {pts:>11} {tests:>7} {g['tests_skipped']:>4} {probes:>7}  {status}")
    lines.append("-" * len(head))
    score = "" if payload["total_score"] is None else f"  ({payload['total_score']:.1f} %)"
    lines.append(f"{'total':<9} {payload['total_points']:g}/{payload['max_points']:g}{score}")
    return "\n".join(lines)
