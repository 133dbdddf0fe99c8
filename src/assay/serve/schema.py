"""Request models generated from a Run's schema, and the checks behind them.

One pydantic model per Run (`RequestModels.record`): one field per feature column, named
by the column (an alias, so any column name works), all required and nullable (JSON
`null` is a missing value, which every model family handles). Types per schema kind:

=================  =========================================================================
numeric            number or null (numeric strings such as "3.5" are read as numbers)
boolean            true / false (or yes/no, t/f, y/n, 1/0, on/off) or null
categorical,       string or null (numbers are read as their level, 3 and 3.0 -> "3");
high_cardinality   the levels seen in training are listed in the field's description
datetime           string (ISO 8601, or the format seen in training) or null
text               string or null
=================  =========================================================================

Unseen categories are accepted: every model family handles them (one-hot/ordinal encoders
map them to "unknown", the boosters to missing), and rejecting them would make a service
fail on the first new product code or city. Each one is reported in the response's
`warnings` (row, field, value) so callers can monitor drift. A missing field, a value of
the wrong type, an unparseable date, an empty body or an empty record list is a 422 naming
the field. Fields that are not features (the target, dropped columns, anything unknown)
are ignored; unknown ones are reported in `warnings`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Optional

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from assay.data.schema import (
    BOOLEAN,
    CATEGORICAL,
    DATETIME,
    FALSE_TOKENS,
    HIGH_CARDINALITY,
    NUMERIC,
    TRUE_TOKENS,
    Schema,
    value_key,
)

MAX_CATEGORIES_LISTED = 50


# --------------------------------------------------------------------------- value checks

def _level(v: Any) -> Any:
    """Categorical / text value: numbers become their canonical level string."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (bool, int, float)):
        k = value_key(v)
        return None if isinstance(k, float) and math.isnan(k) else k
    return v          # a list / dict: pydantic's str check names the field


def _boolean(v: Any) -> Any:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    if isinstance(v, str):
        t = v.strip().lower()
        if t in TRUE_TOKENS:
            return True
        if t in FALSE_TOKENS:
            return False
        if t == "":
            return None
    raise ValueError("expected true or false (or yes/no, t/f, y/n, 1/0, on/off)")


def _datetime_check(fmt: str | None):
    def check(v: Any) -> Any:
        if v is None:
            return v
        if not isinstance(v, str):
            raise ValueError("expected a date/time as a string (ISO 8601)")
        if v.strip() == "":
            return None
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ts = pd.to_datetime(v.strip(), format=fmt, errors="coerce", utc=True)
            if pd.isna(ts) and fmt is not None:
                ts = pd.to_datetime(v.strip(), format="mixed", errors="coerce", utc=True)
        if pd.isna(ts):
            hint = f" (format {fmt} as in training, or ISO 8601)" if fmt else " (ISO 8601, e.g. 2024-01-31)"
            raise ValueError(f"cannot read {v!r} as a date/time{hint}")
        return v
    return check


# --------------------------------------------------------------------------- the models

def _field_type(spec) -> Any:
    if spec.kind == NUMERIC:
        return Optional[float]
    if spec.kind == BOOLEAN:
        return Annotated[Optional[bool], BeforeValidator(_boolean)]
    if spec.kind == DATETIME:
        return Annotated[Optional[str], BeforeValidator(_datetime_check(spec.datetime_format))]
    return Annotated[Optional[str], BeforeValidator(_level)]


def _description(spec) -> str:
    kind = spec.kind.replace("_", " ")
    text = f"{kind} feature"
    if spec.kind in (CATEGORICAL, HIGH_CARDINALITY, BOOLEAN) and spec.categories:
        cats = [str(c) for c in spec.categories]
        shown = ", ".join(cats[:MAX_CATEGORIES_LISTED]) + (" ..." if len(cats) > MAX_CATEGORIES_LISTED else "")
        text += f"; levels seen in training: {shown}"
        if spec.kind != BOOLEAN:
            text += " (other values are accepted and reported in `warnings`)"
    if spec.kind == DATETIME:
        text += f"; format {spec.datetime_format}" if spec.datetime_format else "; ISO 8601"
    if spec.missing_fraction:
        text += f"; {spec.missing_fraction:.1%} missing in training"
    return text + "; null = missing"


