"""Flow formats built on nfdump: nfcapd files, CSV that nfdump wrote elsewhere, pcaps of NetFlow exports.

All three end in the same text reader (`_read_rows`): nfdump's output or a CSV file is parsed by
pyarrow.csv as it streams, converted by pyarrow.compute, and any line that does not parse or convert
goes to the rejects with its line number; the other lines are kept.

Time rule: ``ts`` is the flow's **first-seen** time, and timecols derives Spot's ``treceived`` and its
split from it. Spot's fork of nfdump printed the collector's receive time there, but that is the
collector's clock: for a replayed capture, a converted file or a re-collected export it says when the
copy was made, not when the traffic happened, so it is not used (nfdump's ``tr`` is ignored).

Formats and their fill rules:

* ``nfcapd``: binary nfcapd files (``nfcapd.YYYYMMDDhhmm``, or any file with nfcapd's magic; never
  ``*.current*``, nfcapd's file in progress), decoded by ``nfdump -q -N -o fmt:...`` (a narrow fmt
  is ~3.5x faster than ``-o csv``; ``-N`` prints plain numbers; ``-6``, for full IPv6 addresses, is
  added when the file turns out to hold a long one, see `decode_nfcapd`).
  Every Spot field is filled. ``ts`` from ``%tsr`` (ms; ``%ter`` is buggy in 1.7.1 and not needed).
  ``proto``: ``-N`` makes nfdump print the protocol number; it is named with nfdump's own names for
  the protocols in ``PROTOCOLS`` (TCP, UDP, ICMP, ...), any other number stays its decimal text.
  ``dir``: nfdump 1.7.1 prints ``I``/``E`` for %dir; stored as Spot's INT 0 (ingress) / 1 (egress).
  ``tdur``: null where nfdump's duration is a wrapped negative (a record ending before it starts;
  every layout, see `_duration`). ``sas``/``das``: 32-bit AS numbers, kept whole.
  ``dport`` of ICMP flows: fmt prints ``type.code``; stored as type * 256 + code, as nfdump's csv
  (and so Spot) has it.
  ``record``: the flow's 1-based position in nfdump's output.
  Errors: nfdump 1.7.1 exits 0 even when it cannot read the file (a truncated file: "appendix offset
  error"; a foreign one: "bad magic"), printing "No matching flows" on stdout. So a non-zero exit **or
  any stderr line** makes the whole file a `DecodeError` carrying nfdump's text; rows it printed
  before the error are not kept (a file that fails part way is quarantined whole). The one exception
  is "Skip unknown record type N", which nfdump 1.7 prints for each record of nfdump 1.6's layout it
  has no reader for (type 9 in the chrispassas files) and then goes on: the flows all decode (their
  count equals ``nfdump -I``'s), so those lines become the file's warnings, counted by type.
* ``nfdump_csv``: CSV written by ``nfdump -o csv`` elsewhere, recognised by its header line: stock
  nfdump 1.6/1.7 (48 fields, ``ts`` with second resolution in the writer's local time, read as UTC;
  ``pr`` already a name) or Spot's fork (27 fields, spec §1.2). Spot's fork carries only ``tr``, so
  for it ``ts`` = ``tr`` (the only time it has). The ``Summary`` block nfdump appends and its
  "No matching flows" line are neither rows nor rejects; blank lines are skipped. ``record`` is the
  physical line number (the header is line 1).
* ``netflow_pcap``: a pcap/pcapng of NetFlow v5/v9/IPFIX export datagrams, replayed over loopback
  into an ``nfcapd`` started for the file (nfcapd 1.7.1 has no pcap reader compiled in; see
  `netflow_export`), whose files are then decoded as ``nfcapd``. Each exporter of the capture sends
  from its own loopback address, mapped back to the exporter's address in ``rip``. A datagram lost
  on loopback fails the file (`DecodeError`) instead of thinning it. ``record`` numbers the flows in
  order across the produced files; an export datagram that cannot be replayed (an IP fragment, or
  cut by the capture's snap length) is a reject whose ``record`` is its packet number, and so is each
  v9/IPFIX data set that comes before any template for it (what a collector started mid-stream sees:
  nfcapd drops such records without a word).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from resources.tools import Tools
from spot_assets import schemas
from spot_assets.datatypes import FLOW
from spot_assets.ingest.formats.base import Decoded, DecodeError, Format, Rejects
from spot_assets.ingest.formats.netflow_export import collect_exports, is_export_capture
from spot_assets.ingest.formats.pcapfile import first_packet_time
from spot_assets.ingest.timecols import flow_columns

# nfdump's field name -> Spot's column (spec §1.2). The three text layouts use these names.
SPOT_COLUMNS = {
    "td": "tdur", "sa": "sip", "da": "dip", "sp": "sport", "dp": "dport", "pr": "proto", "flg": "flag",
    "fwd": "fwd", "stos": "stos", "ipkt": "ipkt", "ibyt": "ibyt", "opkt": "opkt", "obyt": "obyt",
    "in": "input", "out": "output", "sas": "sas", "das": "das", "dtos": "dtos", "dir": "dir", "ra": "rip",
}

# The names nfdump itself prints for these protocol numbers (its protolist); others as decimal text.
PROTOCOLS = {
    1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 17: "UDP", 41: "IPv6", 47: "GRE", 50: "ESP", 51: "AH",
    58: "ICMP6", 88: "EIGRP", 89: "OSPF", 103: "PIM", 112: "VRRP", 115: "L2TP", 132: "SCTP",
}
_PROTOCOL_NAMES = pa.array([PROTOCOLS.get(number, str(number)) for number in range(256)])
_DIRECTIONS = pa.array(["I", "E"])  # %dir's letters, by Spot's value

NFCAPD_MAGIC = 0xA50C  # nfcapd file header: magic, then layout version 1 (nfdump 1.6) or 2 (1.7)
_BLOCK_BYTES = 1 << 20
_PIPE_BYTES = 1 << 20
# Batches (blocks of text) inspected and converted together: ~40 k flows per call of each
# pyarrow.compute kernel, so the per-call cost is spread (converting every 1 MB batch cost 0.2 s more
# per million flows, inspecting it 0.05 s), while the conversion still overlaps nfdump's decoding and
# the work left after it ends is small.
_CONVERT_BATCHES = 8


def _epoch_ms(values: pa.Array) -> pa.Array:
    """``%tsr``: epoch seconds with three decimals, to the exact millisecond."""
    return pc.cast(pc.round(pc.multiply(values, 1000)), pa.int64()).cast(schemas.TS)


# nfdump 1.7.1 takes a duration as an unsigned difference of milliseconds: a record whose end is
# before its start (668 of the 3,018 NAT records of chrispassas' sample) prints as ~1.8e16 s. Half
# of 2**64 ms splits the wrapped values from any real duration (292 million years); the true
# duration is unknown: null.
_WRAPPED_SECONDS = 2.0**63 / 1000


def _duration(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.less(values, _WRAPPED_SECONDS), values, pa.scalar(None, values.type))


def _protocol_name(values: pa.Array) -> pa.Array:
    return pc.take(_PROTOCOL_NAMES, values)


def _direction(values: pa.Array) -> pa.Array:
    """``%dir``'s letter, I or E, as Spot's INT 0 or 1."""
    numbers = pc.index_in(values, value_set=_DIRECTIONS)
    if numbers.null_count != values.null_count:
        raise pa.ArrowInvalid("direction is neither I nor E")
    return numbers


def _port(values: pa.Array) -> pa.Array:
    """``%dp`` is ``type.code`` for ICMP, which nfdump's csv (and Spot) write as type * 256 + code.

    The plain cast is tried first: rows without ICMP are then not searched for a dot."""
    try:
        return values.cast(pa.int32())
    except pa.ArrowInvalid:
        dotted = pc.match_substring(values, ".")
        if not pc.any(dotted).as_py():
            raise
    parts = pc.split_pattern(pc.if_else(dotted, values, pc.binary_join_element_wise("0", values, ".")), ".", max_splits=1)
    high, low = (pc.list_element(parts, i).cast(pa.int32()) for i in (0, 1))
    return pc.add(pc.multiply(high, 256), low)


@dataclass(frozen=True)
class _Column:
    """How one text column becomes a Spot column: pyarrow.csv's type while reading, then ``finish``."""

    read: pa.DataType
    finish: Callable[[pa.Array], pa.Array] | None = None  # raises ArrowInvalid for a bad value

    def convert(self, values: pa.Array) -> pa.Array:
        values = values.cast(self.read)
        return self.finish(values) if self.finish else values


