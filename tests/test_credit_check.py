"""Credit check (信用核查) against the simulated county's truth: marts.credit_check on the
session's quarter county (tests/county.py, built by dbt as of 2026-04-08) and ``credit check``
writing its workbook."""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import timedelta

import psycopg
import pytest
from openpyxl import Workbook, load_workbook
from psycopg.rows import dict_row
from stdnum.cn import uscc as stdnum_uscc
from typer.testing import CliRunner

from credit import roles
from credit.cli import app
from credit.credit_check import CheckError, read_code_list
from credit.identifiers import check_uscc, make_uscc
from tests.county import QUARTER_LAST_DAY as LAST_DAY
from tests.test_dbt_lifecycle import Truth, _expected_exit, _truth

# Follow-ups that change a record's severity or end it by repair: records with none of them
# leave the stock by revocation or expiry only, which the truth dates exactly.
UNFOLLOWED = {"corrected", "objection_corrected", "repair_approved"}


def _check(url: str, codes: list[str], purpose: str, as_of) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute("select * from marts.credit_check(%s, %s, %s)", (codes, purpose, as_of))
        return cur.fetchall()


def _documents(row: dict) -> set[str]:
    return {r["document_no"] for r in row["records"] if r["record_kind"] == "dishonesty"}


def _serious_records(truth: Truth) -> list[tuple[dict, str | None]]:
    """Serious records of organisations whose rows all landed under their USCC and whose exit
    the truth dates exactly, with that exit (None: in force on the last day)."""
    followed = []
    for record in truth.records:
        life = truth.clean_life(record["decision_doc_no"])
        if (
            record["severity_code"] != "serious"
            or not record["uscc"]
            or life is None
            or UNFOLLOWED & set(life)
            or len(truth.subject_keys(record, set())) != 1
        ):
            continue
        _, exit_day = _expected_exit(record, life, barred=False)
        followed.append((record, exit_day))
    return followed


def _clean_usccs(quarter_county) -> list[str]:
    """Subjects established by the last day that the truth gives no dishonesty record,
    quarantined rows included."""
    dishonest = {line["uscc"] for line in _truth(quarter_county.truth, "dishonesty")}
    with (quarter_county.truth / "subjects.csv").open(encoding="utf-8") as f:
        return [
            row["uscc"]
            for row in csv.DictReader(f)
            if row["uscc"] not in dishonest and row["established"] <= LAST_DAY.isoformat()
        ]


def test_serious_dishonesty_in_force_fails_an_award_check_and_a_clean_subject_passes(
    quarter_county,
) -> None:
    truth = Truth(quarter_county.truth)
    serious = _serious_records(truth)
    in_force = [record for record, exit_day in serious if exit_day is None]
    exited = [(record, exit_day) for record, exit_day in serious if exit_day is not None]
    clean = _clean_usccs(quarter_county)[:500]
    assert len(in_force) > 5 and exited and len(clean) > 100
    codes = [r["uscc"] for r in in_force] + [r["uscc"] for r, _ in exited] + clean
    rows = {row["uscc"]: row for row in _check(quarter_county.url, codes, "award", LAST_DAY)}
    for record in in_force:
        row = rows[record["uscc"]]
        assert (row["result_code"], row["result_zh"]) == ("fail", "不通过"), record
        assert record["decision_doc_no"] in _documents(row)
        assert "no_incentive" in row["measure_codes"].split(";")
    # A record that left the stock (revoked, expired) by the day does not count then.
    for record, _ in exited:
        assert record["decision_doc_no"] not in _documents(rows[record["uscc"]])
    passed = 0
    for uscc in clean:
        row = rows[uscc]
        assert not _documents(row), uscc
        if row["grade"] in ("A", "B"):
            assert (row["result_code"], row["result_zh"]) == ("pass", "通过"), row
            passed += 1
    # Every subject but those whose registration was quarantined.
    assert sum(rows[uscc]["found"] for uscc in clean) > 0.9 * len(clean)
    assert passed > 50
    # On a day it was in force, an exited record counts.
    for record, exit_day in exited[:5]:
        before_exit = min(LAST_DAY, _day(exit_day) - timedelta(days=1))
        row = _check(quarter_county.url, [record["uscc"]], "award", before_exit)[0]
        assert record["decision_doc_no"] in _documents(row), (record, exit_day)
        assert row["result_code"] == "fail"


def _day(text: str):
    from datetime import date

    return date.fromisoformat(text)


