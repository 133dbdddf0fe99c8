"""The zero-shot portfolio: configurations each family tries first, chosen offline.

`portfolio.json` (beside this file) is written by `benchmarks/build_portfolio.py`: for
every family and task group ("classification", "regression") an ordered list of
configurations that together did best across the shared benchmark datasets (chosen
greedily for coverage; checked leave-one-dataset-out, see docs/benchmarks.md). Where the
file has no entry for a family and task, the family's hand-written `default_configs`
are used.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

PATH = Path(__file__).with_name("portfolio.json")


@lru_cache(maxsize=1)
def _portfolio() -> dict:
    try:
        return json.loads(PATH.read_text()).get("portfolio", {})
    except (OSError, ValueError):
        return {}


def portfolio_configs(family: str, task: str) -> list[dict]:
    group = "regression" if task == "regression" else "classification"
    return [dict(c) for c in _portfolio().get(family, {}).get(group, [])]
