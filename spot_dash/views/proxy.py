"""How the dashboard shows proxy logs: Spot's proxy grid, Spot's hierarchy of requests (root → method →
host → path → client, opened by clicks), a request's repeats as details, and the storyboard's figures."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from resources.lake import LakeResource
from spot_assets.oa import investigate
from spot_dash import context_data, network_data, threat_data
from spot_dash.components import charts, grid, network, story

FILTER_PLACEHOLDER = "client IP or part of a URI"
FILTER_MENU = "Filter by this path or IP"
QUICK_LABEL, QUICK_PLACEHOLDER = "Quick URI scoring", "a full URI"
ITEM_NOUN = "URIs"
DETAIL_COLUMNS = ["ts", "clientip", "host", "webcat", "respcode", "reqmethod", "useragent", "resconttype", "referer",
                  "uriport", "serverip", "scbytes", "csbytes", "fulluri"]
SEARCH_ROWS = 1000  # rows of a raw-request table sent to the browser


def columns(view_columns: set[str]) -> list[dict]:
    return [
        grid.time_col(), grid.ip_col("clientip", "Client IP", "client"),
        grid.col("reqmethod", "Method", maxWidth=110), grid.col("host", "Host", cellRenderer="RepCell", minWidth=180),
        grid.col("webcat", "Web category", maxWidth=170),
        grid.named(view_columns, "respcode", "Response"),
        grid.col("fulluri", "URI", minWidth=260, flex=2, tooltipField="fulluri"), grid.score_col(),
    ]


# ----- the network view: Spot's tree, coloured by reputation

REP = network.REP_COLOURS
STYLE = [
    {"selector": "node", "style": {**network.NODE, "background-color": REP["rep0"],
                                   "width": "mapData(hits, 1, 250, 14, 48)", "height": "mapData(hits, 1, 250, 14, 48)"}},
    *({"selector": f".{cls}", "style": {"background-color": colour}} for cls, colour in REP.items()),
    {"selector": ".root", "style": {"background-color": network.DARK, "shape": "star", "width": 34, "height": 34,
                                    "font-weight": "bold"}},
    {"selector": ".expanded", "style": {"border-color": network.DARK, "border-width": 2}},
    {"selector": ".client", "style": {"shape": "round-rectangle"}},
    {"selector": "edge", "style": {"width": 1.5, "line-color": "#c3ccd6", "curve-style": "bezier",
                                   "target-arrow-shape": "none"}},
]
LEGEND = [("circle", REP["rep4"], "high"), ("circle", REP["rep3"], "medium"), ("circle", REP["rep2"], "low"),
          ("circle", REP["rep0"], "no reputation")]
HINT = "click: expand or collapse · right click: filter"
# The priority order draws proxy entities as client → host links, not Spot's tree.
ENTITY_LEGEND = [("circle", REP["rep0"], "client IP"), ("diamond", network.BLUE, "host")]
ENTITY_HINT = "right click: filter"
TREE = True
ENTITY_ENDS = (("clientip", "client"), ("host", "site"))
LEVELS = ("method", "host", "path", "client")
ROOT = network_data.node_id("root", "Proxy")


def chain(row: dict) -> list[str]:
    """The node ids from the root to a request's client: root → method → host → path → client IP."""
    keys = [row.get("reqmethod") or "-", row.get("host") or "-", row.get("uripath") or "/", row.get("clientip") or "-"]
    return [ROOT] + [network_data.node_id(level, "\0".join(keys[:i + 1])) for i, level in enumerate(LEVELS)]


def tree(table: pa.Table) -> dict[str, dict]:
    """Spot's hierarchy as nodes by id, each with its parent, its number of records below and the
    highest reputation among them. Rows with host ``-`` are skipped, as Spot did."""
    rows = table.select([c for c in ("reqmethod", "host", "uripath", "clientip", "fulluri", "uri_rep")
                         if c in table.column_names]).to_pylist()
    nodes = {ROOT: {"id": ROOT, "label": "Proxy", "kind": "root", "hits": 0, "level": -1, "parent_id": None,
                    "tip": "Proxy: every request\nclick: expand or collapse everything"}}
    for row in rows:
        if row.get("host") in (None, "-"):
            continue
        level, _ = context_data.parse_reputation(row.get("uri_rep"))
        ids = chain(row)
        labels = [row.get("reqmethod") or "-", row["host"], row.get("uripath") or "/", row.get("clientip") or "-"]
        nodes[ROOT]["hits"] += 1
        nodes[ROOT]["level"] = max(nodes[ROOT]["level"], level)
        for depth, (nid, label) in enumerate(zip(ids[1:], labels)):
            kind = LEVELS[depth]
            tip = f"{kind}: {label}" + (f"\nURI: {row.get('fulluri') or ''}" if kind == "client" else "\nclick: expand or collapse")
            node = nodes.setdefault(nid, {"id": nid, "label": label, "kind": kind, "hits": 0, "level": -1,
                                          "parent_id": ids[depth], "tip": tip})
            node["hits"] += 1
            node["level"] = max(node["level"], level)
    return nodes


def _ancestors(nodes: dict[str, dict], nid: str) -> list[str]:
    out, parent = [], nodes[nid]["parent_id"]
    while parent is not None:
        out.append(parent)
        parent = nodes[parent]["parent_id"]
    return out


