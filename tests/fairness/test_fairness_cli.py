"""`assay fit --sensitive`, `assay audit fairness`, `assay mitigate` as a user runs them;
exit code 2 and one line for bad input."""
import json
import subprocess
import sys

import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from tests.conftest import DATA

ASSAY = [sys.executable, "-m", "assay.cli"]
TARGET = "two_year_recid"


def run_cli(*args):
    return subprocess.run(ASSAY + [str(a) for a in args], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("faircli")
    df = pd.read_csv(DATA / "compas_two_year.csv.gz")
    tr, te = train_test_split(df, test_size=0.25, random_state=0, stratify=df[TARGET])
    tr.to_csv(d / "train.csv", index=False)
    te.to_csv(d / "test.csv", index=False)
    r = run_cli("fit", d / "train.csv", "--target", TARGET, "--max-trials", "2", "--time-limit", "0",
                "--families", "lightgbm", "--sensitive", "race,sex", "--out", d / "run", "--quiet")
    assert r.returncode == 0, r.stderr
    return d


def test_audit_fairness_cli_writes_json_and_plots(files):
    r = run_cli("audit", "fairness", files / "run", "--data", files / "test.csv", "--plots", "--n-boot", "200")
    assert r.returncode == 0, r.stderr
    assert "equalized_odds_difference" in r.stdout and "Native American *" in r.stdout
    res = json.loads((files / "run" / "audit" / "fairness.json").read_text())
    assert res["kind"] == "fairness" and res["sensitive"] == ["race", "sex"]
    assert (files / "run" / "audit" / "plots" / "fairness_race.png").stat().st_size > 5000


def test_mitigate_cli_writes_a_new_run_that_predicts(files):
    r = run_cli("mitigate", files / "run", "--constraint", "equalized_odds", "--sensitive", "race",
                "--out", files / "mitigated")
    assert r.returncode == 0, r.stderr
    assert "out-of-fold disparity" in r.stdout and "cannot be estimated" in r.stderr
    meta = json.loads((files / "mitigated" / "run.json").read_text())
    assert meta["mitigation"]["method"] == "shift"
    r = run_cli("predict", files / "mitigated", files / "test.csv", "--quiet")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 1 + len(pd.read_csv(files / "test.csv"))
    pd.read_csv(files / "test.csv").drop(columns=["race"]).to_csv(files / "norace.csv", index=False)
    r = run_cli("predict", files / "mitigated", files / "norace.csv")
    assert r.returncode == 2 and "needs the sensitive column 'race' at predict time" in r.stderr


@pytest.mark.parametrize("args,needle", [
    (["audit", "fairness", "{run}", "--data", "{test}", "--sensitive", "ethnicity"], "'ethnicity' not found"),
    (["mitigate", "{run}", "--constraint", "parity", "--out", "{d}/x"], "unknown fairness constraint"),
    (["mitigate", "{run}", "--constraint", "equalized_odds", "--method", "magic", "--out", "{d}/x"],
     "unknown mitigation method"),
    (["fit", "{train}", "--target", TARGET, "--fairness", "equalized_odds<=0.1", "--out", "{d}/y"],
     "needs the sensitive columns"),
    (["fit", "{train}", "--target", TARGET, "--sensitive", "gender", "--out", "{d}/y"], "'gender' not found"),
    (["fit", str(DATA / "abalone.csv.gz"), "--target", "Rings", "--sensitive", "Sex",
      "--fairness", "equalized_odds<=0.1", "--out", "{d}/z", "--max-trials", "1"], "binary classification"),
])
def test_bad_input_exits_2_with_one_line(files, args, needle):
    fmt = {"run": files / "run", "test": files / "test.csv", "train": files / "train.csv", "d": files}
    r = run_cli(*[a.format(**fmt) for a in args])
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr
