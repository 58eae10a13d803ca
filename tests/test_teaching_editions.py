"""Both editions of this repository: markers valid, the student edition clean and failing only where it should.

The solution edition (this tree) must pass every test and execute every notebook: that is the rest of
the suite (``tests/test_notebooks.py`` for the notebooks). Here the student edition is generated in a
temporary folder and its exercise-marked tests (``-m exercise``, only those, to keep CI time down) are run:
every failure must come from the ``NotImplementedError`` of a solution region, every exercise (with regions in a
module or only in a notebook) must have at least one failing test, and everything else must pass.
"""

# teaching: no-regions

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minicnn.teaching.regions import exercises
from minicnn.teaching.release import check, release

REPO = Path(__file__).resolve().parents[1]


def _solution_regions():
    regions = check(REPO)
    if not regions:
        pytest.skip("this is a student edition: its solution regions are already replaced")
    return regions


def test_repository_markers_are_valid_and_compile():
    regions = _solution_regions()
    for region in regions:
        # the student's message names the function and file; a region outside any function needs a hint
        assert region.hint or region.function, f"{region.location}: give the region a hint (text after the id)"


@pytest.mark.slow
def test_student_edition_fails_only_on_unimplemented_exercises(tmp_path):
    _solution_regions()
    report = release(REPO, tmp_path / "student")
    edition = report.out
    hidden = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "tests" / "hidden").rglob("*.py"))
    assert set(hidden) <= set(report.hidden)
    assert not any((edition / rel).exists() for rel in report.hidden)
    module_exercises = sorted({r.exercise for r in report.regions if r.path.endswith(".py")})
    assert set(exercises(report.regions)) >= set(module_exercises)

    env = dict(os.environ)
    env["PYTHONPATH"] = str(edition)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["MPLBACKEND"] = "Agg"
    for key in ("PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS"):
        env.pop(key, None)
    json_report = tmp_path / "student-report.json"
    cmd = [
        sys.executable, "-m", "pytest", "tests", "-m", "exercise and not notebook", "-q", "-p", "no:cacheprovider",
        "-o", "addopts=", "--teaching-report", str(json_report),
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=edition, env=env, capture_output=True, text=True, timeout=900)
    assert json_report.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    records = json.loads(json_report.read_text())["tests"]
    assert records, proc.stdout[-3000:]

    other_failures = [r for r in records if r["outcome"] in ("failed", "error") and not r["not_implemented"]]
    assert not other_failures, "failures not caused by an unimplemented exercise:\n" + "\n".join(
        f"{r['nodeid']}: {r['error']}" for r in other_failures[:20]
    )
    failing = {}
    for r in records:
        if r["not_implemented"]:
            for ex in r["exercises"] or [r["not_implemented"]]:
                failing.setdefault(ex, []).append(r["nodeid"])
    # every exercise, also those written only in a notebook (S01-S06, S08), needs a failing test
    without = [ex for ex in exercises(report.regions) if ex not in failing]
    assert not without, f"exercises without a failing test in the student edition: {without}"

    summary = {ex: len(nodes) for ex, nodes in sorted(failing.items())}
    passed = sum(r["outcome"] == "passed" for r in records)
    print(f"student edition: {len(records)} exercise tests, {passed} passed, failures per exercise: {summary}")
