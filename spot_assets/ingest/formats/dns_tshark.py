"""The tshark engine of the DNS pcap format: tshark's field output, streamed into Arrow.

tshark is the reference: the native engine must return exactly what this module returns, and
hands it every packet it cannot decode with certainty. Both therefore share the rules fixed here:

* the display filter (which frames are rows) and the preferences that switch off reassembly and
  TCP sequence analysis, so that each frame is decoded on its own: a chunked run equals a whole
  run, and a packet extracted into another file decodes the same (so a retransmitted TCP response
  is a row, as a retried UDP one is);
* how tshark's text becomes columns, and which rows are rejects: a frame tshark itself marks as
  malformed, cut by the capture's snap length or unreassembled, or whose query name tshark
  could not decode (its ``<...>`` placeholders other than ``<Root>``).

Memory: tshark's grows with the packets of its input, so a capture that may hold more than
``Tools.tshark_chunk_packets`` packets is split with ``editcap -c`` and read one chunk at a time.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from resources.tools import Tools
from spot_assets.datatypes import DNS
from spot_assets.ingest.formats import pcapfile
from spot_assets.ingest.formats.base import REJECT_COLUMNS, Decoded, DecodeError, Rejects
from spot_assets.schemas import TS

# What both engines return (the decoder columns of the dns table that a capture carries).
EVENTS = pa.schema([f.with_nullable(True) for f in DNS.decoded
                    if f.name not in ("frame_time", "unix_tstamp", "uid")])  # time columns come from timecols

# Spot's filter (responses carry question and answer), restricted to DNS on port 53 carried by the
# frame's only IP header: mDNS and LLMNR (which tshark also shows as dns) are not DNS resolution,
# and a DNS packet inside a tunnel or quoted by an ICMP error is not a response of this network.
DISPLAY_FILTER = (
    "dns.flags.response == 1 && (udp.port == 53 || tcp.port == 53)"
    " && !(ip && ipv6) && !(count(ip) > 1) && !(count(ipv6) > 1)"
)
PREFERENCES = {
    "ip.defragment": "FALSE",
    "ipv6.defragment": "FALSE",
    "tcp.desegment_tcp_streams": "FALSE",
    "dns.desegment_dns_messages": "FALSE",
    "tcp.analyze_sequence_numbers": "FALSE",
}
# tshark field -> column of the raw table; -E occurrence=f keeps the first value of each.
FIELDS = {
    "frame.number": "number",
    "frame.time_epoch": "epoch",
    "frame.len": "frame_len",
    "ip.src": "ip_src",
    "ip.dst": "ip_dst",
    "ipv6.src": "ipv6_src",
    "ipv6.dst": "ipv6_dst",
    "dns.qry.name": "dns_qry_name",
    "dns.qry.type": "dns_qry_type",
    "dns.qry.class": "dns_qry_class",
    "dns.flags.rcode": "dns_qry_rcode",
    "dns.a": "dns_a",
    "_ws.malformed": "malformed",
    "_ws.short": "short",
    "_ws.unreassembled": "unreassembled",
}
_RAW_COLUMNS = [c for c in FIELDS.values() if c != "number"]
# tshark's frame numbers (of the file it read) -> records (of the capture being decoded).
Renumber = Callable[[pa.Array], pa.Array]
TRUNCATED_REASON = "capture truncated: the file ends in the middle of a packet"
_CUT = "appears to have been cut short in the middle of a packet"
_NOISE = re.compile(r"^Running as user .*dangerous\.$", re.M)


def command(tools: Tools, path: Path) -> list[str]:
    """tshark's field output (tab-separated: tshark escapes tabs inside values as ``\\t``)."""
    cmd = [tools.tshark, "-n", "-r", str(path), "-Y", DISPLAY_FILTER]
    for name, value in PREFERENCES.items():
        cmd += ["-o", f"{name}:{value}"]
    cmd += ["-T", "fields", "-E", "separator=/t", "-E", "occurrence=f", "-E", "quote=n", "-E", "header=n"]
    for field in FIELDS:
        cmd += ["-e", field]
    return cmd


def _message(stderr: str) -> str:
    return " ".join(_NOISE.sub("", stderr).split())


def _columns(raw: pa.Table | pa.RecordBatch, numbers: pa.Array) -> tuple[pa.Table, pa.Array]:
    """The events of a batch of tshark rows, and the reject reason of each row (null: a good row)."""
    sec_frac = pc.split_pattern(raw["epoch"], ".", max_splits=1)
    millis = pc.add(
        pc.multiply(pc.cast(pc.list_element(sec_frac, 0), pa.int64()), 1000),
        pc.cast(pc.utf8_slice_codeunits(pc.utf8_rpad(pc.list_element(sec_frac, 1), 3, "0"), 0, 3), pa.int64()),
    )
    events = pa.Table.from_arrays(
        [
            pc.cast(millis, pa.timestamp("ms")).cast(TS),
            pc.cast(raw["frame_len"], pa.int32()),
            pc.coalesce(raw["ip_dst"], raw["ipv6_dst"]),
            pc.coalesce(raw["ip_src"], raw["ipv6_src"]),
            raw["dns_qry_name"],
            raw["dns_qry_class"],
            pc.cast(raw["dns_qry_type"], pa.int32()),
            pc.cast(raw["dns_qry_rcode"], pa.int32()),
            raw["dns_a"],
            numbers,
        ],
        schema=EVENTS,
    )
    name = raw["dns_qry_name"]
    placeholder = pc.and_(pc.match_substring_regex(name, "^<.*>$"), pc.not_equal(name, "<Root>"))
    flagged = pc.coalesce(raw["malformed"], raw["short"], raw["unreassembled"], pc.if_else(placeholder, name, None))
    reason = pc.binary_join_element_wise("undecodable DNS response (tshark: ", flagged, ")", "")
    return events, reason


