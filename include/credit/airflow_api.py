"""Airflow's REST API as an operator's automation uses it: trigger a DAG run, wait, report.

``credit airflow run`` goes through here when the local service runs (:mod:`credit.service`);
the same calls work against any Airflow 3 api-server with the simple auth manager's login.
Running a DAG for a logical date that already has a finished run runs that night again, as
``dag.test()`` does: the run is cleared when it had the same configuration (its tasks run again,
with their earlier tries kept), else replaced by a new run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

FINISHED = frozenset({"success", "failed"})
ACTIVE_RUN_STATES = frozenset({"queued", "running"})
PAGE = 100


class AirflowApiError(RuntimeError):
    """The REST API refused a request, or a run cannot start as asked."""


@dataclass(frozen=True)
class TaskOutcome:
    task_id: str
    map_index: int
    state: str | None
    try_number: int
    seconds: float | None


@dataclass(frozen=True)
class RunOutcome:
    dag_id: str
    run_id: str
    state: str
    seconds: float | None
    tasks: tuple[TaskOutcome, ...]


def health(url: str) -> dict[str, dict[str, Any]] | None:
    """The api-server's health report (``/api/v2/monitor/health``), None when it does not answer."""
    try:
        response = httpx.get(f"{url}/api/v2/monitor/health", timeout=5)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


class AirflowApi:
    """An authenticated client of one api-server."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self._client = httpx.Client(base_url=url, timeout=60)
        token = self._request(
            "POST", "/auth/token", json={"username": username, "password": password}
        )["access_token"]
        self._client.headers["Authorization"] = f"Bearer {token}"

    def dag_ids(self) -> list[str]:
        return [dag["dag_id"] for dag in self._pages("/api/v2/dags", "dags")]

    def import_errors(self) -> dict[str, str]:
        errors = self._pages("/api/v2/importErrors", "import_errors")
        return {error["filename"]: error["stack_trace"] for error in errors}

    def dag(self, dag_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/v2/dags/{dag_id}")

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self._request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused})

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self._request("GET", _run_path(dag_id, run_id))

    def task_instances(self, dag_id: str, run_id: str) -> list[TaskOutcome]:
        rows = self._pages(f"{_run_path(dag_id, run_id)}/taskInstances", "task_instances")
        return [
            TaskOutcome(
                task_id=row["task_id"],
                map_index=int(row["map_index"]),
                state=row["state"],
                try_number=int(row["try_number"]),
                seconds=row["duration"],
            )
            for row in sorted(rows, key=lambda row: (row["task_id"], row["map_index"]))
        ]

    def start_run(self, dag_id: str, logical_date: datetime | None, conf: dict[str, Any]) -> str:
        """Trigger a run (or run a finished night again, see the module); its run id."""
        if logical_date is not None:
            stamp = logical_date.isoformat()
            found = self._request(
                "GET",
                f"/api/v2/dags/{dag_id}/dagRuns",
                params={"logical_date_gte": stamp, "logical_date_lte": stamp},
            )["dag_runs"]
            if found:
                earlier = found[0]
                run_id = earlier["dag_run_id"]
                if earlier["state"] in ACTIVE_RUN_STATES:
                    raise AirflowApiError(f"{dag_id} {run_id} is {earlier['state']} already")
                if (earlier.get("conf") or {}) == conf:
                    self._request(
                        "POST",
                        f"{_run_path(dag_id, run_id)}/clear",
                        json={"dry_run": False},
                    )
                    return run_id
                self._request("DELETE", _run_path(dag_id, run_id))
        body = {"logical_date": logical_date.isoformat() if logical_date else None, "conf": conf}
        return self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def wait(
        self,
        dag_id: str,
        run_id: str,
        on_tasks: Callable[[list[TaskOutcome]], None] | None = None,
        poll: float = 0.25,
    ) -> RunOutcome:
        """Wait until the run ends; ``on_tasks`` sees its task instances every few seconds."""
        polls = 0
        while (run := self.run(dag_id, run_id))["state"] not in FINISHED:
            if on_tasks and polls % 8 == 0:
                on_tasks(self.task_instances(dag_id, run_id))
            polls += 1
            time.sleep(poll)
        started, ended = run.get("start_date"), run.get("end_date")
        seconds = None
        if started and ended:
            seconds = (_parse(ended) - _parse(started)).total_seconds()
        return RunOutcome(
            dag_id=dag_id,
            run_id=run_id,
            state=run["state"],
            seconds=seconds,
            tasks=tuple(self.task_instances(dag_id, run_id)),
        )

    def _pages(self, path: str, key: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while True:
            page = self._request("GET", path, params={"limit": PAGE, "offset": len(rows)})
            rows.extend(page[key])
            if not page[key] or len(rows) >= page["total_entries"]:
                return rows

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._client.request(method, path, **kwargs)
        if response.is_error:
            raise AirflowApiError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None


def run_dag(
    api: AirflowApi,
    dag_id: str,
    logical_date: datetime | None = None,
    conf: dict[str, Any] | None = None,
    *,
    unpause: bool = False,
    on_tasks: Callable[[list[TaskOutcome]], None] | None = None,
) -> RunOutcome:
    """Run a DAG on the service and wait for the outcome. A paused DAG's run would wait until
    it is unpaused: refused unless ``unpause``."""
    if api.dag(dag_id)["is_paused"]:
        if not unpause:
            raise AirflowApiError(
                f"{dag_id} is paused, so its run would wait: unpause it in the UI, or run it "
                "with --unpause"
            )
        api.set_paused(dag_id, False)
    run_id = api.start_run(dag_id, logical_date, conf or {})
    return api.wait(dag_id, run_id, on_tasks)


def _run_path(dag_id: str, run_id: str) -> str:
    """A run's resource; run ids hold ``+`` and ``:``, quoted."""
    return f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
