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


def test_identically_fitted_preprocessors_share_one_transform_and_others_do_not():
    import numpy as np
    import pandas as pd

    from assay.data.validate import encode_target, prepare_training
    from assay.features import build_preprocessor
    from assay.features.pipeline import shared_preparation

    df = pd.DataFrame({"c": list("abcab") * 20, "n": np.arange(100.0), "t": [0, 1] * 50})
    X, y_raw, schema = prepare_training(df, "t", "binary")
    y = encode_target(y_raw, schema)
    a = build_preprocessor(schema, "tree").fit(X, y)
    b = build_preprocessor(schema, "tree").fit(X, y)
    other_rows = build_preprocessor(schema, "tree").fit(X.iloc[:80], y[:80])
    linear = build_preprocessor(schema, "linear").fit(X, y)
    assert a.fingerprint_ == b.fingerprint_ != other_rows.fingerprint_ != linear.fingerprint_
    new = df.drop(columns="t").iloc[:7]
    with shared_preparation():
        out_a, out_b = a.transform(new), b.transform(new)
        out_other, out_lin = other_rows.transform(new), linear.transform(new)
    assert out_a is out_b                                   # computed once
    assert out_other is not out_a and out_lin.shape[1] != out_a.shape[1] or out_lin is not out_a
    np.testing.assert_array_equal(out_a, a.transform(new))   # outside the block: same values
