"""Numba start-up: the compile notice (one line, only while compiling) and the writable cache fallback."""

import io

import numba
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


def test_cache_falls_back_to_a_temporary_folder_when_nothing_else_is_writable(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", "")  # so that monkeypatch restores the variable afterwards
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setattr(compilation, "_writable", lambda folder: False)
    monkeypatch.setattr(compilation.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)  # restored afterwards
    folder = compilation.ensure_writable_cache()
    assert folder.parent == tmp_path and folder.name.startswith("minicnn-numba-cache-") and folder.is_dir()
    assert numba.config.CACHE_DIR == str(folder)
    import os

    assert os.environ["NUMBA_CACHE_DIR"] == str(folder)


def test_cache_prefers_the_install_folder_then_the_user_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", "")  # so that monkeypatch restores the variable afterwards
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    assert compilation.ensure_writable_cache().name == "__pycache__"
    monkeypatch.setattr(compilation, "_writable", lambda folder: folder == tmp_path)
    monkeypatch.setattr(compilation, "_user_cache_dir", lambda: tmp_path)
    assert compilation.ensure_writable_cache() == tmp_path
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "given"))
    assert compilation.ensure_writable_cache() == tmp_path / "given"
