"""County simulator: identifiers, coverage, determinism, API, ground truth."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url
from stdnum.cn import ric, uscc

from county_sim import demo, engine, systems
from county_sim import truth as truth_files
from county_sim.api_server import serve_api
from county_sim.settings import TOKEN_ENV, api_token, simulator_config
from credit.catalogue import record_kinds
from credit.ingest import API_CONN, api_client
from credit.sources import connection_defaults, sources
from credit.workdays import is_working_day
from tests.simulator.conftest import SEED, START
from tests.simulator.readback import detect, identity_of, read_all


def test_population_identifiers_are_valid(county: engine.CountyState) -> None:
    population = engine.population_of(county)
    assert len({s.uscc for s in population.subjects}) == len(population.subjects)
    for subject in population.subjects:
        assert uscc.is_valid(subject.uscc), subject
        assert subject.uscc[2:8] == "320281"
        assert subject.uscc[:2] in {"91", "92", "93", "51", "52", "53", "12"}
        assert ric.is_valid(subject.legal_rep_id)
        assert subject.division_code.startswith("320281")
    assert all(ric.is_valid(p.id_number) for p in population.persons)
    reps = Counter(s.legal_rep_id for s in population.subjects)
    assert max(reps.values()) > 1, "some people should represent several subjects"


def test_every_department_produces_its_kinds(county: engine.CountyState) -> None:
    """Every kind but the answers to the warehouse's warnings, which only an export in the
    outbox brings (tests/test_warning_feedback.py)."""
    missing = [
        (code, kind)
        for code, source in sources().items()
        for kind in source.kinds
        if kind != "warning_feedback" and county.counts[f"{code}|{kind}|{source.shape}"] == 0
    ]
    assert not missing
    assert len(sources()) == 34
    assert {s.shape for s in sources().values()} == {"exchange_db", "drop_folder", "http_api"}


def test_drop_files_use_their_encoding_and_working_days(county: engine.CountyState) -> None:
    for source in sources().values():
        if source.shape != "drop_folder":
            continue
        files = sorted((systems.drops_dir() / source.dept_code).iterdir())
        assert files
        for path in files:
            assert path.suffix == f".{source.file_format}"
            if source.encoding == "utf-8-sig":
                assert path.read_bytes().startswith(b"\xef\xbb\xbf")
            elif source.encoding == "gbk":
                path.read_bytes().decode("gbk")
                assert not path.read_bytes().startswith(b"\xef\xbb\xbf")
    penalty_days = Counter(
        is_working_day(dt.date.fromisoformat(row.values["updated_at"][:10]))
        for row in read_all()
        if row.kind == "penalty" and not row.truncated
    )
    assert penalty_days[True] > 20 * penalty_days[False]


def test_ground_truth_matches_injected_defects(county: engine.CountyState) -> None:
    truth = {
        (d["dept_code"], d["shape"], d["record_kind"], identity_of(d["source_row"]), d["defect"])
        for d in truth_files.read(engine.truth_dir(), "defects")
    }
    found = detect(list(read_all()))
    assert truth, "the default rates should inject some defects"
    assert {t[4] for t in truth} == set(
        json.loads(json.dumps(list(engine.effective_config("test")["defects"])))
    )
    assert found - truth == set(), "rows with defects the truth does not list"
    assert truth - found == set(), "truth lists defects the rows do not show"


def test_dishonesty_truth_and_lifecycle(county: engine.CountyState) -> None:
    records = truth_files.read(engine.truth_dir(), "dishonesty")
    events = truth_files.read(engine.truth_dir(), "lifecycle")
    by_doc = {(r["dept_code"], r["decision_doc_no"]): r for r in records}
    assert len(by_doc) == len(records)
    assert {r["severity_code"] for r in records} == {"minor", "general", "serious"}
    kinds = Counter(e["event"] for e in events)
    for event in (
        "rectified_in_time",
        "rectified_late",
        "reminder_interview",
        "warning_interview",
        "repair_applied",
        "repair_approved",
        "objection_filed",
        "revoked",
    ):
        assert kinds[event] > 0, event
    early = 0
    for event in events:
        record = by_doc[(event["dept_code"], event["decision_doc_no"])]
        assert event["date"] > record["decision_date"]
        if event["event"] == "repair_applied":
            assert event["date"] < record["publicity_max_end"]
        if event["event"] in ("repair_approved", "repair_refused"):
            # Decided before the minimum period only as an injected rule violation, flagged.
            assert event["before_min_period"] == (event["date"] < record["publicity_min_end"])
            early += event["before_min_period"]
        if event["event"] == "rectified_in_time":
            assert event["date"] <= record["rectification_deadline"]
    assert 0 < early < kinds["repair_approved"] + kinds["repair_refused"]


def test_api_pages_and_rejects_a_wrong_token(county: engine.CountyState) -> None:
    source = next(s for s in sources().values() if s.shape == "http_api")
    with serve_api(port=0) as api:
        base = f"{api.url}/api/v1/{source.dept_code}/permit"
        with pytest.raises(urllib.error.HTTPError) as refused:
            _get(base, "wrong-token")
        assert refused.value.code == 401
        with pytest.raises(urllib.error.HTTPError) as missing:
            _get(f"{api.url}/api/v1/no_such_dept/permit", api_token())
        assert missing.value.code == 404
        pages, page = [], 1
        while page:
            body = _get(f"{base}?page={page}&page_size=7", api_token())
            pages.append(body)
            page = body["next_page"]
        ids = [item["record_id"] for body in pages for item in body["items"]]
        assert len(pages) > 2 and len(ids) == pages[0]["total"] == len(set(ids))
        since = "2026-03-31T23:59:59+08:00"
        later = _get(f"{base}?updated_since={quote(since)}&page_size=5000", api_token())
        assert later["items"] and all(i["updated_at"] > since for i in later["items"])
        assert later["total"] == sum(
            1 for body in pages for i in body["items"] if i["updated_at"] > since
        )


def test_the_platforms_default_api_connection_is_where_the_simulator_serves(monkeypatch):
    """The platform's development default (sources.yaml) and the simulator's own settings
    (simulator.yaml) are kept apart; on one machine they must meet."""
    monkeypatch.delenv(f"AIRFLOW_CONN_{API_CONN.upper()}", raising=False)
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    client = api_client()
    api = simulator_config()["api"]
    assert API_CONN in connection_defaults()
    assert client.base_url == f"http://{api['host']}:{api['port']}"
    assert client.token == api_token()


def _get(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _snapshot() -> dict[str, str]:
    """Hash of every file under the county folder (but the state) and every exchange table."""
    digests = {}
    root = systems.county_dir()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "state" not in path.parts:
            digests[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    with psycopg.connect(systems.exchange_url()) as conn:
        for source in sources().values():
            if source.shape != "exchange_db":
                continue
            names = systems.system_names(source.dept_code)
            for kind in source.kinds:
                rows = conn.execute(
                    sql.SQL("select * from {} order by {}").format(
                        names.table(kind), sql.Identifier(names.name(kind, "record_id"))
                    )
                ).fetchall()
                digests[f"db/{source.dept_code}/{kind}"] = hashlib.sha256(
                    repr(rows).encode()
                ).hexdigest()
    return digests


def test_same_seed_same_bytes_and_steps_equal_one_range(
    county: engine.CountyState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = make_url(os.environ["CREDIT_WAREHOUSE_URL"])
    monkeypatch.setenv(
        "CREDIT_WAREHOUSE_URL", base.set(database=f"{base.database}_det").render_as_string(False)
    )
    start, end = dt.date(2026, 3, 23), dt.date(2026, 4, 8)
    snapshots = []
    for run, steps in enumerate(([end], [start + dt.timedelta(days=i) for i in range(17)])):
        monkeypatch.setenv("CREDIT_DATA_DIR", str(tmp_path / f"run{run}"))
        engine.create_county(11, "test", start)
        for step in steps:
            engine.advance(step)
        snapshots.append(_snapshot())
    assert len(snapshots[0]) > 50
    assert snapshots[0] == snapshots[1]
    other_seed = snapshots[0]
    engine.create_county(12, "test", start)
    engine.advance(end)
    assert _snapshot() != other_seed


def test_record_kinds_contract() -> None:
    kinds = record_kinds()
    assert len(kinds) == 17
    penalty = kinds["penalty"]
    assert penalty.column("penalty_category").values[:3] == ("警告", "通报批评", "罚款")
    assert kinds["dishonesty"].column("severity").codes == {
        "轻微": "minor",
        "一般": "general",
        "严重": "serious",
    }
    for kind in kinds.values():
        assert {"record_id", "updated_at", "change_type"} <= set(kind.column_names)


def test_the_demo_refuses_a_county_already_past_its_last_night(county) -> None:
    """`make up` advances the county to yesterday; a demo over it would build its marts from
    days it has not replayed."""
    assert county.last_day > demo.demo_nights("2026Q1")[-1]
    with pytest.raises(SystemExit, match="past the demo's last night"):
        demo.run(seed=SEED, scale="test", first_day=START, quarter="2026Q1")


def test_the_registrars_deliver_the_register_on_the_first_day(county) -> None:
    """Every subject existing on the county's first day reaches its registrar's system that day,
    as its establishment (设立) on its founding date; later establishments come on their day."""
    population = engine.population_of(county)
    start, last = START.toordinal(), county.last_day.toordinal()
    established: dict[str, list[tuple[str, str]]] = {}
    for row in read_all():
        if row.kind == "registration" and row.values.get("registration_event") == "设立":
            established.setdefault(str(row.values.get("uscc")), []).append(
                (str(row.values.get("event_date")), str(row.values.get("updated_at"))[:10])
            )

    def delivered(subject, day: dt.date) -> bool:
        founded = dt.date.fromordinal(subject.established).isoformat()
        return (founded, day.isoformat()) in established.get(subject.uscc, [])

    existing = [s for s in population.subjects if s.established < start and s.active_on(start)]
    later = [s for s in population.subjects if start <= s.established <= last]
    assert existing and later
    # Defects damage some rows' identifiers or dates: nearly all, not all, read back intact.
    assert sum(delivered(s, START) for s in existing) > 0.95 * len(existing)
    assert sum(delivered(s, dt.date.fromordinal(s.established)) for s in later) > 0.9 * len(later)
