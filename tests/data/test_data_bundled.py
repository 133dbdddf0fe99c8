"""The datasets shipped with the repo read and validate end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay import examples
from assay.data.io import read_table
from assay.data.schema import BINARY, CATEGORICAL, MULTICLASS, REGRESSION, TEXT
from assay.data.split import make_folds
from assay.data.validate import encode_target, prepare_training
from assay.errors import DataFileError

HERE = Path(__file__).parent


@pytest.mark.parametrize("path,target,task,rows,n_features", [
    (examples.path("credit_g"), "class", BINARY, 1000, 20),
    (HERE / "titanic.csv.gz", "Survived", BINARY, 891, 10),
    (HERE / "car.csv.gz", "class", MULTICLASS, 1728, 6),
    (HERE / "abalone.csv.gz", "Rings", REGRESSION, 4177, 8),
])
def test_bundled_dataset(path, target, task, rows, n_features):
    df = read_table(path)
    X, y, schema = prepare_training(df, target)
    assert schema.task == task
    assert X.shape == (rows, n_features) and len(y) == rows
    folds = make_folds(encode_target(y, schema), schema.task, seed=0)
    assert len(folds) == 5


def test_titanic_kinds():
    _, _, schema = prepare_training(read_table(HERE / "titanic.csv.gz"), "Survived")
    assert schema.column("Name").kind == TEXT
    assert schema.column("Sex").kind == CATEGORICAL
    assert schema.column("Age").missing_fraction > 0.15
    assert schema.classes == [0, 1]


def test_examples_path_errors():
    assert "credit_g" in examples.names()
    assert examples.path("credit_g.csv.gz") == examples.path("credit_g")
    with pytest.raises(DataFileError, match="no bundled example dataset 'nope'.*credit_g"):
        examples.path("nope")
