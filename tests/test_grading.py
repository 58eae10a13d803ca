"""The grader against gamed and faulty student copies: what each one scores, and that nothing is left running.

Two kinds of fixtures:

- a toy solution edition (one package, a notebook, visible and hidden tests, hidden probes, a
  ``grading.toml`` with a delegation rule), graded in a few seconds per exercise: the mechanics (the
  student's conftest does not run, skipped is not passed, delegation, hangs in a function and at import, a
  crash at import, wall limit and process-group kill, class folder with zips, gradebook and feedback);
- copies of the real student edition with one fault each (``tests/grading_editions.py``): leaky ReLU
  ignoring ``alpha``, Gini off by 0.1 %, the naive convolution returning the fast kernel's result, a
  notebook function hard-coding the visible inputs, graded with ``--only`` the exercises concerned.

Exercise ids are not written as quoted literals in this file, so that the grader's test-file selection
(files that mention ``"G03"``) never imports it.
"""

# teaching: hidden
# teaching: no-regions

import csv
import importlib.util
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from minicnn.teaching.policy import PolicyError, load_policy, parse_policy
from minicnn.teaching.release import release

REPO = Path(__file__).resolve().parents[1]
B, E = "### BEGIN SOLUTION", "### END SOLUTION"
T01, T02, T03 = "T01", "T02", "T03"  # toy exercise ids

OPS = f'''\
"""Toy exercise T01 (and T03)."""

import numpy as np


def double(x):
    """Twice x."""
    x = np.asarray(x, dtype=np.float64)
    {B} ({T01}) multiply by two
    return x * 2.0
    {E}


def triple(x):
    """Three times x."""
    {B} ({T03})
    return 3 * np.asarray(x)
    {E}
'''

LOOPS = f'''\
"""Toy exercise T02: add one with a loop (toypkg.fast has the fast twin)."""

import numpy as np


def add_one_naive(x):
    """x + 1 with a Python loop."""
    x = np.asarray(x, dtype=np.float64)
    {B} ({T02}) loop over the entries
    out = np.empty_like(x)
    for i in range(x.size):
        out.flat[i] = x.flat[i] + 1.0
    return out
    {E}
'''

FAST = '''\
import numpy as np


def add_one_fast(x):
    return np.asarray(x, dtype=np.float64) + 1.0
'''

TESTS = f'''\
import numpy as np
import pytest

from minicnn.teaching.notebooks import notebook_function
from toypkg.loops import add_one_naive
from toypkg.ops import double, triple
from pathlib import Path

NB = Path(__file__).resolve().parents[1] / "notebooks" / "{T01}_toy.ipynb"


@pytest.mark.exercise("{T01}")
def test_double():
    assert np.allclose(double([1.0, 2.0]), [2.0, 4.0])


@pytest.mark.exercise("{T01}")
def test_double_is_documented():  # passes on the blank edition too: earns nothing
    assert double.__doc__


@pytest.mark.exercise("{T01}")
def test_double_needs_torch():
    pytest.importorskip("no_such_module_for_grading")


@pytest.mark.exercise("{T01}")
def test_twice_from_the_notebook():
    assert notebook_function(NB, "twice")(3) == 6


@pytest.mark.exercise("{T02}")
def test_add_one():
    assert np.allclose(add_one_naive([1.0, 2.0]), [2.0, 3.0])


@pytest.mark.exercise("{T03}")
def test_triple_needs_a_gpu():
    pytest.skip("no GPU here")
'''

HIDDEN = f'''\
import numpy as np
import pytest

from toypkg.ops import double


@pytest.mark.exercise("{T01}")
def test_double_hidden():
    assert np.allclose(double(np.arange(5.0)), 2 * np.arange(5.0))
'''

