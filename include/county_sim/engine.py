"""Creating a county and advancing its systems day by day (the simulator's engine).

``create_county`` fixes the seed, scale and start date, resets the three systems and writes
the population; ``advance`` generates every day after the last generated one.  A day's output
is a pure function of (seed, scale, start, day) and the pending follow-up queue, which is
persisted in ``state.json``, so advancing in several steps gives the same bytes as one step.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from county_sim import feedback, systems
from county_sim import truth as truth_files
from county_sim.defects import OutputRow, inject
from county_sim.lifecycle import SEVERITY_CODE, FollowUp, publicity_window, schedule
from county_sim.population import Population, build_population, write_population
from county_sim.progress import progress_rows, quarter_reported_on
from county_sim.randomness import poisson, stream
from county_sim.records import (
    BUILDERS,
    DayContext,
    Row,
    legacy_names,
    pick_subjects,
    registration_row,
)
from county_sim.seasonality import activity_factor
from county_sim.settings import effective_config, scale
from credit import warehouse
from credit.catalogue import record_kind
from credit.reference import department
from credit.sources import Source, sources
from credit.workdays import is_working_day

STATE_FILE = "state.json"
# What the truth keeps of an inspection result (inspections.jsonl), as the row was made.
INSPECTION_TRUTH = (
    "uscc",
    "subject_type",
    "plan_id",
    "inspection_no",
    "inspection_method",
    "inspection_date",
    "result",
    "change_type",
)


@dataclass
class CountyState:
    """What a county remembers between runs: its identity, progress and pending follow-ups."""

    seed: int
    scale: str
    start: dt.date
    last_day: dt.date
    pending: dict[int, list[FollowUp]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    advancing_to: dt.date | None = None
    # The newest daily warnings export the departments answered (预警处置反馈), ISO day.
    answered_export: str | None = None

    def push(self, followups: list[FollowUp]) -> None:
        for followup in followups:
            self.pending.setdefault(followup.due, []).append(followup)

    def pop_due(self, day: dt.date) -> dict[tuple[str, str], list[FollowUp]]:
        due = sorted(
            self.pending.pop(day.toordinal(), []), key=lambda f: (f.dept_code, f.kind, f.order_key)
        )
        grouped: dict[tuple[str, str], list[FollowUp]] = {}
        for followup in due:
            grouped.setdefault((followup.dept_code, followup.kind), []).append(followup)
        return grouped

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "scale": self.scale,
            "start": self.start.isoformat(),
            "last_day": self.last_day.isoformat(),
            "advancing_to": self.advancing_to.isoformat() if self.advancing_to else None,
            "answered_export": self.answered_export,
            "counts": dict(sorted(self.counts.items())),
            "pending": [f.to_json() for due in sorted(self.pending) for f in self.pending[due]],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CountyState:
        state = cls(
            raw["seed"],
            raw["scale"],
            dt.date.fromisoformat(raw["start"]),
            dt.date.fromisoformat(raw["last_day"]),
            counts=Counter(raw["counts"]),
        )
        state.advancing_to = (
            dt.date.fromisoformat(raw["advancing_to"]) if raw["advancing_to"] else None
        )
        state.answered_export = raw.get("answered_export")  # absent from older counties
        state.push([FollowUp.from_json(item) for item in raw["pending"]])
        return state


def state_path() -> Path:
    return systems.county_dir() / "state" / STATE_FILE


def truth_dir() -> Path:
    return systems.county_dir() / "truth"


def load_state() -> CountyState:
    path = state_path()
    if not path.exists():
        raise FileNotFoundError(f"no county at {path.parent}; run `county create` first")
    return CountyState.from_json(json.loads(path.read_text(encoding="utf-8")))


def save_state(state: CountyState) -> None:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_json(), ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def population_of(state: CountyState) -> Population:
    return build_population(state.seed, scale(state.scale), state.start)


def create_county(seed: int, scale_name: str, start: dt.date) -> CountyState:
    """Reset every system and the truth, and write the population of a new county."""
    scale(scale_name)  # fail early on an unknown scale
    folder = systems.county_dir()
    if folder.exists():
        shutil.rmtree(folder)
    url = systems.exchange_url()
    warehouse.drop_database(url)
    warehouse.ensure_database(url)
    with psycopg.connect(url, autocommit=True) as conn:
        systems.create_exchange_tables(conn, sources())
    state = CountyState(seed, scale_name, start, start - dt.timedelta(days=1))
    write_population(population_of(state), truth_dir())
    save_state(state)
    return state


def advance(to: dt.date, on_day: Callable[[dt.date], None] | None = None) -> CountyState:
    """Generate every day after the last generated one up to and including ``to``."""
    state = load_state()
    if state.advancing_to is not None:
        _rollback(state)
    if to <= state.last_day:
        return state
    state.advancing_to = to
    save_state(state)
    population = population_of(state)
    writer = truth_files.TruthWriter(truth_dir())
    try:
        with psycopg.connect(systems.exchange_url()) as conn:
            systems.add_kind_tables(conn, sources())
            day = state.last_day + dt.timedelta(days=1)
            while day <= to:
                generate_day(state, population, day, conn, writer)
                conn.commit()
                if on_day:
                    on_day(day)
                day += dt.timedelta(days=1)
    finally:
        writer.close()
    state.last_day, state.advancing_to = to, None
    save_state(state)
    return state


def _rollback(state: CountyState) -> None:
    """Remove output of days after the last completed one, left by an interrupted advance."""
    after = state.last_day
    with psycopg.connect(systems.exchange_url(), autocommit=True) as conn:
        systems.rollback_exchange(conn, sources(), after)
    stamp = f"{after:%Y%m%d}"
    for path in [*systems.drops_dir().glob("*/*.*"), *systems.api_dir().glob("*/*/*.jsonl")]:
        if path.stem.rsplit("_", 1)[-1] > stamp:
            path.unlink()
    truth_files.rollback(truth_dir(), after.isoformat())
    # The queue and counts of the last completed day were saved with it; reload them.
    state.advancing_to = None


def generate_day(
    state: CountyState,
    population: Population,
    day: dt.date,
    conn: psycopg.Connection,
    writer: truth_files.TruthWriter,
) -> None:
    """All departments' rows for one day, written to their systems, truth appended."""
    config = effective_config(state.scale)
    registry = sources()
    due = state.pop_due(day)
    weights = _kind_weights(registry, config)
    export = feedback.newest_export(day)
    answering = export if export and export > (state.answered_export or "") else None
    for source in registry.values():
        ctx = DayContext(
            state.seed, day, population, config, source, department(source.dept_code), state.start
        )
        for kind in source.kinds:
            if kind == "warning_feedback":
                originals = (
                    feedback.feedback_rows(ctx, answering, state.answered_export)
                    if answering
                    else []
                )
            else:
                originals = _originals(ctx, kind, scale(state.scale), weights)
            followups = due.get((source.dept_code, kind), [])
            if not originals and not followups:
                continue
            for row in originals:
                state.push(schedule(ctx, kind, row))
            clean = originals + [dict(f.row) for f in followups]
            _emit(state, ctx, kind, clean, originals, followups, conn, writer)
    if answering:
        state.answered_export = answering


