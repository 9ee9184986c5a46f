"""Storyboards: the artifacts of each threat an analyst saved, as the Storyboard pages draw them (spec §4.6, §5.4).

Layout, one folder per type and day, replaced whole on every run (so a threat's stale files never linger)::

    storyboard/<type>/y=YYYY/m=MM/d=DD/briefing.json            the day's threats (Executive Threat Briefing)
    storyboard/<type>/y=YYYY/m=MM/d=DD/<anchor id>/<name>.json  one set per threat

``<anchor id>`` is the anchor (IP, domain or URI) with every character outside ``[A-Za-z0-9.-]`` made
``_``, cut to 48 characters, then ``-`` and the first 12 hex digits of its SHA-256: readable for an IP,
safe and unique for a URI. Artifacts, each with a JSON Schema in ``schemas/<type>_<name>.json``:

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
from spot_assets.oa.context import AddressContext, parse_address
from spot_assets.oa.investigate import (DIRECTIONS, TOP_N, dns_expanded_search, flow_expanded_search, peer_of,
                                        proxy_expanded_search, read_matching)

ARTIFACTS = {"flow": ("dendro", "impact", "globe", "timeline"), "dns": ("dendro", "timeline"),
             "proxy": ("dendro", "timeline")}
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


def _sorted_lists(rows: list[dict], key: str) -> list[dict]:
    for row in rows:
        row[key] = sorted(v for v in row[key] if v is not None)
    return rows


# ----- flow


def _flow_trees(anchor: str, title: str, peers: pa.Table, contexts: pa.Array | None) -> tuple[dict, dict]:
    """(Incident Progression, Impact Analysis) of the anchor's peers."""
    per_class = {d: {"peers": 0, "conns": 0, "bytes": 0} for d in DIRECTIONS}
    for row in peers.group_by("direction", use_threads=False).aggregate(
            [([], "count_all"), ("conns", "sum"), ("bytes", "sum")]).to_pylist():
        per_class[row["direction"]] = {"peers": row["count_all"], "conns": row["conns_sum"], "bytes": row["bytes_sum"]}
    per_context = {d: [] for d in DIRECTIONS}
    if contexts is not None:
        named = pa.table({"direction": peers["direction"], "context": contexts})
        counts = named.group_by(["direction", "context"], use_threads=False).aggregate([([], "count_all")])
        for row in counts.sort_by([("context", "ascending")]).to_pylist():
            per_context[row["direction"]].append((row["context"], row["count_all"]))
    dendro = {"name": anchor, "children": []}
    impact = {"name": title, "size": peers.num_rows, "children": []}
    for d in DIRECTIONS:
        node = {"name": d, "impact": per_class[d]["peers"]}
        bar = {"name": d, "size": per_class[d]["peers"], "conns": per_class[d]["conns"], "bytes": per_class[d]["bytes"]}
        if contexts is not None:
            node["children"] = [{"name": c, "impact": n} for c, n in per_context[d]]
            bar["children"] = [{"name": c, "size": n} for c, n in per_context[d]]
        dendro["children"].append(node)
        impact["children"].append(bar)
    return dendro, impact


def _point(geo: dict) -> list[float] | None:
    return None if geo["lat"] is None or geo["lon"] is None else [geo["lon"], geo["lat"]]


def _flow_globe(anchor: str, top: pa.Table, geo: list[dict]) -> dict | None:
    """Lines from opener to the other side; ``geo[0]`` is the anchor's, then one per ``top`` row."""
    here = _point(geo[0])
    if here is None:
        return None
    features, unlocated = [], 0
    for peer, where in zip(top.to_pylist(), geo[1:]):
        there = _point(where)
        if there is None:
            unlocated += 1
            continue
        ends = [(anchor, geo[0], here), (peer["peer"], where, there)]
        if peer["direction"] == "outbound":
            ends.reverse()
        (src, src_geo, src_at), (dst, dst_geo, dst_at) = ends
        features.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [src_at, dst_at]},
                         "properties": {"source_ip": src, "source_location": src_geo["geoloc"],
                                        "destination_ip": dst, "destination_location": dst_geo["geoloc"],
                                        "direction": peer["direction"], "conns": peer["conns"],
                                        "maxbytes": peer["maxbytes"]}})
    if not features:
        return None
    return {"type": "FeatureCollection", "anchor": {"ip": anchor, "location": geo[0]["geoloc"], "coordinates": here},
            "unlocated_peers": unlocated, "features": features}


