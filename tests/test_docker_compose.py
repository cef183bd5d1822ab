"""docker-compose.yml, checked statically (no Docker engine runs here): every service's command,
mounted path, build context and environment variable refers to something the project has."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import typer.main
import yaml
from airflow.configuration import conf

from credit.cli import app
from credit.paths import PROJECT_ROOT

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW_COMPONENTS = {"api-server", "scheduler", "dag-processor", "triggerer"}
CONTAINER_ROOT = "/opt/credit"


def _project_sources() -> str:
    return (
        "\n".join(path.read_text() for path in (PROJECT_ROOT / "include").rglob("*.py"))
        + (PROJECT_ROOT / "dbt" / "profiles.yml").read_text()
    )


def test_all_airflow_components_and_the_database_are_there() -> None:
    commands = [service.get("command", []) for service in SERVICES.values()]
    started = {command[-1] for command in commands if command[:3] == ["credit", "airflow", "exec"]}
    assert started == AIRFLOW_COMPONENTS
    assert ["credit", "airflow", "prepare"] in commands
    assert SERVICES["postgres"]["image"].startswith("postgres:15")


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if "command" in s])
def test_service_commands_exist_in_the_cli(name: str) -> None:
    program, *words = SERVICES[name]["command"]
    assert program == "credit"
    group: click.Command = typer.main.get_command(app)
    ctx = click.Context(group)
    for word in words:
        if not isinstance(group, click.Group):
            break  # the rest are arguments
        sub = group.get_command(ctx, word)
        assert sub is not None, f"{name}: 'credit ... {word}' is not a command"
        group = sub


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if "build" in s])
def test_build_context_has_a_dockerfile(name: str) -> None:
    context = PROJECT_ROOT / SERVICES[name]["build"]
    dockerfile = (context / "Dockerfile").read_text()
    for copied in re.findall(r"^COPY (.+) \./?\S*$", dockerfile, flags=re.M):
        for source in copied.split():
            assert (context / source).exists(), f"Dockerfile copies missing {source}"


@pytest.mark.parametrize("name", list(SERVICES))
def test_mounted_paths_exist(name: str) -> None:
    for volume in SERVICES[name].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            assert (PROJECT_ROOT / source).is_dir(), f"{name} mounts missing {source}"
            assert target == f"{CONTAINER_ROOT}/{Path(source).name}"
        else:
            assert source in COMPOSE["volumes"], f"{name} uses undeclared volume {source}"


@pytest.mark.parametrize("name", [n for n in SERVICES if n != "postgres"])
def test_environment_variables_are_ones_the_project_reads(name: str) -> None:
    sources = _project_sources()
    for variable in SERVICES[name]["environment"]:
        if variable.startswith("AIRFLOW__"):
            section, key = variable.removeprefix("AIRFLOW__").lower().split("__", 1)
            options = conf.configuration_description.get(section, {}).get("options", {})
            assert key in options, f"Airflow has no option [{section}] {key}"
        elif variable != "DO_NOT_TRACK":
            assert re.search(rf"\b{variable}\b", sources), f"nothing reads {variable}"


def test_dependencies_name_existing_services() -> None:
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
