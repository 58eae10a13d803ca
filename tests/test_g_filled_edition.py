"""A student edition with every G exercise written: S01-S09 stop only at their own exercise; the demo runs.

A student who has written G01-G10 must be able to run every S notebook up to its own exercise (no stop at a
G exercise, no other S exercise, no traceback) and ``make demo`` as far as the S exercises of the library
(``camelyon/features.py::core_features`` of S07 and the staging and kappa of S09). The edition is the blank
student edition with the solution edition's files of G01-G10 copied in (``tests/student_editions.py``).

``camelyon demo --small`` (6 small patients, one epoch) runs three times into one folder, as a student
would: in the blank edition (cohort, split and tiles need no exercise; training stops at a G exercise), in
the G edition (it resumes, trains, computes heatmaps and stops at S07, listing S07 and S09 as still to
write), and with the S07 and S09 modules written too (it resumes and reaches the kappa and the report).
"""

# teaching: no-regions

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from student_editions import blank_edition as make_blank_edition
from student_editions import check_stop, edition_or_skip, g_filled_edition, run_notebook, shared_folder

REPO = Path(__file__).resolve().parents[1]
S_NOTEBOOKS = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "specific_exercises").glob("S[0-9][0-9]_*.ipynb"))
#: One xdist worker runs the G edition's notebooks and its demo, in order: they share its runs/ folder.
GROUP = pytest.mark.xdist_group("g_filled_edition")
TIMEOUT = int(os.environ.get("NOTEBOOK_BUDGET_SECONDS", "300"))


def s_library_files() -> list[str]:
    """The library modules holding S regions (S07's features, S09's staging and kappa): the demo needs them."""
    from minicnn.teaching.regions import scan_tree
    from minicnn.teaching.worktree import exercise_files

    files = exercise_files(scan_tree(REPO))
    return sorted(rel for ex, paths in files.items() if ex.startswith("S") for rel in paths
                  if rel.endswith(".py") and rel.startswith(("camelyon/", "minicnn/")))  # fmt: skip


@pytest.fixture(scope="session")
def g_edition(tmp_path_factory):
    return edition_or_skip(g_filled_edition, tmp_path_factory)


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("rel", [pytest.param(r, marks=GROUP) for r in S_NOTEBOOKS], ids=lambda r: Path(r).stem[:3])
def test_s_notebook_with_every_g_written_stops_only_at_its_own_exercise(g_edition, rel):
    exercise = Path(rel).name[:3]
    seconds, error = run_notebook(g_edition / rel, TIMEOUT)
    found = check_stop(rel, seconds, error, {exercise})
    assert found is not None and found.exercise == exercise, f"{rel} did not reach its own exercise {exercise}"


def _demo(edition: Path, out: Path) -> tuple[int, str]:
    """``camelyon demo --small`` of ``edition`` into ``out`` (exit status, stdout + stderr); prints its time."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS")}
    env.update(PYTHONPATH=str(edition), PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "camelyon", "demo", "--small", "--quiet", "--workers", "2", "--out", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=edition, env=env, capture_output=True, text=True, timeout=1200)
    print(f"camelyon demo --small in {edition.name}: exit {proc.returncode} after {time.perf_counter() - start:.1f} s")
    return proc.returncode, proc.stdout + proc.stderr


def _still_to_write(text: str) -> set[str]:
    """Exercises the demo lists as still to write (lines ``  G01: 17 functions (...)``)."""
    return set(re.findall(r"^  ([GS]\d\d): \d+ functions?", text, flags=re.M))


def _ran(text: str) -> list[str]:
    """Pipeline steps that ran (``[tiles] done in ...``) in a demo's output."""
    return re.findall(r"^\[(\w+)\] done in", text, flags=re.M)


@GROUP
@pytest.mark.slow
def test_demo_runs_as_far_as_each_edition_allows(tmp_path_factory, g_edition, tmp_path):
    blank = make_blank_edition(shared_folder(tmp_path_factory))
    out = tmp_path / "demo"

    # blank edition: the cohort, the split and the tile store are course code; training needs G exercises
    status, text = _demo(blank, out)
    assert status == 3, text[-3000:]
    stop = re.search(r"it stopped at (G\d\d) not implemented: (\S+)", text)
    assert stop, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert (out / "data" / "stage_labels.csv").is_file() and (out / "run" / "tiles.h5").is_file()
    assert not (out / "run" / "model" / "tile_model.npz").exists()
    assert _still_to_write(text) == {f"G{i:02d}" for i in range(1, 11)} | {"S07", "S09"}, text[-2000:]
    print(f"blank edition: the demo stops at {stop.group(1)} ({stop.group(2)}) after {_ran(text)}")

    # every G written: the demo resumes (the tile store is kept), trains, computes heatmaps, stops at S07
    status, text = _demo(g_edition, out)
    assert status == 3, text[-3000:]
    assert "it stopped at S07 not implemented: camelyon/features.py::core_features" in text, text[-3000:]
    assert "tiles" not in _ran(text) and {"train", "heatmaps"} <= set(_ran(text)), text[-3000:]
    assert _still_to_write(text) == {"S07", "S09"}, text[-2000:]
    assert (out / "run" / "model" / "tile_model.npz").is_file() and any((out / "run" / "heatmaps").glob("*.npz"))

    # S07 and S09's library functions written too: it resumes from the heatmaps and reaches the end
    library = tmp_path / "library_edition"
    # Numba's caches of the G edition's run are kept (a cold compile costs tens of seconds); those of the files
    # replaced below are stale and recompiled (their source changed)
    shutil.copytree(g_edition, library, symlinks=True, ignore=shutil.ignore_patterns("runs"))
    written = s_library_files()
    assert "camelyon/features.py" in written and "camelyon/staging.py" in written, written
    for rel in written:
        shutil.copyfile(REPO / rel, library / rel)
    status, text = _demo(library, out)
    assert status == 0, text[-3000:]
    assert "quadratic weighted kappa" in text and "demo finished" in text, text[-3000:]
    assert not {"tiles", "train", "heatmaps"} & set(_ran(text)), text[-3000:]
    summary = json.loads((out / "run" / "run_summary.json").read_text(encoding="utf-8"))
    assert -1.0 <= summary["kappa"] <= 1.0 and (out / "run" / "report.html").is_file()


@GROUP
@pytest.mark.slow
def test_golden_values_pass_where_the_g_exercises_are_written(g_edition):
    # the release wrote tests/golden/*.npz from the solution; the solution's own G code, copied in, must match
    # them: a golden file computed from the wrong function, or a comparison that cannot pass, fails here
    from golden_cases import CASES

    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS")}
    env.update(PYTHONPATH=str(g_edition), PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
           "tests/test_golden.py"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=g_edition, env=env, capture_output=True, text=True, timeout=600)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]
    assert re.search(rf"\b{len(CASES)} passed\b", text) and "skipped" not in text, text[-3000:]
