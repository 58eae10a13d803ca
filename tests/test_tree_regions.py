"""The student edition of minicnn.tree / minicnn.metrics: solution regions replaced by
``raise NotImplementedError`` still import, the compiled fast path still works, and every
exercise entry point raises a NotImplementedError naming its exercise."""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from minicnn.teaching.release import student_python

ROOT = Path(__file__).resolve().parents[1]


def test_student_edition_imports_and_raises(tmp_path):
    if "BEGIN SOLUTION" not in (ROOT / "minicnn" / "tree" / "criteria.py").read_text():
        pytest.skip("this is the student edition: its tree regions are already stubs (the test makes them)")
    package = tmp_path / "minicnn"
    package.mkdir()
    shutil.copy(ROOT / "minicnn" / "__init__.py", package / "__init__.py")
    regions = {}
    for sub in ("tree", "metrics"):
        shutil.copytree(ROOT / "minicnn" / sub, package / sub, ignore=shutil.ignore_patterns("__pycache__"))
        for path in (package / sub).glob("*.py"):
            text, found = student_python(path.read_text(), f"minicnn/{sub}/{path.name}")
            path.write_text(text)
            regions[f"{sub}/{path.name}"] = len(found)
            assert "BEGIN SOLUTION" not in text
    assert regions["tree/criteria.py"] == 2 and regions["tree/split_naive.py"] == 1
    assert regions["tree/builder.py"] == 1 and regions["tree/forest.py"] == 2
    assert regions["metrics/classification.py"] >= 1 and regions["metrics/ranking.py"] >= 1
    assert regions["metrics/agreement.py"] >= 1
    script = textwrap.dedent("""
        import numpy as np
        import minicnn.tree as T, minicnn.metrics as M
        assert T.__file__.startswith(%r), T.__file__
        rng = np.random.default_rng(0)
        X = rng.normal(size=(30, 2)); y = (X[:, 0] > 0).astype(int)
        clf = T.DecisionTreeClassifier(random_state=0).fit(X, y)   # compiled path needs no exercise
        assert (clf.predict(X) == y).all()
        def expect(ex_id, fn):
            try:
                fn()
            except NotImplementedError as exc:
                assert str(exc).startswith(ex_id), exc
            else:
                raise AssertionError(ex_id + " did not raise")
        expect("G08", lambda: T.gini([1, 2]))
        expect("G08", lambda: T.DecisionTreeClassifier(splitter="naive").fit(X, y))
        expect("G09", lambda: T.RandomForestClassifier(n_estimators=2).fit(X, y))
        expect("G10", lambda: M.confusion_matrix(y, y))
        expect("G10", lambda: M.roc_auc_score(y, X[:, 0]))
        expect("G10", lambda: M.cohen_kappa_score(y, y))
        print("student edition ok")
    """) % str(tmp_path)
    env = {"PYTHONPATH": str(tmp_path), "NUMBA_DISABLE_JIT": "1", "PATH": "/usr/bin:/bin",
           "MPLBACKEND": "Agg", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "student edition ok" in result.stdout
