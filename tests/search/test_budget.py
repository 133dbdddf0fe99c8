"""The finishing phase keeps what the search estimates it needs, within bounds."""
import time

import pytest

from assay.search.budget import MAX_FINISH_SHARE, MIN_FINISH_SHARE, Budget, refit_seconds


def test_without_an_estimate_the_fixed_share_is_kept():
    b = Budget(100.0, t0=time.monotonic(), search_fraction=0.75)
    assert b.finish_reserve() == pytest.approx(25.0)
    assert b.search_left() == pytest.approx(75.0, abs=0.5)


@pytest.mark.parametrize("estimate, reserve", [(2.0, MIN_FINISH_SHARE * 300), (40.0, 40.0 + 9.0),
                                               (500.0, MAX_FINISH_SHARE * 300)])
def test_an_estimate_sets_the_reserve_within_its_bounds(estimate, reserve):
    b = Budget(300.0, t0=time.monotonic(), search_fraction=0.75)
    b.finish_estimate = estimate
    assert b.finish_reserve() == pytest.approx(reserve)
    assert b.search_left() == pytest.approx(300.0 - reserve, abs=0.5)


def test_the_refits_get_the_whole_estimate_after_the_write_reserve():
    # the search stops with the reserve left; what the refits may use then is the estimate
    b = Budget(300.0, t0=time.monotonic() - (300.0 - 49.0), search_fraction=0.75)
    b.finish_estimate = 40.0
    assert b.write_reserve() == pytest.approx(9.0)
    assert b.search_left() == pytest.approx(0.0, abs=0.5)
    assert b.finish_left() == pytest.approx(40.0, abs=0.5)
    assert Budget(10.0).write_reserve() == 0.5 and Budget(None).write_reserve() == 0.0


def test_no_limit_means_no_reserve_and_no_end():
    b = Budget(None)
    b.finish_estimate = 10.0
    assert b.search_left() == float("inf") and b.finish_left() == float("inf")


def test_refit_estimate_scales_a_fold_fit_to_all_rows():
    # 5 folds took 10 s: 2 s per fold on 80% of the rows -> 2.5 s on all, +30% +1 s
    assert refit_seconds(10.0, 5, 5) == pytest.approx(2.0 * 1.25 * 1.3 + 1.0)


def _record(tid, family, score, fit_s, status="ok"):
    from assay.search.records import TrialRecord

    r = TrialRecord(tid, family, {}, "default", status)
    r.score, r.value, r.fit_seconds = score, score, fit_s
    return r


def test_the_finish_estimate_refits_the_best_of_the_best_families_and_the_stacker():
    from assay.search.tuner import FINISH_FIXED_S, FINISH_MEMBERS, STACK_FACTOR, finish_estimate

    assert finish_estimate([], 5, stacking=True) is None
    assert finish_estimate([_record(0, "lightgbm", 0.9, 5.0, status="timeout")], 5, True) is None
    recs = [_record(0, "lightgbm", 0.90, 5.0), _record(1, "lightgbm", 0.91, 10.0),   # best lightgbm: 10 s
            _record(2, "catboost", 0.92, 20.0), _record(3, "linear", 0.80, 1.0),
            _record(4, "knn", 0.70, 1.0), _record(5, "mlp", 0.60, 100.0)]
    best4 = [10.0, 20.0, 1.0, 1.0][:FINISH_MEMBERS]            # mlp (5th family) is not counted
    refits = sum(refit_seconds(s, 5, 5) for s in best4)
    assert finish_estimate(recs, 5, stacking=False) == pytest.approx(FINISH_FIXED_S + refits)
    assert finish_estimate(recs, 5, stacking=True) == pytest.approx(FINISH_FIXED_S + refits + STACK_FACTOR * 10.0)


def test_small_data_keeps_the_fold_models_under_auto():
    from assay.ensemble.build import BAG_MAX_ROWS, keeps_fold_models

    assert keeps_fold_models("auto", BAG_MAX_ROWS) and not keeps_fold_models("auto", BAG_MAX_ROWS + 1)
    assert keeps_fold_models("folds", 10**6) and not keeps_fold_models("full", 10)
