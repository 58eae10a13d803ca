"""Grade a student's edition against the reference (solution) edition.

For each exercise (each id that has solution regions in the reference):

1. **tests**: a work tree is assembled in ``OUT/work``: the student's tree with its ``tests/`` replaced by
   the reference's (hidden tests included), so tests that read files next to them read the student's. The
   tests marked with the exercise run in a subprocess, ``python -m pytest <test files that mention the id>
   -m <id>``, with the work tree first on ``sys.path`` (working folder and ``PYTHONPATH``); the teaching
   plugin's JSON report gives passed / failed / not implemented per test;
2. **probes**: the functions of the exercise run on fixed random inputs in a subprocess over the student's
   tree and in one over the reference, and their outputs are compared (``probes.py`` holds them).

The score of an exercise is the mean of the fraction of tests passed and the fraction of probes that
match (only the parts that exist). A student edition that does not even import still gets a report:
the import error is recorded and every test counts as failed.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from minicnn.io import atomic_write, write_text
from minicnn.teaching.regions import EXCLUDED_DIRS, EXCLUDED_SUFFIXES
from minicnn.teaching.regions import exercises as group_regions
from minicnn.teaching.release import ReleaseError, check
from minicnn.teaching.selfcheck import exercise_test_files

#: Root of the reference edition this package belongs to (the repository).
REFERENCE_ROOT = Path(__file__).resolve().parents[2]
PROBES_FILE = Path(__file__).resolve().parent / "probes.py"
RUNNER_FILE = Path(__file__).resolve().parent / "probe_runner.py"


@dataclass
class ExerciseGrade:
    """Result of one exercise."""

    exercise: str
    functions: list[str] = field(default_factory=list)
    tests_total: int = 0
    tests_passed: int = 0
    tests_not_implemented: int = 0
    tests_failed: int = 0
    probes_total: int = 0
    probes_matched: int = 0
    score: float = 0.0
    status: str = ""
    tests: list[dict] = field(default_factory=list)
    probes: dict = field(default_factory=dict)
    seconds: float = 0.0


def _env(tree: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def _tail(text: str, n: int = 5) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:])


def import_errors(tree: Path, modules: list[str], python: str, timeout: float) -> dict[str, str]:
    """Modules of ``tree`` that fail to import, with the last lines of their error."""
    errors = {}
    code = (
        "import importlib, json, sys, traceback\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except BaseException as exc:\n"
        "        out[name] = ''.join(traceback.format_exception_only(type(exc), exc)).strip()[-400:]\n"
        "print(json.dumps(out))\n"
    )
    try:
        proc = subprocess.run(
            [python, "-c", code, *modules], cwd=tree, env=_env(tree), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {name: f"import timed out after {timeout:.0f} s" for name in modules}
    try:
        errors = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        errors = {name: "interpreter crashed: " + _tail(proc.stderr) for name in modules}
    return errors


def run_tests(tree: Path, tests: Path, exercise: str, report: Path, python: str, timeout: float) -> tuple[list[dict], str]:
    """Run the tests of one exercise against ``tree``; returns (records, problem or "")."""
    cmd = [
        python, "-m", "pytest", *map(str, exercise_test_files(tests, exercise)), "-m", exercise, "-q", "-p", "no:cacheprovider",
        "-p", "no:randomly", "--teaching-report", str(report), "-o", "addopts=", "-W", "ignore",
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, cwd=tree, env=_env(tree), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [], f"tests timed out after {timeout:.0f} s"
    (report.parent / f"{exercise}.pytest.log").write_text(proc.stdout + "\n" + proc.stderr, encoding="utf-8")
    if not report.exists():
        return [], f"pytest could not run (exit {proc.returncode}): " + _tail(proc.stdout + "\n" + proc.stderr, 3)
    return json.loads(report.read_text(encoding="utf-8"))["tests"], ""


def run_probes(tree: Path, exercise: str, prefix: Path, python: str, timeout: float, probes_file: Path):
    """Outputs and status of the probes of one exercise over ``tree``."""
    cmd = [python, str(RUNNER_FILE), str(probes_file), exercise, str(prefix)]
    try:
        proc = subprocess.run(cmd, cwd=prefix.parent, env=_env(tree), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {}, {"*": f"error: probes timed out after {timeout:.0f} s"}
    status_file = Path(str(prefix) + ".json")
    if proc.returncode != 0 or not status_file.exists():
        return {}, {"*": "error: " + _tail(proc.stderr, 3)}
    status = json.loads(status_file.read_text(encoding="utf-8"))
    with np.load(str(prefix) + ".npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return arrays, status


def outputs_match(student: np.ndarray, reference: np.ndarray) -> tuple[bool, str]:
    """Compare one output: exact for integers and booleans, close (rtol 1e-3) for floats."""
    if student.shape != reference.shape:
        return False, f"shape {student.shape} instead of {reference.shape}"
    if reference.dtype.kind in "biuUS":
        same = np.array_equal(student, reference)
        return same, "" if same else f"{int(np.sum(student != reference))} values differ"
    ref = reference.astype(np.float64)
    stu = student.astype(np.float64)
    scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size else 1.0
    if not np.all(np.isfinite(stu) == np.isfinite(ref)):
        return False, "non-finite values differ"
    finite = np.isfinite(ref)
    close = np.allclose(stu[finite], ref[finite], rtol=1e-3, atol=1e-5 * scale)
    if close:
        return True, ""
    err = float(np.max(np.abs(stu[finite] - ref[finite])))
    return False, f"max abs difference {err:.3g}"


def compare_probes(stu_arrays, stu_status, ref_arrays, ref_status) -> dict:
    """Per probe: 'match', or why not ('not implemented', 'error: ...', 'mismatch: key ...')."""
    result = {}
    for name, ref_state in ref_status.items():
        if ref_state != "ok":
            result[name] = f"skipped (reference {ref_state})"
            continue
        state = stu_status.get(name, stu_status.get("*", "error: not run"))
        if state != "ok":
            result[name] = state
            continue
        keys = [k for k in ref_arrays if k.startswith(name + "/")]
        problems = []
        for key in keys:
            if key not in stu_arrays:
                problems.append(f"{key.split('/', 1)[1]} missing")
                continue
            same, why = outputs_match(stu_arrays[key], ref_arrays[key])
            if not same:
                problems.append(f"{key.split('/', 1)[1]}: {why}")
        result[name] = "match" if not problems else "mismatch: " + "; ".join(problems)
    return result


def grade(
    student: Path,
    out: Path,
    reference: Path = REFERENCE_ROOT,
    tests: Path | None = None,
    probes_file: Path | None = None,
    only: list[str] | None = None,
    python: str = sys.executable,
    timeout: float = 900.0,
    progress: bool = True,
) -> dict:
    """Grade ``student`` against ``reference``; writes ``grade.csv``, ``grade.json`` and logs to ``out``.

    Parameters
    ----------
    student : path
        The student's edition (a folder released by ``python -m minicnn.teaching release``).
    out : path
        Folder for the reports (created).
    reference : path
        The solution edition; its solution regions say which exercises exist and where.
    tests : path, optional
        Tests to run (default ``reference/tests``, hidden tests included).
    probes_file : path, optional
        Probe definitions (default this package's ``probes.py``).
    only : list of str, optional
        Exercise ids to grade (default all).
    timeout : float
        Seconds allowed for the tests of one exercise and for its probes.

    Returns
    -------
    dict
        The content of ``grade.json``.
    """
    student, out, reference = Path(student).resolve(), Path(out).resolve(), Path(reference).resolve()
    tests = Path(tests).resolve() if tests else reference / "tests"
    probes_file = Path(probes_file).resolve() if probes_file else PROBES_FILE
    if not student.is_dir():
        raise ReleaseError(f"student edition {student} is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)

    by_ex = group_regions(check(reference))
    if only:
        unknown = sorted(set(only) - set(by_ex))
        if unknown:
            raise ReleaseError(f"unknown exercise(s) {', '.join(unknown)}; known: {', '.join(by_ex)}")
        by_ex = {k: v for k, v in by_ex.items() if k in only}

    modules = sorted(
        {module_name(r.path) for regs in by_ex.values() for r in regs if is_package_module(reference, r.path)}
    )
    work = out / "work"
    assemble_work_tree(student, tests, work)
    broken = import_errors(work, modules, python, timeout)

    grades: list[ExerciseGrade] = []
    for ex_id, regs in by_ex.items():
        start = time.perf_counter()
        g = ExerciseGrade(exercise=ex_id, functions=sorted({r.location for r in regs}))
        records, problem = run_tests(work, work / "tests", ex_id, logs / f"{ex_id}.json", python, timeout)
        g.tests = records
        g.tests_total = len(records)
        g.tests_passed = sum(r["outcome"] in ("passed", "skipped") for r in records)
        g.tests_not_implemented = sum(bool(r.get("not_implemented")) for r in records)
        g.tests_failed = g.tests_total - g.tests_passed
        notes = [problem] if problem else []
        ex_broken = sorted(
            m for m in broken if any(module_name(r.path) == m for r in regs)
        )
        notes += [f"import {m} failed: {broken[m]}" for m in ex_broken]

        ref_arrays, ref_status = run_probes(reference, ex_id, logs / f"{ex_id}-reference", python, timeout, probes_file)
        stu_arrays, stu_status = run_probes(work, ex_id, logs / f"{ex_id}-student", python, timeout, probes_file)
        g.probes = compare_probes(stu_arrays, stu_status, ref_arrays, ref_status)
        counted = {k: v for k, v in g.probes.items() if not v.startswith("skipped")}
        g.probes_total = len(counted)
        g.probes_matched = sum(v == "match" for v in counted.values())

        parts = []
        if g.tests_total:
            parts.append(g.tests_passed / g.tests_total)
        if g.probes_total:
            parts.append(g.probes_matched / g.probes_total)
        g.score = round(100.0 * float(np.mean(parts)), 1) if parts else 0.0
        if not g.tests_total and not problem:
            notes.append("no tests carry this exercise's marker")
        if g.tests_not_implemented and g.tests_not_implemented == g.tests_failed and not g.probes_matched:
            notes.insert(0, "not implemented")
        other = g.tests_failed - g.tests_not_implemented
        if other and not problem:
            notes.append(f"{other} test{'s' if other > 1 else ''} fail{'' if other > 1 else 's'} on a written function")
        if notes:
            g.status = "; ".join(notes)
        else:
            g.status = "complete" if g.score == 100.0 else ("failing" if g.score == 0.0 else "partly correct")
        g.seconds = round(time.perf_counter() - start, 2)
        grades.append(g)
        if progress:
            print(f"  graded {ex_id}: {g.score:5.1f}  ({g.seconds:.1f} s)", file=sys.stderr, flush=True)

    total = round(float(np.mean([g.score for g in grades])), 1) if grades else 0.0
    payload = {
        "student": str(student),
        "reference": str(reference),
        "total_score": total,
        "import_errors": broken,
        "exercises": {g.exercise: asdict(g) for g in grades},
    }
    write_text(out / "grade.json", json.dumps(payload, indent=1))
    rows = [
        "exercise,tests_passed,tests_total,tests_not_implemented,probes_matched,probes_total,score,status".split(",")
    ]
    for g in grades:
        rows.append(
            [g.exercise, g.tests_passed, g.tests_total, g.tests_not_implemented, g.probes_matched, g.probes_total,
             f"{g.score:.1f}", g.status]
        )  # fmt: skip
    atomic_write(out / "grade.csv", lambda fh: csv.writer(fh).writerows(rows), mode="w", newline="")
    return payload


def module_name(rel: str) -> str:
    """``minicnn/functional/dense.py`` -> ``minicnn.functional.dense``."""
    return rel[:-3].replace("/", ".").removesuffix(".__init__")


def is_package_module(root: Path, rel: str) -> bool:
    """True for a ``.py`` file inside a package (every folder up to the root has ``__init__.py``).

    Notebook sources and scripts are not imported by the grader's import check.
    """
    if not rel.endswith(".py"):
        return False
    parts = rel.split("/")[:-1]
    return bool(parts) and all((Path(root).joinpath(*parts[: i + 1]) / "__init__.py").exists() for i in range(len(parts)))


def _ignore_for_copy(folder, names):
    return [n for n in names if n in EXCLUDED_DIRS or n.endswith(EXCLUDED_SUFFIXES)]


def assemble_work_tree(student: Path, tests: Path, work: Path) -> None:
    """``work`` = the student's tree with its ``tests/`` replaced by the reference's (hidden ones included).

    Tests that read files relative to their own folder (notebooks, data) then read the student's files.
    """
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(student, work, ignore=_ignore_for_copy)
    if (work / "tests").exists():
        shutil.rmtree(work / "tests")
    shutil.copytree(tests, work / "tests", ignore=_ignore_for_copy)


def format_table(payload: dict) -> str:
    """The score table printed by ``python -m minicnn.teaching grade``."""
    head = f"{'exercise':<9} {'tests':>9} {'not impl':>8} {'probes':>7} {'score':>6}  status"
    lines = [head, "-" * len(head)]
    for ex_id, g in payload["exercises"].items():
        tests = f"{g['tests_passed']}/{g['tests_total']}"
        probes = f"{g['probes_matched']}/{g['probes_total']}"
        status = g["status"] if len(g["status"]) < 70 else g["status"][:67] + "..."
        lines.append(f"{ex_id:<9} {tests:>9} {g['tests_not_implemented']:>8} {probes:>7} {g['score']:>6.1f}  {status}")
    lines.append("-" * len(head))
    lines.append(f"{'total':<9} {'':>9} {'':>8} {'':>7} {payload['total_score']:>6.1f}")
    return "\n".join(lines)
