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

