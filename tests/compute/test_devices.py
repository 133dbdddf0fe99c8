"""--device: auto picks CUDA only where an NVIDIA GPU is present."""
import pandas as pd
import pytest

import assay
from assay.compute import devices
from assay.errors import OptionError
from tests.conftest import DATA


def test_resolve_device(monkeypatch, tmp_path):
    assert devices.resolve_device("cpu") == "cpu" and devices.resolve_device("cuda") == "cuda"
    monkeypatch.setattr(devices, "_NVIDIA", str(tmp_path / "none"))
    assert devices.resolve_device("auto") == "cpu"
    (tmp_path / "gpus" / "0000:00:01.0").mkdir(parents=True)
    monkeypatch.setattr(devices, "_NVIDIA", str(tmp_path / "gpus"))
    assert devices.resolve_device("auto") == "cuda"


def test_unknown_device_is_a_clear_error():
    with pytest.raises(OptionError, match="unknown device 'tpu'"):
        assay.FitConfig(max_trials=1, device="tpu")


@pytest.mark.gpu
def test_auto_device_trains_the_mlp_on_the_gpu():
    df = pd.read_csv(DATA / "titanic.csv.gz")
    run = assay.fit(df, "Survived", time_limit=None, max_trials=1, families=["mlp"], verbosity=0, refit="full")
    mlp = run.model.members[0].estimators[0][-1]
    assert str(mlp.device_).startswith("cuda")
