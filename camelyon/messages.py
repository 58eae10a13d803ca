"""Wording shared by the messages camelyon prints, warns and raises."""

from __future__ import annotations

__all__ = ["count_noun"]


def count_noun(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` with its noun in the right number: ``1 slide``, ``3 slides``, ``0 slides``.

    Parameters
    ----------
    n : int
    noun : str
        The singular.
    plural : str, optional
        The plural when it is not ``noun + "s"``.

    Examples
    --------
    >>> count_noun(1, "slide"), count_noun(3, "patient"), count_noun(2, "tumour area")
    ('1 slide', '3 patients', '2 tumour areas')
    """
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"
