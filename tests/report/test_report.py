"""`assay report`: the HTML report of a classification and a regression Run, with and without
held-out data, audits, model card, energy, bad input, and the page in a real headless Chromium."""
import json
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import assay
from assay.errors import AssayInputError, ColumnError, RunDirectoryError
from assay.report import build_report
from tests.conftest import DATA

ASSAY = [sys.executable, "-m", "assay.cli"]
SECTIONS = ["summary", "model-card", "data", "leaderboard", "search", "performance", "explanations",
            "audits", "energy", "reproducibility"]
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//|ftp:)|url\(\s*["']?\s*(?:https?:|//)|@import""",
                      re.IGNORECASE)


def run_cli(*args):
    return subprocess.run(ASSAY + [str(a) for a in args], capture_output=True, text=True, timeout=600, check=False)


def _fit(df, target, out):
    return assay.fit(df, target, families=["lightgbm", "linear"], max_trials=2, time_limit=None,
                     verbosity=0, out=out)


@pytest.fixture(scope="module")
def titanic(tmp_path_factory):
    d = tmp_path_factory.mktemp("report_titanic")
    df = pd.read_csv(DATA / "titanic.csv.gz")
    test = df.sample(frac=0.25, random_state=0)
    train = df.drop(index=test.index)
    cpu = time.process_time()
    run = _fit(train, "Survived", d / "run")
    run.meta["_test_parent_cpu"] = time.process_time() - cpu     # this process alone (not saved)
    test.to_csv(d / "heldout.csv", index=False)
    return run, d / "run", d / "heldout.csv", d


@pytest.fixture(scope="module")
def abalone(tmp_path_factory):
    d = tmp_path_factory.mktemp("report_abalone")
    df = pd.read_csv(DATA / "abalone.csv.gz")
    target = df.columns[-1]
    test = df.sample(frac=0.2, random_state=0)
    train = df.drop(index=test.index)
    _fit(train, target, d / "run")
    test.to_csv(d / "heldout.csv", index=False)
    return d / "run", d / "heldout.csv", target, d


def _sections(html: str) -> None:
    for s in SECTIONS:
        assert f'id="{s}"' in html, s
        assert f'href="#{s}"' in html, s          # in the table of contents


def _images(html: str) -> list[str]:
    return re.findall(r'<img src="(data:image/png;base64,[A-Za-z0-9+/=]+)"', html)


def _alts(html: str) -> list[str]:
    return re.findall(r'<img src="data:[^"]+" alt="([^"]*)"', html)


# ---------------------------------------------------------------------------- classification


def test_classification_report_with_heldout_data_via_cli(titanic):
    run, run_dir, heldout, d = titanic
    out = d / "with_data.html"
    before = sorted(p.name for p in run_dir.rglob("*"))
    r = run_cli("report", run_dir, "--data", heldout, "--out", out)
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stderr and out.exists()
    html = out.read_text()
    _sections(html)
    assert not EXTERNAL.search(html)
    assert "held-out rows from heldout.csv" in html and "out-of-fold predictions of the training rows" not in html
    # headline numbers
    for label in ("task", "CV roc_auc", "held-out roc_auc", "models in the ensemble", "fit time"):
        assert f'<div class="label">{label}</div>' in html, label
    # the held-out score on the page is the one the Run gives on those rows
    from sklearn.metrics import roc_auc_score

    test = pd.read_csv(heldout)
    auc = roc_auc_score(test["Survived"], run.predict_proba(test)["1"])
    assert f"{auc:.4g}" in html
    # performance plots, class balance, trajectory, SHAP (importance, summary, 3 dependence)
    alts = _alts(html)
    assert alts.count("performance plot") == 4 and "target distribution" in alts and "search trajectory" in alts
    assert alts.count("explanation plot") == 5
    assert all(len(u) > 2000 for u in _images(html))
    assert "SHAP values of the final ensemble for a random sample of 223 of the 223 held-out rows" in html
    assert "Sex" in html.split('id="explanations"')[1].split('id="audits"')[0]
    # schema with held-out missing values; every trial on the leaderboard
    assert "missing (held-out)" in html and "<code>Pclass</code>" in html
    for m in run.leaderboard()["model"]:
        assert f">{m}<" in html
    assert sorted(p.name for p in run_dir.rglob("*")) == before     # the Run is not touched


