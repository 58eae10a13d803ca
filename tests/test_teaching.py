"""minicnn.teaching: markers, the student edition, the one-line pytest report and grading, on a toy tree."""

# teaching: no-regions

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minicnn.teaching.notebooks import find_notebook, notebook_function
from minicnn.teaching.regions import MarkerError, find_notebook_regions, find_regions, scan_tree
from minicnn.teaching.release import ReleaseError, check, release, scan_for_leaks

B, E = "### BEGIN SOLUTION", "### END SOLUTION"

OPS = f'''\
"""Toy exercises."""

import numpy as np
from numba import njit


def double(x):
    """Twice x, element-wise.

    More text.
    """
    x = np.asarray(x, dtype=np.float64)
    {B} (G01)
    doubled_value_of_x = x * 2.0
    return doubled_value_of_x
    {E}


class Scaler:
    def scale(self, x, factor):
        """Multiply by a factor."""
        if factor == 0:
            return np.zeros_like(x)
        else:
            {B} (G01) multiply every entry by factor
            return np.multiply(x, factor)
            {E}


@njit(cache=False)
def add_one_kernel(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        {B} (G02)
        out[i] = x[i] + 1.0
        {E}
    return out


def unrelated(x):
    return x - 1
'''

TESTS = """\
import numpy as np
import pytest

from toypkg.ops import Scaler, add_one_kernel, double, unrelated


@pytest.mark.exercise("G01")
def test_double():
    assert np.allclose(double([1.0, 2.0]), [2.0, 4.0])


@pytest.mark.exercise("G01")
def test_scale():
    assert np.allclose(Scaler().scale(np.ones(3), 3.0), 3.0)


@pytest.mark.exercise("G02")
def test_add_one():
    assert np.allclose(add_one_kernel(np.zeros(4)), 1.0)


@pytest.mark.exercise("G02")
def test_add_one_hypothesis_style_group():
    errors = []
    for n in (1, 2):
        try:
            add_one_kernel(np.zeros(n))
        except NotImplementedError as exc:
            errors.append(exc)
    if errors:
        raise ExceptionGroup("several failures", errors)


@pytest.mark.exercise("G02")
def test_not_depending_on_the_region():
    assert unrelated(2) == 1


def test_unmarked():
    assert unrelated(1) == 0
"""

HIDDEN = """\
import numpy as np
import pytest

from toypkg.ops import double


@pytest.mark.exercise("G01")
def test_double_hidden_secret_case():
    assert np.allclose(double(np.arange(3.0)), [0.0, 2.0, 4.0])
"""

PROBES = """\
import numpy as np


def probe_double(rng):
    from toypkg.ops import double
    return {"out": double(rng.standard_normal(5))}


def probe_scale(rng):
    from toypkg.ops import Scaler
    return {"out": Scaler().scale(rng.standard_normal(4), 2.5)}


def probe_add_one(rng):
    from toypkg.ops import add_one_kernel
    return {"out": add_one_kernel(rng.standard_normal(6))}


PROBES = {"G01": [probe_double, probe_scale], "G02": [probe_add_one]}
"""


