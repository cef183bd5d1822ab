"""Every DAG file imports cleanly and follows the project's conventions."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from credit.airflow_env import dag_file
from credit.paths import DAGS_DIR

EXPECTED_DAGS = {
    "credit_reference",
    "credit_ingest",
    "credit_transform",
    "credit_export_daily",
    "credit_export_quarterly",
    "credit_docs",
}


@pytest.fixture(scope="module")
def dagbag(airflow_ready) -> DagBag:
    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}


def test_expected_dags_present(dagbag: DagBag) -> None:
    assert set(dagbag.dag_ids) >= EXPECTED_DAGS


def test_every_dag_file_is_parsed() -> None:
    # Airflow's safe mode skips files whose text lacks "airflow" and "dag"; a DAG file that
    # silently fell out would never run.
    for path in DAGS_DIR.glob("*.py"):
        text = path.read_text().lower()
        assert "airflow" in text and "dag" in text, path


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS))
def test_dag_conventions(dagbag: DagBag, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert Path(dag.fileloc) == dag_file(dag_id), "credit_<name> lives in dags/<name>.py"
    assert dag.doc_md and len(dag.doc_md.strip()) > 80, "doc_md must say what the DAG does"
    assert dag.tags, "tags help people find the DAG in the UI"
    for task in dag.tasks:
        assert task.owner == "credit-data-engineering", task.task_id
        assert task.retries >= 1, task.task_id
        # One XCom per result: a dict's keys pushed one by one cost an API call each.
        assert not getattr(task, "multiple_outputs", False), task.task_id
