"""The details behind a day's suspicious events (spec §4.2 steps 6-7, §4.3, §4.4): what the dashboard
shows when an analyst opens a suspicious row, computed once per day as lake tables.

* ``flow_details`` (Spot's ``flow_edge``): for each suspicious pair, every flow between the two IPs, in
  either direction, in the same UTC minute as the suspicious flow. Rows keep the events' column names
  (``sip``, ``trhour``, ``trminute``...); the dashboard finds a row's details by the unordered pair
  and the minute, as Spot's query did.
* ``flow_chords`` (Spot's ``flow_chords``): for each IP with more than one distinct peer among the
  suspicious rows, the day's bytes and packets between it and each of those peers, per direction:
  ``ip_threat, sip, dip, ibyt, ipkt``.
* ``dns_details`` (Spot's ``dns_edge``): for each suspicious query name (``anchor``) and UTC hour
  (``hh``), up to 250 events of that hour whose name contains it (Spot's ``LIKE '%name%'``), earliest
  first, with the IANA names of class, type and rcode.
* ``dns_dendro`` (Spot's ``dns_dendro``): for each suspicious client, the names it queried that day
  and their answers, with how often (``queries``) and since when (``first_seen``), at most 250 per
  client, most frequent first. Spot kept one row per second instead of a count.
* ``proxy_details`` (Spot's ``proxy_edge``): for each suspicious (``fulluri``, ``clientip``, ``hh``),
  up to 250 requests of that hour, earliest first, with the HTTP status name.

Spot picked its 250 rows in no particular order; here the earliest are kept, so a re-run gives the
same rows. Network context and geolocation are not repeated here: ``<type>_enriched`` has them for
the suspicious rows. Everything is read with pyarrow push-down filters on the anchors' values.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from resources.lake import LakeResource
from spot_assets import schemas
from spot_assets.oa import iana

LIMIT = 250  # Spot's LIMIT per suspicious row

FLOW_EDGE_COLUMNS = ["ts", "treceived", "sip", "dip", "sport", "dport", "proto", "flag", "stos", "ibyt", "ipkt",
                     "input", "output", "rip", "obyt", "opkt", "trhour", "trminute", "source_file", "record"]
DNS_EDGE_COLUMNS = ["ts", "unix_tstamp", "frame_len", "ip_dst", "ip_src", "dns_qry_name", "dns_qry_class",
                    "dns_qry_type", "dns_qry_rcode", "dns_a", "source_file", "record"]
PROXY_EDGE_COLUMNS = ["ts", "p_date", "p_time", "clientip", "host", "webcat", "respcode", "reqmethod", "useragent",
                      "resconttype", "referer", "uriport", "serverip", "scbytes", "csbytes", "fulluri", "source_file",
                      "record"]


def _events(lake: LakeResource, data_type: str, day: dt.date, columns: list[str], filter: ds.Expression) -> pa.Table:
    return lake.read_day(f"{data_type}_events", day, schemas.EVENTS[data_type], columns=columns, filter=filter)


def _distinct(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    return pc.unique(pc.drop_null(values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values))


def _hour(ts: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.cast(pc.hour(ts), pa.int32())


def _pair(a: pa.ChunkedArray, b: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """The two ends of a flow in a fixed order, so both directions share one key."""
    first = pc.less_equal(a, b)
    return pc.if_else(first, a, b), pc.if_else(first, b, a)


def head_per_group(table: pa.Table, keys: list[str], order: list[tuple[str, str]], n: int) -> pa.Table:
    """The first ``n`` rows of each group of equal ``keys`` in ``order`` (SQL's per-group LIMIT)."""
    ordered = table.sort_by([(k, "ascending") for k in keys] + order)
    rows = ordered.num_rows
    if rows == 0:
        return ordered
    starts = np.zeros(rows, bool)
    starts[0] = True
    for key in keys:
        codes = pc.fill_null(pc.dictionary_encode(ordered[key].combine_chunks()).indices, -1).to_numpy()
        starts[1:] |= codes[1:] != codes[:-1]
    first = np.flatnonzero(starts)
    rank = np.arange(rows) - np.repeat(first, np.diff(np.append(first, rows)))
    return ordered.filter(pa.array(rank < n))


# ----- flow


def flow_edges(events: pa.Table, suspicious: pa.Table) -> pa.Table:
    """The events (already limited to flows between suspicious IPs) of each suspicious pair's minute."""
    low, high = _pair(suspicious["sip"], suspicious["dip"])
    keys = pa.table({"_a": low, "_b": high, "_m": pc.floor_temporal(suspicious["ts"], 1, "minute")})
    keys = keys.group_by(["_a", "_b", "_m"], use_threads=False).aggregate([])
    low, high = _pair(events["sip"], events["dip"])
    keyed = events.append_column("_a", low).append_column("_b", high).append_column(
        "_m", pc.floor_temporal(events["ts"], 1, "minute"))
    joined = keyed.join(keys, ["_a", "_b", "_m"], join_type="inner", use_threads=False)
    return joined.select(FLOW_EDGE_COLUMNS).sort_by([("ts", "ascending"), ("source_file", "ascending"),
                                                     ("record", "ascending")])


def chord_links(suspicious: pa.Table) -> pa.Table:
    """(ip_threat, peer) for every IP with more than one distinct peer among the suspicious rows."""
    links = pa.concat_tables([
        pa.table({"ip_threat": suspicious["sip"], "peer": suspicious["dip"]}),
        pa.table({"ip_threat": suspicious["dip"], "peer": suspicious["sip"]}),
    ]).drop_null().group_by(["ip_threat", "peer"], use_threads=False).aggregate([])
    degree = links.group_by("ip_threat", use_threads=False).aggregate([([], "count_all")])
    hubs = degree.filter(pc.greater(degree["count_all"], 1))["ip_threat"]
    return links.filter(pc.is_in(links["ip_threat"], value_set=hubs.combine_chunks()))


def flow_chords(events: pa.Table, suspicious: pa.Table) -> pa.Table:
    links = chord_links(suspicious)
    sums = [("ibyt", "sum"), ("ipkt", "sum")]
    parts = []
    for threat_end, peer_end in (("sip", "dip"), ("dip", "sip")):
        matched = events.select(["sip", "dip", "ibyt", "ipkt"]).join(
            links.rename_columns([threat_end, peer_end]), [threat_end, peer_end], join_type="inner", use_threads=False)
        parts.append(matched.append_column("ip_threat", matched[threat_end]))
    chords = pa.concat_tables(parts).group_by(["ip_threat", "sip", "dip"], use_threads=False).aggregate(sums)
    chords = chords.rename_columns(["ip_threat", "sip", "dip", "ibyt", "ipkt"])
    return chords.sort_by([("ip_threat", "ascending"), ("sip", "ascending"), ("dip", "ascending")])


def flow_details(lake: LakeResource, day: dt.date, suspicious: pa.Table) -> dict[str, pa.Table]:
    ips = _distinct(pa.chunked_array(suspicious["sip"].chunks + suspicious["dip"].chunks, pa.string()))
    between = ds.field("sip").isin(ips) & ds.field("dip").isin(ips)
    events = _events(lake, "flow", day, FLOW_EDGE_COLUMNS, between)
    return {"flow_details": flow_edges(events, suspicious), "flow_chords": flow_chords(events, suspicious)}


# ----- dns


def name_matches(names: pa.Array, anchors: pa.Array) -> pa.Table:
    """(anchor, dns_qry_name) for every distinct name of the day that contains an anchor."""
    parts = [pa.table({"anchor": pa.array([], pa.string()), "dns_qry_name": pa.array([], pa.string())})]
    for anchor in anchors.to_pylist():
        hits = names.filter(pc.match_substring(names, anchor))
        parts.append(pa.table({"anchor": pa.array([anchor] * len(hits), pa.string()), "dns_qry_name": hits}))
    return pa.concat_tables(parts)


def dns_edges(lake: LakeResource, day: dt.date, suspicious: pa.Table) -> pa.Table:
    keys = pa.table({"anchor": suspicious["dns_qry_name"], "hh": _hour(suspicious["ts"])}).drop_null()
    keys = keys.group_by(["anchor", "hh"], use_threads=False).aggregate([])
    names = _distinct(_events(lake, "dns", day, ["dns_qry_name"], ds.field("dns_qry_name").is_valid())["dns_qry_name"])
    matches = name_matches(names, _distinct(keys["anchor"]))
    matched = ds.field("dns_qry_name").isin(_distinct(matches["dns_qry_name"]))
    events = _events(lake, "dns", day, DNS_EDGE_COLUMNS, matched)
    events = events.append_column("hh", _hour(events["ts"]))
    joined = events.join(matches, "dns_qry_name", join_type="inner", use_threads=False)
    joined = joined.join(keys, ["anchor", "hh"], join_type="inner", use_threads=False)
    edges = head_per_group(joined, ["anchor", "hh"], [("ts", "ascending"), ("source_file", "ascending"),
                                                      ("record", "ascending")], LIMIT)
    edges = edges.select(["anchor", "hh", *DNS_EDGE_COLUMNS])
    return (edges.append_column("dns_qry_class_name", iana.dns_class_names(edges["dns_qry_class"]))
            .append_column("dns_qry_type_name", iana.dns_type_names(edges["dns_qry_type"]))
            .append_column("dns_qry_rcode_name", iana.dns_rcode_names(edges["dns_qry_rcode"])))


def dns_dendro(lake: LakeResource, day: dt.date, suspicious: pa.Table) -> pa.Table:
    clients = _distinct(suspicious["ip_dst"])
    events = _events(lake, "dns", day, ["ts", "ip_dst", "dns_qry_name", "dns_a"], ds.field("ip_dst").isin(clients))
    grouped = events.group_by(["ip_dst", "dns_qry_name", "dns_a"], use_threads=False).aggregate(
        [([], "count_all"), ("ts", "min")]).rename_columns(["ip_dst", "dns_qry_name", "dns_a", "queries", "first_seen"])
    return head_per_group(grouped, ["ip_dst"], [("queries", "descending"), ("dns_qry_name", "ascending"),
                                                ("dns_a", "ascending")], LIMIT)


def dns_details(lake: LakeResource, day: dt.date, suspicious: pa.Table) -> dict[str, pa.Table]:
    return {"dns_details": dns_edges(lake, day, suspicious), "dns_dendro": dns_dendro(lake, day, suspicious)}


# ----- proxy


def proxy_details(lake: LakeResource, day: dt.date, suspicious: pa.Table) -> dict[str, pa.Table]:
    keys = pa.table({"fulluri": suspicious["fulluri"], "clientip": suspicious["clientip"],
                     "hh": _hour(suspicious["ts"])}).drop_null()
    keys = keys.group_by(["fulluri", "clientip", "hh"], use_threads=False).aggregate([])
    wanted = (ds.field("fulluri").isin(_distinct(keys["fulluri"]))
              & ds.field("clientip").isin(_distinct(keys["clientip"])))
    events = _events(lake, "proxy", day, PROXY_EDGE_COLUMNS, wanted)
    events = events.append_column("hh", _hour(events["ts"]))
    joined = events.join(keys, ["fulluri", "clientip", "hh"], join_type="inner", use_threads=False)
    edges = head_per_group(joined, ["fulluri", "clientip", "hh"], [("ts", "ascending"), ("source_file", "ascending"),
                                                                   ("record", "ascending")], LIMIT)
    edges = edges.select([*PROXY_EDGE_COLUMNS, "hh"])
    return {"proxy_details": edges.append_column("respcode_name", iana.http_status_names(edges["respcode"]))}


DETAILS = {"flow": flow_details, "dns": dns_details, "proxy": proxy_details}
