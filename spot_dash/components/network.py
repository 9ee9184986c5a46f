"""The network view: cytoscape styles per data type (Spot's shapes and colours) and the highlight of
the selected row's nodes and link. Elements come from ``spot_dash.data.network_elements``."""

from __future__ import annotations

import dash_cytoscape as cyto
from dash import html

from spot_dash import data

GRAPH = "network-graph"
HOVER = "network-hover"
FILTER_ITEM = "filter-by"

ORANGE, BLUE, DARK = "#f7a706", "#5bc0de", "#14202e"
REP_COLOURS = {"rep0": "#9aa5b1", "rep1": "#7b8794", "rep2": BLUE, "rep3": ORANGE, "rep4": "#d64545"}

_NODE = {
    "label": "data(label)", "font-size": 10, "color": "#3e4c59", "text-valign": "bottom", "text-margin-y": 3,
    "border-width": 2, "border-color": "#ffffff", "width": "mapData(hits, 1, 12, 22, 48)",
    "height": "mapData(hits, 1, 12, 22, 48)", "text-max-width": 140, "text-wrap": "ellipsis",
}
_EDGE = {"width": "mapData(weight, 0, 30, 1, 6)", "line-color": "mapData(weight, 0, 30, #c3ccd6, #7b2cbf)",
         "curve-style": "bezier", "opacity": 0.85}

BASE = {
    "flow": [
        {"selector": "node", "style": {**_NODE, "background-color": ORANGE, "shape": "ellipse"}},
        {"selector": ".internal", "style": {"background-color": BLUE, "shape": "diamond"}},
        {"selector": "edge", "style": _EDGE},
    ],
    "dns": [
        {"selector": "node", "style": {**_NODE, "background-color": ORANGE, "shape": "ellipse"}},
        {"selector": ".domain", "style": {"background-color": BLUE, "shape": "diamond"}},
        {"selector": "edge", "style": _EDGE},
    ],
    "proxy": [
        {"selector": "node", "style": {**_NODE, "background-color": REP_COLOURS["rep0"],
                                       "width": "mapData(hits, 1, 250, 14, 48)", "height": "mapData(hits, 1, 250, 14, 48)"}},
        *({"selector": f".{cls}", "style": {"background-color": colour}} for cls, colour in REP_COLOURS.items()),
        {"selector": ".root", "style": {"background-color": DARK, "shape": "star", "width": 34, "height": 34,
                                        "font-weight": "bold"}},
        {"selector": ".expanded", "style": {"border-color": DARK, "border-width": 2}},
        {"selector": ".client", "style": {"shape": "round-rectangle"}},
        {"selector": "edge", "style": {"width": 1.5, "line-color": "#c3ccd6", "curve-style": "bezier",
                                       "target-arrow-shape": "none"}},
    ],
}
# The priority order's entities: an end of any value, and a proxy entity's host (a site: not the tree's host level).
ENTITY_RULES = [
    {"selector": ".any", "style": {"background-color": "#ffffff", "border-color": "#9aa5b1", "border-style": "dashed"}},
    {"selector": ".site", "style": {"background-color": BLUE, "shape": "diamond", "width": _NODE["width"],
                                    "height": _NODE["height"]}},
]
_PICKED = {"border-color": "#e8590c", "border-width": 4, "opacity": 1, "z-index": 10, "font-size": 15,
           "font-weight": "bold", "color": "#14202e", "text-background-color": "#ffffff",
           "text-background-opacity": 0.85, "text-background-padding": 2}


def stylesheet(data_type: str, highlight: list[str] = ()) -> list[dict]:
    """Spot's selection: the row's nodes and link stand out, everything else fades."""
    rules = list(BASE[data_type]) + ENTITY_RULES
    if highlight:
        rules.append({"selector": "node, edge", "style": {"opacity": 0.35}})
        for element_id in highlight:
            # ids are hex digests (data.node_id), safe inside a selector
            rules.append({"selector": f'node[id = "{element_id}"]', "style": _PICKED})
            rules.append({"selector": f'edge[id = "{element_id}"]',
                          "style": {"line-color": "#e8590c", "width": 5, "opacity": 1, "z-index": 10}})
    return rules


def layout_for(data_type: str, elements: list[dict], tree: bool = True) -> dict:
    """``tree``: the proxy view is Spot's hierarchy (the priority order's entities are a plain graph)."""
    if data_type == "proxy" and tree:
        root = data.node_id("root", "Proxy")
        return {"name": "breadthfirst", "roots": f'[id = "{root}"]', "directed": True, "spacingFactor": 1.1,
                "animate": False, "fit": True, "padding": 20}
    return {"name": "cose", "animate": False, "randomize": False, "fit": True, "padding": 24,
            "nodeRepulsion": 2048, "idealEdgeLength": 40, "componentSpacing": 30, "numIter": 600}


CONTEXT_LABEL = {"flow": "Filter by this IP", "dns": "Filter by this IP or domain", "proxy": "Filter by this path or IP"}


def network_view(data_type: str, entities: bool = False):
    """``entities``: the priority order's view, a link per entity (not the proxy tree)."""
    menu = [{"id": FILTER_ITEM, "label": CONTEXT_LABEL[data_type], "availableOn": ["node"],
             "tooltipText": "reload the list with this value as the filter"}]
    return html.Div([
        cyto.Cytoscape(id=GRAPH, elements=[], stylesheet=stylesheet(data_type), layout=layout_for(data_type, []),
                       style={"width": "100%", "height": "100%"}, minZoom=0.2, maxZoom=4, wheelSensitivity=0.3,
                       contextMenu=menu, boxSelectionEnabled=False, clearOnUnhover=True),
        html.Pre(id=HOVER, className="hover-card", hidden=True),
        legend(data_type, entities),
    ], className="network-wrap")


LEGEND = {
    "flow": [("diamond", BLUE, "internal"), ("circle", ORANGE, "external")],
    "dns": [("diamond", BLUE, "domain"), ("circle", ORANGE, "client IP")],
    "proxy": [("circle", REP_COLOURS["rep4"], "high"), ("circle", REP_COLOURS["rep3"], "medium"),
              ("circle", REP_COLOURS["rep2"], "low"), ("circle", REP_COLOURS["rep0"], "no reputation")],
}
HINT = {"flow": "click an IP: its chord diagram · right click: filter",
        "dns": "click a client: its queries · right click: filter",
        "proxy": "click: expand or collapse · right click: filter"}
# The priority order draws proxy entities as client → host links, not Spot's tree.
ENTITY_LEGEND = {**LEGEND, "proxy": [("circle", REP_COLOURS["rep0"], "client IP"), ("diamond", BLUE, "host")]}
ENTITY_HINT = {**HINT, "proxy": "right click: filter"}


def legend(data_type: str, entities: bool = False):
    if entities:
        return _legend(ENTITY_LEGEND[data_type] + [("circle any", "#ffffff", "* any value")], ENTITY_HINT[data_type])
    return _legend(LEGEND[data_type], HINT[data_type])


def _legend(items: list[tuple[str, str, str]], hint: str):
    return html.Div([html.Span([html.I(className=f"swatch {shape}", style={"background": colour}), label],
                               className="legend-item") for shape, colour, label in items]
                    + [html.Span(hint, className="legend-hint")], className="legend")
