"""Find and validate solution regions in Python modules and Jupyter notebooks.

A solution region is what a student writes. It is a whole block of statements between two comment
lines at the same indentation::

    def square_forward(x):
        \"\"\"Element-wise square (an example, not one of the exercises).\"\"\"
        ### BEGIN SOLUTION (G99)
        out = x * x
        return out, x
        ### END SOLUTION

The exercise id in parentheses is required. Text after it on the BEGIN line, if any, is the hint shown
to the student (``### BEGIN SOLUTION (G99) multiply x by itself``); otherwise the hint is the
enclosing function's name and the first line of its docstring. Regions never nest.

In a notebook the same lines appear inside code cells; line numbers are then counted inside the cell
and errors name the cell (``notebook.ipynb:cell 4:line 2``).

A file that must show the markers without having regions (this one, the tests of the release tool)
carries the line ``# teaching: no-regions``; a test file that students must not see carries
``# teaching: hidden`` (or lives in a ``tests/hidden/`` folder).
"""

# teaching: no-regions

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)###\s*BEGIN SOLUTION\b(?P<rest>.*)$")
END_RE = re.compile(r"^(?P<indent>[ \t]*)###\s*END SOLUTION\b(?P<rest>.*)$")
ID_RE = re.compile(r"^\s*\((?P<id>[A-Za-z][A-Za-z0-9_.-]*)\)\s*(?P<text>.*)$")
#: Any mention of a marker, used by the leak scan (a stray marker is a leak too).
ANY_MARKER_RE = re.compile(r"###\s*(BEGIN|END) SOLUTION")

#: Folders and files never scanned nor released.
EXCLUDED_DIRS = frozenset(
    {
        ".git",
        ".venv",
        "venv",
        "runs",
        "__pycache__",
        ".pytest_cache",
        ".hypothesis",
        ".ruff_cache",
        ".ipynb_checkpoints",
        "build",
        "dist",
        "student_edition",
        ".mypy_cache",
    }
)
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".nbi", ".nbc", ".egg-info")
#: A line equal to this opts a file out of region scanning (it is copied as it is).
NO_REGIONS_PRAGMA = "# teaching: no-regions"
#: A line equal to this marks a test file that the student edition leaves out.
HIDDEN_PRAGMA = "# teaching: hidden"


def has_pragma(text: str, pragma: str) -> bool:
    """True when one line of ``text`` is exactly ``pragma`` (surrounding whitespace ignored)."""
    return any(line.strip() == pragma for line in text.splitlines())


class MarkerError(ValueError):
    """A malformed solution region; the message starts with ``file:line``."""


@dataclass(frozen=True)
class Region:
    """One solution region.

    Attributes
    ----------
    path : str
        File path relative to the scanned root (POSIX separators).
    exercise : str
        Exercise id, e.g. ``"G03"``.
    begin, end : int
        1-based line numbers of the BEGIN and END marker lines (inside the cell for notebooks).
    indent : str
        Whitespace before the BEGIN marker; the replacement ``raise`` uses it.
    hint : str
        What to implement, shown in the ``NotImplementedError`` message.
    function : str or None
        Qualified name of the enclosing function (``"Conv2D.forward"``), None at module level.
    cell : int or None
        Index of the notebook cell, None for ``.py`` files.
    body : tuple of str
        The solution lines between the markers.
    """

    path: str
    exercise: str
    begin: int
    end: int
    indent: str
    hint: str
    function: str | None
    cell: int | None
    body: tuple[str, ...]

    @property
    def location(self) -> str:
        """``path::function`` (or ``path:cell N`` / ``path:line`` when there is no function)."""
        if self.function:
            return f"{self.path}::{self.function}"
        if self.cell is not None:
            return f"{self.path}:cell {self.cell}"
        return f"{self.path}:{self.begin}"

    def message(self) -> str:
        """The constant string given to ``NotImplementedError`` in the student edition."""
        where = f"{self.function} in {self.path}" if self.function else self.path
        if self.cell is not None:
            where += f" (cell {self.cell})"
        text = f"{self.exercise}: implement {where}"
        if self.hint:
            text += f": {self.hint}"
        return text


