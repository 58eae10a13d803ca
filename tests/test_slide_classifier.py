"""Slide classifier on heatmap features: trees from minicnn.tree, class weights, grouped CV, files."""

import numpy as np
import pytest

from camelyon.errors import CamelyonError
from camelyon.slide_classifier import SlideClassifier, apply_itc_threshold, cross_validate, grouped_folds
from camelyon.staging import SLIDE_LABELS

pytest.importorskip("minicnn.tree")


def easy_cohort(n_patients=20, seed=0):
    """Five slides per patient; feature 0 is a lesion diameter in mm that decides the label."""
    rng = np.random.default_rng(seed)
    X, y, groups = [], [], []
    for p in range(n_patients):
        for _node in range(5):
            lab = SLIDE_LABELS[rng.choice(4, p=[0.55, 0.15, 0.15, 0.15])]
            d = {"negative": 0.0, "itc": rng.uniform(0.05, 0.18), "micro": rng.uniform(0.3, 1.8),
                 "macro": rng.uniform(2.3, 6.0)}[lab]
            X.append([d, rng.random(), d * 1000 * rng.uniform(0.8, 1.2)])
            y.append(lab)
            groups.append(f"patient_{p:03d}")
    return np.array(X), np.array(y), np.array(groups)


def test_grouped_folds_keep_patients_together():
    groups = np.repeat([f"p{i}" for i in range(11)], 5)
    strata = np.repeat(["a", "b", "b", "c", "a", "a", "b", "c", "c", "a", "b"], 5)
    folds = grouped_folds(groups, 4, strata=strata, seed=1)
    assert len(folds) == 4
    seen = np.concatenate([te for _, te in folds])
    assert sorted(seen) == list(range(len(groups)))
    for tr, te in folds:
        assert not set(groups[tr]) & set(groups[te])
        assert len(tr) + len(te) == len(groups)
    with pytest.raises(CamelyonError, match="n_splits"):
        grouped_folds(groups, 12)


@pytest.mark.parametrize("kind", ["tree", "forest"])
def test_learns_labels_from_diameter(kind):
    X, y, groups = easy_cohort()
    Xt, yt, _ = easy_cohort(seed=1)
    clf = SlideClassifier(kind, n_estimators=30, random_state=0).fit(X, y, feature_names=["d", "noise", "d_um"])
    assert set(clf.classes_) == set(SLIDE_LABELS)
    assert (clf.predict(Xt) == yt).mean() >= 0.95
    proba = clf.predict_proba(Xt)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.feature_importances_[1] < clf.feature_importances_[0] + clf.feature_importances_[2]


def test_balanced_class_weights_find_the_rare_class():
    # ten ITC slides spread among 90 negatives: no interval holds more ITC than negatives
    X = np.concatenate([np.linspace(0, 1, 90), 0.501 + 0.05 * np.arange(10)])[:, None]
    y = ["negative"] * 90 + ["itc"] * 10
    plain = SlideClassifier("tree", max_depth=1, class_weight=None).fit(X, y)
    balanced = SlideClassifier("tree", max_depth=1, class_weight="balanced").fit(X, y)
    rare = X[90:]
    assert (plain.predict(rare) == "itc").mean() == 0.0
    assert (balanced.predict(rare) == "itc").mean() >= 0.5


def test_cross_validation_is_out_of_fold():
    X, y, groups = easy_cohort()
    cv = cross_validate(X, y, groups, n_splits=4, kind="forest", n_estimators=20, seed=0)
    assert cv.predictions.shape == y.shape and set(cv.fold) == {0, 1, 2, 3}
    for g in set(groups):
        assert len(set(cv.fold[groups == g])) == 1  # a patient's slides share a fold
    assert cv.accuracy == pytest.approx((cv.predictions == y).mean())
    assert cv.accuracy >= 0.9
    assert set(cv.class_accuracy) == set(SLIDE_LABELS)
    np.testing.assert_allclose(cv.probabilities.sum(axis=1), 1.0)


@pytest.mark.parametrize("kind", ["tree", "forest"])
def test_save_and_load_without_pickle(tmp_path, kind):
    X, y, _ = easy_cohort(8)
    names = ["d", "noise", "d_um"]
    clf = SlideClassifier(kind, n_estimators=10, random_state=3).fit(X, y, feature_names=names)
    path = clf.save(tmp_path / "clf.npz")
    with np.load(path, allow_pickle=False) as z:  # readable without pickle
        assert len(z.files) > 0
    back = SlideClassifier.load(path)
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    np.testing.assert_allclose(back.predict_proba(X), clf.predict_proba(X))
    assert back.feature_names_ == names and back.kind == kind
    with pytest.raises(CamelyonError, match="missing noise; unexpected x"):
        back.predict(X, feature_names=["d", "x", "d_um"])
    with pytest.raises(CamelyonError, match="not found"):
        SlideClassifier.load(tmp_path / "nope.npz")


def test_model_and_sidecar_are_committed_together(tmp_path, monkeypatch):
    """A failed save changes neither file; a model paired with another model's sidecar is refused."""
    import camelyon.slide_classifier as sc

    X, y, _ = easy_cohort(8)
    first = SlideClassifier("tree", random_state=0).fit(X, y)
    second = SlideClassifier("tree", max_depth=1, random_state=0).fit(X, y)
    path = first.save(tmp_path / "clf.npz")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(before) == ["clf.npz", "clf.npz.json"]

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sc.json, "dumps", fail)  # the model is written, then the sidecar fails
    with pytest.raises(OSError, match="no space left"):
        second.save(path)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before

    second.save(tmp_path / "other.npz")
    (tmp_path / "other.npz").replace(path)  # a model without its own sidecar
    with pytest.raises(CamelyonError, match="do not belong together"):
        SlideClassifier.load(path)


