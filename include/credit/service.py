"""The platform as a local service: ``make up``, ``make status``, ``make down``.

``up`` starts the warehouse (the embedded PostgreSQL unless ``CREDIT_WAREHOUSE_URL`` names a
server), migrates Airflow's metadata and starts Airflow's four components as processes of their
own, as on a server: the **api-server** (the UI, the REST API, and the execution API that task
processes report to), the **scheduler** (with the LocalExecutor, whose worker processes run
independent tasks side by side), the **dag-processor** and the **triggerer**. It returns once the
api-server reports every component healthy and every DAG file is parsed, and prints the UI's
address and login.

Every process started for the service is recorded in ``<data>/service/<name>.json`` (its pid
and start time, so a pid the system has since given to another program is never taken for it)
with its output in ``<data>/logs/service/<name>.log``. Other programs record theirs there too
(the county simulator's API, :func:`start_process`). ``down`` stops exactly the recorded
processes, each with its process group (the workers it forked), and the embedded PostgreSQL if
``up`` started it; nothing else.

While the service runs, DAG runs go through it (``credit airflow run`` uses its REST API,
:mod:`credit.airflow_api`): a ``dag.test()`` run in another process beside a live scheduler on
the same metadata database would have its tasks picked up twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from credit import airflow_env, warehouse
from credit.airflow_api import AirflowApi, health
from credit.net import free_port
from credit.paths import DAGS_DIR, PROJECT_ROOT, airflow_home, data_dir
from credit.reference import reference_loaded

AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
DEFAULT_PORT = 8080
USERNAME = "admin"
SETTINGS_FILE = "service.json"
# Left by start_warehouse when it started the embedded PostgreSQL.
WAREHOUSE_MARKER = "embedded-warehouse.started"
READY_TIMEOUT = 240.0
STOP_TIMEOUT = 45.0


@dataclass(frozen=True)
class Recorded:
    """A process started for the service."""

    name: str
    pid: int
    started: float  # the process's start time (psutil), its identity beside the pid
    command: list[str]


@dataclass(frozen=True)
class ServiceInfo:
    """What ``up`` chose, kept for ``status``, ``down`` and REST clients."""

    port: int
    paused_at_creation: bool

    @property
    def url(self) -> str:
        """The api-server's address: UI, REST API and the tasks' execution API."""
        return f"http://127.0.0.1:{self.port}"

    def password(self) -> str:
        """The UI and REST login's password, which Airflow's simple auth manager generated."""
        passwords = json.loads(passwords_file().read_text(encoding="utf-8"))
        return str(passwords[USERNAME])


def service_dir() -> Path:
    return data_dir() / "service"


def log_path(name: str) -> Path:
    return data_dir() / "logs" / "service" / f"{name}.log"


def passwords_file() -> Path:
    return airflow_home() / "simple_auth_manager_passwords.json"


def start_process(name: str, command: Sequence[str], env: Mapping[str, str]) -> Recorded:
    """Start ``command`` detached (its own session and process group), output to its log,
    and record it."""
    log = log_path(name)
    log.parent.mkdir(parents=True, exist_ok=True)
    service_dir().mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen(
            list(command),
            env=dict(env),
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    recorded = Recorded(name, process.pid, psutil.Process(process.pid).create_time(), list(command))
    _record_file(name).write_text(json.dumps(asdict(recorded)), encoding="utf-8")
    return recorded


def alive(name: str) -> Recorded | None:
    """The recorded process ``name`` if it still runs (a stale record is removed)."""
    path = _record_file(name)
    try:
        recorded = Recorded(**json.loads(path.read_text(encoding="utf-8")))
        process = psutil.Process(recorded.pid)
        if process.create_time() == recorded.started and process.status() != "zombie":
            return recorded
    except (OSError, ValueError, psutil.Error):
        pass
    path.unlink(missing_ok=True)
    return None


def stop_process(name: str, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop a recorded process and its process group: SIGTERM, SIGKILL after ``timeout``.
    Whether it was running."""
    recorded = alive(name)
    _record_file(name).unlink(missing_ok=True)
    if recorded is None:
        return False
    _signal_group(recorded.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _group_exists(recorded.pid):
        if time.monotonic() > deadline:
            _signal_group(recorded.pid, signal.SIGKILL)
            break
        time.sleep(0.2)
    return True


def recorded_names() -> list[str]:
    """Names of every process recorded for the service, in the order they were started."""
    records = sorted(service_dir().glob("*.pid.json"), key=lambda path: path.stat().st_mtime)
    return [path.name.removesuffix(".pid.json") for path in records]


def running_service() -> ServiceInfo | None:
    """The service of this data folder when its api-server runs, else None."""
    return _settings() if alive("api-server") else None


def up(port: int | None = None, paused: bool = False) -> ServiceInfo:
    """Start whatever of the service is not running, wait until it is ready, return it.

    ``port``: the api-server's (default 8080, or a free one when taken; 0 picks a free one).
    ``paused``: every DAG starts paused, so nothing runs until unpaused (tests, benchmarks); by
    default the nightly chain runs on its schedule.
    """
    existing = running_service()
    url = start_warehouse()
    values = airflow_env.prepare_airflow()
    if existing:
        info = existing
    else:
        # Components left from a service whose api-server is gone run with its old settings.
        for name in AIRFLOW_COMPONENTS:
            stop_process(name)
        chosen = free_port(DEFAULT_PORT if port is None else port)
        info = ServiceInfo(port=chosen, paused_at_creation=paused)
        # The nightly transform needs the reference data, which credit_reference only loads on
        # its weekly schedule: a new warehouse gets it before the scheduler starts.
        if not reference_loaded(url):
            _run_in_process("credit_reference", _service_settings(info))
        if paused:
            _pause_every_dag()
    env = {**os.environ, **values, **_service_settings(info)}
    airflow = str(Path(sys.executable).with_name("airflow"))
    for name in AIRFLOW_COMPONENTS:
        if alive(name) is None:
            start_process(name, [airflow, name], env)
    (service_dir() / SETTINGS_FILE).write_text(json.dumps(asdict(info)), encoding="utf-8")
    _wait_until_ready(info)
    return info


def start_warehouse() -> str:
    """The warehouse, ready; when this starts the embedded PostgreSQL, ``down`` will stop it
    (whoever of ``make up`` starts it first: the county's systems need it too)."""
    if not os.environ.get(warehouse.ENV_URL) and not warehouse.embedded_server().is_running():
        service_dir().mkdir(parents=True, exist_ok=True)
        (service_dir() / WAREHOUSE_MARKER).touch()
    return warehouse.ensure_warehouse()


def down() -> list[str]:
    """Stop every recorded process (the last started first) and the embedded PostgreSQL if
    ``up`` started it; the names of the processes that were running."""
    stopped = [name for name in reversed(recorded_names()) if stop_process(name)]
    (service_dir() / SETTINGS_FILE).unlink(missing_ok=True)
    marker = service_dir() / WAREHOUSE_MARKER
    if marker.exists() and not os.environ.get(warehouse.ENV_URL):
        warehouse.embedded_server().stop()
        stopped.append("embedded PostgreSQL")
    marker.unlink(missing_ok=True)
    return stopped


def status() -> dict[str, object]:
    """Each recorded process (running or not) and, when the api-server answers, its health."""
    names = dict.fromkeys([*AIRFLOW_COMPONENTS, *recorded_names()])
    processes = {name: alive(name) for name in names}
    info = running_service()
    return {
        "url": info.url if info else None,
        "processes": processes,
        "health": health(info.url) if info else None,
    }


def _service_settings(info: ServiceInfo) -> dict[str, str]:
    """What the service's processes add to the project's Airflow configuration."""
    cpus = os.cpu_count() or 2
    return {
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(info.port),
        "AIRFLOW__API__BASE_URL": info.url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{info.url}/execution/",
        # A login instead of everyone an admin; Airflow generates the password into the file.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file()),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": str(info.paused_at_creation),
        # Tasks running at once; the night's 34 source tasks would otherwise start 32 processes.
        "AIRFLOW__CORE__PARALLELISM": os.environ.get(
            "AIRFLOW__CORE__PARALLELISM", str(max(4, 2 * cpus))
        ),
    }


def _pause_every_dag() -> None:
    """Pause the DAGs the metadata database knows already (a ``dag.test()`` run registers every
    DAG file, unpaused), before a scheduler could start their runs."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(update(DagModel).values(is_paused=True))


def _run_in_process(dag_id: str, settings: Mapping[str, str]) -> None:
    """``credit airflow run DAG`` in a process of its own (``dag.test()``, no service yet) with
    the service's settings, its output to the service's logs."""
    log = log_path(dag_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    credit = str(Path(sys.executable).with_name("credit"))
    with log.open("ab") as output:
        finished = subprocess.run(
            [credit, "airflow", "run", dag_id],
            env={**os.environ, **settings},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    if finished.returncode != 0:
        raise ServiceError(f"{dag_id} failed; see {log}")


def _wait_until_ready(info: ServiceInfo, timeout: float = READY_TIMEOUT) -> None:
    """Until every component is healthy and every DAG file parsed; a component that exits
    meanwhile fails it with the end of its log."""
    expected = {path.stem for path in DAGS_DIR.glob("*.py")}
    deadline = time.monotonic() + timeout
    while True:
        for name in AIRFLOW_COMPONENTS:
            if alive(name) is None:
                raise ServiceError(f"{name} exited; the end of {log_path(name)}:\n{_tail(name)}")
        report = health(info.url)
        if report and all(part.get("status") == "healthy" for part in report.values()):
            api = AirflowApi(info.url, USERNAME, info.password())
            if len(api.dag_ids()) >= len(expected):
                errors = api.import_errors()
                if errors:
                    raise ServiceError(f"DAG files failed to import: {errors}")
                return
        if time.monotonic() > deadline:
            raise ServiceError(f"the service was not ready after {timeout:.0f} s: {report}")
        time.sleep(1)


def _settings() -> ServiceInfo | None:
    path = service_dir() / SETTINGS_FILE
    if not path.exists():
        return None
    return ServiceInfo(**json.loads(path.read_text(encoding="utf-8")))


def _tail(name: str, lines: int = 30) -> str:
    path = log_path(name)
    if not path.exists():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


class ServiceError(RuntimeError):
    """The service could not be brought up."""


def _record_file(name: str) -> Path:
    return service_dir() / f"{name}.pid.json"


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def _group_exists(pgid: int) -> bool:
    """Whether any process of the group runs (a zombie left to reap counts as gone)."""
    for process in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(process.info["pid"]) == pgid and process.info["status"] != "zombie":
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False
