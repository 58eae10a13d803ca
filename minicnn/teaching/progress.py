"""Where a student stands: which exercises are still stubs, what each notebook needs, one-line stops.

In the student edition every solution region is one line,
``raise NotImplementedError("G03: implement conv2d_forward_naive in minicnn/functional/conv_naive.py: ...")``.
This module reads that message (:func:`unwritten_in`), finds the stubs still left in an edition
(:func:`stubs`), knows which exercises each notebook builds on (:data:`PREREQUISITES`), and turns a
stop at an unwritten exercise into one line instead of a traceback, in notebooks
(:func:`start_notebook`) and on the command line (:func:`stop_line`).

Nothing here imports ``camelyon``: the pipeline calls it, not the other way round.
"""

# teaching: no-regions

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

#: The message of a replaced region: "G03: implement conv2d_forward_naive in minicnn/conv.py: hint".
MESSAGE_RE = re.compile(
    r"^(?P<id>[A-Za-z][A-Za-z0-9_.-]*): implement (?:(?P<func>[\w.<>]+) in )?(?P<path>[^\s:()]+)"
)
#: The stub line the release writes (a module line, or a line of a notebook cell).
STUB_RE = re.compile(r"^[ \t]*raise NotImplementedError\(\"(?P<msg>[A-Za-z][A-Za-z0-9_.-]*: implement [^\"\\\\]*)")

#: Exercises whose code each notebook runs, besides its own (from what its cells call; CI executes every
#: notebook in a blank student edition and checks that each stops only at its own exercises or at one of these).
PREREQUISITES: dict[str, tuple[str, ...]] = {
    "G01": (),
    "G02": (),
    "G03": (),
    "G04": (),
    "G05": (),
    "G06": ("G01", "G02", "G03", "G04", "G05"),
    "G07": (),
    "G08": (),
    "G09": ("G08",),
    "G10": (),
    "S01": (),
    "S02": (),
    "S03": (),
    "S04": ("G07",),
    "S05": ("G01", "G02", "G03", "G04", "G05", "G06", "G07", "G10"),
    "S06": ("G01", "G02", "G03", "G04", "G05", "G06", "G07"),
    "S07": (),
    "S08": ("G08", "G09", "G10"),
    "S09": ("G10",),
}

#: What a notebook falls back on when a prerequisite is not written (shipped checkpoint data), or where to
#: start instead.
ALTERNATIVES: dict[str, str] = {
    "S04": "S01-S03 and S07-S09 do not need G07",
    "S05": "start at S07 instead: it begins from the sample heatmaps",
    "S06": "start at S07 instead: it begins from the sample heatmaps",
    "S08": "S08 reads the sample features when S07 is not written; start at S09 for staging from the sample slide labels",
    "S09": "S09 reads the sample features and the sample slide labels when S07, G08 or G09 are not written",
}

#: Checkpoint data that S notebooks read when a prerequisite is not written.
CHECKPOINT_USES: dict[str, tuple[str, ...]] = {
    "S07": ("sample heatmaps",),
    "S08": ("sample heatmaps", "sample features (when S07 is not written)"),
    "S09": ("sample heatmaps", "sample features (when S07 is not written)", "sample slide labels (when G08/G09 are not written)"),
}


@dataclass(frozen=True)
class Unwritten:
    """An exercise region that raised: its exercise id and ``path::function``."""

    exercise: str
    where: str

    def line(self) -> str:
        """``G03 not implemented: minicnn/functional/conv_naive.py::conv2d_forward_naive``."""
        return f"{self.exercise} not implemented: {self.where}"


def parse_message(message: str) -> Unwritten | None:
    """The exercise and location named by a stub's message, or None when it is not one."""
    match = MESSAGE_RE.match(str(message))
    if not match:
        return None
    where = match.group("path")
    if match.group("func"):
        where += "::" + match.group("func")
    return Unwritten(match.group("id"), where)


def unwritten_in(exc: BaseException | None, depth: int = 0) -> Unwritten | None:
    """The unwritten exercise behind ``exc``: a stub's NotImplementedError, possibly wrapped.

    Looks through exception groups and ``__cause__``/``__context__`` chains, and at the type name
    written in a worker's error text (``"NotImplementedError: G03: implement ..."``).
    """
    if exc is None or depth > 8:
        return None
    if isinstance(exc, NotImplementedError) and exc.args:
        found = parse_message(str(exc.args[0]))
        if found:
            return found
    for inner in getattr(exc, "exceptions", ()) or ():
        found = unwritten_in(inner, depth + 1)
        if found:
            return found
    for inner in (exc.__cause__, exc.__context__):
        found = unwritten_in(inner, depth + 1)
        if found:
            return found
    return None


