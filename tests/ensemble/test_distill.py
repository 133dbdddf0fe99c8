"""Distillation: one LightGBM learns the ensemble's out-of-fold margins."""
import numpy as np
import pandas as pd
import pytest

import assay
from tests.conftest import DATA


@pytest.mark.parametrize("name,target", [("abalone.csv.gz", "Rings"), ("car.csv.gz", "class")])
def test_distilled_model_is_kept_and_close_to_the_ensemble(tmp_path, name, target):
    df = pd.read_csv(DATA / name)
    run = assay.fit(df, target, time_limit=None, max_trials=3, families=["lightgbm", "linear"],
                    verbosity=0, distill=True)
    lb = run.leaderboard()
    row = lb[lb["model"] == "distilled"].iloc[0]
    assert row["status"] == "ok" and bool(row["kept"])
    assert pd.isna(row[[c for c in lb.columns if c.startswith("cv_")][0]])   # no leaky CV score
    fidelity = float(row["error"].split("fidelity R2 ")[1].split()[0])
    assert 0.8 < fidelity <= 1.0
    assert row["predict_rows_per_s"] > 0

    loaded = assay.load(run.save(tmp_path / "run"))
    X = df.drop(columns=[target]).head(200)
    student, teacher = loaded.predict_output(X, model="distilled"), loaded.predict_output(X)
    if run.task == "regression":
        assert np.corrcoef(student, teacher)[0, 1] > 0.95
    else:
        np.testing.assert_allclose(student.sum(1), 1.0, atol=1e-9)
        assert (student.argmax(1) == teacher.argmax(1)).mean() > 0.95
