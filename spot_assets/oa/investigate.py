"""Threat investigation: the expanded searches the dashboard runs when an analyst looks at one IP,
domain or URI (spec §4.6), and the storyboard builds on.

They answer inside a request, so they read the decoded events straight from the Parquet lake and
never start Spark. On a local lake DuckDB scans the day's files: it evaluates the filter on the
filter columns first and decodes the other columns only where rows pass, which is what makes a rare
IP cheap (pyarrow's dataset scanner decodes every projected column of every row group the
statistics cannot rule out; the events are not sorted by address, so that is all of them). Remote
lakes (hdfs://, s3a://) are read with pyarrow's push-down through the lake's own filesystem.

Flow classification (Spot's ``get_in_out_and_twoway_conns``) names each peer of the anchor from the
network's side, the anchor being the outside threat: a peer seen only as a destination of the
anchor's flows is **inbound** (the threat reached in to it), one seen only as a source is
**outbound** (it reached out to the threat), one seen as both is **two-way**. Spot keyed its
dictionaries by every IP of the rows, so the anchor itself landed in a class too; here only peers
are classified (a flow from the anchor to itself makes the anchor its own two-way peer). Spot kept
the counts of the last row it saw per IP; a peer here carries its totals over all its flows.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from resources.lake import LakeResource
from spot_assets.datatypes import DATA_TYPES

INBOUND, OUTBOUND, TWO_WAY = "inbound", "outbound", "two-way"
DIRECTIONS = (INBOUND, OUTBOUND, TWO_WAY)
TOP_N = 20  # Spot's `first`

FLOW_SEARCH_COLUMNS = ["ts", "sip", "dip", "sport", "dport", "ipkt", "ibyt"]
PROXY_SEARCH_COLUMNS = ["ts", "p_date", "p_time", "clientip", "host", "referer", "reqmethod", "resconttype",
                        "useragent", "respcode", "serverip", "scbytes", "csbytes", "duration", "fulluri"]


def _sql_name(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def is_local(lake: LakeResource) -> bool:
    return isinstance(lake.fs, pafs.LocalFileSystem)


def read_matching(lake: LakeResource, data_type: str, day: dt.date, columns: list[str],
                  equals: dict[str, str]) -> pa.Table:
    """``columns`` of the day's events where any of the ``equals`` columns has its value."""
    spec = DATA_TYPES[data_type]
    schema = pa.schema([spec.events.field(c) for c in columns])
    files = lake.day_files(spec.table("events"), day)
    if not files:
        return schema.empty_table()
    if not is_local(lake):
        condition = functools.reduce(operator.or_, [ds.field(c) == v for c, v in equals.items()])
        return lake.read_day(spec.table("events"), day, spec.events, columns=columns, filter=condition)
    where = " OR ".join(f"{_sql_name(c)} = ${c}" for c in equals)
    query = f"SELECT {', '.join(map(_sql_name, columns))} FROM read_parquet($files) WHERE {where}"
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.sql(query, params={"files": files, **equals}).to_arrow_table().cast(schema)


def _ranked(table: pa.Table, keys: list[tuple[str, str]], n: int | None = None) -> pa.Table:
    ordered = table.sort_by(keys)
    return ordered if n is None else ordered.slice(0, n)


def top_union(peers: pa.Table, n: int) -> pa.Table:
    """The union of the top ``n`` by connections and the top ``n`` by largest flow (spec §4.6)."""
    by_conns = pc.sort_indices(peers, [("conns", "descending"), ("peer", "ascending")])[:n]
    by_bytes = pc.sort_indices(peers, [("maxbytes", "descending"), ("peer", "ascending")])[:n]
    chosen = np.union1d(by_conns.to_numpy(), by_bytes.to_numpy())
    return _ranked(peers.take(chosen), [("conns", "descending"), ("peer", "ascending")])


def classify(in_conns: pa.Array, out_conns: pa.Array) -> pa.Array:
    """A peer's class from its flows towards the anchor (``in``) and from it (``out``)."""
    has_in, has_out = pc.greater(in_conns, 0), pc.greater(out_conns, 0)
    return pc.if_else(pc.and_(has_in, has_out), TWO_WAY, pc.if_else(has_out, INBOUND, OUTBOUND))


@dataclass(frozen=True)
class FlowSearch:
    ip: str
    rows: pa.Table   # every flow of the day with the anchor at either end (FLOW_SEARCH_COLUMNS)
    peers: pa.Table  # one row per peer, most connections first
    top_n: int

    @functools.cached_property
    def classes(self) -> dict[str, pa.Table]:
        """Per class, the peers Spot's threat investigation lists: top by connections ∪ top by bytes."""
        return {d: top_union(self.peers.filter(pc.equal(self.peers["direction"], d)), self.top_n) for d in DIRECTIONS}

    @property
    def by_connections(self) -> pa.Table:
        return _ranked(self.peers, [("conns", "descending"), ("peer", "ascending")], self.top_n)

    @property
    def by_bytes(self) -> pa.Table:
        return _ranked(self.peers, [("maxbytes", "descending"), ("peer", "ascending")], self.top_n)

    @functools.cached_property
    def connections(self) -> pa.Table:
        """Spot's expanded-search rows: per (sip, dip, sport, dport), first and last time, count,
        largest and mean packets and bytes."""
        grouped = self.rows.group_by(["sip", "dip", "sport", "dport"], use_threads=False).aggregate([
            ("ts", "min"), ("ts", "max"), ([], "count_all"), ("ipkt", "max"), ("ipkt", "mean"),
            ("ibyt", "max"), ("ibyt", "mean")])
        names = ["sip", "dip", "sport", "dport", "firstseen", "lastseen", "conns", "maxpkts", "avgpkts", "maxbyts",
                 "avgbyts"]
        return _ranked(grouped.rename_columns(names), [("firstseen", "ascending"), ("sip", "ascending"),
                                                       ("dip", "ascending"), ("sport", "ascending"),
                                                       ("dport", "ascending")])