@dataclass(frozen=True)
class _Layout:
    """One text layout of flow rows: its columns (nfdump's names) and those that differ from Spot's."""

    name: str
    columns: tuple[str, ...]
    time: str  # the column that holds the flow time; becomes ``ts``
    special: dict[str, _Column] = field(default_factory=dict)
    header: str | None = None  # the header line, when the layout has one
    padded: bool = False  # nfdump's fmt pads values with spaces

    @property
    def kept(self) -> dict[str, _Column]:
        """The columns Spot keeps, by nfdump name."""
        spot = schemas.FLOW_EVENTS
        return {c: self.special.get(c) or _Column(spot.field(SPOT_COLUMNS[c]).type)
                for c in self.columns if c == self.time or c in SPOT_COLUMNS}

    def read_types(self, typed: bool) -> dict[str, pa.DataType]:
        if typed:
            return {name: column.read for name, column in self.kept.items()}
        return {name: pa.binary() for name in self.columns}  # bytes: a damaged line may not be UTF-8


_DURATION = _Column(pa.float64(), _duration)
_FMT_FIELDS = ("tsr", "td", "sa", "da", "sp", "dp", "pr", "flg", "fwd", "stos", "ipkt", "ibyt", "opkt",
               "obyt", "in", "out", "sas", "das", "dtos", "dir", "ra")