def _notebook(cells):
    return {
        "cells": [
            {
                "cell_type": kind,
                "metadata": {},
                "source": src,
                **({"outputs": outputs, "execution_count": 3} if kind == "code" else {}),
            }
            for kind, src, outputs in cells
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


NB_CELLS = [
    ("markdown", "# Toy\nLearn to double.", []),
    (
        "code",
        f"import numpy as np\n\ndef twice(v):\n    {B} (G01) return two times v\n    return v + v\n    {E}\n",
        [{"output_type": "stream", "name": "stdout", "text": "secret output"}],
    ),
    ("code", "!echo self-check\nprint(twice(2))", []),
]


def make_tree(root: Path) -> Path:
    """A toy solution edition: package, tests (one hidden), a notebook, caches and VCS to leave out."""
    files = {
        "pyproject.toml": '[tool.pytest.ini_options]\nmarkers = ["G01", "G02"]\n',
        "toypkg/__init__.py": '"""Toy package."""\n',
        "toypkg/ops.py": OPS,
        "tests/conftest.py": 'pytest_plugins = ["minicnn.teaching.pytest_plugin"]\n',
        "tests/test_ops.py": TESTS,
        "tests/hidden/test_secret.py": HIDDEN,
        "tests/test_other_hidden.py": "# teaching: hidden\ndef test_x():\n    assert True\n",
        "probes.py": PROBES,
        "data/blob.bin": "",
        ".gitignore": "__pycache__/\nruns/\n",
        "grading.toml": "[exercises.G01]\npoints = 10\n",
        "toypkg/__pycache__/ops.cpython-311.pyc": "compiled",
        "runs/demo/out.txt": "run output",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "data/blob.bin").write_bytes(bytes(range(256)))
    (root / "notebooks").mkdir()
    (root / "notebooks/toy.ipynb").write_text(json.dumps(_notebook(NB_CELLS)))
    (root / "notebooks/_src").mkdir()
    (root / "notebooks/_src/toy.py").write_text(f"# %%\ndef twice(v):\n    {B} (G01)\n    return v + v\n    {E}\n")
    git_commit(root, "toy solution edition")
    return root


def git_commit(root: Path, message: str) -> None:
    """``git add -A`` and commit in ``root`` (a repository is created on first use)."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}  # fmt: skip
    if not (root / ".git").exists():
        subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "commit", "-q", "--no-verify", "-m", message], check=True, env=env)


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "solution")


@pytest.fixture
def edition(tree, tmp_path):
    release(tree, tmp_path / "student")
    return tmp_path / "student"


def _env(*paths):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    for key in ("PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS"):
        env.pop(key, None)
    return env


# --------------------------------------------------------------------------------------------- regions


def test_regions_hint_function_and_indent():
    regions = find_regions(OPS, "toypkg/ops.py")
    assert [r.exercise for r in regions] == ["G01", "G01", "G02"]
    first, second, third = regions
    assert first.function == "double" and first.hint == "Twice x, element-wise." and first.indent == "    "
    assert second.function == "Scaler.scale" and second.hint == "multiply every entry by factor"
    assert second.indent == " " * 12
    assert third.function == "add_one_kernel" and third.hint == ""
    assert first.message() == "G01: implement double in toypkg/ops.py: Twice x, element-wise."
    assert first.body == ("    doubled_value_of_x = x * 2.0", "    return doubled_value_of_x")


@pytest.mark.parametrize(
    "source, line, words",
    [
        (f"x = 1\n{B} (G01)\ny = 2\n", 2, "never closed"),
        (f"{B} (G01)\na = 1\n    {B} (G02)\nb = 2\n{E}\n{E}\n", 3, "nested"),
        (f"a = 1\n{E}\n", 2, "without a matching BEGIN"),
        (f"{B}\na = 1\n{E}\n", 1, "exercise id"),
        (f"{B} (G01)\n\n{E}\n", 1, "empty"),
        (f"a = 1  {B} (G01)\n", 1, "alone on its line"),
    ],
)
def test_bad_markers_name_file_and_line(source, line, words):
    with pytest.raises(MarkerError, match=rf"^mod\.py:{line}: .*{words}"):
        find_regions(source, "mod.py")


def test_marker_text_inside_strings_is_not_a_marker():
    source = f'PATTERN = "{B} (G01)"\nDOC = """\n    {B} (G02)\n    x = 1\n"""\n'
    assert find_regions(source, "tool.py") == []


def test_notebook_regions_and_errors():
    nb = _notebook(NB_CELLS)
    (region,) = find_notebook_regions(nb, "toy.ipynb")
    assert region.cell == 1 and region.function == "twice" and region.hint == "return two times v"
    bad = _notebook([("code", f"{B} (G01)\nx = 1\n", [])])
    with pytest.raises(MarkerError, match=r"toy\.ipynb:cell 0:line 1: .*never closed"):
        find_notebook_regions(bad, "toy.ipynb")
    md = _notebook([("markdown", f"{B} (G01)\n", [])])
    with pytest.raises(MarkerError, match="only allowed in code cells"):
        find_notebook_regions(md, "toy.ipynb")


def test_scan_tree_skips_caches_and_pragma_files(tree):
    (tree / "toypkg/__pycache__/bad.py").write_text(f"{B} (G09)\n")
    (tree / "docs_example.py").write_text(f"# teaching: no-regions\ntext = '''\n{B} (G09)\n'''\n")
    regions = scan_tree(tree)
    assert {r.exercise for r in regions} == {"G01", "G02"}
    assert {r.path for r in regions} == {"toypkg/ops.py", "notebooks/toy.ipynb", "notebooks/_src/toy.py"}


# --------------------------------------------------------------------------------------------- release


def test_release_writes_the_student_edition(edition):
    ops = (edition / "toypkg/ops.py").read_text()
    assert '    raise NotImplementedError("G01: implement double in toypkg/ops.py: Twice x, element-wise.")\n' in ops
    assert (
        '            raise NotImplementedError("G01: implement Scaler.scale in toypkg/ops.py: '
        'multiply every entry by factor")\n' in ops
    )
    assert '        raise NotImplementedError("G02: implement add_one_kernel in toypkg/ops.py")\n' in ops
    assert "doubled_value_of_x" not in ops and "SOLUTION" not in ops
    assert "    x = np.asarray(x, dtype=np.float64)\n" in ops  # code outside the regions is kept
    compile(ops, "ops.py", "exec")
    # left out: VCS, caches, run outputs, hidden tests, grading weights
    for rel in (".git", "toypkg/__pycache__", "runs", "tests/hidden", "tests/test_other_hidden.py", "notebooks/_src", "grading.toml"):
        assert not (edition / rel).exists(), rel
    assert (edition / "data/blob.bin").read_bytes() == bytes(range(256))
    assert (edition / "tests/test_ops.py").exists() and (edition / "tests/conftest.py").exists()
    nb = json.loads((edition / "notebooks/toy.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert code[0]["source"].splitlines()[3] == (
        '    raise NotImplementedError("G01: implement twice in notebooks/toy.ipynb (cell 1): return two times v")'
    )
    assert "v + v" not in json.dumps(nb)
    assert "G01" in (edition / "EXERCISES.md").read_text()
    assert not list(edition.parent.glob(".student.tmp-*"))


def test_student_functions_raise_not_implemented_even_in_numba(edition):
    code = (
        "import numpy as np\n"
        "from toypkg.ops import add_one_kernel, double, unrelated\n"
        "assert unrelated(3) == 2\n"
        "for f in (double, add_one_kernel):\n"
        "    try:\n"
        "        f(np.zeros(3))\n"
        "    except NotImplementedError as exc:\n"
        "        print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=edition, env=_env(edition), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "G01: implement double in toypkg/ops.py: Twice x, element-wise.",
        "G02: implement add_one_kernel in toypkg/ops.py",
    ]


def test_notebook_function_runs_only_imports_and_definitions(tree, edition, tmp_path):
    cells = [
        ("code", "%matplotlib inline\nimport math\nboom = 1 / 0\n", []),
        ("code", "def helper(v):\n    return math.sqrt(v)\n\nundefined_name\n", []),
        ("markdown", "def target(v): not code", []),
        ("code", "def target(v):\n    return helper(v) + OFFSET\n\ntarget(-1)\n", []),
    ]
    path = tmp_path / "G99_toy.ipynb"
    path.write_text(json.dumps(_notebook(cells)))
    assert find_notebook(tmp_path, "G99") == path
    assert notebook_function(path, "target", {"OFFSET": 1.0})(16.0) == 5.0
    with pytest.raises(LookupError, match="G99_toy.ipynb: no code cell defines the function missing"):
        notebook_function(path, "missing")
    with pytest.raises(FileNotFoundError, match="G98_"):
        find_notebook(tmp_path, "G98")
    # in the student edition the function raises its region's message
    twice = notebook_function(edition / "notebooks/toy.ipynb", "twice")
    with pytest.raises(NotImplementedError, match="G01: implement twice in notebooks/toy.ipynb"):
        twice(2)
    assert notebook_function(tree / "notebooks/toy.ipynb", "twice")(2) == 4


def test_leak_scan_finds_what_was_left(tree, edition):
    regions = check(tree)
    assert scan_for_leaks(tree, edition, regions, ["tests/hidden/test_secret.py"]) == []
    with open(edition / "toypkg/extra.py", "w") as fh:
        fh.write("y = 1\n    doubled_value_of_x = x * 2.0\n# " + B + " (G01)\n")
    (edition / "tests/hidden").mkdir()
    (edition / "tests/hidden/test_secret.py").write_text("x = 1\n")
    (edition / "toypkg/__pycache__").mkdir()
    (edition / "toypkg/__pycache__/ops.cpython-311.pyc").write_bytes(b"\0")
    nb = json.loads((edition / "notebooks/toy.ipynb").read_text())
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "4"}]
    (edition / "notebooks/toy.ipynb").write_text(json.dumps(nb))
    leaks = "\n".join(scan_for_leaks(tree, edition, regions, ["tests/hidden/test_secret.py"]))
    assert "toypkg/extra.py:2: solution line of toypkg/ops.py::double leaked" in leaks
    assert "toypkg/extra.py:3: solution marker" in leaks
    assert "tests/hidden/test_secret.py: file left out on purpose" in leaks
    assert "compiled cache file" in leaks
    assert "notebooks/toy.ipynb:cell 1: notebook output" in leaks


def test_release_refuses_bad_trees_and_targets(tree, tmp_path):
    out = tmp_path / "student"
    with pytest.raises(ReleaseError, match="must not be the source tree"):
        release(tree, tree)
    release(tree, out)
    with pytest.raises(ReleaseError, match="not empty"):
        release(tree, out)
    release(tree, out, force=True)

    ops = tree / "toypkg/ops.py"
    ops.write_text(OPS + f"\n\ndef broken():\n    {B} (G03)\n    return 1\n")
    with pytest.raises(ReleaseError, match=r"toypkg/ops\.py:\d+: BEGIN SOLUTION \(G03\) is never closed"):
        release(tree, tmp_path / "other", allow_dirty=True)
    assert not (tmp_path / "other").exists()
    assert not list(tmp_path.glob(".other.tmp-*"))

    ops.write_text(OPS + f"\n\ndef partial(x):\n    {B} (G03)\n    if x:\n    {E}\n        return 1\n")
    with pytest.raises(ReleaseError, match=r"toypkg/ops\.py:\d+: the student version does not compile"):
        release(tree, tmp_path / "other", allow_dirty=True)
    assert not (tmp_path / "other").exists()


def test_release_ships_tracked_files_only_and_refuses_uncommitted_changes(tree, tmp_path):
    (tree / "notes_of_the_instructor.txt").write_text("untracked: " + "doubled_value_of_x = x * 2.0\n")
    (tree / "toypkg/ops.py").write_text(OPS.replace("return doubled_value_of_x", "return doubled_value_of_x + 0"))
    with pytest.raises(ReleaseError, match=r"1 tracked file modified but not committed \(toypkg/ops\.py\).*--allow-dirty"):
        release(tree, tmp_path / "s")
    assert not (tmp_path / "s").exists()
    report = release(tree, tmp_path / "s", allow_dirty=True)
    assert not (tmp_path / "s/notes_of_the_instructor.txt").exists()  # untracked: never shipped
    assert not (tmp_path / "s/runs").exists()
    assert report.untracked == 1 and "1 untracked files of the working tree left out" in report.summary()
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.py").write_text("x = 1\n")
    with pytest.raises(ReleaseError, match="not a git work tree"):
        release(plain, tmp_path / "p")


def test_release_after_grading_ships_no_graded_solutions(tree, tmp_path):
    """The instructor's round trip: release, a student solves, grade with the report inside the tree, release again."""
    from minicnn.teaching.__main__ import grade_out

    edition = tree / "student_edition"  # where ``make student`` writes it
    release(tree, edition)
    ops = edition / "toypkg/ops.py"
    ops.write_text(ops.read_text().replace(
        '    raise NotImplementedError("G01: implement double in toypkg/ops.py: Twice x, element-wise.")',
        "    return x + x",
    ))  # fmt: skip
    with pytest.raises(ReleaseError, match="inside the solution edition"):
        grade_out(tree / "grades", tree, edition)
    with pytest.raises(ReleaseError, match="inside the student's edition"):
        grade_out(tmp_path / "student_copy" / "grades", tree, tmp_path / "student_copy")
    assert grade_out(None, tree, edition) == tree.parent / "grades" / "student_edition"
    # a report written into the tree anyway (by hand, an older version): it is not tracked, so it never ships
    (tree / "grades/work/toypkg").mkdir(parents=True)
    (tree / "grades/work/toypkg/ops.py").write_text(ops.read_text())
    (tree / "grades/grade.json").write_text('{"total_score": 50}')
    (tree / "grades/probe_outputs.txt").write_text("doubled_value_of_x = x * 2.0\nreturn doubled_value_of_x\n")
    report = release(tree, tree / "student_edition", force=True)
    shipped = sorted(p.relative_to(report.out).as_posix() for p in report.out.rglob("*") if p.is_file())
    assert not [p for p in shipped if p.startswith(("grades/", "student_edition/"))], shipped
    assert "return x + x" not in (report.out / "toypkg/ops.py").read_text()


def test_token_leak_scan_finds_a_reference_in_a_test_whatever_the_layout(tree, tmp_path):
    (tree / "tests/test_reference.py").write_text(
        "def _double_reference(x):\n"
        "    doubled_value_of_x = x \\\n"
        "        * 2.0   # the same, laid out differently\n"
        "    return doubled_value_of_x\n"
    )
    (tree / "docs.md").write_text("Write\n\n    doubled_value_of_x = x * 2.0\n    return doubled_value_of_x\n")
    git_commit(tree, "a reference implementation in a test")
    with pytest.raises(ReleaseError) as info:
        release(tree, tmp_path / "s")
    message = str(info.value)
    assert "tests/test_reference.py: solution code of toypkg/ops.py::double leaked" in message
    assert "docs.md: solution code of toypkg/ops.py::double leaked" in message
    assert not (tmp_path / "s").exists()


def test_release_inside_the_source_tree_skips_itself(tree):
    release(tree, tree / "build_student" / "edition")
    edition = tree / "build_student" / "edition"
    assert (edition / "toypkg/ops.py").exists()
    assert not (edition / "build_student").exists()


# --------------------------------------------------------------------------------------------- pytest plugin


def _pytest(edition, *args, tests_dir=None):
    cmd = [sys.executable, "-m", "pytest", str(tests_dir or edition / "tests"), "-p", "no:cacheprovider", *args]
    # this repository's minicnn (the teaching plugin), not the one an editable install may point at
    repo = Path(__file__).resolve().parents[1]
    return subprocess.run(cmd, cwd=edition, env=_env(edition, repo), capture_output=True, text=True, timeout=180)


def test_plugin_reports_unimplemented_exercises_in_one_line(edition, tmp_path):
    report = tmp_path / "report.json"
    out = _pytest(edition, "-q", "--teaching-report", str(report))
    text = out.stdout
    assert out.returncode == 1, text + out.stderr
    assert "G01 not implemented: toypkg/ops.py::double" in text
    assert "G01 not implemented: toypkg/ops.py::Scaler.scale" in text
    assert "G02 not implemented: toypkg/ops.py::add_one_kernel" in text
    assert "Traceback" not in text and "raise NotImplementedError" not in text
    assert "exercises not implemented yet" in text
    assert "4 failed, 2 passed" in text
    records = {r["nodeid"].split("::")[-1]: r for r in json.loads(report.read_text())["tests"]}
    assert records["test_double"]["exercises"] == ["G01"]
    assert records["test_double"]["not_implemented"] == "G01"
    assert records["test_add_one_hypothesis_style_group"]["not_implemented"] == "G02"
    assert records["test_unmarked"] == {**records["test_unmarked"], "outcome": "passed", "exercises": []}
    assert records["test_not_depending_on_the_region"]["outcome"] == "passed"


def test_plugin_selects_one_exercise_with_its_marker(edition):
    out = _pytest(edition, "-q", "-m", "G01")
    assert "2 failed, 4 deselected" in out.stdout, out.stdout
    assert "G02" not in out.stdout.split("exercises not implemented yet")[-1]


def test_plugin_budget_skips_what_runs_too_long_and_keeps_failures(edition, tmp_path):
    (edition / "tests/test_long.py").write_text(
        "import time\n\nimport pytest\n\n\n"
        "@pytest.fixture(scope='module')\n"
        "def slow_fixture():\n"
        "    time.sleep(30)\n\n\n"
        "def test_slow_fixture_first(slow_fixture):\n"
        "    pass\n\n\n"
        "def test_slow_fixture_again(slow_fixture):\n"
        "    pass\n\n\n"
        "def test_cleanup_fails_after_the_budget():\n"
        "    try:\n"
        "        time.sleep(30)\n"
        "    finally:\n"
        "        raise TimeoutError('the cleanup of an interrupted test')\n\n\n"
        "def test_sleeps_past_the_budget():\n"
        "    try:\n"
        "        time.sleep(30)\n"
        "    except Exception:\n"
        "        pass\n\n\n"
        "def test_fails_at_once():\n"
        "    assert 1 == 2\n"
    )
    report = tmp_path / "report.json"
    out = _pytest(edition, "-q", "-rs", "-p", "no:randomly", "-k", "sleeps or fails_at_once or test_double or slow_fixture or cleanup",
                  "--teaching-budget", "0.5", "--teaching-report", str(report))  # fmt: skip
    assert report.exists(), out.stdout[-3000:] + out.stderr[-3000:]
    records = {r["nodeid"].split("::")[-1]: r for r in json.loads(report.read_text())["tests"]}
    assert records["test_sleeps_past_the_budget"]["outcome"] == "skipped", out.stdout
    assert records["test_sleeps_past_the_budget"]["over_budget"] is True
    assert records["test_fails_at_once"]["outcome"] == "failed" and not records["test_fails_at_once"]["over_budget"]
    # a fixture over the budget skips the tests that use it, however often it is asked for
    for name in ("test_slow_fixture_first", "test_slow_fixture_again", "test_cleanup_fails_after_the_budget"):
        assert records[name]["outcome"] == "skipped" and records[name]["over_budget"], records[name]
    assert records["test_double"]["not_implemented"] == "G01"
    assert "over the teaching budget (0.5 s)" in out.stdout and "2 failed, 4 skipped" in out.stdout, out.stdout


def test_plugin_leaves_other_failures_alone(edition):
    (edition / "tests/test_plain_failure.py").write_text("def test_fails():\n    assert 1 == 2\n")
    out = _pytest(edition, "-q", "-p", "no:randomly", "-k", "plain_failure")
    assert "assert 1 == 2" in out.stdout and "not implemented" not in out.stdout


# --------------------------------------------------------------------------------------------- grading


def _grade(student, tree, out, only=None, **kwargs):
    from minicnn.teaching.grade import grade

    return grade(
        student, out, reference=tree, tests=tree / "tests", probes_file=tree / "probes.py",
        only=only, timeout=180, progress=False, seed=1, **kwargs,
    )  # fmt: skip


@pytest.mark.slow
def test_grade_student_work(tree, edition, tmp_path):
    # the student does G01's double correctly, Scaler.scale wrongly, and leaves G02 alone
    ops = edition / "toypkg/ops.py"
    text = ops.read_text()
    text = text.replace(
        '    raise NotImplementedError("G01: implement double in toypkg/ops.py: Twice x, element-wise.")',
        "    return x + x",
    )
    text = text.replace(
        '            raise NotImplementedError("G01: implement Scaler.scale in toypkg/ops.py: '
        'multiply every entry by factor")',
        "            return x * factor + 1",
    )
    ops.write_text(text)
    payload = _grade(edition, tree, tmp_path / "grades")
    g01, g02 = payload["exercises"]["G01"], payload["exercises"]["G02"]
    # G01: test_double and the hidden test pass, test_scale fails; probes: double matches, scale does not
    assert (g01["tests_passed"], g01["tests_total"], g01["tests_not_implemented"]) == (2, 3, 0)
    assert g01["probes"]["probe_double"] == "match"
    assert g01["probes"]["probe_scale"].startswith("mismatch: out: at [")
    assert "expected" in g01["probes"]["probe_scale"] and "got" in g01["probes"]["probe_scale"]
    assert g01["score"] == pytest.approx(100 * 3 / 5, abs=0.1)  # 3 of the 5 checks (no grading.toml: one group)
    assert g01["points"] == pytest.approx(6.0)
    # G02: one test does not depend on the region and passes
    assert (g02["tests_passed"], g02["tests_total"], g02["tests_not_implemented"]) == (1, 3, 2)
    assert g02["probes"]["probe_add_one"].startswith("not implemented: G02")
    assert g02["status"].startswith("not implemented")
    csv_text = (tmp_path / "grades/grade.csv").read_text().splitlines()
    assert csv_text[0].startswith("exercise,points,max_points,score")
    assert csv_text[1].startswith("G01,6,10,60.0,2,3,0,1,2")
    assert json.loads((tmp_path / "grades/grade.json").read_text())["total_score"] == payload["total_score"]
    assert "Scaler.scale" in (tmp_path / "grades/feedback.md").read_text()

    from minicnn.teaching.grade import format_table

    table = format_table(payload)
    assert "G01" in table and "6/10" in table and "total" in table


@pytest.mark.slow
def test_grade_reference_scores_full_and_broken_edition_still_gets_a_report(tree, edition, tmp_path):
    payload = _grade(tree, tree, tmp_path / "ref", only=["G01"])
    assert payload["exercises"]["G01"]["score"] == 100.0
    assert payload["exercises"]["G01"]["status"] == "complete"

    (edition / "toypkg/ops.py").write_text("def broken(:\n")
    payload = _grade(edition, tree, tmp_path / "broken", only=["G02"])
    g02 = payload["exercises"]["G02"]
    assert "toypkg.ops" in payload["import_errors"] and "SyntaxError" in payload["import_errors"]["toypkg.ops"]
    assert g02["score"] == 0.0 and g02["status"].startswith("does not import: toypkg.ops")
    assert (tmp_path / "broken/grade.csv").exists()


# --------------------------------------------------------------------------------------------- command line


def test_command_line_check_and_release(tree, tmp_path):
    run = [sys.executable, "-m", "minicnn.teaching"]
    ok = subprocess.run([*run, "check", str(tree)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "5 solution regions in 2 exercises" in ok.stdout
    rel = subprocess.run(
        [*run, "release", str(tmp_path / "s"), "--source", str(tree)], capture_output=True, text=True, timeout=120
    )
    assert rel.returncode == 0, rel.stderr
    assert "leak scan passed" in rel.stdout and (tmp_path / "s/toypkg/ops.py").exists()
    (tree / "toypkg/bad.py").write_text(f"x = 1\n{E}\n")
    bad = subprocess.run([*run, "check", str(tree)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: toypkg/bad.py:2: END SOLUTION without a matching BEGIN SOLUTION"


# --------------------------------------------------------------------------------------------- notebook build


def _notebook_builder():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "generic_exercises" / "_build.py"
    spec = importlib.util.spec_from_file_location("generic_exercises_build", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebook_build_creates_the_out_folder(tmp_path, capsys):
    builder = _notebook_builder()
    src = tmp_path / "_src"
    src.mkdir()
    (src / "X01_demo.py").write_text("# %% [markdown]\n# # Demo\n\n# %%\nx = 1\n", encoding="utf-8")
    out = tmp_path / "new" / "notebooks"
    assert builder.main(["--src", str(src), "--out", str(out), "--check"]) == 1  # checking writes nothing
    assert not (tmp_path / "new").exists()
    assert builder.main(["--src", str(src), "--out", str(out)]) == 0
    nb = json.loads((out / "X01_demo.ipynb").read_text(encoding="utf-8"))
    assert [c["cell_type"] for c in nb["cells"]] == ["markdown", "code"] and nb["cells"][1]["source"] == "x = 1"
    assert sorted(p.name for p in out.iterdir()) == ["X01_demo.ipynb"]
    assert builder.main(["--src", str(src), "--out", str(out), "--check"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit):
        builder.main(["--src", str(tmp_path / "nope"), "--out", str(out)])
    assert "--src" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- self-check


def test_self_check_asks_to_save_when_the_running_notebook_differs(tmp_path, monkeypatch, capsys):
    import importlib.util

    from minicnn.teaching import selfcheck

    folder = tmp_path / "generic_exercises"
    folder.mkdir()
    stub = '    raise NotImplementedError("G01: implement twice in generic_exercises/G01_toy.ipynb (cell 0)")\n'
    (folder / "G01_toy.ipynb").write_text(json.dumps(_notebook([("code", "def twice(v):\n" + stub, [])])))

    def running(name, body):
        path = tmp_path / f"{name}.py"
        path.write_text(body)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return {"twice": module.twice, "other": 3}

    edited = running("edited", "def twice(v):\n    return v + v\n")
    same = running("same", "def twice(v):\n    # a comment and other layout are not a difference\n" + stub)
    assert selfcheck.unsaved_functions(folder / "G01_toy.ipynb", edited) == ["twice"]
    assert selfcheck.unsaved_functions(folder / "G01_toy.ipynb", same) == []
    assert selfcheck.unsaved_functions(folder / "G01_toy.ipynb", {}) == []  # cell not run: nothing to compare

    monkeypatch.setattr(selfcheck, "_kernel_namespace", lambda: edited)
    monkeypatch.setattr(selfcheck, "_this_notebook", lambda exercise: folder / "G01_toy.ipynb")
    with pytest.raises(AssertionError, match="save the notebook, then run the check again"):
        selfcheck.self_check("G01")
    assert "twice() in this notebook differ from the saved G01_toy.ipynb" in capsys.readouterr().out
