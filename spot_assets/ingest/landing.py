"""Landing → raw zone: which day a landed file belongs to, and the move itself.

The successor of Spot's watchdog collector. A file is taken only when it is complete
(`resources.landing`). A file belongs to the day partition of its first event, as its own format reads it
(`formats.first_event_time`); its rows are still stored under their own hour, so a capture that runs
past midnight puts its late rows in the next day's folders. A file whose first event cannot be found,
or falls outside the partitions, has no day: it is refused by name (`Unplaceable`), never given today.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from resources.lake import LakeResource
from resources.landing import LandingResource, is_complete
from resources.tools import Tools
from spot_assets.ingest import formats, manifest
from spot_assets.ingest.formats import DecodeError, zeek
from spot_assets.ingest.manifest import DUPLICATE, ManifestEntry

class Unplaceable(ValueError):
    """A file that belongs to no day partition; the message names the file and what to do."""


def day_of(data_type: str, path: Path, tools: Tools, partitions: dg.TimeWindowPartitionsDefinition,
           fmt: str | None = None) -> dt.date:
    """The partition a file belongs to: the day of its first event, which must be one of ``partitions``.

    Data from before ``ingest.start_date`` (an old capture, a VM whose clock starts in 1970) is refused
    here, before any run, rather than failing a Dagster step on an unknown partition: the partitions
    are what the Dagster UI, daemon and sensors know, so only the setting can widen them for all.
    """
    try:
        first = formats.first_event_time(data_type, path, tools, fmt)
    except DecodeError as e:
        raise Unplaceable(f"{path}: {e.reason}; it has no day to land in") from None
    day = first.date()
    if partitions.has_partition_key(day.isoformat()):
        return day
    when = f"{path}: its first event is at {first:%Y-%m-%d %H:%M:%S} UTC"
    start = partitions.start.date()
    if day < start:
        unset = " (1970: the capturing machine's clock was not set)" if day.year == 1970 else ""
        raise Unplaceable(f"{when}{unset}, before the first partition {start}: set ingest.start_date to "
                          f"{day} or earlier in spot.toml to ingest it")
    raise Unplaceable(f"{when}, after the last partition {partitions.get_last_partition_key()} (today, UTC): "
                      "check the capturing machine's clock")


def files_of_day(landing: LandingResource, data_type: str, day: dt.date, tools: Tools,
                 partitions: dg.TimeWindowPartitionsDefinition) -> list[Path]:
    """The complete files of the landing folder whose first event is on ``day``. A file that belongs to
    no day stays in the folder: the sensor names it in its log, and a run must not fail for it."""
    files = []
    for path in landing.complete(data_type):
        try:
            if day_of(data_type, path, tools, partitions) == day:
                files.append(path)
        except Unplaceable:
            continue
    return files


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def land(lake: LakeResource, data_type: str, path: Path, day: dt.date, fmt: str | None = None,
         remove: bool = True, name: str | None = None) -> ManifestEntry:
    """Copy one file byte for byte into the raw zone of ``day`` and record it in the manifest.

    A file seen before (same sha256) is recorded as a duplicate and not ingested twice. ``remove``
    deletes the landed original once its copy and manifest entry are safely written. ``name`` is the
    name recorded (default the file's): Zeek's rotated logs repeat theirs in every day folder, so a
    folder ingest records ``2024-04-19/conn.00:00:00-01:00:00.log.gz``; the raw file keeps the base name.
    """
    sha = sha256_file(path)
    entry = ManifestEntry(
        file_id=sha[:16], sha256=sha, name=name or path.name, size=path.stat().st_size, data_type=data_type, day=day,
        path="", landed_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), format=fmt,
    )
    previous = manifest.find(lake, data_type, sha)
    if previous is not None:
        entry.status, entry.duplicate_of, entry.path, entry.day = DUPLICATE, previous.name, previous.path, previous.day
    else:
        entry.path = lake.raw_file(data_type, day, entry.file_id, path.name)
        lake.put_file(path, entry.path)
    manifest.save(lake, entry)
    if remove:
        path.unlink()
    return entry


# ----- files a user names: `spot ingest`


@dataclass(frozen=True)
class Named:
    """A file given to `spot ingest`, with the name to record; ``found``: by a folder or a glob, not named."""

    path: Path
    name: str
    found: bool = False


def files_named(args: list[str]) -> list[Named]:
    """The files the arguments stand for: a file itself, a folder every file under it (named by its path
    inside the folder, since Zeek's day folders repeat the same hourly names), a quoted glob its matches.
    Temporary and hidden names are left out, as in a landing folder."""
    found = []
    for text in args:
        path = Path(text)
        if path.is_dir():
            found += [Named(f, f.relative_to(path).as_posix(), True) for f in sorted(path.rglob("*"))
                      if is_complete(f, 0) and not any(p.startswith(".") for p in f.relative_to(path).parts)]
        elif path.is_file():
            found.append(Named(path, path.name))
        elif matches := sorted(Path(m) for m in glob.glob(text, recursive=True)):
            found += [Named(m, m.name, True) for m in matches if is_complete(m, 0)]
        else:
            raise ValueError(f"no such file or folder: {path}")
    return found


def _zeek_log(path: Path) -> str:
    """The Zeek log a file is, for counting what is not ingested (``other`` when it names none)."""
    return zeek.log_of(path) or "other"


def of_type(data_type: str, files: list[Named]) -> tuple[list[Named], Counter]:
    """The files to ingest as ``data_type``: every file named, and those found (in a folder, by a glob)
    that are of one of its formats; the others by Zeek log (``dns``, ``ssl``...), counted."""
    taken, skipped = [], Counter()
    for f in files:
        try:
            if f.found:
                formats.detect(data_type, f.path)
            taken.append(f)
        except DecodeError:
            skipped[_zeek_log(f.path)] += 1
    return taken, skipped


def zeek_routes(files: list[Named], data_types: list[str]) -> tuple[dict[str, list[Named]], Counter]:
    """Zeek logs by the data type their log feeds (conn → flow, dns → dns, http → proxy); the other logs
    (ssl, files, weird...) and logs of a type not ingested, counted by log."""
    fed = {log.data_type for log in zeek.LOGS.values()}
    routes, skipped = {t: [] for t in data_types if t in fed}, Counter()
    for f in files:
        log = _zeek_log(f.path)
        if log in zeek.LOGS and zeek.LOGS[log].data_type in routes:
            routes[zeek.LOGS[log].data_type].append(f)
        else:
            skipped[log] += 1
    return {t: fs for t, fs in routes.items() if fs}, skipped