NFDUMP_FMT = "fmt:" + ",".join(f"%{name}" for name in _FMT_FIELDS)
FMT = _Layout("nfdump fmt output", _FMT_FIELDS, "tsr", {
    "tsr": _Column(pa.float64(), _epoch_ms),
    "td": _DURATION,
    "dp": _Column(pa.string(), _port),
    "pr": _Column(pa.uint8(), _protocol_name),
    "dir": _Column(pa.string(), _direction),
}, padded=True)

_CSV_TIME = _Column(pa.timestamp("ms"), lambda values: values.cast(schemas.TS))
_STOCK_HEADER = ("ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,dir,"
                 "nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,mpls8,"
                 "mpls9,mpls10,cl,sl,al,ra,eng,exid,tr")
STOCK_CSV = _Layout("stock nfdump csv", tuple(_STOCK_HEADER.split(",")), "ts", {"ts": _CSV_TIME, "td": _DURATION},
                    header=_STOCK_HEADER)
_SPOT27_HEADER = "tr,try,trm,trd,trh,trm,trs,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,dtos,dir,ra"
# The header names the month and the minute both `trm`; pyarrow needs distinct names.
SPOT27_CSV = _Layout("Spot nfdump csv", ("tr", "try", "trmo", "trd", "trh", "trmi", "trs", *_SPOT27_HEADER.split(",")[7:]),
                     "tr", {"tr": _CSV_TIME, "td": _DURATION}, header=_SPOT27_HEADER)
_CSV_LAYOUTS = (STOCK_CSV, SPOT27_CSV)

# Lines nfdump prints after the rows: every line that does not parse from one of these on is trailer.
_TRAILER_MARKS = frozenset({"Summary", "No matching flows"})


# --- the shared text reader ----------------------------------------------------------------------

class _Lines:
    """pyarrow's handler for lines with the wrong field count: nfdump's trailer, else rejects."""

    def __init__(self) -> None:
        self.skipped: list[int] = []  # physical numbers of every line that is not a row
        self.rejected: list[tuple[int, str, str]] = []
        self._trailer = False

    def __call__(self, row) -> str:
        if row.number is None:  # pyarrow knows line numbers only when not parsing in threads
            raise RuntimeError("pyarrow.csv did not report the line number of an invalid row")
        self.skipped.append(row.number)
        self._trailer = self._trailer or row.text in _TRAILER_MARKS
        if not self._trailer:
            self.rejected.append((row.number, row.text, f"expected {row.expected_columns} fields, found {row.actual_columns}"))
        return "skip"


