"""The student edition as a student sees it: every notebook of a blank edition runs up to its own exercises.

A blank student edition (every solution region a stub) is released once per test session into a shared
temporary folder. Each notebook is executed from its first cell, as "Run all" would: it must stop only at
one of its own exercises or at a prerequisite it declares (``minicnn.teaching.progress.PREREQUISITES``),
and the stop must be the one line of ``start_notebook`` ("S08 needs G09: ...; write it ..."), not a
traceback. Starting at S07, S08 or S09 works from the shipped checkpoint data (sample heatmaps, features,
slide labels). The wall-clock time of each notebook is printed (run with ``-s``) for the report.
"""

# teaching: no-regions

import fcntl
import os
import time
from pathlib import Path

import pytest

from minicnn.teaching.progress import PREREQUISITES, parse_message

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.relative_to(REPO).as_posix() for f in ("generic_exercises", "specific_exercises")
                   for p in (REPO / f).glob("[GS][0-9][0-9]_*.ipynb"))  # fmt: skip
#: S notebooks share the blank edition's synthetic cohort under runs/: one xdist worker runs them in order.
PARAMS = [
    pytest.param(rel, marks=pytest.mark.xdist_group("student_s_notebooks")) if rel.startswith("specific") else rel
    for rel in NOTEBOOKS
]
TIMEOUT = int(os.environ.get("NOTEBOOK_BUDGET_SECONDS", "300"))


@pytest.fixture(scope="session")
def blank_edition(tmp_path_factory):
    """A blank student edition of this repository, released once for all xdist workers."""
    from minicnn.teaching.release import check, release

    if not check(REPO):
        pytest.skip("this is a student edition already")
    shared = tmp_path_factory.getbasetemp().parent
    out = shared / "blank_student_edition"
    with open(shared / "blank_student_edition.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "EXERCISES.md").exists():
            release(REPO, out, force=True, allow_dirty=True)
    return out


def run_notebook(path: Path, timeout: int = TIMEOUT):
    """Execute a notebook in its folder; returns (seconds, None) or (seconds, the CellExecutionError)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        return time.perf_counter() - start, exc
    return time.perf_counter() - start, None


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("rel", PARAMS, ids=lambda r: Path(r).stem[:3])
def test_blank_edition_notebook_stops_only_at_its_own_exercises(blank_edition, rel):
    exercise = Path(rel).name[:3]
    seconds, error = run_notebook(blank_edition / rel)
    if error is None:
        print(f"{rel}: ran to the end in {seconds:.1f} s")
        return
    shown = str(error)
    ename, evalue = getattr(error, "ename", ""), str(getattr(error, "evalue", ""))
    if ename == "AssertionError" and evalue.startswith(f"{exercise}: some checks fail"):
        print(f"{rel}: {seconds:.1f} s, stops at its self-check")
        return
    assert ename == "NotImplementedError", f"{rel} stopped on {ename}: {evalue}\n{shown[-3000:]}"
    found = parse_message(evalue)
    assert found is not None, f"{rel}: a NotImplementedError that no stub raised: {evalue}"
    allowed = {exercise, *PREREQUISITES[exercise]}
    assert found.exercise in allowed, (
        f"{rel} stops at {found.exercise} ({found.where}), which it does not declare: add it to PREREQUISITES "
        f"(minicnn/teaching/progress.py) and the notebook's first cell, or keep the notebook from calling it"
    )
    if found.exercise == exercise:
        assert f"{exercise} not implemented yet: {found.where}" in shown, shown[-2000:]
    else:
        assert f"{exercise} needs {found.exercise}: {found.where}; write it" in shown, shown[-2000:]
    assert "Traceback" not in shown and "File \"" not in shown, f"{rel}: a traceback instead of one line:\n{shown}"
    print(f"{rel}: {seconds:.1f} s, stops at {found.exercise} ({found.where})")


def test_blank_edition_gets_the_students_readme_and_checkpoints(blank_edition):
    readme = (blank_edition / "README.md").read_text(encoding="utf-8")
    for wanted in ("make install-dev", "jupyter lab", "python -m pytest -m G03", "Save the notebook first",
                   "Which exercise needs which", "Starting mid-way", "G08  decision trees", "graph LR", "make demo"):
        assert wanted in readme, wanted
    for instructor_only in ("minicnn.teaching grade", "minicnn.teaching release", "make student", "PyTorch",
                            "benchmarks/", "BEGIN SOLUTION"):
        assert instructor_only not in readme, instructor_only
    exercises = (blank_edition / "EXERCISES.md").read_text(encoding="utf-8")
    assert "- S08 needs G08, G09, G10" in exercises and "sample slide labels" in exercises
    samples = blank_edition / "specific_exercises" / "sample_heatmaps"
    for name in ("features.csv", "slide_predictions.csv", "stage_labels.csv", "thumbnails.npz"):
        assert (samples / name).is_file(), name
    assert not (blank_edition / "tests" / "hidden").exists() and not (blank_edition / "grading.toml").exists()


def test_shipped_checkpoints_are_what_the_reference_computes():
    """features.csv and slide_predictions.csv next to the sample heatmaps are current (rewrite them with
    ``python specific_exercises/make_sample_heatmaps.py --checkpoints``)."""
    import importlib.util
    import sys

    from minicnn.teaching.release import check

    if not check(REPO):
        pytest.skip("the student edition cannot recompute the checkpoints before its exercises are written")
    folder = REPO / "specific_exercises"
    sys.path[:0] = [str(folder)]
    try:
        spec = importlib.util.spec_from_file_location("make_sample_heatmaps", folder / "make_sample_heatmaps.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        texts = module.checkpoint_texts(folder / "sample_heatmaps")
    finally:
        sys.path.remove(str(folder))
    for name, text in texts.items():
        assert (folder / "sample_heatmaps" / name).read_text(encoding="utf-8") == text, f"{name} is out of date"
