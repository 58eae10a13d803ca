"""Random forest: bagging, averaging, out-of-bag score, threads, and agreement with scikit-learn."""

import numpy as np
import pytest

from minicnn.tree import DecisionTreeClassifier, NotFittedError, RandomForestClassifier
from minicnn.tree.forest import average_proba, bootstrap_counts


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    n = 600
    X = rng.normal(size=(n, 6))
    score = X[:, 0] + 0.8 * X[:, 1] ** 2 - X[:, 2] * X[:, 3] + 0.5 * rng.normal(size=n)
    y = np.digitize(score, [-0.5, 0.8])
    return X[:400], y[:400], X[400:], y[400:]


@pytest.mark.exercise("G09")
def test_bootstrap_counts_are_a_sample_with_replacement():
    rng = np.random.default_rng(0)
    counts = bootstrap_counts(1000, 1000, rng)
    assert counts.shape == (1000,)
    assert counts.sum() == 1000
    assert (counts >= 0).all() and np.array_equal(counts, np.round(counts))
    # about 1 - 1/e = 63.2 % of the samples are drawn at least once
    assert 0.58 < np.mean(counts > 0) < 0.68
    assert np.array_equal(bootstrap_counts(50, 30, np.random.default_rng(4)),
                          bootstrap_counts(50, 30, np.random.default_rng(4)))
    assert bootstrap_counts(50, 30, np.random.default_rng(4)).sum() == 30
    # many draws: each sample is drawn once on average
    mean = np.mean([bootstrap_counts(20, 20, rng) for _ in range(2000)], axis=0)
    assert np.allclose(mean, 1.0, atol=0.1)


@pytest.mark.exercise("G09")
def test_predict_proba_is_the_mean_of_the_trees(blobs):
    X, y, Xt, yt = blobs
    forest = RandomForestClassifier(n_estimators=15, random_state=0).fit(X, y)
    mean = np.mean([t.predict_proba(Xt) for t in forest.estimators_], axis=0)
    assert np.allclose(forest.predict_proba(Xt), mean)
    assert np.allclose(average_proba(forest.estimators_, Xt, 3), mean)
    assert np.allclose(forest.predict_proba(Xt).sum(axis=1), 1.0)
    assert np.array_equal(forest.predict(Xt), forest.classes_[mean.argmax(axis=1)])


@pytest.mark.exercise("G09")
def test_trees_see_their_bootstrap_sample_and_differ(blobs):
    X, y, _, _ = blobs
    forest = RandomForestClassifier(n_estimators=5, random_state=1).fit(X, y)
    roots = {t.tree_.weighted_n_node_samples[0] for t in forest.estimators_}
    assert roots == {float(len(y))}, "each tree is grown on n bootstrap draws"
    distinct = [t.tree_.n_node_samples[0] for t in forest.estimators_]
    assert all(0.55 * len(y) < d < 0.72 * len(y) for d in distinct), distinct
    assert len({tuple(t.tree_.threshold[:3]) for t in forest.estimators_}) > 1


@pytest.mark.exercise("G09")
def test_oob_score_uses_only_out_of_bag_trees(blobs):
    X, y, _, _ = blobs
    forest = RandomForestClassifier(n_estimators=40, oob_score=True, random_state=2).fit(X, y)
    assert 0.6 < forest.oob_score_ < 1.0
    oob = forest.oob_decision_function_
    assert oob.shape == (len(y), 3)
    assert np.allclose(oob.sum(axis=1), 1.0)
    # the OOB estimate is pessimistic compared with the training accuracy
    assert forest.oob_score_ < forest.score(X, y)


def test_oob_score_close_to_scikit_learn(blobs):
    ensemble = pytest.importorskip("sklearn.ensemble")
    X, y, Xt, yt = blobs
    ours = RandomForestClassifier(n_estimators=60, oob_score=True, random_state=0).fit(X, y)
    theirs = ensemble.RandomForestClassifier(n_estimators=60, oob_score=True, random_state=0).fit(X, y)
    assert abs(ours.oob_score_ - theirs.oob_score_) < 0.06
    assert abs(ours.score(Xt, yt) - theirs.score(Xt, yt)) < 0.06
    assert ours.score(Xt, yt) > DecisionTreeClassifier(random_state=0).fit(X, y).score(Xt, yt) - 0.02


