"""Credit check (信用核查) of a list of subjects before an award (评优评先), a subsidy (财政奖补),
an approval (行政审批) or a procurement (政府采购): ``credit check``.

The warehouse answers (``marts.credit_check``, dbt/macros/access/credit_check.sql): for each
code of the list, whether it names a subject, the subject's grade, the measures bearing on the
purpose (rules.credit_check_measures) and the result they give, and the records behind them,
as of a day. This module reads the list (CSV or XLSX), asks the function, and lays the answer
out as a workbook: one sheet of results, one of the records behind them.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from credit.catalogue import record_kinds
from credit.connectors import as_text
from credit.connectors.drop_folder import decode
from credit.exports.daily import ExportError, marts_as_of_date
from credit.exports.workbook import Column, Table, write_workbook
from credit.identifiers import normalise
from credit.roles import EXPORTER
from credit.warehouse import ready_url

# The header of the list's column of codes (else its first column holds them).
CODE_HEADERS = frozenset({"统一社会信用代码", "USCC"})
CODE_PROBLEM_ZH = {
    "missing": "未填写",
    "length": "长度不是18位",
    "format": "含有代码不用的字符",
    "check_digit": "校验位错误",
}
GRADE_RECORD_ZH = "信用等级"
FOUND_ZH = {True: "是", False: "否"}

CHECK_SQL = "select * from marts.credit_check(%s, %s, %s)"

RESULT_COLUMNS = (
    Column("list_position", "序号", "int"),
    Column("listed_code", "名单中的代码"),
    Column("uscc", "统一社会信用代码"),
    Column("code_problem_zh", "代码问题"),
    Column("code_problem", "代码问题代码"),
    Column("found_zh", "是否查到"),
    Column("subject_name", "主体名称"),
    Column("grade", "信用等级"),
    Column("grade_date", "等级评价日", "date"),
    Column("result_zh", "核查结果"),
    Column("result_code", "结果代码"),
    Column("measures_zh", "适用措施"),
    Column("measure_codes", "措施代码"),
    Column("record_count", "相关记录数", "int"),
)

RECORD_COLUMNS = (
    Column("list_position", "序号", "int"),
    Column("uscc", "统一社会信用代码"),
    Column("subject_name", "主体名称"),
    Column("record_kind_zh", "记录类型"),
    Column("record_kind", "记录类型代码"),
    Column("dept_name", "认定部门"),
    Column("dept_code", "部门代码"),
    Column("document_no", "认定文书号"),
    Column("behaviour", "失信行为"),
    Column("severity_zh", "失信程度"),
    Column("severity_code", "失信程度代码"),
    Column("decision_date", "认定日期", "date"),
    Column("publicity_end", "公示截止日", "date"),
    Column("exit_date", "退出日期", "date"),
    Column("record_status_zh", "记录状态"),
    Column("grade", "信用等级"),
    Column("evaluation_date", "等级评价日", "date"),
    Column("measures_zh", "适用措施"),
    Column("measure_codes", "措施代码"),
)
RECORD_DATES = frozenset(column.key for column in RECORD_COLUMNS if column.kind == "date")


class CheckError(Exception):
    """A list the check cannot read, or a check the warehouse refuses (purpose, day)."""


@dataclass(frozen=True)
class CheckOutcome:
    """What a check answered: the day, the purpose's name and one row per listed code."""

    as_of: date
    purpose_zh: str
    rows: list[dict[str, Any]]

    def result_counts(self) -> Counter[str]:
        return Counter(row["result_zh"] for row in self.rows)


def read_code_list(path: Path) -> list[str]:
    """The codes of a list: the column headed 统一社会信用代码 (or USCC) when the first row has
    one, else the first column of every row; rows with no cell filled are skipped. An XLSX
    list is read from its first sheet, a CSV in UTF-8 or GBK."""
    if not path.is_file():
        raise CheckError(f"{path}: no such file")
    if path.suffix.lower() == ".xlsx":
        lines = _xlsx_lines(path)
    elif path.suffix.lower() == ".csv":
        text, encoding = decode(path.read_bytes())
        if encoding == "undecodable":
            raise CheckError(f"{path.name}: neither UTF-8 nor GBK")
        lines = list(csv.reader(io.StringIO(text, newline="")))
    else:
        raise CheckError(f"{path.name}: a list is a .csv or .xlsx file")
    lines = [[cell.strip() for cell in line] for line in lines if any(c.strip() for c in line)]
    if not lines:
        return []
    headers = [cell.upper() for cell in lines[0]]
    named = [index for index, header in enumerate(headers) if header in CODE_HEADERS]
    if named:
        column = named[0]
        return [line[column] if column < len(line) else "" for line in lines[1:]]
    return [line[0] for line in lines]


