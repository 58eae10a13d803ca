"""Check that the measured figures quoted in README.md and docs/*.md come from results files.

A figure is *sourced* in one of two ways (see docs/figures.md):

1. **Figures tables**: a Markdown table whose header has a ``source`` column. Every number in its
   ``result`` column must be found in the results file(s) linked in the same row's ``source`` cell,
   e.g. ``[cnn.json](benchmarks/results/cnn.json)``.
2. **Figure links** anywhere in the text: ``[kappa 0.970](benchmarks/results/demo.json#evaluation.kappa)``.
   Every number in the link text must be found in the linked file; after ``#`` an optional dotted
   path (``a.b.0.c``) restricts the search to that value (or that part of the file).

A number "is found" when some numeric value of the file, rounded to the decimals the text shows,
gives the same digits (``0.95`` matches 0.9474...; ``1,046`` matches 1046.27). A number followed by
``%`` may also be a fraction in the file (``12.0 %`` matches 0.1196). Signs are ignored. So a figure
written by hand, or left behind when its benchmark is rerun, fails the check.

Usage::

    .venv/bin/python benchmarks/figures.py            # checks README.md and docs/*.md; exit 1 on a mismatch
    .venv/bin/python benchmarks/figures.py --list     # every sourced figure and where it was found
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# a number: digits with optional thousands commas and decimals, not glued to a preceding digit or dot
NUMBER = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(\s*(?:%|MB\b|GB\b))?")
# what a unit after a number lets it match besides the value itself: a fraction for %, bytes for MB/GB
UNIT_SCALES = {"%": (1.0, 100.0), "MB": (1.0, 1e-6), "GB": (1.0, 1e-9)}
LINK = re.compile(r"\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+\.json)(#[^)\s]*)?\)")


@dataclass
class Figure:
    """One number quoted in a document, with the file(s) it must come from."""

    doc: str
    line: int
    text: str  # the number as written
    context: str  # the cell or link text around it
    sources: list  # (path, key or None)
    found_at: str | None = None
    error: str | None = None
    parsed: tuple = ()  # (digits, decimals, unit)


def numbers(text):
    """The numbers written in `text`: list of (as written, digits without commas, decimals, unit or None)."""
    # markdown links inside the text: only their text counts, not their targets
    text = re.sub(r"\]\([^)]*\)", "]", text)
    out = []
    matches_ = list(NUMBER.finditer(text))
    for k, m in enumerate(matches_):
        whole, frac, unit = m.group(1), m.group(2) or "", (m.group(3) or "").strip() or None
        nxt = matches_[k + 1] if k + 1 < len(matches_) else None
        if unit is None and nxt is not None and nxt.group(3) and text[m.end():nxt.start()] in ("-", "\u2013"):
            unit = nxt.group(3).strip()  # a range "98.3-99.7 %": the unit belongs to both ends
        out.append((m.group(0).strip(), whole.replace(",", "") + frac, len(frac) - 1 if frac else 0, unit))
    return out


def _leaves(obj, path=""):
    if isinstance(obj, bool):
        return
    if isinstance(obj, (int, float)):
        yield path, float(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, f"{path}.{i}" if path else str(i))


def _select(data, key, source):
    if not key:
        return data
    node = data
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(f"{source}: no entry '{key}' (stopped at '{part}')")
    return node


def matches(value, digits, decimals, unit=None):
    """True when `value` rounded to `decimals` reads `digits` (also 100 x value for a %, bytes / 1e6 for MB)."""
    scales = UNIT_SCALES.get(unit, (1.0,))
    return any(f"{abs(value) * s:.{decimals}f}" == digits for s in scales)


class Sources:
    """Results files loaded once each."""

    def __init__(self):
        self._cache = {}

    def leaves(self, path, key):
        if path not in self._cache:
            if not path.is_file():
                raise FileNotFoundError(f"results file {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
                                        f" does not exist")
            try:
                self._cache[path] = json.loads(path.read_text())
            except json.JSONDecodeError as e:
                raise ValueError(f"results file {path}: not valid JSON ({e})") from None
        node = _select(self._cache[path], key, path.name)
        return list(_leaves(node, key or ""))


def _split_row(line):
    cells = line.strip().strip("|").split("|")
    return [c.strip() for c in cells]


def _link_targets(cell, doc_path):
    """(path, key) of every .json link in a table cell, resolved against the document's folder."""
    out = []
    for m in LINK.finditer(cell):
        out.append(((doc_path.parent / m.group(2)).resolve(), (m.group(3) or "#")[1:] or None))
    return out