def flow_story(lake: LakeResource, day: dt.date, threat: Threat, addresses: AddressContext | None,
               top_n: int = TOP_N) -> dict[str, dict]:
    anchor = threat.anchor
    search = flow_expanded_search(lake, day, anchor, top_n)
    top = pa.concat_tables(search.classes.values())
    contexts = geo = None
    if addresses is not None and (addresses.iploc is not None or addresses.mmdb is not None):
        located = addresses.columns(pa.concat_arrays([pa.array([anchor], pa.string()), top["peer"].combine_chunks()]))
        geo = pa.table({c: located[c] for c in ("geoloc", "lat", "lon")}).to_pylist()
    if addresses is not None and addresses.names is not None:
        contexts = pc.fill_null(addresses.columns(search.peers["peer"])["context"], UNKNOWN_CONTEXT)
    dendro, impact = _flow_trees(anchor, threat.title, search.peers, contexts)
    rows = search.rows
    peer = peer_of(rows, anchor)
    chosen = pc.is_in(peer, value_set=top["peer"].combine_chunks())
    tagged = pa.table({"peer": peer, "ts": rows["ts"], "ibyt": rows["ibyt"], "ipkt": rows["ipkt"],
                       "dport": rows["dport"]}).filter(chosen)
    timeline = bucket_timeline(tagged, "peer", [([], "count_all"), ("ibyt", "sum"), ("ipkt", "sum"),
                                                ("dport", "distinct")], ["conns", "ibyt", "ipkt", "dports"])
    directions = dict(zip(top["peer"].to_pylist(), top["direction"].to_pylist()))
    for row in _sorted_lists(timeline["rows"], "dports"):
        row["direction"] = directions[row["peer"]]
    story = {"dendro": dendro, "impact": impact, "timeline": {"anchor": anchor, **timeline}}
    globe = _flow_globe(anchor, top, geo) if geo is not None else None
    if globe is not None:
        story["globe"] = globe
    return story


# ----- dns


def dns_story(lake: LakeResource, day: dt.date, threat: Threat, addresses: AddressContext | None,
              top_n: int = TOP_N) -> dict[str, dict]:
    """A DNS threat is about a client IP when its anchor is an address, else about a query name."""
    anchor = threat.anchor
    is_client = parse_address(anchor) is not None
    key, other = ("ip_dst", "dns_qry_name") if is_client else ("dns_qry_name", "ip_dst")
    counts = dns_expanded_search(lake, day, ip=anchor, top_n=top_n) if is_client else \
        dns_expanded_search(lake, day, domain=anchor, top_n=top_n)
    dendro = {"name": anchor, "kind": "client" if is_client else "query",
              "children": [{"name": r[other], "total": r["total"]} for r in counts.to_pylist()]}
    rows = read_matching(lake, "dns", day, ["ts", other], {key: anchor})
    rows = rows.filter(pc.is_in(rows[other], value_set=counts[other].combine_chunks()))
    timeline = bucket_timeline(rows, other, [([], "count_all")], ["queries"])
    for row in timeline["rows"]:
        row["name"] = row.pop(other)
    return {"dendro": dendro, "timeline": {"anchor": anchor, "kind": dendro["kind"], **timeline}}


# ----- proxy


def _counted(table: pa.Table, keys: list[str]) -> list[dict]:
    counts = table.group_by(keys, use_threads=False).aggregate([([], "count_all")]).rename_columns([*keys, "count"])
    return counts.sort_by([("count", "descending"), *((k, "ascending") for k in keys)]).to_pylist()


def proxy_story(lake: LakeResource, day: dt.date, threat: Threat, addresses: AddressContext | None,
                top_n: int = TOP_N) -> dict[str, dict]:
    uri = threat.anchor
    search = proxy_expanded_search(lake, day, uri)
    requests = search.requests
    dendro = {"threat": uri, "requests": _counted(requests, ["clientip", "referer", "reqmethod", "resconttype"]),
              "referred": _counted(search.referred, ["fulluri"])}
    clients = pa.array([r["clientip"] for r in _counted(requests, ["clientip"])[:top_n]], pa.string())
    chosen = requests.filter(pc.is_in(requests["clientip"], value_set=clients))
    timeline = bucket_timeline(chosen.select(["ts", "clientip", "duration", "respcode"]), "clientip",
                               [([], "count_all"), ("duration", "sum"), ("respcode", "distinct")],
                               ["requests", "duration", "respcodes"])
    _sorted_lists(timeline["rows"], "respcodes")
    return {"dendro": dendro, "timeline": {"anchor": uri, **timeline}}


STORIES = {"flow": flow_story, "dns": dns_story, "proxy": proxy_story}


# ----- a day's storyboard


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime(ISO)


def storyboard_files(lake: LakeResource, data_type: str, day: dt.date, threats: list[Threat],
                     addresses: AddressContext | None, top_n: int = TOP_N) -> dict[str, dict]:
    """Every file of the day's storyboard, by path relative to its folder."""
    files, briefing = {}, []
    for threat in threats:
        folder = anchor_id(threat.anchor)
        story = STORIES[data_type](lake, day, threat, addresses, top_n)
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
