"""Classic pcap and pcapng, read packet by packet in flat memory, and written back for tshark.

The native DNS engine reads captures with this instead of tshark. It follows wiretap (tshark's
reader) on the points that decide which packets a capture holds: frames are numbered from 1 over
packet blocks only, a file that ends inside a record ends with `Truncated` after every complete
packet, a record or block that cannot be valid is `CaptureError` for the whole file.
Simple and obsolete pcapng packet blocks (no interface timestamps) raise `Unsupported`: the caller
hands such files to tshark whole.
"""

from __future__ import annotations

import datetime as dt
import struct
import subprocess
from pathlib import Path
from typing import BinaryIO, Iterator

from resources.tools import Tools

from spot_assets.ingest.formats.base import DecodeError

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
# magic -> (byte order, timestamp fraction units per second)
PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}
PCAP_HEADER = 24
MAX_PACKET = 262_144  # wiretap's largest packet for the common link types
_BLOCK = 1 << 20
_NS = 1_000_000_000

# (frame number, timestamp in ns since the epoch, link type, original length, captured bytes)
Packet = tuple[int, int, int, int, bytes]


class CaptureError(Exception):
    """The file is not a capture this module reads, or is corrupt."""


class Unsupported(Exception):
    """A valid capture with a block type this reader does not decode."""


class Truncated(Exception):
    """The file ends inside a record; ``record`` is the number the cut packet would have had."""

    def __init__(self, record: int):
        super().__init__(f"cut short in the middle of packet {record}")
        self.record = record


def is_capture(head: bytes) -> bool:
    return head[:4] in PCAP_MAGICS or head[:4] == PCAPNG_MAGIC


def check_header(path: Path) -> None:
    """`CaptureError` unless the file starts with a whole pcap header or pcapng section header.

    Done before either engine runs: tshark reads a pcapng cut inside its first block as a
    one-frame "MIME file" and reports nothing.
    """
    with open(path, "rb") as f:
        head = f.read(PCAP_HEADER)
        if head[:4] in PCAP_MAGICS:
            if len(head) < PCAP_HEADER:
                raise CaptureError("capture file header cut short")
            return
        if head[:4] != PCAPNG_MAGIC:
            raise CaptureError("not a pcap or pcapng capture (unknown magic bytes)")
        if len(head) < 12:
            raise CaptureError("pcapng section header cut short")
        order = _byte_order(head[8:12])
        (length,) = struct.unpack(order + "I", head[4:8])
        f.seek(0)
        if length < 28 or len(f.read(length)) < length:
            raise CaptureError("pcapng section header cut short")


def _byte_order(magic: bytes) -> str:
    if magic == b"\x4d\x3c\x2b\x1a":
        return "<"
    if magic == b"\x1a\x2b\x3c\x4d":
        return ">"
    raise CaptureError("pcapng section header has no byte-order magic")


def packets(path: Path, counting: bool = False) -> Iterator[Packet]:
    """Every packet in file order; raises `Truncated` after the last whole one if the file is cut.

    ``counting`` yields the packet blocks this reader does not decode as empty packets instead of
    raising `Unsupported`, so that their frame numbers are right.
    """
    with open(path, "rb") as f:
        magic = f.read(4)
        f.seek(0)
        if magic in PCAP_MAGICS:
            yield from _pcap(f, *PCAP_MAGICS[magic])
        elif magic == PCAPNG_MAGIC:
            yield from _pcapng(f, counting)
        else:
            raise CaptureError("not a pcap or pcapng capture (unknown magic bytes)")


def _pcap(f: BinaryIO, order: str, units: int) -> Iterator[Packet]:
    header = f.read(PCAP_HEADER)
    if len(header) < PCAP_HEADER:
        raise CaptureError("capture file header cut short")
    linktype = struct.unpack(order + "I", header[20:24])[0]
    if linktype > 0xFFFF:
        raise Unsupported("pcap link type field with FCS flags")
    record = struct.Struct(order + "IIII").unpack_from
    scale = _NS // units
    buf, pos, number = b"", 0, 0
    while True:
        if pos + 16 > len(buf):
            buf = buf[pos:] + f.read(_BLOCK)
            pos = 0
            if not buf:
                return
            if len(buf) < 16:
                raise Truncated(number + 1)
        sec, frac, caplen, origlen = record(buf, pos)
        if caplen > MAX_PACKET:
            raise CaptureError(f"packet {number + 1} claims {caplen} captured bytes (more than {MAX_PACKET})")
        end = pos + 16 + caplen
        if end > len(buf):
            buf = buf[pos:] + f.read(max(_BLOCK, 16 + caplen))
            pos, end = 0, 16 + caplen
            if end > len(buf):
                raise Truncated(number + 1)
        number += 1
        yield number, sec * _NS + frac * scale, linktype, origlen, buf[pos + 16:end]
        pos = end


