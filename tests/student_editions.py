"""Student editions for CI: a blank one, one with every G exercise written, and running notebooks in them.

A test session releases the blank edition once, into a folder that every xdist worker of the run shares
(:func:`shared_folder`), under a file lock; the "all G written" edition is a copy of it with the solution
edition's files of G01-G10 in place (the modules and notebooks that hold their regions). Both link the
notebooks' synthetic cohort of this repository (``runs/notebook_cohort``, painted once by
``specific_exercises/course_data.py`` under its own lock, the same one the solution edition's notebooks use)
instead of painting it again: the cohort is course code's output, identical in every edition. That the
cohort generator runs in a blank edition is checked by ``camelyon demo`` there
(``tests/test_g_filled_edition.py``), which paints its own cohort with the same code.
"""

# teaching: no-regions

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import time
from pathlib import Path

from minicnn.teaching.progress import PREREQUISITES, parse_message

REPO = Path(__file__).resolve().parents[1]
G_EXERCISES = tuple(f"G{i:02d}" for i in range(1, 11))


def shared_folder(tmp_path_factory) -> Path:
    """A folder of this test run that every xdist worker shares (the run's base folder when single-process)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def is_solution_edition() -> bool:
    """True in the solution edition (it holds solution regions); the student edition cannot build these."""
    from minicnn.teaching.release import check

    return bool(check(REPO))


@functools.cache
def course_data():
    """This repository's ``specific_exercises/course_data.py`` (the notebooks' data helpers), loaded once."""
    spec = importlib.util.spec_from_file_location("_solution_course_data", REPO / "specific_exercises" / "course_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def locked(path: Path):
    """Hold an exclusive lock on ``path`` for a ``with`` block (``course_data.file_lock``)."""
    return course_data().file_lock(path)


def notebook_cohort() -> Path:
    """This repository's ``runs/notebook_cohort``, painted first if needed (by ``course_data.cohort_dir``)."""
    return course_data().cohort_dir(None)


def link_notebook_cohort(edition: Path) -> None:
    """``edition/runs/notebook_cohort`` -> the repository's cohort (read only by the notebooks)."""
    link = edition / "runs" / "notebook_cohort"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(notebook_cohort(), target_is_directory=True)


def blank_edition(shared: Path) -> Path:
    """A blank student edition of this repository in ``shared`` (released once per run), cohort linked."""
    from minicnn.teaching.release import release

    out = shared / "blank_student_edition"
    with locked(shared / "blank_student_edition.lock"):
        if not (out / "EXERCISES.md").exists():
            release(REPO, out, force=True, allow_dirty=True)  # CI: a clean clone; here maybe work in progress
            link_notebook_cohort(out)
    return out


def g_filled_edition(shared: Path) -> Path:
    """A student edition with G01-G10 written (the solution edition's files of those exercises), S01-S09 not."""
    from minicnn.teaching.regions import scan_tree
    from minicnn.teaching.worktree import exercise_files

    blank = blank_edition(shared)
    out = shared / "g_filled_student_edition"
    with locked(shared / "g_filled_student_edition.lock"):
        if not (out / ".g_filled").exists():
            if out.exists():
                shutil.rmtree(out)
            shutil.copytree(blank, out, symlinks=True, ignore=shutil.ignore_patterns("runs", "__pycache__"))
            files = exercise_files(scan_tree(REPO))
            for ex in G_EXERCISES:
                for rel in files[ex]:
                    if (blank / rel).exists():  # notebook sources (_src/) are not in the student edition
                        shutil.copyfile(REPO / rel, out / rel)
            link_notebook_cohort(out)
            (out / ".g_filled").write_text(" ".join(G_EXERCISES), encoding="utf-8")
    return out


def edition_or_skip(make, tmp_path_factory) -> Path:
    """``make(shared_folder)`` (:func:`blank_edition`, :func:`g_filled_edition`) in the solution edition; a
    student edition skips (its regions are stubs already)."""
    import pytest

    if not is_solution_edition():
        pytest.skip("this is a student edition: it cannot release or fill editions of itself")
    return make(shared_folder(tmp_path_factory))


def run_notebook(path: Path, timeout: int):
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


def check_stop(rel: str, seconds: float, error, allowed: set[str]):
    """Assert that notebook ``rel`` stopped in one line at an exercise of ``allowed`` (or ran to the end / its
    self-check); returns what it stopped at (``None`` when it did not stop at an exercise) and prints it."""
    exercise = Path(rel).name[:3]
    if error is None:
        print(f"{rel}: ran to the end in {seconds:.1f} s")
        return None
    shown = str(error)
    ename, evalue = getattr(error, "ename", ""), str(getattr(error, "evalue", ""))
    if ename == "AssertionError" and evalue.startswith(f"{exercise}: some checks fail"):
        print(f"{rel}: {seconds:.1f} s, stops at its self-check")
        return None
    assert ename == "NotImplementedError", f"{rel} stopped on {ename}: {evalue}\n{shown[-3000:]}"
    found = parse_message(evalue)
    assert found is not None, f"{rel}: a NotImplementedError that no stub raised: {evalue}"
    assert found.exercise in allowed, (
        f"{rel} stops at {found.exercise} ({found.where}), not at one of {sorted(allowed)}: declare it in "
        f"PREREQUISITES (minicnn/teaching/progress.py) and the notebook's first cell, or keep the notebook from "
        f"calling it"
    )
    if found.exercise == exercise:
        assert f"{exercise} not implemented yet: {found.where}" in shown, shown[-2000:]
    else:
        assert f"{exercise} needs {found.exercise}: {found.where}; write it" in shown, shown[-2000:]
    assert "Traceback" not in shown and "File \"" not in shown, f"{rel}: a traceback instead of one line:\n{shown}"
    print(f"{rel}: {seconds:.1f} s, stops at {found.exercise} ({found.where})")
    return found


def allowed_stops(rel: str) -> set[str]:
    """A notebook's own exercise and its declared prerequisites."""
    exercise = Path(rel).name[:3]
    return {exercise, *PREREQUISITES[exercise]}
