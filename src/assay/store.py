"""The Run directory on disk: layout, versioned metadata, atomic writes.

    NAME/run.json          schema, task, metric, config, seed, versions, timings, status
    NAME/leaderboard.csv   one row per trial
    NAME/trials.db         Optuna storage (SQLite)
    NAME/models/final.pkl  the fitted final model (ensemble)
    NAME/models/candidates/<family>_<trial>.pkl
                           the best single model of each family (its fold models), for
                           `predict(..., model=NAME)`; run.json "candidates" maps names to
                           files, or to {"member": trial} for a final-ensemble member (its
                           models, refit or bagged, are kept once, in final.pkl)

A Run is written into a temporary sibling directory and renamed into place, so
an interrupted or failed write never leaves a half Run, and an existing Run is
replaced only when asked (`overwrite`) and only once the new one is complete.
Nothing inside refers to absolute paths: a Run directory can be moved.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path

from assay.errors import IncompatibleRunError, RunDirectoryError

FORMAT_VERSION = 1
RUN_JSON = "run.json"
LEADERBOARD = "leaderboard.csv"
TRIALS_DB = "trials.db"
MODEL = os.path.join("models", "final.pkl")
OOF = "oof.npz"
CANDIDATES = os.path.join("models", "candidates")


def is_run_dir(path: Path) -> bool:
    return (Path(path) / RUN_JSON).is_file()


def check_writable_target(path, overwrite: bool) -> Path:
    """Refuse early (before any work) to clobber something."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise RunDirectoryError(f"{path} exists and is a file; choose another --out")
        if any(path.iterdir()):
            if not is_run_dir(path):
                raise RunDirectoryError(
                    f"{path} exists and is not an assay Run; choose another --out (nothing was changed)")
            if not overwrite:
                raise RunDirectoryError(
                    f"{path} already holds a Run; pass --overwrite to replace it (nothing was changed)")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not os.access(parent, os.W_OK):
        raise RunDirectoryError(f"cannot write to {parent}: permission denied; choose another --out")
    return path


def write_run(path, *, meta: dict, leaderboard, model, trials_db: str | bytes | None, overwrite: bool,
              arrays: dict | None = None, candidates: dict | None = None) -> Path:
    """`candidates`: {model name: fitted model} kept beside the final model."""
    path = check_writable_target(path, overwrite)
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
    except OSError as e:
        raise RunDirectoryError(f"cannot write the Run to {path}: {e.strerror or e}") from None
    try:
        (tmp / "models").mkdir()
        with open(tmp / MODEL, "wb") as fh:
            pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
        leaderboard.to_csv(tmp / LEADERBOARD, index=False)
        files = candidate_entries(model, candidates or {})
        if candidates:
            (tmp / CANDIDATES).mkdir()
            for name, cand in candidates.items():
                if isinstance(files[name], str):
                    with open(tmp / CANDIDATES / files[name], "wb") as fh:
                        pickle.dump(cand, fh, protocol=pickle.HIGHEST_PROTOCOL)
        if arrays:
            import numpy as np

            np.savez_compressed(tmp / OOF, **arrays)
        if isinstance(trials_db, bytes):
            (tmp / TRIALS_DB).write_bytes(trials_db)
        elif trials_db and os.path.exists(trials_db):
            shutil.copy2(trials_db, tmp / TRIALS_DB)
        meta = dict(meta, format_version=FORMAT_VERSION, candidates=files)
        (tmp / RUN_JSON).write_text(json.dumps(meta, indent=2, default=_json_default))
        _swap_into_place(tmp, path)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RunDirectoryError(f"cannot write the Run to {path}: {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _swap_into_place(tmp: Path, path: Path) -> None:
    if path.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
        old.rmdir()
        os.rename(path, old)
        try:
            os.rename(tmp, path)
        except OSError:
            os.rename(old, path)  # put the previous Run back
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, path)


def read_meta(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise RunDirectoryError(f"no Run at {path}: the directory does not exist")
    if not is_run_dir(path):
        raise RunDirectoryError(f"{path} is not an assay Run (no {RUN_JSON}); pass the directory `assay fit --out` wrote")
    try:
        meta = json.loads((path / RUN_JSON).read_text())
    except (OSError, ValueError) as e:
        raise RunDirectoryError(f"{path / RUN_JSON} is unreadable or corrupt: {e}") from None
    fv = meta.get("format_version")
    if fv != FORMAT_VERSION:
        raise IncompatibleRunError(
            f"{path} was written by assay {meta.get('assay_version', '?')} (Run format {fv}); "
            f"this assay reads format {FORMAT_VERSION}: refit it, or install the assay version that wrote it")
    return meta


def read_arrays(path) -> dict:
    import numpy as np

    p = Path(path) / OOF
    if not p.exists():
        return {}
    with np.load(p) as z:
        return {k: z[k] for k in z.files}


def candidate_file(name: str) -> str:
    """'lightgbm#3' -> 'lightgbm_3.pkl' (no characters a file system dislikes)."""
    return "".join(ch if ch.isalnum() else "_" for ch in name) + ".pkl"


def candidate_entries(model, candidates: dict) -> dict:
    """run.json "candidates": {name: file under models/candidates}, or {"member": trial id}
    for a kept model that is one of the final ensemble's members (the same fitted models,
    written once, in model.pkl)."""
    members = {id(m.estimators): m.trial_id for m in getattr(model, "members", [])}
    out = {}
    for name, cand in candidates.items():
        own = getattr(cand, "members", [])
        tid = members.get(id(own[0].estimators)) if len(own) == 1 else None
        out[name] = {"member": tid} if tid is not None else candidate_file(name)
    return out


def read_candidate(path, name: str, files: dict, model):
    """A kept model: unpickled from its file, or rebuilt from the final `model`'s member."""
    entry = files[name]
    if isinstance(entry, dict):
        return model.member_alone(entry["member"])
    with open(Path(path) / CANDIDATES / entry, "rb") as fh:
        return pickle.load(fh)


def read_model(path):
    path = Path(path)
    try:
        with open(path / MODEL, "rb") as fh:
            return pickle.load(fh)
    except FileNotFoundError:
        raise RunDirectoryError(f"{path} has no fitted model ({MODEL} is missing)") from None
    except Exception as e:  # unpickling across incompatible library versions
        raise IncompatibleRunError(
            f"cannot load the model in {path}: {type(e).__name__}: {e}; "
            "the libraries that wrote it differ from these (see run.json 'versions')") from None


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)
