"""Every input format the ingest reads, by data type, and the one entry point that decodes a file."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from spot_assets import schemas
from spot_assets.ingest.formats import bluecoat, dns_pcap, nfdump, squid, zeek
from spot_assets.ingest.formats.base import Decoded, DecodeError, Format, Rejects, Tools
from spot_assets.ingest.timecols import with_time_columns

__all__ = ["Decoded", "DecodeError", "Format", "Rejects", "Tools", "FORMATS", "detect", "get", "decode_file"]

FORMATS: dict[str, dict[str, Format]] = {t: {} for t in schemas.TYPES}
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
    return Decoded(events=events, rejects=decoded.rejects)
