"""scikit-learn compatibility of `assay.sklearn.AutoClassifier` / `AutoRegressor`.

The estimators run scikit-learn's estimator checks (``estimator_checks_generator``,
the generator behind ``parametrize_with_checks``) on fast configurations: one trial,
2 folds, one thread per trial (``n_jobs=1``: several threads per trial on a small,
shared machine only add contention), no time limit (so the run is deterministic).

* ``linear`` configuration: the check run by default, except the checks in
  ``HEAVY_CHECKS`` and the read-only-memmap / float32 variants of the training checks
  (many fits each), which are marked ``slow``.
* ``lightgbm`` configuration: the whole check run, marked ``slow``.
* ``pytest -m slow tests/test_sklearn_api.py`` runs everything left out by default.

Expected failures
-----------------
None: every check passes for both estimators in both configurations, so
``EXPECTED_FAILED_CHECKS`` is empty. It is still passed to scikit-learn's
``expected_failed_checks`` mechanism (strict xfail: a listed check that passes fails the
run), and any check that fails in future must be added there with its reason.

Not a failure, but not run: ``check_array_api_input`` is skipped *by scikit-learn itself*
(it raises SkipTest unless the environment variable ``SCIPY_ARRAY_API=1`` is set); the
estimators do not declare array-API support anyway. Sample-weight checks are not
generated because ``fit`` takes no ``sample_weight``; multi-output / multi-label checks
are not generated because the tags say single output.

Known limitation (documented by an xfail test below, not a scikit-learn check): assay's
data layer drops a column of unique sequential integers (20+ rows) as a row identifier,
even for a plain NumPy array, so ``AutoRegressor().fit(np.arange(n)[:, None], y)``
raises "no usable feature columns" where a scikit-learn regressor would fit.
"""

from __future__ import annotations

import pickle
import tempfile
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import _get_check_estimator_ids, estimator_checks_generator

from assay.sklearn import AutoClassifier, AutoRegressor

from tests.conftest import DATA

FAST = dict(time_limit=None, max_trials=1, n_folds=2, n_jobs=1)

# {check name: reason} of checks expected to fail; see the module docstring. Empty: none.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "AutoClassifier": {},
    "AutoRegressor": {},
}

# checks that fit many times (several dtypes / data containers / label types): slow only
HEAVY_CHECKS = {
    "check_estimators_dtypes",
    "check_classifier_data_not_an_array",
    "check_regressor_data_not_an_array",
    "check_classifiers_classes",
    "check_regressors_int",
}
HEAVY_VARIANTS = ("readonly_memmap=True", "X_dtype='float32'")


@pytest.fixture(autouse=True, scope="module")
def _private_tempdir(tmp_path_factory):
    """Keep the per-fit temporary directories of assay.fit (see api.fit: one `assay-run-*`
    directory per in-memory fit, never removed) under pytest's own temporary folder."""
    old = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("assay-tmp"))
    try:
        yield
    finally:
        tempfile.tempdir = old


def _check_params(estimator, *, all_slow: bool):
    name = type(estimator).__name__
    out = []
    for item in estimator_checks_generator(
            estimator, legacy=True, expected_failed_checks=EXPECTED_FAILED_CHECKS[name],
            mark="xfail", xfail_strict=True):
        if isinstance(item, tuple):
            est, check, marks = item[0], item[1], []
        else:  # pytest.param carrying the xfail mark
            (est, check), marks = item.values, list(item.marks)
        check_id = _get_check_estimator_ids(check)
        check_name = check_id.split("(")[0]
        slow = all_slow or check_name in HEAVY_CHECKS or any(v in check_id for v in HEAVY_VARIANTS)
        if slow:
            marks.append(pytest.mark.slow)
        config = "lightgbm" if all_slow else "linear"
        out.append(pytest.param(est, check, marks=marks, id=f"{name}[{config}]-{check_id}"))
    return out


CHECKS = (
    _check_params(AutoClassifier(families=["linear"], **FAST), all_slow=False)
    + _check_params(AutoRegressor(families=["linear"], **FAST), all_slow=False)
    + _check_params(AutoClassifier(families=["lightgbm"], **FAST), all_slow=True)
    + _check_params(AutoRegressor(families=["lightgbm"], **FAST), all_slow=True)
)


@pytest.mark.parametrize("estimator, check", CHECKS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# --------------------------------------------------------------------------- behaviour

def _split(df, frac=0.75, seed=0):
    rng = np.random.RandomState(seed)
    idx = rng.permutation(len(df))
    cut = int(frac * len(df))
    return df.iloc[idx[:cut]], df.iloc[idx[cut:]]


def test_classifier_on_titanic_dataframe_with_user_labels():
    df = pd.read_csv(DATA / "titanic.csv.gz")
    y_all = df["Survived"].map({1: "survived", 0: "died"})
    X_all = df.drop(columns="Survived")
    train, test = _split(df)
    X_train, y_train = X_all.loc[train.index], y_all.loc[train.index]
    X_test, y_test = X_all.loc[test.index], y_all.loc[test.index]
    X_before = X_train.copy()

    clf = AutoClassifier(time_limit=None, max_trials=3, families=["lightgbm", "linear"],
                         n_folds=3, n_jobs=1)
    assert clf.fit(X_train, y_train) is clf
    pd.testing.assert_frame_equal(X_train, X_before)  # input not modified

    assert list(clf.classes_) == ["died", "survived"]
    assert list(clf.feature_names_in_) == list(X_all.columns)
    assert clf.n_features_in_ == X_all.shape[1]
    pred = clf.predict(X_test)
    assert set(pred) <= {"died", "survived"}
    acc = float(np.mean(pred == y_test.to_numpy()))
    assert acc > 0.75, acc
    assert clf.score(X_test, y_test) == pytest.approx(acc)
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], pred)

    # the same columns as a NumPy object array (strings kept) predict the same labels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "X does not have valid feature names"
        np.testing.assert_array_equal(clf.predict(X_test.to_numpy(dtype=object)), pred)

    # a fitted estimator pickles and predicts the same afterwards
    clf2 = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf2.predict(X_test), pred)

    # wrong column names / order are scikit-learn errors
    with pytest.raises(ValueError, match="Feature names"):
        clf.predict(X_test[list(X_test.columns[::-1])])


