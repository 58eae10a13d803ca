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
    "detect",
    "features",
    "classify",
    "stage",
    "evaluate",
    "evaluate16",
    "pipeline",
    "demo",
    "view",
]



def add_worker_options(p, overwrite: str | None = None) -> None:
    """Options of a command that runs per-slide work: ``--workers``, ``--scheduler``, ``--quiet``.

    Parameters
    ----------
    p : argparse.ArgumentParser
        The sub-command's parser.
    overwrite : str, optional
        Help text of an ``--overwrite`` flag; no flag when None.
    """
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes for the per-slide work (default: all cores; 1: no pool, run inline)")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address (tcp://host:8786) to run the per-slide work on instead")
    if overwrite is not None:
        p.add_argument("--overwrite", action="store_true", help=overwrite)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
