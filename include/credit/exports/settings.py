"""The exports' configuration: ``config/exports.yaml`` and ``config/recipients.yaml``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from credit.paths import CONFIG_DIR, data_dir
from credit.reference import departments, divisions

EXPORTS_FILE = CONFIG_DIR / "exports.yaml"
RECIPIENTS_FILE = CONFIG_DIR / "recipients.yaml"

# Defaults of exports.yaml, used for any key the file leaves out.
DEFAULTS: dict[str, Any] = {
    "outbox": "outbox",
    "daily_warnings": {"skip_empty_recipients": True},
    "daily_publicity": {"full_list_weekday": 7},
    "quarterly_statistics": {"working_days_after_quarter_end": 5, "run_hour": 6},
    "workbook": {"author": "江阴市信用办", "company": "江阴市信用办", "max_column_width": 60},
}


@cache
def export_settings() -> dict[str, Any]:
    loaded = yaml.safe_load(EXPORTS_FILE.read_text(encoding="utf-8")) or {}
    merged: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        value = loaded.get(key, default)
        merged[key] = {**default, **value} if isinstance(default, dict) else value
    return merged


def outbox_dir() -> Path:
    return data_dir() / export_settings()["outbox"]


@dataclass(frozen=True)
class Recipient:
    """Who receives a set of files: the credit office, a department or a division (镇街/园区)."""

    recipient_id: str  # credit_office, dept-<dept_code> or div-<division_code>
    scope: str  # credit_office | department | division
    code: str  # department or division code; "credit_office" for the office
    name: str
    email: str | None


@cache
def recipients() -> dict[str, Recipient]:
    """Every recipient by id: the credit office, all departments, all divisions."""
    config = yaml.safe_load(RECIPIENTS_FILE.read_text(encoding="utf-8")) or {}
    office = config.get("credit_office") or {}
    found = {
        "credit_office": Recipient(
            "credit_office",
            "credit_office",
            "credit_office",
            office.get("name", "江阴市信用办"),
            office.get("email"),
        )
    }
    dept_config = config.get("departments") or {}
    dept_pattern = config.get("default_department_email")
    for dept in departments():
        entry = dept_config.get(dept.dept_code) or {}
        email = entry.get(
            "email", dept_pattern.format(code=dept.dept_code) if dept_pattern else None
        )
        found[f"dept-{dept.dept_code}"] = Recipient(
            f"dept-{dept.dept_code}", "department", dept.dept_code, dept.name_zh, email
        )
    div_config = config.get("divisions") or {}
    div_pattern = config.get("default_division_email")
    for division in divisions():
        code = division.division_code
        entry = div_config.get(code) or {}
        email = entry.get("email", div_pattern.format(code=code) if div_pattern else None)
        found[f"div-{code}"] = Recipient(f"div-{code}", "division", code, division.name_zh, email)
    unknown = (set(dept_config) - {d.dept_code for d in departments()}) | (
        set(div_config) - {d.division_code for d in divisions()}
    )
    if unknown:
        raise ValueError(
            f"{RECIPIENTS_FILE.name}: unknown department or division {sorted(unknown)}"
        )
    return found
