"""Sub-commands of the ``camelyon`` command line, one module each.

Every module here defines ``register(subparsers)``, which adds its sub-parser and sets
``func`` to a callable taking the parsed arguments and returning an exit status.
"""

#: Modules providing a sub-command, in the order ``camelyon --help`` lists them.
COMMAND_MODULES = [
    "synth",
    "info",
    "tiles",
    "train",
    "heatmap",
    "features",
    "classify",
    "stage",
    "evaluate",
    "pipeline",
    "demo",
]


def count_noun(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` with its noun in the right number: ``1 slide``, ``3 slides``, ``0 slides``.

    Parameters
    ----------
    n : int
    noun : str
        The singular.
    plural : str, optional
        The plural when it is not ``noun + "s"``.
    """
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"
