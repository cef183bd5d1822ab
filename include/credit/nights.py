"""Catching up missed nights (补跑): every night the warehouse missed, run in order, each whole.

A night of county day D is the chain the scheduler runs after D ends: ``credit_ingest`` for D
(what the departments' systems hold up to the end of D), ``credit_transform`` as of D,
``credit_export_daily`` (D's warnings), and, when the morning after D is a quarter's export day
(``quarterly_statistics`` in ``config/exports.yaml``), ``credit_export_quarterly`` for the quarter
that closed; on a new warehouse, ``credit_reference`` first (as ``credit service up`` does). A
night is **complete** when D's daily export is logged in ``audit.exports``: the export is written
only from marts that a succeeded transform built as of D.

:func:`catch_up` runs the nights of a range that are not complete, one after the other, each
chain finished before the next night starts. Since each night's pulls end at the end of its own
day, the nights caught up land the rows each would have landed on time, each transform sees what
the warehouse had received by its night, and each day gets the exports it would have had: the
warehouse and the outbox end as if the nights had run one by one (``tests/test_catch_up.py``).

A night that fails stops the command: a later night would pull the failed night's rows into its
own day and export over a gap. Run the same command again once the cause is fixed: the complete
nights are skipped and it resumes at the failed one (re-running a night's ingest adds nothing
it already landed). Nights before the last exported one are refused: the marts are rebuilt from
what the warehouse holds now, so a past day cannot be rebuilt as it was known then, and the marts
would be left describing a past day.

The nights run in this process with ``dag.test()``, as ``credit airflow run`` does, while the
service is down (nights are missed when it was): a scheduler beside them would start its own
night for yesterday as soon as ``credit_ingest`` is unpaused, and the ingest's asset events
would start transforms and exports of its own, racing the chain's.
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from credit.airflow_env import COUNTY_TIMEZONE
from credit.exports.audit import exported_periods
from credit.exports.periods import last_closed_quarter, quarter_bounds
from credit.exports.schedule import export_day
from credit.exports.settings import export_settings
from credit.reference import reference_loaded

REFERENCE = "credit_reference"
INGEST = "credit_ingest"
TRANSFORM = "credit_transform"
EXPORT_DAILY = "credit_export_daily"
EXPORT_QUARTERLY = "credit_export_quarterly"


class CatchUpRefused(ValueError):
    """The range asked for cannot be caught up (see the message)."""


class NightFailed(RuntimeError):
    """A step of a night's chain did not succeed; the nights after it were not run."""

    def __init__(self, day: date, dag_id: str, reason: str) -> None:
        super().__init__(
            f"night of {day}: {dag_id} failed ({reason}); fix the cause and run the same "
            f"command again: it resumes at {day}"
        )
        self.day = day
        self.dag_id = dag_id


@dataclass(frozen=True)
class Step:
    """One DAG run of a night: its logical date (None: the time it runs) and configuration."""

    dag_id: str
    logical_date: datetime | None = None
    conf: dict[str, str] = field(default_factory=dict)


@dataclass
class NightRun:
    day: date
    seconds: dict[str, float] = field(default_factory=dict)


def night_steps(day: date) -> list[Step]:
    """The chain of the night after county day ``day``, in the order the scheduler runs it."""
    steps = [
        Step(INGEST, datetime.combine(day, time(), COUNTY_TIMEZONE)),
        Step(TRANSFORM, conf={"as_of_date": day.isoformat()}),
        Step(EXPORT_DAILY),
    ]
    if quarterly_export_due(day) is not None:
        # The run of that morning exports the last quarter closed before it.
        hour = export_settings()["quarterly_statistics"]["run_hour"]
        morning = datetime.combine(day + timedelta(days=1), time(hour), COUNTY_TIMEZONE)
        steps.append(Step(EXPORT_QUARTERLY, morning))
    return steps


def quarterly_export_due(day: date) -> str | None:
    """The quarter whose statistics are exported the morning after ``day``, if any: that
    morning is the Nth working day after the quarter's end."""
    quarter = last_closed_quarter(day)
    _, end = quarter_bounds(quarter)
    working_days = export_settings()["quarterly_statistics"]["working_days_after_quarter_end"]
    return quarter if export_day(end, working_days) == day + timedelta(days=1) else None


def exported_nights(url: str) -> set[date]:
    """The county days whose night is complete: their daily warnings export is logged."""
    return {date.fromisoformat(period) for period in exported_periods(url, "daily_warnings")}


def nights_to_run(url: str, first: date | None, last: date | None, today: date) -> list[date]:
    """The nights of ``first``..``last`` that are not complete, in order.

    ``first`` defaults to the day after the last complete night, ``last`` to yesterday (county
    time): a night runs once its day is over.
    """
    done = exported_nights(url)
    latest = max(done, default=None)
    if first is None:
        if latest is None:
            raise CatchUpRefused("no night was ever exported here: give the first day to run")
        first = latest + timedelta(days=1)
    last = last or today - timedelta(days=1)
    if last >= today:
        raise CatchUpRefused(f"{last} is not over yet (today is {today} in county time)")
    if first > last:
        raise CatchUpRefused(f"nothing to catch up: {first} is after {last}")
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    missing = [day for day in days if day not in done]
    if latest is not None and missing and missing[0] < latest:
        raise CatchUpRefused(
            f"the night of {latest} is exported already: {missing[0]}, before it, cannot be "
            f"built as it was known then (the marts are rebuilt from what the warehouse holds "
            f"now); catch up from {latest + timedelta(days=1)}"
        )
    return missing


def catch_up(
    url: str,
    nights: Sequence[date],
    run_night: Callable[[date, list[Step]], dict[str, float]],
    on_night: Callable[[NightRun], None] | None = None,
) -> list[NightRun]:
    """Run each night's chain with ``run_night`` (returns each step's seconds), in order;
    stops at the first that raises :class:`NightFailed`."""
    done = []
    for day in nights:
        steps = [
            step
            for step in night_steps(day)
            # A quarter exported already (by the scheduler's own run, or by hand) is not again.
            if step.dag_id != EXPORT_QUARTERLY
            or quarterly_export_due(day) not in exported_periods(url, "quarterly_statistics")
        ]
        if not reference_loaded(url):  # a new warehouse: its transform reads the reference data
            steps.insert(0, Step(REFERENCE))
        night = NightRun(day, run_night(day, steps))
        if day not in exported_nights(url):
            raise NightFailed(day, EXPORT_DAILY, "its chain ended without the day's export")
        done.append(night)
        if on_night is not None:
            on_night(night)
    return done


def run_night_here(day: date, steps: list[Step]) -> dict[str, float]:
    """A night's chain in this process, each step a ``dag.test()`` run."""
    from credit.airflow_env import DagRunFailed, run_dag

    seconds = {}
    for step in steps:
        started = clock.monotonic()
        try:
            run_dag(step.dag_id, step.logical_date, **step.conf)
        except DagRunFailed as error:
            raise NightFailed(day, step.dag_id, str(error)) from error
        seconds[step.dag_id] = clock.monotonic() - started
    return seconds
