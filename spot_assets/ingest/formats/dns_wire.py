"""DNS responses on the wire: the packet decoder of the native engine.

`classify` gives each captured frame one of three verdicts, on its raw bytes:

* None: certainly not a row, i.e. not a DNS response tshark would show under the rules of
  `dns_tshark` (not IP, not UDP/TCP port 53, a query, a non-first IP fragment...). The ports and
  the QR bit are read before anything else is parsed, so most packets stop there.
* the row's fields: a response decoded exactly as tshark prints it.
* `Delegate` raised: anything odd, for tshark to decode: a cut or malformed message, labels other
  than printable ASCII, compression pointers that do not go strictly backwards, names tshark would
  print as a placeholder, record types tshark parses in depth (DNSSEC, SVCB/HTTPS, ...), DNS over
  TCP other than one whole message per segment, IP options and fragments, IPv6 extension headers,
  link layers and ethertypes not read here (MPLS, PPPoE, ...).

The rule that keeps this equal to tshark: a frame gets a row verdict only when every byte tshark
would read is checked here to be where tshark would find it, so tshark cannot raise an exception
(its "malformed" mark) on it. Record types outside `_RDATA` are opaque to tshark (measured: random
rdata of each such type, in any length within the message, never made tshark report malformed).

Fields as tshark prints them: labels joined by ``.`` (the root is ``<Root>``), the class in
4-digit lower-case hex (``0x0001``), the first A record of any section, addresses as dotted quads
and RFC 5952 text.
"""

from __future__ import annotations

import socket
import struct

DNS_PORT = 53
IPV4, IPV6 = 0x0800, 0x86DD
_VLAN = frozenset({0x8100, 0x88A8, 0x9100})
# Ethertypes that never carry IP; any other one (MPLS, PPPoE, ...) is delegated.
_NOT_IP = frozenset(
    {0x0806, 0x8035, 0x88CC, 0x888E, 0x8809, 0x88F7, 0x9000, 0x8137, 0x8138, 0x809B, 0x80F3, 0x8863,
     0x88E1, 0x893A, 0x22F0, 0x88B8, 0x88B9, 0x88BA, 0x8892, 0x88A4}
)
# IPv6 next headers that may lead to UDP/TCP through extension headers; IPv4 AH and UDP-Lite.
_V6_EXTENSIONS = frozenset({0, 43, 44, 51, 60, 135, 136, 139, 140})
_V4_ODD_PROTOCOLS = frozenset({51, 136})
_UDP, _TCP = 17, 6
_NULL_FAMILIES = {2: IPV4, 24: IPV6, 28: IPV6, 30: IPV6}


class Delegate(Exception):
    """This packet is for tshark to decode (raised as a class: a shared instance would keep growing
    its traceback, and every frame in it, at each raise)."""


_HEADER = struct.Struct("!HHHHH").unpack_from
_RR = struct.Struct("!HHIH").unpack_from
_HH = struct.Struct("!HH").unpack_from
_H = struct.Struct("!H").unpack_from
_ntoa = socket.inet_ntoa


def _ntop6(packed: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, packed)


# --- link layers: (ethertype, offset of the network header), or None when not IP -------------


def _ethertype(data: bytes, etype: int, off: int):
    while etype in _VLAN:
        if off + 4 > len(data):
            raise Delegate
        etype = (data[off + 2] << 8) | data[off + 3]
        off += 4
    if etype == IPV4 or etype == IPV6:
        return etype, off
    if etype in _NOT_IP:
        return None
    if etype <= 1500:  # an 802.3 length: LLC, which carries IP only through SNAP
        if off + 2 > len(data) or (data[off] == 0xAA and data[off + 1] == 0xAA):
            raise Delegate
        return None
    raise Delegate


def _ethernet(data: bytes):
    if len(data) < 14:
        raise Delegate
    return _ethertype(data, (data[12] << 8) | data[13], 14)


def _cooked(data: bytes, header: int, proto_at: int, hatype_at: int):
    if len(data) < header:
        raise Delegate
    proto, hatype = _H(data, proto_at)[0], _H(data, hatype_at)[0]
    if proto < 0x0600 or hatype in (778, 803, 824):  # Linux pseudo-protocols; GRE, radiotap, netlink
        raise Delegate
    return _ethertype(data, proto, header)


def _sll(data: bytes):
    return _cooked(data, 16, 14, 2)


def _sll2(data: bytes):
    return _cooked(data, 20, 0, 8)


def _null(data: bytes, order: str):
    if len(data) < 4:
        raise Delegate
    family = struct.unpack_from(order + "I", data)[0]
    if order == "<" and family > 0xFFFF:  # written by a big-endian host
        family = struct.unpack_from(">I", data)[0]
    if family not in _NULL_FAMILIES:
        raise Delegate
    return _NULL_FAMILIES[family], 4


