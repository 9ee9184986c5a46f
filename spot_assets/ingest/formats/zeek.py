"""Zeek's conn, dns and http logs as Spot's flow, DNS and proxy events.

Many sites run Zeek instead of (or beside) NetFlow exporters, DNS captures and a Blue Coat proxy, and
the public labeled sets (IoT-23, Stratosphere/Slips captures) ship as Zeek logs; one reader and three
column mappings let them feed the same tables.

Reading (every format)
----------------------
* Layouts: Zeek's ASCII log (a ``#separator`` / ``#set_separator`` / ``#empty_field`` / ``#unset_field``
  / ``#path`` / ``#fields`` / ``#types`` header block, then one tab-separated line per entry, ``#close``
  at the end), plain or gzip (recognized by its magic bytes, not its name); and Zeek-field CSV: a
  comma-separated file (standard double quoting) whose first line names Zeek fields, possibly with
  extra columns such as IoT-23's ``label`` and ``detailed-label`` (read, and not part of Spot's
  schema).
* IoT-23's ``conn.log.labeled`` quirk: its ``#fields`` line joins ``tunnel_parents label
  detailed-label`` with three spaces instead of tabs, and so do its data lines. When a ``#fields``
  line shows it, every run of three spaces in the data lines after it is read as a separator
  (a line using tabs there reads the same).
* Zeek's JSON logs (``LogAscii::use_json``, one object a line, unset fields left out), recognised by
  most of their first lines opening an object: each value is read as the text the ASCII log would
  hold (`_read_json`), so the same column rules apply; a line that is not a JSON object is a reject.
* Whitespace before the first ``#separator`` (Slips' test10 conn.log starts with a tab) is ignored.
* ``-`` (unset), ``(empty)`` (empty set or string) and empty values are null. Values keep Zeek's
  ``\\xNN`` escapes; a raw CR (Zeek never writes one) reads as ``\\x0d`` and invalid UTF-8 as
  ``\\xNN``, the same convention.
* Lines starting with ``#`` are header or comment lines, not rows and not rejects; a header block in
  the middle of a file (concatenated logs) applies to the lines after it. Empty lines are skipped.
* ``record`` is the physical line number (1-based, header lines counted); ``uid`` is Zeek's ``uid``;
  ``ts`` is Zeek's ``ts`` (epoch seconds with microseconds) truncated to the millisecond.
* Rejects: a line whose field count differs from the header's, a value that is not of its Zeek type
  (count, port or other 16-bit number, time, interval) in a field the mapping reads, a line without
  ``ts``. pyarrow splits the lines; a CSV quote left open would make it join lines, and only then is
  that run of lines re-read one line at a time, so the open quote spoils its own line only.
* `DecodeError`: no Zeek header (neither a ``#fields`` line nor a CSV header naming ``ts``, ``uid``,
  ``id.orig_h``, ``id.resp_h``), a header without the fields of the log kind, a separator longer than
  one character, corrupt or truncated gzip.

Sniffing: a Zeek ASCII log by its ``#separator`` first line and its ``#path`` (``conn``, ``dns``,
``http``), or by its ``#fields`` when it has no ``#path``; a JSON log by its ``_path``, else by the
field names of its first records; a CSV by its header's field names
(``ts``, ``uid``, ``id.orig_h``, ``id.resp_h`` plus ``proto`` and ``conn_state`` for conn,
``query`` and ``qtype`` for dns, ``method`` and ``uri`` for http).

Flow (``zeek_conn`` for ASCII logs, ``zeek_conn_csv`` for CSV), from conn.log
------------------------------------------------------------------------------
* ts (hence treceived and its split) = the connection's start, ``ts``.
* sip, sport = ``id.orig_h``, ``id.orig_p``; dip, dport = ``id.resp_h``, ``id.resp_p`` (for ICMP Zeek
  puts type and code in the ports, and so do we).
* proto = ``proto`` upper-cased (``TCP``, ``UDP``, ``ICMP``), the names Spot's nfdump stored.
* tdur = ``duration``, 0 when unset (Zeek leaves it unset for a single-packet connection, whose
  NetFlow duration is 0).
* ipkt, opkt = ``orig_pkts``, ``resp_pkts``; ibyt, obyt = ``orig_ip_bytes``, ``resp_ip_bytes``, because
  NetFlow bytes count IP headers as those do. Where a log lacks them (or leaves them unset) the
  payload counts ``orig_bytes``, ``resp_bytes`` stand in; a count still unset is 0, as NetFlow always
  reports one.
* One Zeek connection is one row carrying both directions, as nfdump's bidirectional records do.
* flag = nfdump 1.6's six-position string ``UAPRSF`` (as in Spot), the union of both directions'
  flags read from ``history`` (case = direction, ignored): S or H (SYN-ACK) set S; H, A or D (a data
  packet, which carries ACK after the handshake) set A; F sets F; R sets R. Zeek's history records
  no PSH or URG, so those positions stay ``.``. A TCP connection without history has flag null
  (unknown); other protocols get ``......``, what nfdump prints for flows without TCP flags.
* fwd, stos, input, output, sas, das, dtos, dir = 0, nfdump's value when an exporter does not send
  them (Zeek sees packets, not routers); rip (the exporter's address) is null: a made-up address would
  look like a real router in the network views.

DNS (``zeek_dns``), from dns.log
--------------------------------
* One dns.log entry is one query and its response. Spot kept response packets only (spec §1.2); here
  every entry is a row, and an unanswered query is kept with ``dns_qry_rcode`` null: it is an event
  of the client, not a decoding failure, so it is neither dropped nor a reject. Filter on
  ``dns_qry_rcode IS NOT NULL`` for Spot's responses-only view.
* ip_dst = ``id.orig_h`` (the client, as Spot's ip_dst of a response), ip_src = ``id.resp_h`` (the server).
* dns_qry_name = ``query``; dns_qry_type = ``qtype``; dns_qry_rcode = ``rcode``; dns_qry_class =
  ``qclass`` as tshark prints it (``0x0001``). Spot read the first answer's name/type/class; Zeek
  logs the question's, which is the same except where the first answer is a CNAME.
* dns_a = the first IPv4 address among ``answers`` (names, AAAA and other answers are skipped), as
  tshark's first ``dns.a``.
* frame_len = null: Zeek does not log packet sizes. The DNS word treats it by its documented null rule.

Proxy (``zeek_http``), from http.log
------------------------------------
* clientip = ``id.orig_h``, serverip = ``id.resp_h``, uriport = ``id.resp_p``, host, reqmethod =
  ``method``, useragent = ``user_agent``, referer = ``referrer`` (Zeek's spelling), respcode =
  ``status_code``, csbytes = ``request_body_len``, scbytes = ``response_body_len``, resconttype = the
  first of ``resp_mime_types`` (Zeek's sniffed type, not the Content-Type header), username.
* uripath = ``uri`` up to its first ``?``, uriquery = the rest from the ``?`` (Blue Coat's form), each
  null when empty.
* fulluri by Spot's rule (spec §1.2): host + path + query, a path or query of length <= 1 counting as
  empty, a null host too; a fulluri left empty is null (`_fulluri`, the same rule as ``textlog.fulluri``).
* p_date, p_time: derived from ``ts`` (timecols). duration, authgroup, exceptionid, filterresult,
  webcat, action, urischeme, uriextension, virusid, bcappname, bcappoper: null, Zeek has no such fields.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import itertools
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from resources.tools import Tools
from spot_assets import schemas
from spot_assets.datatypes import DATA_TYPES
from spot_assets.ingest.formats.base import Decoded, DecodeError, Format, Rejects
from spot_assets.ingest.formats.textlog import GZIP_MAGIC, HEAD_BYTES, fulluri

PIECE_BYTES = 64 << 20  # read this much at a time: bounds the raw text held beside the decoded rows
COMMON_FIELDS = frozenset({"ts", "uid", "id.orig_h", "id.resp_h"})


@dataclass(frozen=True)
class Log:
    """A Zeek log Spot reads: its ``#path``, the data type it feeds, and the fields (beyond
    ``COMMON_FIELDS``) that show a header without a ``#path`` is this log."""

    path: str
    data_type: str
    fields: frozenset[str]


# The Zeek logs Spot ingests, by path; every other log (ssl, files, weird, ...) is not read.
LOGS = {log.path: log for log in (Log("conn", "flow", frozenset({"proto", "conn_state"})),
                                  Log("dns", "dns", frozenset({"query", "qtype"})),
                                  Log("http", "proxy", frozenset({"method", "uri"})))}
IOT23_GAP = b"   "
# Whitespace tolerated before a file's first header line (Slips' test10 conn.log starts with a tab).
STRAY = " \t\ufeff"


def _unescape(text: str) -> str:
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m[1], 16)), text)


@dataclass
class _Header:
    """What the ``#`` lines (or a CSV's first line) declare for the data lines after them."""

    separator: str = "\t"
    set_separator: str = ","
    empty_field: str = "(empty)"
    unset_field: str = "-"
    path: str | None = None
    fields: list[str] | None = None
    spaced: bool = False  # IoT-23: the last fields joined by three spaces
    csv: bool = False

    def directive(self, line: str) -> None:
        if line.startswith("#separator "):
            self.separator = _unescape(line[len("#separator ") :])
            return
        key, _, value = line[1:].partition(self.separator)
        if key == "fields":
            tokens = value.split(self.separator)
            self.fields = [name for token in tokens for name in token.split()]
            self.spaced = len(self.fields) > len(tokens)
        elif key in ("set_separator", "empty_field", "unset_field", "path"):
            setattr(self, key, _unescape(value))

    def csv_header(self, line: str) -> None:
        self.fields = [name.strip() for name in line.lstrip("\ufeff").split(",")]
        self.separator, self.csv = ",", True

    def json_header(self, lines: list[str]) -> None:
        """A JSON log declares nothing: its fields are the keys of its first records (Zeek leaves an
        unset field out of a record, so one record may lack some)."""
        records = [record for record in map(_json_object, lines) if record is not None]
        self.fields = list(dict.fromkeys(name for record in records for name in record)) or None
        path = records[0].get("_path") if records else None
        self.path = path if isinstance(path, str) else None

    def kind(self) -> str | None:
        """conn, dns or http: by ``#path`` (a JSON log's ``_path``) when the log names it, else by the field names."""
        if self.path is not None and not self.csv:
            return self.path if self.path in LOGS else None
        fields = set(self.fields or ())
        if not COMMON_FIELDS <= fields:
            return None
        return next((log.path for log in LOGS.values() if log.fields <= fields), None)


