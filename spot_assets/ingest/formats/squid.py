"""Squid access logs: the native ``access.log`` format and Squid's predefined ``combined`` format.

Native (``squid``), one line per request, whitespace-separated (Squid pads the elapsed column):
``time elapsed remotehost code/status bytes method URL rfc931 peerstatus/peerhost type``
(``logformat squid %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt``):

    time (epoch seconds.ms, UTC) -> ts; p_date/p_time are its UTC date and time
    elapsed (ms, as Blue Coat's time-taken) -> duration      remotehost -> clientip
    code -> action (TCP_MISS ...)    status -> respcode      bytes -> scbytes
    method -> reqmethod              URL -> urischeme, host, uriport, uripath, uriquery, uriextension
    rfc931 -> username               peerhost -> serverip, when it is an IP address
    type -> resconttype

Combined (``squid_combined``), Squid's Apache-compatible line with the cache result appended:
``remotehost ident user [dd/Mon/yyyy:HH:MM:SS +zone] "method URL HTTP/v" status bytes "referer"
"user-agent" code:hierarchy`` (``logformat combined``). It carries referer and useragent, which the
native format lacks, and lacks duration, resconttype and serverip; its local time is turned into
UTC with the zone it is written with.

The URL is split as ProxySG logs it: the query keeps its ``?``; a missing port is the scheme's
default (80/443/21); a CONNECT target ``host:443`` has a host and port and no scheme; a URL that is
neither (``error:invalid-request``) is kept whole in uripath. fulluri follows Spot's rule
(`textlog.fulluri`). ``-`` is null. Squid has no authgroup, exceptionid, filterresult, webcat,
csbytes, virusid, bcappname or bcappoper: those are null, as are referer and useragent in the native
format. A line that does not have the format's shape, or whose time or numbers do not parse, is a
reject.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from resources.tools import Tools
from spot_assets import schemas
from spot_assets.ingest.formats import textlog
from spot_assets.ingest.formats.base import Decoded, Format, Rejects

NATIVE = ("time", "elapsed", "remotehost", "code", "bytes", "method", "url", "rfc931", "peer", "type")
NATIVE_LINE = re.compile(r"\d+\.\d{3}\s+-?\d+\s+\S+\s+[A-Z_]+/\d{3}\s+\d+(\s+\S+){3}\s+\S+/\S+\s+\S+\s*")
COMBINED = (
    r'^(?P<remotehost>\S+) (?P<ident>\S+) (?P<user>\S+) '
    r'\[(?P<local>\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2}) (?P<zone>[+-]\d{4})\] '
    r'"(?P<method>[^"\s]+) (?P<url>[^"\s]+)(?: [^"]*)?" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'"(?P<referer>(?:[^"\\]|\\.)*)" "(?P<useragent>(?:[^"\\]|\\.)*)" (?P<action>[A-Z_]+):(?P<hier>\S+)\s*$'
)
COMBINED_FIELDS = re.compile(COMBINED).groupindex.keys()
IP = r"^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)$"
INTS = {"duration": pa.int32(), "scbytes": pa.int64()}


def _sniffer(line_pattern: re.Pattern):
    """Most of the head's whole data lines have the format's shape: Squid logs nothing but its lines,
    yet a log may start with a line of something else (netdata's test log starts with one of its 16
    "Unmatched!" lines), and that line alone must not hide the format."""
    def sniff(path: Path, head: bytes) -> bool:
        text = textlog.head_text(head)
        if text is None:
            return False
        lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
        if len(head) >= textlog.HEAD_BYTES and not text.endswith("\n"):
            lines = lines[:-1]  # cut by the head
        shaped = sum(line_pattern.fullmatch(line) is not None for line in lines)
        return shaped > len(lines) - shaped

    return sniff


def _events(columns: dict[str, pa.Array], url: pa.Array, rejects: Rejects) -> pa.Table:
    return textlog.events({**columns, **textlog.split_url(url)}, INTS, rejects)


def _native_block(rows: pa.Table, rejects: Rejects) -> pa.Table:
    rows = rows.append_column("tokens", pc.ascii_split_whitespace(rows["raw"]))
    rows = rows.append_column("n", pc.list_value_length(rows["tokens"]))
    rows = textlog.drop_bad(
        rows, pc.not_equal(rows["n"], len(NATIVE)),
        lambda row: f"{row['n']} fields where Squid's native format has {len(NATIVE)}", rejects,
    )
    field = {name: textlog.dash_null(pc.list_element(rows["tokens"], i)) for i, name in enumerate(NATIVE)}
    table = pa.table({
        "record": rows["record"], "raw": rows["raw"], **field,
        "code/status": pc.extract_regex(field["code"], r"^(?P<action>[^/]+)/(?P<status>\d{3})$"),
        "peerstatus/peerhost": pc.extract_regex(field["peer"], r"^(?P<hierarchy>[^/]+)/(?P<host>.+)$"),
    })
    for parsed, text in (("code/status", "code"), ("peerstatus/peerhost", "peer")):
        table = textlog.drop_bad(
            table, pc.is_null(table[parsed]), lambda row, p=parsed, t=text: f"bad {p} {row[t]!r}", rejects
        )
    code, peer = table["code/status"], pc.struct_field(table["peerstatus/peerhost"], "host")
    columns = {
        "record": table["record"],
        "raw": table["raw"],
        "when": table["time"],
        "ts": textlog.epoch_ms(table["time"]),
        "duration": table["elapsed"],
        "clientip": table["remotehost"],
        "action": pc.struct_field(code, "action"),
        "respcode": pc.struct_field(code, "status"),
        "scbytes": table["bytes"],
        "reqmethod": table["method"],
        "username": table["rfc931"],
        "serverip": pc.if_else(pc.match_substring_regex(peer, IP), peer, pa.scalar(None, pa.string())),
        "resconttype": table["type"],
    }
    return _events(columns, table["url"], rejects)


def _combined_block(rows: pa.Table, rejects: Rejects) -> pa.Table:
    rows = rows.append_column("fields", pc.extract_regex(rows["raw"], COMBINED))
    rows = textlog.drop_bad(rows, pc.is_null(rows["fields"]), lambda row: "not a Squid combined line", rejects)
    field = {name: textlog.dash_null(pc.struct_field(rows["fields"], name)) for name in COMBINED_FIELDS}
    zone = field["zone"]
    minutes = pc.add(
        pc.multiply(pc.cast(pc.utf8_slice_codeunits(zone, 1, 3), pa.int64()), 60),
        pc.cast(pc.utf8_slice_codeunits(zone, 3, 5), pa.int64()),
    )
    offset = pc.multiply(pc.if_else(pc.starts_with(zone, "-"), -60_000, 60_000), minutes)
    local = textlog.strict_time(field["local"], "%d/%b/%Y:%H:%M:%S")
    columns = {
        "record": rows["record"],
        "raw": rows["raw"],
        "when": pc.binary_join_element_wise(field["local"], zone, " "),
        "ts": pc.cast(pc.subtract(local, pc.cast(offset, pa.duration("ms"))), schemas.TS),
        "clientip": field["remotehost"],
        "username": field["user"],
        "reqmethod": field["method"],
        "respcode": field["status"],
        "scbytes": field["bytes"],
        "referer": field["referer"],
        "useragent": field["useragent"],
        "action": field["action"],
    }
    return _events(columns, field["url"], rejects)


def _decode_native(path: Path, tools: Tools) -> Decoded:
    return textlog.decode_lines(path, "Squid native", _native_block)


def _decode_combined(path: Path, tools: Tools) -> Decoded:
    return textlog.decode_lines(path, "Squid combined", _combined_block)


FORMATS = [
    Format(
        name="squid",
        data_type="proxy",
        description="Squid native access.log (epoch.ms elapsed client code/status bytes method URL ...; plain or gzip)",
        sniff=_sniffer(NATIVE_LINE),
        decode=_decode_native,
    ),
    Format(
        name="squid_combined",
        data_type="proxy",
        description="Squid access.log in its predefined 'combined' logformat (with referer and user agent)",
        sniff=_sniffer(re.compile(COMBINED)),
        decode=_decode_combined,
    ),
]
