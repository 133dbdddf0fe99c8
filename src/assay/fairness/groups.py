"""Sensitive columns -> group labels, and the fairness constraints a user can name.

Kept free of heavy imports: `assay.config` checks `--fairness` strings with it.

Group labels are strings; a missing value is its own group, "missing" (never dropped,
never merged into another group). Several sensitive columns give one label per
intersection, e.g. "Female & Black".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from assay.errors import ColumnError, OptionError

MISSING = "missing"
MIN_GROUP_SIZE = 30          # smaller groups are flagged: their rates are reported, not trusted
JOIN = " & "

# name -> (what must be equal across groups, classification only?)
CONSTRAINTS = {
    "demographic_parity": "selection rate",
    "equalized_odds": "true and false positive rates",
    "equal_opportunity": "true positive rate",
}
ALIASES = {"dp": "demographic_parity", "eo": "equalized_odds", "eop": "equal_opportunity",
           "equalised_odds": "equalized_odds", "true_positive_rate_parity": "equal_opportunity"}


@dataclass(frozen=True)
class Constraint:
    name: str                  # one of CONSTRAINTS
    bound: float | None = None  # the largest difference allowed (None: as small as possible)

    def __str__(self) -> str:
        return self.name if self.bound is None else f"{self.name}<={self.bound:g}"


def constraint_name(name: str) -> str:
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    if key not in CONSTRAINTS:
        raise OptionError(f"unknown fairness constraint {name!r}; choose from: {', '.join(CONSTRAINTS)}")
    return key


def parse_constraint(text: str) -> Constraint:
    """`equalized_odds<=0.05` -> Constraint('equalized_odds', 0.05); a bare name has no bound."""
    m = re.fullmatch(r"\s*([A-Za-z_ -]+?)\s*(?:(<=|<)\s*([0-9.eE+-]+))?\s*", str(text))
    if not m:
        raise OptionError(f"cannot read the fairness constraint {text!r}; write NAME<=BOUND, "
                          f"e.g. equalized_odds<=0.05 (names: {', '.join(CONSTRAINTS)})")
    name = constraint_name(m.group(1))
    bound = None
    if m.group(3) is not None:
        try:
            bound = float(m.group(3))
        except ValueError:
            bound = -1.0
        if not (0 <= bound <= 1):
            raise OptionError(f"the bound in {text!r} must be a difference of rates between 0 and 1")
    return Constraint(name, bound)


def check_classification(task: str, what: str) -> None:
    """Fairness constraints compare rates of positive decisions: binary classification only."""
    if task != "binary":
        raise OptionError(f"{what} is defined for binary classification (it compares rates of "
                          f"positive decisions); this is a {task} task. For regression, `assay audit "
                          f"fairness` reports mean error and MAE per group")


def sensitive_list(sensitive) -> list[str]:
    if sensitive is None:
        return []
    if isinstance(sensitive, str):
        sensitive = sensitive.split(",")
    out = [str(s).strip() for s in sensitive if str(s).strip()]
    if len(set(out)) != len(out):
        raise OptionError(f"a sensitive column is named twice: {', '.join(out)}")
    return out


def check_columns(df: pd.DataFrame, sensitive: list[str], where: str = "the data") -> None:
    """ColumnError naming every sensitive column that `df` lacks (with close matches)."""
    from assay.data.schema import close_matches

    cols = [str(c) for c in df.columns]
    missing = [s for s in sensitive if s not in cols]
    if missing:
        hints = []
        for s in missing:
            near = close_matches(s, cols)
            hints.append(f"'{s}'" + (f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""))
        raise ColumnError(f"sensitive column{'s' if len(missing) > 1 else ''} {', '.join(hints)} not "
                          f"found in {where}; its columns are: {', '.join(cols[:30])}")


def labels(values) -> np.ndarray:
    """One sensitive column -> string labels; missing values -> 'missing'."""
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    na = s.isna().to_numpy()
    out = np.empty(len(s), dtype=object)
    vals = s.to_numpy(dtype=object)
    for i, v in enumerate(vals):
        if na[i]:
            out[i] = MISSING
        elif isinstance(v, float) and v.is_integer():
            out[i] = str(int(v))
        else:
            out[i] = str(v).strip() or MISSING
    return out.astype(str)


def group_frame(df: pd.DataFrame, sensitive: list[str]) -> pd.DataFrame:
    """The sensitive columns of `df` as string group labels (fresh RangeIndex)."""
    check_columns(df, sensitive)
    return pd.DataFrame({s: labels(df[s].reset_index(drop=True)) for s in sensitive})


def intersect(groups: pd.DataFrame, columns: list[str] | None = None) -> np.ndarray:
    """One label per row for the intersection of `columns` (all by default)."""
    cols = list(groups.columns) if columns is None else columns
    if len(cols) == 1:
        return groups[cols[0]].to_numpy(dtype=str)
    arr = groups[cols].to_numpy(dtype=str)
    return np.array([JOIN.join(r) for r in arr], dtype=str)


def attributes(groups: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each sensitive column alone, then (for 2+) their intersection."""
    out = {c: groups[c].to_numpy(dtype=str) for c in groups.columns}
    if len(groups.columns) > 1:
        out[JOIN.join(groups.columns)] = intersect(groups)
    return out