def _kind_weights(registry: dict[str, Source], config: dict) -> dict[str, float]:
    """Sum of department weights per kind, to split a county-wide rate between departments."""
    totals: defaultdict[str, float] = defaultdict(float)
    for source in registry.values():
        for kind in source.kinds:
            totals[kind] += float(config["departments"][source.dept_code]["weight"])
    registrars = config["population"]["registrars"]
    totals["registration"] = sum(config["departments"][d]["weight"] for d in registrars)
    return dict(totals)


def expected_rows(ctx: DayContext, kind: str, rate_key: str, size: Any, weights: dict) -> float:
    """Expected rows of ``kind`` for the department on the day (before follow-ups)."""
    config = ctx.config
    share = config["departments"][ctx.source.dept_code]["weight"] / weights[kind]
    base = config["rates"][rate_key] * size.subjects / 10_000 * size.activity * share
    return base * activity_factor(ctx.day, ctx.source.dept_code, kind, config)


def _originals(ctx: DayContext, kind: str, size: Any, weights: dict) -> list[Row]:
    rng = stream(ctx.seed, "rows", ctx.day, ctx.source.dept_code, kind)
    if kind == "registration":
        return _registrations(ctx, rng, size, weights)
    if kind == "progress_report":
        nth = int(ctx.config["lifecycle"]["quarterly_report_working_day"])
        quarter = quarter_reported_on(ctx.day, nth)
        return progress_rows(ctx, rng, quarter) if quarter else []
    if kind not in BUILDERS:
        return []
    count = poisson(rng, expected_rows(ctx, kind, kind, size, weights))
    if not count:
        return []
    builder = BUILDERS[kind]
    return [
        builder(ctx, rng, ref, seq)
        for seq, ref in enumerate(pick_subjects(ctx, rng, kind, count), start=1)
    ]


