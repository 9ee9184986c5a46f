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

from spot_assets.ingest.formats.base import DecodeError, Rejects, Tools

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
    target = ("127.0.0.1", collector.port)
    try:
        with open(path, "rb") as stream:
            for sent, datagram in enumerate(export_datagrams(stream)):
                if datagram.problem:
                    rejects.add(datagram.number, datagram.payload.hex(), f"packet {datagram.number}: {datagram.problem}")
                    continue
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
    that cannot be replayed go to ``rejects``.
    """
    try:
        with Collector(tools, folder) as collector:
            origin = _replay(path, collector, rejects)
            return collector.finish(), origin
    except (dpkt.UnpackError, ValueError) as error:
        raise DecodeError(path, f"not a readable capture: {error}") from None
    except (RuntimeError, OSError) as error:
        raise DecodeError(path, f"replaying the exports into nfcapd failed: {error}") from None