def test_classification_report_without_data_uses_oof_and_says_so(titanic):
    run, run_dir, _, d = titanic
    copy = d / "run_copy"
    shutil.copytree(run_dir, copy)
    path = assay.load(copy).report()               # Run.report -> RUN/report.html
    assert path == copy / "report.html"
    html = path.read_text()
    _sections(html)
    assert not EXTERNAL.search(html)
    assert "out-of-fold predictions of the training rows" in html
    assert "--data HELDOUT.csv" in html and "cannot be computed here" in html
    assert _alts(html).count("performance plot") == 4
    assert _alts(html).count("explanation plot") == 0
    oof = run.oof()
    assert f"{len(oof['rows']):,} out-of-fold predictions" in html


def test_search_trajectory_has_every_trial_from_trials_db(titanic):
    from assay.metrics import get_metric
    from assay.report.builder import _search

    run, run_dir, _, _ = titanic
    lb = run.leaderboard()
    s = _search(run, run_dir, lb, "cv_roc_auc", get_metric("roc_auc", "binary"))
    assert s["note"] == "finish times from trials.db" and s["n"] == run.meta["n_trials"] == 2
    assert s["plot"].startswith("data:image/png;base64,") and s["best"]["t"] > 0
    assert s["best"]["value"] == pytest.approx(run.meta["best_single_model"]["score"])


def test_audit_sections_render_generic_json_and_plots(titanic):
    run, run_dir, heldout, d = titanic
    copy = d / "run_audits"
    shutil.copytree(run_dir, copy)
    audit = copy / "audit"
    audit.mkdir()
    fairness = {"kind": "fairness", "sensitive": "Sex", "metric": "selection_rate",
                "overall": {"accuracy": 0.81, "selection_rate": 0.38},
                "by_group": [{"group": "female", "accuracy": 0.79, "selection_rate": 0.74, "n": 80},
                             {"group": "<script>alert(1)</script>", "accuracy": 0.83, "selection_rate": 0.17, "n": 143}],
                "difference": {"demographic_parity": 0.57}, "passed": False,
                "curve": [[0.1, 0.2], [0.3, 0.4]], "long": list(np.linspace(0, 1, 100))}
    (audit / "fairness.json").write_text(json.dumps(fairness))
    pd.DataFrame({"x": [1, 2, 3]}).plot().get_figure().savefig(audit / "fairness_groups.png")
    explanation = run.explain(pd.read_csv(heldout), rows="0:20")
    explanation.save(copy)
    explanation.save_plots(audit / "plots", top=1)
    (audit / "broken.json").write_text("{not json")
    html = build_report(copy, out=d / "audits.html").read_text()
    _sections(html)
    assert 'id="audit-fairness"' in html and 'href="#audit-fairness"' in html
    assert 'id="audit-explanation"' in html and "SHAP explanation" in html
    sec = html.split('id="audit-fairness"')[1].split('id="audit-')[0]
    assert "demographic parity" in sec and "0.57" in sec and "female" in sec and "selection rate" in sec
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in sec and "<script>" not in html   # escaped
    assert "100 values: min 0, mean 0.5, max 1" in sec
    assert "audit/fairness_groups.png" in sec and 'alt="fairness_groups.png"' in sec
    ex = html.split('id="audit-explanation"')[1].split('id="energy"')[0]
    assert "rows explained" in ex and "Global importance" in ex and "Sex" in ex
    assert "plots/summary.png" in ex and "plots/importance.png" in ex
    assert "audit/broken.json could not be read" in html
    # without --data the explanation saved by `assay explain` gives the importance plot
    expl = html.split('id="explanations"')[1].split('id="audits"')[0]
    assert "from audit/explanation.json" in expl and 'alt="explanation plot"' in expl
    assert "No fairness audit" not in html


