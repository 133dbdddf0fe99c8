"""Ctrl-C during the search keeps what finished: the Run is saved with status 'interrupted'."""
import json
import signal
import subprocess
import sys
import time

from tests.conftest import DATA


def test_ctrl_c_keeps_finished_trials(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "assay.cli", "fit", str(DATA / "abalone.csv.gz"), "--target", "Rings",
         "--time-limit", "300", "--families", "linear,lightgbm", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    # the non-terminal progress prints one line per finished trial on stderr
    seen = 0
    while seen < 2 and time.monotonic() - t0 < 120:
        line = proc.stderr.readline()
        if "trials" in line:
            seen += 1
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode == 0
    meta = json.loads((out / "run.json").read_text())
    assert meta["status"] == "interrupted"
    assert meta["n_trials"] >= 2
    assert time.monotonic() - t0 < 200
