"""What the text proxy formats (Blue Coat ELFF, Squid) share: reading lines, checked casts, URLs, fulluri.

Rules every text proxy format follows, so they are stated (and implemented) once:

* A file is read in chunks of whole lines, gunzipped when it starts with the gzip magic whatever
  its name, so memory stays bounded on hour-long logs. ``record`` is the physical line number
  (1-based, comment and blank lines counted), so a reject points at the line an editor shows.
* Garbage: a file whose first 4 KiB (after gunzip) hold a NUL byte, or more than 5% undecodable
  bytes or control characters, is a `DecodeError` (binary data, UTF-16); so is a truncated or
  corrupt gzip stream. Otherwise bytes that are not UTF-8 (Latin-1 user agents and URLs are common
  in proxy logs) are kept as ``\\xNN`` escapes rather than costing the line.
* A file with data lines of which not one decodes is not of the format: `DecodeError` (quarantine)
  rather than a file-long list of rejects.
* ``-`` is ELFF's and Squid's "no value" and becomes null.
* ``fulluri`` follows Spot (spec §1.2): host + path + query, where a path or query of one
  character or less (``/``, ``?``, ``-``) counts as empty; a null host counts as empty too, and a
  fulluri that ends up empty is null (Spot would have stored ``-``).
* ``p_date``/``p_time`` are kept as the log wrote them when it has them; otherwise they are the UTC
  date and time of ``ts``.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spot_assets import schemas
from spot_assets.datatypes import PROXY
from spot_assets.ingest.formats.base import Decoded, DecodeError, Rejects
from spot_assets.ingest.timecols import proxy_columns

GZIP_MAGIC = b"\x1f\x8b"
HEAD_BYTES = 4096
CHUNK_BYTES = 32 << 20
EVENTS = PROXY.decoded
NOT_TEXT = re.compile("[\ufffd\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")

# ----- reading


def _is_text(head: bytes) -> bool:
    """Text: no NUL byte, and at most 5% of the characters undecodable or control characters. Proxy
    logs mix in Latin-1 user agents, so one stray byte must not make a log garbage."""
    if b"\0" in head:
        return False
    text = head.decode("utf-8", "replace")
    return len(NOT_TEXT.findall(text)) <= 0.05 * len(text)


def head_text(head: bytes) -> str | None:
    """The text at the start of a file (gunzipped if need be) for sniffing; None when it is not text."""
    if head.startswith(GZIP_MAGIC):
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, HEAD_BYTES)
        except zlib.error:
            return None
    head = head[:HEAD_BYTES]
    return head.decode("utf-8", "replace") if _is_text(head) else None


def first_data_line(text: str) -> str | None:
    """The first line that is neither blank nor a ``#`` comment or directive."""
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            return line
    return None


@dataclass(frozen=True)
class Lines:
    first: int  # physical line number of text[0]
    text: pa.Array  # one string per line, without its terminator

    def records(self, start: int = 0, stop: int | None = None) -> pa.Array:
        stop = len(self.text) if stop is None else stop
        return pa.array(np.arange(self.first + start, self.first + stop, dtype=np.int64))


def _split(data: bytes) -> pa.Array:
    text = data.decode("utf-8", "backslashreplace")
    if text.endswith("\n"):
        text = text[:-1]
    lines = pc.list_flatten(pc.split_pattern(pa.array([text], pa.string()), "\n"))
    return pc.utf8_rtrim(lines, characters="\r")


def _chunks(path: Path, stream) -> Iterator[Lines]:
    first, pending, head_checked = 1, b"", False
    while True:
        block = stream.read(CHUNK_BYTES)
        data = pending + block
        if block:
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                pending = data
                continue
            data, pending = data[:cut], data[cut:]
        if not data:
            return
        if not head_checked:
            if not _is_text(data[:HEAD_BYTES]):
                raise DecodeError(path, "not a text log: NUL or mostly non-UTF-8 bytes in its first 4 KiB")
            head_checked = True
        lines = Lines(first, _split(data))
        yield lines
        first += len(lines.text)
        if not block:
            return


def read_lines(path: Path) -> Iterator[Lines]:
    """The lines of a (possibly gzipped) text log, in chunks; `DecodeError` for garbage or a broken gzip."""
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        if not gzipped:
            yield from _chunks(path, raw)
            return
        try:
            yield from _chunks(path, gzip.GzipFile(fileobj=raw))
        except (EOFError, OSError, zlib.error) as e:
            raise DecodeError(path, f"corrupt or truncated gzip stream: {e}") from e


