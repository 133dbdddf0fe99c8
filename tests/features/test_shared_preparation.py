"""An ensemble normalises its input's dtypes once for all members; results are unchanged."""
import numpy as np
import pandas as pd

import assay
from assay.ensemble.space import combine, from_margin
from tests.conftest import DATA


def test_shared_preparation_gives_the_same_predictions_and_never_goes_stale():
    df = pd.read_csv(DATA / "titanic.csv.gz")
    run = assay.fit(df, "Survived", time_limit=None, max_trials=3, families=["linear", "lightgbm", "hist_gb"],
                    verbosity=0, refit="folds")
    model = run.model
    X = run.features(df.drop(columns=["Survived"]).head(100))
    together = model.predict_output(X)
    # each member on its own (no sharing), combined by the same weights
    margins = [m.margin(X, run.task) for m in model.members]
    alone = from_margin(combine(margins, [m.weight for m in model.members]), run.task)
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-12)
    # the same frame object changed in place: the next prediction sees the change
    before = model.predict_output(X)
    X["Sex"] = np.where(X["Sex"].astype(str) == "male", "female", "male")
    after = model.predict_output(X)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, from_margin(combine([m.margin(X, run.task) for m in model.members],
                                                          [m.weight for m in model.members]), run.task))
