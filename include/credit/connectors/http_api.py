"""HTTP API (接口): paged JSON with a bearer token, pulled incrementally by ``updated_at``."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from credit.catalogue import RecordKind
from credit.connectors import Chunk, Pull, SourceUnavailable, source_names, text_values
from credit.landing import SourceRow, without_nul

ESCAPED_NUL = b"\\u0000"


@dataclass(frozen=True)
class ApiClient:
    """Where a department's API is and how patiently to talk to it."""

    base_url: str
    token: str
    page_size: int = 500
    timeout: float = 10.0
    attempts: int = 4
    backoff: float = 0.5

    def get(self, path: str, params: dict[str, str | int]) -> bytes:
        """The body of a GET, retried with backoff while the system fails or times out."""
        url = f"{self.base_url.rstrip('/')}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
        for attempt in range(self.attempts):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return response.read()
            except urllib.error.HTTPError as error:
                # A refused token or a missing endpoint will not heal by waiting.
                if error.code < 500 or attempt == self.attempts - 1:
                    raise SourceUnavailable(f"GET {url}: HTTP {error.code}") from error
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                if attempt == self.attempts - 1:
                    raise SourceUnavailable(f"GET {url}: {error}") from error
            time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")


def pull_api(
    client: ApiClient,
    dept_code: str,
    kind: RecordKind,
    since: datetime | None,
    until: datetime,
    field_map: Mapping[str, str] | None = None,
) -> Pull:
    """Every row changed after ``since``, keeping those before ``until``, fetched page by page
    as the pull is iterated."""
    return Pull(_pages(client, dept_code, kind, since, until, field_map))


def _pages(
    client: ApiClient,
    dept_code: str,
    kind: RecordKind,
    since: datetime | None,
    until: datetime,
    field_map: Mapping[str, str] | None,
) -> Iterator[Chunk]:
    path = f"/api/v1/{dept_code}/{kind.name}"
    params: dict[str, str | int] = {
        "page_size": client.page_size,
        "updated_before": until.isoformat(),
    }
    if since is not None:
        params["updated_since"] = since.isoformat()
    names = source_names(kind.column_names, field_map)
    columns = frozenset(kind.column_names)
    page = 1
    while True:
        data = client.get(path, {**params, "page": page})
        body = json.loads(data)
        rows: list[SourceRow] = []
        watermark: datetime | None = None
        for item in body["items"]:
            updated_at = _timestamp(item.get("updated_at"))
            if updated_at is not None and updated_at >= until:
                continue
            rows.append(
                SourceRow(
                    source_ref=str(item.get("record_id")),
                    values=text_values(item, names),
                    extra_fields={k: v for k, v in item.items() if k not in columns} or None,
                )
            )
            if updated_at is not None:
                watermark = max(watermark or updated_at, updated_at)
        if ESCAPED_NUL in data:  # JSON's only way to send a NUL
            rows = [without_nul(row) for row in rows]
        yield rows, watermark
        if not body.get("next_page"):
            return
        page = int(body["next_page"])


def _timestamp(text: object) -> datetime | None:
    """``updated_at`` as sent; None when unreadable (the row lands and validation rejects it)."""
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None