def _read_rows(open_text: Callable[[], contextlib.AbstractContextManager[BinaryIO]], layout: _Layout,
               path: Path, inspect: Callable[[pa.Table], None] | None = None) -> tuple[pa.Table, Rejects]:
    """Spot rows with a ``record`` column, and the rejects, from the text ``open_text`` streams.

    The first pass converts while reading (pyarrow.csv's types, then each column's ``finish``, batch by
    batch). Only when some value does not convert is the text read again as strings, the failing
    values found and their lines rejected. ``inspect`` sees the batches as read, a few at a time, and
    may raise to abandon the stream.
    """
    try:
        return _read_pass(open_text, layout, True, inspect)
    except pa.ArrowInvalid:
        pass  # some value does not convert; the second pass finds it
    try:
        return _read_pass(open_text, layout, False, inspect)
    except pa.ArrowInvalid as error:
        raise DecodeError(path, f"not readable as {layout.name}: {error}") from None


def _read_pass(open_text, layout: _Layout, typed: bool, inspect) -> tuple[pa.Table, Rejects]:
    lines = _Lines()
    types = layout.read_types(typed)
    parts = []
    with open_text() as stream:
        reader = pv.open_csv(
            stream,
            read_options=pv.ReadOptions(column_names=list(layout.columns), skip_rows=int(layout.header is not None),
                                        block_size=_BLOCK_BYTES, use_threads=False),
            parse_options=pv.ParseOptions(quote_char=False, ignore_empty_lines=False, invalid_row_handler=lines),
            convert_options=pv.ConvertOptions(column_types=types, include_columns=list(types), null_values=[""],
                                              strings_can_be_null=True),
        )
        read_schema = reader.schema

        def take(batches: list[pa.RecordBatch]) -> None:
            group = pa.Table.from_batches(batches, schema=read_schema)
            if inspect:
                inspect(group)
            parts.append(_to_spot(group, layout) if typed else group)

        pending = []
        for batch in reader:
            pending.append(batch)
            # Converting as the text arrives overlaps that work with nfdump's, which keeps writing.
            if len(pending) == _CONVERT_BATCHES:
                take(pending)
                pending = []
        if pending:
            take(pending)
    first = 2 if layout.header is not None else 1
    records = pa.array(np.delete(np.arange(first, first + sum(len(p) for p in parts) + len(lines.skipped)),
                                 np.asarray(lines.skipped, dtype=np.int64) - first), pa.int64())
    rejected = list(lines.rejected)
    if typed:
        table = pa.concat_tables(parts) if parts else _to_spot(read_schema.empty_table(), layout)
        table = table.append_column("record", records)
    else:
        text, bad = _as_text(pa.concat_tables(parts or [read_schema.empty_table()]).append_column("record", records))
        table = _to_spot(_drop_unconvertible(text, layout, rejected, bad), layout)
    table = _drop_blank_and_timeless(table, rejected)
    rejects = Rejects()
    for record, raw, reason in sorted(rejected):
        rejects.add(record, raw, reason)
    return table, rejects


def _as_text(table: pa.Table) -> tuple[pa.Table, dict[int, str]]:
    """The byte columns of a text-read table as strings, and the rows holding bytes that are not UTF-8
    (nfdump writes ASCII: such a line is damaged), by position, with their reason."""
    bad: dict[int, str] = {}
    for i, name in enumerate(table.column_names):
        values = table[name]
        if not pa.types.is_binary(values.type):
            continue
        try:
            text = values.cast(pa.string())
        except pa.ArrowInvalid:
            items = values.to_pylist()
            for row, item in enumerate(items):
                if item is not None and item.decode("utf-8", "replace").encode() != item:
                    bad.setdefault(row, f"{name}: bytes that are not UTF-8 text")
            text = pa.array([None if v is None else v.decode("utf-8", "backslashreplace") for v in items], pa.string())
        table = table.set_column(i, name, text)
    return table, bad


def _drop_unconvertible(text: pa.Table, layout: _Layout, rejected: list, bad: dict[int, str]) -> pa.Table:
    """Reject the lines of a text-read table that hold a value its column cannot convert (and the
    lines already found ``bad``)."""
    for name, column in layout.kept.items():
        values = _trimmed(text[name].combine_chunks(), layout)
        for i in _unconvertible(values, column):
            bad.setdefault(i, f"{name}: {values[i].as_py()!r} is not a valid value")
    if not bad:
        return text
    raws, records = _raw_lines(text, layout), text["record"]
    rejected.extend((records[i].as_py(), raws[i].as_py(), reason) for i, reason in bad.items())
    keep = np.ones(text.num_rows, dtype=bool)
    keep[list(bad)] = False
    return text.filter(pa.array(keep))


