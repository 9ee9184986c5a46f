"""Blue Coat ProxySG access logs in ELFF (W3C extended log format), driven by their ``#Fields:`` header.

Spot read fixed positions of the 27-field ``bcreportermain`` layout (spec §1.2); ProxySG writes
whatever its log format declares, so here every data line is read with the latest ``#Fields:``
declaration above it (a log may re-declare midway, e.g. after a format change or an appended
file). A log with no ``#Fields:`` line before its first data line is read with Spot's 27-field
order. Other directives (``#Software:``, ``#Version:``, ``#Date:``, ``#Remark:`` ...) and any
other ``#`` line are neither rows nor rejects.

Tokens are whitespace-separated, a double-quoted token may hold spaces (Spot's shlex rule); the
quotes are not part of the value (Spot's non-POSIX shlex kept them, so Spot stored
``"Mozilla/5.0 ..."`` quotes included), and ``""`` inside quotes is one ``"`` as W3C defines it.
A quote inside a token (``a"b``) is text; a token that opens a quote and does not close it makes
the line a reject.

Field names (case-insensitive) -> Spot columns; a column takes the first of its names the
declaration holds:

    date, time -> p_date, p_time (kept as written); ts = date + time read as UTC (ELFF logs GMT);
        without them, ``timestamp`` (epoch seconds, ProxySG's squid-compatible field) gives ts
    time-taken -> duration (ms)            c-ip -> clientip
    cs-username, else cs-userdn -> username
    cs-auth-group -> authgroup             x-exception-id -> exceptionid
    sc-filter-result -> filterresult       cs-categories, else sc-filter-category (SGOS 4) -> webcat
    cs(Referer) -> referer                 sc-status -> respcode
    s-action -> action                     cs-method -> reqmethod
    rs(Content-Type) -> resconttype        cs(User-Agent) -> useragent
    cs-uri-scheme -> urischeme             cs-host -> host
    cs-uri-port -> uriport                 cs-uri-path, else cs-uri-stem -> uripath
    cs-uri-query -> uriquery               cs-uri-extension -> uriextension
    s-ip -> serverip                       sc-bytes, cs-bytes -> scbytes, csbytes
    x-virus-id -> virusid
    x-bluecoat-application-name, x-bluecoat-application-operation -> bcappname, bcappoper

``cs-uri`` (the full URL) fills urischeme, host, uriport, uripath and uriquery when their own
fields are not declared; uriextension falls back to the extension of the path. ``c-ip`` is the
only client field: ``cs-ip`` names the address the client connected to (the proxy), not the
client. Fields with no Spot column (``s-sitename``, ``s-hierarchy``, ``s-supplier-name``,
``x-icap-*`` ...) are read and dropped. A Spot column whose field the log does not declare is null.

Rows: a line whose token count differs from the declaration, whose date/time does not exist, or
whose time-taken/sc-bytes/cs-bytes is not an integer is a reject; a block whose declaration has
neither date+time nor timestamp rejects its lines.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from resources.tools import Tools
from spot_assets import schemas
from spot_assets.ingest.formats import textlog
from spot_assets.ingest.formats.base import Decoded, Format, Rejects

SPOT_FIELDS = (
    "date time time-taken c-ip cs-username cs-auth-group x-exception-id sc-filter-result cs-categories "
    "cs(Referer) sc-status s-action cs-method rs(Content-Type) cs-uri-scheme cs-host cs-uri-port cs-uri-path "
    "cs-uri-query cs-uri-extension cs(User-Agent) s-ip sc-bytes cs-bytes x-virus-id "
    "x-bluecoat-application-name x-bluecoat-application-operation"
).split()

COLUMN_FIELDS = {
    "p_date": ("date",),
    "p_time": ("time",),
    "duration": ("time-taken",),
    "clientip": ("c-ip",),
    "username": ("cs-username", "cs-userdn"),
    "authgroup": ("cs-auth-group",),
    "exceptionid": ("x-exception-id",),
    "filterresult": ("sc-filter-result",),
    "webcat": ("cs-categories", "sc-filter-category"),
    "referer": ("cs(referer)",),
    "respcode": ("sc-status",),
    "action": ("s-action",),
    "reqmethod": ("cs-method",),
    "resconttype": ("rs(content-type)",),
    "urischeme": ("cs-uri-scheme",),
    "host": ("cs-host",),
    "uriport": ("cs-uri-port",),
    "uripath": ("cs-uri-path", "cs-uri-stem"),
    "uriquery": ("cs-uri-query",),
    "uriextension": ("cs-uri-extension",),
    "useragent": ("cs(user-agent)",),
    "serverip": ("s-ip",),
    "scbytes": ("sc-bytes",),
    "csbytes": ("cs-bytes",),
    "virusid": ("x-virus-id",),
    "bcappname": ("x-bluecoat-application-name",),
    "bcappoper": ("x-bluecoat-application-operation",),
}
INTS = {"duration": pa.int32(), "scbytes": pa.int64(), "csbytes": pa.int64()}

FIELDS_DIRECTIVE = "#Fields:"
DIRECTIVE = re.compile(r"#(Software|Version|Date|Fields|Remark|Start-Date|End-Date):")
DATA_START = re.compile(r"\d{4}-\d{2}-\d{2}\s+\d{2}:\d{2}:\d{2}\s")
# A token: a double-quoted string ending at whitespace, or a run of non-whitespace not starting with a
# quote; the third group catches a token that opens a quote it does not close.
TOKEN = re.compile(r'"((?:[^"]|"")*)"(?=\s|$)|([^\s"]\S*)|(\S+)')


def _sniff(path: Path, head: bytes) -> bool:
    text = textlog.head_text(head)
    if text is None:
        return False
    if any(DIRECTIVE.match(line) for line in text.splitlines()):
        return True
    line = textlog.first_data_line(text)
    return line is not None and DATA_START.match(line) is not None


# ----- tokenizing


def _tokens(line: str) -> list[str | None] | None:
    """The values of a line's fields; None when a quoted field does not close."""
    if '"' not in line:
        return [None if token == "-" else token for token in line.split()]
    values = []
    for quoted, bare, broken in TOKEN.findall(line):
        if broken:
            return None
        value = bare or quoted.replace('""', '"')
        values.append(None if value == "-" else value)
    return values


