"""minicnn: a small CNN and decision-tree library written from scratch in NumPy and Numba.

Students build it in the generic exercises (G01-G10). Every hot operation has a naive
version (readable loops) and a fast version with the same signature.
"""

__version__ = "0.1.0"

from minicnn.compilation import ensure_writable_cache as _ensure_writable_cache

_ensure_writable_cache()  # before any Numba kernel is defined: a read-only install still caches

from minicnn.sequential import Sequential  # noqa: E402

__all__ = ["Sequential", "__version__"]
