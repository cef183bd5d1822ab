"""E-mail delivery against a real SMTP server (aiosmtpd) on localhost."""

from __future__ import annotations

import email
import os

import psycopg
import pytest

from credit.exports.daily import export_daily_warnings
from credit.exports.delivery import SMTP_CONN, DeliveryFailed, deliver
from credit.exports.quarterly import export_quarterly_statistics
from credit.exports.settings import recipients


def test_each_recipient_gets_its_files_once(quarter_county, smtp_server) -> None:
    export = export_daily_warnings()
    sent = deliver(export.kind, export.period)
    everyone = recipients()
    expected = {f.recipient_id for f in export.files}
    assert set(sent) == expected and set(sent.values()) == {"sent"}
    assert len(smtp_server.messages) == len(expected)
    by_address = {
        email.utils.parseaddr(message["To"])[1]: message for message in smtp_server.messages
    }
    for recipient_id in expected:
        message = by_address[everyone[recipient_id].email]
        attached = sorted(part.get_filename() for part in message.iter_attachments())
        files = sorted(f.path.rsplit("/", 1)[1] for f in export.files_of(recipient_id))
        assert attached == files, recipient_id
    office = by_address[everyone["credit_office"].email]
    workbook = next(p for p in office.iter_attachments() if p.get_filename().endswith(".xlsx"))
    assert (
        workbook.get_payload(decode=True)
        == (export.folder / "credit_office" / workbook.get_filename()).read_bytes()
    )

    assert set(deliver(export.kind, export.period).values()) == {"already sent"}
    assert len(smtp_server.messages) == len(expected), "no second e-mail for the same files"
    forced = deliver(export.kind, export.period, force=True)
    assert set(forced.values()) == {"sent"}
    assert len(smtp_server.messages) == 2 * len(expected)

    with psycopg.connect(quarter_county.url) as conn:
        logged = conn.execute(
            "select forced, count(*) from audit.deliveries"
            " where kind = %s and period = %s and status = 'sent' group by forced",
            (export.kind, export.period),
        ).fetchall()
        accessed = conn.execute(
            "select login, detail->>'recipient_id' from audit.access_log"
            " where action = 'delivery' and target = %s and detail->>'status' = 'sent'",
            (f"{export.kind}/{export.period}",),
        ).fetchall()
    assert dict(logged) == {False: len(expected), True: len(expected)}
    assert sorted(accessed) == sorted(("credit_exporter", r) for r in expected for _ in range(2))


def test_without_a_connection_nothing_is_sent(quarter_county, monkeypatch) -> None:
    monkeypatch.delenv(f"AIRFLOW_CONN_{SMTP_CONN.upper()}", raising=False)
    export = export_daily_warnings()
    (outcome,) = deliver(export.kind, export.period).values()
    assert outcome.startswith("not sent")


def test_a_server_down_fails_the_delivery_and_the_next_one_sends_each_file_once(
    quarter_county, smtp_server, monkeypatch
) -> None:
    export = export_quarterly_statistics("2026Q1")
    conn_var = f"AIRFLOW_CONN_{SMTP_CONN.upper()}"
    running = os.environ[conn_var]
    monkeypatch.setenv(conn_var, "smtp://127.0.0.1:9")  # nothing listens there
    with pytest.raises(DeliveryFailed):
        deliver(export.kind, export.period)
    assert smtp_server.messages == []
    with psycopg.connect(quarter_county.url) as conn:
        attempts = conn.execute(
            "select status, count(*), count(error) from audit.deliveries"
            " where kind = %s and period = %s group by status",
            (export.kind, export.period),
        ).fetchall()
    expected = {f.recipient_id for f in export.files}
    assert attempts == [("failed", len(expected), len(expected))]  # each with its reason

    monkeypatch.setenv(conn_var, running)  # the server is back: the retry sends everything
    assert set(deliver(export.kind, export.period).values()) == {"sent"}
    assert set(deliver(export.kind, export.period).values()) == {"already sent"}
    addresses = [email.utils.parseaddr(m["To"])[1] for m in smtp_server.messages]
    assert len(addresses) == len(set(addresses)) == len(expected)  # once each