def _unconvertible(values: pa.Array, column: _Column) -> list[int]:
    """Positions whose text does not convert, found by halving (a conversion fails for a whole array)."""
    try:
        column.convert(values)
        return []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(values) == 1:
            return [0]
    half = len(values) // 2
    return _unconvertible(values[:half], column) + [half + i for i in _unconvertible(values[half:], column)]


def _raw_lines(table: pa.Table, layout: _Layout) -> pa.ChunkedArray:
    """The original lines of a text-read table (nfdump never quotes, so joining the fields restores them)."""
    fields = [pc.fill_null(table[c], "") for c in layout.columns]
    return pc.binary_join_element_wise(*fields, ",")


def _trimmed(values, layout: _Layout):
    return pc.ascii_trim_whitespace(values) if layout.padded and pa.types.is_string(values.type) else values


def _drop_blank_and_timeless(table: pa.Table, rejected: list) -> pa.Table:
    """Blank lines read as all-null rows and are skipped; a row without its time is rejected."""
    timeless = table["ts"].is_null()
    if not pc.any(timeless).as_py():
        return table
    blank = timeless
    for name in table.column_names:
        if name != "record":
            blank = pc.and_(blank, table[name].is_null())
    for record in table.filter(pc.and_not(timeless, blank))["record"].to_pylist():
        rejected.append((record, None, "missing flow time"))
    return table.filter(pc.invert(timeless))


def _to_spot(table: pa.Table | pa.RecordBatch, layout: _Layout) -> pa.Table:
    """The layout's columns as Spot's: its time as ``ts`` (ms, UTC), the rest renamed and finished.

    Spot's time columns are derived here too (timecols would otherwise do it after the whole file),
    so that for nfcapd files the work happens while nfdump is still decoding.
    """
    columns = {}
    for name, column in layout.kept.items():
        values = _trimmed(table.column(name), layout)
        if values.type != column.read:  # read as text (the second pass)
            values = values.cast(column.read)
        columns["ts" if name == layout.time else SPOT_COLUMNS[name]] = column.finish(values) if column.finish else values
    columns.update(flow_columns(columns["ts"]))
    if "record" in table.schema.names:
        columns["record"] = table.column("record")
    return pa.table(columns)


# --- nfcapd --------------------------------------------------------------------------------------

# The stderr line nfdump prints for a record it skips and reads on past: a warning, not a failure.
_SKIPPED_RECORD = re.compile(r"^Skip unknown record type (\d+)$")


def _nfdump_warnings(message: str) -> list[str] | None:
    """The warnings in nfdump's stderr, or None when some line says the file could not be read."""
    skipped: dict[str, int] = {}
    for line in filter(None, (line.strip() for line in message.splitlines())):
        match = _SKIPPED_RECORD.match(line)
        if match is None:
            return None
        skipped[match.group(1)] = skipped.get(match.group(1), 0) + 1
    return [f"nfdump skipped {n} record(s) of unknown type {kind}" for kind, n in sorted(skipped.items())]


