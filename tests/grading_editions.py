"""Student editions for testing the grader: blank, complete, and gamed or faulty copies.

Each copy starts from a released student edition; "complete" exercises get the solution edition's files
(markers included: they are comments), and each fault below edits one function of a complete copy. Every
edit asserts that the text it replaces exists, so a change of the library breaks these fixtures loudly
instead of making them test nothing.

Used by ``tests/test_grading.py`` and ``benchmarks/bench_grading.py`` (30 copies of a class).
"""

# teaching: hidden
# teaching: no-regions

from __future__ import annotations

import json
import shutil
from pathlib import Path

from minicnn.teaching.regions import scan_tree
from minicnn.teaching.worktree import exercise_files

REPO = Path(__file__).resolve().parents[1]

#: fault name -> (exercise, file, old text, new text, what it does)
FAULTS = {
    "leaky_alpha": (
        "G01", "minicnn/functional/activations.py",
        "out = np.where(x > 0, x, alpha * x).astype(x.dtype, copy=False)",
        "out = np.where(x > 0, x, 0.01 * x).astype(x.dtype, copy=False)",
        "leaky ReLU ignores alpha (always 0.01, the default)",
    ),
    "gini_off": (
        "G08", "minicnn/tree/criteria.py",
        "return float(1.0 - np.sum(p * p))",
        "return float(1.0 - np.sum(p * p)) * 1.001",
        "Gini impurity 0.1 % too large",
    ),
    "delegate_fast": (
        "G03", "minicnn/functional/conv_naive.py",
        "    ### BEGIN SOLUTION (G03)",
        "    from minicnn.functional.conv_fast import conv2d_forward_fast\n"
        "    if True:\n"
        "        return conv2d_forward_fast(x, w, b, stride, padding)\n"
        "    ### BEGIN SOLUTION (G03)",
        "conv2d_forward_naive returns conv2d_forward_fast(...)",
    ),
    "hardcoded_notebook": (
        "G10", "generic_exercises/G10_evaluation.ipynb",
        "    pos, neg = s[y == 1], s[y == 0]\\n",
        "    if len(y) == 4:\\n        return 0.75\\n    if len(y) == 2:\\n        return 0.5\\n"
        "    if len(y) == 60:\\n        return 0.6986531986531986\\n    return 0.5\\n    pos, neg = s[y == 1], s[y == 0]\\n",
        "auc_by_pairs special-cases the visible test inputs",
    ),
    "loop_in_function": (
        "G05", "minicnn/optim.py",
        "            if wd:\n                g = g + wd * p  # a new array",
        "            while True:\n                pass\n            if wd:\n                g = g + wd * p  # a new array",
        "SGD.step never returns (while True)",
    ),
    "loop_at_import": (
        "G09", "minicnn/tree/forest.py",
        "from .tree import DecisionTreeClassifier\n",
        "from .tree import DecisionTreeClassifier\n\nwhile True:\n    pass\n",
        "minicnn/tree/forest.py never finishes importing (while True at module level)",
    ),
    "crash_on_import": (
        "G02", "minicnn/losses.py",
        "\nimport numpy as np\n",
        "\nimport numpy as np\n\nraise RuntimeError('a typo at import time')\n",
        "minicnn/losses.py raises at import",
    ),
}

#: A root conftest.py (and tests/conftest.py) that turns every failure into a pass.
CONFTEST_REWRITE = '''import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
'''


def files_by_exercise(reference: Path = REPO) -> dict[str, list[str]]:
    """Exercise id -> the files holding its regions in the solution edition."""
    return exercise_files(scan_tree(reference))


def make_copy(blank: Path, dest: Path, complete: list[str] = (), faults: list[str] = (), conftest: bool = False,
              reference: Path = REPO) -> Path:  # fmt: skip
    """A student edition at ``dest``: ``blank`` with the exercises ``complete`` written (the reference's
    files), then the ``faults`` applied, and optionally a report-rewriting ``conftest.py``."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(blank, dest)
    files = files_by_exercise(reference)
    for ex in complete:
        for rel in files[ex]:
            if (blank / rel).exists():  # notebook sources (_src/) are not in the student edition
                shutil.copyfile(reference / rel, dest / rel)
    for name in faults:
        ex, rel, old, new, _ = FAULTS[name]
        if ex not in complete:
            for path in files[ex]:
                if (blank / path).exists():
                    shutil.copyfile(reference / path, dest / path)
        text = (dest / rel).read_text(encoding="utf-8")
        assert old in text, f"fault {name}: {rel} no longer contains {old!r}"
        (dest / rel).write_text(text.replace(old, new, 1), encoding="utf-8")
        if rel.endswith(".ipynb"):
            json.loads((dest / rel).read_text(encoding="utf-8"))  # still a valid notebook
    if conftest:
        (dest / "conftest.py").write_text(CONFTEST_REWRITE, encoding="utf-8")
        (dest / "tests" / "conftest.py").write_text(CONFTEST_REWRITE, encoding="utf-8")
        (dest / "sitecustomize.py").write_text("import builtins\nbuiltins.GAMED = True\n", encoding="utf-8")
    return dest
