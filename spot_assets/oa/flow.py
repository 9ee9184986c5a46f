"""What the OA adds to flows (spec §4.2, §4.6): the enriched columns, the details of a suspicious pair
(Spot's ``flow_edge`` and ``flow_chords``) and the storyboard of a threat IP (dendro, impact, globe,
timeline). The shared rules are in ``enrich.py``, ``details.py`` and ``storyboard.py``; this module is
found by the type's name (``DataType.oa``).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from resources.lake import LakeResource
from resources.store import Threat
from spot_assets import schemas
from spot_assets.datatypes import FLOW
from spot_assets.oa.context import AddressContext
from spot_assets.oa.details import day_events, distinct, pair
from spot_assets.oa.enrich import F64, I32, I64, S, TRACE, Context, geo_fields, prefixed
from spot_assets.oa.files import Log
from spot_assets.oa.investigate import DIRECTIONS, TOP_N, flow_expanded_search, peer_of
from spot_assets.oa.reputation import reputation_columns
from spot_assets.oa.services import flow_services, protocol_names
from spot_assets.oa.storyboard import UNKNOWN_CONTEXT, bucket_timeline, sorted_lists

# ----- enriched

_PLACE = [*((f"{p}_{c}", S) for p in ("src", "dst") for c in ("range", "context")), *geo_fields("src"),
          *geo_fields("dst")]
ENRICHED = pa.schema([
    ("tstart", S), ("srcip", S), ("dstip", S), ("sport", I32), ("dport", I32), ("proto", S), ("ipkt", I64),
    ("ibyt", I64), ("opkt", I64), ("obyt", I64), ("ml_score", F64), ("rank", I32), ("srcip_internal", I32),
    ("dstip_internal", I32), ("src_geoloc", S), ("dst_geoloc", S), ("src_domain", S), ("dst_domain", S),
    ("src_rep", S), ("dst_rep", S),
    ("severity", I32), ("src_rep_level", I32), ("dst_rep_level", I32), *_PLACE,
    ("protocol_name", S), ("service", S), ("src_word", S), ("dst_word", S), *TRACE,
])


def enriched_columns(t: pa.Table, ctx: Context, log: Log) -> dict[str, pa.Array]:
    n = t.num_rows
    both = pa.concat_arrays([t["sip"].combine_chunks(), t["dip"].combine_chunks()])
    rep, level = reputation_columns("ip", both, ctx.providers, log)
    src, dst = prefixed(ctx.addresses.columns(t["sip"]), "src"), prefixed(ctx.addresses.columns(t["dip"]), "dst")
    return {
        **src, **dst, "srcip_internal": src["src_internal"], "dstip_internal": dst["dst_internal"],
        "src_rep": rep[:n], "dst_rep": rep[n:], "src_rep_level": level[:n], "dst_rep_level": level[n:],
        "protocol_name": protocol_names(t["proto"]), "service": flow_services(t["sport"], t["dport"], t["proto"]),
    }


# ----- details

EDGE_COLUMNS = ["ts", "treceived", "sip", "dip", "sport", "dport", "proto", "flag", "stos", "ibyt", "ipkt",
                "input", "output", "rip", "obyt", "opkt", "trhour", "trminute", "source_file", "record"]
KEYS = ("ts", "sip", "dip")  # the suspicious columns a row's details are found by


def _minute(ts):
    return pc.floor_temporal(ts, 1, "minute")


def edges_of(events: pa.Table, suspicious: pa.Table) -> pa.Table:
    """The events (already limited to flows between suspicious IPs) of each suspicious pair's minute."""
    low, high = pair(suspicious["sip"], suspicious["dip"])
    keys = pa.table({"_a": low, "_b": high, "_m": _minute(suspicious["ts"])})
    keys = keys.group_by(["_a", "_b", "_m"], use_threads=False).aggregate([])
    low, high = pair(events["sip"], events["dip"])
    keyed = events.append_column("_a", low).append_column("_b", high).append_column("_m", _minute(events["ts"]))
    joined = keyed.join(keys, ["_a", "_b", "_m"], join_type="inner", use_threads=False)
    return joined.select(EDGE_COLUMNS).sort_by([("ts", "ascending"), ("source_file", "ascending"),
                                                ("record", "ascending")])


def of_row(row: dict) -> ds.Expression:
    """A row's details (spec §5.2, ``edgeDetails``): the pair's flows, both ways, in the row's UTC minute."""
    minute = row["ts"].replace(second=0, microsecond=0)
    a, b, field = row["sip"], row["dip"], ds.field
    both_ways = ((field("sip") == a) & (field("dip") == b)) | ((field("sip") == b) & (field("dip") == a))
    return both_ways & (field("ts") >= pa.scalar(minute, schemas.TS)) & (
        field("ts") < pa.scalar(minute + dt.timedelta(minutes=1), schemas.TS))


