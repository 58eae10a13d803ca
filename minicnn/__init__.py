"""minicnn: a small CNN and decision-tree library written from scratch in NumPy and Numba.

Students build it in the generic exercises (G01-G10). Every hot operation has a naive
version (readable loops) and a fast version with the same signature.
"""

__version__ = "0.1.0"

from minicnn.numba_cache import ensure_writable_cache

ensure_writable_cache()  # before any kernel is compiled: a read-only install without a home still runs

from minicnn.compilation import announce_compilation as _announce_compilation  # noqa: E402

_announce_compilation()  # on a terminal, one line when a Numba kernel compiles (the first run after an install)

from minicnn.sequential import Sequential  # noqa: E402

__all__ = ["Sequential", "__version__"]
