"""The platform as a local service (``make up`` / ``make down``): Airflow's four components as
processes of their own, DAG runs through the REST API, and nothing left running after ``down``.

Each command runs as a user types it, a process of its own, against the session's warehouse and
data folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from credit import service
from credit.airflow_env import DagRunFailed, run_dag
from credit.warehouse import database_url

CREDIT = str(Path(sys.executable).with_name("credit"))
NIGHT = "2026-04-08"


def _credit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CREDIT, *args], capture_output=True, text=True, timeout=600)


def _project_processes(data_dir: Path) -> list[psutil.Process]:
    """Processes started with this session's data folder in their environment, but the test
    session's own (its process group: pytest's helpers, such as a resource tracker)."""
    found = []
    for process in psutil.process_iter():
        try:
            ours = os.getpgid(process.pid) == os.getpgrp()
            if not ours and process.environ().get("CREDIT_DATA_DIR") == str(data_dir):
                found.append(process)
        except (psutil.Error, ProcessLookupError):
            continue
    return found


@pytest.fixture(scope="module")
def running_service(airflow_ready, data_dir) -> Iterator[service.ServiceInfo]:
    started = _credit("service", "up", "--port", "0", "--paused")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        info = service.running_service()
        assert info is not None
        yield info
    finally:
        stopped = _credit("service", "down")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def _runs(dag_id: str) -> list[tuple]:
    with psycopg.connect(database_url("airflow")) as conn:
        return conn.execute(
            "select r.run_id, r.state, r.triggered_by, max(ti.try_number) from dag_run r"
            " join task_instance ti using (dag_id, run_id) where r.dag_id = %s"
            " group by r.run_id, r.state, r.triggered_by order by min(r.queued_at)",
            (dag_id,),
        ).fetchall()


def test_up_starts_airflows_four_components_and_reports_them(running_service) -> None:
    for name in service.AIRFLOW_COMPONENTS:
        assert service.alive(name) is not None, name
    status = _credit("service", "status")
    assert status.returncode == 0
    for name in service.AIRFLOW_COMPONENTS:
        assert name in status.stdout
    assert "stopped" not in status.stdout
    assert running_service.url in status.stdout


def test_a_paused_dag_is_refused_then_run_through_the_rest_api(running_service) -> None:
    # `--paused` paused it, even when an earlier dag.test() run registered it unpaused.
    refused = _credit("airflow", "run", "credit_reference", NIGHT)
    assert refused.returncode == 1
    assert "paused" in refused.stdout

    first = _credit("airflow", "run", "--unpause", "credit_reference", NIGHT)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "credit_reference: success" in first.stdout
    # The same night again: its run is cleared and its tasks run a second time.
    again = _credit("airflow", "run", "credit_reference", NIGHT)
    assert again.returncode == 0, again.stdout + again.stderr
    # One run of that night through the API, its tasks run twice.
    [(run_id, state, tries)] = [
        (run_id, state, tries)
        for run_id, state, triggered_by, tries in _runs("credit_reference")
        if triggered_by == "REST_API"
    ]
    assert (state, tries) == ("success", 2), _retried_attempts("credit_reference", run_id)
    assert run_id in again.stdout


def _retried_attempts(dag_id: str, run_id: str) -> str:
    """The logs of every attempt of the run's tasks that ran more than twice: why one retried."""
    from credit.paths import airflow_home

    run = airflow_home() / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    logs = []
    for task in sorted(run.iterdir()):
        attempts = sorted(task.glob("attempt=*.log"))
        if len(attempts) > 2:
            logs += [f"--- {log.relative_to(task.parent)}\n{log.read_text()}" for log in attempts]
    return "\n".join(logs)


def test_a_failed_run_fails_the_command_with_its_tasks(running_service) -> None:
    # No marts exist in this warehouse yet, so the daily export fails (after its retries).
    failed = _credit("airflow", "run", "--unpause", "credit_export_daily", NIGHT)
    assert failed.returncode == 1
    assert "credit_export_daily: failed" in failed.stdout
    assert "export" in failed.stdout


def test_the_docs_need_a_login_and_stay_inside_their_folders(running_service) -> None:
    docs = f"{running_service.url}/credit-docs"
    assert httpx.get(f"{docs}/dbt/index.html").status_code == 401
    token = httpx.post(
        f"{running_service.url}/auth/token",
        json={"username": service.USERNAME, "password": running_service.password()},
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    # Not generated yet in this warehouse: a 404 that says so, not a server error.
    assert httpx.get(f"{docs}/dbt/index.html", headers=headers).status_code == 404
    escape = f"{docs}/data-docs/%2e%2e/%2e%2e/airflow/simple_auth_manager_passwords.json"
    assert httpx.get(escape, headers=headers).status_code == 404
    assert httpx.get(f"{docs}/elsewhere/index.html", headers=headers).status_code == 404


def test_no_dag_runs_in_another_process_beside_the_service(running_service) -> None:
    with pytest.raises(DagRunFailed, match="the service runs"):
        run_dag("credit_reference")


def test_missed_nights_are_not_caught_up_beside_the_service(running_service) -> None:
    refused = _credit("airflow", "catch-up", NIGHT, NIGHT)
    assert refused.returncode == 1
    assert "the service runs" in refused.stdout and "make down" in refused.stdout


def test_down_leaves_no_process_of_the_project_running(running_service, data_dir) -> None:
    assert _project_processes(data_dir)
    stopped = _credit("service", "down")
    assert stopped.returncode == 0
    assert "api-server" in stopped.stdout
    assert service.running_service() is None
    assert not _project_processes(data_dir)
    assert "nothing was running" in _credit("service", "down").stdout
