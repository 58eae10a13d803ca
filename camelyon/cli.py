"""The ``camelyon`` command line: ``camelyon <command> --help`` explains each step."""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import signal
import sys
import threading
import traceback

from camelyon import __version__
from camelyon.commands import COMMAND_MODULES
from camelyon.errors import CamelyonError

# minicnn (imported before build_parser loads the command modules and their Numba kernels) makes sure
# Numba has a writable cache folder
from minicnn.compilation import announce_compilation

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
            if exc.name == modname:  # a misspelled name in COMMAND_MODULES must not hide a command
                raise ImportError(f"camelyon.commands.COMMAND_MODULES lists {name!r}, but there is no module "
                                  f"{modname}") from exc
            raise
        if not callable(getattr(module, "register", None)):
            raise ImportError(f"{modname} has no register(subparsers) function")
        module.register(sub)
    return parser


#: Exit status of a command stopped by SIGTERM (128 + 15, as a shell reports it).
TERMINATED_STATUS = 128 + signal.SIGTERM
#: Exit status after an unexpected error (a bug: traceback printed), as sysexits' EX_SOFTWARE.
BUG_STATUS = 70
#: Where to report a bug.
REPORT_HINT = ("this is a bug in camelyon, not in your input: please report it to the minicnn-camelyon "
               "maintainers with the command line and the traceback above")


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwound like Ctrl-C, so that temporary files and worker processes go."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def expected_failure(exc: BaseException) -> str | None:
    """One line for a failure that is the environment's or the input's, not a bug; None otherwise.

    Parameters
    ----------
    exc : BaseException
        What a command raised.

    Returns
    -------
    str or None
        The message (naming the file and what to do), or None for an unexpected exception.
    """
    if isinstance(exc, CamelyonError):
        return str(exc)
    if isinstance(exc, NotImplementedError):  # student edition: an exercise not written yet
        return f"not implemented yet: {exc}"
    if isinstance(exc, MemoryError):
        detail = str(exc) or "an allocation failed"
        return (f"out of memory ({detail}); ask for a smaller size (tiles, slides, batch) or run on a machine "
                "with more memory")
    if isinstance(exc, OSError):
        return _os_error_line(exc)
    return None


def _os_error_line(exc: OSError) -> str:
    name = exc.filename if exc.filename is not None else None
    what = f"{os.fsdecode(name)}: " if name is not None else ""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"{what}no space left on the disk; free some space or write to another folder, then run the "
                "command again (nothing half-written was kept)")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{what}permission denied; check the file's and its folder's permissions, or use another path"
    if exc.errno == errno.EROFS:
        return f"{what}the file system is read-only; write to another folder"
    if exc.errno == errno.ENOENT:
        return f"{what}no such file or folder; check the path"
    if exc.errno == errno.ELOOP:
        return f"{what}too many levels of symbolic links (a symlink loop?); fix or remove the link"
    if exc.errno == errno.ENAMETOOLONG:
        return f"{what}file name too long; use a shorter path"
    return f"{what}{reason}"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    0 ok; 1 failures reported (e.g. some slides could not be read); 2 usage, input or environment
    error (bad argument or file, no space, no permission, out of memory), printed in one line;
    3 stopped at an exercise the student has not written yet (student edition), in one line;
    70 an unexpected error (a bug), printed with its traceback; 130 Ctrl-C; 143 SIGTERM.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    # the first run after an install compiles the Numba kernels: say so instead of appearing to hang
    announce_compilation(prefix="camelyon")
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        status = args.func(args)
    except NotImplementedError as exc:  # student edition: an exercise this command needs is not written yet
        from minicnn.teaching.progress import unwritten_in

        found = unwritten_in(exc)
        if found is None:
            line = expected_failure(exc)
            print(f"camelyon {args.command}: error: {line}", file=sys.stderr)
            return 2
        print(f"camelyon {args.command}: stopped at an exercise not written yet: {found.line()}; write it "
              "(EXERCISES.md says where), then run the command again", file=sys.stderr)  # fmt: skip
        return 3
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Terminated:
        print(f"camelyon {args.command}: terminated (SIGTERM); {interrupt_hint(args.command)}.", file=sys.stderr)
        return TERMINATED_STATUS
    except KeyboardInterrupt:
        print(f"camelyon {args.command}: interrupted; {interrupt_hint(args.command)}.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one boundary between errors and the user
        line = expected_failure(exc)
        if line is None:
            traceback.print_exc()
            print(f"camelyon {args.command}: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
            print(f"camelyon {args.command}: {REPORT_HINT}", file=sys.stderr)
            return BUG_STATUS
        print(f"camelyon {args.command}: error: {line}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