def read_fields(stream: BinaryIO, numbers: Renumber) -> tuple[list[pa.Table], list[pa.Table]]:
    """Events and rejects from tshark's field output; ``numbers`` maps tshark's frame numbers to records."""
    if not stream.peek(1):
        return [], []
    reader = pv.open_csv(
        stream,
        read_options=pv.ReadOptions(column_names=list(FIELDS.values()), block_size=1 << 22),
        parse_options=pv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False),
        convert_options=pv.ConvertOptions(
            column_types={c: pa.string() for c in FIELDS.values()}, null_values=[""], strings_can_be_null=True
        ),
    )
    events, rejects = [], []
    for batch in reader:
        table, reason = _columns(batch, numbers(pc.cast(batch["number"], pa.int64())))
        bad = pc.is_valid(reason)
        if pc.any(bad).as_py():
            raw = pc.binary_join_element_wise(
                *[batch[c] for c in _RAW_COLUMNS], "\t", null_handling="replace", null_replacement=""
            )
            rejects.append(
                pa.Table.from_arrays(
                    [pc.filter(table["record"], bad), pc.filter(raw, bad), pc.filter(reason, bad)],
                    schema=REJECT_COLUMNS,
                )
            )
            table = table.filter(pc.invert(bad))
        events.append(table)
    return events, rejects


def run(tools: Tools, path: Path, numbers: Renumber) -> tuple[list[pa.Table], list[pa.Table], bool]:
    """One tshark over one file: its events, its rejects, and whether tshark found the file cut short."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command(tools, path), stdout=subprocess.PIPE, stderr=err)
        try:
            events, rejects = read_fields(proc.stdout, numbers)
        finally:
            proc.stdout.close()
            code = proc.wait()
        err.seek(0)
        message = _message(err.read().decode("utf-8", "replace"))
    if code != 0 and _CUT not in message:
        raise DecodeError(path, message or f"tshark exited with status {code}")
    return events, rejects, _CUT in message


def _chunks(tools: Tools, path: Path, workdir: Path) -> tuple[list[Path], bool]:
    """The capture split into files of ``tshark_chunk_packets`` packets, and whether editcap found it cut."""
    proc = subprocess.run(
        [tools.editcap, "-c", str(tools.tshark_chunk_packets), str(path), str(workdir / "chunk.pcapng")],
        capture_output=True,
        text=True,
    )
    message = _message(proc.stderr)
    if proc.returncode != 0:
        raise DecodeError(path, message or f"editcap exited with status {proc.returncode}")
    return sorted(workdir.iterdir()), _CUT in message


def truncation(record: int) -> pa.Table:
    """The one reject of a capture cut inside its last packet, numbered ``record``."""
    rejects = Rejects()
    rejects.add(record, None, TRUNCATED_REASON)
    return rejects.table()


def assemble(events: list[pa.Table], rejects: list[pa.Table], ordered: bool = False) -> Decoded:
    """One table of events and one of rejects, both in record order (``ordered``: events already are)."""
    table = pa.concat_tables(events) if events else EVENTS.empty_table()
    bad = pa.concat_tables(rejects) if rejects else REJECT_COLUMNS.empty_table()
    return Decoded(events=table if ordered else table.sort_by("record"), rejects=bad.sort_by("record"))


def read(tools: Tools, path: Path, numbers: Renumber = lambda n: n) -> tuple[list[pa.Table], list[pa.Table], bool]:
    """`run` over the whole capture, one chunk of ``tshark_chunk_packets`` packets at a time."""
    n = tools.tshark_chunk_packets
    # A capture smaller than this cannot hold more than n packets (16-byte record headers at least).
    if path.stat().st_size <= pcapfile.PCAP_HEADER + 16 * n:
        return run(tools, path, numbers)
    events, rejects = [], []
    with tempfile.TemporaryDirectory(prefix="spot-dns-") as tmp:
        chunks, cut = _chunks(tools, path, Path(tmp))
        for index, chunk in enumerate(chunks):
            more, bad, chunk_cut = run(tools, chunk, lambda frames, offset=index * n: numbers(pc.add(frames, offset)))
            events += more
            rejects += bad
            cut = cut or chunk_cut
    return events, rejects, cut


def decode(path: Path, tools: Tools) -> Decoded:
    events, rejects, cut = read(tools, path)
    if cut:  # tshark only says so: the number of the cut packet comes from counting the whole ones
        rejects.append(truncation(pcapfile.count(path) + 1))
    return assemble(events, rejects, ordered=True)
