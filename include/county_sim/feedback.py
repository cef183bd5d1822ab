"""Departments handling the warnings they receive (预警处置反馈).

The credit office's daily warnings files reach each department through the outbox
(``outbox/daily_warnings/<day>/v<n>/dept-<code>/``, the day's latest version).  On the first
simulated day after a new one, each department reads the warnings table of its file and
reports through its own system, as ``warning_feedback`` records (its usual shape, defects and
all): it signs for a share of the warnings still open (已签收) and closes a share of those it
has signed for (已办结), each by the warning's id.  The shares are ``warning_feedback`` in
``simulator.yaml``; they are a day's.

A file that follows a gap (the first export of a county, or the first after nights with no
export) stands for the files of every day of the gap: the department answers each warning as it
would have over those days, a day's shares for each day, in one report.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from county_sim.population import person_name
from county_sim.randomness import stream
from county_sim.records import DayContext, Row, trailer
from credit.exports.daily import KIND as DAILY_WARNINGS
from credit.exports.outbox import latest_version
from credit.exports.settings import outbox_dir

OPEN, ACKNOWLEDGED = "未处理", "已签收"
SIGN_FOR, CLOSE = "已签收", "已办结"
NOTES = ("已核实，正在督促整改", "已约谈相关责任人", "已纳入重点监管", "已现场核查处理")


def newest_export(before: dt.date) -> str | None:
    """The newest daily warnings export (its day, ISO) made for a day before ``before``."""
    folder = outbox_dir() / DAILY_WARNINGS
    if not folder.is_dir():
        return None
    days = [p.name for p in folder.iterdir() if p.is_dir() and p.name < before.isoformat()]
    return max(days, default=None)


def received_warnings(period: str, dept_code: str) -> list[dict[str, str]]:
    """The rows of a department's daily warnings table (Chinese headers) in the day's latest
    version, none if it got none."""
    latest = latest_version(DAILY_WARNINGS, period)
    if latest is None:
        return []
    path = next((latest[1] / f"dept-{dept_code}").glob("*_warnings.csv"), None)
    return _read_csv(path) if path else []


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def feedback_rows(ctx: DayContext, period: str, answered: str | None) -> list[Row]:
    """The department's feedback on the day to the warnings of its file of ``period``; its
    last answer was to the file of ``answered`` (none if it never answered)."""
    shares = ctx.config["warning_feedback"]
    rng = stream(ctx.seed, "warning_feedback", ctx.day, ctx.source.dept_code)
    first_unseen = dt.date.fromisoformat(answered) + dt.timedelta(days=1) if answered else ctx.start
    days = max((dt.date.fromisoformat(period) - first_unseen).days + 1, 1)
    rows: list[Row] = []
    for warning in received_warnings(period, ctx.source.dept_code):
        if warning["状态"] not in (OPEN, ACKNOWLEDGED):
            continue
        signed = warning["状态"] == ACKNOWLEDGED
        for _ in range(days):
            if not signed and rng.random() < shares["acknowledge_share"]:
                rows.append(_row(ctx, rng, warning["预警编号"], SIGN_FOR))
                signed = True
            if signed and rng.random() < shares["close_share"]:
                rows.append(_row(ctx, rng, warning["预警编号"], CLOSE))
                break
    return rows


def _row(ctx: DayContext, rng: random.Random, warning_id: str, handling: str) -> Row:
    return {
        "warning_id": warning_id,
        "handling": handling,
        "handling_date": ctx.day.isoformat(),
        "handled_by": person_name(rng),
        "handling_note": rng.choice(NOTES) if handling == CLOSE else None,
        **trailer(ctx),
    }
