"""Expectation suites (期望套件), one per record kind, generated from the catalogue.

Every column attribute of ``record_kinds.yaml`` becomes expectations on ``raw.<kind>``; each
carries ``meta = {"rule": ..., "column": ...}`` so a quarantined row says which rule it broke.
The generated suites are written to ``expectations/<kind>.json`` for review and committed;
a test keeps them equal to what the catalogue generates.  Regenerate with::

    python -m credit.validation.suites
"""

# The custom queries below are built from catalogue names (record_kinds.yaml), never from data.
# ruff: noqa: S608

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import great_expectations as gx
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

from credit.catalogue import Column, RecordKind, record_kinds
from credit.paths import EXPECTATIONS_DIR
from credit.sources import sources
from credit.validation.expectations import EXPECTATION_TYPE as ROWS_EXPECTATION
from credit.validation.expectations import ISO_DATE_TYPE, ISO_TIMESTAMP_TYPE
from credit.validation.sql import IDENTIFIER_NORMAL_PATTERN, NEGATIVE_PATTERN, TYPE_PATTERNS

# Columns that name a department (数据来源单位 / 决定机关) by its own USCC.
DEPARTMENT_CODE_COLUMNS = ("source_unit_code", "authority_code")
# Next to its business key, what tells versions of a record apart: the change type and the
# day it was changed.  A record entered twice on one day (a stray space, a second later) is a
# duplicate; a correction (更正) that same day, or a second correction days later, is not.
VERSION_EXPRESSIONS = ("btrim(change_type)", "left(btrim(updated_at), 10)")
IDENTIFIER_PROBLEM_FUNCTIONS = {
    "uscc": "audit.uscc_is_valid",
    "resident_id": "audit.resident_id_is_valid",
    "registration_number": "audit.registration_number_is_valid",
}
# A USCC column that may hold a legacy identifier instead (catalogue ``legacy: true``).
LEGACY_IDENTIFIER_FUNCTION = "audit.subject_identifier_is_valid"
CAST_FUNCTIONS = {"date": "audit.iso_date", "timestamp": "audit.iso_timestamp"}
# Dates and timestamps by the project's expectations of the same patterns without a regular
# expression (credit.validation.expectations), other typed text by GX's regex expectation.
ISO_EXPECTATIONS = {"date": ISO_DATE_TYPE, "timestamp": ISO_TIMESTAMP_TYPE}

Expectation = dict[str, Any]


def suite_name(kind: str) -> str:
    return f"raw.{kind}"


def suite_path(kind: str, directory: Path = EXPECTATIONS_DIR) -> Path:
    return directory / f"{kind}.json"


def organ_usccs() -> list[str]:
    """Every department's own USCC from ``sources.yaml``: the known senders and deciders."""
    return sorted({source.organ_uscc for source in sources().values()})


def generate_suite(kind: RecordKind) -> dict[str, Any]:
    """The suite of one record kind as GX suite JSON (name, expectations, meta)."""
    expectations = [
        _expectation("expect_column_values_to_be_null", "parse_problem", "parse_problem")
    ]
    for column in kind.columns:
        expectations.extend(_column_expectations(kind, column))
    expectations.append(_duplicate_expectation(kind))
    return {
        "name": suite_name(kind.name),
        "expectations": expectations,
        "meta": {
            "record_kind": kind.name,
            "label": kind.label,
            "generated_from": "include/credit/config/record_kinds.yaml, sources.yaml",
        },
    }


def generate_all() -> dict[str, dict[str, Any]]:
    return {name: generate_suite(kind) for name, kind in record_kinds().items()}


def render(suite: dict[str, Any]) -> str:
    """The reviewed JSON text of a suite: stable key order, Chinese kept readable."""
    return json.dumps(suite, ensure_ascii=False, indent=2) + "\n"


def write_suites(directory: Path = EXPECTATIONS_DIR) -> list[Path]:
    """Regenerate ``<directory>/<kind>.json`` for every kind; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, suite in generate_all().items():
        path = suite_path(name, directory)
        path.write_text(render(suite), encoding="utf-8")
        written.append(path)
    return written


@cache
def load_suite_json(kind: str) -> dict[str, Any]:
    """The committed suite of a kind, as reviewed."""
    return json.loads(suite_path(kind).read_text(encoding="utf-8"))


def load_suite(kind: str) -> gx.ExpectationSuite:
    """The committed suite of a kind as a GX object, ready for ``batch.validate``."""
    raw = load_suite_json(kind)
    return gx.ExpectationSuite(
        name=raw["name"],
        expectations=[
            ExpectationConfiguration(
                type=entry["type"], kwargs=entry["kwargs"], meta=entry["meta"]
            ).to_domain_obj()
            for entry in raw["expectations"]
        ],
        meta=raw["meta"],
    )


def _expectation(expectation_type: str, rule: str, column: str, **kwargs: Any) -> Expectation:
    if expectation_type != ROWS_EXPECTATION:
        kwargs = {"column": column, **kwargs}
    return {"type": expectation_type, "kwargs": kwargs, "meta": {"rule": rule, "column": column}}


def _rows(rule: str, column: str, query: str) -> Expectation:
    """A custom-SQL expectation: ``query`` selects the ``raw_row_id`` of every failing row."""
    return _expectation(
        ROWS_EXPECTATION, rule, column, unexpected_rows_query=" ".join(query.split())
    )


def _row_rule(rule: str, column: str, condition: str) -> Expectation:
    """A custom-SQL expectation on each row alone: the rows of the batch where ``condition``
    holds fail.  The condition is also its ``unexpected_rows_condition``: GX counts it in the
    one aggregate query of the batch, and validation's row pass reads it."""
    condition = " ".join(condition.split())
    expectation = _rows(rule, column, f"select raw_row_id from {{batch}} where {condition}")
    expectation["kwargs"]["unexpected_rows_condition"] = condition
    return expectation


