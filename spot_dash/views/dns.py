"""How the dashboard shows DNS: Spot's DNS grid, the network of registered domains and clients (a click
on a client draws its queries and answers), a query's records as details, and the storyboard's figures."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from dash import dcc

from resources.lake import LakeResource
from spot_assets.datatypes import DNS
from spot_assets.oa import investigate
from spot_dash import details_data, network_data, threat_data
from spot_dash.components import charts, grid, network, story
from spot_dash.components.common import empty_state
from spot_dash.inputs import is_ip, parse_ip

FILTER_PLACEHOLDER = "client IP or part of a query name"
FILTER_MENU = "Filter by this IP or domain"
QUICK_LABEL, QUICK_PLACEHOLDER = "Quick query scoring", "a query name"
ITEM_NOUN = "client IPs and query names"
DETAIL_COLUMNS = ["ts", "frame_len", "ip_dst", "ip_src", "dns_qry_name", "dns_qry_class", "dns_qry_type",
                  "dns_qry_rcode", "dns_a"]
LONG_NAME = 64  # Spot: names longer than this draw the heaviest link


def columns(view_columns: set[str]) -> list[dict]:
    return [
        grid.time_col(), grid.ip_col("ip_dst", "Client IP", "client"),
        grid.col("dns_qry_name", "Query", cellRenderer="RepCell", minWidth=240, flex=2),
        grid.named(view_columns, "dns_qry_class", "Class"), grid.named(view_columns, "dns_qry_type", "Type"),
        grid.named(view_columns, "dns_qry_rcode", "Response"), grid.score_col(),
    ]


# ----- the network view: registered domains (diamonds) and client IPs (circles)

STYLE = [
    {"selector": "node", "style": {**network.NODE, "background-color": network.ORANGE, "shape": "ellipse"}},
    {"selector": ".domain", "style": {"background-color": network.BLUE, "shape": "diamond"}},
    {"selector": "edge", "style": network.EDGE},
]
LEGEND = ENTITY_LEGEND = [("diamond", network.BLUE, "domain"), ("circle", network.ORANGE, "client IP")]
HINT = ENTITY_HINT = "click a client: its queries · right click: filter"
TREE = False
ENTITY_ENDS = (("ip_dst", "client"), ("domain", "domain"))


def domains(table: pa.Table) -> list[str]:
    """The registered domain of each row: the enrichment's ``tld`` where it has one, else the entity's rule."""
    derived = DNS.with_entity(table.select(["dns_qry_name"]).to_pandas())["domain"].tolist()
    tld = table["tld"].to_pylist() if "tld" in table.column_names else [None] * table.num_rows
    return [t or (d if isinstance(d, str) else "") for t, d in zip(tld, derived)]


def elements(table: pa.Table, expanded=frozenset()) -> list[dict]:
    names = domains(table)
    clients = table["ip_dst"].to_pylist()
    weights = network_data.edge_weight(network_data.scores(table))
    long_names = np.asarray(pc.fill_null(pc.greater(pc.utf8_length(table["dns_qry_name"]), LONG_NAME), False))
    weights = np.where(long_names, 30.0, weights)
    info = {d: {"tip": f"{d} (domain)"} for d in names}
    info.update({c: {"tip": f"{c} (client)\nclick: its queries in Details"} for c in clients})
    return network_data.graph([("domain", d, "client", c) for d, c in zip(names, clients)], weights, info)


def row_elements(row: dict) -> list[str]:
    domain = domains(pa.Table.from_pylist([{"dns_qry_name": row["dns_qry_name"], "tld": row.get("tld")}]))[0]
    a, b = network_data.node_id("domain", domain), network_data.node_id("client", row["ip_dst"])
    return [a, b, network_data.edge_id(a, b)]


def node_picture(lake: LakeResource, day: dt.date, kind: str | None, label: str):
    """(title, body) of a clicked client: the names it queried that day and their answers."""
    if kind != "client":
        return None
    ip = parse_ip(label)
    tree = details_data.dns_tree(lake, day, ip)
    if tree.num_rows == 0:
        return f"Queries of {ip} on {day}", empty_state(f"No queries recorded for {ip} on {day}")
    body = dcc.Graph(figure=charts.dendrogram_figure(tree, ip), config={"displayModeBar": False},
                     className="dendrogram")
    return f"Queries of {ip} and their answers on {day}", body


# ----- details


def details_title(row: dict) -> str:
    return f"Records of {row['dns_qry_name']}, {grid.hour_span(row['time'])}"


def details_facts(row: dict) -> list[tuple[str, object]]:
    return []


# ----- threat investigation and storyboard


def search(lake: LakeResource, day: dt.date, anchor: str, top_n: int) -> threat_data.Search:
    """The names a client queried, or the clients of a name, the top ``n``."""
    client = is_ip(anchor)
    found = investigate.dns_expanded_search(lake, day, **({"ip": anchor} if client else {"domain": anchor}),
                                            top_n=None)
    queries = int(pc.sum(found["total"]).as_py() or 0)
    plural = threat_data.plural
    if client:
        table, key, label = found.select(["dns_qry_name", "total"]), "names", "Names queried"
        summary = f"{anchor} made {plural(queries, 'query', 'queries')} for {plural(found.num_rows, 'name')}"
    else:
        table, key, label = found.select(["ip_dst", "total"]), "clients", "Clients"
        summary = f"{plural(found.num_rows, 'client')} queried {anchor} {plural(queries, 'time')}"
    note = f"top {top_n} of {found.num_rows:,}" if found.num_rows > top_n else ""
    return threat_data.Search(anchor, summary, [
        threat_data.SearchTable(key, f"{label} (top {top_n})", table.slice(0, top_n), "No queries", note)])


def progression(dendro: dict):
    return charts.tree_figure(story.dns_tree(dendro))


# the timeline: one line per name (or client), a drop per minute
TIMELINE = ("name", "queries", "query")
TIMELINE_COLOURS, TIMELINE_NAMES = {"queries": "#1f6feb"}, {"queries": "queries"}
TIMELINE_LEGEND = False


def timeline_group(row: dict) -> str:
    return "queries"


def timeline_hover(row: dict) -> str:
    return ""