def _arrow_split(lines: pa.Array, n: int) -> tuple[pa.Table, list[int]] | None:
    """Arrow's CSV reader splits well-formed lines (single spaces, balanced quotes) in C++: the fields
    of the lines it could split, and the positions of those it could not. None if its rows no longer
    line up with the input lines."""
    names = [f"f{i}" for i in range(n)]
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines), "\n")
    unsplit: list[int] = []

    def invalid(row) -> str:
        unsplit.append(row.number - 1)
        return "skip"

    buffer = joined[0].as_buffer()
    table = pcsv.read_csv(
        pa.BufferReader(buffer),
        # One block for the buffer (already in memory): a line longer than Arrow's 1 MB default block
        # would otherwise fail the whole read instead of being one rejected line.
        read_options=pcsv.ReadOptions(column_names=names, use_threads=False, block_size=buffer.size + 1),
        parse_options=pcsv.ParseOptions(delimiter=" ", quote_char='"', invalid_row_handler=invalid),
        convert_options=pcsv.ConvertOptions(
            column_types={name: pa.string() for name in names}, null_values=["-"], strings_can_be_null=True
        ),
    )
    if table.num_rows + len(unsplit) != len(lines) or any(number is None for number in unsplit):
        return None
    return table, unsplit


def split_fields(rows: pa.Table, n: int, rejects: Rejects) -> pa.Table:
    """``rows`` (record, raw) plus the fields f0..f{n-1} of each line; lines without n fields are rejected.

    Regular lines go through Arrow's CSV reader; the others (several spaces or tabs between fields,
    an odd number of quotes, which would make the reader run on into the next line, or a token count
    Arrow refuses) are tokenized in Python, line by line.
    """
    raw = rows["raw"].combine_chunks()
    irregular = pc.or_(
        pc.match_substring_regex(raw, r"[\t\r]|  "), pc.equal(pc.bit_wise_and(pc.count_substring(raw, '"'), 1), 1)
    )
    regular = textlog.where(rows, pc.invert(irregular))
    fast, slow = _empty_fields(n), rows
    split = _arrow_split(regular["raw"].combine_chunks(), n) if regular.num_rows else None
    if split is not None:
        fields, unsplit = split
        split_ok = pc.invert(pc.is_in(pa.array(np.arange(regular.num_rows)), pa.array(unsplit, pa.int64())))
        fast = pa.table([*textlog.where(regular, split_ok).columns, *fields.columns], schema=fast.schema)
        slow = pa.concat_tables([rows.filter(irregular), regular.filter(pc.invert(split_ok))])
    tokenized = _tokenize(slow, n, rejects)
    if not tokenized.num_rows:
        return fast
    return pa.concat_tables([fast, tokenized]).sort_by("record") if fast.num_rows else tokenized


