"""Text that arrives from a request (dates, IPs, ports, filters, names), parsed before anything uses it.

A parsed value only ever becomes a typed value compared inside pyarrow or DuckDB's bound parameters,
never a path or a query string; what a field does not take is an ``Invalid`` whose message the page
shows to the analyst.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re

from spot_assets.datatypes import DATA_TYPES

MAX_TEXT = 512
MAX_RANGE_DAYS = 92
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class Invalid(ValueError):
    """Input from a request that is not what the field takes; the message is shown to the analyst."""


def parse_day(text: str | None) -> dt.date:
    if not isinstance(text, str) or not _DAY.fullmatch(text.strip()):
        raise Invalid(f"not a date (YYYY-MM-DD): {str(text)[:40]!r}")
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(f"not a date: {text.strip()!r}") from None
    if not 1970 <= day.year <= 2199:
        raise Invalid(f"date out of range: {day}")
    return day


def parse_range(start: str | None, end: str | None, default_end: dt.date) -> tuple[dt.date, dt.date]:
    """Spot's ingest-summary period: 7 days ending at ``end``; one bound alone gives the other; swapped if reversed."""
    end_day = parse_day(end) if end else None
    start_day = parse_day(start) if start else None
    if end_day is None:
        end_day = start_day + dt.timedelta(days=7) if start_day else default_end
    if start_day is None:
        start_day = end_day - dt.timedelta(days=7)
    start_day, end_day = sorted((start_day, end_day))
    if (end_day - start_day).days > MAX_RANGE_DAYS:
        raise Invalid(f"a period of at most {MAX_RANGE_DAYS} days")
    return start_day, end_day


def parse_ip(text: str | None) -> str:
    try:
        return str(ipaddress.ip_address(str(text).strip()))
    except ValueError:
        raise Invalid(f"not an IP address: {str(text)[:60]!r}") from None


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
        return True
    except ValueError:
        return False


def clean_text(text: str | None, what: str = "text") -> str:
    """Free text (a domain, a URI): bounded, printable, stripped."""
    value = str(text or "").strip()
    if len(value) > MAX_TEXT:
        raise Invalid(f"{what} longer than {MAX_TEXT} characters")
    if _CONTROL.search(value):
        raise Invalid(f"{what} contains control characters")
    return value


def parse_port(text) -> int:
    try:
        port = int(str(text).strip())
    except ValueError:
        raise Invalid(f"not a port: {str(text)[:20]!r}") from None
    if not 0 <= port <= 65535:
        raise Invalid(f"port out of range: {port}")
    return port


def parse_value(data_type: str, column: str, value):
    """A value of an entity column or a rating key, parsed as what the column holds (``DataType.kind_of``)."""
    kind = DATA_TYPES[data_type].kind_of(column)
    if kind == "port":
        return parse_port(value)
    if kind == "ip":
        return parse_ip(value)
    return clean_text(value, column)


def parse_type(text: str | None) -> str:
    if text not in DATA_TYPES:
        raise Invalid(f"unknown data type: {str(text)[:20]!r} ({', '.join(DATA_TYPES)})")
    return text


@dataclasses.dataclass(frozen=True)
class Filter:
    kind: str  # "ip" or "text"
    value: str


def parse_filter(data_type: str, text: str | None) -> Filter | None:
    """Spot's filter box: an IP for every type; otherwise a substring of the type's text column (a
    query name, a URI), for the types that have one."""
    value = clean_text(text, "filter")
    if not value:
        return None
    if is_ip(value):
        return Filter("ip", parse_ip(value))
    if DATA_TYPES[data_type].text_filter is None:
        raise Invalid(f"{DATA_TYPES[data_type].title.lower()} are filtered by an IP address")
    return Filter("text", value)
