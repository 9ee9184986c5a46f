"""What the OA adds to DNS (spec §4.3, §4.6): the enriched columns, the details of a suspicious query
(Spot's ``dns_edge`` and ``dns_dendro``) and the storyboard of a threat client or name (dendro,
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
from spot_assets.datatypes import DNS
from spot_assets.oa import iana
from spot_assets.oa.context import AddressContext, parse_address
from spot_assets.oa.details import EARLIEST, LIMIT, day_events, distinct, head_per_group, hour_of
from spot_assets.oa.domains import PARTS, domain_parts
from spot_assets.oa.enrich import CLIENT_PLACE, F64, I32, I64, S, SCORED, TRACE, Context, client_place
from spot_assets.oa.files import Log
from spot_assets.oa.investigate import TOP_N, dns_expanded_search, read_matching
from spot_assets.oa.reputation import reputation_columns
from spot_assets.oa.storyboard import bucket_timeline

# ----- enriched

ENRICHED = pa.schema([
    ("frame_time", S), ("unix_tstamp", I64), ("frame_len", I64), ("ip_dst", S), ("dns_qry_name", S),
    ("dns_qry_class", S), ("dns_qry_type", I32), ("dns_qry_rcode", I32), ("ml_score", F64), ("tld", S),
    ("query_rep", S), ("hh", I32), ("dns_qry_class_name", S), ("dns_qry_type_name", S), ("dns_qry_rcode_name", S),
    ("network_context", S),
    *SCORED, ("query_rep_level", I32), *[(p, S) for p in PARTS], *CLIENT_PLACE, ("word", S), *TRACE,
])


def enriched_columns(t: pa.Table, ctx: Context, log: Log) -> dict[str, pa.Array]:
    rep, level = reputation_columns("domain", t["dns_qry_name"], ctx.providers, log)
    parts = domain_parts(t["dns_qry_name"])
    return {
        **parts, **client_place(t, "ip_dst", ctx), "tld": parts["registrable_domain"],
        "query_rep": rep, "query_rep_level": level, "hh": pc.hour(t["ts"]),
        "dns_qry_class_name": iana.dns_class_names(t["dns_qry_class"]),
        "dns_qry_type_name": iana.dns_type_names(t["dns_qry_type"]),
        "dns_qry_rcode_name": iana.dns_rcode_names(t["dns_qry_rcode"]),
    }


# ----- details

EDGE_COLUMNS = ["ts", "unix_tstamp", "frame_len", "ip_dst", "ip_src", "dns_qry_name", "dns_qry_class",
                "dns_qry_type", "dns_qry_rcode", "dns_a", "source_file", "record"]
KEYS = ("ts", "dns_qry_name")  # the suspicious columns a row's details are found by


def name_matches(names: pa.Array, anchors: pa.Array) -> pa.Table:
    """(anchor, dns_qry_name) for every distinct name of the day that contains an anchor."""
    parts = [pa.table({"anchor": pa.array([], pa.string()), "dns_qry_name": pa.array([], pa.string())})]
    for anchor in anchors.to_pylist():
        hits = names.filter(pc.match_substring(names, anchor))
        parts.append(pa.table({"anchor": pa.array([anchor] * len(hits), pa.string()), "dns_qry_name": hits}))
    return pa.concat_tables(parts)


def edges(lake: LakeResource, day: dt.date, suspicious: pa.Table) -> pa.Table:
    keys = pa.table({"anchor": suspicious["dns_qry_name"], "hh": hour_of(suspicious["ts"])}).drop_null()
    keys = keys.group_by(["anchor", "hh"], use_threads=False).aggregate([])
    named = ds.field("dns_qry_name").is_valid()
    names = distinct(day_events(lake, DNS.name, day, ["dns_qry_name"], named)["dns_qry_name"])
    matches = name_matches(names, distinct(keys["anchor"]))
    matched = ds.field("dns_qry_name").isin(distinct(matches["dns_qry_name"]))
    events = day_events(lake, DNS.name, day, EDGE_COLUMNS, matched)
    events = events.append_column("hh", hour_of(events["ts"]))
    joined = events.join(matches, "dns_qry_name", join_type="inner", use_threads=False)
    joined = joined.join(keys, ["anchor", "hh"], join_type="inner", use_threads=False)
    found = head_per_group(joined, ["anchor", "hh"], EARLIEST, LIMIT).select(["anchor", "hh", *EDGE_COLUMNS])
    return (found.append_column("dns_qry_class_name", iana.dns_class_names(found["dns_qry_class"]))
            .append_column("dns_qry_type_name", iana.dns_type_names(found["dns_qry_type"]))
            .append_column("dns_qry_rcode_name", iana.dns_rcode_names(found["dns_qry_rcode"])))


def of_row(row: dict) -> ds.Expression:
    """A row's details (spec §5.2, ``edgeDetails``): its exact query name in its UTC hour."""
    name, field = row["dns_qry_name"], ds.field
    return (field("anchor") == name) & (field("hh") == row["ts"].hour) & (field("dns_qry_name") == name)


def dendro(lake: LakeResource, day: dt.date, clients: pa.Array) -> pa.Table:
    """Each client's names and answers of the day, counted, the most frequent first (250 per client)."""
    events = day_events(lake, DNS.name, day, ["ts", "ip_dst", "dns_qry_name", "dns_a"], ds.field("ip_dst").isin(clients))
    grouped = events.group_by(["ip_dst", "dns_qry_name", "dns_a"], use_threads=False).aggregate(
        [([], "count_all"), ("ts", "min")]).rename_columns(["ip_dst", "dns_qry_name", "dns_a", "queries", "first_seen"])
    return head_per_group(grouped, ["ip_dst"], [("queries", "descending"), ("dns_qry_name", "ascending"),
                                                ("dns_a", "ascending")], LIMIT)


def details(lake: LakeResource, day: dt.date, suspicious: pa.Table) -> dict[str, pa.Table]:
    return {DNS.table("details"): edges(lake, day, suspicious),
            DNS.table("dendro"): dendro(lake, day, distinct(suspicious["ip_dst"]))}


# ----- storyboard


def story(lake: LakeResource, day: dt.date, threat: Threat, addresses: AddressContext | None,
          top_n: int = TOP_N) -> dict[str, dict]:
    """A DNS threat is about a client IP when its anchor is an address, else about a query name."""
    anchor = threat.anchor
    is_client = parse_address(anchor) is not None
    key, other = ("ip_dst", "dns_qry_name") if is_client else ("dns_qry_name", "ip_dst")
    counts = dns_expanded_search(lake, day, ip=anchor, top_n=top_n) if is_client else \
        dns_expanded_search(lake, day, domain=anchor, top_n=top_n)
    dendro = {"name": anchor, "kind": "client" if is_client else "query",
              "children": [{"name": r[other], "total": r["total"]} for r in counts.to_pylist()]}
    rows = read_matching(lake, DNS.name, day, ["ts", other], {key: anchor})
    rows = rows.filter(pc.is_in(rows[other], value_set=counts[other].combine_chunks()))
    timeline = bucket_timeline(rows, other, [([], "count_all")], ["queries"])
    for row in timeline["rows"]:
        row["name"] = row.pop(other)
    return {"dendro": dendro, "timeline": {"anchor": anchor, "kind": dendro["kind"], **timeline}}
