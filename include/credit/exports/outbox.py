"""The outbox: ``<data dir>/outbox/<kind>/<period>/v<n>/<recipient>/`` and its ``manifest.json``.

An export of a period is a version (``v1``, ``v2``, ...) beside the ones before, which stay as
they were written and delivered: a version holds the whole export (a recipient that has nothing
any more has no folder in it), its manifest lists every file with its rows and sha256 and the
lineage of the marts it was made from. An export whose files are the same as the latest
version's (same ``content_sha256``) makes no new version. The reports of a period are written by
one process per core, each report whole by one of them.

An export is written beside the outbox's folders (``<outbox>/.partial/<kind>/<period>/``) and
renamed to its version's folder once every file and the manifest are written: a failure (an
unwritable or full disk) leaves no version, never half of one.

Every folder and file name built from data (kind, period, recipient, report) passes through
:func:`safe_file_name`, so that none can leave its folder or name something else.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import unicodedata
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from credit.exports.document import Document, write_document
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
    """What one export of a kind and period wrote: its version's folder and files; ``new`` is
    false when the files were those of the latest version already, which is then returned."""

    kind: str
    period: str
    as_of_date: date
    folder: Path
    files: tuple[ExportedFile, ...]
    version: int = 1
    new: bool = True
    lineage: dict[str, Any] | None = None

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
            "version": self.version,
            "new_version": self.new,
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


@dataclass(frozen=True)
class _Report:
    """One recipient's report, to be written: ``<stem>.xlsx`` and a CSV per table, or, for a
    document, ``<stem>.docx`` alone."""

    recipient: Recipient
    stem: str
    tables: Sequence[Table]
    title: str
    document: Document | None = None

    @property
    def cells(self) -> int:
        return sum(len(table.rows) * len(table.columns) for table in self.tables)


# Names Windows keeps for devices: a file so named, whatever its extension, cannot be opened
# there (the files are e-mailed and copied to the departments' Windows machines).
RESERVED_FILE_NAMES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{port}{n}" for port in ("com", "lpt") for n in range(10)]
)
# A file system holds 255 bytes a name: room left for a report's ``_<table>.csv``.
MAX_FILE_NAME_BYTES = 180
_DOTS = re.compile(r"\.{2,}")


def safe_file_name(text: str) -> str:
    """``text`` as one file or folder name, safe on any system: NFKC-normalised (a full-width
    ``／`` or ``．`` is a slash or a dot), letters and digits of any script, ``-``, ``_`` and
    ``.`` kept, any other character (a path separator, a space, a control or bidirectional
    mark) ``_``; dots one at a time, none first or last (never ``.``, ``..`` or hidden);
    never a reserved device name (``CON``, ``NUL.txt``: ``_`` first), never empty, at most
    ``MAX_FILE_NAME_BYTES`` bytes of UTF-8.  A name already safe is returned as it is."""
    kept = "".join(
        char if char.isalnum() or char in "-_." else "_"
        for char in unicodedata.normalize("NFKC", text)
    )
    name = _DOTS.sub(".", kept).lstrip(".")
    if name.split(".", 1)[0].lower() in RESERVED_FILE_NAMES:
        name = "_" + name
    return name.encode()[:MAX_FILE_NAME_BYTES].decode(errors="ignore").rstrip(".") or "_"


def csv_file_name(stem: str, table: Table) -> str:
    """The name of the CSV file of ``table`` in the report ``stem`` (a safe name,
    :func:`safe_file_name`)."""
    return f"{safe_file_name(f'{stem}_{table.csv_name}')}.csv"


def period_folder(kind: str, period: str) -> Path:
    """The folder of a period's versions: ``<outbox>/<kind>/<period>/``."""
    return outbox_dir() / safe_file_name(kind) / safe_file_name(period)


VERSION_FOLDER = re.compile(r"v([1-9][0-9]*)")


def latest_version(kind: str, period: str) -> tuple[int, Path] | None:
    """The latest version of a period's export (its number and folder); ``None`` before the
    first. A version is a ``v<n>`` folder holding its manifest (written last)."""
    folder = period_folder(kind, period)
    versions = [
        (int(match.group(1)), path)
        for path in (folder.iterdir() if folder.is_dir() else ())
        if (match := VERSION_FOLDER.fullmatch(path.name)) and (path / MANIFEST).is_file()
    ]
    return max(versions, default=None)


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


def manifest_files(manifest: dict[str, Any]) -> tuple[ExportedFile, ...]:
    """The files a manifest lists."""
    return tuple(
        ExportedFile(f["path"], f["recipient"], f["rows"], f["sha256"], f["bytes"])
        for f in manifest["files"]
    )