def _raw(data: bytes):
    if not data or data[0] >> 4 not in (4, 6):
        raise Delegate
    return (IPV4 if data[0] >> 4 == 4 else IPV6), 0


LINK_TYPES = {
    1: _ethernet,
    113: _sll,
    276: _sll2,
    0: lambda data: _null(data, "<"),
    108: lambda data: _null(data, ">"),
    101: _raw,
    228: lambda data: (IPV4, 0),
    229: lambda data: (IPV6, 0),
}


# --- DNS message -----------------------------------------------------------------------------


def _name(msg: bytes, off: int, n: int, seen: dict) -> tuple[str, int]:
    """The name at ``off`` as tshark prints it, and the offset after it.

    Certain only for plain labels of printable ASCII and compression pointers that go strictly
    backwards (which cannot loop); ``seen`` caches names by offset, pointers mostly hit it.
    """
    start = limit = off
    labels = []
    after = -1
    suffix = ""
    while True:
        if off >= n:
            raise Delegate
        length = msg[off]
        if length == 0:
            off += 1
            break
        if length < 0x40:
            end = off + 1 + length
            if end > n:
                raise Delegate
            labels.append(msg[off + 1:end])
            off = end
            continue
        if length < 0xC0 or off + 1 >= n:
            raise Delegate
        target = ((length & 0x3F) << 8) | msg[off + 1]
        if after < 0:
            after = off + 2
        if target >= limit:
            raise Delegate
        if target in seen:
            suffix = seen[target]
            break
        limit = off = target
    if after < 0:
        after = off
    raw = b".".join(labels)
    if not raw.isascii() or not _printable(raw):
        raise Delegate
    text = raw.decode("ascii")
    if suffix:
        text = f"{text}.{suffix}" if text else suffix
    if len(text) > 253:  # tshark prints "<Name too long>"
        raise Delegate
    seen[start] = text
    return text, after


_CONTROL = bytes(range(0x20)) + b"\x7f"


def _printable(raw: bytes) -> bool:
    return not raw or len(raw.translate(None, _CONTROL)) == len(raw)


# --- rdata checks: (message, rdata start, rdata end, name cache) -> None, or `Delegate` raised ---


def _names(count: int, fixed: int = 0, trailer: int = 0):
    """Rdata of ``fixed`` bytes, ``count`` names and ``trailer`` bytes, exactly."""

    def check(msg, rd, rend, seen):
        off = rd + fixed
        for _ in range(count):
            off = _name(msg, off, rend, seen)[1]
        if off + trailer != rend:
            raise Delegate

    return check


def _length(size: int):
    def check(msg, rd, rend, seen):
        if rend - rd != size:
            raise Delegate

    return check


def _strings(msg, rd, rend, seen):
    off = rd
    while off < rend:
        off += 1 + msg[off]
    if off != rend:
        raise Delegate


def _client_subnet(v: bytes) -> bool:
    """Family, source and scope prefix lengths, then at most one IPv4 or IPv6 address."""
    return len(v) >= 4 and len(v) - 4 <= {b"\x00\x01": 4, b"\x00\x02": 16}.get(v[:2], -1)


# EDNS options read here (option data -> whether tshark reads it within bounds); others: delegated.
_EDNS_OPTIONS = {
    3: lambda v: True,  # NSID
    8: _client_subnet,
    10: lambda v: len(v) == 8 or 16 <= len(v) <= 40,  # cookie
    12: lambda v: True,  # padding
    15: lambda v: len(v) >= 2,  # extended DNS error
}


def _options(msg, rd, rend, seen):
    off = rd
    while off < rend:
        if off + 4 > rend:
            raise Delegate
        code, length = _HH(msg, off)
        off += 4 + length
        if off > rend or code not in _EDNS_OPTIONS or not _EDNS_OPTIONS[code](msg[off - length:off]):
            raise Delegate


def _structured(msg, rd, rend, seen):
    raise Delegate


_RDATA = {
    1: _length(4),  # A: tshark reads 4 bytes whatever the rdata length
    28: _length(16),  # AAAA
    **{t: _names(1) for t in (2, 3, 4, 5, 7, 8, 9, 12, 39)},  # NS, CNAME, PTR, DNAME...
    **{t: _names(1, fixed=2) for t in (15, 18, 21, 36)},  # MX, AFSDB, RT, KX
    6: _names(2, trailer=20),  # SOA
    14: _names(2),  # MINFO
    17: _names(2),  # RP
    33: _names(1, fixed=6),  # SRV
    16: _strings,  # TXT
    99: _strings,  # SPF
    41: _options,  # OPT
    # Types tshark parses in depth (DNSSEC, SVCB/HTTPS, NAPTR, CAA, TSIG, LOC, HINFO, ...): delegated
    # rather than re-implemented; they are rare in what clients receive.
    **{t: _structured for t in (11, 13, 19, 20, 23, 24, 25, 26, 27, 29, 30, 35, 37, 38, 42, 43, 44, 45, 46, 47,
                                48, 50, 51, 52, 55, 59, 60, 62, 63, 64, 65, 104, 105, 106, 107, 108, 109, 249, 250,
                                257, 32769, 65281, 65282)},
}


