"""Checks against reference implementations of exercises (instructor only: this folder is not released).

A reference implementation in a shipped test would hand the student the answer, so comparisons with
one live here; the student edition's tests check properties (gradients, invariants, naive == fast,
scikit-learn) instead. The grader runs these too.
"""

import numpy as np
import pytest

from minicnn import metrics as M


def mann_whitney_auc(y, s):
    """P(score of a random positive > score of a random negative), ties count 1/2."""
    pos, neg = s[y == 1], s[y == 0]
    diff = pos[:, None] - neg[None, :]
    return (np.sum(diff > 0) + 0.5 * np.sum(diff == 0)) / (len(pos) * len(neg))


@pytest.mark.exercise("G10")
@pytest.mark.parametrize("seed", range(6))
def test_auc_equals_the_mann_whitney_statistic(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 80))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    levels = [3, 10, 10**6][seed % 3]  # few levels: many tied scores
    s = rng.integers(0, levels, n) / levels + rng.uniform(0, 2) * y
    assert M.roc_auc_score(y, s) == pytest.approx(mann_whitney_auc(y, s), abs=1e-12)