def test_regressor_on_abalone_dataframe():
    df = pd.read_csv(DATA / "abalone.csv.gz")
    train, test = _split(df)
    reg = AutoRegressor(time_limit=None, max_trials=2, families=["lightgbm"], n_folds=2, n_jobs=1)
    reg.fit(train.drop(columns="Rings"), train["Rings"])
    pred = reg.predict(test.drop(columns="Rings"))
    assert pred.shape == (len(test),) and pred.dtype == np.float64
    r2 = reg.score(test.drop(columns="Rings"), test["Rings"])
    assert r2 > 0.4, r2
    assert reg.run_.task == "regression"


def test_cross_val_score_and_clone():
    from sklearn.datasets import make_classification
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=90, n_features=6, n_informative=3, n_redundant=0,
                               n_clusters_per_class=1, class_sep=1.5, random_state=0)
    est = AutoClassifier(families=["linear"], **FAST)
    scores = cross_val_score(est, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.85  # LogisticRegression: 0.93
    assert not hasattr(est, "run_")  # cross_val_score fits clones

    c = clone(est)
    assert c is not est and c.get_params() == est.get_params()
    assert c.get_params()["families"] == ["linear"]

    pipe = make_pipeline(StandardScaler(), AutoRegressor(families=["linear"], **FAST))
    yr = X @ np.arange(1, 7) + 0.1 * np.random.RandomState(0).randn(len(X))
    assert cross_val_score(pipe, X, yr, cv=2).mean() > 0.9


def test_get_set_params_round_trip():
    est = AutoRegressor()
    params = est.get_params()
    assert params == dict(time_limit=60.0, max_trials=None, metric=None, families=None,
                          search="tpe", n_folds=None, seed=0, n_jobs=None, verbosity=0)
    new = dict(time_limit=None, max_trials=2, metric="mae", families=["linear"], search="random",
               n_folds=3, seed=7, n_jobs=1, verbosity=0)
    assert est.set_params(**new) is est
    assert est.get_params() == new
    assert AutoRegressor(**est.get_params()).get_params() == new
    with pytest.raises(ValueError, match="Invalid parameter"):
        est.set_params(nope=1)


def test_invalid_option_is_a_value_error_at_fit():
    X = np.random.RandomState(0).randn(30, 3)
    y = np.arange(30) % 2
    with pytest.raises(ValueError, match="time limit or a maximum number of trials"):
        AutoClassifier(time_limit=None, max_trials=None).fit(X, y)


def test_proba_columns_follow_classes_and_labels_keep_dtype():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 3)
    y_int = np.digitize(X[:, 0], [-0.5, 0.5])  # 0, 1, 2: ints, sorted like strings too
    y = np.array(["10", "9", "b"], dtype=object)[y_int]  # sorted: "10" < "9" < "b"
    clf = AutoClassifier(families=["linear"], **FAST).fit(X, y)
    assert list(clf.classes_) == ["10", "9", "b"]
    proba = clf.predict_proba(X)
    assert np.mean(clf.classes_[proba.argmax(axis=1)] == y) > 0.8

    yf = y_int.astype(float)  # integer-valued float labels stay floats in classes_
    clf = AutoClassifier(families=["linear"], **FAST).fit(X, yf)
    assert clf.classes_.dtype == np.float64 and list(clf.classes_) == [0.0, 1.0, 2.0]
    assert clf.predict(X).dtype == np.float64


def test_numpy_array_of_strings_is_accepted():
    rng = np.random.RandomState(1)
    colour = rng.choice(["red", "green", "blue"], size=80)
    num = rng.randn(80)
    X = np.column_stack([colour, num.astype(object)]).astype(object)
    y = (colour == "red") | (num > 1)
    clf = AutoClassifier(families=["linear"], **FAST).fit(X, y)
    assert clf.n_features_in_ == 2 and not hasattr(clf, "feature_names_in_")
    assert clf.classes_.dtype == bool
    assert np.mean(clf.predict(X) == y) > 0.8


@pytest.mark.xfail(strict=True, raises=ValueError,
                   reason="assay's data layer drops a unique sequential integer column as a row "
                          "identifier even in anonymous array input; with no column left fit fails")
def test_integer_index_feature_is_kept():
    X = np.arange(40).reshape(-1, 1)
    y = 2.0 * X[:, 0] + np.random.RandomState(0).randn(40)
    AutoRegressor(families=["linear"], **FAST).fit(X, y)
