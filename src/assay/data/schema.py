"""Schema of a table: what kind each column is, which are dropped and why, and the task.

The dataclasses here are the contract between data inference (this package),
preprocessing (`assay.features`) and the Run on disk (they round-trip through JSON).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Column kinds -------------------------------------------------------------
NUMERIC = "numeric"
CATEGORICAL = "categorical"          # low cardinality: one-hot / native categorical
HIGH_CARDINALITY = "high_cardinality"  # many levels: ordinal / target-style encodings
BOOLEAN = "boolean"
DATETIME = "datetime"                # expanded into parts by the preprocessor
TEXT = "text"                        # free text, vectorised by the preprocessor
IDENTIFIER = "identifier"            # dropped
CONSTANT = "constant"                # dropped
USABLE_KINDS = (NUMERIC, CATEGORICAL, HIGH_CARDINALITY, BOOLEAN, DATETIME, TEXT)

# Tasks -------------------------------------------------------------------
BINARY = "binary"
MULTICLASS = "multiclass"
REGRESSION = "regression"
TASKS = (BINARY, MULTICLASS, REGRESSION)


@dataclass
class ColumnSpec:
    name: str
    kind: str                      # one of the kinds above
    dtype: str                     # pandas dtype string as seen at fit time
    n_unique: int = 0
    missing_fraction: float = 0.0
    categories: list[Any] | None = None   # for categorical/boolean: levels seen at fit time
    note: str = ""                 # why it was dropped, or any remark

    @property
    def used(self) -> bool:
        return self.kind in USABLE_KINDS


@dataclass
class Schema:
    target: str
    task: str                               # binary | multiclass | regression
    columns: list[ColumnSpec]               # every feature column, in input order (dropped too)
    classes: list[Any] | None = None        # the user's class labels, sorted; None for regression
    target_dtype: str = ""
    n_rows: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[ColumnSpec]:
        """Columns the models use."""
        return [c for c in self.columns if c.used]

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.features]

    @property
    def dropped(self) -> dict[str, str]:
        return {c.name: (c.note or c.kind) for c in self.columns if not c.used}

    def of_kind(self, *kinds: str) -> list[str]:
        return [c.name for c in self.features if c.kind in kinds]

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Schema":
        d = dict(d)
        d["columns"] = [ColumnSpec(**c) for c in d["columns"]]
        return cls(**d)