def data_lines(lines: Lines, start: int = 0, stop: int | None = None) -> pa.Table:
    """``record`` and ``raw`` of the lines in [start, stop) that are neither blank nor ``#`` lines."""
    text = lines.text.slice(start, (len(lines.text) if stop is None else stop) - start)
    keep = pc.and_(pc.invert(pc.starts_with(text, "#")), pc.invert(pc.equal(pc.utf8_trim_whitespace(text), "")))
    table = pa.table({"record": lines.records(start, start + len(text)), "raw": text})
    return table.filter(keep)


# ----- rows that do not parse


def where(table: pa.Table, mask: pa.Array) -> pa.Table:
    """``table.filter(mask)``, without the copy when every row stays (the usual case)."""
    return table if pc.all(mask).as_py() else table.filter(mask)


def drop_bad(table: pa.Table, bad: pa.Array, reason: Callable[[dict], str], rejects: Rejects) -> pa.Table:
    """Move the rows flagged `bad` (nulls count as good) to `rejects`; `reason` sees each such row."""
    bad = pc.fill_null(bad, False)
    if not pc.any(bad).as_py():
        return table
    for row in table.filter(bad).to_pylist():
        rejects.add(row["record"], row["raw"], reason(row))
    return table.filter(pc.invert(bad))


def dash_null(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, "-"), pa.scalar(None, pa.string()), values)


def check_ints(table: pa.Table, columns: dict[str, pa.DataType], rejects: Rejects) -> pa.Table:
    """Cast string columns to integers; a row with a value that is not one of its type is rejected."""
    for name, type_ in columns.items():
        if name not in table.column_names:
            continue
        text = table[name]
        ok = pc.match_substring_regex(text, r"^[+-]?\d{1,18}$")
        ints = pc.cast(pc.if_else(ok, text, pa.scalar(None, pa.string())), pa.int64())
        bad = pc.fill_null(pc.invert(ok), False)
        if type_ != pa.int64():
            info = np.iinfo(type_.to_pandas_dtype())
            outside = pc.or_(pc.less(ints, int(info.min)), pc.greater(ints, int(info.max)))
            bad = pc.or_(bad, pc.fill_null(outside, False))
        table = drop_bad(table, bad, lambda row, n=name, t=type_: f"{n} {row[n]!r} is not an {t}", rejects)
        table = table.set_column(table.column_names.index(name), name, ints.filter(pc.invert(bad)))
    return table


def strict_time(text: pa.Array, fmt: str) -> pa.Array:
    """Naive timestamps (ms) from `text`; null where it is not exactly `fmt` (Arrow's strptime alone
    accepts 2024-02-30 and rolls it over)."""
    parsed = pc.strptime(text, fmt, "ms", error_is_null=True)
    again = pc.strftime(pc.cast(parsed, pa.timestamp("s")), fmt)
    return pc.if_else(pc.equal(again, text), parsed, pa.scalar(None, parsed.type))


def epoch_ms(text: pa.Array) -> pa.Array:
    """UTC timestamps from epoch seconds written with up to three decimals (``1286536308.779``); null
    where the text is not such a number."""
    parts = pc.extract_regex(text, r"^(?P<s>\d{1,12})(?:\.(?P<f>\d{1,3}))?$")
    secs = pc.cast(pc.struct_field(parts, "s"), pa.int64())
    millis = pc.cast(pc.utf8_rpad(pc.struct_field(parts, "f"), 3, "0"), pa.int64())
    return pc.cast(pc.add(pc.multiply(secs, 1000), millis), schemas.TS)


# ----- URLs