def _json_object(line: str | bytes) -> dict | None:
    """The line as a JSON object, or None (not JSON, another JSON value, a line cut by the head).
    Bytes that are not UTF-8 inside its strings are kept as ``\\xNN``, as in Zeek's ASCII logs."""
    try:
        try:
            value = json.loads(line)
        except UnicodeDecodeError:
            value = _escaped(json.loads(line.decode("utf-8", "surrogateescape")))
    except ValueError:  # JSONDecodeError
        return None
    return value if isinstance(value, dict) else None


def _escaped(value):
    """Strings read with ``surrogateescape`` with their stray bytes as ``\\xNN`` escapes."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    if isinstance(value, dict):
        return {_escaped(k): _escaped(v) for k, v in value.items()}
    return value


def _json_lines(lines: list[str]) -> bool:
    """Most of the first non-blank lines open a JSON object: a Zeek JSON log (a damaged or foreign
    first line must not hide the log behind it)."""
    first = [line.strip() for line in lines if line.strip()][:20]
    return bool(first) and 2 * sum(line.startswith("{") for line in first) > len(first)


def _head_header(head: bytes) -> _Header | None:
    """The header a file's first bytes declare, or None when they start no Zeek log."""
    if head.startswith(GZIP_MAGIC):
        try:
            head = zlib.decompressobj(wbits=31).decompress(head)
        except zlib.error:
            return None
    lines = [line.rstrip("\r") for line in head.decode("utf-8", "backslashreplace").split("\n")]
    lines[0] = lines[0].lstrip(STRAY)
    header = _Header()
    if lines[0].startswith("#separator"):
        for line in lines:
            if not line.startswith("#"):
                break
            header.directive(line)
    elif _json_lines(lines):
        header.json_header(lines)
    elif "id.orig_h" in lines[0]:
        header.csv_header(lines[0])
    return header if header.fields else None


