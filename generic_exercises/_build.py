"""Build the exercise notebooks from their percent-format sources (``_src/*.py``).

The sources read and diff like code (jupytext's percent format): ``# %% [markdown]`` starts a markdown
cell whose lines are comments, ``# %%`` starts a code cell. The notebooks are written without outputs.

Usage::

    python generic_exercises/_build.py            # write every notebook next to this file
    python generic_exercises/_build.py --check    # exit 1 when a notebook is out of date
    python generic_exercises/_build.py --src specific_exercises/_src --out specific_exercises
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def parse_percent(text: str) -> list[tuple[str, str]]:
    """(cell type, source) pairs of a percent-format file; text before the first marker is ignored."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            kind = "markdown" if "[markdown]" in line else "code"
            cells.append((kind, []))
            continue
        if not cells:
            continue
        if cells[-1][0] == "markdown":
            line = line[2:] if line.startswith("# ") else line.lstrip("#")
        cells[-1][1].append(line)
    result = []
    for kind, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines:
            result.append((kind, "\n".join(lines)))
    return result


def to_notebook(cells: list[tuple[str, str]]) -> dict:
    """An nbformat 4.5 notebook without outputs (cell ids are stable: ``cell-<index>``)."""
    nb_cells = []
    for index, (kind, source) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"cell-{index}", "metadata": {}, "source": source}
        if kind == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
        nb_cells.append(cell)
    return {
        "cells": nb_cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def render(source: Path) -> str:
    """The notebook JSON text for one source file."""
    return json.dumps(to_notebook(parse_percent(source.read_text(encoding="utf-8"))), indent=1) + "\n"


def build(src: Path, out: Path, check: bool = False) -> list[Path]:
    """Write (or, with ``check``, compare) one notebook per ``src/*.py``; returns the stale ones.

    ``out`` is created (with its parents) when a notebook is written to it; a notebook is written
    through :func:`minicnn.io.write_text`, so an interrupted build leaves no half-written file.
    """
    from minicnn.io import write_text

    stale = []
    for source in sorted(Path(src).glob("*.py")):
        target = Path(out) / (source.stem + ".ipynb")
        text = render(source)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            stale.append(target)
            if not check:
                write_text(target, text)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=HERE / "_src")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--check", action="store_true", help="only report notebooks that are out of date")
    args = parser.parse_args(argv)
    if not args.src.is_dir():
        parser.error(f"--src {args.src}: folder not found; expected a folder of percent-format *.py sources")
    if not any(args.src.glob("*.py")):
        parser.error(f"--src {args.src}: no *.py source in this folder")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out}: is a file; expected a folder for the notebooks")
    stale = build(args.src, args.out, check=args.check)
    for path in stale:
        print(("out of date: " if args.check else "wrote ") + str(path))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
