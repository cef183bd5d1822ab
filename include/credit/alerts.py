"""Alerts (告警) to the platform's operator: what went wrong in a night reaches a person.

Four things are incidents (``audit.incidents``, one row each, kept):

* ``task_failed``: a task of a DAG failed after its retries (Airflow's ``on_failure_callback``,
  set for every task by ``DAG_DEFAULT_ARGS``), one incident per task and county day;
* ``reconciliation_failed``: the same, when what failed was a batch that does not reconcile
  (rows read ≠ accepted + quarantined, or not validated);
* ``source_volume``: a department's system delivered a night's rows outside its expected range
  (``expected_daily_rows`` of ``sources.yaml``; nothing on a working day included), one incident
  per department and night;
* ``pull_rejected``: a department's system answered a kind's pull with something that is not
  rows (a page that is not JSON, a table without its key column); the kind's rows stopped while
  the source's task succeeded, one incident per department, kind and night.

An incident seen again (the run cleared and failing again, the night re-run) counts one more
occurrence. When an SMTP connection is configured (``AIRFLOW_CONN_CREDIT_SMTP``, as for the
exports), an incident is e-mailed to the on-call address of ``config/alerts.yaml`` once: the
first time it is seen, or on a later occurrence if that e-mail failed (its error is kept).
Recording an alert never fails the task that raised it: a failure to record is logged.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from functools import cache
from typing import Any

import psycopg
import yaml

from credit import warehouse
from credit.catalogue import RecordKind
from credit.paths import CONFIG_DIR
from credit.roles import LOADER

log = logging.getLogger(__name__)

ALERTS_FILE = CONFIG_DIR / "alerts.yaml"

KIND_ZH = {
    "task_failed": "任务失败",
    "reconciliation_failed": "批次对账不平",
    "source_volume": "部门数据量异常",
    "pull_rejected": "部门数据无法读取",
}


@dataclass(frozen=True)
class Incident:
    kind: str  # task_failed | reconciliation_failed | source_volume | pull_rejected
    key: str  # what makes it the same incident when seen again
    summary: str  # one line, in Chinese
    detail: str = ""


@cache
def on_call() -> tuple[str, str | None]:
    """The on-call name and address (``config/alerts.yaml``); no address, no e-mail."""
    with ALERTS_FILE.open(encoding="utf-8") as f:
        entry = (yaml.safe_load(f) or {}).get("on_call") or {}
    return entry.get("name") or "信用平台值班", entry.get("email")


def raise_incident(incident: Incident) -> int:
    """Record ``incident`` (or one more occurrence of it) and e-mail it if it is due; returns
    its id."""
    with psycopg.connect(warehouse.role_url(LOADER), autocommit=True) as conn:
        incident_id, emailed = conn.execute(
            """
            insert into audit.incidents (kind, incident_key, summary, detail)
            values (%s, %s, %s, %s)
            on conflict (kind, incident_key) do update set
                occurrences = audit.incidents.occurrences + 1,
                last_seen = now(),
                summary = excluded.summary,
                detail = excluded.detail
            returning incident_id, emailed_at is not null
            """,
            (incident.kind, incident.key, incident.summary, incident.detail),
        ).fetchone()
        if not emailed:
            _email(conn, incident_id, incident)
    return incident_id


def _email(conn: psycopg.Connection, incident_id: int, incident: Incident) -> None:
    from credit.exports.delivery import smtp_client, smtp_settings

    settings = smtp_settings()
    name, address = on_call()
    if settings is None or not address:
        return
    message = EmailMessage()
    message["Subject"] = f"【信用平台告警】{KIND_ZH[incident.kind]}：{incident.summary}"
    message["From"] = formataddr(("江阴市信用信息平台", settings.sender))
    message["To"] = formataddr((name, address))
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    lines = [f"{name}：", "", incident.summary, ""]
    if incident.detail:
        lines += ["详情：", incident.detail, ""]
    lines += [
        f"告警编号：{incident_id}（audit.incidents，类型 {incident.kind}）",
        "处置方法见 docs/operations.md。本邮件由江阴市信用信息平台自动发送，同一告警只发送一次。",
    ]
    message.set_content("\n".join(lines))
    try:
        with smtp_client(settings) as client:
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        conn.execute(
            "update audit.incidents set email_error = %s where incident_id = %s",
            (f"{type(error).__name__}: {error}", incident_id),
        )
        return
    conn.execute(
        "update audit.incidents set emailed_to = %s, emailed_at = now(), email_error = null"
        " where incident_id = %s",
        (address, incident_id),
    )


def task_failed(context: Any) -> None:
    """Airflow's ``on_failure_callback``: the failed task as an incident, the same one for every
    run of its DAG for the same county day (a night re-run or cleared fails the same way)."""
    from credit.airflow_env import county_day

    try:
        ti = context["ti"]
        error = context.get("exception")
        run = context.get("dag_run")
        when = context.get("logical_date") or getattr(run, "run_after", None)
        day = county_day(when).isoformat() if when else ti.run_id
        reconciliation = type(error).__name__ == "ReconciliationError"
        task = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        what = "批次对账不平" if reconciliation else "任务失败"
        raise_incident(
            Incident(
                kind="reconciliation_failed" if reconciliation else "task_failed",
                key=f"{ti.dag_id}/{task}/{day}",
                summary=f"{ti.dag_id} 的 {task} {what}（{day}，运行 {ti.run_id}）",
                detail=f"{type(error).__name__}: {error}" if error else "",
            )
        )
    except Exception:
        log.exception("the failed task's alert could not be recorded")


def pull_rejected(dept_code: str, kind: RecordKind, logical_date: date, reason: str) -> None:
    """A kind's pull rejected (its system answered something that is not rows) as an incident:
    the source's task succeeds, so no failed task would tell."""
    from credit.reference import department

    try:
        raise_incident(
            Incident(
                kind="pull_rejected",
                key=f"{dept_code}/{kind.name}/{logical_date.isoformat()}",
                summary=f"{department(dept_code).name_zh} {logical_date.isoformat()}"
                f" {kind.label}数据无法读取，本类数据当晚未入库",
                detail=f"部门代码 {dept_code}；原因：{reason}；见 audit.source_errors",
            )
        )
    except Exception:
        log.exception("the rejected pull of %s could not be recorded", dept_code)


def source_volume(dept_code: str, logical_date: date, received: int, low: int, high: int) -> None:
    """A department's night outside its expected volume as an incident."""
    from credit.reference import department

    how = "未报送数据" if received == 0 else ("数据量偏少" if received < low else "数据量偏多")
    try:
        raise_incident(
            Incident(
                kind="source_volume",
                key=f"{dept_code}/{logical_date.isoformat()}",
                summary=f"{department(dept_code).name_zh} {logical_date.isoformat()} {how}："
                f"收到 {received} 行，应为 {low}–{high} 行",
                detail=f"部门代码 {dept_code}；见 audit.collection_checks",
            )
        )
    except Exception:
        log.exception("the volume alert of %s could not be recorded", dept_code)
