"""Defects (数据缺陷) injected into source rows at configured rates.

Each source row gets at most one defect.  Duplicates add a second row after a clean original;
every other defect changes the row itself.  A defect that does not fit a row (a negative amount
in a kind without amounts, a truncated line outside CSV) leaves the row clean, so the ground
truth lists exactly the defects that reached a source system.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from county_sim.records import Row
from credit.catalogue import RecordKind
from credit.identifiers import make_uscc

DEFECT_TYPES = (
    "bad_check_digit",
    "missing_mandatory",
    "full_width",
    "mixed_date_format",
    "future_date",
    "negative_amount",
    "unknown_department",
    "unknown_enum",
    "exact_duplicate",
    "near_duplicate",
    "truncated_line",
)
# Columns a defect never touches: they are the row's identity in the source system.
PROTECTED = {"record_id", "updated_at"}
UNKNOWN_UNIT = "江阴市综合协调办公室"
UNKNOWN_UNIT_CODE = make_uscc("11", "320281", "09990001")
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_DATE_FORMATS = ("%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d", "%Y.%m.%d")
_ENUM_NOISE = ("其它", "未知", "待定", "99")


@dataclass
class OutputRow:
    """A row as it will be written, with the defect it carries (if any)."""

    values: Row
    defect: str | None = None
    column: str | None = None
    duplicate_of: int | None = None  # index of the clean original in the day's output
    origin: int = 0  # index of the clean row this output row comes from

    @property
    def truncated(self) -> bool:
        return self.defect == "truncated_line"


def choose_defect(rng: random.Random, rates: dict[str, float], csv_file: bool) -> str | None:
    """One draw per row: a defect type with its configured probability, or None."""
    draw, total = rng.random(), 0.0
    for defect in DEFECT_TYPES:
        total += float(rates.get(defect, 0.0))
        if draw < total:
            return None if defect == "truncated_line" and not csv_file else defect
    return None


def inject(
    rows: list[Row],
    kind: RecordKind,
    rng: random.Random,
    rates: dict[str, float],
    day: dt.date,
    csv_file: bool,
) -> list[OutputRow]:
    """The day's output rows for one department and kind, defects injected."""
    output: list[OutputRow] = []
    for origin, row in enumerate(rows):
        defect = choose_defect(rng, rates, csv_file)
        if defect in ("exact_duplicate", "near_duplicate"):
            output.append(OutputRow(dict(row), origin=origin))
            copy, column = (
                _near_copy(row, kind) if defect == "near_duplicate" else (dict(row), None)
            )
            if copy is not None:
                output.append(OutputRow(copy, defect, column, len(output) - 1, origin))
            continue
        changed, column = _apply(defect, dict(row), kind, rng, day) if defect else (None, None)
        if changed is None:
            output.append(OutputRow(dict(row), origin=origin))
        else:
            output.append(OutputRow(changed, defect, column, origin=origin))
    return output


def _apply(
    defect: str, row: Row, kind: RecordKind, rng: random.Random, day: dt.date
) -> tuple[Row | None, str | None]:
    """The row with ``defect`` applied and the column it hit; (None, None) if it cannot apply."""
    if defect == "truncated_line":
        return row, None
    if defect == "unknown_department":
        row["source_unit"], row["source_unit_code"] = UNKNOWN_UNIT, UNKNOWN_UNIT_CODE
        return row, "source_unit_code"
    candidates = _candidates(defect, row, kind)
    if not candidates:
        return None, None
    column = rng.choice(candidates)
    value = str(row[column] or "")
    if defect == "bad_check_digit":
        alphabet = _USCC_ALPHABET if kind.column(column).identifier == "uscc" else "0123456789X"
        row[column] = value[:-1] + rng.choice([c for c in alphabet if c != value[-1]])
    elif defect == "missing_mandatory":
        row[column] = None
    elif defect == "full_width":
        row[column] = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in value)
    elif defect == "mixed_date_format":
        row[column] = dt.date.fromisoformat(value).strftime(rng.choice(_DATE_FORMATS))
    elif defect == "future_date":
        row[column] = (day + dt.timedelta(days=rng.randint(30, 900))).isoformat()
    elif defect == "negative_amount":
        row[column] = f"-{value}"
    elif defect == "unknown_enum":
        row[column] = rng.choice([n for n in _ENUM_NOISE if n not in kind.column(column).values])
    return row, column


def _candidates(defect: str, row: Row, kind: RecordKind) -> list[str]:
    """The columns of ``row`` a defect could hit."""
    filled = [c for c in kind.columns if c.name not in PROTECTED and row.get(c.name)]
    if defect == "bad_check_digit":
        # Subject identifiers only: a department's own code is not typed by hand.
        return [
            c.name
            for c in filled
            if c.identifier and not c.name.startswith(("authority", "source"))
        ]
    if defect == "full_width":
        return [c.name for c in filled if c.identifier]
    if defect == "missing_mandatory":
        return [c.name for c in filled if c.mandatory]
    if defect == "mixed_date_format":
        return [c.name for c in filled if c.type == "date"]
    if defect == "future_date":
        return [c.name for c in filled if c.type == "date" and c.not_future]
    if defect == "negative_amount":
        return [c.name for c in filled if c.type == "decimal"]
    if defect == "unknown_enum":
        return [c.name for c in filled if c.type == "enum"]
    raise ValueError(f"unknown defect {defect!r}")


def _near_copy(row: Row, kind: RecordKind) -> tuple[Row | None, str | None]:
    """A second entry of the same business record that differs by a stray space."""
    for column in ("subject_name", "policy_documents", "task_name", "obligation"):
        if column in kind.column_names and row.get(column):
            return {**row, column: f"{row[column]} "}, column
    return None, None