URL = (
    r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?(?:[^/?#@\s]*@)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^/?#:\[\]\s]+)?(?::(?P<port>\d+))?"
    r"(?P<path>/[^?#\s]*)?(?P<query>\?[^#\s]*)?(?:#\S*)?$"
)
URL_PARTS = {"urischeme": "scheme", "host": "host", "uriport": "port", "uripath": "path", "uriquery": "query"}
DEFAULT_PORTS = {"http": "80", "https": "443", "ftp": "21"}


def split_url(url: pa.Array) -> dict[str, pa.Array]:
    """``urischeme``/``host``/``uriport``/``uripath``/``uriquery``/``uriextension`` of full URLs
    (``http://h:8080/p?q``) and CONNECT targets (``h:443``), as ProxySG logs them: the query keeps its
    ``?``, the port defaults by scheme. A value that is not a URL (Squid's ``error:invalid-request``)
    is kept whole as the path."""
    parts = pc.extract_regex(url, URL)
    cols = {column: pc.struct_field(parts, group) for column, group in URL_PARTS.items()}
    # extract_regex gives "" for a group that did not take part.
    cols = {name: pc.if_else(pc.equal(v, ""), pa.scalar(None, pa.string()), v) for name, v in cols.items()}
    cols["uripath"] = pc.if_else(pc.is_null(parts), url, cols["uripath"])
    scheme = pc.index_in(pc.utf8_lower(cols["urischeme"]), value_set=pa.array(list(DEFAULT_PORTS)))
    cols["uriport"] = pc.coalesce(cols["uriport"], pc.take(pa.array(list(DEFAULT_PORTS.values())), scheme))
    cols["uriextension"] = uri_extension(cols["uripath"])
    return cols


def uri_extension(path: pa.Array) -> pa.Array:
    """The file extension of a URI path (``/a/b.gif`` -> ``gif``), as ProxySG's cs-uri-extension."""
    ext = pc.struct_field(pc.extract_regex(path, r"\.(?P<ext>[^./]+)$"), "ext")
    return pc.if_else(pc.equal(ext, ""), pa.scalar(None, pa.string()), ext)


def fulluri(host: pa.Array, path: pa.Array, query: pa.Array) -> pa.Array:
    """Spot's fulluri (see the module docstring)."""

    def part(values: pa.Array) -> pa.Array:
        values = pc.fill_null(values, "")
        return pc.if_else(pc.greater(pc.utf8_length(values), 1), values, "")

    uri = pc.binary_join_element_wise(pc.fill_null(host, ""), part(path), part(query), "")
    return pc.if_else(pc.equal(uri, ""), pa.scalar(None, pa.string()), uri)


# ----- the result


def events(columns: dict[str, pa.Array], ints: dict[str, pa.DataType], rejects: Rejects) -> pa.Table:
    """Events from the columns a format read (with ``record``, ``raw``, ``ts`` and ``when``, the text
    ``ts`` came from): rows without a ``ts`` and rows with a bad integer are rejected, fulluri added."""
    table = pa.table(columns)
    table = drop_bad(table, pc.is_null(table["ts"]), lambda row: f"bad time {row['when']!r}", rejects)
    table = check_ints(table, ints, rejects)
    nulls = pa.nulls(table.num_rows, pa.string())
    host, path, query = (table[c] if c in table.column_names else nulls for c in ("host", "uripath", "uriquery"))
    return table.append_column("fulluri", fulluri(host, path, query))


def finish(path: Path, fmt: str, parts: list[pa.Table], rejects: Rejects, n_data: int) -> Decoded:
    """One events table (``PROXY.decoded``) from the decoded parts, rejects in file order."""
    table = pa.concat_tables([schemas.conform(p, EVENTS) for p in parts]) if parts else EVENTS.empty_table()
    if n_data and not table.num_rows:
        i = rejects.records.index(min(rejects.records)) if len(rejects) else None
        first = f"; line {rejects.records[i]}: {rejects.reasons[i]}" if i is not None else ""
        raise DecodeError(path, f"none of its {n_data} data lines is a {fmt} record{first}")
    if table["p_date"].null_count or table["p_time"].null_count:
        derived = proxy_columns(table["ts"])
        for name in ("p_date", "p_time"):
            values = pc.coalesce(table[name], derived[name])
            table = table.set_column(EVENTS.get_field_index(name), EVENTS.field(name), values)
    return Decoded(events=table, rejects=rejects.table().sort_by("record"))


def decode_lines(path: Path, fmt: str, block: Callable[[pa.Table, Rejects], pa.Table]) -> Decoded:
    """Decode a line-per-record log: `block` turns data lines (``record``, ``raw``) into events."""
    rejects = Rejects()
    parts: list[pa.Table] = []
    n_data = 0
    for lines in read_lines(path):
        rows = data_lines(lines)
        if rows.num_rows:
            n_data += rows.num_rows
            parts.append(block(rows, rejects))
    return finish(path, fmt, parts, rejects, n_data)