@contextlib.contextmanager
def _nfdump_output(path: Path, tools: Tools, full_ipv6: bool, warnings: list[str]) -> Iterator[BinaryIO]:
    """nfdump's fmt output for one file as a stream; nfdump's complaint becomes the file's `DecodeError`,
    its notes on records it skipped fill ``warnings`` (replaced on each run: a file may be read twice).

    nfdump's stdout gets a 1 MB stdio buffer (coreutils' stdbuf) and a 1 MB pipe: with the default
    4 KB writes, moving the text through the pipe cost more than nfdump's own decoding. The stream is
    buffered, so that each read pyarrow.csv makes returns its whole block: a read of the bare pipe
    returns whatever nfdump has written so far (64 KB, 340 rows, when measured), and converting
    ~3,000 small batches per million flows cost as much again as the parsing.
    """
    command = [tools.nfdump, "-r", str(path), "-q", "-N", *(["-6"] if full_ipv6 else []), "-o", NFDUMP_FMT]
    stdbuf = shutil.which("stdbuf")
    if stdbuf:
        command = [stdbuf, f"-o{_PIPE_BYTES}", *command]
    read_end, write_end = os.pipe()
    with contextlib.suppress(OSError):  # a smaller pipe only costs speed
        fcntl.fcntl(write_end, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_BYTES)
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(command, stdout=write_end, stderr=errors, stdin=subprocess.DEVNULL)
        finally:
            os.close(write_end)
        try:
            with open(read_end, "rb", buffering=_PIPE_BYTES) as stream:
                yield stream
        except Exception:
            # The read end is closed, so nfdump ends at its next write if it had not ended yet. When
            # it had failed, its own message says more than the reader's (an empty or cut stream).
            code = _end(process, timeout=10)
            message = _message(errors)
            if code > 0 or _nfdump_warnings(message) is None:
                raise DecodeError(path, f"nfdump failed (exit {code}): {message or 'no message'}") from None
            raise
        except BaseException:
            _end(process, timeout=0)
            raise
        code = process.wait()
        message = _message(errors)
    notes = _nfdump_warnings(message)
    if code != 0 or notes is None:
        raise DecodeError(path, f"nfdump failed (exit {code}): {message or 'no message'}")
    warnings[:] = notes


