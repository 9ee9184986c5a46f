"""Raw file → rows of the decoded table and of the rejects table, written where they belong.

This runs in a decoder worker process, one raw file per call: it decodes the file, splits its rows by
their own hour, replaces the file's part in each hour folder (so a second decode of the same file
replaces its rows instead of adding to them), writes its rejects, and returns the updated manifest
entry. A file that cannot be decoded at all moves to the quarantine zone with its reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

import pyarrow as pa
import pyarrow.compute as pc

from resources.lake import LakeResource
from resources.tools import Tools
from spot_assets import schemas
from spot_assets.datatypes import DATA_TYPES
from spot_assets.ingest import formats, manifest
from spot_assets.ingest.formats import DecodeError
from spot_assets.ingest.manifest import DECODED, QUARANTINED, ManifestEntry

# Bump when a decoder's output changes: files decoded by an older version are decoded again.
DECODER_VERSION = "2"


def needs_decoding(entry: ManifestEntry) -> bool:
    return entry.status != manifest.DUPLICATE and (entry.status != DECODED or entry.decoder != DECODER_VERSION)


def _hour_key(hour: str) -> tuple[dt.date, int]:
    day, hh = hour.split("T")
    return dt.date.fromisoformat(day), int(hh)


def _drop_previous(lake: LakeResource, entry: ManifestEntry) -> None:
    for hour in entry.hours:
        day, hh = _hour_key(hour)
        lake.delete_part(DATA_TYPES[entry.data_type].table("events"), day, entry.file_id, hh)
    lake.delete_part(DATA_TYPES[entry.data_type].table("rejects"), entry.day, entry.file_id)


def _write_events(lake: LakeResource, entry: ManifestEntry, events: pa.Table) -> list[str]:
    """One part per hour of the rows' own UTC time. The rows are keyed by their time floored to the
    hour and only the few distinct hours are formatted: strftime on every row took 0.7 s per million."""
    floored = pc.floor_temporal(pc.cast(events["ts"], pa.timestamp("ms")), unit="hour")  # naive: UTC wall time
    hours = []
    for start in pc.unique(floored):
        hour = start.as_py().isoformat()[:13]  # YYYY-MM-DDTHH
        day, hh = _hour_key(hour)
        lake.write_part(DATA_TYPES[entry.data_type].table("events"), day, entry.file_id, events.filter(pc.equal(floored, start)), hh)
        hours.append(hour)
    return sorted(hours)


def ingest_file(lake_root: str, entry: ManifestEntry, tools: Tools) -> ManifestEntry:
    lake = LakeResource(root=lake_root)
    entry = dataclasses.replace(entry)
    started = time.perf_counter()
    _drop_previous(lake, entry)
    try:
        with lake.local_copy(entry.path) as local:
            decoded = formats.decode_file(entry.data_type, local, tools, entry.format)
    except DecodeError as e:
        reason = e.reason
    except Exception as e:  # a decoder bug must quarantine this file, not fail the partition
        reason = f"decoder failed: {type(e).__name__}: {e}"
    else:
        reason = None
    entry.decode_seconds = round(time.perf_counter() - started, 3)
    entry.decoder = DECODER_VERSION
    if reason is not None:
        target = lake.quarantine_file(entry.data_type, entry.day, entry.path.rsplit("/", 1)[1])
        if entry.path != target:
            lake.move(entry.path, target)
        entry.path, entry.status, entry.error = target, QUARANTINED, f"{entry.name}: {reason}"
        entry.rows = entry.rejects = 0
        entry.warnings = []
        entry.hours, entry.first_ts, entry.last_ts = [], None, None
        manifest.save(lake, entry)
        return entry

    events = decoded.events
    events = events.append_column("source_file", pa.repeat(pa.scalar(entry.file_id, pa.string()), events.num_rows))
    events = events.select(DATA_TYPES[entry.data_type].events.names).cast(DATA_TYPES[entry.data_type].events)
    entry.hours = _write_events(lake, entry, events) if events.num_rows else []
    if decoded.rejects.num_rows:
        n = decoded.rejects.num_rows
        rejects = pa.table({
            "source_file": pa.array([entry.file_id] * n, pa.string()),
            "file_name": pa.array([entry.name] * n, pa.string()),
            "record": decoded.rejects["record"], "raw": decoded.rejects["raw"], "reason": decoded.rejects["reason"],
        }).cast(schemas.REJECTS)
        lake.write_part(DATA_TYPES[entry.data_type].table("rejects"), entry.day, entry.file_id, rejects)
    if events.num_rows:
        bounds = pc.min_max(events["ts"])
        entry.first_ts, entry.last_ts = (bounds["min"].as_py().isoformat(), bounds["max"].as_py().isoformat())
    entry.rows, entry.rejects = events.num_rows, decoded.rejects.num_rows
    entry.status, entry.error, entry.warnings = DECODED, None, [f"{entry.name}: {w}" for w in decoded.warnings]
    entry.decode_seconds = round(time.perf_counter() - started, 3)
    manifest.save(lake, entry)
    return entry
