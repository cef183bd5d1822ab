"""Validation (数据校验) of landed batches with Great Expectations.

* :func:`validate_batch` runs a record kind's suite as push-down SQL on one landed batch,
  quarantines every failing row with all its reasons and reconciles the counts;
  :func:`validate_batches` does the same for many batches of one kind in one GX run a group.
* :mod:`credit.validation.suites` generates the suites from the catalogue
  (``python -m credit.validation.suites`` rewrites ``expectations/<kind>.json``).
* :func:`build_data_docs` renders GX Data Docs of the stored runs, a page per GX run.

See ``docs/validation.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from credit.validation.batch_checks import BatchCheck
    from credit.validation.docs import build_data_docs, data_docs_dir
    from credit.validation.runner import (
        ReconciliationError,
        ValidationError,
        ValidationOutcome,
        release_connections,
        validate_batch,
        validate_batches,
    )
    from credit.validation.sql import install_validation_sql

# Imported when first used: Great Expectations takes seconds to import, and a night with nothing
# new to render or validate never needs it.
_EXPORTS = {
    "BatchCheck": "credit.validation.batch_checks",
    "ReconciliationError": "credit.validation.runner",
    "ValidationError": "credit.validation.runner",
    "ValidationOutcome": "credit.validation.runner",
    "build_data_docs": "credit.validation.docs",
    "data_docs_dir": "credit.validation.docs",
    "install_validation_sql": "credit.validation.sql",
    "release_connections": "credit.validation.runner",
    "validate_batch": "credit.validation.runner",
    "validate_batches": "credit.validation.runner",
}
__all__ = [
    "BatchCheck",
    "ReconciliationError",
    "ValidationError",
    "ValidationOutcome",
    "build_data_docs",
    "data_docs_dir",
    "install_validation_sql",
    "release_connections",
    "validate_batch",
    "validate_batches",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