def _where(path: str, line: int, cell: int | None) -> str:
    return f"{path}:cell {cell}:line {line}" if cell is not None else f"{path}:{line}"


def _parse_id(rest: str, where: str) -> tuple[str, str]:
    match = ID_RE.match(rest)
    if not match:
        raise MarkerError(
            f"{where}: BEGIN SOLUTION needs an exercise id in parentheses, e.g. '### BEGIN SOLUTION (G03)'; "
            f"got {rest.strip()!r} after the marker"
        )
    return match.group("id"), match.group("text").strip()


def _python_for_ast(source: str) -> str:
    """Notebook cell source with IPython magics (``!cmd``, ``%magic``) turned into comments, same line count."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("!", "%")):
            lines.append(line[: len(line) - len(stripped)] + "#" + stripped)
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def _enclosing_functions(source: str) -> list[tuple[int, int, str, str]]:
    """(first line, last line, qualified name, docstring first line) of every function, outermost first."""
    try:
        tree = ast.parse(_python_for_ast(source))
    except SyntaxError:
        return []
    found: list[tuple[int, int, str, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    doc = ast.get_docstring(child) or ""
                    first = doc.strip().splitlines()[0].strip() if doc.strip() else ""
                    found.append((child.lineno, child.end_lineno or child.lineno, name, first))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _comments(source: str) -> dict[int, int] | None:
    """Line number -> column of the comment on that line, or None when the source does not tokenize.

    Only real comments can be markers: a marker-like text inside a string (a docstring, a test's
    fixture) is not one.
    """
    found: dict[int, int] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(_python_for_ast(source)).readline):
            if tok.type == tokenize.COMMENT:
                found[tok.start[0]] = tok.start[1]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return found


def marker_lines(source: str) -> list[int]:
    """Line numbers (1-based) of the comments of ``source`` that hold a solution marker.

    Falls back to every line with marker text when the source does not tokenize.
    """
    if not ANY_MARKER_RE.search(source):
        return []
    comments = _comments(source)
    lines = source.splitlines()
    return [
        number
        for number, line in enumerate(lines, start=1)
        if ANY_MARKER_RE.search(line) and (comments is None or number in comments)
    ]


def find_regions(source: str, path: str, cell: int | None = None) -> list[Region]:
    """All solution regions of one Python source (a module or a notebook cell).

    Parameters
    ----------
    source : str
        The text.
    path : str
        Name used in messages and in ``Region.path``.
    cell : int, optional
        Notebook cell index, for messages.

    Raises
    ------
    MarkerError
        Unclosed, nested, stray END, or BEGIN without an id; the message names ``path:line``.
    """
    lines = source.splitlines()
    comments = _comments(source) if ANY_MARKER_RE.search(source) else {}
    regions: list[tuple[int, int, str, str, str]] = []
    open_at: tuple[int, str, str, str] | None = None  # (line, indent, id, text)
    for number, line in enumerate(lines, start=1):
        if comments is not None and number not in comments:
            continue  # no comment on this line: a marker-like text here is inside a string
        begin = BEGIN_RE.match(line)
        end = END_RE.match(line)
        if begin:
            where = _where(path, number, cell)
            if open_at is not None:
                raise MarkerError(
                    f"{where}: nested BEGIN SOLUTION (the region opened at line {open_at[0]} is not closed)"
                )
            ex_id, text = _parse_id(begin.group("rest"), where)
            open_at = (number, begin.group("indent"), ex_id, text)
        elif end:
            where = _where(path, number, cell)
            if open_at is None:
                raise MarkerError(f"{where}: END SOLUTION without a matching BEGIN SOLUTION")
            if number == open_at[0] + 1 or not any(x.strip() for x in lines[open_at[0] : number - 1]):
                raise MarkerError(f"{_where(path, open_at[0], cell)}: empty solution region")
            regions.append((open_at[0], number, open_at[1], open_at[2], open_at[3]))
            open_at = None
        elif ANY_MARKER_RE.search(line):
            raise MarkerError(
                f"{_where(path, number, cell)}: a solution marker must be alone on its line (comment only)"
            )
    if open_at is not None:
        raise MarkerError(
            f"{_where(path, open_at[0], cell)}: BEGIN SOLUTION ({open_at[2]}) is never closed by END SOLUTION"
        )

    functions = _enclosing_functions(source) if regions else []
    result = []
    for begin, end, indent, ex_id, text in regions:
        inside = [f for f in functions if f[0] < begin < f[1]]
        func = inside[-1] if inside else None
        hint = text or (func[3] if func else "")
        result.append(
            Region(
                path=path,
                exercise=ex_id,
                begin=begin,
                end=end,
                indent=indent,
                hint=hint,
                function=func[2] if func else None,
                cell=cell,
                body=tuple(lines[begin : end - 1]),
            )
        )
    return result


def read_notebook(path: Path) -> dict:
    """A notebook as JSON (nbformat 4), with a clear error when it is not one."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MarkerError(f"{path}: not a readable notebook ({exc})") from exc
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise MarkerError(f"{path}: not a notebook (no 'cells' list)")
    return nb


