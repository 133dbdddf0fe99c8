"""fit -> save -> load -> predict on held-out rows of real datasets from ../shared/datasets
(skipped where ../shared is absent)."""
import json

import numpy as np
import pandas as pd
import pytest

import assay
from assay.data.split import train_test_split_frame
from assay.metrics import get_metric
from tests.conftest import SHARED, shared_dataset


def _manifest(name):
    shared_dataset("manifest.json")
    return next(d for d in json.loads((SHARED / "manifest.json").read_text()) if d["name"] == name)


@pytest.mark.parametrize("name", ["credit_g", "segment", "wine_quality_white"])
def test_holdout_score_beats_baseline(tmp_path, name):
    m = _manifest(name)
    df = pd.read_csv(shared_dataset(m["file"]))
    train, test = train_test_split_frame(df, m["target"], m["task"], seed=0)
    run = assay.fit(train, m["target"], task=m["task"], time_limit=None, max_trials=3,
                    families=["lightgbm", "linear"], verbosity=0)
    run = assay.load(run.save(tmp_path / name))
    metric = get_metric(m["metric"], m["task"])
    X = test.drop(columns=[m["target"]])
    out = run.predict_output(X)
    if m["task"] == "regression":
        y = test[m["target"]].to_numpy(float)
        base = np.full(len(y), train[m["target"]].mean())
    else:
        order = {c: i for i, c in enumerate(run.classes)}
        y = test[m["target"]].map(order).to_numpy()
        prior = train[m["target"]].map(order).value_counts(normalize=True).sort_index().to_numpy()
        base = np.tile(prior, (len(y), 1))
    assert metric.score(y, out) > metric.score(y, base) + 0.05 * abs(metric.score(y, base))