def test_bad_input():
    X, y, _ = easy_cohort(4)
    with pytest.raises(CamelyonError, match="at least two different slide labels"):
        SlideClassifier("tree").fit(X[:3], ["negative"] * 3)
    with pytest.raises(CamelyonError, match="unknown slide label"):
        SlideClassifier("tree").fit(X[:2], ["negative", "big"])
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(CamelyonError, match="row 2, column 1"):
        SlideClassifier("tree").fit(bad, y)
    with pytest.raises(CamelyonError, match="not fitted"):
        SlideClassifier("tree").predict(X)
    with pytest.raises(CamelyonError, match="kind"):
        SlideClassifier("svm")
    clf = SlideClassifier("tree").fit(X, y)
    with pytest.raises(CamelyonError, match=r"fitted on 3 features \(f0, f1, f2\), got 2; pass the column names"):
        clf.predict(X[:, :2])


def test_column_mismatch_names_missing_and_unexpected_columns():
    rng = np.random.default_rng(0)
    names = [f"feat_{i:02d}" for i in range(27)]
    X = rng.random((12, 27))
    y = ["negative", "macro", "micro", "itc"] * 3
    clf = SlideClassifier("tree", random_state=0).fit(X, y, feature_names=names)
    given = ["feat_00", "feat_03", "tumour_area", "feat_05"]
    with pytest.raises(CamelyonError) as info:
        clf.predict(X[:, [0, 3, 4, 5]], feature_names=given)
    message = str(info.value)
    assert message.startswith("the slide classifier was fitted on 27 features, got 4 feature columns: ")
    assert "missing feat_01, feat_02, feat_04, feat_06, feat_07, feat_08, ... (24 in all)" in message
    assert message.endswith("; unexpected tumour_area")
    swapped = [names[1], names[0], *names[2:]]
    with pytest.raises(CamelyonError, match="another order: column 0 is 'feat_01', expected 'feat_00'"):
        clf.predict(X, feature_names=swapped)
    with pytest.raises(CamelyonError, match="duplicated feat_00"):
        clf.predict(X, feature_names=[names[0], *names[:-1]])
    with pytest.raises(CamelyonError, match="3 feature names for 27 feature columns"):
        clf.predict(X, feature_names=names[:3])
    assert clf.predict(X, feature_names=names).shape == (12,)


def test_itc_threshold_rule_turns_only_negatives_into_itc():
    labels = ["negative", "negative", "micro", "itc", "negative"]
    classes = ["itc", "macro", "micro", "negative"]
    proba = np.array([[0.30, 0.0, 0.0, 0.70],   # itc probability reaches 0.3: itc
                      [0.29, 0.0, 0.0, 0.71],   # just below: stays negative
                      [0.40, 0.0, 0.6, 0.00],   # micro is never changed
                      [0.90, 0.0, 0.0, 0.10],
                      [0.00, 0.0, 0.0, 1.00]])
    out = apply_itc_threshold(labels, proba, classes, 0.3)
    assert out.tolist() == ["itc", "negative", "micro", "itc", "negative"]
    # without an itc class (a fold that saw none) the labels pass through
    assert apply_itc_threshold(["negative"], np.array([[0.2, 0.8]]), ["micro", "negative"], 0.1).tolist() == ["negative"]
    with pytest.raises(CamelyonError, match="expected"):
        apply_itc_threshold(labels, proba[:, :3], classes, 0.3)


def test_itc_threshold_in_the_classifier_and_its_file(tmp_path):
    # ITC slides that overlap the negatives: the forest calls some of them negative, the rule recovers them
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.uniform(0, 1, 80), rng.uniform(0.7, 1.2, 20)])[:, None]
    y = np.array(["negative"] * 80 + ["itc"] * 20)
    plain = SlideClassifier("forest", n_estimators=25, min_samples_leaf=5, random_state=0).fit(X, y)
    ruled = SlideClassifier("forest", n_estimators=25, min_samples_leaf=5, random_state=0,
                            itc_threshold=0.2).fit(X, y)
    p_plain, p_ruled = plain.predict(X), ruled.predict(X)
    p_itc = ruled.predict_proba(X)[:, list(ruled.classes_).index("itc")]
    np.testing.assert_array_equal(p_ruled, apply_itc_threshold(p_plain, ruled.predict_proba(X), ruled.classes_, 0.2))
    assert ((p_ruled == "itc") & (p_plain == "negative")).any()
    assert np.all((p_ruled == "itc") == ((p_plain == "itc") | (p_itc >= 0.2)))
    back = SlideClassifier.load(ruled.save(tmp_path / "clf.npz"))
    assert back.itc_threshold == 0.2
    np.testing.assert_array_equal(back.predict(X), p_ruled)
    for bad in (0, 1.5, "high", True):
        with pytest.raises(CamelyonError, match="itc_threshold"):
            SlideClassifier("forest", itc_threshold=bad)


def test_classify_command_names_the_slide_with_an_unknown_label(tmp_path, capsys):
    from camelyon.cli import main
    from camelyon.features import write_features_csv

    X, y, groups = easy_cohort(4)
    slides = [f"{g}_node_{i % 5}.tif" for i, g in enumerate(groups)]
    labels = list(y)
    labels[3] = "huge"
    path = write_features_csv(tmp_path / "f.csv", slides, ["d", "noise", "area"], X, labels)
    assert main(["classify", str(path), "--fit", "--model", str(tmp_path / "c.npz"), "--kind", "tree"]) == 2
    err = capsys.readouterr().err
    assert f"slide {slides[3]}: unknown slide label 'huge'" in err