PROBES = f'''\
from pathlib import Path

import numpy as np


def probe_double(rng):
    from toypkg.ops import double
    return {{"out": double(rng.standard_normal(5))}}


def notebook_twice(rng):
    from minicnn.teaching.notebooks import notebook_function
    f = notebook_function(Path.cwd() / "notebooks" / "{T01}_toy.ipynb", "twice")
    # "visible": the input of the visible test; "out": new inputs (gamed = right on the first, wrong on these)
    return {{"visible": np.array(f(3.0)), "out": np.array([f(float(v)) for v in rng.uniform(-9, 9, 4)])}}


def probe_add_one(rng):
    from toypkg.loops import add_one_naive
    return {{"out": add_one_naive(rng.standard_normal(4))}}


PROBES = {{"{T01}": [probe_double, notebook_twice], "{T02}": [probe_add_one]}}
'''

POLICY = f'''\
[grading]
points = 10
test_timeout = 30
wall_limit = 120

[groups.notebook]
points = 2
tests = ["*notebook*"]
probes = ["notebook_*"]
all_or_nothing = true

[groups.hidden]
points = 4
tests = ["tests/hidden/*"]
probes = ["*"]

[groups.visible]
points = 4
tests = ["*"]

[[exercises.{T02}.delegation]]
guard = ["toypkg/loops.py"]
forbid = ["toypkg.fast"]
message = "{T02} must be written with loops, not by calling {{name}}"
'''


def _toml(text: str) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads(text)


def _notebook(source: str) -> str:
    cell = {"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


NOTEBOOK = f"def twice(v):\n    {B} ({T01}) two times v\n    return v + v\n    {E}\n"


def make_toy(root: Path) -> Path:
    files = {
        "pyproject.toml": f'[tool.pytest.ini_options]\nmarkers = ["{T01}", "{T02}", "{T03}"]\n',
        "toypkg/__init__.py": "",
        "toypkg/ops.py": OPS,
        "toypkg/loops.py": LOOPS,
        "toypkg/fast.py": FAST,
        "tests/conftest.py": 'pytest_plugins = ["minicnn.teaching.pytest_plugin"]\n',
        "tests/test_ops.py": TESTS,
        "tests/hidden/test_secret.py": HIDDEN,
        "tests/hidden/probes.py": PROBES,
        "grading.toml": POLICY,
        f"notebooks/{T01}_toy.ipynb": _notebook(NOTEBOOK),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}  # fmt: skip
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "--no-verify", "-m", "toy"]):  # release ships tracked files
        subprocess.run(["git", "-C", str(root), *cmd], check=True, env=env, capture_output=True)
    return root


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    reference = make_toy(root / "solution")
    release(reference, root / "blank")
    return reference, root / "blank"


def _complete(toy, dest: Path) -> Path:
    """The blank toy edition with every exercise written (the reference's files)."""
    import shutil

    reference, blank = toy
    shutil.copytree(blank, dest)
    for rel in ("toypkg/ops.py", "toypkg/loops.py", f"notebooks/{T01}_toy.ipynb"):
        shutil.copyfile(reference / rel, dest / rel)
    return dest


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} does not contain {old!r}"
    path.write_text(text.replace(old, new, 1))


def _grade(reference, student, out, only=None, **kw):
    from minicnn.teaching.grade import grade

    kw.setdefault("seed", 3)
    return grade(student, out, reference=reference, only=only, progress=False, **kw)


@pytest.fixture(autouse=True)
def _grading_cache(tmp_path, monkeypatch):
    """The blank baselines of these tests go to a temporary folder, not ~/.cache."""
    monkeypatch.setenv("MINICNN_GRADING_CACHE", str(tmp_path / "grading-cache"))