def _end(process: subprocess.Popen, timeout: float) -> int:
    """The process's exit code, killing it when it has not ended within ``timeout`` seconds."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def _message(errors: BinaryIO) -> str:
    errors.seek(0)
    return errors.read().decode("utf-8", "replace").strip()


class _CondensedIPv6(Exception):
    """nfdump shortened an IPv6 address (``2001:db..34:5678``): the file needs ``-6``."""


def _no_condensed_ipv6(rows: pa.Table) -> None:
    """nfdump right-aligns an address in 16 characters and condenses only longer ones (to 16), so
    only a value without a leading space can be condensed: searching those alone is ~7x cheaper."""
    for name in ("sa", "da", "ra"):
        values = rows.column(name)
        unpadded = values.filter(pc.invert(pc.starts_with(values, " ")))
        if len(unpadded) and pc.any(pc.match_substring(unpadded, "..")).as_py():
            raise _CondensedIPv6


def decode_nfcapd(path: Path, tools: Tools) -> Decoded:
    """Without ``-6`` nfdump pads every address to 16 characters instead of 39 (a quarter less text to
    move and parse); the first shortened IPv6 address restarts the file with ``-6``."""
    warnings: list[str] = []
    try:
        table, rejects = _read_rows(lambda: _nfdump_output(path, tools, False, warnings), FMT, path,
                                    _no_condensed_ipv6)
    except _CondensedIPv6:
        table, rejects = _read_rows(lambda: _nfdump_output(path, tools, True, warnings), FMT, path)
    return Decoded(table, rejects.table(), warnings)


def sniff_nfcapd(path: Path, head: bytes) -> bool:
    if ".current" in path.name:
        return False
    if len(head) >= 4 and int.from_bytes(head[:2], "little") == NFCAPD_MAGIC and int.from_bytes(head[2:4], "little") in (1, 2):
        return True
    # A file named like nfcapd's output is claimed even when damaged, so nfdump says what is wrong.
    return path.name.startswith("nfcapd.") and _csv_layout(head) is None


_NFCAPD_NAME = re.compile(r"^nfcapd\.(\d{12})$")


def first_time_nfcapd(path: Path, tools: Tools) -> dt.datetime | None:
    """nfcapd names a file by the start of its interval (``nfcapd.YYYYMMDDhhmm``, UTC); any other
    name is read by nfdump's statistics (``-I``), whose ``First:`` is the earliest flow's second."""
    if m := _NFCAPD_NAME.match(path.name):
        return dt.datetime.strptime(m.group(1), "%Y%m%d%H%M").replace(tzinfo=dt.timezone.utc)
    stat = subprocess.run([tools.nfdump, "-I", "-r", str(path)], capture_output=True, text=True, timeout=60)
    match = re.search(r"^First:\s+(\d+)", stat.stdout, re.M)
    return dt.datetime.fromtimestamp(int(match.group(1)), dt.timezone.utc) if match and int(match.group(1)) else None


# --- CSV decoded elsewhere -----------------------------------------------------------------------

def _csv_layout(head: bytes) -> _Layout | None:
    first = head.split(b"\n", 1)[0].rstrip(b"\r").decode("ascii", "replace")
    return next((layout for layout in _CSV_LAYOUTS if layout.header == first), None)


def decode_nfdump_csv(path: Path, tools: Tools) -> Decoded:
    with open(path, "rb") as f:
        layout = _csv_layout(f.read(len(_STOCK_HEADER) + 2))
    if layout is None:
        raise DecodeError(path, "first line is neither stock nfdump's nor Spot's csv header")
    try:
        table, rejects = _read_rows(lambda: open(path, "rb"), layout, path)
    except DecodeError as error:
        if _STRADDLING not in error.reason:
            raise
        table, rejects = _read_without_long_lines(path, layout)
    return Decoded(table, rejects.table())


# pyarrow.csv's complaint about a line longer than its block: the file has a line no nfdump row can be.
_STRADDLING = "straddling object straddles two block boundaries"
_LONG_LINE_BYTES = _BLOCK_BYTES // 2


def _read_without_long_lines(path: Path, layout: _Layout) -> tuple[pa.Table, Rejects]:
    """The file read again with each overlong line a reject and a blank line in the copy read (blank
    lines are skipped, so the other lines keep their numbers). Only a damaged file pays for the copy."""
    long_lines = Rejects()
    with tempfile.NamedTemporaryFile(prefix="spot-csv-") as copy, open(path, "rb") as original:
        for number, line in enumerate(original, 1):
            if len(line) > _LONG_LINE_BYTES:
                long_lines.add(number, line[:200], f"a line of {len(line)} bytes, longer than any nfdump row")
                line = b"\n"
            copy.write(line)
        copy.flush()
        table, rejects = _read_rows(lambda: open(copy.name, "rb"), layout, path)
    merged = Rejects()
    for record, raw, reason in sorted(zip(long_lines.records + rejects.records, long_lines.raws + rejects.raws,
                                          long_lines.reasons + rejects.reasons), key=lambda r: r[0]):
        merged.add(record, raw, reason)
    return table, merged


# --- pcaps of NetFlow exports ---------------------------------------------------------------------

def decode_netflow_pcap(path: Path, tools: Tools) -> Decoded:
    rejects = Rejects()
    parts, part_rejects, warnings, offset = [], [], [], 0
    with tempfile.TemporaryDirectory(prefix="spot-nfcapd-") as folder:
        files, origin = collect_exports(path, tools, folder, rejects)
        for produced in files:
            try:
                part = decode_nfcapd(produced, tools)
            except DecodeError as error:
                raise DecodeError(path, f"the collected {produced.name}: {error.reason}") from None
            parts.append(part.events.set_column(part.events.schema.get_field_index("record"), "record",
                                                pc.add(part.events["record"], offset)))
            part_rejects.append(part.rejects.set_column(0, "record", pc.add(part.rejects["record"], offset)))
            warnings.extend(f"the collected {produced.name}: {w}" for w in part.warnings)
            offset += part.events.num_rows + part.rejects.num_rows
    if not parts:
        return Decoded(FLOW.decoded.empty_table(), rejects.table())
    events = pa.concat_tables(parts)
    loopback, exporters = pa.array(list(origin), pa.string()), pa.array(list(origin.values()), pa.string())
    rip = pc.coalesce(pc.take(exporters, pc.index_in(events["rip"], value_set=loopback)), events["rip"])
    events = events.set_column(events.schema.get_field_index("rip"), "rip", rip)
    return Decoded(events, pa.concat_tables([rejects.table(), *part_rejects]), warnings)


FORMATS = [
    Format("nfdump_csv", "flow", "CSV written by nfdump -o csv (stock 1.6/1.7 or Spot's 27-field fork)",
           lambda path, head: _csv_layout(head) is not None, decode_nfdump_csv),
    Format("nfcapd", "flow", "binary nfcapd files, decoded with nfdump", sniff_nfcapd, decode_nfcapd,
           first_time_nfcapd, tools=("nfdump",)),
    # The capture's clock, not the exporters' (their records' times need the whole replay).
    Format("netflow_pcap", "flow", "pcap of NetFlow v5/v9/IPFIX export datagrams, collected with nfcapd",
           lambda path, head: is_export_capture(head), decode_netflow_pcap, first_packet_time, tools=("nfdump",)),
]
