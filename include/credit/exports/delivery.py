"""E-mail delivery of an export: each recipient gets its own folder's files.

The SMTP server is an Airflow-style connection in the environment, ``AIRFLOW_CONN_CREDIT_SMTP``
(``smtp://host:25``, ``smtp://user:password@host:587?starttls=true`` or ``smtps://...:465``;
``?from=`` sets the sender). Without it nothing is sent and the files wait in the outbox.
Every attempt is logged in ``audit.deliveries``. The period's latest version is sent; a
recipient who was already sent exactly these files for the period (by any version) is skipped
unless ``force`` is given.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg

from credit.exports import audit
from credit.exports.outbox import Export, ExportedFile, content_hash, manifest_files, read_manifest
from credit.exports.settings import recipients
from credit.ingest import connection_uri
from credit.roles import EXPORTER
from credit.warehouse import ready_url, role_url

SMTP_CONN = "credit_smtp"
DEFAULT_SENDER = "credit-office@jiangyin.example.org"
KIND_ZH = {
    "daily_warnings": "信用预警日报",
    "daily_publicity": "信用信息公示清单",
    "quarterly_statistics": "信用监管季度统计",
}
MIME_TYPES = {
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".csv": ("text", "csv"),
    ".docx": ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"),
}


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool
    sender: str

    @classmethod
    def from_uri(cls, uri: str) -> SmtpSettings:
        parts = urlsplit(uri)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        implicit_tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (465 if implicit_tls else 25),
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit_tls,
            starttls=query.get("starttls", "false").lower() == "true",
            sender=query.get("from", DEFAULT_SENDER),
        )


def smtp_settings() -> SmtpSettings | None:
    uri = connection_uri(SMTP_CONN)
    return SmtpSettings.from_uri(uri) if uri else None


@contextmanager
def smtp_client(settings: SmtpSettings) -> Iterator[smtplib.SMTP]:
    if settings.implicit_tls:
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, context=ssl.create_default_context(), timeout=60
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=60)
    try:
        if settings.starttls:
            client.starttls(context=ssl.create_default_context())
        if settings.user:
            client.login(settings.user, settings.password or "")
        yield client
    finally:
        client.quit()


def load_export(kind: str, period: str) -> tuple[int, Export]:
    """The latest logged export (version) of a kind and period, with its files from the
    manifest of its folder."""
    with psycopg.connect(role_url(EXPORTER)) as conn:
        row = conn.execute(
            "select export_id, as_of_date, folder, coalesce(version, 1) from audit.exports"
            " where kind = %s and period = %s order by export_id desc limit 1",
            (kind, period),
        ).fetchone()
    if row is None:
        raise FileNotFoundError(f"no {kind} export for {period} in audit.exports")
    export_id, as_of, folder, version = row
    manifest = read_manifest(Path(folder))
    files = manifest_files(manifest)
    return export_id, Export(kind, period, as_of, Path(folder), files, version)


def deliver(kind: str, period: str, *, force: bool = False) -> dict[str, str]:
    """E-mail each recipient its files of the export; returns what happened per recipient."""
    settings = smtp_settings()
    if settings is None:
        return {"*": f"not sent: no AIRFLOW_CONN_{SMTP_CONN.upper()} connection"}
    url = ready_url(EXPORTER)  # at head: audit.deliveries as this release writes it
    export_id, export = load_export(kind, period)
    everyone = recipients()
    outcome: dict[str, str] = {}
    for recipient_id in sorted({f.recipient_id for f in export.files}):
        recipient = everyone[recipient_id]
        files = export.files_of(recipient_id)
        content = content_hash(files)
        if not recipient.email:
            outcome[recipient_id] = "not sent: no address"
            continue
        if not force and audit.already_delivered(url, kind, period, recipient_id, content):
            outcome[recipient_id] = "already sent"
            continue
        message = _message(settings.sender, recipient.name, recipient.email, export, files)
        error = None
        try:
            with smtp_client(settings) as client:
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        audit.record_delivery(
            url,
            export_id=export_id,
            export=export,
            recipient_id=recipient_id,
            email=recipient.email,
            files=[{"path": f.path, "sha256": f.sha256} for f in files],
            content=content,
            status="failed" if error else "sent",
            forced=force,
            error=error,
        )
        outcome[recipient_id] = f"failed: {error}" if error else "sent"
    failed = {key: value for key, value in outcome.items() if value.startswith("failed")}
    if failed:
        raise DeliveryFailed(f"{len(failed)} deliveries failed: {failed}")
    return outcome


class DeliveryFailed(RuntimeError):
    """At least one recipient could not be sent its files (each attempt is in the audit)."""


def _message(
    sender: str, name: str, email: str, export: Export, files: list[ExportedFile]
) -> EmailMessage:
    message = EmailMessage()
    label = KIND_ZH.get(export.kind, export.kind)
    message["Subject"] = f"【{label}】{export.period} {name}"
    message["From"] = formataddr(("江阴市信用办", sender))
    message["To"] = formataddr((name, email))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    lines = [
        f"{name}：",
        "",
        f"附件为{export.period}{label}（第 {export.version} 版，截至 {export.as_of_date}）：",
        "",
    ]
    for item in files:
        rows = "，".join(f"{sheet} {count} 行" for sheet, count in item.rows.items())
        lines.append(f"  {Path(item.path).name}（{rows}；sha256 {item.sha256[:12]}…）")
    lines += ["", "本邮件由江阴市信用信息平台自动发送。"]
    message.set_content("\n".join(lines))
    for item in files:
        path = export.folder / item.path
        maintype, subtype = MIME_TYPES.get(path.suffix, ("application", "octet-stream"))
        message.add_attachment(
            path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
        )
    return message
