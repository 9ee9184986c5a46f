"""Every input format the ingest reads, by data type, and the one entry point that decodes a file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from resources.tools import Tools
from spot_assets import schemas
from spot_assets.datatypes import DATA_TYPES
from spot_assets.ingest.formats import bluecoat, dns_pcap, nfdump, squid, zeek
from spot_assets.ingest.formats.base import Decoded, DecodeError, Format, Rejects
from spot_assets.ingest.timecols import with_time_columns

__all__ = ["Decoded", "DecodeError", "Format", "Rejects", "FORMATS", "detect", "get", "decode_file",
           "first_event_time", "tools_needed"]

FORMATS: dict[str, dict[str, Format]] = {t: {} for t in tuple(DATA_TYPES)}
for _module in (nfdump, dns_pcap, zeek, bluecoat, squid):
    for _fmt in _module.FORMATS:
        FORMATS[_fmt.data_type][_fmt.name] = _fmt

SNIFF_BYTES = 4096


def get(data_type: str, name: str) -> Format:
    try:
        return FORMATS[data_type][name]
    except KeyError:
        known = ", ".join(sorted(FORMATS.get(data_type, {}))) or "none"
        raise ValueError(f"unknown {data_type} format {name!r} (known: {known})") from None


def tools_needed(data_type: str) -> tuple[str, ...]:
    """The native tools some format of the type runs: located and checked before any of its files is read."""
    return tuple(dict.fromkeys(tool for fmt in FORMATS[data_type].values() for tool in fmt.tools))


def detect(data_type: str, path: Path) -> Format:
    """The format of a file, from its name and first bytes; `DecodeError` when none claims it."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    for fmt in FORMATS[data_type].values():
        if fmt.sniff(path, head):
            return fmt
    raise DecodeError(path, f"not a {data_type} format this ingest reads ({', '.join(FORMATS[data_type])})")


def decode_file(data_type: str, path: Path, tools: Tools, fmt_name: str | None = None) -> Decoded:
    """Decode one file into rows of ``DATA_TYPES[data_type].decoded`` plus its rejects."""
    path = Path(path)
    fmt = get(data_type, fmt_name) if fmt_name else detect(data_type, path)
    decoded = fmt.decode(path, tools)
    events = schemas.conform(with_time_columns(data_type, decoded.events), DATA_TYPES[data_type].decoded)
    return Decoded(events=events, rejects=decoded.rejects, warnings=decoded.warnings)


def first_event_time(data_type: str, path: Path, tools: Tools, fmt_name: str | None = None) -> dt.datetime:
    """The time of a file's first event (UTC), as its own format reads it: the partition it belongs to.

    Each format's parser is the only reader that knows where its time is (a Zeek cluster log starts
    with ``_node_name``, a VM with an unset clock writes ``19.379652``), so no pattern guesses it
    here: the format answers (`Format.first_event_time`). `DecodeError` (naming the file) when the file is
    not of the type or no time is found: such a file has no day, and guessing one (today) would
    put it where its rows are not.
    """
    path = Path(path)
    fmt = get(data_type, fmt_name) if fmt_name else detect(data_type, path)
    first = fmt.first_event_time(path, tools)
    if first is None:
        raise DecodeError(path, f"no event time found in its first rows (read as {fmt.name})")
    return first
