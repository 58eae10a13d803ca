"""Find solution code in the student edition by comparing token streams, not lines.

A solution can leak in another shape than the line it was written as: a reference implementation in a
test, a notebook cell that recomputes the answer for a plot, a README that quotes it. Lines differ in
indentation, comments and line breaks; token streams do not. Every text is therefore normalised the
same way:

- Python (modules, notebook code cells): ``tokenize``; comments, line breaks and indentation dropped,
  one *statement* per logical line;
- any other text (Markdown, reStructuredText, TOML, ...): the same word/number/operator tokens, read
  from the whole text (it has no statements);
- identifiers, numbers and operators are kept as they are (``x_grad`` is not ``dx``), string literals are
  split into their words.

A region leaks when two of its consecutive statements (a *window*), together at least
:data:`MIN_WINDOW_TOKENS` tokens long, appear one after the other in a shipped file. Windows that also
occur in the shipped library code outside every region (shape unpacking such as ``n, c, h, w = x.shape``
written in a fast kernel as well as in the naive one) are part of the course's visible text and are not
leaks. Regions of a single statement are not scanned this way (``return np.maximum(x, 0.0)`` can be
written in few ways; the line scan of :func:`minicnn.teaching.release.scan_for_leaks` still finds it
verbatim).
"""

# teaching: no-regions

from __future__ import annotations

import io
import re
import textwrap
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass

#: Word, number and operator tokens of any text (the common alphabet of Python and prose).
_TOKEN_RE = re.compile(
    r"[A-Za-z_][A-Za-z_0-9]*|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?"
    r"|\*\*=?|//=?|==|!=|<=|>=|->|:=|[-+*/@%&|^]=|<<|>>|[^\sA-Za-z_0-9]"
)
#: Shortest window that counts (``i += 1`` + ``j += 1``, 6 tokens, is nobody's solution).
MIN_WINDOW_TOKENS = 7
#: Statements per window.
WINDOW = 2
#: First tokens of a window used to look it up in a file's index.
_KEY = 6


def words(text: str) -> list[str]:
    """The normalised tokens of a text that is not Python (or of one Python token)."""
    return _TOKEN_RE.findall(text)


def python_statements(source: str) -> list[tuple[str, ...]] | None:
    """Normalised token tuples, one per logical line (statement or compound-statement header).

    Comments, blank lines, indentation and line continuations are dropped; IPython lines (``%magic``,
    ``!cmd``) are skipped. Returns None when ``source`` does not tokenize.
    """
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append("" if stripped.startswith(("%", "!")) else line)
    text = textwrap.dedent("\n".join(lines)) + "\n"
    statements: list[tuple[str, ...]] = []
    current: list[str] = []
    skip = {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENCODING,
        tokenize.ENDMARKER,
    }
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in skip:
                continue
            if tok.type == tokenize.NEWLINE:
                if current:
                    statements.append(tuple(current))
                current = []
                continue
            current.extend(words(tok.string))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    if current:
        statements.append(tuple(current))
    return statements


def token_stream(text: str, python: bool) -> list[str]:
    """The whole text as one token list (Python without comments; other text as it is)."""
    if python:
        statements = python_statements(text)
        if statements is not None:
            return [t for s in statements for t in s]
    return words(text)


def windows(statements: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Every run of :data:`WINDOW` consecutive statements, flattened, at least :data:`MIN_WINDOW_TOKENS` long.

    Runs made only of block headers (``for ...:``, ``if ...:``) are left out.
    """
    found = []
    for i in range(len(statements) - WINDOW + 1):
        run = statements[i : i + WINDOW]
        if all(s and s[-1] == ":" for s in run):
            continue  # only block headers (``for i in range(oh):`` twice): loops, not a solution
        flat = tuple(t for s in run for t in s)
        if len(flat) >= MIN_WINDOW_TOKENS:
            found.append(flat)
    return found


@dataclass(frozen=True)
class SolutionWindow:
    """Two consecutive statements of a region, normalised."""

    tokens: tuple[str, ...]
    location: str
    first_statement: str


class TokenIndex:
    """Positions of every :data:`_KEY`-token prefix of one token stream, to find windows in it quickly."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.index: dict[tuple[str, ...], list[int]] = {}
        for i in range(len(tokens) - _KEY + 1):
            self.index.setdefault(tuple(tokens[i : i + _KEY]), []).append(i)

    def find(self, window: tuple[str, ...]) -> int | None:
        """Token position of the first occurrence of ``window``, or None."""
        n = len(window)
        for start in self.index.get(window[:_KEY], ()):
            if tuple(self.tokens[start : start + n]) == window:
                return start
        return None


def solution_windows(regions: Iterable, allowed: Iterable[list[str]] = ()) -> list[SolutionWindow]:
    """The windows of every region of 2+ statements, minus those found in ``allowed`` token streams.

    Parameters
    ----------
    regions : iterable of Region
        From :mod:`minicnn.teaching.regions` (uses ``body`` and ``location``).
    allowed : iterable of list of str
        Token streams of text that ships by design (library code outside the regions).
    """
    found: dict[tuple[str, ...], SolutionWindow] = {}
    for region in regions:
        statements = python_statements("\n".join(region.body))
        if statements is None or len(statements) < WINDOW:
            continue
        for w in windows(statements):
            found.setdefault(w, SolutionWindow(w, region.location, " ".join(w[: len(statements[0])])))
    if not found:
        return []
    indexes = [TokenIndex(stream) for stream in allowed]
    return [w for w in found.values() if not any(ix.find(w.tokens) is not None for ix in indexes)]


def find_windows(stream: list[str], solution: list[SolutionWindow]) -> list[SolutionWindow]:
    """The solution windows that occur in ``stream``."""
    if not solution or len(stream) < MIN_WINDOW_TOKENS:
        return []
    index = TokenIndex(stream)
    return [w for w in solution if index.find(w.tokens) is not None]