class OutboxError(OSError):
    """The outbox could not be written; the period's versions are left as they were."""


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class ExportWriter:
    """Writes the reports of one kind and period as the period's next version.

    ``workers`` processes write the reports (default: one per core the process may use); the
    files are the same byte for byte, and listed in the order the reports were made.
    ``lineage`` (:func:`credit.lineage.marts_lineage`) goes into the manifest as it is.
    """

    def __init__(
        self,
        kind: str,
        period: str,
        as_of_date: date,
        created: date,
        workers: int | None = None,
        lineage: dict[str, Any] | None = None,
    ) -> None:
        self.kind, self.period, self.as_of_date, self.created = kind, period, as_of_date, created
        self.workers = workers or len(os.sched_getaffinity(0))
        self.lineage = lineage
        self.folder = period_folder(kind, period)
        self.partial = outbox_dir() / ".partial" / self.folder.parent.name / self.folder.name
        self.reports: list[_Report] = []
        self._paths: set[str] = set()  # every file the reports will write, case folded

    def report(
        self, recipient: Recipient, stem: str, tables: Sequence[Table], *, title: str
    ) -> None:
        """One recipient's report: ``<stem>.xlsx`` plus ``<stem>_<table>.csv`` per table in
        the recipient's folder, written by :meth:`finish`; the names made safe
        (:func:`safe_file_name`).  A report whose names would be another's is refused."""
        self._add(_Report(recipient, safe_file_name(stem), tables, title))

    def document(self, recipient: Recipient, stem: str, document: Document) -> None:
        """One recipient's document: ``<stem>.docx`` in its folder, written by :meth:`finish`."""
        self._add(_Report(recipient, safe_file_name(stem), (), document.title, document))

    def _add(self, report: _Report) -> None:
        """Queue a report; one whose names would be another's is refused."""
        # Compared without case: Windows, where the files are opened, does not tell CON from con.
        paths = [str(self._folder(report) / name).casefold() for name in self._names(report)]
        if len(set(paths)) < len(paths) or not self._paths.isdisjoint(paths):
            raise ValueError(
                f"report {report.stem!r} of {report.recipient.recipient_id!r}: a file name is taken"
                f" ({self._names(report)})"
            )
        self._paths.update(paths)
        self.reports.append(report)

    def _folder(self, report: _Report) -> Path:
        return self.partial / safe_file_name(report.recipient.recipient_id)

    @staticmethod
    def _names(report: _Report) -> list[str]:
        """The report's file names: its workbook's, then its tables' CSVs'; a document's own."""
        if report.document is not None:
            return [f"{report.stem}.docx"]
        csvs = [csv_file_name(report.stem, table) for table in report.tables]
        return [f"{report.stem}.xlsx", *csvs]

    def _write(self, index: int) -> list[ExportedFile]:
        report = self.reports[index]
        folder = self._folder(report)
        if report.document is not None:
            path = folder / self._names(report)[0]
            write_document(path, report.document, created=self.created)
            rows = {table.sheet: len(table.rows) for table in report.document.tables}
            return [self._file(path, report, rows)]
        workbook_name, *csv_names = self._names(report)
        workbook = folder / workbook_name
        write_workbook(workbook, report.tables, title=report.title, created=self.created)
        sheets = {t.sheet: len(t.rows) for t in report.tables if t.in_workbook}
        files = [self._file(workbook, report, sheets)]
        for table, name in zip(report.tables, csv_names, strict=True):
            path = folder / name
            write_csv(path, table)
            files.append(self._file(path, report, {table.sheet: len(table.rows)}))
        return files

    def _file(self, path: Path, report: _Report, rows: dict[str, int]) -> ExportedFile:
        return ExportedFile(
            path=path.relative_to(self.partial).as_posix(),
            recipient_id=report.recipient.recipient_id,
            rows=rows,
            sha256=sha256_file(path),
            bytes=path.stat().st_size,
        )

    def _write_all(self) -> list[ExportedFile]:
        """Every report's files: the largest reports first, each to the next free process (forked,
        so the rows are not copied to it)."""
        workers = min(self.workers, len(self.reports))
        indexes = range(len(self.reports))
        if workers < 2:
            return [file for index in indexes for file in self._write(index)]
        global _writing
        _writing = self
        largest_first = sorted(indexes, key=lambda index: -self.reports[index].cells)
        # Forked from a task, a process keeps the task runner's SIGTERM handler: restored, so
        # that a process stopped with its task stops.
        try:
            with ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=signal.signal,
                initargs=(signal.SIGTERM, signal.SIG_DFL),
            ) as pool:
                results = pool.map(_write_report, largest_first)
                written = dict(zip(largest_first, results, strict=True))
        finally:
            _writing = None
        return [file for index in indexes for file in written[index]]

    def finish(self) -> Export:
        """Write the reports and ``manifest.json``, then make them the period's next version;
        return the export (the latest version, not new, when its files are the same). Raises
        :class:`OutboxError` when the outbox cannot be written."""
        latest = latest_version(self.kind, self.period)
        version = latest[0] + 1 if latest else 1
        try:
            if self.partial.exists():  # what an interrupted export left
                shutil.rmtree(self.partial)
            self.partial.mkdir(parents=True)
            export = self._write_partial(version)
            previous = read_manifest(latest[1]) if latest else None
            if latest and previous and previous["content_sha256"] == export.content_sha256:
                shutil.rmtree(self.partial)
                return replace(
                    export,
                    folder=latest[1],
                    version=latest[0],
                    new=False,
                    lineage=previous.get("lineage"),
                )
            # A rename never replaces a folder with files: a version written meanwhile by
            # another export of the period is an error, not overwritten.
            self.folder.mkdir(parents=True, exist_ok=True)
            self.partial.rename(export.folder)
        except OSError as error:
            shutil.rmtree(self.partial, ignore_errors=True)
            raise OutboxError(
                f"the outbox could not be written ({error}); {self.folder} is left as it was"
            ) from error
        return export

    def _write_partial(self, version: int) -> Export:
        files = tuple(self._write_all())
        folder = self.folder / f"v{version}"
        export = Export(
            self.kind, self.period, self.as_of_date, folder, files, version, lineage=self.lineage
        )
        manifest = {
            "kind": self.kind,
            "period": self.period,
            "version": version,
            "as_of_date": self.as_of_date.isoformat(),
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "content_sha256": export.content_sha256,
            "lineage": self.lineage,
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
        (self.partial / MANIFEST).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        return export


# The writer whose reports the forked processes write (set for the time of one finish()).
_writing: ExportWriter | None = None


def _write_report(index: int) -> list[ExportedFile]:
    assert _writing is not None
    return _writing._write(index)
