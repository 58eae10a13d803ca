"""Decision trees against a brute-force split search and scikit-learn (instructor only: hidden tests).

The brute force is a reference implementation of G08's split search, so it does not ship to students.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_tree import SPLITTERS, datasets, node_rows

from minicnn.tree import DecisionTreeClassifier
from minicnn.tree.structure import TREE_LEAF


def impurity_ref(counts, criterion):
    """Independent impurity: gini / entropy in bits from class counts."""
    counts = np.asarray(counts, dtype=float)
    p = counts[counts > 0] / counts.sum()
    if criterion == "gini":
        return 1.0 - sum(q * q for q in p)
    return -sum(q * np.log2(q) for q in p)


def all_splits(X, y, w, criterion, min_samples_leaf=1):
    """Brute force: every (decrease, feature, threshold, n_left) of a node, decrease weighted by the
    node's own weight (W_t * impurity - W_L * impurity_L - W_R * impurity_R)."""
    n_classes = int(y.max()) + 1
    total = np.bincount(y, weights=w, minlength=n_classes)
    parent = total.sum() * impurity_ref(total, criterion)
    out = []
    for f in range(X.shape[1]):
        values = np.unique(X[:, f])
        for low, high in zip(values[:-1], values[1:], strict=True):
            left = X[:, f] <= low
            n_left = int(left.sum())
            if n_left < min_samples_leaf or len(y) - n_left < min_samples_leaf:
                continue
            cl = np.bincount(y[left], weights=w[left], minlength=n_classes)
            cr = total - cl
            dec = parent - cl.sum() * impurity_ref(cl, criterion) - cr.sum() * impurity_ref(cr, criterion)
            out.append((dec, f, (low + high) / 2, left))
    return out



@pytest.mark.exercise("G08")
@pytest.mark.parametrize("splitter", SPLITTERS)
@given(data=datasets(), criterion=st.sampled_from(["gini", "entropy"]), msl=st.integers(1, 4))
def test_root_split_equals_brute_force(splitter, data, criterion, msl):
    X, y = data
    w = np.ones(len(y))
    candidates = all_splits(X, y, w, criterion, msl)
    tree = DecisionTreeClassifier(criterion=criterion, splitter=splitter, max_depth=1,
                                  min_samples_leaf=msl, random_state=0).fit(X, y).tree_
    if not candidates:
        assert tree.node_count == 1
        return
    best = max(c[0] for c in candidates)
    if impurity_ref(np.bincount(y), criterion) == 0:
        return
    assert tree.node_count == 3, "a split exists, so the root must be split"
    got = tree.impurity_decrease()[0]
    assert got == pytest.approx(best, abs=1e-9), f"chosen split decreases impurity by {got}, best is {best}"
    # the chosen (feature, threshold) is one of the best candidates
    assert any(c[1] == tree.feature[0] and c[2] == pytest.approx(tree.threshold[0]) and
               c[0] == pytest.approx(best, abs=1e-9) for c in candidates)


def has_ties(tree, X, y, criterion, msl):
    """True when some split node has another candidate within 1e-9 of the best (tied choice)."""
    w = np.ones(len(y))
    for node, rows in enumerate(node_rows(tree, X)):
        if tree.children_left[node] == TREE_LEAF or len(rows) < 2:
            continue
        decs = sorted((c[0] for c in all_splits(X[rows], y[rows], w[rows], criterion, msl)), reverse=True)
        if len(decs) > 1 and decs[0] - decs[1] < 1e-9 * len(rows):
            return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("criterion", ["gini", "entropy"])
def test_structurally_equal_to_scikit_learn_on_tie_free_data(criterion):
    sklearn_tree = pytest.importorskip("sklearn.tree")
    compared = 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        n, d, k = 150 + 20 * seed, 2 + seed % 4, 2 + seed % 3
        X = rng.normal(size=(n, d)).astype(np.float32).astype(np.float64)  # scikit-learn works in float32
        y = ((X[:, 0] + np.sin(2 * X[:, -1]) + 0.7 * rng.normal(size=n)) * 1.3).astype(int) % k
        msl = [3, 5, 8][seed % 3]
        params = dict(criterion=criterion, max_depth=[3, 4, 6][seed % 3], min_samples_leaf=msl,
                      min_impurity_decrease=[0.0, 0.002][seed % 2], max_features=None)
        ours = DecisionTreeClassifier(random_state=seed, **params).fit(X, y)
        if has_ties(ours.tree_, X, y, criterion, msl):
            continue
        theirs = sklearn_tree.DecisionTreeClassifier(random_state=seed, **params).fit(X, y)
        a, b = ours.tree_, theirs.tree_
        assert a.node_count == b.node_count
        for name in ("children_left", "children_right", "feature", "n_node_samples"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert np.array_equal(a.threshold, b.threshold)
        assert np.allclose(a.impurity, b.impurity)
        assert np.allclose(a.value, b.value[:, 0, :])
        assert np.allclose(ours.feature_importances_, theirs.feature_importances_)
        assert np.array_equal(ours.predict_proba(X), theirs.predict_proba(X))
        compared += 1
    assert compared >= 6, f"only {compared} tie-free datasets compared"
