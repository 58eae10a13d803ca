"""The ``camelyon`` command line: ``camelyon <command> --help`` explains each step."""

from __future__ import annotations

import argparse
import importlib
import sys

from camelyon import __version__
from camelyon.commands import COMMAND_MODULES
from camelyon.errors import CamelyonError

#: What to do after Ctrl-C, per command. These commands keep what they finished and skip it when
#: run again with the same arguments.
RESUMED_BY_RERUN = ("synth", "tiles", "heatmap", "pipeline", "demo")
#: Commands that continue only when asked to.
RESUME_HINTS = {
    "train": "run it again with --resume to continue from the last checkpoint",
}
#: The other commands write their output once, at the end: nothing to continue.
RESTART_HINT = "this command does not resume: run it again to start over"


def interrupt_hint(command: str) -> str:
    """How to carry on after ``camelyon <command>`` was interrupted (Ctrl-C)."""
    if command in RESUME_HINTS:
        return RESUME_HINTS[command]
    if command in RESUMED_BY_RERUN:
        return "run the same command again to resume"
    return RESTART_HINT


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="camelyon",
        description="Whole-slide pipeline for CAMELYON16/17: from slides to pN stages.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        modname = f"camelyon.commands.{name}"
        try:
            module = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name == modname:  # command not written yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failures reported, 2 usage/input error,
    3 stopped at an exercise the student has not written yet)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        status = args.func(args)
    except CamelyonError as exc:
        print(f"camelyon {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except NotImplementedError as exc:  # student edition: an exercise this command needs is not written yet
        from minicnn.teaching.progress import unwritten_in

        found = unwritten_in(exc)
        if found is None:
            raise
        print(f"camelyon {args.command}: stopped at an exercise not written yet: {found.line()}; write it "
              "(EXERCISES.md says where), then run the command again", file=sys.stderr)  # fmt: skip
        return 3
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early: not an error
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"camelyon {args.command}: interrupted; {interrupt_hint(args.command)}.", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