def json_type(spec) -> str:
    """The JSON type of a feature field, as /metadata and the dashboard show it."""
    return {NUMERIC: "number", BOOLEAN: "boolean"}.get(spec.kind, "string")


@dataclass
class RequestModels:
    """The pydantic models of one Run plus what the handlers need to use them fast."""

    schema: Schema
    record: type[BaseModel]
    batch: type[BaseModel]
    fields: list[tuple[str, str]]         # (python attribute, column name) per feature
    known: frozenset                      # every column name the Run knows (features, dropped, target)
    levels: dict                          # column -> frozenset of known levels (categorical checks)

    @classmethod
    def build(cls, schema: Schema) -> "RequestModels":
        defs: dict[str, Any] = {}
        fields = []
        for i, spec in enumerate(schema.features):
            attr = f"f{i}"
            extra = {}
            if spec.categories and spec.kind in (CATEGORICAL, HIGH_CARDINALITY):
                extra = {"examples": [str(spec.categories[0])]}
            defs[attr] = (_field_type(spec), Field(..., alias=spec.name, title=spec.name, description=_description(spec),
                                                   json_schema_extra=extra or None))
            fields.append((attr, spec.name))
        title = _model_name(schema.target)
        record = create_model(
            f"{title}Record",
            __config__=ConfigDict(extra="ignore", populate_by_name=False, title=f"{schema.target}: one record",
                                  json_schema_extra={"description": f"The feature values of one row to predict "
                                                     f"'{schema.target}' from."}),
            **defs,
        )
        batch = create_model(
            f"{title}Batch",
            __config__=ConfigDict(extra="forbid", title="records"),
            records=(list[record], Field(..., min_length=1, description="the rows to score, one object each")),
        )
        levels = {s.name: frozenset(str(c) for c in s.categories)
                  for s in schema.features
                  if s.kind in (CATEGORICAL, HIGH_CARDINALITY) and s.categories
                  and len(s.categories) >= s.n_unique}   # complete lists only
        known = frozenset([c.name for c in schema.columns] + [schema.target])
        return cls(schema=schema, record=record, batch=batch, fields=fields, known=known, levels=levels)

    def __post_init__(self):
        numeric = [(attr, s.name) for (attr, _), s in zip(self.fields, self.schema.features)
                   if s.kind in (NUMERIC, BOOLEAN)]
        other = [(attr, s.name) for (attr, _), s in zip(self.fields, self.schema.features)
                 if s.kind not in (NUMERIC, BOOLEAN)]
        self._num, self._num_names = [a for a, _ in numeric], [n for _, n in numeric]
        self._obj, self._obj_names = [a for a, _ in other], [n for _, n in other]

    # -- request bodies ---------------------------------------------------------------
    def records_from_json(self, body: Any) -> tuple[list[BaseModel], list[dict], list[str]]:
        """(validated records, raw dicts, loc prefix) from a parsed JSON body.

        Accepts {"records": [...]}, a list of records, or one record. Raises
        `BodyError` (422) with pydantic-style error entries.
        """
        if isinstance(body, dict) and "records" in body and "records" not in self.known:
            raw = body["records"]
            try:
                models = self.batch.model_validate(body).records
            except ValidationError as e:
                raise BodyError(_errors(e, ["body"])) from None
            return models, raw, ["body", "records"]
        if isinstance(body, list):
            if not body:
                raise BodyError([_err(["body"], "the list of records is empty: send at least one record",
                                      "too_short")])
            models, errs = [], []
            for i, rec in enumerate(body):
                try:
                    models.append(self.record.model_validate(rec))
                except ValidationError as e:
                    errs += _errors(e, ["body", i])
            if errs:
                raise BodyError(errs)
            return models, body, ["body"]
        if isinstance(body, dict):
            if not body:
                raise BodyError([_err(["body"], "the record is empty: send one field per feature column "
                                      f"({', '.join(self.schema.feature_names[:10])}"
                                      f"{' ...' if len(self.schema.feature_names) > 10 else ''})",
                                      "missing")])
            try:
                return [self.record.model_validate(body)], [body], ["body"]
            except ValidationError as e:
                raise BodyError(_errors(e, ["body"])) from None
        raise BodyError([_err(["body"], "expected a JSON object (one record, or {\"records\": [...]}) "
                              f"or a list of records, not {type(body).__name__}", "model_type")])

    def frame(self, models: list[BaseModel]) -> pd.DataFrame:
        """Validated records as a DataFrame of the feature columns: one float64 block (numbers,
        booleans as 1.0/0.0) and one object block (Python str, NaN for missing), which is the
        cheapest frame pandas builds for a handful of rows. Columns are found by name downstream."""
        n = len(models)
        num = np.full((n, len(self._num)), np.nan)
        for j, attr in enumerate(self._num):
            for i, m in enumerate(models):
                v = getattr(m, attr)
                if v is not None:
                    num[i, j] = v
        obj = np.full((n, len(self._obj)), np.nan, dtype=object)
        for j, attr in enumerate(self._obj):
            for i, m in enumerate(models):
                v = getattr(m, attr)
                if v is not None:
                    obj[i, j] = v
        blocks = [pd.DataFrame(num, columns=self._num_names)]
        if self._obj:
            blocks.append(pd.DataFrame(obj, columns=self._obj_names, dtype=object))
        return pd.concat(blocks, axis=1) if len(blocks) > 1 else blocks[0]

    def warnings(self, models: list[BaseModel], raw: list, loc: list) -> list[dict]:
        """Unseen categories and ignored unknown fields, one entry each (row, field, value)."""
        out: list[dict] = []
        if self.levels:
            idx = [(attr, name, self.levels[name]) for attr, name in self.fields if name in self.levels]
            for i, m in enumerate(models):
                for attr, name, known in idx:
                    v = getattr(m, attr)
                    if v is not None and v not in known:
                        out.append({"row": i, "field": name, "value": v, "type": "unseen_category",
                                    "message": f"'{v}' was not seen in training for '{name}'; the model "
                                               "treats it as an unknown level"})
        unknown: dict[str, int] = {}
        for rec in raw:
            if isinstance(rec, dict) and len(rec) != len(self.fields):
                for k in rec:
                    if k not in self.known:
                        unknown[k] = unknown.get(k, 0) + 1
        for k, n in unknown.items():
            out.append({"row": None, "field": k, "value": None, "type": "ignored_field",
                        "message": f"field '{k}' is not a column of this model and was ignored"
                                   f" ({n} record{'s' if n > 1 else ''})"})
        return out


class BodyError(Exception):
    """A request body that fails validation: answered with 422 and these error entries."""

    def __init__(self, errors: list[dict]):
        super().__init__(errors)
        self.errors = errors


def _err(loc: list, msg: str, typ: str) -> dict:
    return {"loc": list(loc), "msg": msg, "type": typ}


def _errors(e: ValidationError, prefix: list) -> list[dict]:
    out = []
    for d in e.errors(include_url=False, include_context=False):
        entry = {"loc": list(prefix) + list(d["loc"]), "msg": d["msg"], "type": d["type"]}
        if d["type"] != "missing":
            entry["input"] = _jsonable(d.get("input"))
        out.append(entry)
    return out


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v][:20]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in list(v.items())[:50]}
    return str(v)


def _model_name(target: str) -> str:
    import re

    name = "".join(p[:1].upper() + p[1:] for p in re.split(r"[^0-9A-Za-z]+", str(target)) if p)
    if not name or name[0].isdigit():
        name = "Run" + name
    return name
