"""How the dashboard shows flows: Spot's flow grid, the network of internal and external IPs (a click
draws an IP's chord diagram), the pair's connections as details, and the storyboard's figures."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
from dash import dcc

from resources.lake import LakeResource
from spot_assets.datatypes import FLOW
from spot_assets.oa import investigate
from spot_dash import context_data, details_data, network_data, threat_data
from spot_dash.inputs import parse_ip
from spot_dash.components import charts, grid, network, story
from spot_dash.components.common import empty_state

FILTER_PLACEHOLDER = "IP address"
FILTER_MENU = "Filter by this IP"
QUICK_LABEL, QUICK_PLACEHOLDER = "Quick IP scoring", "an IP, as source or destination"
ITEM_NOUN = "IPs"
DETAIL_COLUMNS = ["ts", "sip", "dip", "sport", "dport", "proto", "flag", "stos", "ibyt", "ipkt", "obyt", "opkt", "rip",
                  "input", "output"]


def columns(view_columns: set[str]) -> list[dict]:
    return [
        grid.num("rank", "Rank", maxWidth=90), grid.time_col(), grid.ip_col("sip", "Source IP", "src"),
        grid.ip_col("dip", "Destination IP", "dst"), grid.num("sport", "Src port", maxWidth=110),
        grid.num("dport", "Dst port", maxWidth=110), grid.col("proto", "Protocol", maxWidth=110),
        grid.num("ipkt", "In pkts", maxWidth=110), grid.num("ibyt", "In bytes", maxWidth=120),
        grid.num("opkt", "Out pkts", maxWidth=110), grid.num("obyt", "Out bytes", maxWidth=120), grid.score_col(),
    ]


# ----- the network view: internal (diamonds) and external (circles) IPs

STYLE = [
    {"selector": "node", "style": {**network.NODE, "background-color": network.ORANGE, "shape": "ellipse"}},
    {"selector": ".internal", "style": {"background-color": network.BLUE, "shape": "diamond"}},
    {"selector": "edge", "style": network.EDGE},
]
LEGEND = ENTITY_LEGEND = [("diamond", network.BLUE, "internal"), ("circle", network.ORANGE, "external")]
HINT = ENTITY_HINT = "click an IP: its chord diagram · right click: filter"
TREE = False
# A priority row's two ends; an address end is internal or external (None: decided by the address).
ENTITY_ENDS = (("sip", None), ("dip", None))
# the two addresses of a flow, and the enrichment's reputation column of each (``FLOW.reputation``)
_ENDS = ("sip", "dip")
_REPUTATION = {about: rep for rep, about in FLOW.reputation.items()}


def _kind(internal: bool) -> str:
    return "internal" if internal else "external"


def address_info(ip: str, internal: bool, geo: str | None, rep: str | None) -> str:
    lines = [f"{ip} ({_kind(internal)})"]
    if geo:
        lines.append(geo)
    _, services = context_data.parse_reputation(rep)
    if services:
        lines.append("reputation: " + ", ".join(f"{s} {label}" for s, label in services))
    return "\n".join(lines)


def _column(table: pa.Table, name: str) -> list:
    return table[name].to_pylist() if name in table.column_names else [None] * table.num_rows


def elements(table: pa.Table, expanded=frozenset()) -> list[dict]:
    ends = [(table[c].to_pylist(), context_data.internal_flags(table, c, FLOW.internal[c])) for c in _ENDS]
    (sip, src_in), (dip, dst_in) = ends
    pairs = [(_kind(a_in), a, _kind(b_in), b) for a, b, a_in, b_in in zip(sip, dip, src_in, dst_in)]
    info = {}
    for column, (ips, flags) in zip(_ENDS, ends):
        geo = _column(table, f"{FLOW.places[column]}_geoloc")
        rep = _column(table, _REPUTATION[column])
        for i, ip in enumerate(ips):
            info.setdefault(ip, {"tip": address_info(ip, bool(flags[i]), geo[i], rep[i])})
    return network_data.graph(pairs, network_data.edge_weight(network_data.scores(table)), info)


def row_elements(row: dict) -> list[str]:
    table = pa.Table.from_pylist([{k: row.get(k) for k in (*_ENDS, *(FLOW.internal[c] for c in _ENDS))}])
    a, b = (network_data.node_id(_kind(context_data.internal_flags(table, c, FLOW.internal[c])[0]), row[c])
            for c in _ENDS)
    return [a, b, network_data.edge_id(a, b)]


def node_picture(lake: LakeResource, day: dt.date, kind: str | None, label: str):
    """(title, body) of a clicked IP: its bytes with each peer that day, as a chord diagram."""
    ip = parse_ip(label)
    chord = details_data.flow_chord(lake, day, ip)
    if chord.matrix.sum() == 0:
        return f"Connections of {ip} on {day}", empty_state(f"No bytes recorded for {ip} on {day}")
    body = dcc.Graph(figure=charts.chord_figure(chord), config={"displayModeBar": False, "scrollZoom": True},
                     className="chord")
    return f"Bytes between {ip} and its peers on {day}", body


# ----- details


def details_title(row: dict) -> str:
    return f"Connections between {row['sip']} and {row['dip']} in {row['time'][:16]} UTC"


def details_facts(row: dict) -> list[tuple[str, object]]:
    return []


# ----- threat investigation and storyboard


def search(lake: LakeResource, day: dt.date, ip: str, top_n: int) -> threat_data.Search:
    """Peers per class and the top ``n`` by connections and by bytes."""
    found = investigate.flow_expanded_search(lake, day, ip, top_n)
    classes, labels = found.classes, threat_data.CLASS_LABELS
    counts = pc.value_counts(found.peers["direction"]).to_pylist() if found.peers.num_rows else []
    per_class = {c["values"]: c["counts"] for c in counts}
    columns = threat_data.PEER_COLUMNS
    tables = [threat_data.SearchTable(
        d, f"{labels[d]} ({per_class.get(d, 0):,})", classes[d].select(columns), f"No {labels[d].lower()} peers",
        f"top {top_n} by connections and top {top_n} by bytes of {per_class.get(d, 0):,}"
        if per_class.get(d, 0) > classes[d].num_rows else "")
        for d in investigate.DIRECTIONS]
    tables += [threat_data.SearchTable("connections", f"Top {top_n} by connections",
                                       found.by_connections.select(columns), "No peers"),
               threat_data.SearchTable("bytes", f"Top {top_n} by bytes", found.by_bytes.select(columns), "No peers")]
    plural = threat_data.plural
    summary = (f"{plural(found.rows.num_rows, 'flow')} with {plural(found.peers.num_rows, 'peer')}: "
               + ", ".join(f"{per_class.get(d, 0):,} {labels[d].lower()}" for d in investigate.DIRECTIONS))
    return threat_data.Search(ip, summary, tables)


def progression(dendro: dict):
    return charts.tree_figure(story.flow_tree(dendro))


# the timeline: one line per peer, a drop per minute, coloured by the peer's class
TIMELINE = ("peer", "conns", "connection")
TIMELINE_COLOURS, TIMELINE_NAMES = story.DIRECTION_COLOURS, threat_data.CLASS_LABELS
TIMELINE_LEGEND = True


def timeline_group(row: dict) -> str:
    return row["direction"]


def timeline_hover(row: dict) -> str:
    ports = ", ".join(map(str, row["dports"][:8])) + (" …" if len(row["dports"]) > 8 else "")
    return f"<br>{charts.human_bytes(row['ibyt'] or 0)} · ports {ports}"