def cell_source(cell: dict) -> str:
    """Source of a notebook cell as one string (nbformat allows a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def find_notebook_regions(nb: dict, path: str) -> list[Region]:
    """Solution regions of every code cell of a notebook (markdown cells cannot hold regions)."""
    regions: list[Region] = []
    for index, cell in enumerate(nb["cells"]):
        source = cell_source(cell)
        if cell.get("cell_type") != "code":
            if ANY_MARKER_RE.search(source):
                raise MarkerError(f"{path}:cell {index}: solution markers are only allowed in code cells")
            continue
        regions.extend(find_regions(source, path, cell=index))
    return regions


def iter_source_files(root: Path):
    """Every file under ``root`` outside the excluded folders, sorted, as (absolute path, relative POSIX path)."""
    root = Path(root)
    stack = [root]
    files = []
    while stack:
        folder = stack.pop()
        for entry in sorted(folder.iterdir()):
            if entry.is_symlink() and entry.is_dir():
                continue
            if entry.is_dir():
                if entry.name in EXCLUDED_DIRS or entry.name.endswith(EXCLUDED_SUFFIXES):
                    continue
                stack.append(entry)
            elif not entry.name.endswith(EXCLUDED_SUFFIXES):
                files.append((entry, entry.relative_to(root).as_posix()))
    return sorted(files, key=lambda item: item[1])


def scan_file(path: Path, rel: str) -> list[Region]:
    """Regions of one ``.py`` or ``.ipynb`` file (other files have none)."""
    if rel.endswith(".py"):
        text = Path(path).read_text(encoding="utf-8")
        if has_pragma(text, NO_REGIONS_PRAGMA):
            return []
        return find_regions(text, rel)
    if rel.endswith(".ipynb"):
        return find_notebook_regions(read_notebook(path), rel)
    return []


def scan_tree(root: Path) -> list[Region]:
    """Regions of every ``.py`` and ``.ipynb`` file under ``root``; raises MarkerError on the first bad one."""
    regions: list[Region] = []
    for path, rel in iter_source_files(Path(root)):
        regions.extend(scan_file(path, rel))
    return regions


def exercises(regions: list[Region]) -> dict[str, list[Region]]:
    """Regions grouped by exercise id, ids sorted."""
    grouped: dict[str, list[Region]] = {}
    for region in sorted(regions, key=lambda r: (r.exercise, r.path, r.cell or 0, r.begin)):
        grouped.setdefault(region.exercise, []).append(region)
    return grouped