def _sandbox_processes(marker: str) -> list[int]:
    """Processes still running whose environment mentions ``marker`` (a path of this test)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


# ------------------------------------------------------------------------------------- toy: mechanics


@pytest.mark.slow
def test_conftest_rewrite_does_not_run_and_skipped_is_not_passed(toy, tmp_path):
    reference, blank = toy
    student = tmp_path / "gamed"
    import shutil

    shutil.copytree(blank, student)
    rewrite = (REPO / "tests/grading_editions.py").read_text().split("CONFTEST_REWRITE = '''")[1].split("'''")[0]
    (student / "conftest.py").write_text(rewrite)
    (student / "tests/conftest.py").write_text(rewrite)
    (student / "sitecustomize.py").write_text("raise SystemExit('student code at start-up')\n")
    (student / "toypkg/evil.pth").write_text("import os; os._exit(9)\n")
    payload = _grade(reference, student, tmp_path / "out", only=[T01, T03])
    t01, t03 = payload["exercises"][T01], payload["exercises"][T03]
    assert t01["points"] == 0.0 and t01["tests_passed"] == 1  # blank: nothing passes, whatever the conftest says ...
    assert t01["tests_blank"] == 1  # ... but the docstring test, which passes on the blank edition and earns nothing
    assert t01["tests_skipped"] == 1 and t01["tests_total"] == 4  # the importorskip test is left out of the count
    assert t03["score"] is None and t03["status"].startswith("not graded")  # its only test is skipped
    assert payload["max_points"] == 10  # T03 is left out of the maximum
    html = (tmp_path / "out/feedback.html").read_text()
    assert "Not graded" in html and "<table>" in html


@pytest.mark.slow
def test_complete_copy_scores_full_and_gamed_copies_score_zero(toy, tmp_path):
    from minicnn.teaching.grade import GradeCache

    reference, _ = toy
    cache = GradeCache(None)  # one blank baseline for both copies
    complete = _complete(toy, tmp_path / "complete")
    payload = _grade(reference, complete, tmp_path / "complete-out", only=[T01, T02], cache=cache)
    assert [payload["exercises"][e]["points"] for e in (T01, T02)] == [10.0, 10.0]

    gamed = _complete(toy, tmp_path / "gamed")
    # T02 delegates to the fast twin; T01's notebook function special-cases the visible input
    _edit(gamed / "toypkg/loops.py", "    out = np.empty_like(x)\n", "    from toypkg.fast import add_one_fast\n    return add_one_fast(x)\n")
    _edit(gamed / f"notebooks/{T01}_toy.ipynb", "    return v + v", "    return 6 if v == 3 else v")
    payload = _grade(reference, gamed, tmp_path / "gamed-out", only=[T01, T02], cache=cache)
    t01, t02 = payload["exercises"][T01], payload["exercises"][T02]
    assert t02["points"] == 0.0 and t02["delegation"] == f"{T02} must be written with loops, not by calling add_one_fast"
    assert t02["status"].startswith("gamed:")
    # T01's notebook function is right on the visible input (3) and wrong on new ones: the whole exercise is 0,
    # although its module functions (8 of its 10 points) are correct
    assert t01["probes"]["notebook_twice"].startswith("gamed: right on the visible tests' inputs, wrong on new inputs")
    assert t01["points"] == 0.0 and t01["status"].startswith("gamed: notebook_twice: ")
    assert t01["groups"]["visible"]["earned"] == 4.0 and t01["groups"]["notebook"]["earned"] == 0.0
    md = (tmp_path / "gamed-out/feedback.md").read_text()
    assert "must be written with loops" in md and "notebook_twice" in md and "expected" in md
    assert md.count("**Gamed, not accepted:**") == 2 and "The exercise scores 0." in md

    # gamed = "fail" in grading.toml: only the probe concerned fails (the same checks, scored again)
    from minicnn.teaching.grade import ExerciseGrade, score_exercise

    lenient = parse_policy({"grading": {"gamed": "fail"}, **{k: v for k, v in _toml(POLICY).items() if k != "grading"}})
    again = ExerciseGrade(exercise=T01, tests=t01["tests"], probes=t01["probes"], gamed=t01["gamed"])
    score_exercise(again, lenient.exercise(T01), lenient.delegation, lenient.gamed)
    assert again.points == 8.0


@pytest.mark.slow
def test_hangs_and_crashes_are_reported_within_the_wall_limit_and_leave_nothing_running(toy, tmp_path):
    reference, _ = toy
    student = _complete(toy, tmp_path / "faulty")
    # T01: double() starts a grandchild that leaves the process group, then loops for ever
    _edit(student / "toypkg/ops.py", "    return x * 2.0\n",
          "    import subprocess\n    subprocess.Popen(['sleep', '600'], start_new_session=True)\n"
          "    while True:\n        pass\n")  # fmt: skip
    # T02: its module never finishes importing
    _edit(student / "toypkg/loops.py", "import numpy as np\n", "import numpy as np\n\nwhile True:\n    pass\n")
    from minicnn.teaching.grade import GradeCache

    start = time.monotonic()
    payload = _grade(reference, student, tmp_path / "out", only=[T01, T02], test_timeout=2, timeout=60,
                     cache=GradeCache(None, blank_baseline=False))  # hangs, not scores: no blank baseline
    took = time.monotonic() - start
    t01, t02 = payload["exercises"][T01], payload["exercises"][T02]
    assert "tests/test_ops.py::test_double" in t01["hung"]
    assert t01["seconds"] <= 60 + 10 and t02["seconds"] <= 60 + 10
    hung = next(r for r in t01["tests"] if r["nodeid"] == "tests/test_ops.py::test_double")
    assert hung["outcome"] == "failed" and "hung" in hung["error"]
    assert t01["groups"]["notebook"]["earned"] == 2.0  # the notebook function is fine
    assert t02["status"].startswith("does not import: toypkg.loops: import hangs")
    assert "(at toypkg/loops.py:5)" in t02["status"] or "(at toypkg/loops.py:6)" in t02["status"]  # the loop
    assert t02["points"] == 0.0
    assert (tmp_path / "out/logs" / f"{T01}.pytest.log").read_text().strip()  # the log of the hung run is kept
    assert took < 2 * (60 + 10) + 60
    time.sleep(0.5)
    assert _sandbox_processes(str(tmp_path)) == []  # the sleeping grandchild was killed too

    crash = _complete(toy, tmp_path / "crash")
    _edit(crash / "toypkg/loops.py", "import numpy as np\n", "import os\nos._exit(3)\n")
    payload = _grade(reference, crash, tmp_path / "crash-out", only=[T01, T02], cache=GradeCache(None, blank_baseline=False))
    assert payload["exercises"][T02]["status"].startswith("does not import: toypkg.loops: import crashes the interpreter")
    assert payload["exercises"][T01]["points"] == 10.0  # other exercises keep the reference's version of the file


@pytest.mark.slow
def test_class_folder_with_zips_gives_a_gradebook_and_feedback_pages(toy, tmp_path):
    reference, blank = toy
    classroom = tmp_path / "class"
    classroom.mkdir()
    import shutil

    shutil.copytree(blank, classroom / "bob")
    complete = _complete(toy, tmp_path / "alice")
    with zipfile.ZipFile(classroom / "alice.zip", "w") as zf:
        for path in complete.rglob("*"):
            if path.is_file():
                zf.write(path, Path("alice-edition") / path.relative_to(complete))
    with zipfile.ZipFile(classroom / "mallory.zip", "w") as zf:
        zf.writestr("../escape.py", "print('outside')")
    (classroom / "notes.txt").write_text("not a submission")
    out = tmp_path / "grades"
    proc = subprocess.run(
        [sys.executable, "-m", "minicnn.teaching", "grade", str(classroom), "--out", str(out), "--reference", str(reference),
         "--only", f"{T01},{T02}", "--workers", "2", "--seed", "5"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "graded 3 students" in proc.stdout and "mallory: not graded: mallory.zip: unsafe path" in proc.stderr
    assert "student" in proc.stderr  # the progress bar over students
    rows = list(csv.reader((out / "gradebook.csv").open()))
    assert rows[0] == ["student_id", T01, T02, "total"]
    assert rows[1] == ["alice", "10", "10", "20"]
    assert rows[2] == ["bob", "0", "0", "0"]
    assert rows[3] == ["mallory", "", "", ""]
    canvas = list(csv.reader((out / "gradebook-canvas.csv").open()))
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert canvas[1][0] == "Points Possible" and canvas[1][5:] == ["10", "10", "20"]
    assert "Feedback for bob" in (out / "feedback/bob.md").read_text()
    assert (out / "feedback/alice.html").read_text().startswith("<!DOCTYPE html>")
    assert not (tmp_path / "escape.py").exists()
    summary = json.loads((out / "class.json").read_text())
    assert summary["seed"] == 5 and [s["student_id"] for s in summary["students"]] == ["alice", "bob", "mallory"]
    # the blank baseline graded T01 and T02 once each; bob's files are the same bytes: reused, not run again
    assert (summary["exercise_gradings"], summary["reused_gradings"]) == (4, 2)
    assert "4 exercise gradings run (the blank baseline included), 2 reused" in proc.stdout
    bob = json.loads((out / "students/bob/grade.json").read_text())
    assert all(g["reused"] and g["cpu_seconds"] == 0 for g in bob["exercises"].values())


# ------------------------------------------------------------------------------------- units


def test_policy_of_the_repository_is_valid_and_names_its_mistakes(tmp_path):
    from minicnn.teaching.regions import exercises, scan_tree

    known = list(exercises(scan_tree(REPO)))
    policy = load_policy(REPO, known=known)
    assert policy.rtol == 1e-7 and policy.test_timeout == 60 and policy.wall_limit == 300
    g03 = policy.exercise(known[2])
    assert g03.delegation and "minicnn.functional.conv_fast" in g03.delegation[0].forbid
    bad = [
        ({"grading": {"points": "ten"}}, "[grading] points: expected a number >= 0, got 'ten'"),
        ({"grading": {"wall_limt": 3}}, "[grading] wall_limt: unknown key"),
        ({"exercises": {"X99": {"points": 3}}}, "[exercises.X99] is not an exercise of the solution edition"),
        ({"groups": {"a": {"points": 0}}}, "groups: the groups' points add up to 0"),
        ({"groups": {"a": {"tests": ["*"]}}}, "[groups.a] points: missing"),
        ({"grading": {"delegation": "maybe"}}, 'expected "zero" or "fail"'),
    ]
    for data, words in bad:
        with pytest.raises(PolicyError, match=None) as info:
            parse_policy(data, source="grading.toml", known=known, root=REPO)
        assert words in str(info.value), (data, str(info.value))
    (tmp_path / "grading.toml").write_text("[grading\npoints = 3\n")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(tmp_path)


def test_outputs_match_uses_float64_tolerance_and_shows_expected_vs_got():
    from minicnn.teaching.grade import outputs_match

    ref = np.array([0.5, 0.375, 0.0])
    ok, why = outputs_match(ref * (1 + 1e-9), ref)
    assert ok
    ok, why = outputs_match(ref * 1.001, ref)  # a Gini 0.1 % off
    assert not ok and why.startswith("at [0]: expected 0.5, got 0.5005")
    ok, why = outputs_match(np.array([1, 2]), np.array([1, 3]))
    assert not ok and "expected" in why
    assert outputs_match(np.zeros(3), np.zeros(4))[1] == "shape (3,), expected (4,)"


def test_delegation_stub_blocks_calls_from_guarded_files_only(tmp_path, monkeypatch):
    from minicnn.teaching.delegation import DelegationError, install

    pkg = tmp_path / "delegpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "fast.py").write_text("import numpy as np\n\ndef kernel(x):\n    return x + 1\n")
    (pkg / "naive.py").write_text("from delegpkg.fast import kernel\n\ndef naive(x):\n    return kernel(x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import delegpkg.fast
    import delegpkg.naive

    names = install("G99", [str(pkg / "naive.py")], ["delegpkg.fast"], "G99 must use loops, not {name}")
    assert names == ["delegpkg.fast.kernel"]
    assert delegpkg.fast.kernel(1) == 2  # a test may still use the twin as an oracle
    with pytest.raises(DelegationError, match="G99 must use loops, not kernel"):
        delegpkg.naive.naive(1)  # the binding made by "from ... import" was replaced too
    for name in [m for m in sys.modules if m.startswith("delegpkg")]:
        del sys.modules[name]


def test_delegation_stub_spares_numba_globals_and_oracles_handed_in_by_tests(tmp_path, monkeypatch):
    # a complete G03 scored 8.46 when the stubs replaced conv_fast's compiled helpers (its other compiled
    # functions could no longer type), and a complete G08 scored 0 when its test handed the notebook a
    # compiled Gini from split_fast as an oracle
    from minicnn.teaching.delegation import DelegationError, install

    pkg = tmp_path / "jitpkg"
    (pkg / "tests").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "fast.py").write_text(
        "from numba import njit\n\n@njit(cache=False)\ndef helper(x):\n    return x + 1.0\n\n"
        "@njit(cache=False)\ndef kernel(x):\n    return helper(x) * 2.0\n\ndef wrapper(x):\n    return kernel(x)\n"
    )  # fmt: skip
    (pkg / "naive.py").write_text("from jitpkg.fast import wrapper\n\ndef naive(x, f=None):\n    return f(x) if f else wrapper(x)\n")
    (pkg / "tests" / "oracle.py").write_text("from jitpkg.fast import wrapper\n\ndef oracle(x):\n    return wrapper(x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(pkg)  # the graded tree: its tests/ hold the instructor's oracles
    import jitpkg.fast
    import jitpkg.naive

    names = install("G99", [str(pkg / "naive.py")], ["jitpkg.fast"], "G99: not {name}")
    assert "jitpkg.fast.helper" in names and "jitpkg.fast.wrapper" in names
    assert jitpkg.fast.kernel(1.0) == 4.0  # compiles: helper is still the compiled function in its module
    with pytest.raises(DelegationError, match="G99: not wrapper"):
        jitpkg.naive.naive(1.0)
    spec = importlib.util.spec_from_file_location("jitpkg_oracle", pkg / "tests" / "oracle.py")
    oracle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oracle)
    assert jitpkg.naive.naive(1.0, oracle.oracle) == 4.0  # the test's oracle, called from student code: allowed
    for name in [m for m in sys.modules if m.startswith("jitpkg")]:
        del sys.modules[name]


def test_sandbox_kills_the_group_and_escaped_grandchildren_and_has_no_network(tmp_path):
    from minicnn.teaching import sandbox

    script = tmp_path / "hang.py"
    script.write_text(
        "import socket, subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True)\n"
        "try:\n    socket.create_connection(('127.0.0.1', 9), timeout=2)\n    print('NET OK', flush=True)\n"
        "except OSError as exc:\n    print('NET BLOCKED', exc, flush=True)\n"
        "while True:\n    time.sleep(0.1)\n"
    )  # fmt: skip
    log = tmp_path / "log.txt"
    env = dict(os.environ, MARK_FOR_TEST=str(tmp_path))
    result = sandbox.run([sys.executable, str(script)], tmp_path, env, log, sandbox.Limits(wall_seconds=4, cpu_seconds=30))
    assert result.timed_out and result.returncode is None and result.seconds < 15
    assert result.leftovers_killed >= 1  # the grandchild that left the group
    time.sleep(0.3)
    assert _sandbox_processes(str(tmp_path)) == []
    text = log.read_text()
    assert "NET BLOCKED" in text, text
    assert result.network in ("namespace", "socket guard")


def test_zip_extraction_refuses_unsafe_archives(tmp_path):
    from minicnn.teaching.gradebook import extract_zip
    from minicnn.teaching.release import ReleaseError

    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("edition/minicnn/__init__.py", "")
    assert extract_zip(good, tmp_path / "x").name == "edition"
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("/etc/evil", "x")
    with pytest.raises(ReleaseError, match="unsafe path"):
        extract_zip(bad, tmp_path / "y")
    (tmp_path / "broken.zip").write_text("not a zip")
    with pytest.raises(ReleaseError, match="not a valid zip"):
        extract_zip(tmp_path / "broken.zip", tmp_path / "z")


# ------------------------------------------------------------------------- the real student edition


@pytest.fixture(scope="module")
def blank_edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("real") / "blank"
    release(REPO, out, allow_dirty=True)
    return out


@pytest.fixture(scope="module")
def real_cache():
    """The real-edition fault tests check what a fault costs, not the blank baseline (tested on its own below):
    they skip it, which halves their grading time."""
    from minicnn.teaching.grade import GradeCache

    return GradeCache(None, blank_baseline=False)


def _real(blank, tmp_path, name, complete, faults):
    from grading_editions import make_copy

    return make_copy(blank, tmp_path / name, complete=complete, faults=faults)


@pytest.mark.slow
def test_real_edition_leaky_alpha_and_delegation_to_the_fast_kernel(blank_edition, tmp_path, real_cache):
    g01, g03 = "G01,G03".split(",")
    student = _real(blank_edition, tmp_path, "gamed", [], ["leaky_alpha", "delegate_fast"])
    payload = _grade(REPO, student, tmp_path / "out", only=[g01, g03], seed=11, cache=real_cache)
    ex = payload["exercises"]
    assert ex[g03]["points"] == 0.0 and ex[g03]["status"].startswith("gamed:")
    assert ex[g03]["delegation"] == "G03 must be written with loops, not by calling conv2d_forward_fast"
    assert 0 < ex[g01]["points"] < 10.0
    assert ex[g01]["probes"]["probe_activations"].startswith("mismatch: leaky: at [")  # a random alpha
    assert not ex[g01]["gamed"]  # a bug, not special-casing: partial credit
    print({e: (g["points"], g["status"]) for e, g in ex.items()})


@pytest.mark.slow
def test_real_blank_edition_scores_zero_and_is_a_reuse_of_the_blank_baseline(blank_edition, tmp_path):
    # some visible tests of G02 pass on the blank edition (input validation): they earn nothing, and the blank
    # edition's files are byte-identical to the blank baseline's, so nothing runs again
    from minicnn.teaching.grade import GradeCache

    g02 = "G02,".split(",")[0]
    cache = GradeCache(tmp_path / "disk")
    payload = _grade(REPO, blank_edition, tmp_path / "blank-out", only=[g02], seed=11, cache=cache)
    g = payload["exercises"][g02]
    assert g["points"] == 0.0 and g["reused"] and g["cpu_seconds"] == 0.0, g["status"]
    assert g["tests_blank"] > 0 and g["tests_passed"] == g["tests_blank"]  # it scored 1.71 of 10 when they counted
    assert (cache.misses, cache.hits) == (1, 1) and list((tmp_path / "disk").glob("blank-*-G02.json"))


@pytest.mark.slow
def test_real_edition_gini_off_by_a_thousandth_and_hard_coded_notebook_function(blank_edition, tmp_path, real_cache):
    g08, g10 = "G08,G10".split(",")
    student = _real(blank_edition, tmp_path, "faulty", [], ["gini_off", "hardcoded_notebook"])
    payload = _grade(REPO, student, tmp_path / "out", only=[g08, g10], seed=11, cache=real_cache)
    ex = payload["exercises"]
    assert "relative error 0.001" in ex[g08]["probes"]["probe_criteria"]
    assert 0 < ex[g08]["points"] < 10.0 and not ex[g08]["gamed"]  # wrong on the visible inputs too: a bug
    notebook = ex[g10]["groups"]["notebook"]
    assert notebook["passed"] >= 1  # the visible check passes ...
    # ... the hidden one sees the visible inputs answered right and new ones of the same sizes wrong: gamed
    assert ex[g10]["probes"]["notebook_g10_auc_by_pairs"].startswith("gamed: right on the visible tests' inputs")
    assert ex[g10]["points"] == 0.0 and ex[g10]["status"].startswith("gamed: notebook_g10_auc_by_pairs")
    print({e: (g["points"], g["status"]) for e, g in ex.items()})