def _sniffer(kind: str, csv_layout: bool | None) -> Callable[[Path, bytes], bool]:
    def sniff(path: Path, head: bytes) -> bool:
        header = _head_header(head)
        return header is not None and header.kind() == kind and csv_layout in (None, header.csv)

    return sniff


_NAMED_LOG = re.compile(r"^([A-Za-z0-9_-]+)\.")


def log_of(path: Path) -> str | None:
    """Which Zeek log a file is (``conn``, ``dns``, ``ssl``...): its ``#path`` (a JSON log's ``_path``),
    else the kind its fields show, else its name up to the first dot, as Zeek and its log rotation
    name files (``conn.log``, ``conn.00:00:00-01:00:00.log.gz``); None when none of them says."""
    with open(path, "rb") as f:
        header = _head_header(f.read(HEAD_BYTES))
    if header is not None and (header.path or header.kind()):
        return header.path or header.kind()
    match = _NAMED_LOG.match(path.name)
    return match.group(1) if match else None


def _pieces(path: Path) -> Iterator[tuple[int, bytes]]:
    """(number of its first line, text) pieces of the file that end at a line end, gunzipped when gzip."""
    with open(path, "rb") as raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if compressed else raw
        line, rest = 1, b""
        while True:
            try:
                data = stream.read(PIECE_BYTES)
            except (OSError, EOFError, zlib.error) as exc:
                raise DecodeError(path, f"corrupt or truncated gzip: {exc}") from exc
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            piece, rest = _lf(data[:cut]), data[cut:]
            if piece:
                yield line, piece
                line += piece.count(b"\n")
        if rest:
            yield line, _lf(rest + b"\n")


def _lf(text: bytes) -> bytes:
    """CRLF line ends as LF; a lone CR (which Zeek escapes) as Zeek's escape."""
    return text.replace(b"\r\n", b"\n").replace(b"\r", rb"\x0d") if b"\r" in text else text


class _Lines:
    """Where every line of a run of data lines starts and ends, to map pyarrow's rows back to them."""

    def __init__(self, data: bytes, first: int):
        self.data, self.first = data, first
        self.ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
        self.starts = np.concatenate(([0], self.ends[:-1] + 1))
        self.rows = np.flatnonzero(self.ends > self.starts)  # pyarrow skips empty lines

    def raw(self, record: int) -> bytes:
        i = record - self.first
        return self.data[self.starts[i] : self.ends[i]]


@dataclass
class _Block:
    """Data lines under one header: every field as a string column, plus ``record``."""

    header: _Header
    table: pa.Table
    lines: _Lines


def _parse(header: _Header, data: bytes, first: int, rejects: Rejects) -> _Block | None:
    """pyarrow's CSV reader for the lines; lines it cannot split into the header's fields become rejects."""
    lines = _Lines(data, first)
    if not len(lines.rows):
        return None
    if header.spaced:
        data = data.replace(IOT23_GAP, header.separator.encode())
    invalid: list[tuple[int, int]] = []

    def on_invalid(row: pcsv.InvalidRow) -> str:
        invalid.append((row.number, row.actual_columns))
        return "skip"

    try:
        table = _read_csv(header, data, on_invalid)
    except pa.ArrowInvalid as exc:
        if "UTF8" not in str(exc):
            raise
        invalid.clear()
        table = _read_csv(header, data.decode("utf-8", "backslashreplace").encode(), on_invalid)
    if len(lines.rows) - len(invalid) == table.num_rows:
        # pyarrow numbers the rows it skips among the non-empty lines; make them line indexes.
        bad = [(int(lines.rows[number - 1]), found) for number, found in invalid]
        rows = np.delete(lines.rows, [number - 1 for number, _ in invalid])
    else:
        # A quote opened inside a CSV line ran over its end; only then read this run line by line.
        table, rows, bad = _csv_by_line(header, lines)
    for line, found in bad:
        reason = f"{found} fields where the header names {len(header.fields)}"
        rejects.add(first + line, lines.raw(first + line), reason)
    return _Block(header, table.append_column("record", pa.array(rows + first, pa.int64())), lines)


