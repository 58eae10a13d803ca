"""The student's functions against golden values: the reference's outputs on fixed inputs, stored as data.

The release writes ``tests/golden/<exercise>.npz`` into the student edition (``tests/golden_cases.py``
says how); in the solution edition there are none and these tests skip.
"""

# teaching: no-regions

from pathlib import Path

import numpy as np
import pytest
from golden_cases import CASES, as_outputs, load

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.exercise(c.exercise)) for n, c in sorted(CASES.items())]
)
def test_matches_the_golden_values(name):
    case = CASES[name]
    golden = load(REPO, name)
    if golden is None:
        pytest.skip("no golden values here: the release writes them into the student edition")
    inputs, expected = golden
    got = as_outputs(case.call(REPO, **{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}))
    assert len(got) == len(expected), f"{name}: {len(got)} outputs, expected {len(expected)}"
    for i, (out, want) in enumerate(zip(got, expected, strict=True)):
        assert out.shape == want.shape, f"{name}: output {i} has shape {out.shape}, expected {want.shape}"
        if np.issubdtype(want.dtype, np.floating):
            np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-12, err_msg=f"{name}: output {i}")
        else:
            diff = np.abs(out.astype(np.int64) - want.astype(np.int64)).max(initial=0)
            assert diff <= case.integer_slack, f"{name}: output {i} differs from the golden values by {diff}"
