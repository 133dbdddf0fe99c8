"""PNG plots of explanations: every plot is written as a real, non-trivial PNG; labels name
the output space (and class); bad feature / output / row names raise OptionError."""
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("shap")

from assay.audit import plots  # noqa: E402
from assay.audit.explain import Explanation  # noqa: E402
from assay.errors import OptionError  # noqa: E402
from tests.conftest import DATA  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _check_png(path):
    assert path.exists(), path
    b = path.read_bytes()
    assert b[:8] == PNG, path
    assert len(b) > 5_000, (path, len(b))


def _mixed_data(n, rng):
    return pd.DataFrame({
        "age": rng.normal(40, 10, n),
        "fare": np.where(rng.random(n) < 0.1, np.nan, rng.exponential(30, n)),
        "sex": rng.choice(["male", "female"], n),
        "port": np.where(rng.random(n) < 0.05, None, rng.choice(["S", "C", "Q"], n)),
        "when": pd.date_range("2020-01-01", periods=n, freq="D"),
        "note": [f"free text number {i}" for i in range(n)],
        "odd name / with: chars": rng.integers(0, 5, n).astype(float),
    })


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    n = 120
    data = _mixed_data(n, rng)
    vals = rng.normal(size=(n, data.shape[1], 1)) * np.linspace(2, 0.2, data.shape[1])[None, :, None]
    return Explanation(feature_names=list(data.columns), output_names=["1"],
                       output_space="log-odds of Survived = 1", values=vals,
                       base_values=np.array([-0.4]), rows=list(range(10, 10 + n)), data=data)


@pytest.fixture(scope="module")
def multiclass():
    """Real car data (all categorical strings), synthetic SHAP values for 4 classes."""
    data = pd.read_csv(DATA / "car.csv.gz").drop(columns=["class"]).head(100)
    for c in data.columns:
        data[c] = data[c].astype(str)
    rng = np.random.default_rng(1)
    vals = rng.normal(size=(len(data), data.shape[1], 4))
    return Explanation(feature_names=list(data.columns), output_names=["acc", "good", "unacc", "vgood"],
                       output_space="log-score per class (probabilities are their softmax)",
                       values=vals, base_values=np.array([0.1, -1.0, 1.5, -1.2]),
                       rows=list(range(len(data))), data=data)


def _texts(fig_path_fn, monkeypatch):
    """Run a plot function and collect the texts of the figure it saved."""
    import matplotlib.figure

    seen = []
    orig = matplotlib.figure.Figure.savefig

    def spy(self, *a, **kw):
        seen.extend(t.get_text() for t in self.findobj(lambda o: hasattr(o, "get_text")))
        return orig(self, *a, **kw)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", spy)
    path = fig_path_fn()
    return path, " | ".join(seen)


def test_save_all_binary(binary, tmp_path):
    paths = plots.save_all(binary, tmp_path / "plots", top=4)
    names = [p.name for p in paths]
    top = list(binary.importance().index[:4])
    assert names == ["summary.png", "importance.png"] + [
        f"dependence_{plots.safe_name(f)}.png" for f in top] + ["waterfall_row10.png"]
    for p in paths:
        _check_png(p)


def test_every_feature_kind_has_a_dependence_plot(binary, tmp_path):
    # numeric, numeric with NaN, categorical, categorical with None, datetime, free text
    for f in binary.feature_names:
        _check_png(plots.plot_dependence(binary, f, tmp_path / f"dep_{plots.safe_name(f)}.png"))
    assert plots.safe_name("odd name / with: chars") == "odd_name_with_chars"


