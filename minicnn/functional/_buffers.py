"""Work buffers reused between calls of the fast kernels.

A :class:`Workspace` belongs to one caller (normally one layer) and hands out scratch arrays by
name. The same name with the same shape and dtype returns the same array, so a training loop
allocates its large im2col matrices once instead of once per minibatch. Buffers are private
to their owner: two layers never share a workspace, so one layer cannot overwrite data that
another still needs for its backward pass.
"""

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

    def clear(self):
        """Drop every cached array (frees the memory)."""
        self._arrays.clear()

    def nbytes(self):
        """Total size of the cached arrays in bytes."""
        return sum(a.nbytes for a in self._arrays.values())


def scratch(workspace, name, shape, dtype):
    """Array from `workspace`, or a fresh one when `workspace` is None."""
    if workspace is None:
        return np.empty(shape, dtype=dtype)
    return workspace.get(name, shape, dtype)