def _tokenize(rows: pa.Table, n: int, rejects: Rejects) -> pa.Table:
    good: list[tuple] = []
    for record, line in zip(rows["record"].to_pylist(), rows["raw"].to_pylist()):
        values = _tokens(line)
        if values is None:
            rejects.add(record, line, "a double-quoted field is not closed")
        elif len(values) != n:
            rejects.add(record, line, f"{len(values)} fields where #Fields declares {n}")
        else:
            good.append((record, line, *values))
    schema = _empty_fields(n).schema
    if not good:
        return schema.empty_table()
    return pa.table([pa.array(column, field.type) for column, field in zip(zip(*good), schema)], schema=schema)


def _empty_fields(n: int) -> pa.Table:
    fields = [("record", pa.int64()), ("raw", pa.string()), *((f"f{i}", pa.string()) for i in range(n))]
    return pa.schema(fields).empty_table()


# ----- from fields to Spot's columns


def _declared(names: list[str]) -> dict[str, int]:
    """Position of each field name (lower case; the first of duplicates)."""
    positions: dict[str, int] = {}
    for i, name in enumerate(names):
        positions.setdefault(name.lower(), i)
    return positions


def decode_block(names: list[str], declared_at: int | None, rows: pa.Table, rejects: Rejects) -> pa.Table | None:
    """The events of data lines (``record``, ``raw``) read with the field names `names`."""
    positions = _declared(names)
    if not ({"date", "time"} <= positions.keys() or "timestamp" in positions):
        where = f"#Fields (line {declared_at})" if declared_at else "Spot's default field order"
        for record, raw in zip(rows["record"].to_pylist(), rows["raw"].to_pylist()):
            rejects.add(record, raw, f"{where} declares neither date and time nor timestamp")
        return None
    rows = split_fields(rows, len(names), rejects)
    field = {name: rows[f"f{i}"] for name, i in positions.items()}
    table = {"record": rows["record"], "raw": rows["raw"]}
    for column, sources in COLUMN_FIELDS.items():
        source = next((name for name in sources if name in field), None)
        if source is not None:
            table[column] = field[source]
    if "cs-uri" in field:
        for column, values in textlog.split_url(field["cs-uri"]).items():
            table.setdefault(column, values)
    if "uripath" in table:
        table.setdefault("uriextension", textlog.uri_extension(table["uripath"]))
    if "p_date" in table and "p_time" in table:
        table["when"] = pc.binary_join_element_wise(table["p_date"], table["p_time"], " ")
        table["ts"] = pc.cast(textlog.strict_time(table["when"], "%Y-%m-%d %H:%M:%S"), schemas.TS)
    else:
        table["when"] = field["timestamp"]
        table["ts"] = textlog.epoch_ms(table["when"])
    return textlog.events(table, INTS, rejects)


def decode(path: Path, tools: Tools) -> Decoded:
    rejects = Rejects()
    parts: list[pa.Table] = []
    names, declared_at, n_data = SPOT_FIELDS, None, 0
    for lines in textlog.read_lines(path):
        directives = pc.indices_nonzero(pc.starts_with(lines.text, FIELDS_DIRECTIVE)).to_pylist()
        start = 0
        for stop in [*directives, len(lines.text)]:
            rows = textlog.data_lines(lines, start, stop)
            if rows.num_rows:
                n_data += rows.num_rows
                part = decode_block(names, declared_at, rows, rejects)
                if part is not None and part.num_rows:
                    parts.append(part)
            if stop < len(lines.text):
                names = lines.text[stop].as_py()[len(FIELDS_DIRECTIVE):].split()
                declared_at = lines.first + stop
            start = stop + 1
    return textlog.finish(path, "Blue Coat ELFF", parts, rejects, n_data)


FORMATS = [
    Format(
        name="elff",
        data_type="proxy",
        description="Blue Coat ProxySG access log (ELFF, read by its #Fields: header; plain or gzip)",
        sniff=_sniff,
        decode=decode,
    )
]