def _read_csv(header: _Header, data: bytes, on_invalid: Callable) -> pa.Table:
    return pcsv.read_csv(
        pa.py_buffer(data),
        # Serial, for row numbers; one block for the piece (already in memory), so a line longer than
        # Arrow's 1 MB default block is one rejected line rather than a failed read.
        read_options=pcsv.ReadOptions(column_names=header.fields, use_threads=False, block_size=len(data) + 1),
        parse_options=pcsv.ParseOptions(
            delimiter=header.separator, quote_char='"' if header.csv else False, invalid_row_handler=on_invalid
        ),
        convert_options=pcsv.ConvertOptions(
            column_types={name: pa.string() for name in header.fields},
            null_values=[header.unset_field, header.empty_field, ""],
            strings_can_be_null=True,
        ),
    )


def _csv_by_line(header: _Header, lines: _Lines) -> tuple[pa.Table, np.ndarray, list[tuple[int, int]]]:
    """Each CSV line parsed alone, so a stray quote spoils only its own line."""
    nulls = {header.unset_field, header.empty_field, ""}
    good, kept, invalid = [], [], []
    for i in lines.rows:
        values = next(csv.reader([lines.raw(lines.first + int(i)).decode("utf-8", "backslashreplace")]))
        if len(values) == len(header.fields):
            good.append([None if v in nulls else v for v in values])
            kept.append(i)
        else:
            invalid.append((int(i), len(values)))
    columns = [pa.array([row[j] for row in good], pa.string()) for j in range(len(header.fields))]
    return pa.Table.from_arrays(columns, names=header.fields), np.array(kept, dtype=np.int64), invalid


def _read(path: Path, rejects: Rejects, required: frozenset[str]) -> Iterator[_Block]:
    """The file's data lines in blocks under their header; unsplittable lines go to ``rejects``."""
    pieces = _pieces(path)
    start = next(pieces, None)
    if start is not None and _json_lines(start[1][:HEAD_BYTES].decode("utf-8", "replace").split("\n")):
        yield from _read_json(path, itertools.chain([start], pieces), rejects, required)
        return
    header = _Header()
    for first, piece in itertools.chain([start] if start else [], pieces):
        pos, line = 0, first
        while pos < len(piece):
            end = piece.index(b"\n", pos)
            stray = header.fields is None and piece[pos:end].lstrip(STRAY.encode()).startswith(b"#")
            if piece.startswith(b"#", pos) or stray:
                header.directive(piece[pos:end].decode("utf-8", "backslashreplace").lstrip(STRAY))
                if piece.startswith(b"#fields", pos):
                    _check_header(path, header, required)
                pos, line = end + 1, line + 1
            elif header.fields is None:
                if end > pos:  # the first line of a file without ``#`` header: a CSV header or garbage
                    header.csv_header(piece[pos:end].decode("utf-8", "backslashreplace"))
                    if not COMMON_FIELDS <= set(header.fields):
                        names = ", ".join(sorted(COMMON_FIELDS))
                        raise DecodeError(path, f"line {line} is no Zeek header (#fields, or a CSV header of {names})")
                    _check_header(path, header, required)
                pos, line = end + 1, line + 1
            else:
                stop = piece.find(b"\n#", pos) + 1 or len(piece)
                block = _parse(dataclasses.replace(header), piece[pos:stop], line, rejects)
                if block is not None:
                    yield block
                line += piece.count(b"\n", pos, stop)
                pos = stop
    if header.fields is None:
        raise DecodeError(path, "no Zeek header (#fields line or CSV header) and no data")


