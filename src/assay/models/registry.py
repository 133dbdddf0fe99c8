"""The one list of model families. Adding a family = one import + one line here."""

from __future__ import annotations

from assay.errors import OptionError
from assay.models.base import ModelFamily


def _all_families() -> list[ModelFamily]:
    # Imports are local so that `import assay` stays fast.
    from assay.models.boosters import CatBoostFamily, LightGBMFamily, XGBoostFamily
    from assay.models.forests import ExtraTreesFamily, RandomForestFamily
    from assay.models.hist_gb import HistGBFamily
    from assay.models.knn import KNNFamily
    from assay.models.linear import LinearFamily
    from assay.models.mlp import MLPFamily

    # The order is the order in which default configurations are tried: strong and
    # fast first, so that a short budget still gets the best families.
    return [
        LightGBMFamily(),
        LinearFamily(),
        HistGBFamily(),
        CatBoostFamily(),
        XGBoostFamily(),
        ExtraTreesFamily(),
        RandomForestFamily(),
        MLPFamily(),
        KNNFamily(),
    ]


def all_families() -> list[ModelFamily]:
    """Every registered family, installed or not, in default search order."""
    return _all_families()


def available_families(task: str | None = None) -> list[ModelFamily]:
    fams = [f for f in _all_families() if f.is_available()]
    if task is not None:
        fams = [f for f in fams if f.supports(task)]
    return fams


def get_family(name: str) -> ModelFamily:
    for f in _all_families():
        if f.name == name:
            return f
    names = ", ".join(f.name for f in _all_families())
    raise OptionError(f"unknown model family {name!r}; choose from: {names}")


def resolve_families(names: list[str] | None, task: str) -> list[ModelFamily]:
    """The families to search: the ones named (checked) or every available one for the task."""
    if not names:
        return available_families(task)
    out = []
    for n in names:
        fam = get_family(n)
        if not fam.is_available():
            raise OptionError(
                f"model family {n!r} needs {', '.join(fam.requires)}: pip install 'assay[{fam.extra}]'"
            )
        if not fam.supports(task):
            raise OptionError(f"model family {n!r} does not support {task} tasks")
        out.append(fam)
    return out


# -- monotone constraints -------------------------------------------------------------------


def check_monotone(monotone: dict | None, schema) -> dict | None:
    """The user's monotone constraints ({raw column: +1 / -1}) checked against the schema:
    every column must be a numeric or boolean feature, and the task binary or regression
    (a monotone constraint is ill-defined across several classes)."""
    import difflib

    from assay.data.schema import BOOLEAN, MULTICLASS, NUMERIC

    if not monotone:
        return None
    if schema.task == MULTICLASS:
        raise OptionError("monotone constraints apply to binary classification and regression; "
                          "this is a multiclass task")
    by_name = {str(c.name): c for c in schema.columns}
    out = {}
    for col, direction in monotone.items():
        spec = by_name.get(str(col))
        if spec is None:
            if str(col) == str(schema.target):
                raise OptionError(f"monotone constraint on {col!r}: that is the target, not a feature")
            numeric = [n for n, c in by_name.items() if c.used and c.kind in (NUMERIC, BOOLEAN)]
            close = difflib.get_close_matches(str(col), numeric or list(by_name), n=3, cutoff=0.5)
            hint = (f"; did you mean {', '.join(map(repr, close))}?" if close else
                    f"; numeric features: {', '.join(numeric[:10])}{' ...' if len(numeric) > 10 else ''}")
            raise OptionError(f"monotone constraint on unknown column {col!r}{hint}")
        if not spec.used:
            raise OptionError(f"monotone constraint on {col!r}: the column is not used by the models "
                              f"({spec.note or spec.kind})")
        if spec.kind not in (NUMERIC, BOOLEAN):
            raise OptionError(f"monotone constraint on {col!r}: monotone constraints need a numeric column, "
                              f"and {col!r} is {spec.kind}")
        out[spec.name] = int(direction)
    return out


def monotone_families(families: list[ModelFamily], named: bool) -> list[ModelFamily]:
    """The families that can honour monotone constraints (`capabilities.monotone`). Families
    the user `named` that cannot are an error; otherwise they are left out of the search."""
    cannot = [f.name for f in families if not f.capabilities.monotone]
    if named and cannot:
        raise OptionError(f"model famil{'ies' if len(cannot) > 1 else 'y'} {', '.join(cannot)} cannot honour "
                          "monotone constraints; choose from: "
                          + ", ".join(f.name for f in all_families() if f.capabilities.monotone))
    out = [f for f in families if f.capabilities.monotone]
    if not out:
        raise OptionError("no installed model family can honour monotone constraints")
    return out
