"""The simulated departments' JSON HTTP API (接口服务), on the stdlib ThreadingHTTPServer.

Most departments' APIs answer ``GET /api/v1/{dept_code}/{kind}?updated_since=&updated_before=
&page=&page_size=`` with ``{"items": [...], "total", "next_page"}``; a department that names
things its own way (``own_names`` in ``simulator.yaml``) answers at its own paths, with its own
paging (page numbers, offsets or page tokens), parameters and wrapping.  Items are ordered by
(change time, key), the changed-after bound exclusive.  Every request needs ``Authorization:
Bearer <token>``: a wrong or missing token gets 401, an unknown path 404, a bad parameter 400.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from county_sim.settings import api_token, simulator_config
from county_sim.systems import SystemNames, api_dir, system_names
from credit.sources import sources


class BadRequest(ValueError):
    """A request parameter the API cannot use."""


def parse_time(text: str) -> dt.datetime:
    """An ISO date or timestamp; naive values are taken as China Standard Time."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))


def answer(
    folder: Path, names: SystemNames, kind: str, query: dict[str, list[str]]
) -> dict[str, Any]:
    """One page of a department's rows of a kind changed in the asked window, as its API
    (``names.api``) pages and wraps them; rows ordered by (change time, key)."""
    style, limits = names.api, simulator_config()["api"]

    def asked(param: str) -> str | None:
        name = style.params.get(param)
        return query[name][0] if name and name in query else None

    try:
        size = int(asked("size") or limits["default_page_size"])
        since, before = (parse_time(t) if t else None for t in (asked("since"), asked("until")))
        position = asked("position")
        after = _cursor_key(position) if style.paging == "cursor" and position else None
        start = _start(style.paging, position, size)
    except ValueError as error:
        raise BadRequest(str(error)) from error
    if not 1 <= size <= int(limits["max_page_size"]):
        raise BadRequest(f"{style.params['size']} must be between 1 and max_page_size")
    items = _changed(folder, names, kind, since, before)
    total = len(items)
    if after is not None:
        items = [item for item in items if item[:2] > after]
    chunk, more = items[start : start + size], start + size < len(items)
    following: int | str | None = None
    if more:
        following = start // size + 2 if style.paging == "page" else _cursor(*chunk[-1][:2])
    body = json.loads(json.dumps(style.envelope))
    _put(body, style.rows_path, [item for *_, item in chunk])
    if style.total_path:
        _put(body, style.total_path, total)
    if style.next_path:
        _put(body, style.next_path, following)
    return body


def _changed(
    folder: Path,
    names: SystemNames,
    kind: str,
    since: dt.datetime | None,
    before: dt.datetime | None,
) -> list[tuple[dt.datetime, str, dict[str, Any]]]:
    """(change time, key, item) of the rows changed after ``since`` and before ``before``."""
    key, changed = names.name(kind, "record_id"), names.name(kind, "updated_at")
    if not folder.exists():
        return []
    # Files are per update day (<YYYYMMDD>.jsonl): older days cannot match and are not opened;
    # the names are compared as listed, not years of paths built and sorted for each request.
    first_day = f"{since:%Y%m%d}" if since else ""
    with os.scandir(folder) as listing:
        days = sorted(
            entry.name
            for entry in listing
            if entry.name.endswith(".jsonl")
            and not entry.name.startswith(".")
            and entry.name >= first_day
        )
    items = []
    for name in days:
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            updated = parse_time(item[changed])
            if (since is None or updated > since) and (before is None or updated < before):
                items.append((updated, item[key], item))
    return sorted(items, key=lambda entry: entry[:2])


def _start(paging: str, position: str | None, size: int) -> int:
    """The first row's index a page number or an offset asks for (after a cursor: 0)."""
    if paging == "page":
        page = int(position or "1")
        if page < 1:
            raise ValueError("page must be >= 1")
        return (page - 1) * size
    offset = int(position or "0") if paging == "offset" else 0
    if offset < 0:
        raise ValueError("offset must be >= 0")
    return offset


def _cursor(updated: dt.datetime, key: str) -> str:
    """An opaque page token: the (change time, key) of the last row handed out."""
    return base64.urlsafe_b64encode(json.dumps([updated.isoformat(), key]).encode()).decode()


def _cursor_key(token: str) -> tuple[dt.datetime, str]:
    try:
        updated, key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError) as error:
        raise ValueError(f"bad page token {token!r}") from error
    return parse_time(updated), key


def _put(body: dict[str, Any], dotted: str, value: Any) -> None:
    *outer, last = dotted.split(".")
    for key in outer:
        body = body.setdefault(key, {})
    body[last] = value


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        expected = f"Bearer {self.server.token}"
        if not hmac.compare_digest(self.headers.get("Authorization", ""), expected):
            self._send(HTTPStatus.UNAUTHORIZED, {"error": "invalid or missing bearer token"})
            return
        route = self.server.routes.get(parts.path)
        if route is None:
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no API at {parts.path}"})
            return
        names, kind = route
        try:
            folder = self.server.root / names.dept_code / kind
            body = answer(folder, names, kind, parse_qs(parts.query))
        except BadRequest as error:
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(error)})
            return
        self._send(HTTPStatus.OK, body)

    def _send(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: request logs would drown the CLI's output."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], root: Path, token: str) -> None:
        super().__init__(address, _Handler)
        self.root, self.token = root, token
        # Each API department's path per kind: its own, or /api/v1/<dept_code>/<kind>.
        self.routes: dict[str, tuple[SystemNames, str]] = {}
        for source in sources().values():
            if source.shape == "http_api":
                names = system_names(source.dept_code)
                for kind in source.kinds:
                    self.routes[names.api.paths[kind]] = (names, kind)


@dataclass
class ApiServer:
    """A running API server: ``url`` to call it, ``stop()`` to end it."""

    server: _Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        host, port = self.server.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def start_api(
    host: str | None = None,
    port: int | None = None,
    token: str | None = None,
    root: Path | None = None,
) -> ApiServer:
    """Start serving in a background thread; port 0 picks a free port."""
    api = simulator_config()["api"]
    server = _Server(
        (host or api["host"], api["port"] if port is None else port),
        root or api_dir(),
        token or api_token(),
    )
    thread = threading.Thread(target=server.serve_forever, name="county-api", daemon=True)
    thread.start()
    return ApiServer(server, thread)


@contextmanager
def serve_api(**kwargs: Any) -> Iterator[ApiServer]:
    """``with serve_api(port=0) as api: ... api.url ...``: the server stops on exit."""
    server = start_api(**kwargs)
    try:
        yield server
    finally:
        server.stop()
