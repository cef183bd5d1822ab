"""The ground truth (真值), kept apart from the source systems under ``<data>/county/truth``.

* ``defects.jsonl``: every injected defect by (dept_code, shape, record_kind, source row);
* ``dishonesty.jsonl``: every dishonesty record with its true severity and dates;
* ``lifecycle.jsonl``: every lifecycle event of a dishonesty record, by the row that carries it;
* ``legacy_identifiers.jsonl``: every row that named its subject by a legacy identifier, with the
  subject's true USCC;
* ``commitments.jsonl``: every commitment (信用承诺) judged kept or breached, by the row that
  carries the judgement;
* ``warning_feedback.jsonl``: every action a department reported on a warning it received
  (signed for, closed), with the warning's id and who acted;
* ``inspections.jsonl``: every version of every inspection result a department sent (检查结果:
  subject, method, date, result), by the row that carries it;
* ``subjects.csv`` / ``persons.csv``: the population.

Ingestion never reads this folder; tests score validation and the warehouse against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FILES = (
    "defects.jsonl",
    "dishonesty.jsonl",
    "lifecycle.jsonl",
    "legacy_identifiers.jsonl",
    "warning_feedback.jsonl",
    "inspections.jsonl",
    "commitments.jsonl",
)


class TruthWriter:
    """Appends truth lines; one handle per file for the whole advance."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.handles = {name: (folder / name).open("a", encoding="utf-8") for name in FILES}

    def write(self, name: str, line: dict[str, Any]) -> None:
        self.handles[f"{name}.jsonl"].write(json.dumps(line, ensure_ascii=False) + "\n")

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


def rollback(folder: Path, after: str) -> None:
    """Drop truth lines of days after ``after`` (ISO date), left by an interrupted advance."""
    for name in FILES:
        path = folder / name
        if not path.exists():
            continue
        kept = [
            line
            for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
            if json.loads(line)["day"] <= after
        ]
        path.write_text("".join(kept), encoding="utf-8")


def read(folder: Path, name: str) -> list[dict[str, Any]]:
    path = folder / f"{name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
