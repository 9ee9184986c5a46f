"""The raw zone's manifest: one JSON entry per raw file, the record of what happened to it.

An entry lives beside its day's raw files and is only ever written by the run that handles that
file, so concurrent runs of different days or files never contend for one manifest file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from resources.lake import LakeResource

LANDED, DECODED, QUARANTINED, DUPLICATE = "landed", "decoded", "quarantined", "duplicate"


@dataclass
class ManifestEntry:
    file_id: str  # first 16 hex digits of the sha256: names the raw file and its part files
    sha256: str
    name: str  # the name it landed with
    size: int
    data_type: str
    day: dt.date  # the partition: the day of the file's first event
    path: str  # where the bytes are now (raw zone, or quarantine)
    landed_at: str
    format: str | None = None  # forced by the user, or detected at decode time
    status: str = LANDED
    rows: int = 0
    rejects: int = 0
    first_ts: str | None = None
    last_ts: str | None = None
    hours: list[str] = field(default_factory=list)  # "YYYY-MM-DDTHH" partitions holding its rows
    decoder: str | None = None  # decoder version that produced the rows
    decode_seconds: float = 0.0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)  # what the decoder noted about a file it read whole
    duplicate_of: str | None = None

    @property
    def key(self) -> str:
        return f"dup-{self.landed_at.replace(':', '')}-{self.file_id}" if self.status == DUPLICATE else self.file_id

    def to_json(self) -> dict:
        return dataclasses.asdict(self) | {"day": self.day.isoformat()}

    @classmethod
    def from_json(cls, obj: dict) -> "ManifestEntry":
        return cls(**(obj | {"day": dt.date.fromisoformat(obj["day"])}))


def save(lake: LakeResource, entry: ManifestEntry) -> None:
    lake.write_json(lake.manifest_file(entry.data_type, entry.day, entry.key), entry.to_json())
    if entry.status != DUPLICATE:
        lake.write_json(lake.content_index(entry.data_type, entry.sha256), {"day": entry.day.isoformat(), "file_id": entry.file_id})


def find(lake: LakeResource, data_type: str, sha256: str) -> ManifestEntry | None:
    """The entry of a file already in the raw zone, by content."""
    index = lake.read_json(lake.content_index(data_type, sha256))
    if index is None:
        return None
    day = dt.date.fromisoformat(index["day"])
    obj = lake.read_json(lake.manifest_file(data_type, day, index["file_id"]))
    return ManifestEntry.from_json(obj) if obj else None


def entries(lake: LakeResource, data_type: str, day: dt.date) -> list[ManifestEntry]:
    folder = lake.manifest_dir(data_type, day)
    return [ManifestEntry.from_json(lake.read_json(p)) for p in lake.listdir(folder) if p.endswith(".json")]
