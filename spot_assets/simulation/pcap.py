"""A small, fast classic-pcap writer for generated traffic (scapy builds about 1 k packets/s).

Frames are Ethernet II + IPv4 or IPv6 + TCP/UDP, with correct IPv4 header checksums and the UDP/TCP
checksums IPv6 requires, which is all nfpcapd and tshark need. ``vlan`` and ``sll`` rewrap a frame
for the link layers real captures also have. Timestamps are kept to the microsecond.
"""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path
from typing import BinaryIO, Iterable

import numpy as np

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
_MACS = b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02"
_ETH = _MACS + b"\x08\x00"
_ETH6 = _MACS + b"\x86\xdd"

TCP, UDP = 6, 17
TCP_FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20}


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total >> 16) + (total & 0xFFFF)
    return ~total & 0xFFFF


def is_ipv6(address: str) -> bool:
    return ipaddress.ip_address(address).version == 6


def ipv4_frame(src: str, dst: str, proto: int, l4: bytes, ttl: int = 64, tos: int = 0) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, tos, 20 + len(l4), 0, 0x4000, ttl, proto, 0,
        ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed,
    )
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return _ETH + header + l4


def ipv6_frame(src: str, dst: str, proto: int, l4: bytes, hop_limit: int = 64) -> bytes:
    """IPv6 needs the UDP/TCP checksum (zero is illegal for UDP), so it is filled in here."""
    src_b, dst_b = ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed
    at = {UDP: 6, TCP: 16}.get(proto)
    if at is not None and len(l4) >= at + 2:
        pseudo = src_b + dst_b + struct.pack("!IxxxB", len(l4), proto)
        blank = l4[:at] + b"\x00\x00" + l4[at + 2:]
        l4 = l4[:at] + struct.pack("!H", _checksum(pseudo + blank) or 0xFFFF) + l4[at + 2:]
    header = struct.pack("!IHBB16s16s", 6 << 28, len(l4), proto, hop_limit, src_b, dst_b)
    return _ETH6 + header + l4


def ip_frame(src: str, dst: str, proto: int, l4: bytes) -> bytes:
    """An Ethernet frame over IPv4 or IPv6, whichever the addresses are."""
    return (ipv6_frame if is_ipv6(src) else ipv4_frame)(src, dst, proto, l4)


def udp_frame(src: str, dst: str, sport: int, dport: int, payload: bytes = b"") -> bytes:
    return ip_frame(src, dst, UDP, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload)


def tcp_frame(src: str, dst: str, sport: int, dport: int, payload: bytes = b"", flags: str = "A", seq: int = 1) -> bytes:
    bits = 0
    for letter in flags:
        bits |= TCP_FLAGS[letter]
    l4 = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, bits, 65535, 0, 0) + payload
    return ip_frame(src, dst, TCP, l4)


def vlan(frame: bytes, vid: int, tpid: int = 0x8100) -> bytes:
    """The Ethernet frame with an 802.1Q tag (0x88A8 for an outer QinQ tag) after its MAC addresses."""
    return frame[:12] + struct.pack("!HH", tpid, vid & 0x0FFF) + frame[12:]


def sll(frame: bytes) -> bytes:
    """The Ethernet frame as Linux cooked capture v1 (write it with ``LINKTYPE_LINUX_SLL``)."""
    return struct.pack("!HHH", 0, 1, 6) + frame[6:12] + b"\x00\x00" + frame[12:]


def write_header(out: BinaryIO, snaplen: int = 65535, linktype: int = LINKTYPE_ETHERNET) -> None:
    out.write(struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, snaplen, linktype))


def record(ts: float, frame: bytes, snaplen: int = 65535) -> bytes:
    """One pcap record; ``ts`` in epoch seconds, rounded to the microsecond; cut at ``snaplen``."""
    micros = round(ts * 1_000_000)
    sec, usec = divmod(micros, 1_000_000)
    return struct.pack("<IIII", sec, usec, min(len(frame), snaplen), len(frame)) + frame[:snaplen]


def write_pcap(
    path: Path | str, packets: Iterable[tuple[float, bytes]], linktype: int = LINKTYPE_ETHERNET, snaplen: int = 65535
) -> int:
    """Write ``(timestamp, frame)`` pairs in the order given; returns the packet count."""
    count = 0
    with open(path, "wb") as out:
        write_header(out, snaplen, linktype)
        for ts, frame in packets:
            out.write(record(ts, frame, snaplen))
            count += 1
    return count


# ----- bulk writing with numpy, for millions of packets -------------------------------------------
#
# A record here is a pcap record header followed by the frame's Ethernet, IPv4 and TCP/UDP headers,
# filled for whole arrays at once. Flow packets are captured headers-only: a 54-byte snap length, the
# wire length and the IPv4 total length say how big the packet was, which is all nfpcapd counts.