def _read_json(path: Path, pieces: Iterator[tuple[int, bytes]], rejects: Rejects,
               required: frozenset[str]) -> Iterator[_Block]:
    """Zeek's JSON logs (``LogAscii::use_json``): one object a line, a field left out when unset.

    Values become the text the ASCII log would hold, so one set of column rules reads both: numbers
    as written, booleans as ``T``/``F``, sets and vectors joined by ``,``. A line that is not a JSON
    object is a reject; a file in which none is, or whose records never hold the log's fields, is not
    such a log (`DecodeError`).
    """
    seen, objects = set(), 0
    for first, piece in pieces:
        lines = _Lines(piece, first)
        records, rows = [], []
        for i in lines.rows:
            raw = lines.raw(first + int(i))
            record = _json_object(raw)
            if record is None:
                rejects.add(first + int(i), raw, "not a JSON object")
                continue
            records.append(first + int(i))
            rows.append(record)
        if not rows:
            continue
        objects += len(rows)
        fields = list(dict.fromkeys(name for row in rows for name in row))
        seen.update(fields)
        table = pa.table({name: pa.array([_json_text(row.get(name)) for row in rows], pa.string())
                          for name in fields})
        yield _Block(_Header(fields=fields), table.append_column("record", pa.array(records, pa.int64())), lines)
    if not objects:
        raise DecodeError(path, "no line is a JSON object (a Zeek JSON log has one a line)")
    missing = required - seen
    if missing:
        raise DecodeError(path, f"no record has the field(s) {', '.join(sorted(missing))}")


def _json_text(value) -> str | None:
    """A JSON value as Zeek's ASCII log writes it; unset and empty are null."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, list):
        return ",".join(text for text in map(_json_text, value) if text is not None)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _check_header(path: Path, header: _Header, required: frozenset[str]) -> None:
    missing = required - set(header.fields or ())
    if missing:
        raise DecodeError(path, f"header lacks the field(s) {', '.join(sorted(missing))}")
    if len(header.separator) != 1:
        raise DecodeError(path, f"separator {header.separator!r} is not one character")


INTEGER = r"^-?\d{1,18}$"
DECIMAL = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
MAX_EPOCH = 1e11  # year 5138: beyond it a ts is garbage (and its µs would overflow)


class _Values:
    """Typed columns of a block. A value that is not of its Zeek type sends its row to the rejects."""

    def __init__(self, block: _Block):
        self.block = block
        self.n = block.table.num_rows
        self.failures: list[tuple[pa.ChunkedArray, str]] = []

    @property
    def set_separator(self) -> str:
        return self.block.header.set_separator

    def text(self, name: str) -> pa.ChunkedArray | pa.Array:
        table = self.block.table
        return table[name] if name in table.column_names else pa.nulls(self.n, pa.string())

    def constant(self, value, type_: pa.DataType) -> pa.Array:
        return pa.repeat(pa.scalar(value, type_), self.n)

    def _number(self, name: str, type_: pa.DataType, pattern: str, low: float, high: float, what: str):
        """The field as a number in [low, high], null where unset; other values fail their row.

        pyarrow casts the whole column at once; only a column holding a value it cannot cast pays for
        the regex that finds which.
        """
        text = self.text(name)
        try:
            values = pc.cast(text, type_)
        except pa.ArrowInvalid:
            parsable = pc.if_else(pc.match_substring_regex(text, pattern), text, pa.scalar(None, pa.string()))
            values = pc.cast(parsable, type_)
        ok = pc.and_(pc.greater_equal(values, low), pc.less_equal(values, high))  # false for NaN
        self._fail(pc.and_(pc.is_valid(text), pc.invert(pc.fill_null(ok, False))), f"{name} is not a {what}")
        return pc.if_else(ok, values, pa.scalar(None, type_))

    def _fail(self, mask, reason: str) -> None:
        if pc.any(mask).as_py():
            self.failures.append((mask, reason))

    def count(self, name: str):
        return self._number(name, pa.int64(), INTEGER, 0, 2**62, "count")

    def u16(self, name: str):
        """A port or another 16-bit field (qclass, qtype, rcode, status code)."""
        return self._number(name, pa.int64(), INTEGER, 0, 65535, "16-bit number")

    def seconds(self, name: str):
        return self._number(name, pa.float64(), DECIMAL, 0, float("inf"), "duration")

    def ts(self):
        """Zeek's ``ts`` in ms; exact, because a double holds the µs Zeek prints (round to µs, then truncate)."""
        seconds = self._number("ts", pa.float64(), DECIMAL, 0, MAX_EPOCH, "time")
        self._fail(pc.is_null(self.text("ts")), "ts is unset")
        micros = pc.cast(pc.round(pc.multiply(seconds, 1e6)), pa.int64())
        return pc.cast(pc.cast(micros, pa.timestamp("us", tz="UTC")), schemas.TS, safe=False)

    def finish(self, data_type: str, columns: dict, rejects: Rejects) -> pa.Table:
        """The mapped columns (plus ``record``, ``uid``) in their schema types, failed rows moved to ``rejects``."""
        schema = DATA_TYPES[data_type].decoded
        columns = {"record": self.block.table["record"], "uid": self.text("uid"), **columns}
        table = pa.table({name: pc.cast(values, schema.field(name).type) for name, values in columns.items()})
        records = table["record"].to_numpy()
        done = np.zeros(self.n, dtype=bool)
        for mask, reason in self.failures:
            new = mask.to_numpy(zero_copy_only=False) & ~done
            for i in np.flatnonzero(new):
                rejects.add(int(records[i]), self.block.lines.raw(int(records[i])), reason)
            done |= new
        return table.filter(pa.array(~done)) if done.any() else table


