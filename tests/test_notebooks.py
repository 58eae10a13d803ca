"""Every exercise notebook is committed without outputs, matches its source and executes (each in < 2 min)."""

# teaching: no-regions

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDERS = [REPO / "generic_exercises", REPO / "specific_exercises"]
NOTEBOOKS = sorted(p for folder in FOLDERS for p in folder.glob("*.ipynb"))
#: The specific notebooks share one synthetic cohort and tile model under runs/: one xdist worker runs them
#: in order (``--dist loadgroup``), so that none reads the cohort while another is painting it.
EXECUTED = [
    pytest.param(p, marks=pytest.mark.xdist_group("specific_notebooks")) if p.parent.name == "specific_exercises"
    else p
    for p in NOTEBOOKS
]
#: Wall-clock budget of one notebook: the issue asks for < 2 min. A loaded shared machine may set
#: NOTEBOOK_BUDGET_SECONDS higher; the measured times are printed (run with -s) for the report.
BUDGET_SECONDS = float(os.environ.get("NOTEBOOK_BUDGET_SECONDS", "120"))


def test_notebooks_exist():
    assert len(list((REPO / "generic_exercises").glob("G*.ipynb"))) >= 1


@pytest.mark.parametrize("folder", [f for f in FOLDERS if (f / "_src").is_dir()], ids=lambda f: f.name)
def test_notebooks_match_their_sources(folder):
    proc = subprocess.run(
        [sys.executable, str(REPO / "generic_exercises" / "_build.py"), "--src", str(folder / "_src"),
         "--out", str(folder), "--check"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, "rebuild with generic_exercises/_build.py:\n" + proc.stdout


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_committed_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, f"{path.name}: cell {index}"


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path", EXECUTED, ids=lambda p: p.stem)
def test_notebook_executes(path, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    client = NotebookClient(
        nb, timeout=int(BUDGET_SECONDS), kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    figures = sum(
        "image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
    )
    print(f"{path.name}: {seconds:.1f} s, {figures} figures")
    assert figures >= 1, f"{path.name} shows no figure"
    assert seconds < BUDGET_SECONDS, f"{path.name} took {seconds:.0f} s (budget {BUDGET_SECONDS} s)"
