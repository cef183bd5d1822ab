"""HTTP API (接口): paged JSON with a bearer token, pulled incrementally by ``updated_at``."""

from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from credit.catalogue import RecordKind
from credit.connectors import (
    COUNTY_TZ,
    Chunk,
    Pull,
    RejectedDelivery,
    SourceUnavailable,
    as_text,
    source_names,
    text_values,
)
from credit.landing import SourceRow, storable


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
    page: int | None = 1
    while page is not None:
        read = read_page(client.get(path, {**params, "page": page}), page, names, until)
        yield read.rows, read.watermark
        page = read.next_page


@dataclass(frozen=True)
class Page:
    """A page's rows, the largest ``updated_at`` among them, and the page after it (None on the
    last)."""

    rows: list[SourceRow]
    watermark: datetime | None
    next_page: int | None


# JSON's only ways to send what PostgreSQL text cannot hold: the escapes of NUL and of a
# surrogate (a pair is one character; a lone one is none).
UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
NOT_AN_OBJECT = "item is not a JSON object"
# Containers in an item deeper than this reject its page: Python's parser reads some 1,000
# levels, and writing such a value again (to land it) would need more stack than is left.
MAX_NESTING = 100


def read_page(data: bytes, page: int, names: tuple[str, ...], until: datetime) -> Page:
    """The rows of page ``page`` of a pull: one per item, those changed at or after ``until``
    left for a later night. ``names`` are the source's names of the catalogue's columns
    (:func:`~credit.connectors.source_names`); a field of another name is kept in
    ``extra_fields``, an item that is not an object is kept whole there, its row marked.

    :class:`RejectedDelivery` when the page is not a JSON object with a list of items and a
    later page (or none) next: it cannot be read as rows."""
    text, body = _json(data, page)
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise RejectedDelivery(f"page {page} is not a JSON object with a list of items")
    items = body["items"]
    next_page = _next_page(body.get("next_page"), page)
    known = frozenset(names)
    rows: list[SourceRow] = []
    watermark: datetime | None = None
    for number, item in enumerate(items, start=1):
        if _nested_deeper(item, MAX_NESTING):
            raise RejectedDelivery(
                f"page {page}: item {number} is nested deeper than {MAX_NESTING} levels"
            )
        if not isinstance(item, dict):
            rows.append(
                SourceRow(
                    source_ref=f"page {page} item {number}",
                    values=(None,) * len(names),
                    extra_fields={"item": item},
                    parse_problem=NOT_AN_OBJECT,
                )
            )
            continue
        updated_at = _timestamp(item.get("updated_at"))
        if updated_at is not None and updated_at >= until:
            continue
        record_id = as_text(item.get("record_id"))
        rows.append(
            SourceRow(
                source_ref=f"page {page} item {number}" if record_id is None else record_id,
                values=text_values(item, names),
                extra_fields={k: v for k, v in item.items() if k not in known} or None,
            )
        )
        if updated_at is not None:
            watermark = max(watermark or updated_at, updated_at)
    if UNSTORABLE_ESCAPE.search(text):
        rows = [storable(row) for row in rows]
    return Page(rows, watermark, next_page)


def _json(data: bytes, page: int) -> tuple[str, object]:
    """A page's text and its JSON value. Numbers beyond a float's range or ``int()``'s digits,
    and the ``NaN`` and ``Infinity`` JSON has not, are kept as the text sent (``jsonb`` holds
    none of them)."""
    try:
        text = data.decode(json.detect_encoding(data))
        return text, json.loads(
            text, parse_int=_number(int), parse_float=_number(float), parse_constant=str
        )
    except (ValueError, RecursionError) as error:  # undecodable bytes, no JSON, too deep
        raise RejectedDelivery(f"page {page} is not JSON: {error}") from error


def _nested_deeper(value: object, levels: int) -> bool:
    """Whether a JSON value holds containers more than ``levels`` below it (walked level by
    level: a flat item costs one look at its values)."""
    containers = [value] if isinstance(value, dict | list) else []
    for _ in range(levels):
        children = (
            child
            for container in containers
            for child in (container.values() if isinstance(container, dict) else container)
        )
        containers = [child for child in children if isinstance(child, dict | list)]
        if not containers:
            return False
    return True


def _number(parse: Callable[[str], int | float]) -> Callable[[str], int | float | str]:
    def number(text: str) -> int | float | str:
        try:
            value = parse(text)
        except ValueError:  # more digits than int() reads
            return text
        return value if math.isfinite(value) else text

    return number


def _next_page(value: object, page: int) -> int | None:
    """The page after ``page`` (None: the last); one that does not move on would never end."""
    if not value:
        return None
    if isinstance(value, int | str) and not isinstance(value, bool):
        text = str(value)
        if text.isdecimal() and len(text) < 10 and int(text) > page:
            return int(text)
    raise RejectedDelivery(f"page {page}: next_page {str(value)[:40]!r} is not a later page")


def _timestamp(text: object) -> datetime | None:
    """``updated_at`` as sent, in UTC; None when unreadable (the row lands and validation
    rejects it). Without an offset it is the county's time, which department systems keep."""
    try:
        moment = datetime.fromisoformat(str(text))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=COUNTY_TZ)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # no timestamp; one beyond the calendar in UTC
        return None