def _first(values, separator: str):
    """First element of a Zeek set/vector field."""
    return pc.list_element(pc.split_pattern(values, separator, max_splits=1), 0)


TCP_FLAGS = (("U", None), ("A", "[HhAaDd]"), ("P", None), ("R", "[Rr]"), ("S", "[SsHh]"), ("F", "[Ff]"))
NETFLOW_ONLY = ("fwd", "stos", "input", "output", "sas", "das", "dtos", "dir")


def _via_distinct(values, fn: Callable[[pa.Array], pa.Array]):
    """``fn`` computed once per distinct value (history, qclass: a handful of values over many rows)."""
    distinct = pc.unique(values).drop_null()
    return pc.take(fn(distinct), pc.index_in(values, distinct))


def _history_flags(history: pa.Array) -> pa.Array:
    """nfdump's ``UAPRSF`` string from Zeek's history letters (module docstring)."""
    dots = pa.repeat(pa.scalar("."), len(history))
    positions = [
        dots if rx is None else pc.if_else(pc.match_substring_regex(history, rx), letter, ".")
        for letter, rx in TCP_FLAGS
    ]
    return pc.binary_join_element_wise(*positions, "")


def _flag(proto, history):
    return pc.if_else(pc.equal(proto, "TCP"), _via_distinct(history, _history_flags), "......")


def _flow(v: _Values) -> dict:
    proto = pc.utf8_upper(v.text("proto"))
    zero = v.constant(0, pa.int64())
    return {
        "ts": v.ts(),
        "tdur": pc.fill_null(v.seconds("duration"), 0.0),
        "sip": v.text("id.orig_h"),
        "dip": v.text("id.resp_h"),
        "sport": v.u16("id.orig_p"),
        "dport": v.u16("id.resp_p"),
        "proto": proto,
        "flag": _flag(proto, v.text("history")),
        "ipkt": pc.coalesce(v.count("orig_pkts"), zero),
        "ibyt": pc.coalesce(v.count("orig_ip_bytes"), v.count("orig_bytes"), zero),
        "opkt": pc.coalesce(v.count("resp_pkts"), zero),
        "obyt": pc.coalesce(v.count("resp_ip_bytes"), v.count("resp_bytes"), zero),
        **{name: zero for name in NETFLOW_ONLY},
    }


