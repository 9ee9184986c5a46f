"""The contract every input format implements: a file in, a table of events and a table of rejects out.

A format never drops a row it could not read: it records it in the rejects with its record number,
its raw text and the reason. A file that cannot be read at all raises `DecodeError`, which the
ingest turns into a quarantine entry; that never stops the other files of the partition.
"""

from __future__ import annotations

import datetime as dt
import gzip
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc

from resources.tools import Tools
from spot_assets.datatypes import DATA_TYPES

REJECT_COLUMNS = pa.schema([("record", pa.int64()), ("raw", pa.string()), ("reason", pa.string())])
# Text read (after gunzip) to find a text file's first event time: a few thousand log lines.
HEAD_BYTES = 256 << 10


class DecodeError(Exception):
    """The whole file is unreadable (truncated, corrupt, not of its format)."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass
class Rejects:
    """Collects the rows a format could not read, in file order."""

    records: list[int] = field(default_factory=list)
    raws: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def add(self, record: int, raw: str | bytes | None, reason: str) -> None:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "backslashreplace")
        self.records.append(record)
        self.raws.append(raw)
        self.reasons.append(reason)

    def table(self) -> pa.Table:
        return pa.Table.from_arrays(
            [pa.array(self.records, pa.int64()), pa.array(self.raws, pa.string()), pa.array(self.reasons, pa.string())],
            schema=REJECT_COLUMNS,
        )

    def __len__(self) -> int:
        return len(self.records)


@dataclass
class Decoded:
    events: pa.Table  # DATA_TYPES[type].decoded
    rejects: pa.Table  # REJECT_COLUMNS
    # What the decoder said about a file it read whole (e.g. nfdump skipping records that are not
    # flows): worth an analyst's eye, but neither a lost row nor a reason to quarantine the file.
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Format:
    """One input format of one data type."""

    name: str
    data_type: str
    description: str
    # Cheap look at the file's name and first bytes: is it this format?
    sniff: Callable[[Path, bytes], bool]
    decode: Callable[[Path, Tools], Decoded]
    # The time of the file's first event (None when it holds none), for binary formats whose head
    # cannot be cut off and decoded alone; text formats leave it None and have their first lines
    # decoded (`first_event_time`).
    first_time: Callable[[Path, Tools], dt.datetime | None] | None = None
    # The native tools ``decode`` runs (`resources.tools`): located and checked before any file is read.
    tools: tuple[str, ...] = ()

    def first_event_time(self, path: Path, tools: Tools) -> dt.datetime | None:
        """The time of the file's first event, as this format reads it: its own `first_time`, else the
        earliest ``ts`` of the rows it decodes from the file's first whole lines."""
        if self.first_time:
            return self.first_time(path, tools)
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
                events = self.decode(copy, tools).events
            except DecodeError as e:
                raise DecodeError(path, e.reason) from None
        return pc.min(events["ts"]).as_py() if events.num_rows else None
