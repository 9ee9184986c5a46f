"""What the OA adds to proxy logs (spec §4.4, §4.6): the enriched columns, the details of a suspicious
request (Spot's ``proxy_edge``) and the storyboard of a threat URI (dendro, timeline). The shared
rules are in ``enrich.py``, ``details.py`` and ``storyboard.py``; this module is found by the type's
name (``DataType.oa``).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from resources.lake import LakeResource
from resources.store import Threat
from spot_assets.datatypes import PROXY
from spot_assets.oa import iana
from spot_assets.oa.context import AddressContext
from spot_assets.oa.details import EARLIEST, LIMIT, day_events, distinct, head_per_group, hour_of
from spot_assets.oa.distinct import per_distinct
from spot_assets.oa.domains import PARTS, domain_parts
from spot_assets.oa.enrich import CLIENT_PLACE, F64, I32, I64, S, SCORED, TRACE, Context, client_place, integers, \
    prefixed
from spot_assets.oa.files import Log
from spot_assets.oa.investigate import TOP_N, proxy_expanded_search
from spot_assets.oa.reputation import reputation_columns
from spot_assets.oa.storyboard import bucket_timeline, sorted_lists

# ----- enriched

ENRICHED = pa.schema([
    ("tdate", S), ("time", S), ("clientip", S), ("host", S), ("reqmethod", S), ("useragent", S), ("resconttype", S),
    ("duration", I32), ("username", S), ("webcat", S), ("referer", S), ("respcode", I32), ("uriport", I32),
    ("uripath", S), ("uriquery", S), ("serverip", S), ("scbytes", I64), ("csbytes", I64), ("fulluri", S),
    ("word", S), ("ml_score", F64), ("uri_rep", S), ("respcode_name", S), ("network_context", S),
    *SCORED, ("uri_rep_level", I32), ("uri_hash", S), *[(f"host_{p}", S) for p in PARTS], *CLIENT_PLACE, *TRACE,
])


def uri_hash(values: pa.ChunkedArray) -> pa.Array:
    return per_distinct(values, lambda d: {"h": pa.array([hashlib.md5(v.encode()).hexdigest() for v in d], S)})["h"]


def enriched_columns(t: pa.Table, ctx: Context, log: Log) -> dict[str, pa.Array]:
    rep, level = reputation_columns("url", t["fulluri"], ctx.providers, log)
    return {
        **prefixed(domain_parts(t["host"]), "host"), **client_place(t, "clientip", ctx),
        "respcode": integers(t["respcode"]),
        "uriport": integers(t["uriport"]), "uri_rep": rep, "uri_rep_level": level,
        "respcode_name": iana.http_status_names(t["respcode"]), "uri_hash": uri_hash(t["fulluri"]),
    }


# ----- details

EDGE_COLUMNS = ["ts", "p_date", "p_time", "clientip", "host", "webcat", "respcode", "reqmethod", "useragent",
                "resconttype", "referer", "uriport", "serverip", "scbytes", "csbytes", "fulluri", "source_file",
                "record"]
KEYS = ("ts", "fulluri", "clientip")  # the suspicious columns a row's details are found by


def edges(lake: LakeResource, day: dt.date, suspicious: pa.Table) -> pa.Table:
    keys = pa.table({"fulluri": suspicious["fulluri"], "clientip": suspicious["clientip"],
                     "hh": hour_of(suspicious["ts"])}).drop_null()
    keys = keys.group_by(["fulluri", "clientip", "hh"], use_threads=False).aggregate([])
    wanted = (ds.field("fulluri").isin(distinct(keys["fulluri"]))
              & ds.field("clientip").isin(distinct(keys["clientip"])))
    events = day_events(lake, PROXY.name, day, EDGE_COLUMNS, wanted)
    events = events.append_column("hh", hour_of(events["ts"]))
    joined = events.join(keys, ["fulluri", "clientip", "hh"], join_type="inner", use_threads=False)
    found = head_per_group(joined, ["fulluri", "clientip", "hh"], EARLIEST, LIMIT).select([*EDGE_COLUMNS, "hh"])
    return found.append_column("respcode_name", iana.http_status_names(found["respcode"]))


def of_row(row: dict) -> ds.Expression:
    """A row's details (spec §5.2, ``edgeDetails``): the same URI from the same client in the row's UTC hour."""
    field = ds.field
    return (field("fulluri") == row["fulluri"]) & (field("clientip") == row["clientip"]) & (
        field("hh") == row["ts"].hour)


def details(lake: LakeResource, day: dt.date, suspicious: pa.Table) -> dict[str, pa.Table]:
    return {PROXY.table("details"): edges(lake, day, suspicious)}


# ----- storyboard


def _counted(table: pa.Table, keys: list[str]) -> list[dict]:
    counts = table.group_by(keys, use_threads=False).aggregate([([], "count_all")]).rename_columns([*keys, "count"])
    return counts.sort_by([("count", "descending"), *((k, "ascending") for k in keys)]).to_pylist()


def story(lake: LakeResource, day: dt.date, threat: Threat, addresses: AddressContext | None,
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
    sorted_lists(timeline["rows"], "respcodes")
    return {"dendro": dendro, "timeline": {"anchor": uri, **timeline}}
