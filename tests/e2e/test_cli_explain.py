"""`assay explain` as a user runs it."""
import json
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import DATA

ASSAY = [sys.executable, "-m", "assay.cli"]


def run_cli(*args):
    return subprocess.run(ASSAY + [str(a) for a in args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def run_and_data(tmp_path_factory):
    d = tmp_path_factory.mktemp("explain")
    out = d / "run"
    r = run_cli("fit", DATA / "titanic.csv.gz", "--target", "Survived", "--max-trials", "2",
                "--time-limit", "0", "--families", "lightgbm,linear", "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    rows = d / "rows.csv"
    pd.read_csv(DATA / "titanic.csv.gz").head(60).to_csv(rows, index=False)
    return out, rows


def test_explain_shap_writes_exact_explanation_and_plots(run_and_data):
    run, rows = run_and_data
    r = run_cli("explain", run, "--data", rows, "--rows", "0:20", "--plots")
    assert r.returncode == 0, r.stderr
    assert "exact" in r.stdout and "Sex" in r.stdout
    ex = json.loads((run / "audit" / "explanation.json").read_text())
    assert ex["exact"] is True and ex["additivity_error"] < 1e-6 and len(ex["rows"]) == 20
    assert (run / "audit" / "plots" / "summary.png").stat().st_size > 5000
    assert (run / "audit" / "plots" / "partial_dependence.png").stat().st_size > 5000


def test_explain_lime_and_permutation(run_and_data):
    run, rows = run_and_data
    r = run_cli("explain", run, "--data", rows, "--rows", "0:2", "--method", "lime")
    assert r.returncode == 0, r.stderr
    assert "stability" in r.stdout
    r = run_cli("explain", run, "--data", rows, "--method", "permutation")
    assert r.returncode == 0, r.stderr     # the rows hold the target column


@pytest.mark.parametrize("args,needle", [
    (["--rows", "100:200"], "no rows"),
    (["--rows", "5,999"], "out of range"),
    (["--method", "magic"], "magic"),
    (["--check-monotone"], "monotone"),
])
def test_explain_bad_input(run_and_data, args, needle):
    run, rows = run_and_data
    r = run_cli("explain", run, "--data", rows, *args)
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr


def test_permutation_needs_the_target(run_and_data, tmp_path):
    run, rows = run_and_data
    no_target = tmp_path / "x.csv"
    pd.read_csv(rows).drop(columns=["Survived"]).to_csv(no_target, index=False)
    r = run_cli("explain", run, "--data", no_target, "--method", "permutation")
    assert r.returncode == 2 and "Survived" in r.stderr


def test_explain_rules(run_and_data):
    run, rows = run_and_data
    r = run_cli("explain", run, "--data", rows, "--rules")
    assert r.returncode == 0, r.stderr
    assert "IF " in r.stdout and "fidelity" in r.stdout.lower()
    assert (run / "audit" / "surrogate.json").exists()
