"""assay's logger. Library code warns through `warn()`; the CLI decides what is shown."""

from __future__ import annotations

import logging

logger = logging.getLogger("assay")


def warn(message: str) -> None:
    logger.warning(message)


def info(message: str) -> None:
    logger.info(message)


def debug(message: str) -> None:
    logger.debug(message)
