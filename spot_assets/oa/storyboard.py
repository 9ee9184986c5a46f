"""Storyboards: the artifacts of each threat an analyst saved, as the Storyboard pages draw them (spec §4.6, §5.4).

Layout, one folder per type and day, replaced whole on every run (so a threat's stale files never linger)::

    storyboard/<type>/y=YYYY/m=MM/d=DD/briefing.json            the day's threats (Executive Threat Briefing)
    storyboard/<type>/y=YYYY/m=MM/d=DD/<anchor id>/<name>.json  one set per threat

``<anchor id>`` is the anchor (IP, domain or URI) with every character outside ``[A-Za-z0-9.-]`` made
``_``, cut to 48 characters, then ``-`` and the first 12 hex digits of its SHA-256: readable for an IP,
safe and unique for a URI. Artifacts (``DataType.artifacts``, drawn by ``story`` of the type's OA module,
``spot_assets/oa/<type>.py``), each with a JSON Schema in ``schemas/<type>_<name>.json``:

* flow: ``dendro`` (Incident Progression: anchor -> class -> network context), ``impact`` (Impact
  Analysis: peers, connections and bytes per class, then per context), ``globe`` (Map View) and
  ``timeline`` (connections per peer per minute);
* dns: ``dendro`` (anchor -> the clients that queried it, or the names it queried) and ``timeline``;
* proxy: ``dendro`` (Incident Progression: the requests' client, referer, method and content type,
  the threat, the URIs it referred to) and ``timeline`` (requests per client per minute).

Decisions where Spot's documentation and code disagreed (spec §9), made once here:

* Classes are strings, ``inbound`` / ``outbound`` / ``two-way`` (investigate.py defines them), not
  numbers; Spot's globe code used 1 = two-way, 2 = inbound, 3 = outbound (its documentation said 1
  inbound, 2 outbound, 3 two-way): ``SPOT_GLOBE_TYPE`` keeps the code's mapping for exports.
* Coordinates are GeoJSON's ``[longitude, latitude]`` everywhere (what Spot's code wrote; its
  documentation said ``[lat, long]``). The globe is a GeoJSON FeatureCollection of LineStrings from
  the side that opened the connections to the other (inbound: anchor -> peer; outbound: peer ->
  anchor; two-way: anchor -> peer), for the top peers of each class that have a location.
* No globe file is written when geolocation is not configured, when the anchor has no location or
  when no top peer has one; that is not an error.
* The network-context level of the flow dendrogram and impact tree exists only when a network
  context file is configured; peers it does not name are under ``unknown``.
* Counts in ``dendro`` and ``impact`` are over every peer of the day; ``globe`` and ``timeline``
  list the top peers of each class (top ``TOP_N`` by connections ∪ top by bytes), as Spot's did.
* Times are ISO 8601 UTC strings; timelines bucket by minute and keep the first ``TIMELINE_LIMIT``
  buckets in time order (Spot's ``LIMIT 1000``), saying so with ``truncated``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from functools import lru_cache
from importlib import resources

import pyarrow as pa
import pyarrow.compute as pc

from resources.lake import LakeResource
from resources.store import Threat
from spot_assets.datatypes import DATA_TYPES
from spot_assets.oa.context import AddressContext
from spot_assets.oa.investigate import TOP_N

SPOT_GLOBE_TYPE = {"two-way": 1, "inbound": 2, "outbound": 3}
TIMELINE_LIMIT = 1000
BUCKET_SECONDS = 60
UNKNOWN_CONTEXT = "unknown"
ISO = "%Y-%m-%dT%H:%M:%SZ"


def anchor_id(anchor: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9.-]", "_", anchor)[:48]
    return f"{slug}-{hashlib.sha256(anchor.encode()).hexdigest()[:12]}"


@lru_cache(maxsize=None)
def json_schema(data_type: str | None, name: str) -> dict:
    """The JSON Schema of an artifact (``data_type`` None for the briefing)."""
    file = f"{data_type}_{name}.json" if data_type else f"{name}.json"
    return json.loads(resources.files("spot_assets.oa").joinpath("schemas", file).read_text())


def _records(table: pa.Table) -> list[dict]:
    """Rows as JSON-ready dicts, timestamps as ISO strings to the second."""
    seconds = pa.timestamp("s", tz="UTC")
    columns = {name: pc.strftime(col.cast(seconds, safe=False), ISO) if pa.types.is_timestamp(col.type) else col
               for name, col in zip(table.column_names, table.columns)}
    return pa.table(columns).to_pylist()


def bucket_timeline(rows: pa.Table, entity: str, aggregates: list[tuple], names: list[str]) -> dict:
    """Per ``entity`` and minute, the ``aggregates`` of ``rows`` (which have ``ts``), earliest first."""
    bucketed = rows.append_column("start", pc.floor_temporal(rows["ts"], BUCKET_SECONDS, "second"))
    grouped = bucketed.group_by([entity, "start"], use_threads=False).aggregate(aggregates)
    grouped = grouped.rename_columns([entity, "start", *names]).sort_by([("start", "ascending"), (entity, "ascending")])
    return {"bucket_seconds": BUCKET_SECONDS, "truncated": grouped.num_rows > TIMELINE_LIMIT,
            "rows": _records(grouped.slice(0, TIMELINE_LIMIT))}


def sorted_lists(rows: list[dict], key: str) -> list[dict]:
    for row in rows:
        row[key] = sorted(v for v in row[key] if v is not None)
    return rows


# ----- a day's storyboard


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime(ISO)


def storyboard_files(lake: LakeResource, data_type: str, day: dt.date, threats: list[Threat],
                     addresses: AddressContext | None, top_n: int = TOP_N) -> dict[str, dict]:
    """Every file of the day's storyboard, by path relative to its folder."""
    files, briefing = {}, []
    for threat in threats:
        folder = anchor_id(threat.anchor)
        story = DATA_TYPES[data_type].oa.story(lake, day, threat, addresses, top_n)
        files.update({f"{folder}/{name}.json": body for name, body in story.items()})
        briefing.append({"anchor": threat.anchor, "id": folder, "title": threat.title,
                         "description": threat.description, "analyst": threat.analyst,
                         "created_at": _iso(threat.created_at), "updated_at": _iso(threat.updated_at),
                         "artifacts": {name: f"{folder}/{name}.json" for name in story}})
    files["briefing.json"] = {"data_type": data_type, "day": day.isoformat(), "threats": briefing}
    return files


def write_storyboard(lake: LakeResource, data_type: str, day: dt.date, files: dict[str, dict]) -> str:
    """Write the day's folder beside the old one under a hidden name, then swap: readers see one or the other."""
    final = lake.storyboard_dir(data_type, day)
    parent, name = final.rsplit("/", 1)
    token = uuid.uuid4().hex
    staging, old = f"{parent}/.tmp-{token}-{name}", f"{parent}/.old-{token}-{name}"
    for path, body in files.items():
        lake.write_json(f"{staging}/{path}", body)
    if lake.exists(final):
        lake.move(final, old)
    lake.move(staging, final)
    lake.delete(old)
    return final