def _registrations(ctx: DayContext, rng: Any, size: Any, weights: dict) -> list[Row]:
    """On the county's first day, the register (存量主体库): every subject of the registrar's
    categories existing that day, as its establishment (设立) on its founding date; then, every
    day, establishments and exits due on the day and changes at the configured rate."""
    categories = set(ctx.config["population"]["registrars"].get(ctx.source.dept_code, []))
    population, ordinal = ctx.population, ctx.day.toordinal()
    rows = []
    if ctx.day == ctx.start:
        rows = [
            registration_row(ctx, i, "设立", dt.date.fromordinal(subject.established))
            for i, subject in enumerate(population.subjects)
            if subject.category in categories
            and subject.established < ordinal
            and subject.active_on(ordinal)
        ]
    mine = [
        i
        for i in population.established_on.get(ordinal, [])
        if population.subjects[i].category in categories
    ]
    rows += [registration_row(ctx, i, "设立") for i in mine]
    for index in population.exits_on.get(ordinal, []):
        subject = population.subjects[index]
        if subject.category in categories:
            rows.append(registration_row(ctx, index, subject.exit_kind))
    changes = poisson(rng, expected_rows(ctx, "registration", "registration_change", size, weights))
    pool = [i for c in sorted(categories) for i in population.by_category.get(c, [])]
    picked: set[int] = set(mine)
    for _ in range(changes * 3):
        if len(picked) - len(mine) >= changes or not pool:
            break
        index = rng.choice(pool)
        if index not in picked and population.subjects[index].active_on(ordinal):
            picked.add(index)
            rows.append(registration_row(ctx, index, "变更"))
    return rows


def _emit(
    state: CountyState,
    ctx: DayContext,
    kind_name: str,
    clean: list[Row],
    originals: list[Row],
    followups: list[FollowUp],
    conn: psycopg.Connection,
    writer: truth_files.TruthWriter,
) -> None:
    source, day, kind = ctx.source, ctx.day, record_kind(kind_name)
    csv_file = source.shape == "drop_folder" and (source.file_format or "csv") == "csv"
    legacy = legacy_names(ctx, kind, clean)
    sent = [{**row, "uscc": legacy[i]} if i in legacy else row for i, row in enumerate(clean)]
    rng = stream(ctx.seed, "defects", day, source.dept_code, kind_name)
    rows = inject(sent, kind, rng, ctx.config["defects"], day, csv_file)
    _stamp(rows, source, kind_name, day)
    if source.shape == "exchange_db":
        identities = systems.write_exchange(conn, source, kind, rows)
    elif source.shape == "drop_folder":
        identities = systems.write_drop(source, kind, day, rows)
    else:
        identities = systems.write_api(source, kind, day, rows)
    where = {
        "day": day.isoformat(),
        "dept_code": source.dept_code,
        "shape": source.shape,
        "record_kind": kind_name,
    }
    state.counts[f"{source.dept_code}|{kind_name}|{source.shape}"] += len(rows)
    for row, identity in zip(rows, identities, strict=True):
        if row.defect:
            state.counts[f"defect|{row.defect}"] += 1
            line = {**where, "source_row": identity, "defect": row.defect, "column": row.column}
            if row.duplicate_of is not None:
                line["duplicate_of"] = identities[row.duplicate_of]
            writer.write("defects", line)
    first: dict[int, Any] = {}
    for row, identity in zip(rows, identities, strict=True):
        first.setdefault(row.origin, identity)
    for index, identifier in legacy.items():
        writer.write(
            "legacy_identifiers",
            {
                **where,
                "source_row": first[index],
                "uscc": clean[index]["uscc"],
                "legacy_identifier": identifier,
            },
        )
    if kind_name == "dishonesty":
        for index, original in enumerate(originals):
            writer.write(
                "dishonesty",
                {**where, "source_row": first[index], **_dishonesty_truth(original, ctx)},
            )
    if kind_name == "warning_feedback":
        for index, original in enumerate(originals):
            writer.write(
                "warning_feedback",
                {
                    **where,
                    "source_row": first[index],
                    **{k: original[k] for k in ("warning_id", "handling", "handled_by")},
                },
            )
    if kind_name == "inspection":
        for index, row in enumerate(clean):
            writer.write(
                "inspections",
                {**where, "source_row": first[index], **{k: row[k] for k in INSPECTION_TRUTH}},
            )
    for offset, followup in enumerate(followups, start=len(originals)):
        if followup.truth:
            writer.write(
                "commitments" if followup.kind == "commitment" else "lifecycle",
                {**where, "source_row": first[offset], "date": day.isoformat(), **followup.truth},
            )


