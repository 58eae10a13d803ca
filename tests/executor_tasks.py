"""Module-level task functions for the executor tests (worker processes must be able to import them)."""

import os

import numpy as np


def checksum_task(seed: int) -> bytes:
    """A deterministic, slightly heavy per-item computation returning bytes."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((64, 64))
    return (a @ a.T).astype(np.float32).tobytes()


def failing_task(item: int) -> int:
    if item == 3:
        raise ValueError(f"item {item} is bad")
    return item * 10


def flaky_task(marker_dir: str) -> str:
    """Fails on the first call for a folder, succeeds on the second (the retry)."""
    flag = os.path.join(marker_dir, "tried")
    if not os.path.exists(flag):
        open(flag, "w").close()
        raise RuntimeError("transient failure")
    return "ok"


def dying_task(item: int) -> int:
    """Item 2 kills its own process at once, as the OOM killer would (SIGKILL): worker processes only."""
    if item == 2:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    return item * 10
