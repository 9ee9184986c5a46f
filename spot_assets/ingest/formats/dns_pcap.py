"""DNS captures (classic pcap or pcapng, told by their magic bytes) into Spot's dns table.

What a row is, as in Spot's tshark configuration: one frame per DNS **response**
(``dns.flags.response == 1``), since a response carries both the question and the answer, so
``ip_dst`` is the client and ``ip_src`` the server. Narrowed to DNS over UDP or TCP port 53 in the
frame's only IP header: mDNS/LLMNR, DNS inside tunnels and DNS quoted by ICMP errors are not rows.

Columns (tshark fields, first occurrence of each):

* ``ts`` ``frame.time_epoch`` (truncated to the millisecond; ``frame_time`` and ``unix_tstamp``
  follow from it in timecols), ``frame_len`` ``frame.len``, ``record`` ``frame.number``;
* ``ip_src``/``ip_dst`` ``ip.src``/``ip.dst``, or ``ipv6.src``/``ipv6.dst`` for IPv6;
* ``dns_qry_name``/``dns_qry_type``/``dns_qry_class`` from the **question** (``dns.qry.*``). Spot's
  configuration read the first answer record (``dns.resp.*``), so an NXDOMAIN reply, which has
  no answer, lost its name: the replies DGA detection needs most. The class stays tshark's text
  (``0x0001``); names are tshark's text too (the root is ``<Root>``, control bytes are escaped);
* ``dns_qry_rcode`` ``dns.flags.rcode``; ``dns_a`` the first A record of the reply (``dns.a``) or null.
* ``uid`` is null (no Zeek here). A response without a question has null name, type and class.

Rejects: a frame tshark marks malformed, cut by the snap length or unreassembled, or whose query
name tshark cannot print (``<Name contains a pointer that loops>``...); and one reject for a
capture whose last packet is cut short (the packets before it are kept). A file that is not a
capture, or is corrupt, raises `DecodeError`.

Neither engine reassembles IP fragments or TCP streams (so tshark's output does not depend on how
a capture is chunked): a response split over several packets is a reject at its first piece.

Two engines with equal output (``Tools.dns_engine``): "tshark" (`dns_tshark`) and "native"
(`dns_native`, the default, three to four times faster, which hands tshark the few packets it
cannot decode with certainty). The native decoder reproduces the text conventions of tshark 4.0
(see `dns_wire`); the engine-equality tests would show where another tshark version differs.
"""

from __future__ import annotations

from pathlib import Path

from resources.tools import Tools
from spot_assets.ingest.formats import dns_native, dns_tshark, pcapfile
from spot_assets.ingest.formats.base import Decoded, DecodeError, Format

ENGINES = {"native": dns_native.decode, "tshark": dns_tshark.decode}


def sniff(path: Path, head: bytes) -> bool:
    return pcapfile.is_capture(head)


def decode(path: Path, tools: Tools) -> Decoded:
    path = Path(path)
    try:
        engine = ENGINES[tools.dns_engine]
    except KeyError:
        raise ValueError(f"unknown dns engine {tools.dns_engine!r} (known: {', '.join(ENGINES)})") from None
    try:
        pcapfile.check_header(path)
    except pcapfile.CaptureError as error:
        raise DecodeError(path, str(error)) from None
    return engine(path, tools)


FORMATS = [
    Format(
        name="pcap",
        data_type="dns",
        description="DNS responses from a classic pcap or pcapng capture (tshark's fields, or an equal native decoder)",
        sniff=sniff,
        decode=decode,
        first_time=pcapfile.first_packet_time,
        tools=("tshark", "editcap"),
    )
]
