"""The simulated departments' JSON HTTP API (接口服务), on the stdlib ThreadingHTTPServer.

``GET /api/v1/{dept_code}/{kind}?updated_since=&updated_before=&page=&page_size=`` with
``Authorization: Bearer <token>`` answers ``{"items": [...], "page", "page_size", "total",
"next_page"}``, items ordered by (updated_at, record_id), ``updated_since`` exclusive.
A wrong or missing token gets 401, an unknown department or kind 404, a bad parameter 400.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
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
from county_sim.systems import api_dir
from credit.sources import sources


class BadRequest(ValueError):
    """A request parameter the API cannot use."""


def parse_time(text: str) -> dt.datetime:
    """An ISO date or timestamp; naive values are taken as China Standard Time."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))


def page_of(folder: Path, query: dict[str, list[str]]) -> dict[str, Any]:
    """One page of a department's rows of a kind, filtered by update time."""
    api = simulator_config()["api"]
    try:
        page = int(query.get("page", ["1"])[0])
        size = int(query.get("page_size", [str(api["default_page_size"])])[0])
        since = parse_time(query["updated_since"][0]) if "updated_since" in query else None
        before = parse_time(query["updated_before"][0]) if "updated_before" in query else None
    except ValueError as error:
        raise BadRequest(str(error)) from error
    if page < 1 or not 1 <= size <= int(api["max_page_size"]):
        raise BadRequest("page must be >= 1 and page_size between 1 and max_page_size")
    items = []
    first_day = f"{since:%Y%m%d}" if since else ""
    for path in sorted(folder.glob("*.jsonl")) if folder.exists() else []:
        if path.stem < first_day:
            continue  # files are per update day: older days cannot match
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            updated = parse_time(item["updated_at"])
            if (since is None or updated > since) and (before is None or updated < before):
                items.append((updated, item["record_id"], item))
    items.sort(key=lambda entry: (entry[0], entry[1]))
    chunk = items[(page - 1) * size : page * size]
    more = page * size < len(items)
    return {
        "items": [entry[2] for entry in chunk],
        "page": page,
        "page_size": size,
        "total": len(items),
        "next_page": page + 1 if more else None,
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        segments = parts.path.strip("/").split("/")
        expected = f"Bearer {self.server.token}"
        if not hmac.compare_digest(self.headers.get("Authorization", ""), expected):
            self._send(HTTPStatus.UNAUTHORIZED, {"error": "invalid or missing bearer token"})
            return
        if len(segments) != 4 or segments[:2] != ["api", "v1"]:
            self._send(HTTPStatus.NOT_FOUND, {"error": "use /api/v1/{dept_code}/{kind}"})
            return
        dept_code, kind = segments[2], segments[3]
        source = sources().get(dept_code)
        if source is None or source.shape != "http_api" or kind not in source.kinds:
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no API for {dept_code}/{kind}"})
            return
        try:
            body = page_of(self.server.root / dept_code / kind, parse_qs(parts.query))
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
