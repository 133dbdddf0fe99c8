"""The command line as a user runs it: real processes, exit codes, files on disk."""
import json
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import DATA

ASSAY = [sys.executable, "-m", "assay.cli"]


def run_cli(*args, cwd=None):
    return subprocess.run(ASSAY + [str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


@pytest.fixture(scope="module")
def titanic_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "titanic"
    r = run_cli("fit", DATA / "titanic.csv.gz", "--target", "Survived", "--max-trials", "3",
                "--time-limit", "0", "--families", "lightgbm,linear", "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    return out


def test_fit_leaderboard_info_predict(titanic_run, tmp_path):
    r = run_cli("leaderboard", titanic_run, "--csv")
    assert r.returncode == 0
    lb = pd.read_csv(__import__("io").StringIO(r.stdout))
    assert lb.loc[0, "model"] == "ensemble" and len(lb) == 5  # ensemble + 3 trials + baseline

    r = run_cli("info", titanic_run, "--json")
    meta = json.loads(r.stdout)
    assert meta["task"] == "binary" and meta["metric"] == "roc_auc" and meta["n_trials"] == 3
    assert set(meta["timings"]) >= {"prepare", "search", "ensemble"}

    new = pd.read_csv(DATA / "titanic.csv.gz").drop(columns=["Survived"]).head(20)
    src = tmp_path / "new_rows.csv"
    new.to_csv(src, index=False)
    dest = tmp_path / "pred.csv"
    r = run_cli("predict", titanic_run, src, "-o", dest)
    assert r.returncode == 0, r.stderr
    pred = pd.read_csv(dest)
    assert len(pred) == 20 and {"prediction", "proba_0", "proba_1"} <= set(pred.columns)
    assert set(pred["prediction"]) <= {0, 1}


def test_predict_with_missing_column_names_it(titanic_run, tmp_path):
    new = pd.read_csv(DATA / "titanic.csv.gz").drop(columns=["Survived", "Age"]).head(5)
    src = tmp_path / "rows.csv"
    new.to_csv(src, index=False)
    r = run_cli("predict", titanic_run, src)
    assert r.returncode == 2
    assert "Age" in r.stderr and "Traceback" not in r.stderr


def test_fit_onto_existing_run_refuses_without_overwrite(titanic_run):
    before = (titanic_run / "run.json").read_text()
    r = run_cli("fit", DATA / "titanic.csv.gz", "--target", "Survived", "--max-trials", "1",
                "--out", titanic_run, "--quiet")
    assert r.returncode == 2 and "--overwrite" in r.stderr
    assert (titanic_run / "run.json").read_text() == before


@pytest.mark.parametrize("args,needle", [
    (["fit", "no/such/file.csv", "--target", "y"], "no/such/file.csv"),
    (["fit", DATA / "titanic.csv.gz", "--target", "survived"], "Survived"),   # close match offered
    (["fit", DATA / "titanic.csv.gz", "--target", "Survived", "--metric", "rmse"], "rmse"),
    (["fit", DATA / "titanic.csv.gz", "--target", "Survived", "--families", "nope"], "nope"),
    (["fit", DATA / "titanic.csv.gz", "--target", "Survived", "--search", "grid"], "grid"),
    (["leaderboard", "not/a/run"], "not/a/run"),
    (["info", DATA], "not an assay Run"),
])
def test_bad_input_is_one_clear_line_and_exit_2(args, needle, tmp_path):
    r = run_cli(*args, "--out", tmp_path / "o") if args[0] == "fit" else run_cli(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle.lower() in r.stderr.lower() if isinstance(needle, str) else True
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


def test_empty_and_non_utf8_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name,y\nJos\xe9,1\nAnn,0\n".encode("latin-1"))
    for f in (empty, latin):
        r = run_cli("fit", f, "--target", "y", "--out", tmp_path / "o")
        assert r.returncode == 2 and str(f.name) in r.stderr and "Traceback" not in r.stderr


def test_cli_import_is_lazy():
    """--help speed itself is a benchmark (docs/benchmarks.md); here: no heavy imports."""
    code = ("import sys, time; t=time.perf_counter(); import assay.cli; "
            "print(time.perf_counter()-t); print(any(m in sys.modules for m in "
            "('pandas','sklearn','lightgbm','torch','optuna')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    _, heavy = r.stdout.split()
    assert heavy == "False"


def test_same_seed_same_leaderboard_in_another_process(titanic_run, tmp_path):
    out = tmp_path / "again"
    r = run_cli("fit", DATA / "titanic.csv.gz", "--target", "Survived", "--max-trials", "3",
                "--time-limit", "0", "--families", "lightgbm,linear", "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    cols = ["model", "status", "cv_roc_auc", "params", "ensemble_weight"]
    a = pd.read_csv(titanic_run / "leaderboard.csv")[cols]
    b = pd.read_csv(out / "leaderboard.csv")[cols]
    pd.testing.assert_frame_equal(a, b)
