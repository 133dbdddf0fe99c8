"""Datetime columns: calendar parts computed in the ONNX graph from epoch seconds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("onnxruntime")

from assay.export import export_onnx
from tests.export._helpers import fit_member, make_run


def _graph_of_parts(dp, column):
    """A one-input graph holding only `_datetime_parts`, run in ONNX Runtime."""
    from onnx import TensorProto, helper

    from assay.export._graph import Graph
    from assay.export.onnx import session
    from assay.export.prep import _datetime_parts

    g = Graph()
    x = g.input(column, TensorProto.DOUBLE)
    out = _datetime_parts(g, dp, {column: x})
    g.nodes.append(helper.make_node("Identity", [out], ["parts"]))
    model = g.model([helper.make_tensor_value_info("parts", TensorProto.DOUBLE, [None, None])])
    return session(model.SerializeToString())


def test_calendar_arithmetic_matches_pandas_on_every_kind_of_date():
    from assay.features.encoders import DatetimeParts

    rng = np.random.default_rng(0)
    secs = rng.integers(-5_000_000_000, 7_000_000_000, size=20_000)          # 1811 .. 2191
    special = pd.to_datetime(["1970-01-01", "1969-12-31 23:59:59", "2000-02-29 12:00", "1900-03-01",
                              "2100-02-28 23:00", "2024-12-31 23:59:59", "1600-01-01", "2400-02-29"], format="ISO8601")
    s = pd.Series(np.concatenate([pd.to_datetime(secs, unit="s").to_numpy(), special.to_numpy(),
                                  np.array(["NaT"], dtype="datetime64[ns]")]))
    frame = pd.DataFrame({"t": s})
    dp = DatetimeParts().fit(frame)
    assert dp.has_time_["t"]
    want = dp.transform(frame)
    feed = ((s - pd.Timestamp(0)).dt.total_seconds()).to_numpy(dtype=float, na_value=np.nan).reshape(-1, 1)
    got = _graph_of_parts(dp, "t").run(None, {"t": feed})[0]
    assert got.shape == want.shape == (len(s), 6)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])


@pytest.mark.parametrize("family", ["lightgbm", "random_forest", "linear"])
def test_runs_with_datetime_columns_export(family, tmp_path):
    rng = np.random.default_rng(1)
    n = 500
    df = pd.DataFrame({"when": pd.to_datetime(rng.integers(0, 2_000_000_000, size=n), unit="s"),
                       "day": pd.to_datetime(rng.integers(0, 20_000, size=n), unit="D"),
                       "x": rng.normal(size=n), "c": rng.choice(list("abcd"), n)})
    df.loc[::17, "when"] = pd.NaT
    df["y"] = (df["when"].dt.month.fillna(1) > 6) ^ (df["x"] > 0)
    member, schema = fit_member(df.iloc[:350], "y", family)
    assert [c.kind for c in schema.features][:2] == ["datetime", "datetime"]
    rep = export_onnx(make_run(schema, [member]), data=df.iloc[350:], path=tmp_path)
    assert rep.inputs["when"] == "datetime" and rep.max_abs_diff <= 1e-4
