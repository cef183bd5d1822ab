"""HTTP API (接口): paged JSON with a bearer token, pulled incrementally by a change timestamp."""

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
    key_names,
    source_names,
    text_values,
)
from credit.landing import SourceRow, storable
from credit.sources import ApiProtocol, Paging


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
    position: int | str | None = FIRST_POSITION[paging.style]
    while position is not None:
        query = params if position == "" else {**params, paging.position_param: position}
        read = read_page(
            client.get(path, query),
            position,
            names,
            until,
            paging=paging,
            rows_path=api.rows_path,
            key=key,
            changed=changed,
        )
        yield read.rows, read.watermark
        position = read.next_position


# The paging of a system that names things as the catalogue does (sources.yaml's default).
STANDARD_PAGING = Paging()
# Where each paging style starts: page 1, offset 0, no cursor (the first request sends none).
FIRST_POSITION: dict[str, int | str] = {"page": 1, "offset": 0, "cursor": ""}


@dataclass(frozen=True)
class Page:
    """An answer's rows, the latest change timestamp among them, and the next request's page
    number, offset or cursor (None after the last)."""

    rows: list[SourceRow]
    watermark: datetime | None
    next_position: int | str | None


# JSON's only ways to send what PostgreSQL text cannot hold: the escapes of NUL and of a
# surrogate (a pair is one character; a lone one is none).
UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
NOT_AN_OBJECT = "item is not a JSON object"
# Containers in an item deeper than this reject its answer: Python's parser reads some 1,000
# levels, and writing such a value again (to land it) would need more stack than is left.
MAX_NESTING = 100


def read_page(
    data: bytes,
    position: int | str,
    names: tuple[str, ...],
    until: datetime,
    *,
    paging: Paging = STANDARD_PAGING,
    rows_path: tuple[str, ...] = ("items",),
    key: str = "record_id",
    changed: str = "updated_at",
) -> Page:
    """The rows of one answer of a pull (at page, offset or cursor ``position``): one per item
    under ``rows_path``, those changed at or after ``until`` left for a later night. ``names``
    are the source's names of the catalogue's columns (:func:`~credit.connectors.source_names`),
    ``key`` and ``changed`` its key's and change timestamp's; a field of another name is kept in
    ``extra_fields``, an item that is not an object is kept whole there, its row marked.

    :class:`RejectedDelivery` when the answer is not JSON with a list of items where
    ``rows_path`` says, or names no later position next: it cannot be read as rows."""
    where = f"answer at {paging.position_param} {position or '(first)'}"
    text, body = _json(data, where)
    items = _found(body, rows_path, where)
    if not isinstance(items, list):
        raise RejectedDelivery(f"{where}: {'.'.join(rows_path)} is not a list of items")
    known = frozenset(names)
    rows: list[SourceRow] = []
    watermark: datetime | None = None
    for number, item in enumerate(items, start=1):
        if _nested_deeper(item, MAX_NESTING):
            raise RejectedDelivery(
                f"{where}: item {number} is nested deeper than {MAX_NESTING} levels"
            )
        if not isinstance(item, dict):
            rows.append(
                SourceRow(
                    source_ref=f"{where} item {number}",
                    values=(None,) * len(names),
                    extra_fields={"item": item},
                    parse_problem=NOT_AN_OBJECT,
                )
            )
            continue
        updated_at = _timestamp(item.get(changed))
        if updated_at is not None and updated_at >= until:
            continue
        record_id = as_text(item.get(key))
        rows.append(
            SourceRow(
                source_ref=f"{where} item {number}" if record_id is None else record_id,
                values=text_values(item, names),
                extra_fields={k: v for k, v in item.items() if k not in known} or None,
            )
        )
        if updated_at is not None:
            watermark = max(watermark or updated_at, updated_at)
    if UNSTORABLE_ESCAPE.search(text):
        rows = [storable(row) for row in rows]
    return Page(rows, watermark, _next_position(paging, body, position, len(items), where))


def _next_position(
    paging: Paging, body: object, position: int | str, rows: int, where: str
) -> int | str | None:
    """The next request's page number, offset or cursor; None when the answer was the last.
    One that does not move on would never end: :class:`RejectedDelivery`."""
    if paging.style == "offset":
        total = None if paging.total_path is None else _found(body, paging.total_path, where)
        after = int(position) + rows
        return None if rows == 0 or (total is not None and after >= _whole(total, where)) else after
    if paging.next_path is None:  # pages numbered on until one comes back empty
        return int(position) + 1 if rows else None
    following = _found(body, paging.next_path, where, required=False)
    if following in (None, "", 0, False):
        return None
    if paging.style == "page":
        number = _whole(following, where)
        if number <= int(position):
            raise RejectedDelivery(f"{where}: next page {number} is not a later page")
        return number
    if not isinstance(following, str | int) or isinstance(following, bool):
        raise RejectedDelivery(f"{where}: next cursor {str(following)[:40]!r} is no token")
    if str(following) == position:
        raise RejectedDelivery(f"{where}: the answer names the same cursor again")
    return str(following)


def _whole(value: object, where: str) -> int:
    """A page number or a total as the answer gives it."""
    text = str(value)
    if isinstance(value, bool) or not (text.isdecimal() and len(text) < 10):
        raise RejectedDelivery(f"{where}: {text[:40]!r} is not a page number or count")
    return int(text)


def _found(body: object, keys: tuple[str, ...], where: str, required: bool = True) -> object:
    """The value at ``keys`` in a JSON answer; an answer without it, when ``required``, is a
    system answering something else (an error wrapped in a 200) and is rejected."""
    value = body
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            if not required:
                return None
            raise RejectedDelivery(
                f"{where}: the answer has no {'.'.join(keys)}: {str(body)[:200]}"
            )
        value = value[key]
    return value


def _json(data: bytes, where: str) -> tuple[str, object]:
    """An answer's text and its JSON value. Numbers beyond a float's range or ``int()``'s digits,
    and the ``NaN`` and ``Infinity`` JSON has not, are kept as the text sent (``jsonb`` holds
    none of them)."""
    try:
        text = data.decode(json.detect_encoding(data))
        return text, json.loads(
            text, parse_int=_number(int), parse_float=_number(float), parse_constant=str
        )
    except (ValueError, RecursionError) as error:  # undecodable bytes, no JSON, too deep
        raise RejectedDelivery(f"{where} is not JSON: {error}") from error


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


def _timestamp(text: object) -> datetime | None:
    """The change timestamp as sent, in UTC; None when unreadable (the row lands and validation
    rejects it). Without an offset it is the county's time, which department systems keep."""
    try:
        moment = datetime.fromisoformat(str(text))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=COUNTY_TZ)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # no timestamp; one beyond the calendar in UTC
        return None