def test_model_card_takes_the_users_text(titanic, tmp_path):
    _, run_dir, _, _ = titanic
    card = tmp_path / "card.yaml"
    card.write_text("model_name: Titanic survival demo\nintended_use: Teaching material only.\n"
                    "limitations:\n  - 891 passengers of one ship\n  - historical data\nreviewer: Ada\n")
    html = build_report(run_dir, out=tmp_path / "r.html", card=card).read_text()
    assert "<title>Titanic survival demo</title>" in html
    sec = html.split('id="model-card"')[1].split('id="data"')[0]
    assert "Teaching material only." in sec and "891 passengers of one ship" in sec and "Reviewer" in sec
    assert sec.count("from the card") >= 4 and "generated" in sec
    jcard = tmp_path / "card.json"
    jcard.write_text(json.dumps({"intended_use": "JSON works too"}))
    assert "JSON works too" in build_report(run_dir, out=tmp_path / "r2.html", card=jcard).read_text()


def test_energy_is_measured_cpu_time_or_an_estimate_that_says_so(titanic, tmp_path):
    run, run_dir, _, _ = titanic
    t = run.meta["timings"]
    assert t["cpu"] > 0
    # the trials ran in worker processes: their CPU time is counted, not only this process's
    assert t["cpu"] > run.meta["_test_parent_cpu"] + 0.5
    assert json.loads((run_dir / "run.json").read_text())["timings"]["cpu"] == t["cpu"]
    html = build_report(run_dir, out=tmp_path / "m.html", watts_per_core=20, grid_intensity=100).read_text()
    sec = html.split('id="energy"')[1].split('id="reproducibility"')[0]
    kwh = t["cpu"] * 20 / 3.6e6
    assert "measured: user + system CPU time" in sec and "20.0 W per busy core" in sec
    assert f"{kwh * 1000:.3g} Wh" in sec and f"{kwh * 100:.3g} g" in sec
    old = tmp_path / "old_run"
    shutil.copytree(run_dir, old)
    meta = json.loads((old / "run.json").read_text())
    del meta["timings"]["cpu"]
    (old / "run.json").write_text(json.dumps(meta))
    sec = build_report(old).read_text().split('id="energy"')[1]
    assert "estimated: this Run does not record CPU time" in sec and "an upper bound" in sec


def test_generic_audit_rendering_of_any_json_shape():
    from assay.report.audits import value_html

    deep = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    html = value_html(deep)
    assert "<details><summary>e</summary><pre>{&quot;f&quot;: 1}</pre></details>" in html
    html = value_html({"matrix": [[float(i)] * 30 for i in range(40)], "empty": [], "none": None,
                       "flags": [True, False], "records": [{"x": i, "y": "<b>"} for i in range(60)]})
    assert "array of 40 \u00d7 30 values: min 0, max 39" in html
    assert "(none)" in html and "yes, no" in html and "10 more not shown" in html
    assert "&lt;b&gt;" in html and "<b>" not in html
    assert value_html([1, "two", None]).count("<p>") == 1 and "\u2014" in value_html([1, "two", None])


def test_permutation_members_get_a_shap_time_budget_and_unsaved_runs_work(titanic, tmp_path):
    _, _, heldout, _ = titanic
    df, held = pd.read_csv(DATA / "titanic.csv.gz"), pd.read_csv(heldout)
    train = df[~df["Name"].isin(held["Name"])]
    run = assay.fit(train, "Survived", families=["knn"], max_trials=1, time_limit=None, verbosity=0)
    assert run.path is None                                   # never saved
    with pytest.raises(AssayInputError, match="pass out="):
        build_report(run)
    html = build_report(run, data=heldout, out=tmp_path / "knn.html", shap_seconds=0.01).read_text()
    _sections(html)
    sec = html.split('id="explanations"')[1].split('id="audits"')[0]
    assert "3 of the 223 sampled rows were explained" in sec and "permutation SHAP" in sec
    assert "random sample of 3 of the 223 held-out rows" in sec
    assert "1 trial (finish times from trials.db)" in html      # the unsaved Run's study, held in memory


# ---------------------------------------------------------------------------- regression


