"""The network view: the cytoscape graph, its shared styles, the highlight of the selected row's nodes
and link, and the legend. Each type's styles, legend and elements are its view's
(``spot_dash/views/<type>.py``, ``spot_dash.network_data``)."""

from __future__ import annotations

import dash_cytoscape as cyto
from dash import html

from spot_dash.views import view

GRAPH = "network-graph"
HOVER = "network-hover"
FILTER_ITEM = "filter-by"

ORANGE, BLUE, DARK = "#f7a706", "#5bc0de", "#14202e"
REP_COLOURS = {"rep0": "#9aa5b1", "rep1": "#7b8794", "rep2": BLUE, "rep3": ORANGE, "rep4": "#d64545"}

NODE = {
    "label": "data(label)", "font-size": 10, "color": "#3e4c59", "text-valign": "bottom", "text-margin-y": 3,
    "border-width": 2, "border-color": "#ffffff", "width": "mapData(hits, 1, 12, 22, 48)",
    "height": "mapData(hits, 1, 12, 22, 48)", "text-max-width": 140, "text-wrap": "ellipsis",
}
EDGE = {"width": "mapData(weight, 0, 30, 1, 6)", "line-color": "mapData(weight, 0, 30, #c3ccd6, #7b2cbf)",
        "curve-style": "bezier", "opacity": 0.85}

# The priority order's entities: an end of any value, and a proxy entity's host (a site: not the tree's host level).
ENTITY_RULES = [
    {"selector": ".any", "style": {"background-color": "#ffffff", "border-color": "#9aa5b1", "border-style": "dashed"}},
    {"selector": ".site", "style": {"background-color": BLUE, "shape": "diamond", "width": NODE["width"],
                                    "height": NODE["height"]}},
]
_PICKED = {"border-color": "#e8590c", "border-width": 4, "opacity": 1, "z-index": 10, "font-size": 15,
           "font-weight": "bold", "color": "#14202e", "text-background-color": "#ffffff",
           "text-background-opacity": 0.85, "text-background-padding": 2}


def stylesheet(data_type: str, highlight: list[str] = ()) -> list[dict]:
    """Spot's selection: the row's nodes and link stand out, everything else fades."""
    rules = list(view(data_type).STYLE) + ENTITY_RULES
    if highlight:
        rules.append({"selector": "node, edge", "style": {"opacity": 0.35}})
        for element_id in highlight:
            # ids are hex digests (network_data.node_id), safe inside a selector
            rules.append({"selector": f'node[id = "{element_id}"]', "style": _PICKED})
            rules.append({"selector": f'edge[id = "{element_id}"]',
                          "style": {"line-color": "#e8590c", "width": 5, "opacity": 1, "z-index": 10}})
    return rules


def layout_for(data_type: str, elements: list[dict], tree: bool = True) -> dict:
    """``tree``: the proxy view is Spot's hierarchy (the priority order's entities are a plain graph)."""
    if view(data_type).TREE and tree:
        root = view(data_type).ROOT
        return {"name": "breadthfirst", "roots": f'[id = "{root}"]', "directed": True, "spacingFactor": 1.1,
                "animate": False, "fit": True, "padding": 20}
    return {"name": "cose", "animate": False, "randomize": False, "fit": True, "padding": 24,
            "nodeRepulsion": 2048, "idealEdgeLength": 40, "componentSpacing": 30, "numIter": 600}


def network_view(data_type: str, entities: bool = False):
    """``entities``: the priority order's view, a link per entity (not the proxy tree)."""
    menu = [{"id": FILTER_ITEM, "label": view(data_type).FILTER_MENU, "availableOn": ["node"],
             "tooltipText": "reload the list with this value as the filter"}]
    return html.Div([
        cyto.Cytoscape(id=GRAPH, elements=[], stylesheet=stylesheet(data_type), layout=layout_for(data_type, []),
                       style={"width": "100%", "height": "100%"}, minZoom=0.2, maxZoom=4, wheelSensitivity=0.3,
                       contextMenu=menu, boxSelectionEnabled=False, clearOnUnhover=True),
        html.Pre(id=HOVER, className="hover-card", hidden=True),
        legend(data_type, entities),
    ], className="network-wrap")


def legend(data_type: str, entities: bool = False):
    shown = view(data_type)
    if entities:
        return _legend(shown.ENTITY_LEGEND + [("circle any", "#ffffff", "* any value")], shown.ENTITY_HINT)
    return _legend(shown.LEGEND, shown.HINT)


def _legend(items: list[tuple[str, str, str]], hint: str):
    return html.Div([html.Span([html.I(className=f"swatch {shape}", style={"background": colour}), label],
                               className="legend-item") for shape, colour, label in items]
                    + [html.Span(hint, className="legend-hint")], className="legend")