def stubs(root: Path) -> dict[str, list[str]]:
    """Exercises still stubs in the edition at ``root``: ``{exercise: [path::function, ...]}``, ids sorted.

    Reads the ``.py`` files of ``minicnn/``, ``camelyon/`` and the notebooks of ``generic_exercises/`` and
    ``specific_exercises/``. Empty in the solution edition (it has no stubs).
    """
    root = Path(root)
    found: dict[str, list[str]] = {}
    files = [p for pkg in ("minicnn", "camelyon") for p in sorted((root / pkg).rglob("*.py"))]
    files += [p for folder in ("generic_exercises", "specific_exercises") for p in sorted((root / folder).glob("*.ipynb"))]
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "raise NotImplementedError(" not in text:
            continue
        if path.suffix == ".ipynb":
            try:
                cells = json.loads(text).get("cells", [])
            except json.JSONDecodeError:
                continue
            lines = [line for c in cells if c.get("cell_type") == "code" for line in _cell_lines(c)]
        else:
            lines = text.splitlines()
        for line in lines:
            match = STUB_RE.match(line)
            if match:
                item = parse_message(match.group("msg"))
                if item:
                    found.setdefault(item.exercise, []).append(item.where)
    return {k: found[k] for k in sorted(found)}


def _cell_lines(cell: dict) -> list[str]:
    src = cell.get("source", "")
    return ("".join(src) if isinstance(src, list) else str(src)).splitlines()


def notebook_of(exercise: str, root: Path) -> str | None:
    """Relative path of the notebook of an exercise (``generic_exercises/G03_convolution.ipynb``), if any."""
    folder = "generic_exercises" if exercise.startswith("G") else "specific_exercises"
    found = sorted((Path(root) / folder).glob(f"{exercise}_*.ipynb"))
    return f"{folder}/{found[0].name}" if found else None


def stop_line(unwritten: Unwritten, current: str | None = None, root: Path | None = None) -> str:
    """One line for a stop at an unwritten exercise, seen from notebook/step ``current``.

    Its own exercise: ``"S08 not implemented yet: <where>; write it, save the notebook and run this cell again"``
    (for a region in a library module: ``...; write it in that file, restart the kernel and run the notebook
    again``, since the kernel keeps the module it imported).
    Another one: ``"S08 needs G10: <where>; write it (generic_exercises/G10_evaluation.ipynb) or ..."``.
    """
    if current is None or unwritten.exercise == current:
        head = f"{unwritten.exercise} not implemented yet: {unwritten.where}"
        if not current:
            return head
        if unwritten.where.split("::", 1)[0].endswith(".py"):  # a library module: its import is cached by the kernel
            return head + "; write it in that file, restart the kernel and run the notebook again"
        return head + "; write it, save the notebook and run this cell again"
    where = f" ({notebook_of(unwritten.exercise, root)})" if root is not None and notebook_of(unwritten.exercise, root) else ""
    line = f"{current} needs {unwritten.exercise}: {unwritten.where}; write it{where}"
    alternative = ALTERNATIVES.get(current)
    return line + (f" ({alternative})" if alternative else "")


def prerequisites_line(exercise: str) -> str:
    """``"S08 needs G08, G09, G10"`` (or ``"G01 needs no other exercise"``)."""
    needs = PREREQUISITES.get(exercise, ())
    return f"{exercise} needs {', '.join(needs)}" if needs else f"{exercise} needs no other exercise"


def start_notebook(exercise: str, root: Path | None = None) -> list[str]:
    """First cell of an exercise notebook: say what it needs, and stop at an unwritten exercise in one line.

    Prints the notebook's prerequisites and, in a student edition, those still stubs. In IPython, a
    ``NotImplementedError`` of a stub then shows as one line (:func:`stop_line`) instead of a traceback;
    the cell still fails, so "Run all" stops there.

    Returns
    -------
    list of str
        The prerequisites still stubs (empty in the solution edition).
    """
    root = Path(root) if root is not None else Path(__file__).resolve().parents[2]
    left = stubs(root)
    missing = [ex for ex in PREREQUISITES.get(exercise, ()) if ex in left]
    line = prerequisites_line(exercise)
    if missing:
        line += f"; not written yet: {', '.join(missing)}"
        if exercise in ALTERNATIVES:
            line += f" ({ALTERNATIVES[exercise]})"
    print(line)
    _install_ipython_handler(exercise, root)
    return missing


def _install_ipython_handler(exercise: str, root: Path) -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - notebooks always have IPython
        return
    shell = get_ipython()
    if shell is None:
        return

    def handler(self, etype, value, tb, tb_offset=None):
        # IPython does not show what a custom handler returns: show it here (the cell still fails)
        found = unwritten_in(value)
        if found is None:
            stb = self.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
        else:
            stb = [f"{etype.__name__}: {stop_line(found, exercise, root)}"]
        self._showtraceback(etype, value, stb)
        return stb

    import builtins

    groups = (builtins.BaseExceptionGroup,) if hasattr(builtins, "BaseExceptionGroup") else ()  # Python >= 3.11
    shell.set_custom_exc((NotImplementedError, *groups), handler)
