"""Scores, grades, inspection plans, metrics and warnings: identical on a re-run of the same
date, and moved by a change of their rule seeds without code (the session's quarter county)."""

from __future__ import annotations

import datetime as dt
import json
import math

import psycopg
import pytest

import credit.dbt
from credit.dbt import run_dbt
from tests.county import QUARTER_LAST_DAY as LAST_DAY
from tests.county import mart_digests, project_with_rules

AREAS = [
    f"path:models/{layer}/{area}"
    for layer in ("intermediate", "marts")
    for area in ("lifecycle", "evaluation", "supervision", "monitoring", "warnings")
]
TABLES = (
    "fct_subject_grades",
    "fct_score_contributions",
    "fct_inspection_plans",
    "fct_joint_visits",
    "fct_subject_measures",
    "fct_dishonesty_metrics",
    "fct_warnings",
    "subject_profiles",
)


def _build() -> None:
    as_of = json.dumps({"as_of_date": LAST_DAY.isoformat()})
    run_dbt(["run", "--select", *AREAS, "--vars", as_of])


def test_scores_are_explained_and_every_grade_occurs(quarter_county) -> None:
    with psycopg.connect(quarter_county.url) as conn:
        grades = dict(
            conn.execute(
                "select grade, count(*) from marts.fct_subject_grades where is_current group by 1"
            ).fetchall()
        )
        subjects = conn.execute("select count(*) from marts.dim_subjects").fetchone()[0]
        unexplained = conn.execute(
            "select count(*) from marts.fct_subject_grades as g"
            " left join (select subject_key, evaluation_date, sum(points) as points"
            " from marts.fct_score_contributions group by 1, 2) as c"
            " using (subject_key, evaluation_date)"
            " where c.points is distinct from g.score"
        ).fetchone()[0]
        history = conn.execute(
            "select count(distinct evaluation_date) from marts.fct_subject_grades"
        ).fetchone()[0]
    assert set(grades) == {"A", "B", "C", "D"}
    assert sum(grades.values()) == subjects
    assert unexplained == 0
    assert history == 13  # twelve month ends and the as-of date


def test_plans_draw_by_grade_ratio_and_join_departments(quarter_county) -> None:
    with psycopg.connect(quarter_county.url) as conn:
        sizes = conn.execute(
            "select p.grade, p.grade_population, count(*), r.annual_share, r.plans_per_year"
            " from marts.fct_inspection_plans as p join rules.inspection_ratios as r using (grade)"
            " where p.plan_quarter = '2026Q2'"
            " group by p.dept_code, p.grade, p.grade_population, r.annual_share, r.plans_per_year"
        ).fetchall()
        joint = conn.execute(
            "select v.dept_count, count(p.*), v.inspection_items"
            " from marts.fct_joint_visits as v"
            " join marts.fct_inspection_plans as p using (joint_visit_id)"
            " group by v.joint_visit_id, v.dept_count, v.inspection_items"
        ).fetchall()
    assert sizes and joint
    for _, population, drawn, share, plans in sizes:
        assert drawn == min(population, math.ceil(population * share / plans))
    assert all(count == depts >= 2 and items.count("：") == depts for depts, count, items in joint)


def test_re_running_a_date_leaves_every_mart_identical(quarter_county) -> None:
    before = mart_digests(quarter_county.url, TABLES)
    _build()
    assert mart_digests(quarter_county.url, TABLES) == before
    assert all(count > 0 for count, _ in before.values())


def test_nights_of_other_as_of_dates_then_the_same_date_leave_every_mart_identical(
    quarter_county,
) -> None:
    """The evaluation is incremental by date: built as of a month earlier, then of the day after
    (the window moves, the as-of date becomes a month end), then of a week before in the same
    month and of the date again (the window stays: only the subjects whose score can have moved
    are evaluated on the new as-of date), every mart equals the full build of that date."""
    before = mart_digests(quarter_county.url, TABLES)
    for day in (
        LAST_DAY - dt.timedelta(days=40),
        LAST_DAY + dt.timedelta(days=1),
        LAST_DAY - dt.timedelta(days=6),
    ):
        run_dbt(["run", "--select", *AREAS, "--vars", json.dumps({"as_of_date": day.isoformat()})])
    _build()
    assert mart_digests(quarter_county.url, TABLES) == before


def test_changed_ratio_threshold_and_grade_bounds_change_results_without_code(
    quarter_county, tmp_path
) -> None:
    url = quarter_county.url
    before = mart_digests(url, TABLES)
    with psycopg.connect(url) as conn:
        d_drawn = conn.execute(
            "select count(*) from marts.fct_inspection_plans where grade = 'D'"
        ).fetchone()[0]
        overdue = dict(
            conn.execute(
                "select condition_key, condition_date from marts.fct_warnings"
                " where rule_code = 'objection_overdue'"
            ).fetchall()
        )
        a_grades = conn.execute(
            "select count(*) from marts.fct_subject_grades where grade = 'A'"
        ).fetchone()[0]
    project = project_with_rules(
        tmp_path,
        {
            "inspection_ratios": (
                lambda r: r.update(annual_share="0.40") if r["grade"] == "D" else None
            ),
            "warning_rules": (
                lambda r: (
                    r.update(threshold_days="30") if r["rule_code"] == "objection_overdue" else None
                )
            ),
            "grade_thresholds": lambda r: r.update(min_score="80") if r["grade"] == "A" else None,
        },
    )
    seeds = ["--select", "inspection_ratios", "warning_rules", "grade_thresholds"]
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(credit.dbt, "DBT_PROJECT_DIR", project)
            run_dbt(["seed", "--full-refresh", *seeds])
            _build()
        with psycopg.connect(url) as conn:
            # The issued plan stays as it was issued: a new ratio applies to plans not issued yet.
            assert (
                conn.execute(
                    "select count(*) from marts.fct_inspection_plans where grade = 'D'"
                ).fetchone()[0]
                == d_drawn
            )
            moved = dict(
                conn.execute(
                    "select condition_key, condition_date from marts.fct_warnings"
                    " where rule_code = 'objection_overdue'"
                ).fetchall()
            )
            assert moved and all((moved[k] - overdue[k]).days == 15 for k in moved)
            assert (
                conn.execute(
                    "select count(*) from marts.fct_subject_grades where grade = 'A'"
                ).fetchone()[0]
                > a_grades
            )
    finally:
        # A full-refresh seed drops, by cascade, every view built on it in any area, even where
        # dbt's graph does not lead there: rebuild every model.
        run_dbt(["seed", "--full-refresh", *seeds])
        as_of = json.dumps({"as_of_date": LAST_DAY.isoformat()})
        run_dbt(["run", "--vars", as_of])
    assert mart_digests(url, TABLES) == before
