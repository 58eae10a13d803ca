"""The self-check cell of the notebooks: run one exercise's tests and say what is left to do.

The tests read the functions a student writes in a notebook from the **saved** ``.ipynb`` file. Before
running them, :func:`self_check` compares those saved functions with the ones defined in the running
notebook; when they differ (a cell edited and run but not saved) it says "save the notebook, then run the
check again" instead of reporting a stale result.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path


def repository_root() -> Path:
    """Root of the edition this ``minicnn`` comes from (the folder holding ``minicnn/`` and ``tests/``)."""
    return Path(__file__).resolve().parents[2]


def exercise_test_files(tests: Path, exercise: str) -> list[Path]:
    """Test files under ``tests`` that mark tests with ``exercise``, so that unrelated test modules are not
    imported (collecting one costs its imports).

    A file counts when it has ``exercise("<id>")`` or ``mark.<id>``, or marks tests with a computed id
    (``mark.exercise(name)``) and mentions ``"<id>"`` quoted. Falls back to ``[tests]`` when no file does
    (pytest then reports that nothing was selected).
    """
    marked = (f'exercise("{exercise}")', f"exercise('{exercise}')", f"mark.{exercise}")
    quoted = (f'"{exercise}"', f"'{exercise}'")
    computed = re.compile(r"mark\.exercise\(\s*[A-Za-z_]")
    files = []
    for path in sorted(Path(tests).rglob("test_*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if any(n in text for n in marked) or (computed.search(text) and any(q in text for q in quoted)):
            files.append(path)
    return files or [Path(tests)]


def _normalised(source: str) -> str:
    """Source of a function without comments, blank lines or layout differences (its AST dump)."""
    try:
        return ast.dump(ast.parse(textwrap.dedent(source)))
    except SyntaxError:
        return source.strip()


def saved_functions(notebook: Path) -> dict[str, str]:
    """``{name: source}`` of the top-level functions of a notebook's code cells as saved on disk (last wins)."""
    from minicnn.teaching.notebooks import _python_lines
    from minicnn.teaching.regions import cell_source, read_notebook

    found: dict[str, str] = {}
    for cell in read_notebook(notebook)["cells"]:
        if cell.get("cell_type") != "code":
            continue
        source = _python_lines(cell_source(cell))
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[node.name] = ast.get_source_segment(source, node) or ""
    return found


def unsaved_functions(notebook: Path, namespace: dict) -> list[str]:
    """Functions of ``notebook`` whose running definition (in ``namespace``) differs from the saved one.

    A function missing from ``namespace`` (its cell not run yet) is not reported.
    """
    differ = []
    for name, saved in saved_functions(notebook).items():
        fn = namespace.get(name)
        if not inspect.isfunction(fn):
            continue
        try:
            running = inspect.getsource(fn)
        except (OSError, TypeError):
            continue
        if _normalised(running) != _normalised(saved):
            differ.append(name)
    return differ


def _kernel_namespace() -> dict | None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return None
    shell = get_ipython()
    return getattr(shell, "user_ns", None) if shell is not None else None


def _this_notebook(exercise: str) -> Path | None:
    from minicnn.teaching.notebooks import find_notebook

    root = repository_root()
    for folder in (Path.cwd(), root / "generic_exercises", root / "specific_exercises"):
        try:
            return find_notebook(folder, exercise)
        except FileNotFoundError:
            continue
    return None


def self_check(
    exercise: str, *pytest_args: str, slow: bool = False, timeout: float = 600.0, raise_on_failure: bool = True
) -> None:
    """Run ``pytest -m "<exercise> and not slow"`` on this edition's tests in a fresh process; print the summary.

    A fresh process sees the code as it is on disk now, whatever the notebook imported earlier. An
    exercise that is not written yet shows as ``G03 not implemented: minicnn/<file>::<function>``.
    Called from a notebook whose functions differ from its saved file, it asks to save first and runs
    nothing.

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
    namespace = _kernel_namespace()
    notebook = _this_notebook(exercise) if namespace is not None else None
    if notebook is not None:
        stale = unsaved_functions(notebook, namespace)
        if stale:
            message = (
                f"{exercise}: {', '.join(f'{n}()' for n in stale)} in this notebook differ from the saved "
                f"{notebook.name}, which the tests read: save the notebook, then run the check again"
            )
            print(message)
            if raise_on_failure:
                raise AssertionError(message)
            return
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
