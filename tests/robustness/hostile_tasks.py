"""Worker functions for the process tests (module level, so that worker processes can import them)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def slow_task_with_temp_file(item: tuple[str, int]) -> int:
    """Write ``<folder>/task_<i>.pid`` (the worker's pid), hold a temporary file open, sleep a long time.

    The temporary file is removed when the task unwinds, as real tasks remove theirs.
    """
    folder, i = item
    tmp = Path(folder) / f".task_{i}.tmp"
    tmp.write_text("partial")
    try:
        (Path(folder) / f"task_{i}.pid").write_text(str(os.getpid()))
        time.sleep(60)
        (Path(folder) / f"task_{i}.done").write_text("done")
    finally:
        tmp.unlink(missing_ok=True)
    return i