def _message(msg: bytes) -> tuple:
    """(name, class, type, rcode, first A) of a response, or `Delegate` raised."""
    n = len(msg)
    if n < 12:
        raise Delegate
    flags, qd, an, ns, ar = _HEADER(msg, 2)
    if (flags >> 11) & 0xF not in (0, 4, 5):  # query, notify, update: the classic sections
        raise Delegate
    seen: dict = {}
    off = 12
    name = qtype = qclass = None
    for i in range(qd):
        text, off = _name(msg, off, n, seen)
        if off + 4 > n:
            raise Delegate
        if i == 0:
            name = text or "<Root>"
            qtype, qclass = _HH(msg, off)
        off += 4
    first_a = None
    for _ in range(an + ns + ar):
        off = _name(msg, off, n, seen)[1]
        if off + 10 > n:
            raise Delegate
        rtype, _cls, _ttl, rdlen = _RR(msg, off)
        rd = off + 10
        off = rd + rdlen
        if off > n:
            raise Delegate
        check = _RDATA.get(rtype)
        if check is not None:
            check(msg, rd, off, seen)
            if rtype == 1 and first_a is None:
                first_a = _ntoa(msg[rd:off])
    return name, None if qclass is None else f"0x{qclass:04x}", qtype, flags & 0xF, first_a


# --- packets -----------------------------------------------------------------------------------


def classify(linktype: int, data: bytes):
    """None (not a row), or the row fields after the frame's own; raises `Delegate`."""
    link = LINK_TYPES.get(linktype)
    if link is None:
        raise Delegate
    found = link(data)
    if found is None:
        return None
    etype, off = found
    size = len(data)
    if etype == IPV4:
        if off + 20 > size or data[off] >> 4 != 4:
            raise Delegate
        proto = data[off + 9]
        if proto != _UDP and proto != _TCP:
            if proto in _V4_ODD_PROTOCOLS:
                raise Delegate
            return None
        frag = _H(data, off + 6)[0]
        if frag & 0x1FFF:  # not the first fragment: tshark does not dissect it without reassembly
            return None
        header = (data[off] & 0xF) * 4
        l4 = off + header
        if l4 + 4 <= size:
            sport, dport = _HH(data, l4)
            if sport != DNS_PORT and dport != DNS_PORT:
                return None
        end = off + _H(data, off + 2)[0]
        if header != 20 or frag & 0x2000 or end > size or end < l4:
            raise Delegate
    else:
        if off + 40 > size or data[off] >> 4 != 6:
            raise Delegate
        proto = data[off + 6]
        if proto != _UDP and proto != _TCP:
            if proto in _V6_EXTENSIONS:
                raise Delegate
            return None
        l4 = off + 40
        if l4 + 4 <= size:
            sport, dport = _HH(data, l4)
            if sport != DNS_PORT and dport != DNS_PORT:
                return None
        length = _H(data, off + 4)[0]
        end = l4 + length
        if length == 0 or end > size:
            raise Delegate
    if l4 + 4 > end or min(sport, dport) < DNS_PORT:  # tshark tries the lower port first
        raise Delegate
    if proto == _UDP:
        if l4 + 8 > end or _H(data, l4 + 4)[0] != end - l4:
            raise Delegate
        if end - l4 < 11 or not data[l4 + 10] & 0x80:  # no flags, or a query
            return None
        msg = data[l4 + 8:end]
    else:
        if l4 + 20 > end:
            raise Delegate
        start = l4 + (data[l4 + 12] >> 4) * 4
        if start < l4 + 20 or start > end:
            raise Delegate
        if start == end:  # no payload: a handshake or an ack
            return None
        if start + 2 > end or _H(data, start)[0] != end - start - 2 or end - start < 5:
            raise Delegate
        if not data[start + 4] & 0x80:
            return None
        msg = data[start + 2:end]
    fields = _message(msg)
    if etype == IPV4:
        return (_ntoa(data[off + 16:off + 20]), _ntoa(data[off + 12:off + 16]), *fields)
    return (_ntop6(data[off + 24:off + 40]), _ntop6(data[off + 8:off + 24]), *fields)
