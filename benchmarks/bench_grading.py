"""Grade a class of 30 student copies (blank, partial, complete, gamed) and time it.

    python benchmarks/bench_grading.py [--out /tmp/minicnn_bench_grading] [--only G02,G05,G10] [--workers 2]
        [--json benchmarks/results/grading_class.json]

Builds the copies from a fresh release of this repository (``tests/grading_editions.py``: the faults are
the ones the grader's tests use), zips a third of them, runs ``python -m minicnn.teaching grade CLASS
--workers N`` and writes ``results.json`` (wall time, CPU time of the grader and its children, the load
average, per-student totals, exercise gradings run and reused, the gradebook) next to the gradebook, and to
``--json`` when given. The gamed students: a report-rewriting conftest, a hard-coded notebook function,
delegation to the fast kernel, the three together, a crash and a hang at import, an endless loop in a
function, and two plain bugs (leaky ReLU ignoring alpha, Gini 0.1 % off). All exercises by default. Nothing
here is a timed assertion. Instructor only (the faults it plants name solution lines): left out of the
student edition.
"""

# teaching: hidden

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from grading_editions import make_copy  # noqa: E402

from minicnn.io import write_text  # noqa: E402
from minicnn.teaching.release import release  # noqa: E402


def class_plan(only: list[str]) -> list[tuple[str, list[str], list[str], bool]]:
    """(name, complete exercises, faults, conftest rewrite) of the 30 students, for the graded exercises."""
    plan = []
    for i in range(6):
        plan.append((f"blank{i:02d}", [], [], False))
    for i in range(8):
        plan.append((f"partial{i:02d}", only[: 1 + i % max(1, len(only) - 1)], [], False))
    for i in range(8):
        plan.append((f"complete{i:02d}", list(only), [], False))
    gamed = [([], True), (["hardcoded_notebook"], False), (["delegate_fast"], False),
             (["hardcoded_notebook", "delegate_fast"], True), (["crash_on_import"], False), (["loop_in_function"], False),
             (["loop_at_import"], False), (["leaky_alpha", "gini_off"], False)]  # fmt: skip
    for i in range(8):
        faults, conftest = gamed[i % len(gamed)]
        faults = [f for f in faults if _fault_exercise(f) in only]
        rest = [] if conftest else [e for e in only if not any(_fault_exercise(f) == e for f in faults)]
        plan.append((f"gamed{i:02d}", rest, faults, conftest))
    return plan


def build_class(out: Path, plan: list) -> Path:
    """``out/class``: the students of ``plan`` made from a fresh release, every third one as a zip file."""
    blank = out / "blank"
    release(REPO, blank, allow_dirty=True)
    classroom = out / "class"
    classroom.mkdir(parents=True)
    for index, (name, complete, faults, conftest) in enumerate(plan):
        copy = make_copy(blank, out / "copies" / name, complete=complete, faults=faults, conftest=conftest)
        if index % 3 == 0:
            with zipfile.ZipFile(classroom / f"{name}.zip", "w", zipfile.ZIP_DEFLATED) as zf:
                for path in copy.rglob("*"):
                    if path.is_file():
                        zf.write(path, Path(name) / path.relative_to(copy))
        else:
            shutil.copytree(copy, classroom / name)
    return classroom


def _by_group(summary: dict) -> dict:
    """Per kind of student (blank, partial, complete, gamed): count, min, median and max of the total."""
    groups: dict[str, list[float]] = {}
    for s in summary["students"]:
        kind = s["student_id"].rstrip("0123456789")
        groups.setdefault(kind, []).append(s["total_points"] if s["total_points"] is not None else float("nan"))
    return {k: {"students": len(v), "min": min(v), "median": statistics.median(v), "max": max(v)} for k, v in groups.items()}


def _fault_exercise(name: str) -> str:
    from grading_editions import FAULTS

    return FAULTS[name][0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "minicnn_bench_grading",
                        help="work folder (outside the repository: grading reports may not live inside it)")
    parser.add_argument("--only", default="", help="exercise ids (default: all)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--test-timeout", type=float, default=10.0)
    parser.add_argument("--wall-limit", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    from minicnn.teaching.grade import select_exercises

    only = args.only.split(",") if args.only else list(select_exercises(REPO, None))
    out = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    plan = class_plan(only)
    classroom = build_class(out, plan)
    grades = out / "grades"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()
    start = time.monotonic()
    cmd = [sys.executable, "-m", "minicnn.teaching", "grade", str(classroom), "--out", str(grades), "--only", ",".join(only),
           "--workers", str(args.workers), "--seed", str(args.seed), "--test-timeout", str(args.test_timeout),
           "--wall-limit", str(args.wall_limit)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = json.loads((grades / "class.json").read_text())
    results = {
        "commit": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True).stdout.strip(),  # fmt: skip
        "students": len(plan),
        "exercises": only,
        "workers": args.workers,
        "test_timeout": args.test_timeout,
        "wall_limit": args.wall_limit,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "load_average_before": [round(v, 1) for v in load],
        "load_average_after": [round(v, 1) for v in os.getloadavg()],
        "returncode": proc.returncode,
        "exercise_gradings": summary.get("exercise_gradings"),
        "reused_gradings": summary.get("reused_gradings"),
        "gradebook": {row[0]: row[1:] for row in csv.reader((grades / "gradebook.csv").open())},
        "by_group": _by_group(summary),
        "plan": {name: {"complete": c, "faults": f, "conftest": k} for name, c, f, k in plan},
        "totals": {s["student_id"]: s["total_points"] for s in summary["students"]},
        "seconds_per_student": {s["student_id"]: s["seconds"] for s in summary["students"]},
    }
    (out / "results.json").write_text(json.dumps(results, indent=1))
    if args.json:
        write_text(args.json, json.dumps(results, indent=1))
    print(json.dumps({k: v for k, v in results.items() if k not in ("plan", "seconds_per_student")}, indent=1))
    print((grades / "gradebook.csv").read_text())
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
