"""A refit that the time left cuts short is not kept (ensemble.build._maybe_refit): the
member keeps the fold models that cross-validation scored."""

from __future__ import annotations

import pickle

import numpy as np

from assay.compute.executor import InlineExecutor
from assay.data.schema import MULTICLASS
from assay.ensemble.build import _maybe_refit
from assay.ensemble.model import Member
from assay.models._common import stopped_by_time
from assay.models.registry import get_family
from assay.search.budget import Budget
from assay.search.records import TrialRecord
from tests.models.test_family_conformance import make_data, make_info

SLOW = {"n_estimators": 2000, "early_stopping_rounds": 0, "learning_rate": 0.01, "depth": 8}   # fixed rounds: refit as is


def _member_and_data(tmp_path, n=600):
    info = make_info(MULTICLASS)
    X, y = make_data(MULTICLASS, n)
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps((X, y)))
    fam = get_family("catboost")
    folds = [fam.build({**SLOW, "n_estimators": 30}, info).fit(X.iloc[i::3], y[i::3]) for i in range(3)]
    assert not any(stopped_by_time(m) for m in folds)
    rec = TrialRecord(0, "catboost", SLOW, "default", "ok", fit_seconds=0.0)
    return Member(0, "catboost", SLOW, 1.0, folds, "folds"), rec, info, str(path)


def test_a_refit_cut_short_by_the_time_left_keeps_the_fold_models(tmp_path):
    member, rec, info, data = _member_and_data(tmp_path)
    folds = list(member.estimators)
    budget = Budget(time_limit=1.0 + Budget(10).write_reserve() + 0.6)   # ~1.6 s for the refit
    _maybe_refit(member, rec, "auto", budget, InlineExecutor(), info, data, str(tmp_path), 3)
    assert member.kind == "folds" and member.estimators == folds
    # the refit did run, and the allowance it got (0.9 x 1.6 - 0.5 s) does cut it short
    from assay.search.trial import fit_full

    fit_full("catboost", SLOW, info, data, str(tmp_path / "full.pkl"), 0.94)
    assert stopped_by_time(pickle.loads((tmp_path / "full.pkl").read_bytes()))


def test_a_refit_that_finishes_replaces_the_fold_models(tmp_path):
    member, rec, info, data = _member_and_data(tmp_path)
    member.params = rec.params = {**SLOW, "n_estimators": 30}
    _maybe_refit(member, rec, "auto", Budget(None), InlineExecutor(), info, data, str(tmp_path), 3)
    assert member.kind == "full" and len(member.estimators) == 1
    assert not stopped_by_time(member.estimators[0])
    assert np.isfinite(member.estimators[0].predict_proba(make_data(MULTICLASS, 20, 1)[0])).all()


def test_an_early_stopped_member_is_refit_for_its_folds_rounds_scaled_to_every_row(tmp_path):
    """Three folds' models saw 2/3 of the rows: the refit on all of them fits 3/2 of their
    mean rounds, with no holdout of its own."""
    info = make_info(MULTICLASS)
    X, y = make_data(MULTICLASS, 600)
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps((X, y)))
    params = {"learning_rate": 0.3, "n_estimators": 400}
    fam = get_family("lightgbm")
    folds = [fam.build(dict(params), info).fit(X.iloc[i::3], y[i::3]) for i in range(3)]
    mean = np.mean([m.steps[-1][1].best_iteration_ for m in folds])
    member = Member(0, "lightgbm", params, 1.0, folds, "folds")
    rec = TrialRecord(0, "lightgbm", params, "default", "ok", fit_seconds=0.0)
    _maybe_refit(member, rec, "auto", Budget(None), InlineExecutor(), info, str(path), str(tmp_path), 3)
    assert member.kind == "full"
    assert member.estimators[0].steps[-1][1].best_iteration_ == max(1, round(mean * 1.5))