def test_a_check_as_of_a_day_before_the_decision_ignores_the_record(quarter_county) -> None:
    truth = Truth(quarter_county.truth)
    per_subject = Counter(line["uscc"] for line in _truth(quarter_county.truth, "dishonesty"))
    alone = [
        record
        for record, exit_day in _serious_records(truth)
        if exit_day is None and per_subject[record["uscc"]] == 1
    ]
    assert alone
    record = alone[0]
    decided = _day(record["decision_date"])
    (before,) = _check(quarter_county.url, [record["uscc"]], "subsidy", decided - timedelta(1))
    (on_the_day,) = _check(quarter_county.url, [record["uscc"]], "subsidy", decided)
    assert not _documents(before)
    assert before["result_code"] != "fail" or before["grade"] == "D"
    assert _documents(on_the_day) == {record["decision_doc_no"]}
    assert on_the_day["result_code"] == "fail"
    assert "restricted_funding" in on_the_day["measure_codes"].split(";")


def test_unknown_and_malformed_codes_are_reported_in_the_lists_order(quarter_county) -> None:
    known = _clean_usccs(quarter_county)[0]
    with (quarter_county.truth / "subjects.csv").open(encoding="utf-8") as f:
        subjects = {row["uscc"] for row in csv.DictReader(f)}
    unknown = next(
        code
        for code in (make_uscc("91", "320281", f"MA{n:06d}") for n in range(1, 1000))
        if code not in subjects
    )
    wrong_digit = known[:17] + next(c for c in "0123456789" if c != known[17])
    codes = [
        known,
        unknown,
        "ABC",
        wrong_digit,
        "",
        None,
        "91320281MA1OOOOOOO",  # O is not a USCC character
        f" {known.lower()} ",
        known,
    ]
    rows = _check(quarter_county.url, codes, "procurement", LAST_DAY)
    assert [row["list_position"] for row in rows] == list(range(1, len(codes) + 1))
    assert [row["requested_code"] for row in rows] == codes
    got = [(row["found"], row["code_problem"], row["result_code"]) for row in rows]
    found = (True, None, rows[0]["result_code"])
    assert got == [
        found,
        (False, None, "not_found"),
        (False, "length", "invalid"),
        (False, "check_digit", "invalid"),
        (False, "missing", "invalid"),
        (False, "missing", "invalid"),
        (False, "format", "invalid"),
        found,
        found,
    ]
    assert check_uscc(unknown).is_valid and not check_uscc(wrong_digit).is_valid
    assert {rows[1]["result_zh"], rows[2]["result_zh"]} == {"未查到该主体", "代码无效"}


def test_the_check_digit_agrees_with_gb_32100(quarter_county) -> None:
    """Every one-character change of real codes: the function's check digit is stdnum's."""
    codes = []
    for uscc in _clean_usccs(quarter_county)[:40]:
        for position in (3, 9, 17):
            codes.append(uscc[:position] + "7" + uscc[position + 1 :])
    rows = _check(quarter_county.url, codes, "approval", LAST_DAY)
    for code, row in zip(codes, rows, strict=True):
        right = stdnum_uscc.calc_check_digit(code[:17]) == code[17]
        assert (row["code_problem"] is None) == right, code


def test_a_check_is_logged_refuses_a_later_day_or_an_unknown_purpose_and_is_not_a_departments(
    quarter_county,
) -> None:
    url = quarter_county.url
    with psycopg.connect(url) as conn:
        before = conn.execute(
            "select count(*) from audit.access_log where action = 'credit_check'"
        ).fetchone()[0]
    _check(url, ["ABC", "DEF"], "award", LAST_DAY)
    with psycopg.connect(url) as conn:
        logged = conn.execute(
            "select target, detail from audit.access_log where action = 'credit_check'"
            " order by access_id"
        ).fetchall()
        assert len(logged) == before + 1
        assert logged[-1] == (
            "award",
            {"as_of": LAST_DAY.isoformat(), "code_count": 2, "codes": ["ABC", "DEF"]},
        )
        signature = "marts.credit_check(text[], text, date)"
        for role, allowed in (
            (roles.OFFICE, True),
            (roles.ANALYST, True),
            (roles.DEPARTMENTS, False),
        ):
            assert (
                conn.execute(
                    "select has_function_privilege(%s, %s, 'execute')", (role, signature)
                ).fetchone()[0]
                is allowed
            )
    with pytest.raises(psycopg.errors.RaiseException, match="not on or before"):
        _check(url, ["ABC"], "award", LAST_DAY + timedelta(days=1))
    with pytest.raises(psycopg.errors.RaiseException, match="unknown purpose"):
        _check(url, ["ABC"], "lottery", LAST_DAY)