@pytest.mark.parametrize("with_data", [True, False])
def test_regression_report(abalone, with_data):
    run_dir, heldout, target, d = abalone
    out = d / f"reg_{with_data}.html"
    path = build_report(run_dir, data=heldout if with_data else None, out=out)
    html = path.read_text()
    _sections(html)
    assert not EXTERNAL.search(html)
    alts = _alts(html)
    assert alts.count("performance plot") == 1 and "mean residual per bin" in html
    assert "ROC curve" not in html and "rmse" in html and "r2" in html
    assert "target distribution" in alts
    if with_data:
        assert "held-out rows from heldout.csv" in html and alts.count("explanation plot") == 5
        run = assay.load(run_dir)
        test = pd.read_csv(heldout)
        rmse = float(np.sqrt(np.mean((run.predict(test) - test[target]) ** 2)))
        assert f"{rmse:.4g}" in html
    else:
        assert "out-of-fold predictions" in html and alts.count("explanation plot") == 0


# ---------------------------------------------------------------------------- bad input


def test_missing_target_in_heldout_is_one_clear_error(titanic, tmp_path):
    _, run_dir, heldout, _ = titanic
    no_target = tmp_path / "no_target.csv"
    pd.read_csv(heldout).drop(columns=["Survived"]).to_csv(no_target, index=False)
    r = run_cli("report", run_dir, "--data", no_target, "--out", tmp_path / "x.html")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "no target column 'Survived'" in lines[0] and "no_target.csv" in lines[0]
    assert not (tmp_path / "x.html").exists()
    with pytest.raises(ColumnError):
        build_report(run_dir, data=no_target, out=tmp_path / "y.html")


def test_not_a_run_directory_is_one_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    for target, words in [(tmp_path, "is not an assay Run"), (tmp_path / "missing", "does not exist")]:
        r = run_cli("report", target)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0]
    with pytest.raises(RunDirectoryError):
        build_report(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_bad_card_and_unseen_labels_are_clear_errors(titanic, tmp_path):
    _, run_dir, heldout, _ = titanic
    bad = tmp_path / "card.txt"
    bad.write_text("x")
    r = run_cli("report", run_dir, "--card", bad, "--out", tmp_path / "r.html")
    assert r.returncode == 2 and "use a .json, .yaml or .yml file" in r.stderr
    bad_yaml = tmp_path / "card.yaml"
    bad_yaml.write_text("intended_use: [unclosed\n")
    r = run_cli("report", run_dir, "--card", bad_yaml, "--out", tmp_path / "r.html")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "is not valid YAML" in r.stderr
    assert not (tmp_path / "r.html").exists()
    df = pd.read_csv(heldout)
    df.loc[0, "Survived"] = 7
    with pytest.raises(AssayInputError, match=r"held-out data \(a DataFrame\): target 'Survived' has labels not seen"):
        build_report(run_dir, data=df, out=tmp_path / "r.html")


# ---------------------------------------------------------------------------- in a real browser


def test_report_opens_in_headless_chromium_without_console_errors(titanic, browser, tmp_path):
    from PIL import Image

    _, run_dir, heldout, _ = titanic
    path = build_report(run_dir, data=heldout, out=tmp_path / "report.html")
    page = browser.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    problems, requests = [], []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.resolve().as_uri(), wait_until="load")
    assert problems == []
    # nothing but the file itself (and its inline data: images) was requested
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
    n_images = page.evaluate("document.images.length")
    loaded = page.evaluate("Array.from(document.images).filter(i => i.complete && i.naturalWidth > 100).length")
    assert n_images >= 10 and loaded == n_images
    assert page.title() == "Survived \u2014 assay report"
    assert page.locator("nav.toc a").count() >= len(SECTIONS)
    page.click("nav.toc a[href='#performance']")
    page.wait_for_function("window.scrollY > 500", timeout=5000)   # the table of contents jumps there
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    im = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert im.shape[0] > 3000 and im.shape[1] >= 1280         # the whole page, tall
    assert im.std() > 20 and (im < 128).mean() > 0.01         # not blank: text and plots drawn
    page.close()