def _column_expectations(kind: RecordKind, column: Column) -> Iterator[Expectation]:
    name = column.name
    if column.mandatory:
        yield _expectation("expect_column_values_to_not_be_null", "mandatory", name)
    for other, values in column.required_if.items():
        listed = ", ".join(_literal(value) for value in values)
        yield _row_rule("required_if", name, f"{name} is null and {other} in ({listed})")
    if column.type == "enum":
        yield _expectation(
            "expect_column_values_to_be_in_set", "enum", name, value_set=list(column.values)
        )
    if column.type in ISO_EXPECTATIONS:
        yield _expectation(ISO_EXPECTATIONS[column.type], f"{column.type}_format", name)
    if column.type in TYPE_PATTERNS:
        yield _expectation(
            "expect_column_values_to_match_regex",
            f"{column.type}_format",
            name,
            regex=TYPE_PATTERNS[column.type],
        )
    if column.type in ("decimal", "int"):
        yield _expectation(
            "expect_column_values_to_not_match_regex", "non_negative", name, regex=NEGATIVE_PATTERN
        )
    if column.max_length is not None:
        # A character is at most four bytes: the byte length (read from the value's header)
        # spares counting the characters of nearly every value.
        limit = column.max_length
        yield _row_rule(
            "max_length", name, f"octet_length({name}) > {limit} and length({name}) > {limit}"
        )
    if column.not_future:
        yield _rows(
            "not_future",
            name,
            # The logical date of the night the batch was landed for, not the wall clock,
            # so re-validating an old batch gives the same answer.
            # The text comparison first, as cheap as the cast is not: ISO text of a later day
            # always sorts after the day's own ISO text (a zone moves a timestamp by a day at
            # most), so it only spares the cast rows that cannot be in the future.
            f"""select b.raw_row_id from {{batch}} as b
                join audit.batches as a on a.batch_id = b.batch_id
                where b.{name} collate "C" > to_char(a.logical_date, 'YYYY-MM-DD')
                  and {CAST_FUNCTIONS[column.type]}(b.{name})::date > a.logical_date""",
        )
    if column.identifier:
        yield _expectation(
            "expect_column_values_to_match_regex",
            "identifier_normal_form",
            name,
            regex=IDENTIFIER_NORMAL_PATTERN,
        )
        check = (
            LEGACY_IDENTIFIER_FUNCTION
            if column.legacy
            else IDENTIFIER_PROBLEM_FUNCTIONS[column.identifier]
        )
        valid = f"{check}({name})"
        if name in DEPARTMENT_CODE_COLUMNS:  # a department's own code is valid (sources.py)
            known = ", ".join(_literal(code) for code in organ_usccs())
            valid = f"({name} in ({known}) or {valid})"
        yield _row_rule(f"{column.identifier}_check", name, f"{name} is not null and not {valid}")
    if name in DEPARTMENT_CODE_COLUMNS:
        yield _expectation(
            "expect_column_values_to_be_in_set", "known_department", name, value_set=organ_usccs()
        )


def _duplicate_expectation(kind: RecordKind) -> Expectation:
    """Later entries of the same version of a business record in the same batch; the first one
    is kept.  Partitioned by ``batch_id`` too, so batches validated together (one GX run for
    several batches of a kind) are judged each on its own, exactly as one by one."""
    key = [f"btrim({column})" for column in kind.business_key]
    partition = ", ".join(["batch_id", *key, *VERSION_EXPRESSIONS])
    present = " and ".join(f"{column} is not null" for column in kind.business_key)
    return _rows(
        "duplicate",
        ",".join(kind.business_key),
        f"""select raw_row_id from (
                select raw_row_id,
                       row_number() over (partition by {partition} order by raw_row_id) as seen
                from {{batch}} where {present}) as numbered
            where seen > 1""",
    )


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def main() -> None:
    for path in write_suites():
        print(path)


if __name__ == "__main__":
    main()
