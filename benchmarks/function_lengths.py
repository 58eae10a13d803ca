"""The longest functions of the code base, and how many are longer than a limit (60 lines by default).

A function's length is its line span, from ``def`` to its last line (docstring and nested functions
included, decorators not), as Python's ``ast`` reports it. Methods count as functions; a nested
function is counted on its own as well as inside its parent.

Usage::

    python benchmarks/function_lengths.py                      # the working tree
    python benchmarks/function_lengths.py --rev 6d81fd2        # a commit, read from git
    python benchmarks/function_lengths.py --top 20 --limit 80 minicnn camelyon
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("minicnn", "camelyon")


@dataclass(frozen=True)
class Function:
    """One function: where it is and how long it is (lines)."""

    path: str
    name: str
    line: int
    length: int


def functions_in(source: str, path: str) -> list[Function]:
    """Every function and method of one module, with its length in lines."""
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                found.append(Function(path, name, child.lineno, child.end_lineno - child.lineno + 1))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source, filename=path), "")
    return found


def _sources(folders, rev: str | None):
    """(path, text) of the tracked .py files under ``folders``, at ``rev`` or in the working tree."""
    listing = ["git", "-C", str(ROOT), "ls-files", "--", *folders] if rev is None else \
        ["git", "-C", str(ROOT), "ls-tree", "-r", "--name-only", rev, "--", *folders]
    paths = [p for p in subprocess.run(listing, capture_output=True, text=True, check=True).stdout.split()
             if p.endswith(".py")]
    for p in sorted(paths):
        if rev is None:
            if (ROOT / p).is_file():
                yield p, (ROOT / p).read_text(encoding="utf-8")
        else:
            yield p, subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{p}"], capture_output=True,
                                    text=True, check=True).stdout


def measure(folders=FOLDERS, rev: str | None = None) -> list[Function]:
    """All functions under ``folders``, longest first."""
    out = []
    for path, text in _sources(folders, rev):
        out.extend(functions_in(text, path))
    return sorted(out, key=lambda f: (-f.length, f.path, f.line))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", default=list(FOLDERS), help="folders to read (default: minicnn camelyon)")
    ap.add_argument("--rev", default=None, help="a git revision to read instead of the working tree")
    ap.add_argument("--limit", type=int, default=60, help="count the functions longer than this (lines)")
    ap.add_argument("--top", type=int, default=10, help="how many of the longest to list")
    args = ap.parse_args(argv)
    found = measure(args.folders, args.rev)
    over = [f for f in found if f.length > args.limit]
    where = args.rev or "working tree"
    print(f"{where}: {len(found)} functions in {', '.join(args.folders)}; {len(over)} longer than {args.limit} lines")
    for f in found[: args.top]:
        print(f"{f.length:5d}  {f.path}:{f.line}  {f.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
