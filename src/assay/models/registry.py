"""The one list of model families. Adding a family = one import + one line here."""

from __future__ import annotations

from assay.errors import OptionError
from assay.models.base import ModelFamily


def _all_families() -> list[ModelFamily]:
    # Imports are local so that `import assay` stays fast.
    from assay.models.boosters import CatBoostFamily, LightGBMFamily, XGBoostFamily
    from assay.models.forests import ExtraTreesFamily, RandomForestFamily
    from assay.models.knn import KNNFamily
    from assay.models.linear import LinearFamily
    from assay.models.mlp import MLPFamily

    # The order is the order in which default configurations are tried: strong and
    # fast first, so that a short budget still gets the best families.
    return [
        LightGBMFamily(),
        LinearFamily(),
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
