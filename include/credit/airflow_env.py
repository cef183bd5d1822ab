"""Airflow's configuration for this project, as environment variables.

Airflow reads its settings from ``AIRFLOW__SECTION__KEY`` variables, so the project never edits
an ``airflow.cfg``: :func:`airflow_environment` derives them from the warehouse's location, and
every command that starts Airflow (the CLI, the tests, docker-compose) passes them on.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pendulum

from credit.alerts import task_failed
from credit.paths import DAGS_DIR, PLUGINS_DIR, PROJECT_ROOT, airflow_home
from credit.warehouse import database_url, ensure_database, sqlalchemy_url


def airflow_environment() -> dict[str, str]:
    """Variables that point Airflow at the project's DAGs, plugins and metadata database."""
    metadata_url = database_url("airflow")
    home = airflow_home()
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(metadata_url, "psycopg2"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        # Cosmos and dbt phone home by default; this machine has no internet.
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "DO_NOT_TRACK": "1",
        "SCARF_ANALYTICS": "false",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(PROJECT_ROOT / "include"), os.environ.get("PYTHONPATH")])
        ),
    }


def apply_airflow_environment() -> dict[str, str]:
    """Put :func:`airflow_environment` into this process's environment.

    Call it before Airflow is first imported: Airflow reads its configuration then.
    """
    values = airflow_environment()
    os.environ.update(values)
    Path(values["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    return values


def prepare_airflow() -> dict[str, str]:
    """Create Airflow's metadata database and bring its schema up to date."""
    values = apply_airflow_environment()
    ensure_database(database_url("airflow"))
    if not _metadata_is_current():
        airflow_command(["db", "migrate"], values)
    return values


def _metadata_is_current() -> bool:
    """Whether the metadata schema is at this Airflow's migration heads: ``airflow db migrate``
    costs seconds in a process of its own, and every ``credit airflow run`` prepares Airflow.
    Reading the heads from Airflow's migration scripts costs half a second too, so the revision
    found current is remembered in Airflow's home, per Airflow version."""
    from airflow import __version__
    from airflow.utils import db
    from airflow.utils.session import create_session

    with create_session() as session:
        current = db._get_current_revision(session)
    marker = airflow_home() / "metadata-revision"
    remembered = f"{__version__} {current}"
    if marker.exists() and marker.read_text(encoding="utf-8") == remembered:
        return True
    if current not in db._get_script_object().get_heads():
        return False
    marker.write_text(remembered, encoding="utf-8")
    return True


def airflow_command(args: list[str], values: dict[str, str] | None = None) -> None:
    """Run the ``airflow`` CLI of this environment with the project's configuration."""
    env = {**os.environ, **(values or airflow_environment())}
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), *args], env=env, check=True)


# Department systems, the credit office and the DAG schedules all keep China Standard Time.
COUNTY_TIMEZONE = pendulum.timezone("Asia/Shanghai")  # Airflow wants pendulum zones


def county_day(logical_date: datetime) -> date:
    """The county day a run covers: its logical date, read in China Standard Time."""
    return logical_date.astimezone(COUNTY_TIMEZONE).date()


# Every DAG of the project starts from these; the DAG integrity test checks them.
DAG_DEFAULT_ARGS = {
    "owner": "credit-data-engineering",
    "retries": 2,
    # CREDIT_RETRY_DELAY_SECONDS shortens the wait, e.g. for in-process test runs.
    "retry_delay": timedelta(seconds=int(os.environ.get("CREDIT_RETRY_DELAY_SECONDS", "60"))),
    # A task that failed after its retries is an incident for the operator (credit.alerts).
    "on_failure_callback": task_failed,
}


class DagRunFailed(RuntimeError):
    """A DAG run ended in a state other than success."""


def dag_file(dag_id: str) -> Path:
    """The file of one of the project's DAGs: ``credit_<name>`` lives in ``dags/<name>.py``."""
    return DAGS_DIR / f"{dag_id.removeprefix('credit_')}.py"


def run_dag(dag_id: str, logical_date: datetime | None = None, **conf: object) -> str:
    """Run one DAG in this process with ``dag.test()`` and raise unless it succeeds.

    Call :func:`prepare_airflow` first; Airflow reads its configuration when first imported.
    Refused while the local service runs: its scheduler would pick up this run's tasks too.
    """
    from credit.service import running_service

    if (service := running_service()) is not None:
        raise DagRunFailed(
            f"the service runs ({service.url}): run DAGs through it (`credit airflow run`), "
            "or stop it first (`make down`)"
        )
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dag_file(dag_id)))
    if bag.import_errors:
        raise DagRunFailed(f"DAG files failed to import: {bag.import_errors}")
    # In a long-lived process (the demo, a test session) that holds Airflow, dbt and Great
    # Expectations, one full garbage collection walks millions of objects (when the transform ran
    # one Cosmos task per node, each followed by gc.collect(), most of its time went there).
    # Frozen, the objects that exist before the run are left out of every collection, which then
    # sees only the run's own garbage.
    gc.freeze()
    try:
        run = bag.dags[dag_id].test(logical_date=logical_date, run_conf=conf or None)
    finally:
        gc.unfreeze()
    state = str(run.state)
    if state != "success":
        raise DagRunFailed(f"{dag_id} ended {state} (logical date {logical_date})")
    return state