_PCAP_HEADER = [("ts_sec", "<u4"), ("ts_usec", "<u4"), ("incl_len", "<u4"), ("orig_len", "<u4")]
_IPV4_HEADER = [
    ("macs", "V12"), ("ethertype", ">u2"),
    ("vhl", "u1"), ("tos", "u1"), ("ip_len", ">u2"), ("ip_id", ">u2"), ("frag", ">u2"), ("ttl", "u1"),
    ("proto", "u1"), ("ip_sum", ">u2"), ("src", ">u4"), ("dst", ">u4"), ("sport", ">u2"), ("dport", ">u2"),
]
# TCP after the ports: seq, ack, offset, flags, window, checksum, urgent. For UDP the same 16 bytes
# hold the length, a zero checksum and the first 12 payload bytes (zeros): one layout for both.
FLOW_PACKET = np.dtype(_PCAP_HEADER + _IPV4_HEADER + [
    ("seq", ">u4"), ("ack", ">u4"), ("offset", "u1"), ("flags", "u1"), ("window", ">u2"), ("l4_sum", ">u2"),
    ("urgent", ">u2"),
])
FLOW_SNAPLEN = FLOW_PACKET.itemsize - 16  # 54 bytes of each frame are captured
MIN_IP_LEN = 40  # a flow packet is at least a bare TCP header (or UDP with 12 payload bytes)
# A whole UDP frame's headers, up to the payload; UDP_TAIL more bytes (the payload's first two)
# let a DNS message's transaction id vary per packet without a template per id.
UDP_PACKET = np.dtype(_PCAP_HEADER + _IPV4_HEADER + [("udp_len", ">u2"), ("udp_sum", ">u2"), ("head", ">u2")])
UDP_TAIL = 2


def _fill_ipv4(rec: np.ndarray, ts_us, src, dst, proto, sport, dport, ip_len, captured) -> None:
    """Pcap and Ethernet/IPv4 header fields of every record, with the IPv4 header checksum."""
    ts_us = np.asarray(ts_us, np.int64)
    ip_len = np.asarray(ip_len, np.int64)
    rec["ts_sec"], rec["ts_usec"] = np.divmod(ts_us, 1_000_000)
    rec["incl_len"] = captured
    rec["orig_len"] = 14 + ip_len
    rec["macs"] = np.void(_MACS)
    rec["ethertype"] = 0x0800
    rec["vhl"], rec["frag"], rec["ttl"] = 0x45, 0x4000, 64
    rec["ip_len"], rec["proto"], rec["src"], rec["dst"] = ip_len, proto, src, dst
    rec["ip_id"] = np.arange(len(rec), dtype=np.uint32) & 0xFFFF
    rec["sport"], rec["dport"] = sport, dport
    src, dst = np.asarray(src, np.int64), np.asarray(dst, np.int64)
    total = (0x4500 + ip_len + rec["ip_id"].astype(np.int64) + 0x4000 + ((64 << 8) | np.asarray(proto, np.int64))
             + (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF))
    total = (total >> 16) + (total & 0xFFFF)
    total = (total >> 16) + (total & 0xFFFF)
    rec["ip_sum"] = ~total & 0xFFFF


def flow_packets(ts_us, src, dst, proto, sport, dport, ip_len, tcp_flags) -> np.ndarray:
    """Headers-only records (`FLOW_PACKET`) of TCP/UDP packets whose IPv4 total length is ``ip_len``.

    Arrays of equal length: microsecond timestamps, IPv4 addresses as integers, protocol numbers,
    ports, IP lengths (>= `MIN_IP_LEN`, <= 65535) and TCP flag bits (ignored for UDP).
    """
    n = len(ts_us)
    rec = np.zeros(n, FLOW_PACKET)
    proto = np.asarray(proto, np.uint8)
    _fill_ipv4(rec, ts_us, src, dst, proto, sport, dport, ip_len, FLOW_SNAPLEN)
    tcp = proto == TCP
    ip_len = np.asarray(ip_len, np.int64)
    # UDP: the seq field's first half is the UDP length, the rest stays zero.
    rec["seq"] = np.where(tcp, 1, (ip_len - 20) << 16)
    rec["offset"] = np.where(tcp, 5 << 4, 0)
    rec["flags"] = np.where(tcp, tcp_flags, 0)
    rec["window"] = np.where(tcp, 65535, 0)
    return rec


def udp_packets(ts_us, src, dst, sport, dport, payloads: list[bytes], head=None) -> bytes:
    """Whole frames of UDP datagrams, as pcap records; each payload at least `UDP_TAIL` bytes long.

    ``head``, when given, replaces each payload's first two bytes (a DNS transaction id), so that
    one payload object can serve many packets.
    """
    lengths = np.fromiter(map(len, payloads), np.int64, len(payloads))
    rec = np.zeros(len(payloads), UDP_PACKET)
    _fill_ipv4(rec, ts_us, src, dst, UDP, sport, dport, 28 + lengths, 42 + lengths)
    rec["udp_len"] = 8 + lengths
    rec["head"] = head if head is not None else [int.from_bytes(p[:UDP_TAIL], "big") for p in payloads]
    heads = rec.tobytes()
    size = UDP_PACKET.itemsize
    return b"".join(part for i, p in enumerate(payloads) for part in (heads[i * size:(i + 1) * size], p[UDP_TAIL:]))


def write_records(out: BinaryIO, records: bytes | np.ndarray) -> None:
    """Append bulk records (`flow_packets`, `udp_packets`) to a pcap opened with `write_header`."""
    out.write(records if isinstance(records, bytes) else records.tobytes())
