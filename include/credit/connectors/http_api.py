"""HTTP API (接口): paged JSON with a bearer token, pulled incrementally by a change timestamp."""

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
from credit.connectors import (
    Chunk,
    Pull,
    SourceUnavailable,
    key_names,
    source_names,
    text_values,
)
from credit.landing import SourceRow, without_nul
from credit.sources import ApiProtocol, Paging

ESCAPED_NUL = b"\\u0000"


@dataclass(frozen=True)
class ApiClient:
    """Where a department's API is and how patiently to talk to it."""

    base_url: str
    token: str
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
    api: ApiProtocol,
    kind: RecordKind,
    since: datetime | None,
    until: datetime,
    field_map: Mapping[str, str] | None = None,
) -> Pull:
    """Every row changed after ``since``, keeping those before ``until``, fetched a request at a
    time (``api``: the kind's path, the paging and the parameters) as the pull is iterated.
    ``field_map`` (:meth:`~credit.sources.Source.field_map_of`) names the API's fields, its key
    and change timestamp (those of ``record_id`` and ``updated_at``) among them."""
    return Pull(_pages(client, api, kind, since, until, field_map))


def _pages(
    client: ApiClient,
    api: ApiProtocol,
    kind: RecordKind,
    since: datetime | None,
    until: datetime,
    field_map: Mapping[str, str] | None,
) -> Iterator[Chunk]:
    path, paging = api.path(kind.name), api.paging
    params: dict[str, str | int] = {paging.size_param: paging.size}
    if api.until_param is not None:
        params[api.until_param] = until.isoformat()
    if since is not None:
        params[api.since_param] = since.isoformat()
    names = source_names(kind.column_names, field_map)
    key, changed = key_names(kind, names)
    known = frozenset(names)
    position: int | str | None = FIRST_POSITION[paging.style]
    while position is not None:
        query = params if position == "" else {**params, paging.position_param: position}
        data = client.get(path, query)
        body = _json(data, path)
        items = _found(body, api.rows_path, path)
        if not isinstance(items, list):
            raise SourceUnavailable(f"GET {path}: {'.'.join(api.rows_path)} is not a list of rows")
        rows: list[SourceRow] = []
        watermark: datetime | None = None
        for item in items:
            updated_at = _timestamp(item.get(changed))
            if updated_at is not None and updated_at >= until:
                continue
            rows.append(
                SourceRow(
                    source_ref=str(item.get(key)),
                    values=text_values(item, names),
                    extra_fields={k: v for k, v in item.items() if k not in known} or None,
                )
            )
            if updated_at is not None:
                watermark = max(watermark or updated_at, updated_at)
        if ESCAPED_NUL in data:  # JSON's only way to send a NUL
            rows = [without_nul(row) for row in rows]
        yield rows, watermark
        position = _next_position(paging, body, position, len(items), path)


# Where each paging style starts: page 1, offset 0, no cursor (the first request sends none).
FIRST_POSITION: dict[str, int | str] = {"page": 1, "offset": 0, "cursor": ""}


def _next_position(
    paging: Paging, body: object, position: int | str, rows: int, path: str
) -> int | str | None:
    """The next request's page number, offset or cursor; None when the answer was the last."""
    if paging.style == "offset":
        total = None if paging.total_path is None else _found(body, paging.total_path, path)
        after = int(position) + rows
        return None if rows == 0 or (total is not None and after >= _whole(total, path)) else after
    if paging.next_path is None:  # pages numbered on until one comes back empty
        return int(position) + 1 if rows else None
    following = _found(body, paging.next_path, path, required=False)
    if following in (None, ""):
        return None
    following = _whole(following, path) if paging.style == "page" else str(following)
    if following == position:
        raise SourceUnavailable(f"GET {path}: the answer names the same page again ({position})")
    return following


def _whole(value: object, path: str) -> int:
    """A page number or a total as the answer gives it."""
    try:
        return int(str(value))
    except ValueError as error:
        raise SourceUnavailable(f"GET {path}: {value!r} is not a page number or count") from error


def _json(data: bytes, path: str) -> object:
    try:
        return json.loads(data)
    except ValueError as error:
        raise SourceUnavailable(f"GET {path}: the answer is not JSON ({error})") from error


def _found(body: object, keys: tuple[str, ...], path: str, required: bool = True) -> object:
    """The value at ``keys`` in a JSON answer; an answer without it, when ``required``, is a
    system answering something else (an error wrapped in a 200) and fails the pull."""
    value = body
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            if not required:
                return None
            raise SourceUnavailable(
                f"GET {path}: the answer has no {'.'.join(keys)}: {str(body)[:200]}"
            )
        value = value[key]
    return value


def _timestamp(text: object) -> datetime | None:
    """The change timestamp as sent; None when unreadable (the row lands and validation
    rejects it)."""
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None
