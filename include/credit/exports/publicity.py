"""Daily publicity list (信用信息公示清单): what the credit office's portal may publish today.

Files a day for the credit office, which runs the county's credit portal (信用门户), made from the
mart ``marts.fct_publicity_records`` (dbt exposure ``daily_publicity``), which applies the rules:

* the day's changes to the portal's list (公示清单变更, a CSV file the portal applies by 公示编号):
  the administrative permits and penalties (双公示) and dishonesty records listed today that the
  portal was not given as they are (新增, 更新), and those it was given that are no longer listed
  (撤下). What it was given is ``audit.publicity_listings``, which each export brings up to date;
* the whole list (公示清单), on the weekday ``daily_publicity.full_list_weekday`` of
  ``exports.yaml``, on the first export and when asked (``credit export publicity --full``): the
  portal's reconciliation, hundreds of thousands of rows at the county's size, which no one reads
  as a sheet (an XLSX sheet would cap at 1,048,576);
* a workbook of the records repaired, revoked or corrected that must come off the portal by
  their deadline (撤下清单; one the warehouse learned of only after its deadline is on the next
  list, flagged 逾期撤下) and a count by kind.

Natural persons appear by masked name only, with no identifier.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

from credit.exports.audit import record_export
from credit.exports.daily import ExportError, marts_as_of_date
from credit.exports.labels import WITHDRAWAL_REASON_ZH
from credit.exports.outbox import Export, ExportWriter, csv_file_name
from credit.exports.settings import export_settings, recipients
from credit.exports.workbook import Column, Table
from credit.roles import EXPORTER
from credit.warehouse import ready_url

log = logging.getLogger(__name__)

KIND = "daily_publicity"

SELECT_SQL = """
select publicity_record_id, as_of_date, record_kind, record_kind_zh, dept_name, doc_no,
    subject_name, subject_identifier, category, content, decision_date, publicity_start,
    publicity_end, under_objection, is_listed, withdrawal_pending, withdrawal_reason_code,
    withdrawal_date, withdrawal_deadline, withdrawal_known_date, withdrawal_late
from marts.fct_publicity_records
"""

# The day's list in one read of the mart: each record listed or pending withdrawal, with the MD5
# of the cells the portal receives of it (LISTED_COLUMNS), kept for the transaction.
TODAY_SQL = """
create temporary table publicity_today on commit drop as
select publicity_record_id, as_of_date, record_kind, record_kind_zh, is_listed,
    withdrawal_pending,
    case when is_listed then md5(row(record_kind_zh, doc_no, subject_name, subject_identifier,
        dept_name, decision_date, category, content, publicity_start, publicity_end,
        under_objection)::text) end as row_md5
from marts.fct_publicity_records
where is_listed or withdrawal_pending
"""

# What the portal was given before the day: the rows listed before it and not ended by then.
GIVEN_SQL = """
create temporary table publicity_given on commit drop as
select publicity_record_id, listed_from, listed_until, row_md5
from audit.publicity_listings
where listed_from < %(day)s and (listed_until is null or listed_until >= %(day)s)
"""

# The records whose listing differs from what the portal was given: new, changed, taken off;
# kept for the transaction, so that recording them touches their listings alone.
CHANGES_SQL = """
create temporary table publicity_changes on commit drop as
select
    coalesce(listed.publicity_record_id, given.publicity_record_id) as publicity_record_id,
    case
        when given.publicity_record_id is null then 'added'
        when listed.publicity_record_id is null then 'removed'
        else 'changed'
    end as change_code
from (select * from publicity_today where is_listed) as listed
full join publicity_given as given on listed.publicity_record_id = given.publicity_record_id
where listed.row_md5 is distinct from given.row_md5
"""

# What the portal is given tonight, in audit.publicity_listings (no later day exported): the
# rows it was given that changed or left end today, and stand when an earlier export of the day
# ended them but today lists them as they were (publicity_ended: the few given rows whose end
# moves, found before the listings are touched; the whole list joined to them took 1.6-1.7 s a
# night after five years at Jiangyin's size); the day's own rows (an earlier export of the day)
# end, then tonight's new rows stand.
RECORD_SQL = (
    """
create temporary table publicity_ended on commit drop as
select
    given.publicity_record_id,
    given.listed_from,
    case when changes.publicity_record_id is not null then %(day)s::date end as listed_until
from publicity_given as given
left join publicity_changes as changes on given.publicity_record_id = changes.publicity_record_id
where given.listed_until is not null or changes.publicity_record_id is not null
""",
    "analyze publicity_ended",
    """
