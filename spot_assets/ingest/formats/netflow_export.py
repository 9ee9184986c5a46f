"""NetFlow/IPFIX export datagrams out of a capture, and a local nfcapd to collect them into nfcapd files.

nfcapd 1.7.1 (Debian) is built without its pcap reader (``nfcapd -f`` answers "PCAP reader not
compiled!"), so a capture of exports becomes nfcapd files by sending its datagrams over loopback to
an ``nfcapd`` started for the purpose. Linux only: the collector's socket queue and drop counter are
read from /proc/net/udp, and every 127.x.y.z address is local.
"""

from __future__ import annotations

import io
import ipaddress
import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import dpkt

from resources.tools import Tools

from spot_assets.ingest.formats.base import DecodeError, Rejects

PCAP_MAGICS = {b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a"}


def export_version(payload: bytes) -> int | None:
    """NetFlow v5/v9 or IPFIX (10) when a UDP payload has that header's shape, else None."""
    if len(payload) < 20:
        return None
    version = int.from_bytes(payload[:2], "big")
    if version == 5:
        count = int.from_bytes(payload[2:4], "big")
        return 5 if 1 <= count <= 30 and len(payload) == 24 + 48 * count else None
    if version == 9:
        set_id, set_length = int.from_bytes(payload[20:22], "big"), int.from_bytes(payload[22:24], "big")
        return 9 if len(payload) >= 24 and (set_id <= 1 or set_id >= 256) and 4 <= set_length <= len(payload) - 20 else None
    if version == 10:
        return 10 if int.from_bytes(payload[2:4], "big") == len(payload) else None
    return None


_LINK_DECODERS = {
    dpkt.pcap.DLT_EN10MB: dpkt.ethernet.Ethernet,
    dpkt.pcap.DLT_LINUX_SLL: dpkt.sll.SLL,
    dpkt.pcap.DLT_NULL: dpkt.loopback.Loopback,
}
_RAW_IP_LINKS = {12, 14, 101, 228, 229}  # link types whose frames start with the IP header


def _ip_layer(linktype: int, frame: bytes):
    if linktype in _RAW_IP_LINKS:
        return dpkt.ip6.IP6(frame) if frame[:1] and frame[0] >> 4 == 6 else dpkt.ip.IP(frame)
    decoder = _LINK_DECODERS.get(linktype)
    return decoder(frame).data if decoder else None


@dataclass
class _Datagram:
    number: int  # packet number in the capture
    exporter: str
    payload: bytes
    problem: str | None  # why it cannot be replayed, if it cannot


def export_datagrams(stream: BinaryIO) -> Iterator[_Datagram]:
    """The NetFlow/IPFIX export datagrams of a capture, in capture order; other packets are not flows."""
    reader = dpkt.pcap.UniversalReader(stream)
    linktype = reader.datalink()
    packets, number = iter(reader), 0
    while True:
        try:
            _, frame = next(packets)
        except StopIteration:
            return
        except dpkt.NeedData:
            yield _Datagram(number + 1, "", b"", "the capture ends inside this packet")
            return
        number += 1
        try:
            ip = _ip_layer(linktype, frame)
        except (dpkt.UnpackError, IndexError, ValueError):
            continue
        if isinstance(ip, dpkt.ip.IP) and ip.p == dpkt.ip.IP_PROTO_UDP:
            fragment, exporter = bool(ip.mf or ip.offset), socket.inet_ntop(socket.AF_INET, ip.src)
        elif isinstance(ip, dpkt.ip6.IP6) and ip.nxt == dpkt.ip.IP_PROTO_UDP:
            fragment, exporter = False, socket.inet_ntop(socket.AF_INET6, ip.src)
        else:
            continue
        udp = ip.data
        if not isinstance(udp, dpkt.udp.UDP):
            continue  # a later fragment: the first fragment stands for its datagram
        payload, size = bytes(udp.data), udp.ulen - 8
        versioned = len(payload) >= 2 and int.from_bytes(payload[:2], "big") in (5, 9, 10)
        if fragment:
            if versioned:
                yield _Datagram(number, exporter, payload, "IP fragment of an export datagram (not reassembled)")
        elif size > len(payload):
            if versioned:
                yield _Datagram(number, exporter, payload, f"export datagram cut by the capture ({len(payload)} of {size} bytes)")
        elif export_version(payload[:size]):
            yield _Datagram(number, exporter, payload[:size], None)


# version -> (header bytes, offset of its source id / observation domain, template set id, options template set id)
_TEMPLATED = {9: (20, 16, 0, 1), 10: (16, 12, 2, 3)}
_DOMAIN = {9: "source id", 10: "observation domain"}
_VERSION_NAME = {9: "NetFlow v9", 10: "IPFIX"}


class TemplateTracker:
    """Which v9/IPFIX templates each exporter has announced so far, to name the data sets that arrive
    before theirs: their records cannot be decoded, and nfcapd drops them without a word.

    Templates are keyed as collectors key them: exporter address, version, source id (v9) or
    observation domain (IPFIX).
    """

    def __init__(self) -> None:
        self._known: set[tuple[str, int, int, int]] = set()

    def orphans(self, exporter: str, payload: bytes) -> Iterator[tuple[bytes, str]]:
        """Each data set of the datagram whose template has not been seen: (its bytes, why)."""
        version = int.from_bytes(payload[:2], "big")
        if version not in _TEMPLATED:
            return
        header, domain_at, template_set, options_set = _TEMPLATED[version]
        domain = int.from_bytes(payload[domain_at:domain_at + 4], "big")
        at = header
        while at + 4 <= len(payload):
            set_id, length = int.from_bytes(payload[at:at + 2], "big"), int.from_bytes(payload[at + 2:at + 4], "big")
            if length < 4:
                return  # a malformed set length: nfcapd stops reading the datagram here too
            body = payload[at + 4:at + length]
            if set_id in (template_set, options_set):
                for template in _template_ids(version, set_id == options_set, body):
                    self._known.add((exporter, version, domain, template))
            elif set_id >= 256 and (exporter, version, domain, set_id) not in self._known:
                yield payload[at:at + length], (
                    f"{_VERSION_NAME[version]} data set for template {set_id} (exporter {exporter}, "
                    f"{_DOMAIN[version]} {domain}) comes before any template for it: its records cannot be decoded")
            at += length


def _template_ids(version: int, options: bool, body: bytes) -> Iterator[int]:
    """The template ids a template or options template set announces (trailing padding ignored)."""
    at = 0
    while at + 6 <= len(body):
        template, count = int.from_bytes(body[at:at + 2], "big"), int.from_bytes(body[at + 2:at + 4], "big")
        if template < 256:
            return  # padding
        yield template
        if version == 9 and options:  # template id, scope bytes, option bytes, then the fields
            at += 6 + count + int.from_bytes(body[at + 4:at + 6], "big")
            continue
        at += 6 if options else 4  # IPFIX options templates add their scope field count
        for _ in range(count):  # IPFIX fields with the enterprise bit carry a 4-byte enterprise number
            at += 8 if version == 10 and body[at:at + 1] and body[at] & 0x80 else 4


def is_export_capture(head: bytes) -> bool:
    """A capture whose first bytes hold an export-shaped UDP datagram."""
    if head[:4] not in PCAP_MAGICS:
        return False
    try:
        return any(d.problem is None for d in export_datagrams(io.BytesIO(head)))
    except (dpkt.NeedData, dpkt.UnpackError, ValueError, EOFError):
        return False


def _sibling(tool: str, name: str) -> str:
    """nfcapd and nfreplay ship with nfdump: take them from nfdump's folder when Tools names a path."""
    folder = os.path.dirname(tool)
    return os.path.join(folder, name) if folder else name


class Collector:
    """An ``nfcapd`` on 127.0.0.1 for the length of a ``with`` block; its files are complete after it.

    Used to turn export datagrams into nfcapd files (``netflow_pcap``, the flow benchmark). Loopback
    drops datagrams when the collector's socket queue is full, so senders call `pace` and the drop
    counter the kernel keeps for the socket (/proc/net/udp) is checked before the files are trusted.
    """

    QUEUE_LIMIT = 64 * 1024  # bytes waiting in nfcapd's socket before a sender pauses

    def __init__(self, tools: Tools, folder: Path | str):
        self.nfcapd = _sibling(tools.nfdump, "nfcapd")
        self.folder = Path(folder)
        self.port = 0
        self._process: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile()

    def __enter__(self) -> "Collector":
        for _ in range(5):  # a free port can be taken between choosing it and nfcapd binding it
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
            self._process = subprocess.Popen(
                [self.nfcapd, "-b", "127.0.0.1", "-p", str(self.port), "-w", str(self.folder), "-t", "3600",
                 "-B", str(8 << 20)],
                stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while self._process.poll() is None and self._socket() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            if self._socket() is not None:
                return self
            self._stop()
        messages = self._messages()
        self._log.close()
        raise RuntimeError(f"nfcapd did not start: {messages}")

    def __exit__(self, *exc) -> None:
        self._stop()
        self._log.close()

    def _stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)  # nfcapd writes and renames its file on SIGTERM
            try:
                self._process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def _messages(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace").strip()

    def _socket(self) -> tuple[int, int] | None:
        """(bytes queued, datagrams dropped) of nfcapd's socket, from the kernel's UDP table."""
        local = f"0100007F:{self.port:04X}"
        with open("/proc/net/udp") as table:
            for line in table:
                parts = line.split()
                if len(parts) > 12 and parts[1] == local:
                    return int(parts[4].split(":")[1], 16), int(parts[12])
        return None

    def pace(self) -> None:
        """Wait while nfcapd's socket queue is above `QUEUE_LIMIT`."""
        while (state := self._socket()) is not None and state[0] > self.QUEUE_LIMIT:
            time.sleep(0.0005)

    def finish(self) -> list[Path]:
        """Wait until nfcapd has read every datagram, stop it and return its files in time order."""
        while (state := self._socket()) is not None and state[0] > 0:
            time.sleep(0.001)
        if state is None:
            raise RuntimeError(f"nfcapd stopped early: {self._messages()}")
        self._stop()
        if state[1]:
            raise RuntimeError(f"nfcapd's socket dropped {state[1]} datagrams")
        return sorted(self.folder.glob("nfcapd.[0-9]*"))


def _replay(path: Path, collector: Collector, rejects: Rejects) -> dict[str, str]:
    """Send a capture's export datagrams to ``collector``; returns loopback sender -> original exporter.

    nfcapd keys exporters (and their v9/IPFIX templates) by sender address, so each exporter of the
    capture gets its own loopback address, which also lets ``rip`` be mapped back to the exporter.
    """
    senders: dict[str, socket.socket] = {}
    origin: dict[str, str] = {}
    templates = TemplateTracker()
    target = ("127.0.0.1", collector.port)
    try:
        with open(path, "rb") as stream:
            for sent, datagram in enumerate(export_datagrams(stream)):
                if datagram.problem:
                    rejects.add(datagram.number, datagram.payload.hex(), f"packet {datagram.number}: {datagram.problem}")
                    continue
                for data_set, why in templates.orphans(datagram.exporter, datagram.payload):
                    rejects.add(datagram.number, data_set.hex(), f"packet {datagram.number}: {why}")
                sender = senders.get(datagram.exporter)
                if sender is None:
                    address = str(ipaddress.IPv4Address("127.1.0.1") + len(senders))
                    sender = senders[datagram.exporter] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    sender.bind((address, 0))
                    origin[address] = datagram.exporter
                sender.sendto(datagram.payload, target)
                if sent % 16 == 15:
                    collector.pace()
    finally:
        for sender in senders.values():
            sender.close()
    return origin


def collect_exports(path: Path, tools: Tools, folder: Path | str, rejects: Rejects) -> tuple[list[Path], dict[str, str]]:
    """Replay a capture's export datagrams into an nfcapd writing to ``folder``.

    Returns nfcapd's files in time order and the loopback sender -> exporter address map; datagrams
    that cannot be replayed, and data sets that come before their template, go to ``rejects``.
    """
    try:
        with Collector(tools, folder) as collector:
            origin = _replay(path, collector, rejects)
            return collector.finish(), origin
    except (dpkt.UnpackError, ValueError) as error:
        raise DecodeError(path, f"not a readable capture: {error}") from None
    except (RuntimeError, OSError) as error:
        raise DecodeError(path, f"replaying the exports into nfcapd failed: {error}") from None

