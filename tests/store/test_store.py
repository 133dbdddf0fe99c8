import json
import os

import pandas as pd
import pytest

from assay import store
from assay.errors import IncompatibleRunError, RunDirectoryError


def _write(path, overwrite=False, tag="a"):
    return store.write_run(path, meta={"tag": tag}, leaderboard=pd.DataFrame({"x": [1]}),
                           model={"m": tag}, trials_db=None, overwrite=overwrite)


def test_write_and_read_round_trip(tmp_path):
    p = _write(tmp_path / "run")
    assert store.read_meta(p)["tag"] == "a"
    assert store.read_model(p) == {"m": "a"}
    assert not [x for x in os.listdir(tmp_path) if x.startswith(".")], "no temporary leftovers"


def test_existing_run_is_refused_unless_overwrite(tmp_path):
    p = _write(tmp_path / "run")
    with pytest.raises(RunDirectoryError, match="--overwrite"):
        _write(p, tag="b")
    assert store.read_model(p) == {"m": "a"}, "refusal leaves the old Run intact"
    _write(p, overwrite=True, tag="b")
    assert store.read_model(p) == {"m": "b"}


def test_non_run_directory_is_never_overwritten(tmp_path):
    d = tmp_path / "precious"
    d.mkdir()
    (d / "thesis.txt").write_text("keep me")
    with pytest.raises(RunDirectoryError, match="not an assay Run"):
        _write(d, overwrite=True)
    assert (d / "thesis.txt").read_text() == "keep me"


def test_incompatible_format_is_refused(tmp_path):
    p = _write(tmp_path / "run")
    meta = json.loads((p / "run.json").read_text())
    meta["format_version"] = 999
    (p / "run.json").write_text(json.dumps(meta))
    with pytest.raises(IncompatibleRunError, match="format"):
        store.read_meta(p)


def test_missing_or_non_run_directory(tmp_path):
    with pytest.raises(RunDirectoryError, match="does not exist"):
        store.read_meta(tmp_path / "nope")
    with pytest.raises(RunDirectoryError, match="not an assay Run"):
        store.read_meta(tmp_path)


def test_read_only_parent_gives_clear_error(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(RunDirectoryError, match="permission denied|cannot write"):
            _write(ro / "run")
    finally:
        ro.chmod(0o700)


def test_moved_run_still_loads(tmp_path):
    p = _write(tmp_path / "run")
    moved = tmp_path / "elsewhere" / "run2"
    moved.parent.mkdir()
    os.rename(p, moved)
    assert store.read_model(moved) == {"m": "a"}
