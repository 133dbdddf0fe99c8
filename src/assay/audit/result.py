"""The base of every audit result: a plain object that saves as JSON under the Run's audit/."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


def _plain(o):
    if isinstance(o, dict):
        return {str(k): _plain(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_plain(v) for v in o]
    if isinstance(o, np.ndarray):
        return _plain(o.tolist())
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, float) and not np.isfinite(o):
        return None
    return o


@dataclass
class AuditResult:
    """Subclasses are dataclasses; `kind` names the audit (file name under audit/)."""

    kind = "audit"

    def to_dict(self) -> dict:
        return _plain({"kind": self.kind, **asdict(self)})

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **kw)

    def save(self, path) -> Path:
        """Write JSON to `path` (a file, or a Run directory: then audit/<kind>.json)."""
        path = Path(path)
        if path.is_dir():
            path = path / "audit" / f"{self.kind}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(self.to_json(indent=1))
        tmp.replace(path)
        return path
