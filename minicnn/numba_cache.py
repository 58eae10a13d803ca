"""Where Numba keeps compiled functions: a writable folder, even on a read-only install.

The fast kernels are compiled with ``cache=True``. Numba stores the machine code next to the
source (``__pycache__``) or, when that folder is not writable, in the user's cache folder
(``~/.cache/numba``). On a read-only install run by a user without a writable home folder (a
container, a shared cluster account) neither works and Numba refuses to compile at all
("cannot cache function ...: no locator available"). :func:`ensure_writable_cache` then points
``NUMBA_CACHE_DIR`` at a per-user folder in the temporary directory, so the program starts and
only the cache is lost between machines. It runs when :mod:`minicnn` is imported and does
nothing when ``NUMBA_CACHE_DIR`` is set or one of Numba's own places is writable.
"""

from __future__ import annotations

import os
import sys
import tempfile

__all__ = ["ensure_writable_cache"]


def _writable_folder(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def ensure_writable_cache(package_dir: str | None = None) -> str | None:
    """Make sure Numba has a writable cache folder; returns the fallback chosen, or None.

    Parameters
    ----------
    package_dir : str, optional
        The folder whose ``__pycache__`` Numba would use (default: this package's).
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    package_dir = package_dir or os.path.dirname(os.path.abspath(__file__))
    if os.access(package_dir, os.W_OK):
        return None  # Numba caches next to the sources
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if _writable_folder(os.path.join(cache_home, "numba")):
        return None  # Numba's user-wide cache works
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    fallback = os.path.join(tempfile.gettempdir(), f"minicnn-numba-cache-{uid}")
    if not _writable_folder(fallback):
        return None  # nothing better to offer: Numba will say what is wrong
    os.environ["NUMBA_CACHE_DIR"] = fallback
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba already imported: it read the environment before us
        config.CACHE_DIR = fallback
    return fallback
