"""The outbox: ``<data dir>/outbox/<kind>/<period>/<recipient>/`` and its ``manifest.json``.

A period's folder is rewritten whole on every export, so a recipient that has nothing any more
keeps no stale file; the manifest lists every file with its rows and sha256, and only its
``generated_at`` differs between two exports of the same data.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from credit.exports.settings import Recipient, outbox_dir
from credit.exports.workbook import Table, write_csv, write_workbook

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ExportedFile:
    """One file of an export, as the manifest lists it."""

    path: str  # relative to the period folder: <recipient>/<name>
    recipient_id: str
    rows: dict[str, int]  # per sheet (XLSX) or the one table (CSV)
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Export:
    """What one export of a kind and period wrote."""

    kind: str
    period: str
    as_of_date: date
    folder: Path
    files: tuple[ExportedFile, ...]

    @property
    def content_sha256(self) -> str:
        return content_hash(self.files)

    def summary(self) -> dict[str, object]:
        """What a DAG task returns: where the files are and how many."""
        return {
            "kind": self.kind,
            "period": self.period,
            "as_of_date": self.as_of_date.isoformat(),
            "folder": str(self.folder),
            "files": len(self.files),
            "recipients": len({f.recipient_id for f in self.files}),
        }

    def files_of(self, recipient_id: str) -> list[ExportedFile]:
        return [f for f in self.files if f.recipient_id == recipient_id]


def content_hash(files: Iterable[ExportedFile]) -> str:
    """One hash over files' names and hashes: equal for byte-identical sets of files."""
    digest = hashlib.sha256()
    for item in sorted(files, key=lambda f: f.path):
        digest.update(f"{item.path}\0{item.sha256}\n".encode())
    return digest.hexdigest()


def period_folder(kind: str, period: str) -> Path:
    return outbox_dir() / kind / period


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class ExportWriter:
    """Writes the reports of one kind and period into a fresh period folder."""

    def __init__(self, kind: str, period: str, as_of_date: date, created: date) -> None:
        self.kind, self.period, self.as_of_date, self.created = kind, period, as_of_date, created
        self.folder = period_folder(kind, period)
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        self.files: list[ExportedFile] = []

    def report(
        self, recipient: Recipient, stem: str, tables: Sequence[Table], *, title: str
    ) -> None:
        """One recipient's report: ``<stem>.xlsx`` plus ``<stem>_<table>.csv`` per table."""
        folder = self.folder / recipient.recipient_id
        workbook = folder / f"{stem}.xlsx"
        write_workbook(workbook, tables, title=title, created=self.created)
        self._add(workbook, recipient, {table.sheet: len(table.rows) for table in tables})
        for table in tables:
            path = folder / f"{stem}_{table.csv_name}.csv"
            write_csv(path, table)
            self._add(path, recipient, {table.sheet: len(table.rows)})

    def _add(self, path: Path, recipient: Recipient, rows: dict[str, int]) -> None:
        self.files.append(
            ExportedFile(
                path=path.relative_to(self.folder).as_posix(),
                recipient_id=recipient.recipient_id,
                rows=rows,
                sha256=sha256_file(path),
                bytes=path.stat().st_size,
            )
        )

    def finish(self) -> Export:
        """Write ``manifest.json`` and return the export."""
        export = Export(self.kind, self.period, self.as_of_date, self.folder, tuple(self.files))
        manifest = {
            "kind": self.kind,
            "period": self.period,
            "as_of_date": self.as_of_date.isoformat(),
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "content_sha256": export.content_sha256,
            "files": [
                {
                    "path": f.path,
                    "recipient": f.recipient_id,
                    "rows": f.rows,
                    "sha256": f.sha256,
                    "bytes": f.bytes,
                }
                for f in export.files
            ],
        }
        (self.folder / MANIFEST).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        return export
