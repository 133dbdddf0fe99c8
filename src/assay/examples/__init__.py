"""Small datasets shipped with assay (see README.md here for sources and licences).

>>> from assay import examples
>>> examples.path("credit_g")          # doctest: +SKIP
PosixPath('.../assay/examples/credit_g.csv.gz')
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataFileError

_HERE = Path(__file__).resolve().parent
_SUFFIXES = (".csv.gz", ".csv")


def names() -> list[str]:
    """Names of the bundled datasets."""
    out = []
    for p in sorted(_HERE.iterdir()):
        for suf in _SUFFIXES:
            if p.name.endswith(suf):
                out.append(p.name[: -len(suf)])
                break
    return out


def path(name: str) -> Path:
    """Path of a bundled dataset, by name ("credit_g") or file name ("credit_g.csv.gz")."""
    name = str(name)
    candidates = [_HERE / name] + [_HERE / f"{name}{suf}" for suf in _SUFFIXES]
    for p in candidates:
        if p.is_file() and p.name != "__init__.py":
            return p
    raise DataFileError(
        f"there is no bundled example dataset '{name}'. Available: {', '.join(names()) or 'none'}."
    )


__all__ = ["names", "path"]
