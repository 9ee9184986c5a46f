"""The raw zone's manifest: one JSON entry per raw file, the record of what happened to it.

An entry lives beside its day's raw files and is only ever written by the run that handles that
file, so concurrent runs of different days or files never contend for one manifest file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from resources.lake import LakeResource, day_path

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


def raw_dir(lake: LakeResource, data_type: str, day: dt.date) -> str:
    return lake.path("raw", data_type, day_path(day))


def quarantine_dir(lake: LakeResource, data_type: str, day: dt.date) -> str:
    return lake.path("quarantine", data_type, day_path(day))


def _entry_path(lake: LakeResource, entry: ManifestEntry) -> str:
    return f"{raw_dir(lake, entry.data_type, entry.day)}/_manifest/{entry.key}.json"


def _index_path(lake: LakeResource, data_type: str, sha256: str) -> str:
    return lake.path("raw", data_type, "_ids", f"{sha256}.json")


def save(lake: LakeResource, entry: ManifestEntry) -> None:
    lake.write_json(_entry_path(lake, entry), entry.to_json())
    if entry.status != DUPLICATE:
        lake.write_json(_index_path(lake, entry.data_type, entry.sha256), {"day": entry.day.isoformat(), "file_id": entry.file_id})


def find(lake: LakeResource, data_type: str, sha256: str) -> ManifestEntry | None:
    """The entry of a file already in the raw zone, by content."""
    index = lake.read_json(_index_path(lake, data_type, sha256))
    if index is None:
        return None
    day = dt.date.fromisoformat(index["day"])
    obj = lake.read_json(f"{raw_dir(lake, data_type, day)}/_manifest/{index['file_id']}.json")
    return ManifestEntry.from_json(obj) if obj else None


def entries(lake: LakeResource, data_type: str, day: dt.date) -> list[ManifestEntry]:
    folder = f"{raw_dir(lake, data_type, day)}/_manifest"
    return [ManifestEntry.from_json(lake.read_json(p)) for p in lake.listdir(folder) if p.endswith(".json")]
