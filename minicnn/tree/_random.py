"""A tiny seeded random stream shared by the naive (Python) and fast (Numba) tree builders.

Both builders must draw exactly the same feature orders to grow the same tree, so the stream is a
SplitMix64 generator whose whole state is one ``uint64`` in a length-1 array, compiled with Numba
and callable from Python and from other compiled functions.
"""

import numba
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def make_state(random_state):
    """Turn ``random_state`` (None, int or numpy.random.Generator) into a stream state.

    Returns
    -------
    ndarray of shape (1,), dtype uint64
        The state; pass it to :func:`shuffle_features`, which advances it in place.
    """
    if random_state is None:
        seed = np.random.SeedSequence().generate_state(1, np.uint64)[0]
    elif isinstance(random_state, np.random.Generator):
        seed = random_state.integers(0, 2**63, dtype=np.uint64)
    elif isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative integer, got {random_state}")
        seed = np.random.SeedSequence(int(random_state)).generate_state(1, np.uint64)[0]
    else:
        raise ValueError(
            f"random_state must be None, an int or a numpy.random.Generator, got {type(random_state).__name__}"
        )
    return np.array([seed], dtype=np.uint64)


@numba.njit(cache=True, nogil=True)
def next_uint64(state):
    """Advance the SplitMix64 state (uint64 array of length 1) and return the next 64-bit draw."""
    z = state[0] + _GOLDEN
    state[0] = z
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def shuffle_features(order, state):
    """Shuffle ``order`` (int64 array of feature indices) in place, Fisher-Yates, from ``state``."""
    n = order.shape[0]
    for i in range(n - 1):
        j = i + np.int64(next_uint64(state) % np.uint64(n - i))
        tmp = order[i]
        order[i] = order[j]
        order[j] = tmp
