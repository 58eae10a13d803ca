"""Load a function a student wrote in an exercise notebook, so that a test can call it.

The notebook's other cells are not run (they train models, time kernels and draw figures): only the
top-level ``import`` statements and ``def``/``class`` statements of the code cells up to the cell that
defines the function are executed, in order, in a fresh namespace. The function therefore sees the
notebook's imports and helper functions, as it does in the notebook. IPython lines (``%magic``,
``!command``) are skipped.

The tests read the notebook saved next to them (``generic_exercises/G03_convolution.ipynb``): in the
student edition that is the student's notebook, and the grader, which runs the reference tests over
the student's tree, reads the student's notebook too.
"""

# teaching: no-regions

from __future__ import annotations

import ast
from pathlib import Path

from minicnn.teaching.regions import cell_source, read_notebook

_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _python_lines(source: str) -> str:
    """Cell source with IPython lines (``%magic``, ``!command``) blanked, same line numbers."""
    lines = []
    for line in source.splitlines():
        lines.append("" if line.lstrip().startswith(("%", "!")) else line)
    return "\n".join(lines) + "\n"


def find_notebook(folder: Path, exercise: str) -> Path:
    """The notebook ``<exercise>_*.ipynb`` of ``folder`` (exactly one must exist)."""
    paths = sorted(Path(folder).glob(f"{exercise}_*.ipynb"))
    if len(paths) != 1:
        found = ", ".join(p.name for p in paths) or "none"
        raise FileNotFoundError(f"expected one notebook {exercise}_*.ipynb in {folder}, found {found}")
    return paths[0]


def notebook_function(notebook: Path, name: str, overrides: dict | None = None):
    """The function ``name`` as defined in a code cell of ``notebook``.

    Parameters
    ----------
    notebook : path
        An ``.ipynb`` file.
    name : str
        Name of a function defined at the top level of one code cell.
    overrides : dict, optional
        Names set in the function's namespace after loading, e.g. a reference implementation of a
        library function it calls, so that a test checks only the notebook's own code.

    Returns
    -------
    function
        Calling it runs the notebook's code (in the student edition: the ``NotImplementedError`` of
        its solution region until the student writes it).

    Raises
    ------
    LookupError
        When no code cell defines ``name``.
    SyntaxError
        When a code cell up to the defining one is not valid Python (named ``<notebook>:cell N``).
    """
    notebook = Path(notebook)
    cells = read_notebook(notebook)["cells"]
    namespace: dict = {"__name__": f"notebook_{notebook.stem}"}
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        where = f"{notebook.name}:cell {index}"
        tree = ast.parse(_python_lines(cell_source(cell)), filename=where)
        definitions = [node for node in tree.body if isinstance(node, _DEFINITIONS)]
        if definitions:
            module = ast.Module(body=definitions, type_ignores=[])
            exec(compile(module, where, "exec"), namespace)
        if any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name for n in definitions):
            namespace.update(overrides or {})
            return namespace[name]
    raise LookupError(f"{notebook.name}: no code cell defines the function {name}() at its top level")
