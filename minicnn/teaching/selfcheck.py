"""The self-check cell of the notebooks: run one exercise's tests and say what is left to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def repository_root() -> Path:
    """Root of the edition this ``minicnn`` comes from (the folder holding ``minicnn/`` and ``tests/``)."""
    return Path(__file__).resolve().parents[2]


def exercise_test_files(tests: Path, exercise: str) -> list[Path]:
    """Test files under ``tests`` that mention ``exercise`` (quoted, or ``mark.<id>``), so that unrelated test
    modules are not imported.

    Falls back to ``[tests]`` when no file mentions it (pytest then reports that nothing was selected).
    """
    needles = (f'"{exercise}"', f"'{exercise}'", f"mark.{exercise}")
    files = []
    for path in sorted(Path(tests).rglob("test_*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if any(n in text for n in needles):
            files.append(path)
    return files or [Path(tests)]


def self_check(
    exercise: str, *pytest_args: str, slow: bool = False, timeout: float = 600.0, raise_on_failure: bool = True
) -> None:
    """Run ``pytest -m "<exercise> and not slow"`` on this edition's tests in a fresh process; print the summary.

    A fresh process sees the code as it is on disk now, whatever the notebook imported earlier. An
    exercise that is not written yet shows as ``G03 not implemented: minicnn/<file>::<function>``.

    Parameters
    ----------
    exercise : str
        Exercise id, e.g. ``"G03"``.
    *pytest_args : str
        More pytest arguments (e.g. ``"-k", "backward"``).
    slow : bool
        Also run the tests marked ``slow`` (e.g. training to a target accuracy; minutes).
    timeout : float
        Seconds before giving up.
    raise_on_failure : bool
        Raise AssertionError when a test fails (so a notebook run stops there).

    Raises
    ------
    AssertionError
        When a check fails and ``raise_on_failure`` is set (nothing is returned, so a notebook cell
        shows only the printed summary).
    """
    root = repository_root()
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("MPLBACKEND", "Agg")
    env["COLUMNS"] = "200"  # the short summary keeps the whole "G03 not implemented: ..." line
    files = [str(p) for p in exercise_test_files(root / "tests", exercise)]
    cmd = [sys.executable, "-m", "pytest", *files, "-m", exercise if slow else f"{exercise} and not slow", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
           "--no-header", "--tb=short", "-rfE", "--color=no", *pytest_args]  # fmt: skip
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    lines = proc.stdout.rstrip().splitlines()
    print("\n".join(lines[-60:]) if lines else proc.stderr[-2000:])
    if proc.returncode == 5:
        print(f"no test carries the marker {exercise}")
    elif proc.returncode == 0:
        print(f"{exercise}: all checks passed")
    elif raise_on_failure:
        raise AssertionError(f"{exercise}: some checks fail (see above); run `pytest -m {exercise}` for details")
