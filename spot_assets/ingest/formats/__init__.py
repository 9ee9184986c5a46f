"""Every input format the ingest reads, by data type, and the one entry point that decodes a file."""

from __future__ import annotations

import datetime as dt
import gzip
import tempfile
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from spot_assets import schemas
from spot_assets.ingest.formats import bluecoat, dns_pcap, nfdump, squid, zeek
from spot_assets.ingest.formats.base import Decoded, DecodeError, Format, Rejects, Tools
from spot_assets.ingest.timecols import with_time_columns

__all__ = ["Decoded", "DecodeError", "Format", "Rejects", "Tools", "FORMATS", "detect", "get", "decode_file",
           "first_event_time"]

FORMATS: dict[str, dict[str, Format]] = {t: {} for t in schemas.TYPES}
for _module in (nfdump, dns_pcap, zeek, bluecoat, squid):
    for _fmt in _module.FORMATS:
        FORMATS[_fmt.data_type][_fmt.name] = _fmt

SNIFF_BYTES = 4096
# Text read (after gunzip) to find a file's first event time: a few thousand log lines.
HEAD_BYTES = 256 << 10


def get(data_type: str, name: str) -> Format:
    try:
        return FORMATS[data_type][name]
    except KeyError:
        known = ", ".join(sorted(FORMATS.get(data_type, {}))) or "none"
        raise ValueError(f"unknown {data_type} format {name!r} (known: {known})") from None


def detect(data_type: str, path: Path) -> Format:
    """The format of a file, from its name and first bytes; `DecodeError` when none claims it."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    for fmt in FORMATS[data_type].values():
        if fmt.sniff(path, head):
            return fmt
    raise DecodeError(path, f"not a {data_type} format this ingest reads ({', '.join(FORMATS[data_type])})")


def decode_file(data_type: str, path: Path, tools: Tools, fmt_name: str | None = None) -> Decoded:
    """Decode one file into rows of ``schemas.DECODED[data_type]`` plus its rejects."""
    path = Path(path)
    fmt = get(data_type, fmt_name) if fmt_name else detect(data_type, path)
    decoded = fmt.decode(path, tools)
    events = schemas.conform(with_time_columns(data_type, decoded.events), schemas.DECODED[data_type])
    return Decoded(events=events, rejects=decoded.rejects, warnings=decoded.warnings)


def first_event_time(data_type: str, path: Path, tools: Tools, fmt_name: str | None = None) -> dt.datetime:
    """The time of a file's first event (UTC), as its own format reads it: the partition it belongs to.

    Each format's parser is the only reader that knows where its time is (a Zeek cluster log starts
    with ``_node_name``, a VM with an unset clock writes ``19.379652``), so no pattern guesses it
    here: binary formats say it themselves (`Format.first_time`), text formats have their first lines
    decoded, and the earliest of those rows counts. `DecodeError` (naming the file) when the file is
    not of the type or no time is found: such a file has no day, and guessing one (today) would
    put it where its rows are not.
    """
    path = Path(path)
    fmt = get(data_type, fmt_name) if fmt_name else detect(data_type, path)
    first = fmt.first_time(path, tools) if fmt.first_time else _head_first_time(fmt, path, tools)
    if first is None:
        raise DecodeError(path, f"no event time found in its first rows (read as {fmt.name})")
    return first


def _head_first_time(fmt: Format, path: Path, tools: Tools) -> dt.datetime | None:
    """The earliest ``ts`` of the rows `fmt` decodes from the file's first whole lines."""
    with open(path, "rb") as f:
        compressed = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        try:
            head = (gzip.GzipFile(fileobj=f) if compressed else f).read(HEAD_BYTES)
        except (OSError, EOFError, zlib.error) as e:
            raise DecodeError(path, f"corrupt or truncated gzip stream: {e}") from e
    if len(head) == HEAD_BYTES:
        head = head[:head.rfind(b"\n") + 1]
    with tempfile.TemporaryDirectory(prefix="spot-head-") as folder:
        copy = Path(folder) / path.name
        copy.write_bytes(head)
        try:
            events = fmt.decode(copy, tools).events
        except DecodeError as e:
            raise DecodeError(path, e.reason) from None
    return pc.min(events["ts"]).as_py() if events.num_rows else None
