"""The tree one exercise of one student is graded in.

It is a fresh copy of the solution edition (its tests, hidden ones included, its ``tests/conftest.py``, the
grading plugin, every library file) in which only the **exercise files** of that exercise are the
student's: the modules and notebooks holding its solution regions. Nothing else the student wrote runs: no
``tests/``, no root ``conftest.py``, no ``sitecustomize.py`` or ``.pth`` file, no pytest plugin, no change to
a file without regions. The files of the *other* exercises stay the reference's, so a mistake in G01 does
not cost marks again in G06, and a module that hangs at import only stops its own exercise.

An exercise file missing from the student's edition is graded as not written (its student version: every
region replaced by ``raise NotImplementedError``); so is the percent-format notebook source (``_src/``)
students never get. A symbolic link or a non-file in place of an exercise file is refused the same way.
"""

# teaching: no-regions

from __future__ import annotations

import json
import shutil
from pathlib import Path

from minicnn.teaching.regions import EXCLUDED_DIRS, EXCLUDED_SUFFIXES, Region, read_notebook
from minicnn.teaching.release import is_notebook_source, student_notebook, student_python


def exercise_files(regions: list[Region]) -> dict[str, list[str]]:
    """Exercise id -> the files (relative paths) holding its regions, sorted."""
    files: dict[str, set[str]] = {}
    for r in regions:
        files.setdefault(r.exercise, set()).add(r.path)
    return {ex: sorted(paths) for ex, paths in files.items()}


#: Numba's compiled caches of the reference files are kept (a cold JIT costs tens of seconds per tree);
#: those of the student's files are removed in :func:`place_student_files`. Python's ``.pyc`` never are
#: copied: a student file with the reference's size and time stamp would load the reference's bytecode.
NUMBA_CACHE_SUFFIXES = (".nbi", ".nbc")


def _ignore(skip: list[Path]):
    skip = [p.resolve() for p in skip]

    def ignore(folder, names):
        keep_caches = Path(folder).name == "__pycache__"
        out = [
            n for n in names
            if not (keep_caches and n.endswith(NUMBA_CACHE_SUFFIXES))
            and ((n in EXCLUDED_DIRS and n != "__pycache__") or n.endswith(EXCLUDED_SUFFIXES) or keep_caches)
        ]  # fmt: skip
        here = Path(folder).resolve()
        out += [n for n in names if (here / n) in skip]
        return out

    return ignore


def copy_reference(reference: Path, work: Path, tests: Path | None = None, skip: list[Path] = ()) -> None:
    """``work`` = a copy of the solution edition (``tests`` replacing its ``tests/`` when given)."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(reference, work, ignore=_ignore([work, *skip]), symlinks=False)
    if tests is not None and Path(tests).resolve() != (Path(reference) / "tests").resolve():
        shutil.rmtree(work / "tests", ignore_errors=True)
        shutil.copytree(tests, work / "tests", ignore=_ignore([work, *skip]))


def _not_written(reference: Path, rel: str) -> str:
    """The student version of a reference file (regions replaced by ``raise NotImplementedError``)."""
    path = reference / rel
    if rel.endswith(".ipynb"):
        nb, _ = student_notebook(read_notebook(path), rel)
        return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    return student_python(path.read_text(encoding="utf-8"), rel)[0]


def student_version(student: Path, reference: Path, rel: str) -> tuple[bytes, str]:
    """The bytes the graded tree gets for exercise file ``rel`` of ``student``, and a note.

    Notes: ``"student"`` (the student's file), or why the file is graded as not written (its student
    version, every region replaced by ``raise NotImplementedError``).
    """
    source = Path(student) / rel
    if is_notebook_source(rel, reference):
        return _not_written(reference, rel).encode("utf-8"), "notebook source (instructor only): not written"
    if source.is_symlink() or (source.exists() and not source.is_file()):
        return _not_written(reference, rel).encode("utf-8"), "not a regular file in the student's edition: graded as not written"
    if not source.exists():
        return _not_written(reference, rel).encode("utf-8"), "missing from the student's edition: graded as not written"
    return source.read_bytes(), "student"


def place_student_files(student: Path, reference: Path, work: Path, files: list[str],
                        versions: dict[str, tuple[bytes, str]] | None = None) -> dict[str, str]:  # fmt: skip
    """Write the student's version of each exercise file into ``work``; returns notes per file.

    ``versions`` (from :func:`student_version`) saves reading them again. Notes: ``"student"`` (copied), or
    why the file is graded as not written.
    """
    notes = {}
    for rel in files:
        data, notes[rel] = versions[rel] if versions and rel in versions else student_version(student, reference, rel)
        target = work / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        for cache in (target.parent / "__pycache__").glob(f"{Path(rel).stem}.*"):
            cache.unlink()
        target.write_bytes(data)
    return notes