def _xlsx_lines(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a damaged workbook
        raise CheckError(f"{path.name}: not a readable XLSX workbook ({error})") from error
    try:
        return [
            [as_text(value) or "" for value in row]
            for row in workbook.worksheets[0].iter_rows(values_only=True)
        ]
    finally:
        workbook.close()


def check_codes(codes: list[str], purpose: str, as_of: date | None = None) -> CheckOutcome:
    """Ask the warehouse (``marts.credit_check``) about ``codes`` for ``purpose`` as of
    ``as_of`` (default: the marts' as-of date). Each code is sent in its normal form
    (:func:`credit.identifiers.normalise`: full-width characters and separators typed into a
    list do not make it unknown); each row keeps the code as listed."""
    with psycopg.connect(ready_url(EXPORTER)) as conn:
        try:
            day = as_of or marts_as_of_date(conn)
        except ExportError as error:  # the marts are empty or half built
            raise CheckError(str(error)) from error
        purposes = dict(
            conn.execute("select purpose_code, purpose_zh from rules.credit_check_purposes")
        )
        if purpose not in purposes:
            raise CheckError(f"unknown purpose {purpose!r}: one of {', '.join(sorted(purposes))}")
        try:
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(CHECK_SQL, ([normalise(code) for code in codes], purpose, day))
                rows = cur.fetchall()
        except psycopg.errors.RaiseException as error:
            raise CheckError(error.diag.message_primary or str(error)) from error
    for row, listed in zip(rows, codes, strict=True):
        row["listed_code"] = listed
    return CheckOutcome(day, purposes[purpose], rows)


def write_check_workbook(outcome: CheckOutcome, path: Path) -> None:
    """The check as a workbook: 核查结果 (a row per listed code) and 相关记录 (the records
    behind the measures that apply, a row each)."""
    counts = outcome.result_counts()
    summary = "，".join(f"{name} {count}" for name, count in sorted(counts.items()))
    title = f"信用核查（{outcome.purpose_zh}）"
    results = Table(
        sheet="核查结果",
        csv_name="credit_check",
        columns=RESULT_COLUMNS,
        rows=[_result_row(row) for row in outcome.rows],
        title_lines=(
            title,
            f"截至 {outcome.as_of.isoformat()}；共 {len(outcome.rows)} 个代码：{summary}",
        ),
    )
    records = Table(
        sheet="相关记录",
        csv_name="credit_check_records",
        columns=RECORD_COLUMNS,
        rows=[record for row in outcome.rows for record in _record_rows(row)],
        title_lines=(f"{title}：适用措施所依据的记录",),
    )
    write_workbook(path, [results, records], title=title, created=outcome.as_of)


def _result_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "code_problem_zh": CODE_PROBLEM_ZH.get(row["code_problem"]),
        "found_zh": FOUND_ZH[row["found"]],
        "record_count": len(row["records"]),
    }


def _record_rows(row: dict[str, Any]) -> list[dict[str, Any]]:
    kinds = record_kinds()
    shown = []
    for record in row["records"]:
        kind = record["record_kind"]
        shown.append(
            {
                **{key: _date_or_text(key, value) for key, value in record.items()},
                "list_position": row["list_position"],
                "uscc": row["uscc"],
                "subject_name": row["subject_name"],
                "record_kind_zh": kinds[kind].label if kind in kinds else GRADE_RECORD_ZH,
            }
        )
    return shown


def _date_or_text(key: str, value: Any) -> Any:
    """JSON carries dates as ISO text: back to dates for the date columns."""
    if key in RECORD_DATES and value:
        return date.fromisoformat(value)
    return value