def _stamp(rows: list[OutputRow], source: Source, kind: str, day: dt.date) -> None:
    """Record ids and update times, from the simulated day: never the wall clock."""
    number = 0
    for row in rows:
        original = rows[row.duplicate_of] if row.duplicate_of is not None else None
        if original is not None and row.defect == "exact_duplicate":
            row.values["updated_at"] = original.values["updated_at"]
            if source.shape == "drop_folder":
                row.values["record_id"] = original.values["record_id"]
                continue
        number += 1
        row.values["record_id"] = f"{source.dept_code}-{kind}-{day:%Y%m%d}-{number:05d}"
        if original is None or row.defect != "exact_duplicate":
            clock = dt.datetime.combine(day, dt.time(8, 30)) + dt.timedelta(seconds=number)
            row.values["updated_at"] = f"{clock:%Y-%m-%dT%H:%M:%S}+08:00"


def _dishonesty_truth(row: Row, ctx: DayContext) -> dict[str, Any]:
    decided = dt.date.fromisoformat(str(row["decision_date"]))
    severity = str(row["severity"])
    earliest, latest = publicity_window(decided, severity, ctx.config)
    listed = {str(item[0]) for item in ctx.config["dishonesty_lists"][ctx.source.dept_code]}
    return {
        "decision_doc_no": row["decision_doc_no"],
        "subject_type": row["subject_type"],
        "uscc": row["uscc"],
        "id_number": row["id_number"],
        "subject_name": row["subject_name"],
        "behaviour_code": row["behaviour_code"],
        "behaviour_listed": row["behaviour_code"] in listed,
        "severity": severity,
        "severity_code": SEVERITY_CODE[severity],
        "decision_date": decided.isoformat(),
        "rectification_deadline": row["rectification_deadline"],
        "publicity_min_end": earliest.isoformat(),
        "publicity_max_end": latest.isoformat(),
    }


def summary(state: CountyState) -> dict[str, Any]:
    """Row counts per department, kind and shape, and defect counts, from the saved state."""
    rows = []
    defects = {}
    for key, count in sorted(state.counts.items()):
        parts = key.split("|")
        if parts[0] == "defect":
            defects[parts[1]] = count
        else:
            rows.append(
                {"dept_code": parts[0], "record_kind": parts[1], "shape": parts[2], "rows": count}
            )
    return {
        "seed": state.seed,
        "scale": state.scale,
        "start": state.start.isoformat(),
        "last_day": state.last_day.isoformat(),
        "rows": rows,
        "defects": defects,
        "pending_followups": sum(len(v) for v in state.pending.values()),
        "working_day": is_working_day(state.last_day),
    }
