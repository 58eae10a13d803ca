"""CSV cells that a spreadsheet will not run as formulas, read back to the same text.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is taken by Excel,
LibreOffice and Google Sheets as a formula (CSV injection: a slide named ``=HYPERLINK(...)``
becomes a live link in the stage table). :func:`escape_cell` puts a ``'`` in front of such text
(spreadsheets show the text as is); :func:`unescape_cell` removes it, so that our readers get
the original name back. Numbers (``-0.5``) are left alone.

Examples
--------
>>> escape_cell("=1+2"), unescape_cell("'=1+2")
("'=1+2", '=1+2')
>>> escape_cell("-0.25"), escape_cell("patient_001.zip")
('-0.25', 'patient_001.zip')
"""

from __future__ import annotations

import re

__all__ = ["escape_cell", "unescape_cell"]

_FORMULA = re.compile(r"^'*[=+\-@\t\r]")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def escape_cell(text) -> str:
    """``text`` as a CSV cell that no spreadsheet runs as a formula (see the module docstring)."""
    text = str(text)
    if _FORMULA.match(text) and not _is_number(text):
        return "'" + text
    return text


def unescape_cell(text: str) -> str:
    """The text :func:`escape_cell` was given (cells written by other tools pass unchanged)."""
    if text.startswith("'") and _FORMULA.match(text) and not _is_number(text[1:]):
        return text[1:]
    return text
