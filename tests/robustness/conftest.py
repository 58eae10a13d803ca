"""Fixtures of the robustness suite: small slides and a small disk, made by the tests themselves."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from wsi_factory import make_cohort, small_cohort_specs


@pytest.fixture(scope="session")
def _cohort_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("robust_cohort")
    make_cohort(root, small_cohort_specs())
    return root


@pytest.fixture
def cohort(_cohort_template, tmp_path) -> tuple[Path, Path]:
    """(slides folder, annotations folder) of three small CAMELYON17-named slides, a fresh copy per test."""
    root = tmp_path / "cohort"
    shutil.copytree(_cohort_template, root)
    return root / "slides", root / "annotations"


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs folder: a real full disk (ENOSPC). Skipped where mounting is not allowed."""
    mnt = tmp_path / f"disk_{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root): full-disk case not run")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
