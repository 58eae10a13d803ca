"""Work buffers owned by the caller of the fast kernels (normally a layer).

A :class:`Workspace` belongs to one owner and hands out arrays by name. Its arrays live as long as
the workspace (the layer) and the rule for reusing them is explicit, never guessed from reference
counts:

- **scratch** arrays (:meth:`Workspace.scratch`: im2col columns, argmax indices, partial sums) are
  only used during one kernel call and are reused by the next call;
- **output** arrays (:meth:`Workspace.output`: a layer's output and its input gradient) are handed to
  the caller. By default every call returns a new array, which the caller may keep as long as it
  likes. Only when the owner declares ``reuse_outputs = True`` does the workspace return the same
  array again, which the next call under that name overwrites. :class:`minicnn.Sequential` declares
  it for the layers inside a network, whose outputs are read only by the next layer before that
  layer's next call; a layer used on its own keeps the safe default.

Arrays are kept per (name, shape, dtype), up to ``keep`` shapes per name, so that alternating batch
sizes (training batches, the last partial batch, validation batches) do not reallocate every time.
"""

import numpy as np


class Workspace:
    """Named arrays whose lifetime is their owner's.

    Parameters
    ----------
    keep : int
        Arrays of different shapes or dtypes kept per name (the least recently used is dropped).

    Attributes
    ----------
    reuse_outputs : bool
        False (default): :meth:`output` returns a new array every call. True: it returns the
        workspace's own array, overwritten by the next call under the same name.

    Examples
    --------
    >>> ws = Workspace()
    >>> a = ws.scratch("cols", (2, 3), np.float32)
    >>> a is ws.scratch("cols", (2, 3), np.float32)
    True
    >>> ws.output("out", (2, 3), np.float32) is ws.output("out", (2, 3), np.float32)
    False
    >>> ws.reuse_outputs = True
    >>> ws.output("out", (2, 3), np.float32) is ws.output("out", (2, 3), np.float32)
    True
    """

    def __init__(self, keep=3):
        self.keep = max(1, int(keep))
        self.reuse_outputs = False
        self._arrays = {}  # name -> list of arrays, most recently used last

    def _lookup(self, name, shape, dtype):
        shape = tuple(int(s) for s in shape)
        dtype = np.dtype(dtype)
        kept = self._arrays.setdefault(name, [])
        for i, arr in enumerate(kept):
            if arr.shape == shape and arr.dtype == dtype:
                if i != len(kept) - 1:
                    kept.append(kept.pop(i))
                return arr
        arr = np.empty(shape, dtype=dtype)
        if len(kept) >= self.keep:
            kept.pop(0)
        kept.append(arr)
        return arr

    def scratch(self, name, shape, dtype):
        """An uninitialised work array, reused by every call that asks for `name` with this shape and dtype.

        Its contents are valid only until the next request under `name`: never return it as a result
        (a kernel's cache may refer to it, e.g. the max-pool argmax, until the next forward call).
        """
        return self._lookup(name, shape, dtype)

    # earlier name of scratch()
    get = scratch

    def output(self, name, shape, dtype):
        """An uninitialised array to return to the caller (an output or an input gradient).

        A new array unless :attr:`reuse_outputs` is True; then the workspace's own array, which the
        next request under `name` (with this shape and dtype) overwrites.
        """
        if not self.reuse_outputs:
            return np.empty(tuple(int(s) for s in shape), dtype=dtype)
        return self._lookup("output:" + name, shape, dtype)

    def owns(self, arr):
        """True when `arr` (or the array it is a view of) may share memory with an array of this workspace."""
        if not isinstance(arr, np.ndarray):
            return False
        return any(np.may_share_memory(arr, a) for kept in self._arrays.values() for a in kept)

    def clear(self):
        """Drop every kept array (frees the memory)."""
        self._arrays.clear()

    def nbytes(self):
        """Total size of the kept arrays in bytes."""
        return sum(a.nbytes for kept in self._arrays.values() for a in kept)


def scratch(workspace, name, shape, dtype):
    """Work array from `workspace` (see :meth:`Workspace.scratch`), or a fresh one when `workspace` is None."""
    if workspace is None:
        return np.empty(shape, dtype=dtype)
    return workspace.scratch(name, shape, dtype)


def output(workspace, name, shape, dtype):
    """Output array from `workspace` (see :meth:`Workspace.output`), or a fresh one when `workspace` is None."""
    if workspace is None:
        return np.empty(shape, dtype=dtype)
    return workspace.output(name, shape, dtype)
