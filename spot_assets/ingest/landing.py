"""Landing → raw zone: which landed files are complete, which day they belong to, and the move itself.

The successor of Spot's watchdog collector. A file is taken only when it is complete: writers either
rename on completion (temporary names are never taken) or stop changing it for ``settle_seconds``.
A file belongs to the day partition of its first event, found by a cheap probe of its first bytes
(no decoding); its rows are still stored under their own hour, so a capture that runs past midnight
puts its late rows in the next day's folders.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import re
import struct
import subprocess
import time
from pathlib import Path

from resources.lake import LakeResource
from spot_assets.ingest import manifest
from spot_assets.ingest.manifest import DUPLICATE, ManifestEntry

# nfcapd writes `nfcapd.current.<pid>` while collecting; editors and copies write dot-files and `.part`.
_TEMPORARY = re.compile(r"(^\.|\.current|\.part$|\.tmp$|\.partial$|~$)")
_NFCAPD_NAME = re.compile(r"^nfcapd\.(\d{12})$")
_EPOCH = re.compile(rb"^\s*(\d{9,10})(\.\d+)?[\s,|\t]")
_DATETIME = re.compile(rb"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_PCAP_MAGICS = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">", b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}
_PCAPNG = b"\x0a\x0d\x0d\x0a"
_NFCAPD_MAGIC = b"\x0c\xa5"  # 0xA50C, little endian, at the start of every nfcapd file
PROBE_BYTES = 1 << 16


def is_complete(path: Path, settle_seconds: float, now: float | None = None) -> bool:
    if _TEMPORARY.search(path.name) or not path.is_file():
        return False
    return (now or time.time()) - path.stat().st_mtime >= settle_seconds


def complete_files(folder: Path, settle_seconds: float) -> list[Path]:
    if not folder.is_dir():
        return []
    now = time.time()
    return sorted(p for p in folder.iterdir() if is_complete(p, settle_seconds, now))


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


def _pcap_first(head: bytes) -> dt.datetime | None:
    order = _PCAP_MAGICS.get(head[:4])
    if order is None or len(head) < 32:
        return None
    return _utc(struct.unpack(order + "I", head[24:28])[0])


def _pcapng_first(head: bytes) -> dt.datetime | None:
    order = "<" if head[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    offset = 0
    while offset + 12 <= len(head):
        block_type, length = struct.unpack(order + "II", head[offset:offset + 8])
        if length < 12:
            return None
        if block_type == 6 and offset + 20 <= len(head):  # enhanced packet block, microseconds by default
            high, low = struct.unpack(order + "II", head[offset + 12:offset + 20])
            return _utc(((high << 32) | low) / 1e6)
        offset += length
    return None


def _nfcapd_first(path: Path, nfdump: str) -> dt.datetime | None:
    stat = subprocess.run([nfdump, "-I", "-r", str(path)], capture_output=True, text=True, timeout=60)
    match = re.search(r"^First:\s+(\d+)", stat.stdout, re.M)
    return _utc(int(match.group(1))) if match and int(match.group(1)) > 0 else None


def _text_first(head: bytes) -> dt.datetime | None:
    for line in head.splitlines()[:500]:
        if not line.strip() or line.startswith(b"#"):
            continue
        if m := _EPOCH.match(line):
            return _utc(float(m.group(1)))
        if m := _DATETIME.search(line):
            return dt.datetime(*map(int, m.groups()), tzinfo=dt.timezone.utc)
    return None


def probe_first_time(path: Path, nfdump: str = "nfdump") -> dt.datetime | None:
    """The time of a file's first event, or None when the first bytes do not tell."""
    if m := _NFCAPD_NAME.match(path.name):
        return dt.datetime.strptime(m.group(1), "%Y%m%d%H%M").replace(tzinfo=dt.timezone.utc)
    with open(path, "rb") as f:
        head = f.read(PROBE_BYTES)
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as f:
                head = f.read(PROBE_BYTES)
        except (OSError, EOFError):
            return None
    if head[:4] in _PCAP_MAGICS:
        return _pcap_first(head)
    if head[:4] == _PCAPNG:
        return _pcapng_first(head)
    if head[:2] == _NFCAPD_MAGIC:
        return _nfcapd_first(path, nfdump)
    return _text_first(head)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def day_of(path: Path, nfdump: str = "nfdump") -> dt.date:
    """The partition a file belongs to: the day of its first event.

    A file whose first event cannot be found belongs to today (UTC): it is still taken, so that the
    decode step quarantines it with a reason instead of it lingering unseen in the landing folder.
    """
    first = probe_first_time(path, nfdump)
    return (first or dt.datetime.now(dt.timezone.utc)).date()


def land(lake: LakeResource, data_type: str, path: Path, day: dt.date, fmt: str | None = None,
         remove: bool = True) -> ManifestEntry:
    """Copy one file byte for byte into the raw zone of ``day`` and record it in the manifest.

    A file seen before (same sha256) is recorded as a duplicate and not ingested twice. ``remove``
    deletes the landed original once its copy and manifest entry are safely written.
    """
    sha = sha256_file(path)
    entry = ManifestEntry(
        file_id=sha[:16], sha256=sha, name=path.name, size=path.stat().st_size, data_type=data_type, day=day,
        path="", landed_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), format=fmt,
    )
    previous = manifest.find(lake, data_type, sha)
    if previous is not None:
        entry.status, entry.duplicate_of, entry.path, entry.day = DUPLICATE, previous.name, previous.path, previous.day
    else:
        entry.path = f"{manifest.raw_dir(lake, data_type, day)}/{entry.file_id}__{path.name}"
        lake.put_file(path, entry.path)
    manifest.save(lake, entry)
    if remove:
        path.unlink()
    return entry