def test_same_seed_same_forest_for_any_n_jobs(blobs):
    X, y, Xt, _ = blobs
    a = RandomForestClassifier(n_estimators=8, random_state=3, n_jobs=1).fit(X, y)
    b = RandomForestClassifier(n_estimators=8, random_state=3, n_jobs=2).fit(X, y)
    assert np.array_equal(a.predict_proba(Xt), b.predict_proba(Xt))
    for ta, tb in zip(a.estimators_, b.estimators_, strict=True):
        assert np.array_equal(ta.tree_.threshold, tb.tree_.threshold)
    c = RandomForestClassifier(n_estimators=8, random_state=4).fit(X, y)
    assert not np.array_equal(a.predict_proba(Xt), c.predict_proba(Xt))


def test_without_bootstrap_and_feature_sampling_all_trees_equal_one_tree(blobs):
    X, y, Xt, _ = blobs
    # large leaves: no two splits of a node tie, so the random feature order cannot matter
    kw = dict(max_features=None, max_depth=3, min_samples_leaf=20)
    forest = RandomForestClassifier(n_estimators=3, bootstrap=False, random_state=0, **kw).fit(X, y)
    single = DecisionTreeClassifier(**kw).fit(X, y)
    for tree in forest.estimators_:
        assert np.array_equal(tree.tree_.threshold, single.tree_.threshold)
    assert np.allclose(forest.predict_proba(Xt), single.predict_proba(Xt))


@pytest.mark.filterwarnings("ignore:.*never out of bag")
def test_naive_splitter_forest_equals_fast(blobs):
    X, y, Xt, _ = blobs
    kw = dict(n_estimators=3, max_depth=3, random_state=5, oob_score=True)
    fast = RandomForestClassifier(splitter="fast", **kw).fit(X[:120], y[:120])
    naive = RandomForestClassifier(splitter="naive", **kw).fit(X[:120], y[:120])
    assert np.allclose(fast.predict_proba(Xt), naive.predict_proba(Xt))
    assert fast.oob_score_ == naive.oob_score_


def test_feature_importances_and_apply(blobs):
    X, y, Xt, _ = blobs
    forest = RandomForestClassifier(n_estimators=20, random_state=0, class_weight="balanced").fit(X, y)
    imp = forest.feature_importances_
    assert imp.shape == (6,) and imp.sum() == pytest.approx(1.0)
    assert imp[[0, 1]].min() > imp[[4, 5]].max(), "informative features matter more than noise"
    leaves = forest.apply(Xt)
    assert leaves.shape == (len(Xt), 20)


def test_string_labels_max_samples_and_progress(blobs):
    X, y, Xt, _ = blobs
    labels = np.array(["negative", "micro", "macro"])[y]
    forest = RandomForestClassifier(n_estimators=4, max_samples=0.5, random_state=0, progress=False).fit(X, labels)
    assert set(forest.predict(Xt)) <= set(labels)
    assert all(t.tree_.weighted_n_node_samples[0] == 200 for t in forest.estimators_)


def test_forest_errors(blobs):
    X, y, _, _ = blobs
    with pytest.raises(NotFittedError, match="not fitted yet"):
        RandomForestClassifier().predict(X)
    with pytest.raises(ValueError, match="n_estimators must be an int >= 1"):
        RandomForestClassifier(n_estimators=0).fit(X, y)
    with pytest.raises(ValueError, match="oob_score=True needs bootstrap=True"):
        RandomForestClassifier(bootstrap=False, oob_score=True).fit(X, y)
    with pytest.raises(ValueError, match="n_jobs"):
        RandomForestClassifier(n_jobs=0).fit(X, y)
    with pytest.raises(ValueError, match="max_samples"):
        RandomForestClassifier(max_samples=2.0).fit(X, y)
    with pytest.raises(ValueError, match="max_features must be"):
        RandomForestClassifier(max_features="all").fit(X, y)
    with pytest.raises(ValueError, match="different lengths"):
        RandomForestClassifier().fit(X, y[:-1])
    forest = RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="fitted with 6 features"):
        forest.predict(X[:, :5])