def test_labels_name_space_and_class(binary, multiclass, tmp_path, monkeypatch):
    _, t = _texts(lambda: plots.plot_summary(binary, tmp_path / "s.png"), monkeypatch)
    assert "log-odds of Survived = 1" in t
    _, t = _texts(lambda: plots.plot_summary(multiclass, tmp_path / "m.png", output="vgood"), monkeypatch)
    assert "log-score per class" in t and "class vgood" in t
    _, t = _texts(lambda: plots.plot_dependence(multiclass, "safety", tmp_path / "d.png"), monkeypatch)
    assert "class acc" in t and "low" in t      # default: first class; levels on the axis
    _, t = _texts(lambda: plots.plot_importance(multiclass, tmp_path / "i.png"), monkeypatch)
    assert "averaged over 4 classes" in t
    _, t = _texts(lambda: plots.plot_waterfall(multiclass, 3, tmp_path / "w.png", output="good"), monkeypatch)
    assert "row 3" in t and "class good" in t


def test_multiclass_plots(multiclass, tmp_path):
    for out in multiclass.output_names:
        _check_png(plots.plot_summary(multiclass, tmp_path / f"summary_{out}.png", output=out))
    _check_png(plots.plot_importance(multiclass, tmp_path / "importance.png", max_display=3))
    _check_png(plots.plot_waterfall(multiclass, 0, tmp_path / "w.png", output="unacc", max_display=4))
    paths = plots.save_all(multiclass, tmp_path / "all", top=2)
    assert len(paths) == 5
    for p in paths:
        _check_png(p)


def test_figures_are_closed(binary, tmp_path):
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    plots.save_all(binary, tmp_path, top=1)
    assert len(plt.get_fignums()) == before


def test_bad_names_raise_option_error(binary, multiclass, tmp_path):
    with pytest.raises(OptionError, match="choose one of.*age"):
        plots.plot_dependence(binary, "nope", tmp_path / "x.png")
    with pytest.raises(OptionError, match="choose one of.*acc, good, unacc, vgood"):
        plots.plot_summary(multiclass, tmp_path / "x.png", output="excellent")
    with pytest.raises(OptionError, match="acc, good"):
        plots.plot_dependence(multiclass, "safety", tmp_path / "x.png", output="nope")
    with pytest.raises(OptionError, match="acc, good"):
        plots.plot_waterfall(multiclass, 0, tmp_path / "x.png", output="nope")
    with pytest.raises(OptionError, match="row 0 was not explained.*10, 11"):
        plots.plot_waterfall(binary, 0, tmp_path / "x.png")   # rows are 10..129
    with pytest.raises(OptionError, match="row"):
        plots.plot_waterfall(binary, "first", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_explanation_without_data(binary, tmp_path):
    bare = Explanation(feature_names=binary.feature_names, output_names=binary.output_names,
                       output_space=binary.output_space, values=binary.values,
                       base_values=binary.base_values, rows=binary.rows, data=None)
    _check_png(plots.plot_summary(bare, tmp_path / "s.png"))
    _check_png(plots.plot_importance(bare, tmp_path / "i.png"))
    _check_png(plots.plot_waterfall(bare, 10, tmp_path / "w.png"))
    with pytest.raises(OptionError, match="no data"):
        plots.plot_dependence(bare, "age", tmp_path / "d.png")


def test_real_run_titanic(tmp_path):
    import assay
    from assay.audit.explain import explain

    df = pd.read_csv(DATA / "titanic.csv.gz")
    run = assay.fit(df, "Survived", time_limit=None, max_trials=1, families=["lightgbm"], verbosity=0)
    ex = explain(run, df.drop(columns=["Survived"]), rows="0:60")
    paths = plots.save_all(ex, tmp_path, top=3)
    assert [p.name for p in paths][-1] == "waterfall_row0.png"
    for p in paths:
        _check_png(p)


@pytest.mark.slow   # a multiclass fit: ~40 s on a loaded 2-core machine
def test_real_run_car_multiclass(tmp_path):
    import assay
    from assay.audit.explain import explain

    df = pd.read_csv(DATA / "car.csv.gz").sample(500, random_state=0)
    run = assay.fit(df, "class", time_limit=None, max_trials=1, families=["lightgbm"], verbosity=0)
    ex = explain(run, df.drop(columns=["class"]), rows="0:60")
    for p in plots.save_all(ex, tmp_path, top=2):
        _check_png(p)
    _check_png(plots.plot_summary(ex, tmp_path / "last.png", output=ex.output_names[-1]))
