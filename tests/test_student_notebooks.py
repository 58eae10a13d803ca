"""The student edition as a student sees it: every notebook of a blank edition runs up to its own exercises.

A blank student edition (every solution region a stub) is released once per test session into a shared
temporary folder. Each notebook is executed from its first cell, as "Run all" would: it must stop only at
one of its own exercises or at a prerequisite it declares (``minicnn.teaching.progress.PREREQUISITES``),
and the stop must be the one line of ``start_notebook`` ("S08 needs G09: ...; write it ..."), not a
traceback. Starting at S07, S08 or S09 works from the shipped checkpoint data (sample heatmaps, features,
slide labels). The wall-clock time of each notebook is printed (run with ``-s``) for the report.
"""

# teaching: no-regions

import os
from pathlib import Path

import pytest
from student_editions import allowed_stops, check_stop, edition_or_skip, is_solution_edition, run_notebook
from student_editions import blank_edition as make_blank_edition

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.relative_to(REPO).as_posix() for f in ("generic_exercises", "specific_exercises")
                   for p in (REPO / f).glob("[GS][0-9][0-9]_*.ipynb"))  # fmt: skip
#: S notebooks share the blank edition's tile store and tile model under runs/: one xdist worker runs them in order.
PARAMS = [
    pytest.param(rel, marks=pytest.mark.xdist_group("student_s_notebooks")) if rel.startswith("specific") else rel
    for rel in NOTEBOOKS
]
TIMEOUT = int(os.environ.get("NOTEBOOK_BUDGET_SECONDS", "300"))


@pytest.fixture(scope="session")
def blank_edition(tmp_path_factory):
    """A blank student edition of this repository, released once for all xdist workers of the run."""
    return edition_or_skip(make_blank_edition, tmp_path_factory)


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("rel", PARAMS, ids=lambda r: Path(r).stem[:3])
def test_blank_edition_notebook_stops_only_at_its_own_exercises(blank_edition, rel):
    seconds, error = run_notebook(blank_edition / rel, TIMEOUT)
    check_stop(rel, seconds, error, allowed_stops(rel))


def test_blank_edition_gets_the_students_readme_and_checkpoints(blank_edition):
    readme = (blank_edition / "README.md").read_text(encoding="utf-8")
    for wanted in ("make install-dev", "jupyter lab", "python -m pytest -m G03", "Save the notebook first",
                   "Which exercise needs which", "Starting mid-way", "G08  decision trees", "graph LR", "make demo"):
        assert wanted in readme, wanted
    for instructor_only in ("minicnn.teaching grade", "minicnn.teaching release", "make student", "PyTorch",
                            "benchmarks/", "BEGIN SOLUTION"):
        assert instructor_only not in readme, instructor_only
    exercises = (blank_edition / "EXERCISES.md").read_text(encoding="utf-8")
    assert "- S08 needs G08, G09, G10" in exercises and "sample slide labels" in exercises
    samples = blank_edition / "specific_exercises" / "sample_heatmaps"
    for name in ("features.csv", "slide_predictions.csv", "stage_labels.csv", "thumbnails.npz"):
        assert (samples / name).is_file(), name
    assert not (blank_edition / "tests" / "hidden").exists() and not (blank_edition / "grading.toml").exists()


def test_shipped_checkpoints_are_what_the_reference_computes():
    """features.csv and slide_predictions.csv next to the sample heatmaps are current (rewrite them with
    ``python specific_exercises/make_sample_heatmaps.py --checkpoints``)."""
    import importlib.util
    import sys

    if not is_solution_edition():
        pytest.skip("the student edition cannot recompute the checkpoints before its exercises are written")
    folder = REPO / "specific_exercises"
    sys.path[:0] = [str(folder)]
    try:
        spec = importlib.util.spec_from_file_location("make_sample_heatmaps", folder / "make_sample_heatmaps.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        texts = module.checkpoint_texts(folder / "sample_heatmaps")
    finally:
        sys.path.remove(str(folder))
    for name, text in texts.items():
        assert (folder / "sample_heatmaps" / name).read_text(encoding="utf-8") == text, f"{name} is out of date"