def toggle(nodes: dict[str, dict], expanded: set[str], nid: str) -> set[str]:
    """Spot's clicks: the root expands everything or, when everything is open, collapses everything;
    another node opens its children, or closes them and everything below them."""
    if nid not in nodes:
        return expanded
    if nodes[nid]["kind"] == "root":
        everything = {n for n, d in nodes.items() if d["kind"] not in ("root", "client")}
        return set() if everything <= expanded else everything
    if nid in expanded:
        return {n for n in expanded if n != nid and nid not in _ancestors(nodes, n)}
    return expanded | {nid} | {a for a in _ancestors(nodes, nid) if nodes[a]["kind"] != "root"}


def tree_elements(nodes: dict[str, dict], expanded: set[str] | frozenset = frozenset()) -> list[dict]:
    """The nodes whose ancestors are all expanded (the root always is: methods show first), classed by
    kind and reputation (rep0 none known .. rep4 high)."""
    opened = set(expanded) | {ROOT}
    visible = [n for n in nodes if all(a in opened for a in _ancestors(nodes, n))]
    shown = set(visible)
    elements = [{"data": {k: v for k, v in nodes[n].items() if k != "parent_id"},
                 "classes": f"{nodes[n]['kind']} rep{nodes[n]['level'] + 1}" + (" expanded" if n in expanded else "")}
                for n in visible]
    elements += [{"data": {"id": network_data.edge_id(nodes[n]["parent_id"], n), "source": nodes[n]["parent_id"],
                           "target": n}}
                 for n in visible if nodes[n]["parent_id"] in shown]
    return elements


def elements(table: pa.Table, expanded=frozenset()) -> list[dict]:
    return tree_elements(tree(table), expanded)


def row_elements(row: dict) -> list[str]:
    return chain(row)


def node_picture(lake: LakeResource, day: dt.date, kind: str | None, label: str):
    return None  # a click opens or closes the tree instead


# ----- details


def details_title(row: dict) -> str:
    return f"Requests of {row['clientip']} for this URI, {grid.hour_span(row['time'])}"


def details_facts(row: dict) -> list[tuple[str, object]]:
    return [("User agent", row.get("useragent")), ("MIME type", row.get("resconttype")),
            ("Server IP", row.get("serverip")), ("Server bytes", row.get("scbytes")),
            ("Client bytes", row.get("csbytes")), ("URI", row.get("fulluri"))]


# ----- threat investigation and storyboard


def _capped(table: pa.Table) -> tuple[pa.Table, str]:
    if table.num_rows <= SEARCH_ROWS:
        return table, ""
    return table.slice(0, SEARCH_ROWS), f"the first {SEARCH_ROWS:,} of {table.num_rows:,}"


def search(lake: LakeResource, day: dt.date, uri: str, top_n: int) -> threat_data.Search:
    """The requests for the URI, the top ``n`` clients and the URIs it referred."""
    found = investigate.proxy_expanded_search(lake, day, uri)
    requests = found.requests
    clients = requests.group_by("clientip", use_threads=False).aggregate([
        ([], "count_all"), ("ts", "min"), ("ts", "max"), ("csbytes", "sum"), ("scbytes", "sum")])
    clients = clients.rename_columns(["clientip", "requests", "first_seen", "last_seen", "csbytes", "scbytes"])
    clients = clients.sort_by([("requests", "descending"), ("clientip", "ascending")])
    referred = found.referred.group_by("fulluri", use_threads=False).aggregate([
        ([], "count_all"), ("clientip", "count_distinct"), ("ts", "min")])
    referred = referred.rename_columns(["fulluri", "requests", "clients", "first_seen"]).sort_by(
        [("requests", "descending"), ("fulluri", "ascending")])
    shown, note = _capped(requests.select(["ts", "clientip", "reqmethod", "respcode", "resconttype", "referer",
                                           "useragent", "csbytes", "scbytes", "duration"]))
    table = threat_data.SearchTable
    tables = [table("requests", f"Requests ({requests.num_rows:,})", shown, "No requests for it", note),
              table("clients", f"Top {top_n} clients", clients.slice(0, top_n), "No clients",
                    f"top {top_n} of {clients.num_rows:,}" if clients.num_rows > top_n else ""),
              table("referred", f"Referred URIs ({referred.num_rows:,})", referred, "No request had it as its referer")]
    plural = threat_data.plural
    summary = (f"{plural(requests.num_rows, 'request')} from {plural(clients.num_rows, 'client')}; it was the "
               f"referer of {plural(found.referred.num_rows, 'request')} for {plural(referred.num_rows, 'URI')}")
    return threat_data.Search(uri, summary, tables)


def progression(dendro: dict):
    return story.proxy_sankey(dendro)


# the timeline: one line per client, a drop per minute, coloured by its worst response
TIMELINE = ("clientip", "requests", "request")
TIMELINE_COLOURS = story.RESPONSE_COLOURS
TIMELINE_NAMES = {k: f"response {k}" for k in story.RESPONSE_COLOURS}
TIMELINE_LEGEND = True


def timeline_group(row: dict) -> str:
    worst = max((str(c) for c in row["respcodes"] if str(c)[:1] in "2345" and len(str(c)) == 3), default="")
    return f"{worst[0]}xx" if worst else "other"


def timeline_hover(row: dict) -> str:
    return f"<br>{row['duration'] or 0:,} ms · responses {charts.plain(', '.join(map(str, row['respcodes'])))}"
