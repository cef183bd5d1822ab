"""Properties of defect injection and of the working-day calendar, on free-form inputs."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from county_sim import engine
from county_sim.cli import app
from county_sim.defects import DEFECT_TYPES, PROTECTED, inject
from credit.catalogue import record_kind
from credit.workdays import add_working_days, is_working_day

PENALTY_ROW = {
    "subject_name": "江阴市恒通机械制造有限公司",
    "subject_type": "法人及非法人组织",
    "uscc": "91320281000000019X",
    "legal_rep": "王伟",
    "legal_rep_id_number": "320281199001011234",
    "id_number": None,
    "penalty_doc_no": "澄市场监罚〔2026〕0640012号",
    "violation_type": "虚假广告",
    "violation_facts": "经查",
    "penalty_basis": "《广告法》",
    "penalty_category": "罚款",
    "penalty_content": "罚款",
    "fine_amount": "2.00",
    "confiscated_amount": None,
    "license_affected": None,
    "decision_date": "2026-03-05",
    "valid_until": "2027-03-05",
    "publicity_until": "2027-03-05",
    "authority": "江阴市市场监管局",
    "authority_code": "X",
    "remarks": None,
    "source_unit": "江阴市市场监管局",
    "source_unit_code": "X",
    "change_type": "新增",
    "record_id": "r1",
    "updated_at": "2026-03-05T08:30:01+08:00",
}


@settings(max_examples=200, deadline=None)
@given(
    defect=st.sampled_from(DEFECT_TYPES),
    seed=st.integers(0, 2**32),
    csv_file=st.booleans(),
    copies=st.integers(1, 5),
)
def test_each_row_gets_at_most_the_defect_it_reports(
    defect: str, seed: int, csv_file: bool, copies: int
) -> None:
    kind = record_kind("penalty")
    rows = [dict(PENALTY_ROW) for _ in range(copies)]
    output = inject(rows, kind, random.Random(seed), {defect: 1.0}, dt.date(2026, 3, 5), csv_file)
    duplicates = [row for row in output if row.duplicate_of is not None]
    assert len(output) == copies + len(duplicates)
    for row in output:
        changed = {k for k in kind.column_names if row.values.get(k) != PENALTY_ROW.get(k)}
        assert not changed & PROTECTED
        if row.defect is None or row.defect in ("exact_duplicate", "truncated_line"):
            assert not changed
        elif row.defect == "unknown_department":
            assert changed == {"source_unit", "source_unit_code"}
        else:
            assert changed == {row.column}
    if defect == "truncated_line" and not csv_file:
        assert all(row.defect is None for row in output)


@given(st.dates(dt.date(2024, 1, 1), dt.date(2030, 12, 31)), st.integers(1, 60))
def test_adding_working_days_lands_on_working_days(day: dt.date, count: int) -> None:
    later = add_working_days(day, count)
    assert later > day and is_working_day(later)
    between = sum(is_working_day(day + dt.timedelta(days=i)) for i in range(1, (later - day).days))
    assert between == count - 1


def test_national_day_is_not_a_working_day() -> None:
    assert not is_working_day(dt.date(2026, 10, 1))
    assert not is_working_day(dt.date(2029, 10, 2))  # fallback beyond chinese_calendar's range


def test_cli_summary(county: engine.CountyState) -> None:
    result = CliRunner().invoke(app, ["summary"])
    assert result.exit_code == 0, result.output
    assert "market_regulation" in result.output and "with defects" in result.output
