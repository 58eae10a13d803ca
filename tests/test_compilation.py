"""Numba start-up: the compile notice (one line, only while compiling)."""

import io

import numpy as np
from numba import njit

import minicnn.compilation as compilation


def test_notice_is_printed_once_while_kernels_compile(monkeypatch):
    monkeypatch.setenv("MINICNN_COMPILE_NOTICE", "always")
    stream = io.StringIO()
    notice = compilation.announce_compilation(stream, prefix="camelyon")
    try:
        @njit
        def double(x):
            return 2 * x

        double(np.float32(3.0))
        double(np.arange(3))  # a second signature compiles again: counted, not printed again
        double(np.float32(4.0))  # already compiled: nothing
    finally:
        notice.remove()
    lines = stream.getvalue().splitlines()
    assert lines == [f"camelyon: {compilation.NOTICE}"]
    assert notice.compiled >= 2 and notice.seconds > 0
    assert notice.summary().startswith(f"camelyon: compiled {notice.compiled} Numba kernels in ")


def test_no_notice_when_nothing_compiles_or_not_a_terminal(monkeypatch):
    monkeypatch.delenv("MINICNN_COMPILE_NOTICE", raising=False)
    stream = io.StringIO()  # not a terminal: counted only
    notice = compilation.announce_compilation(stream)
    try:
        @njit
        def triple(x):
            return 3 * x

        triple(1.0)
    finally:
        notice.remove()
    assert stream.getvalue() == "" and notice.compiled >= 1
    quiet = compilation.announce_compilation(io.StringIO())
    quiet.remove()
    assert quiet.summary() == ""
