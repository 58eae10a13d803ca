"""Work buffers reused between calls of the fast kernels.

A :class:`Workspace` belongs to one caller (normally one layer) and hands out scratch arrays by
name. The same name with the same shape and dtype returns the same array, so a training loop
allocates its large im2col matrices once instead of once per minibatch. Buffers are private
to their owner: two layers never share a workspace, so one layer cannot overwrite data that
another still needs for its backward pass.
"""

import sys

import numpy as np


class Workspace:
    """Named scratch arrays cached by (name, shape, dtype).

    Examples
    --------
    >>> ws = Workspace()
    >>> a = ws.get("cols", (2, 3), np.float32)
    >>> a is ws.get("cols", (2, 3), np.float32)
    True
    """

    def __init__(self):
        self._arrays = {}
        self._pools = {}

    def get(self, name, shape, dtype):
        """Return an uninitialised array called `name` of the given shape and dtype.

        The array is reused when the previous request under `name` had the same shape and
        dtype; otherwise a new array replaces it.
        """
        shape = tuple(int(s) for s in shape)
        dtype = np.dtype(dtype)
        arr = self._arrays.get(name)
        if arr is None or arr.shape != shape or arr.dtype != dtype:
            arr = np.empty(shape, dtype=dtype)
            self._arrays[name] = arr
        return arr

    def recycled(self, name, shape, dtype, keep=3):
        """An uninitialised array that nobody outside this workspace references any more.

        Used for arrays that a layer hands out (outputs, input gradients). Such an array may
        still be in use after the call returns (the next layer caches it; the caller keeps it),
        so it can be reused only once every outside reference is gone; Python's reference count
        tells. Views count too (they hold a reference to their base). Up to `keep` arrays are
        kept per name; reusing them avoids the page faults of a fresh large allocation.
        """
        shape = tuple(int(s) for s in shape)
        dtype = np.dtype(dtype)
        pool = self._pools.setdefault(name, [])
        for i in range(len(pool)):
            arr = pool[i]
            # references: the pool list, getrefcount's argument and the local name `arr`
            if arr.shape == shape and arr.dtype == dtype and sys.getrefcount(arr) <= 3:
                return arr
        arr = np.empty(shape, dtype=dtype)
        if len(pool) >= keep:
            # forget the oldest; if someone still holds it, it simply stays theirs
            pool.pop(0)
        pool.append(arr)
        return arr

    def clear(self):
        """Drop every cached array (frees the memory)."""
        self._arrays.clear()
        self._pools.clear()

    def nbytes(self):
        """Total size of the cached arrays in bytes."""
        pooled = sum(a.nbytes for pool in self._pools.values() for a in pool)
        return sum(a.nbytes for a in self._arrays.values()) + pooled


def scratch(workspace, name, shape, dtype):
    """Array from `workspace`, or a fresh one when `workspace` is None."""
    if workspace is None:
        return np.empty(shape, dtype=dtype)
    return workspace.get(name, shape, dtype)


def fresh(workspace, name, shape, dtype):
    """A recycled array from `workspace` (see :meth:`Workspace.recycled`), or a new one when None."""
    if workspace is None:
        return np.empty(shape, dtype=dtype)
    return workspace.recycled(name, shape, dtype)