def figures_in(doc_path):
    """Every sourced figure of one Markdown file (figures tables and figure links)."""
    rel = str(doc_path.relative_to(ROOT)) if doc_path.is_relative_to(ROOT) else str(doc_path)
    lines = doc_path.read_text().splitlines()
    figures = []
    header = None  # (result column, source column) of the current figures table
    in_code = False
    for n, line in enumerate(lines, 1):
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
            continue
        if in_code:
            continue
        line = re.sub(r"`[^`]*`", "", line)  # inline code is not a figure
        is_row = line.lstrip().startswith("|")
        if not is_row:
            header = None
        elif header is None:
            names = [c.lower() for c in _split_row(line)]
            if "source" in names:
                if "result" not in names:
                    figures.append(Figure(rel, n, "", line, [], error="a figures table (with a 'source' column) "
                                                                      "needs a 'result' column"))
                header = (names.index("result") if "result" in names else None, names.index("source"))
            else:
                header = False  # an ordinary table
        elif header and header[0] is not None and not re.fullmatch(r"[\s|:-]+", line):
            cells = _split_row(line)
            result_col, source_col = header
            if len(cells) <= max(result_col, source_col):
                figures.append(Figure(rel, n, "", line, [], error="row has fewer cells than the header"))
                continue
            sources = _link_targets(cells[source_col], doc_path)
            nums = numbers(cells[result_col])
            if nums and not sources:
                figures.append(Figure(rel, n, nums[0][0], cells[result_col], [],
                                      error="no results file linked in the 'source' cell"))
                continue
            for written, digits, decimals, pct in nums:
                figures.append(Figure(rel, n, written, cells[result_col], sources, parsed=(digits, decimals, pct)))
            continue
        # figure links in running text (and in table cells outside the result column)
        for m in LINK.finditer(line):
            target = (doc_path.parent / m.group(2)).resolve()
            key = (m.group(3) or "#")[1:] or None
            for written, digits, decimals, pct in numbers(m.group(1)):
                figures.append(Figure(rel, n, written, m.group(1), [(target, key)], parsed=(digits, decimals, pct)))
    return figures


def check(figures, sources=None):
    """Fill ``found_at`` or ``error`` of every figure; return those with an error."""
    sources = sources or Sources()
    for fig in figures:
        if fig.error:
            continue
        digits, decimals, pct = fig.parsed
        errors = []
        for path, key in fig.sources:
            try:
                leaves = sources.leaves(path, key)
            except (FileNotFoundError, KeyError, ValueError) as e:
                errors.append(str(e))
                continue
            for where, value in leaves:
                if matches(value, digits, decimals, pct):
                    fig.found_at = f"{path.name}:{where} = {value:g}"
                    break
            if fig.found_at:
                break
        if not fig.found_at:
            names = ", ".join(p.name + (f"#{k}" if k else "") for p, k in fig.sources)
            fig.error = "; ".join(errors) or f"{fig.text} is not in {names}"
    return [f for f in figures if f.error]


def documents(root=ROOT):
    """README.md and docs/*.md."""
    docs = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    return [d for d in docs if d.is_file()]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("files", nargs="*", type=Path, help="Markdown files (default: README.md and docs/*.md)")
    p.add_argument("--list", action="store_true", help="print every sourced figure and where it was found")
    args = p.parse_args(argv)
    figures = [f for doc in (args.files or documents()) for f in figures_in(doc.resolve())]
    bad = check(figures)
    if args.list:
        for f in figures:
            print(f"{f.doc}:{f.line}: {f.text!r:>10} <- {f.found_at or 'NOT FOUND'}")
    for f in bad:
        print(f"{f.doc}:{f.line}: {f.error} (in: {f.context.strip()[:100]})", file=sys.stderr)
    print(f"{len(figures)} sourced figures, {len(bad)} not matching their results files")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
