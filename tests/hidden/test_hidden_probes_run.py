"""Every hidden probe runs on the solution edition and its outputs are arrays the grader can compare.

The grader compares a student's probe outputs with the solution edition's (``tests/hidden/probes.py``); a
probe that fails on the reference would be skipped at grading time, so it is caught here instead.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from minicnn.teaching.probe_runner import probe_seed

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _probes():
    spec = importlib.util.spec_from_file_location("_hidden_probes", HERE / "probes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PROBES


def test_every_exercise_has_probes_and_every_notebook_function_a_probe():
    from minicnn.teaching.regions import exercises, scan_tree

    probes = _probes()
    regions = exercises(scan_tree(REPO))
    assert sorted(probes) == sorted(regions)
    for ex_id, regs in regions.items():
        in_notebooks = any(r.path.endswith(".ipynb") for r in regs)
        names = [p.__name__ for p in probes[ex_id]]
        assert not in_notebooks or any(n.startswith("notebook_") for n in names), ex_id


def test_every_module_region_of_the_s_exercises_has_a_probe():
    """The S exercises' regions in ``camelyon/`` (S07 ``core_features``, S09 ``pn_stage`` and
    ``quadratic_weighted_kappa``) are called by a module probe of their exercise, not only through a notebook."""
    import inspect

    from minicnn.teaching.regions import exercises, scan_tree

    probes = _probes()
    for ex_id, regs in exercises(scan_tree(REPO)).items():
        if not ex_id.startswith("S"):
            continue
        sources = "".join(inspect.getsource(p) for p in probes[ex_id] if not p.__name__.startswith("notebook_"))
        for r in regs:
            if r.path.endswith(".py") and "/_src/" not in r.path:
                assert f"{r.function}(" in sources, f"{ex_id}: no module probe calls {r.function} ({r.path})"


@pytest.mark.slow
def test_probes_run_on_the_solution_edition(monkeypatch):
    monkeypatch.chdir(REPO)  # probes read notebooks from the working folder (the graded tree)
    for ex_id, probes in _probes().items():
        for probe in probes:
            a = probe(np.random.default_rng(probe_seed(probe.__name__, 11)))
            b = probe(np.random.default_rng(probe_seed(probe.__name__, 11)))
            assert a and all(isinstance(np.asarray(v), np.ndarray) for v in a.values()), probe.__name__
            for key in a:  # the same seed gives the same outputs: the comparison is meaningful
                x, y = np.asarray(a[key]), np.asarray(b[key])
                assert x.dtype.kind != "O", f"{probe.__name__}/{key}: object array"
                assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f"{ex_id} {probe.__name__}/{key}"
