"""Typed exceptions. Everything a user can cause derives from :class:`AssayInputError`;
the CLI turns those into one clear line and exit code 2, never a traceback."""

from __future__ import annotations


class AssayError(Exception):
    """Base class of every error assay raises on purpose."""


class AssayInputError(AssayError, ValueError):
    """Something the user gave is wrong: a path, a column, a value, an option.

    The message says which file / column and what to do about it.
    """


class DataFileError(AssayInputError):
    """A data file is missing, unreadable, empty, or not in a supported format/encoding."""


class ColumnError(AssayInputError):
    """A column is missing, duplicated, or holds values that cannot be used."""


class TargetError(AssayInputError):
    """The target column is missing, all-missing, constant, or does not fit the task."""


class OptionError(AssayInputError):
    """An option (task, metric, family, budget) is invalid."""


class RunDirectoryError(AssayInputError):
    """A Run directory is missing, not a Run, or would be overwritten."""


class IncompatibleRunError(RunDirectoryError):
    """A Run was written by a version of assay this one cannot read."""


class MissingExtraError(AssayError, ImportError):
    """An optional dependency is not installed; the message names the extra."""

    def __init__(self, package: str, extra: str):
        super().__init__(f"{package} is not installed: pip install 'assay[{extra}]'")
        self.package = package
        self.extra = extra


class TrialFailed(AssayError):
    """A single search trial crashed, timed out or ran out of memory (recorded, search goes on)."""


def require(module: str, extra: str):
    """Import an optional dependency, or raise MissingExtraError naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(module, extra) from None
