"""A read-only install run by a user without a writable home folder still starts (Numba cache).

The package is copied to a folder bind-mounted read-only (needs root; skipped otherwise) and run
with HOME inside that read-only folder: Numba can cache neither next to the sources nor in
~/.cache, and without the fallback refuses to compile ("no locator available").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CODE = """
import os
import numpy as np
import camelyon
from minicnn.functional.pooling_fast import avg_pool2d_forward_fast
out, _ = avg_pool2d_forward_fast(np.ones((1, 1, 4, 4), np.float32), 2)
print(float(out.sum()), os.environ.get("NUMBA_CACHE_DIR"))
"""


@pytest.fixture
def read_only_install(tmp_path):
    src, mnt = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    mnt.mkdir()
    for pkg in ("minicnn", "camelyon"):
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    ok = subprocess.run(["mount", "--bind", str(src), str(mnt)], capture_output=True).returncode == 0
    if ok and subprocess.run(["mount", "-o", "remount,bind,ro", str(mnt)], capture_output=True).returncode != 0:
        subprocess.run(["umount", str(mnt)], capture_output=True)
        ok = False
    if not ok:
        pytest.skip("cannot bind-mount a read-only folder here (needs root): read-only install case not run")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_read_only_install_without_a_home_folder_starts(read_only_install, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_CACHE", "XDG_CACHE"))}
    env.update(HOME=str(read_only_install / "no_home"), PYTHONPATH=str(read_only_install), TMPDIR=str(tmp))
    r = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    total, cache_dir = r.stdout.split()
    assert float(total) == 4.0
    assert cache_dir == str(tmp / f"minicnn-numba-cache-{os.getuid()}")
    assert any(Path(cache_dir).rglob("*.nbi")), "nothing was cached in the fallback folder"