update audit.publicity_listings as listing
set listed_until = ended.listed_until
from publicity_ended as ended
where
    listing.publicity_record_id = ended.publicity_record_id
    and listing.listed_from = ended.listed_from
    and listing.listed_until is distinct from ended.listed_until
""",
    """
update audit.publicity_listings set listed_until = %(day)s
where listed_from = %(day)s and listed_until is null
""",
    """
insert into audit.publicity_listings (publicity_record_id, listed_from, row_md5)
select listed.publicity_record_id, %(day)s, listed.row_md5
from publicity_today as listed
inner join publicity_changes as changes
    on changes.publicity_record_id = listed.publicity_record_id and changes.change_code <> 'removed'
where listed.is_listed
on conflict (publicity_record_id, listed_from)
    do update set row_md5 = excluded.row_md5, listed_until = null
""",
)

RECORD_COLUMNS = (
    Column("publicity_record_id", "公示编号"),
    Column("record_kind_zh", "信息类别"),
    Column("doc_no", "决定文书号"),
    Column("subject_name", "主体名称"),
    Column("subject_identifier", "统一社会信用代码"),
    Column("dept_name", "决定部门"),
    Column("decision_date", "决定日期", "date"),
)
LISTED_COLUMNS = (
    *RECORD_COLUMNS,
    Column("category", "类别"),
    Column("content", "内容"),
    Column("publicity_start", "公示起始日", "date"),
    Column("publicity_end", "公示期满日", "date"),
    Column("objection", "异议处理中"),
)
CHANGE_COLUMNS = (Column("change", "变更"), *LISTED_COLUMNS)
WITHDRAWAL_COLUMNS = (
    *RECORD_COLUMNS,
    Column("withdrawal_reason", "撤下原因"),
    Column("withdrawal_date", "事由日期", "date"),
    Column("withdrawal_deadline", "撤下时限", "date"),
    Column("withdrawal_known_date", "获知日期", "date"),
    Column("late", "逾期撤下"),
)
CHANGE_ZH = {"added": "新增", "changed": "更新", "removed": "撤下"}
# The kinds in the order the portal lists them.
KIND_ORDER = {"permit": 0, "penalty": 1, "dishonesty": 2}


def export_daily_publicity(day: date | None = None, *, full: bool = False) -> Export:
    """Write the day's publicity files to the outbox, record what the portal is given and log the
    export.

    ``day`` defaults to the marts' as-of date; any other day is refused, as for the warnings.
    The whole list goes with the changes when ``full``, on the configured weekday, and when the
    portal was given nothing before the day. A day before one already exported (the marts rebuilt
    as of a past day) gets the whole list alone, and what the portal was given stays as it is.
    """
    url = ready_url(EXPORTER)
    with psycopg.connect(url) as conn:
        marts_day = marts_as_of_date(conn)
        if day is not None and day != marts_day:
            raise ExportError(f"the marts are as of {marts_day}, not {day}: transform {day} first")
        conn.execute(TODAY_SQL)
        stale = conn.execute(
            "select distinct as_of_date from publicity_today where as_of_date <> %s", (marts_day,)
        ).fetchall()
        if stale:
            raise ExportError(
                f"marts.fct_publicity_records is as of {sorted(d for (d,) in stale)}, not"
                f" {marts_day}: run credit_transform again"
            )
        params = {"day": marts_day}
        (later,) = conn.execute(
            "select exists (select from audit.publicity_listings"
            " where listed_from > %(day)s or listed_until > %(day)s)",
            params,
        ).fetchone()
        conn.execute(GIVEN_SQL, params)
        # Their statistics, for the joins below (a temporary table has none until analysed).
        conn.execute("analyze publicity_today, publicity_given")
        (given,) = conn.execute("select exists (select from publicity_given)").fetchone()
        weekday = export_settings()["daily_publicity"]["full_list_weekday"]
        full = full or not given or later or marts_day.isoweekday() == weekday
        if later:
            log.warning(
                "publicity of %s: a later day was exported already; the whole list goes alone",
                marts_day,
            )
        with conn.cursor(row_factory=dict_row) as cursor:
            changes = None
            if not later:
                cursor.execute(CHANGES_SQL)
                cursor.execute("analyze publicity_changes")
                changes = cursor.execute("select * from publicity_changes").fetchall()
            listed = cursor.execute(SELECT_SQL + "where is_listed").fetchall() if full else None
            # The records changed and those pending withdrawal: from the whole list when it goes
            # (read again, a catch-up's four years of changes held every record twice: 2.5 GB),
            # the others by the periods' primary key.
            wanted = {change["publicity_record_id"] for change in changes or ()}
            wanted.update(
                pending["publicity_record_id"]
                for pending in cursor.execute(
                    "select publicity_record_id from publicity_today where withdrawal_pending"
                )
            )
            rows = [row for row in listed or () if row["publicity_record_id"] in wanted]
            missing = wanted.difference(row["publicity_record_id"] for row in rows)
            rows += cursor.execute(
                SELECT_SQL + "where publicity_record_id = any(%s)", (sorted(missing),)
            ).fetchall()
            counts = cursor.execute(
                """select record_kind, record_kind_zh, count(*) filter (where is_listed) as listed,
                    count(*) filter (where withdrawal_pending) as pending
                from publicity_today group by record_kind, record_kind_zh"""
            ).fetchall()
        export = write_daily_publicity(marts_day, rows, changes, listed, counts)
        if not later:
            for statement in RECORD_SQL:
                conn.execute(statement, params)
    record_export(url, export)
    return export


def write_daily_publicity(
    day: date,
    rows: list[dict[str, Any]],
    changes: list[dict[str, Any]] | None,
    listed: list[dict[str, Any]] | None,
    counts: list[dict[str, Any]],
) -> Export:
    """Lay out the credit office's publicity files of ``day``: the ``changes`` (publicity ids
    and change codes, their records among ``rows``), the whole ``listed`` list when given, the
    withdrawals pending among ``rows``, and the ``counts`` by kind."""
    by_id = {row["publicity_record_id"]: row for row in rows}
    # The rows are labelled in place: copied, the county's half a million took twice the memory.
    for row in (*rows, *(listed or ())):
        row["objection"] = "是" if row["under_objection"] else "否"
        row["withdrawal_reason"] = WITHDRAWAL_REASON_ZH.get(row["withdrawal_reason_code"])
        row["late"] = "是" if row["withdrawal_late"] else "否"
    withdrawals = sorted(
        (row for row in rows if row["withdrawal_pending"]),
        key=lambda r: (r["withdrawal_deadline"], r["publicity_record_id"]),
    )
    # Learned after their deadline: on the list all the same, flagged.
    late = sum(row["withdrawal_late"] for row in withdrawals)
    office = recipients()["credit_office"]
    title = f"{day.isoformat()} 信用信息公示清单（{office.name}）"
    stem = f"publicity_{day.isoformat()}_{office.recipient_id}"
    tables = []
    if changes is not None:
        changed = []
        for change in sorted(changes, key=lambda c: c["publicity_record_id"]):
            # Labelled in place; a record taken off that is no more has its id alone.
            row = by_id.get(change["publicity_record_id"], change)
            row["change"] = CHANGE_ZH[change["change_code"]]
            changed.append(row)
        tables.append(Table("公示清单变更", "changes", CHANGE_COLUMNS, changed, in_workbook=False))
    if listed is not None:
        listed.sort(
            key=lambda r: (
                KIND_ORDER[r["record_kind"]],
                r["decision_date"],
                r["publicity_record_id"],
            )
        )
        tables.append(Table("公示清单", "listed", LISTED_COLUMNS, listed, in_workbook=False))
    listed_count = sum(count["listed"] for count in counts)
    lines = [title, f"截至 {day.isoformat()}：可公示信息 {listed_count} 条"]
    if changes is not None:
        made = Counter(change["change_code"] for change in changes)
        lines.append(
            f"今日变更 {len(changes)} 条（新增 {made['added']}、更新 {made['changed']}、"
            f"撤下 {made['removed']}），见 {csv_file_name(stem, tables[0])}（门户按公示编号更新）"
        )
    if listed is not None:
        lines.append(f"全部可公示信息见 {csv_file_name(stem, tables[-1])}（门户据此核对）")
    tables += [
        Table(
            "撤下清单",
            "withdrawals",
            WITHDRAWAL_COLUMNS,
            withdrawals,
            title_lines=(
                f"{day.isoformat()} 应撤下的公示信息",
                f"已修复、撤销或更正，须于撤下时限前撤下：{len(withdrawals)} 条"
                f"（其中逾期撤下 {late} 条）",
            ),
        ),
        _summary_by_kind(counts, title_lines=tuple(lines)),
    ]
    writer = ExportWriter(KIND, day.isoformat(), day, created=day)
    writer.report(office, stem, tables, title=title)
    return writer.finish()


def _summary_by_kind(counts: list[dict[str, Any]], title_lines: tuple[str, ...]) -> Table:
    summary = sorted(counts, key=lambda count: KIND_ORDER[count["record_kind"]])
    return Table(
        "按类别汇总",
        "summary_by_kind",
        (
            Column("record_kind_zh", "信息类别"),
            Column("listed", "可公示", "int"),
            Column("pending", "待撤下", "int"),
        ),
        summary,
        title_lines=title_lines,
    )
