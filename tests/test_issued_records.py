"""Issued plans and exports are records (issue 19, point 2), on a county of its own run night by
night through the transform (``credit.transform.build_marts``, as the DAG's task runs it):

* the first night (10 April, the warehouse's first) issues 2026Q2's inspection plan and no plan
  for a quarter before it; the second night (17 April) leaves the issued plan as it was;
* every subject drawn gets two officers of its department's roster, reproducibly from the
  plan's recorded seed;
* each plan's coverage and findings agree with the inspections the simulator's departments sent;
* the quarterly statistics of 2026Q1, exported and e-mailed after each night, are a second
  version beside the first (whose files stay byte for byte), an unchanged re-export makes none,
  delivery sends the latest version and never what a recipient already received, and each
  version's manifest names the batches, the dbt invocation, the commit and the rule seeds it
  came from.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from county_sim import engine, truth
from credit.dbt import run_dbt
from credit.exports.delivery import SMTP_CONN, deliver
from credit.exports.outbox import MANIFEST, latest_version, period_folder
from credit.exports.quarterly import KIND as QUARTERLY
from credit.exports.quarterly import export_quarterly_statistics
from credit.lineage import COMMIT_ENV, RULE_SEEDS_DIR
from credit.paths import PROJECT_ROOT
from credit.transform import build_marts
from tests.county import County, ingest_night, simulated_county
from tests.mail import Inbox, smtp_server

FIRST_DAY = dt.date(2026, 3, 23)
NIGHT_1 = dt.date(2026, 4, 10)  # the warehouse's first night, in 2026Q2
NIGHT_2 = dt.date(2026, 4, 17)
QUARTER = "2026Q1"  # exported after each night
COMMIT_OF_NIGHT_2 = "0123456789abcdef0123456789abcdef01234567"
PLAN_COLUMNS = "select * from marts.fct_inspection_plans order by plan_item_key"


@dataclass
class Nights:
    """The county after both nights, with what each night left."""

    county: County
    plans_after_night_1: list[tuple] = field(default_factory=list)
    batches_validated: dict[dt.date, int] = field(default_factory=dict)
    v1_files: dict[str, bytes] = field(default_factory=dict)
    delivered: dict[int, dict[str, str]] = field(default_factory=dict)
    inbox: Inbox = field(default_factory=Inbox)


def _night(day: dt.date, nights: Nights) -> None:
    ingest_night(day)
    with psycopg.connect(nights.county.url) as conn:
        nights.batches_validated[day] = conn.execute(
            "select max(batch_id) from audit.batches where status = 'validated'"
        ).fetchone()[0]
    build_marts(day, run_id=f"night-{day}", attempt=1)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _rows(url: str, query: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def nights(tmp_path_factory) -> Iterator[Nights]:
    with (
        smtp_server() as (inbox, smtp_uri),
        simulated_county(tmp_path_factory, "issued", FIRST_DAY, NIGHT_1) as county,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setenv(f"AIRFLOW_CONN_{SMTP_CONN.upper()}", smtp_uri)
        patch.delenv(COMMIT_ENV, raising=False)
        nights = Nights(county, inbox=inbox)
        # What the weekly credit_reference DAG loads, which the nights leave alone.
        run_dbt(["seed"])
        run_dbt(["run", "--select", "path:models/marts/reference"])
        _night(NIGHT_1, nights)
        nights.plans_after_night_1 = _rows(county.url, PLAN_COLUMNS)
        first = export_quarterly_statistics(QUARTER)
        nights.v1_files = _files(first.folder)
        nights.delivered[1] = deliver(first.kind, first.period)

        engine.advance(NIGHT_2)
        patch.setenv(COMMIT_ENV, COMMIT_OF_NIGHT_2)  # an installation without git
        _night(NIGHT_2, nights)
        yield nights


def test_an_issued_plan_is_unchanged_by_later_nights_and_none_precedes_the_data(nights) -> None:
    url = nights.county.url
    assert nights.plans_after_night_1, "the first night issued a plan"
    assert _rows(url, PLAN_COLUMNS) == nights.plans_after_night_1
    # Subjects were registered since: the plan drew from those of its night all the same.
    [(registered_since,)] = _rows(
        url, "select count(*) from marts.dim_subjects where established_date > %s", NIGHT_1
    )
    assert registered_since > 0
    quarters = _rows(
        url,
        "select plan_quarter, issued_date, count(distinct dept_code), count(*)"
        " from marts.fct_inspection_plans group by 1, 2",
    )
    assert [(q, issued) for q, issued, *_ in quarters] == [("2026Q2", NIGHT_1)]
    (first_night,) = _rows(url, "select min(logical_date) from audit.batches")[0]
    assert first_night == NIGHT_1
    # The monitoring window reaches back to 2025Q3: none of its quarters before the data has one.
    assert {q for (q,) in _rows(url, "select quarter_label from marts.rpt_grades_by_domain")} >= {
        "2025Q3",
        "2025Q4",
        "2026Q1",
    }
    assert _rows(url, "select plan_quarter from intermediate.drawn_quarters") == [("2026Q2",)]


def test_two_officers_of_the_department_are_drawn_per_subject_reproducibly(nights) -> None:
    with (RULE_SEEDS_DIR / "inspectors.csv").open(encoding="utf-8", newline="") as f:
        roster = [row for row in csv.DictReader(f) if row["enabled"] == "true"]
    names = {row["inspector_code"]: row["inspector_name"] for row in roster}
    by_dept: dict[str, list[str]] = defaultdict(list)
    for row in roster:
        by_dept[row["dept_code"]].append(row["inspector_code"])
    plans = _rows(
        nights.county.url,
        "select dept_code, subject_key, draw_seed, inspector_codes, inspector_names"
        " from marts.fct_inspection_plans",
    )
    assert len({dept for dept, *_ in plans}) > 10
    for dept, subject, seed, codes, people in plans:
        drawn = codes.split(";")
        expected = sorted(
            by_dept[dept],
            key=lambda code: (hashlib.md5(f"{seed}|{subject}|{code}".encode()).hexdigest(), code),
        )[:2]
        assert drawn == expected, (dept, subject)
        assert people == "、".join(names[code] for code in drawn)
    # Different subjects get different teams: the draw is not one pair per department.
    teams = defaultdict(set)
    for dept, _, _, codes, _ in plans:
        teams[dept].add(codes)
    assert any(len(pairs) > 1 for pairs in teams.values())


def _truth_inspections(county: County) -> tuple[dict, set]:
    """The departments' double-random inspections of organisations, latest version of each
    record not revoked, dated by the second night, as the simulator sent them: by (department,
    USCC) the results; and the (department, USCC) pairs with a defective row, whose rows the
    warehouse may rightly count or not."""
    defective = {
        (d["dept_code"], json.dumps(d["source_row"], sort_keys=True))
        for d in truth.read(county.truth, "defects")
    }
    versions: dict[tuple, list[dict]] = defaultdict(list)
    uncertain = set()
    for line in truth.read(county.truth, "inspections"):
        pair = (line["dept_code"], line["uscc"])
        if (line["dept_code"], json.dumps(line["source_row"], sort_keys=True)) in defective:
            uncertain.add(pair)
            continue
        versions[(line["dept_code"], line["plan_id"], line["inspection_no"])].append(line)
    results: dict[tuple, list[str]] = defaultdict(list)
    for lines in versions.values():
        latest = lines[-1]  # the truth is written day by day, versions in order
        if (
            latest["change_type"] != "撤销"
            and latest["uscc"]
            and latest["inspection_method"] == "双随机抽查"
            and "2026-04-01" <= latest["inspection_date"] <= NIGHT_2.isoformat()
        ):
            results[(latest["dept_code"], latest["uscc"])].append(latest["result"])
    return results, uncertain


def test_coverage_and_findings_agree_with_the_inspections_sent(nights) -> None:
    url = nights.county.url
    results, uncertain = _truth_inspections(nights.county)
    drawn: dict[str, set[str]] = defaultdict(set)
    for dept, subject in _rows(
        url, "select dept_code, subject_key from marts.fct_inspection_plans"
    ):
        drawn[dept].add(subject)
    marts = {
        row[0]: row[1:]
        for row in _rows(
            url,
            "select dept_code, drawn, inspected, coverage_share, problems_found, unreachable,"
            " as_of_date from marts.fct_inspection_plan_results where plan_quarter = '2026Q2'",
        )
    }
    assert set(marts) == set(drawn)
    covered_anywhere = 0
    for dept, subjects in drawn.items():
        inspected = {s for s in subjects if (dept, s) in results}
        problems = {
            s for s in inspected if any(r.startswith("发现问题") for r in results[(dept, s)])
        }
        unreachable = {
            s for s in inspected if "通过登记的住所（经营场所）无法联系" in results[(dept, s)]
        }
        n_drawn, n_inspected, share, n_problems, n_unreachable, as_of = marts[dept]
        assert (n_drawn, as_of) == (len(subjects), NIGHT_2)
        assert float(share) == pytest.approx(n_inspected / n_drawn, abs=1e-4)
        if any((dept, s) in uncertain for s in subjects):
            assert n_inspected >= len(inspected) - sum((dept, s) in uncertain for s in subjects)
            continue
        assert (n_inspected, n_problems, n_unreachable) == (
            len(inspected),
            len(problems),
            len(unreachable),
        ), dept
        covered_anywhere += len(inspected)
    assert covered_anywhere > 0, "some drawn subjects were inspected: the join is exercised"


def test_a_re_export_is_a_new_version_beside_the_delivered_one(nights) -> None:
    url = nights.county.url
    second = export_quarterly_statistics(QUARTER)
    assert (second.version, second.new) == (2, True)
    folder = period_folder(QUARTERLY, QUARTER)
    assert sorted(p.name for p in folder.iterdir()) == ["v1", "v2"]
    assert _files(folder / "v1") == nights.v1_files, "the delivered version is untouched"
    assert second.folder == folder / "v2" and latest_version(QUARTERLY, QUARTER)[0] == 2
    office = "credit_office/statistics_2026Q1_credit_office.xlsx"
    assert (folder / "v2" / office).read_bytes() != nights.v1_files[office]

    # Nothing changed since: no third version, nothing logged.
    again = export_quarterly_statistics(QUARTER)
    assert (again.version, again.new, again.folder) == (2, False, second.folder)
    assert sorted(p.name for p in folder.iterdir()) == ["v1", "v2"]
    assert _rows(
        url,
        "select version, folder from audit.exports where kind = %s and period = %s"
        " order by export_id",
        QUARTERLY,
        QUARTER,
    ) == [(1, str(folder / "v1")), (2, str(folder / "v2"))]

    # Delivery sends the latest version to whom it changed for, and nothing twice.
    assert set(nights.delivered[1].values()) == {"sent"}
    sent_before = len(nights.inbox.messages)
    outcome = deliver(QUARTERLY, QUARTER)

    def of(recipient: str, files: dict[str, bytes]) -> dict[str, bytes]:
        return {path: data for path, data in files.items() if path.startswith(f"{recipient}/")}

    v2_files = _files(folder / "v2")
    changed = {r for r in outcome if of(r, v2_files) != of(r, nights.v1_files)}
    assert "credit_office" in changed
    assert {r for r, status in outcome.items() if status == "sent"} == changed
    assert {status for r, status in outcome.items() if r not in changed} <= {"already sent"}
    latest = nights.inbox.messages[sent_before:]
    assert len(latest) == len(changed)
    for message in latest:
        for part in message.iter_attachments():
            (path,) = (folder / "v2").glob(f"*/{part.get_filename()}")
            assert part.get_payload(decode=True) == path.read_bytes()
        assert "第 2 版" in message.get_body().get_content()
    assert set(deliver(QUARTERLY, QUARTER).values()) <= {"already sent"}


def test_each_version_names_what_it_was_made_from(nights) -> None:
    url = nights.county.url
    folder = period_folder(QUARTERLY, QUARTER)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    seeds = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in RULE_SEEDS_DIR.iterdir()
    }
    for version, night, commit, source in (
        (1, NIGHT_1, head, "git"),
        (2, NIGHT_2, COMMIT_OF_NIGHT_2, "env"),
    ):
        manifest = json.loads((folder / f"v{version}" / MANIFEST).read_text(encoding="utf-8"))
        lineage = manifest["lineage"]
        ((invocation,),) = _rows(
            url,
            "select distinct invocation_id from audit.dbt_node_results where run_id = %s",
            f"night-{night}",
        )
        assert manifest["version"] == version
        assert lineage["transform_run_id"] == f"night-{night}"
        assert lineage["as_of_date"] == night.isoformat() == manifest["as_of_date"]
        assert lineage["dbt_invocation_id"] == invocation
        assert lineage["dbt_invocation_ids"] == [invocation]
        assert lineage["batch_high_water_mark"] == {
            "batch_id": nights.batches_validated[night],
            "logical_date": night.isoformat(),
        }
        assert lineage["code_commit"].removesuffix("-dirty") == commit
        assert lineage["code_commit_source"] == source
        assert lineage["rule_seeds_sha256"] == seeds
        assert {"inspectors.csv", "publicity_rules.csv"} <= set(seeds)
        logged = _rows(
            url,
            "select lineage from audit.exports where kind = %s and period = %s and version = %s",
            QUARTERLY,
            QUARTER,
            version,
        )
        assert logged == [(lineage,)]
    assert nights.batches_validated[NIGHT_2] > nights.batches_validated[NIGHT_1]
