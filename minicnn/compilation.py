"""Numba compilation: a notice while kernels compile.

Every Numba kernel of minicnn (and camelyon) is compiled with ``cache=True``: the first run after an
install compiles each kernel when it is first called (several seconds each on a busy 2-core machine)
and stores the machine code; later runs load it from the cache. Where the cache lives (next to the
sources, the user's cache folder, or a temporary folder on a read-only install) is decided by
:mod:`minicnn.numba_cache` when minicnn is imported.

:func:`announce_compilation` installs a Numba event listener that prints one line the first time a
kernel compiles (a cached kernel does not compile, so a warm start prints nothing), so that the first
command after an install says what it is doing instead of appearing to hang. ``import minicnn``
installs it (prefix ``minicnn``); the ``camelyon`` command line installs its own (prefix ``camelyon``).

Environment: ``MINICNN_COMPILE_NOTICE`` = ``auto`` (default: only when the stream is a terminal),
``always`` or ``never``.
"""

from __future__ import annotations

import os
import sys
import time

__all__ = ["announce_compilation", "CompileNotice"]

NOTICE = ("compiling the Numba kernels for this install (once; about a minute on 2 cores, more on a busy "
          "machine); later runs load them from the cache")


class CompileNotice:
    """Numba listener: one line on the first compilation, then counts kernels and seconds.

    Attributes
    ----------
    compiled : int
        Kernels (function and type signature) compiled since the listener was installed.
    seconds : float
        Wall time spent compiling them (outermost compilations only).
    """

    def __init__(self, stream=None, prefix="minicnn", enabled=True):
        self.stream = stream
        self.prefix = prefix
        self.enabled = enabled
        self.compiled = 0
        self.seconds = 0.0
        self._depth = 0
        self._t0 = 0.0
        self._announced = False
        self._listener = None

    def on_start(self, ev):
        if self._depth == 0:
            self._t0 = time.perf_counter()
        self._depth += 1
        if self.enabled and not self._announced:
            self._announced = True
            stream = self.stream or sys.stderr
            print(f"{self.prefix}: {NOTICE}", file=stream, flush=True)

    def on_end(self, ev):
        self._depth = max(0, self._depth - 1)
        self.compiled += 1
        if self._depth == 0:
            self.seconds += time.perf_counter() - self._t0

    def summary(self) -> str:
        """One line: how many kernels compiled and how long it took ('' when none did)."""
        if not self.compiled:
            return ""
        return f"{self.prefix}: compiled {self.compiled} Numba kernels in {self.seconds:.0f} s; cached for later runs"

    def remove(self):
        """Stop listening."""
        if self._listener is not None:
            from numba.core import event

            try:
                event.unregister("numba:compile", self._listener)
            except ValueError:
                pass
            self._listener = None


def _wants_notice(stream) -> bool:
    mode = os.environ.get("MINICNN_COMPILE_NOTICE", "auto").strip().lower()
    if mode in ("always", "1", "yes"):
        return True
    if mode in ("never", "0", "no"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


_installed: CompileNotice | None = None


def announce_compilation(stream=None, prefix="minicnn") -> CompileNotice:
    """Print one line to `stream` (default stderr) when a Numba kernel first compiles in this process.

    Returns the installed :class:`CompileNotice` (its :meth:`~CompileNotice.summary` says how many kernels
    compiled). The line is printed only when the stream is a terminal, unless ``MINICNN_COMPILE_NOTICE``
    says ``always`` or ``never``. Counting happens either way. Calling it again replaces the previous
    notice (one listener per process, so a program may call it once per command).
    """
    global _installed
    from numba.core import event

    if _installed is not None:
        _installed.remove()

    class _Listener(event.Listener):
        def on_start(self, ev):
            notice.on_start(ev)

        def on_end(self, ev):
            notice.on_end(ev)

    target = stream or sys.stderr
    notice = CompileNotice(stream, prefix, enabled=_wants_notice(target))
    notice._listener = _Listener()
    event.register("numba:compile", notice._listener)
    _installed = notice
    return notice
