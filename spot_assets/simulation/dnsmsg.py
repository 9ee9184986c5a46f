"""DNS messages on the wire, for fixtures and the traffic simulator.

``query`` and ``response`` build the bytes of a DNS message (dpkt packs them, with name
compression, like a real server); ``exchange`` wraps a query/response pair into the Ethernet
frames of ``spot_assets.simulation.pcap`` over UDP or TCP port 53, IPv4 or IPv6.
Answers are ``(name, type, value)`` tuples: an address for A/AAAA, a name for CNAME/NS/PTR, a
string or list of strings for TXT, ``(preference, name)`` for MX and raw rdata bytes for any type.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Iterable, Union

import dpkt

from spot_assets.simulation.pcap import tcp_frame, udp_frame

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33, "ANY": 255}
RCODES = {"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4, "REFUSED": 5}
CLASS_IN = 1
DNS_PORT = 53

Answer = tuple[str, Union[str, int], object]


def type_code(qtype: str | int) -> int:
    return qtype if isinstance(qtype, int) else TYPES[qtype.upper()]


def rcode_code(rcode: str | int) -> int:
    return rcode if isinstance(rcode, int) else RCODES[rcode.upper()]


def rr(name: str, rtype: str | int, value: object, ttl: int = 300, cls: int = CLASS_IN) -> dpkt.dns.DNS.RR:
    """One resource record; ``value`` as described in the module docstring."""
    code = type_code(rtype)
    record = dpkt.dns.DNS.RR(name=name, type=code, cls=cls, ttl=ttl)
    if isinstance(value, bytes):
        record.rdata = value
    elif code == TYPES["A"]:
        record.ip = ipaddress.IPv4Address(value).packed
    elif code == TYPES["AAAA"]:
        record.ip6 = ipaddress.IPv6Address(value).packed
    elif code in (TYPES["CNAME"], TYPES["NS"], TYPES["PTR"]):
        setattr(record, {TYPES["CNAME"]: "cname", TYPES["NS"]: "nsname", TYPES["PTR"]: "ptrname"}[code], value)
    elif code == TYPES["TXT"]:
        record.text = [s.encode() for s in ([value] if isinstance(value, str) else value)]
    elif code == TYPES["MX"]:
        record.preference, record.mxname = value
    else:
        raise ValueError(f"give type {rtype} rdata as bytes")
    return record


def _records(items: Iterable[Answer | dpkt.dns.DNS.RR]) -> list[dpkt.dns.DNS.RR]:
    return [item if isinstance(item, dpkt.dns.DNS.RR) else rr(*item) for item in items]


def query(name: str, qtype: str | int = "A", qid: int = 0, qclass: int = CLASS_IN) -> bytes:
    msg = dpkt.dns.DNS(id=qid, qd=[dpkt.dns.DNS.Q(name=name, type=type_code(qtype), cls=qclass)])
    return bytes(msg)


def response(
    name: str,
    qtype: str | int = "A",
    rcode: str | int = 0,
    answers: Iterable[Answer | dpkt.dns.DNS.RR] = (),
    qid: int = 0,
    authority: Iterable[Answer | dpkt.dns.DNS.RR] = (),
    additional: Iterable[Answer | dpkt.dns.DNS.RR] = (),
    qclass: int = CLASS_IN,
) -> bytes:
    """A recursive server's answer: the question echoed, then the answer, authority and additional records."""
    msg = dpkt.dns.DNS(
        id=qid,
        qd=[dpkt.dns.DNS.Q(name=name, type=type_code(qtype), cls=qclass)],
        an=_records(answers),
        ns=_records(authority),
        ar=_records(additional),
    )
    msg.qr, msg.ra, msg.rcode = 1, 1, rcode_code(rcode)
    return bytes(msg)


def tcp_message(message: bytes) -> bytes:
    """DNS over TCP prefixes each message with its 2-byte length (RFC 1035 §4.2.2)."""
    return struct.pack("!H", len(message)) + message


def exchange(
    client: str, server: str, client_port: int, query_msg: bytes, response_msg: bytes, tcp: bool = False
) -> tuple[bytes, bytes]:
    """The query frame (client to server port 53) and the response frame (back to the client)."""
    if tcp:
        return (
            tcp_frame(client, server, client_port, DNS_PORT, tcp_message(query_msg), flags="PA"),
            tcp_frame(server, client, DNS_PORT, client_port, tcp_message(response_msg), flags="PA"),
        )
    return (
        udp_frame(client, server, client_port, DNS_PORT, query_msg),
        udp_frame(server, client, DNS_PORT, client_port, response_msg),
    )
