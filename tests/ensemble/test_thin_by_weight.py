"""Members thinned in proportion to their weight (assay.ensemble.build.thin_by_weight)."""

from __future__ import annotations

import numpy as np

from assay.ensemble.build import thin_by_weight
from assay.ensemble.model import EnsembleModel, Member
from assay.models.forests import MIN_MEMBER_TREES
from assay.models.registry import get_family
from tests.export._helpers import fit_member, split


def _trees(member) -> int:
    return len(member.estimators[0].steps[-1][1].model_.forest_.estimators_)


def test_a_low_weight_forest_keeps_trees_in_proportion_and_still_predicts():
    train, test, target = split("binary")
    forest, _ = fit_member(train, target, "random_forest", weight=0.1, trial_id=1, extra={"n_estimators": 200})
    top, _ = fit_member(train, target, "linear", weight=0.9, trial_id=2)
    before = forest.margin(test.drop(columns=[target]), "binary")
    thin_by_weight([top, forest])
    assert _trees(forest) == 23                               # ceil(200 x 0.1 / 0.9)
    after = forest.margin(test.drop(columns=[target]), "binary")
    assert after.shape == before.shape and np.corrcoef(after, before)[0, 1] > 0.9
    assert len(top.estimators) == 1


def test_a_forest_keeps_at_least_the_floor_and_the_top_member_stays_whole():
    train, _, target = split("binary")
    forest, _ = fit_member(train, target, "extra_trees", weight=0.01, trial_id=1, extra={"n_estimators": 200})
    top, _ = fit_member(train, target, "extra_trees", weight=0.99, trial_id=2, extra={"n_estimators": 200})
    thin_by_weight([forest, top])
    assert _trees(forest) == MIN_MEMBER_TREES and _trees(top) == 200


def test_bags_keep_their_first_fold_models_and_single_boosters_stay_whole():
    train, test, target = split("multiclass")
    bag, _ = fit_member(train, target, "lightgbm", weight=0.25, trial_id=1, n_models=6)
    booster, _ = fit_member(train, target, "lightgbm", weight=0.25, trial_id=2)
    top, _ = fit_member(train, target, "linear", weight=0.5, trial_id=3, n_models=6)
    first = list(bag.estimators[:3])
    thin_by_weight([top, bag, booster])
    assert bag.estimators == first                             # ceil(6 x 0.5)
    assert len(booster.estimators) == 1 and len(top.estimators) == 6
    out = EnsembleModel("multiclass", 4, [top, bag, booster]).predict_output(test.drop(columns=[target]))
    assert out.shape == (len(test), 4) and np.allclose(out.sum(axis=1), 1.0)


def test_the_family_rule_leaves_whole_shares_and_single_models_alone():
    family = get_family("lightgbm")
    assert family.thin_member(list(range(15)), 1.0) == list(range(15))
    assert family.thin_member(list(range(15)), 0.2) == [0, 1, 2]
    assert family.thin_member(list(range(15)), 0.01) == [0]
    assert family.thin_member(["one"], 0.01) == ["one"]


def test_a_stacker_and_equal_weights_are_not_thinned():
    from assay.ensemble.stacking import STACKER_FAMILY

    a = Member(1, STACKER_FAMILY, {}, 0.2, ["x"] * 5, "folds")
    b = Member(2, "lightgbm", {}, 0.8, ["y"] * 5, "folds")
    c = Member(3, "linear", {}, 0.8, ["z"] * 5, "folds")
    thin_by_weight([a, b, c])
    assert len(a.estimators) == 5 and len(b.estimators) == 5 and len(c.estimators) == 5