def peer_of(rows: pa.Table, ip: str) -> pa.ChunkedArray:
    """The other end of each of ``ip``'s flows."""
    return pc.if_else(pc.equal(rows["sip"], ip), rows["dip"], rows["sip"])


def flow_peers(rows: pa.Table, ip: str) -> pa.Table:
    """Per peer of ``ip``: class, connections each way, first/last time, largest/mean/total bytes,
    largest/mean packets, and how many destination ports (services) the pair used."""
    outgoing, incoming = pc.equal(rows["sip"], ip), pc.equal(rows["dip"], ip)
    # Group on dictionary codes, not strings: a busy IP has millions of rows and tens of thousands of peers.
    peer = pc.dictionary_encode(peer_of(rows, ip).combine_chunks())
    tagged = pa.table({
        "code": peer.indices, "in": pc.cast(incoming, pa.int64()), "out": pc.cast(outgoing, pa.int64()),
        "ts": rows["ts"], "ibyt": rows["ibyt"], "ipkt": rows["ipkt"], "dport": rows["dport"],
    })
    grouped = tagged.group_by("code", use_threads=False).aggregate([
        ([], "count_all"), ("in", "sum"), ("out", "sum"), ("ts", "min"), ("ts", "max"),
        ("ibyt", "max"), ("ibyt", "mean"), ("ibyt", "sum"), ("ipkt", "max"), ("ipkt", "mean")])
    # Distinct ports by grouping twice: count_distinct costs several times as much on a busy IP.
    ports = (tagged.group_by(["code", "dport"], use_threads=False).aggregate([])
             .group_by("code", use_threads=False).aggregate([([], "count_all")]))
    grouped = grouped.join(ports, "code", use_threads=False)
    names = ["code", "conns", "in_conns", "out_conns", "first_seen", "last_seen", "maxbytes", "avgbytes", "bytes",
             "maxpkts", "avgpkts", "dports"]
    peers = grouped.rename_columns(names)
    peers = peers.drop_columns("code").add_column(0, "peer", peer.dictionary.take(peers["code"]))
    peers = peers.add_column(1, "direction", classify(peers["in_conns"], peers["out_conns"]))
    return _ranked(peers, [("conns", "descending"), ("peer", "ascending")])


def flow_expanded_search(lake: LakeResource, day: dt.date, ip: str, top_n: int = TOP_N) -> FlowSearch:
    """Every flow of ``ip`` on ``day``, its peers classified inbound / outbound / two-way."""
    rows = read_matching(lake, "flow", day, FLOW_SEARCH_COLUMNS, {"sip": ip, "dip": ip})
    return FlowSearch(ip, rows, flow_peers(rows, ip), top_n)


def dns_expanded_search(lake: LakeResource, day: dt.date, domain: str | None = None, ip: str | None = None,
                        top_n: int | None = TOP_N) -> pa.Table:
    """The clients that queried ``domain``, or the names client ``ip`` queried, with how often:
    (dns_qry_name, ip_dst, total), most first (spec §4.6; Spot's `dns_threat_dendro` rows)."""
    if (domain is None) == (ip is None):
        raise ValueError("give exactly one of domain or ip")
    key, value, other = ("dns_qry_name", domain, "ip_dst") if domain is not None else ("ip_dst", ip, "dns_qry_name")
    rows = read_matching(lake, "dns", day, [other], {key: value}).drop_null()
    counts = rows.group_by(other, use_threads=False).aggregate([([], "count_all")]).rename_columns([other, "total"])
    counts = counts.append_column(key, pa.array([value] * counts.num_rows, pa.string()))
    return _ranked(counts.select(["dns_qry_name", "ip_dst", "total"]), [("total", "descending"), (other, "ascending")],
                   top_n)


@dataclass(frozen=True)
class ProxySearch:
    uri: str
    requests: pa.Table  # the requests for the URI, in time order
    referred: pa.Table  # the requests the URI was the referer of (other URIs), in time order


def proxy_expanded_search(lake: LakeResource, day: dt.date, uri: str) -> ProxySearch:
    """Every request of ``day`` for ``uri`` and every request it referred (spec §4.6)."""
    rows = read_matching(lake, "proxy", day, PROXY_SEARCH_COLUMNS, {"fulluri": uri, "referer": uri})
    rows = _ranked(rows, [("ts", "ascending"), ("clientip", "ascending")])
    is_request = pc.fill_null(pc.equal(rows["fulluri"], uri), False)
    return ProxySearch(uri, rows.filter(is_request), rows.filter(pc.invert(is_request)))