# Columns holding codes (identifiers, grades, the codes of Chinese columns beside them).
CODE_HEADER = re.compile(r"代码$|^统一社会信用代码$|^名单中的代码$|^认定文书号$|^信用等级$|^序号$")


def test_the_cli_writes_a_workbook_in_chinese(quarter_county, tmp_path) -> None:
    truth = Truth(quarter_county.truth)
    failing = next(record["uscc"] for record, exit_day in _serious_records(truth) if not exit_day)
    clean = _clean_usccs(quarter_county)[:3]
    listed = [failing, *clean, "91320281000000000X", "not a code"]
    book = Workbook()
    book.active.append(["主体名称", "统一社会信用代码"])
    for code in listed:
        book.active.append(["某某公司", code])
    book.save(tmp_path / "list.xlsx")
    result = CliRunner().invoke(
        app,
        [
            "check",
            str(tmp_path / "list.xlsx"),
            "--purpose",
            "award",
            "--as-of",
            LAST_DAY.isoformat(),
            "-o",
            str(tmp_path / "result.xlsx"),
        ],
    )
    assert result.exit_code == 0, result.output
    workbook = load_workbook(tmp_path / "result.xlsx", read_only=True)
    assert workbook.sheetnames == ["核查结果", "相关记录"]
    sheets = {
        name: list(workbook[name].iter_rows(values_only=True)) for name in workbook.sheetnames
    }
    assert sheets["核查结果"][0][0] == "信用核查（评优评先）"
    results, records = _rows(sheets["核查结果"]), _rows(sheets["相关记录"])
    assert [row["名单中的代码"] for row in results] == listed
    assert results[0]["核查结果"] == "不通过"
    assert [row["核查结果"] for row in results[-2:]] == ["代码无效", "代码无效"]
    assert [row["代码问题"] for row in results[-2:]] == ["校验位错误", "长度不是18位"]
    assert {row["记录类型"] for row in records if row["统一社会信用代码"] == failing} >= {
        "失信行为认定"
    }
    refused = CliRunner().invoke(
        app, ["check", str(tmp_path / "list.xlsx"), "--purpose", "lottery", "-o", "x.xlsx"]
    )
    assert refused.exit_code == 1 and "unknown purpose" in refused.output
    for rows in (results, records):
        for column in rows[0]:
            assert re.search(r"[\u4e00-\u9fff]", column) and not re.search(r"[A-Za-z]", column)
        for row in rows:
            for column, value in row.items():
                if isinstance(value, str) and not CODE_HEADER.search(column):
                    assert not re.search(r"[A-Za-z_]{2,}", value), (column, value)


def test_a_list_is_read_from_csv_in_gbk_or_utf8_or_from_xlsx(tmp_path) -> None:
    codes = ["91320281MA1XXXXXXX", "９１３２０２８１ＭＡ１ＸＸＸＸＸＸＸ", "", "abc"]
    headed = tmp_path / "headed.csv"
    headed.write_text(
        "主体名称,统一社会信用代码\n" + "".join(f"某公司,{code}\n" for code in codes) + ",\n",
        encoding="gbk",
    )
    bare = tmp_path / "bare.csv"
    bare.write_text("".join(f"{code},备注\n" for code in codes), encoding="utf-8-sig")
    assert read_code_list(headed) == codes
    assert read_code_list(bare) == codes
    book = Workbook()
    book.active.append(["uscc"])
    book.active.append(["91320281MA1XXXXXXX"])
    # An all-digit code typed as a number keeps a spreadsheet's 15-16 digits, no exponent.
    book.active.append([123202810319126433])
    book.save(tmp_path / "list.xlsx")
    listed, numeric = read_code_list(tmp_path / "list.xlsx")
    assert listed == "91320281MA1XXXXXXX"
    assert numeric.isdigit() and len(numeric) == 18 and numeric.startswith("123202810319126")
    (tmp_path / "list.txt").touch()
    for wrong in ("list.txt", "missing.csv"):
        with pytest.raises(CheckError):
            read_code_list(tmp_path / wrong)


def _rows(sheet: list[tuple]) -> list[dict]:
    """A sheet's rows by header, below its title lines."""
    header_index = next(i for i, row in enumerate(sheet) if row and row[0] == "序号")
    return [dict(zip(sheet[header_index], row, strict=True)) for row in sheet[header_index + 1 :]]