class _Interface:
    __slots__ = ("linktype", "units", "base", "offset_ns")

    def __init__(self, linktype: int, options: bytes, order: str):
        self.linktype = linktype
        self.units, self.base, self.offset_ns = 6, 10, 0  # microseconds unless if_tsresol says otherwise
        for code, value in _options(options, order):
            if code == 9 and value:
                self.base, self.units = (2, value[0] & 0x7F) if value[0] & 0x80 else (10, value[0])
            elif code == 14 and len(value) == 8:
                self.offset_ns = struct.unpack(order + "q", value)[0] * _NS

    def ns(self, ticks: int) -> int:
        if self.base == 2:
            return ((ticks * _NS) >> self.units) + self.offset_ns
        if self.units <= 9:
            return ticks * 10 ** (9 - self.units) + self.offset_ns
        return ticks // 10 ** (self.units - 9) + self.offset_ns


def _options(data: bytes, order: str) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos + 4 <= len(data):
        code, length = struct.unpack_from(order + "HH", data, pos)
        if code == 0:
            return
        yield code, data[pos + 4:pos + 4 + length]
        pos += 4 + (length + 3) // 4 * 4


def _pcapng(f: BinaryIO, counting: bool) -> Iterator[Packet]:
    order, interfaces, number = "<", [], 0
    buf, pos = b"", 0
    while True:
        if pos + 12 > len(buf):
            buf = buf[pos:] + f.read(_BLOCK)
            pos = 0
            if not buf:
                return
            if len(buf) < 12:
                raise Truncated(number + 1)
        kind = buf[pos:pos + 4]
        if kind == PCAPNG_MAGIC:
            order, interfaces = _byte_order(buf[pos + 8:pos + 12]), []
        btype, length = struct.unpack_from(order + "II", buf, pos)
        if length < 12 or length % 4:
            raise CaptureError(f"pcapng block of type {btype:#x} has a bad length ({length})")
        if length > 16 * 1024 * 1024:
            raise CaptureError(f"pcapng block of type {btype:#x} is too long ({length} bytes)")
        if pos + length > len(buf):
            buf = buf[pos:] + f.read(max(_BLOCK, length))
            pos = 0
            if length > len(buf):
                raise Truncated(number + 1)
        body = buf[pos + 8:pos + length - 4]
        if struct.unpack_from(order + "I", buf, pos + length - 4)[0] != length:
            raise CaptureError(f"pcapng block of type {btype:#x}: trailing length does not match")
        pos += length
        if btype == 6:
            iface, high, low, caplen, origlen = struct.unpack_from(order + "IIIII", body)
            if iface >= len(interfaces):
                raise CaptureError(f"pcapng packet on undeclared interface {iface}")
            if caplen > len(body) - 20 or caplen > MAX_PACKET:
                raise CaptureError(f"pcapng packet {number + 1} claims {caplen} captured bytes")
            number += 1
            it = interfaces[iface]
            yield number, it.ns((high << 32) | low), it.linktype, origlen, body[20:20 + caplen]
        elif btype == 1:
            linktype = struct.unpack_from(order + "H", body)[0]
            interfaces.append(_Interface(linktype, body[8:], order))
        elif btype in (2, 3):
            if counting:
                number += 1
                yield number, 0, 0, 0, b""
                continue
            raise Unsupported(f"pcapng {'simple' if btype == 3 else 'obsolete'} packet blocks")


def count(path: Path) -> int:
    """Packets in the file, stopping at a cut: what tshark numbered before it stopped."""
    total = 0
    try:
        for total, *_ in packets(path, counting=True):
            pass
    except Truncated as cut:
        return cut.record - 1
    return total


def first_packet_time(path: Path, tools: Tools) -> dt.datetime | None:
    """When the capture's first packet was taken (None for a capture without packets); blocks this
    reader does not decode are left to tshark, as the DNS engine does."""
    try:
        for _, ts_ns, *_ in packets(path):
            return dt.datetime.fromtimestamp(ts_ns / _NS, dt.timezone.utc)
        return None
    except Truncated:
        return None
    except CaptureError as e:
        raise DecodeError(path, str(e)) from None
    except Unsupported:
        out = subprocess.run([tools.tshark, "-r", str(path), "-c", "1", "-T", "fields", "-e", "frame.time_epoch"],
                             capture_output=True, text=True, timeout=60).stdout.strip()
        return dt.datetime.fromtimestamp(float(out), dt.timezone.utc) if out else None


class PcapWriter:
    """A nanosecond classic pcap of one link type: the packets the native engine hands to tshark."""

    def __init__(self, path: Path, linktype: int):
        self.path = path
        self.numbers: list[int] = []  # frame number in the source capture, per packet written
        self._out = open(path, "wb")
        self._out.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, MAX_PACKET, linktype))

    def write(self, number: int, ts_ns: int, origlen: int, data: bytes) -> None:
        sec, nsec = divmod(ts_ns, _NS)
        self._out.write(struct.pack("<IIII", sec & 0xFFFFFFFF, nsec, len(data), origlen) + data)
        self.numbers.append(number)

    def close(self) -> None:
        self._out.close()