def chord_links(suspicious: pa.Table) -> pa.Table:
    """(ip_threat, peer) for every IP with more than one distinct peer among the suspicious rows."""
    links = pa.concat_tables([
        pa.table({"ip_threat": suspicious["sip"], "peer": suspicious["dip"]}),
        pa.table({"ip_threat": suspicious["dip"], "peer": suspicious["sip"]}),
    ]).drop_null().group_by(["ip_threat", "peer"], use_threads=False).aggregate([])
    degree = links.group_by("ip_threat", use_threads=False).aggregate([([], "count_all")])
    hubs = degree.filter(pc.greater(degree["count_all"], 1))["ip_threat"]
    return links.filter(pc.is_in(links["ip_threat"], value_set=hubs.combine_chunks()))


def chord_sums(events: pa.Table, links: pa.Table) -> pa.Table:
    """``ip_threat, sip, dip, ibyt, ipkt``: the bytes and packets of ``events`` between each linked
    ``ip_threat`` and ``peer``, per direction (a flow from an IP to itself counts once)."""
    parts = []
    for threat_end, peer_end in (("sip", "dip"), ("dip", "sip")):
        sent = events.select(["sip", "dip", "ibyt", "ipkt"])
        if threat_end == "dip":
            sent = sent.filter(pc.not_equal(sent["sip"], sent["dip"]))
        matched = sent.join(links.select(["ip_threat", "peer"]).rename_columns([threat_end, peer_end]),
                            [threat_end, peer_end], join_type="inner", use_threads=False)
        parts.append(matched.append_column("ip_threat", matched[threat_end]))
    sums = pa.concat_tables(parts).group_by(["ip_threat", "sip", "dip"], use_threads=False).aggregate(
        [("ibyt", "sum"), ("ipkt", "sum")])
    sums = sums.rename_columns(["ip_threat", "sip", "dip", "ibyt", "ipkt"])
    return sums.sort_by([("ip_threat", "ascending"), ("sip", "ascending"), ("dip", "ascending")])


def edges(lake: LakeResource, day: dt.date, suspicious: pa.Table) -> pa.Table:
    return edges_of(_between(lake, day, suspicious), suspicious)


def _between(lake: LakeResource, day: dt.date, suspicious: pa.Table) -> pa.Table:
    ips = distinct(pa.chunked_array(suspicious["sip"].chunks + suspicious["dip"].chunks, pa.string()))
    return day_events(lake, FLOW.name, day, EDGE_COLUMNS, ds.field("sip").isin(ips) & ds.field("dip").isin(ips))


def details(lake: LakeResource, day: dt.date, suspicious: pa.Table) -> dict[str, pa.Table]:
    events = _between(lake, day, suspicious)
    return {FLOW.table("details"): edges_of(events, suspicious),
            FLOW.table("chords"): chord_sums(events, chord_links(suspicious))}


# ----- storyboard


def _trees(anchor: str, title: str, peers: pa.Table, contexts: pa.Array | None) -> tuple[dict, dict]:
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


def _globe(anchor: str, top: pa.Table, geo: list[dict]) -> dict | None:
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


def story(lake: LakeResource, day: dt.date, threat: Threat, addresses: AddressContext | None,
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
    dendro, impact = _trees(anchor, threat.title, search.peers, contexts)
    rows = search.rows
    peer = peer_of(rows, anchor)
    chosen = pc.is_in(peer, value_set=top["peer"].combine_chunks())
    tagged = pa.table({"peer": peer, "ts": rows["ts"], "ibyt": rows["ibyt"], "ipkt": rows["ipkt"],
                       "dport": rows["dport"]}).filter(chosen)
    timeline = bucket_timeline(tagged, "peer", [([], "count_all"), ("ibyt", "sum"), ("ipkt", "sum"),
                                                ("dport", "distinct")], ["conns", "ibyt", "ipkt", "dports"])
    directions = dict(zip(top["peer"].to_pylist(), top["direction"].to_pylist()))
    for row in sorted_lists(timeline["rows"], "dports"):
        row["direction"] = directions[row["peer"]]
    story = {"dendro": dendro, "impact": impact, "timeline": {"anchor": anchor, **timeline}}
    globe = _globe(anchor, top, geo) if geo is not None else None
    if globe is not None:
        story["globe"] = globe
    return story