def _hex16(values: pa.Array) -> pa.Array:
    """``0x0001``: how tshark prints a DNS class."""
    return pa.array([f"0x{v:04x}" for v in values.to_pylist()], pa.string())


def _first_ipv4(answers, separator: str):
    sep = re.escape(separator)
    pattern = rf"(?:^|{sep})(?P<a>\d{{1,3}}(?:\.\d{{1,3}}){{3}})(?:{sep}|$)"
    return pc.struct_field(pc.extract_regex(answers, pattern), "a")


def _dns(v: _Values) -> dict:
    return {
        "ts": v.ts(),
        "ip_dst": v.text("id.orig_h"),
        "ip_src": v.text("id.resp_h"),
        "dns_qry_name": v.text("query"),
        "dns_qry_class": _via_distinct(v.u16("qclass"), _hex16),
        "dns_qry_type": v.u16("qtype"),
        "dns_qry_rcode": v.u16("rcode"),
        "dns_a": _first_ipv4(v.text("answers"), v.set_separator),
    }


def _empty_as_null(values):
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def _proxy(v: _Values) -> dict:
    uri = pc.extract_regex(v.text("uri"), r"(?s)^(?P<path>[^?]*)(?P<query>\?.*)?$")
    path = _empty_as_null(pc.struct_field(uri, "path"))
    query = _empty_as_null(pc.struct_field(uri, "query"))
    host = v.text("host")
    return {
        "ts": v.ts(),
        "clientip": v.text("id.orig_h"),
        "host": host,
        "reqmethod": v.text("method"),
        "useragent": v.text("user_agent"),
        "resconttype": _first(v.text("resp_mime_types"), v.set_separator),
        "username": v.text("username"),
        "referer": v.text("referrer"),
        "respcode": v.u16("status_code"),
        "uriport": v.u16("id.resp_p"),
        "uripath": path,
        "uriquery": query,
        "serverip": v.text("id.resp_h"),
        "scbytes": v.count("response_body_len"),
        "csbytes": v.count("request_body_len"),
        "fulluri": fulluri(host, path, query),
    }


def _decoder(kind: str, mapping: Callable[[_Values], dict]) -> Callable[[Path, Tools], Decoded]:
    required, data_type = LOGS[kind].fields | {"ts"}, LOGS[kind].data_type

    def decode(path: Path, tools: Tools) -> Decoded:
        rejects = Rejects()
        parts = []
        for block in _read(Path(path), rejects, required):
            values = _Values(block)
            parts.append(values.finish(data_type, mapping(values), rejects))
        events = pa.concat_tables(parts) if parts else pa.schema([DATA_TYPES[data_type].decoded.field("ts")]).empty_table()
        return Decoded(events=events, rejects=rejects.table().sort_by("record"))

    return decode


FORMATS = [
    Format("zeek_conn", "flow", "Zeek conn.log (ASCII or JSON, plain or gzip), IoT-23 labeled conn logs included",
           _sniffer("conn", csv_layout=False), _decoder("conn", _flow)),
    Format("zeek_conn_csv", "flow", "Zeek conn.log fields as CSV with a header line (e.g. labeled IoT-23 CSV)",
           _sniffer("conn", csv_layout=True), _decoder("conn", _flow)),
    Format("zeek_dns", "dns", "Zeek dns.log (ASCII or JSON, plain or gzip, or its fields as CSV)",
           _sniffer("dns", csv_layout=None), _decoder("dns", _dns)),
    Format("zeek_http", "proxy", "Zeek http.log (ASCII or JSON, plain or gzip, or its fields as CSV)",
           _sniffer("http", csv_layout=None), _decoder("http", _proxy)),
]
