"""The Storyboard's figures, drawn from the artifacts' JSON (schemas in ``spot_assets/oa/schemas``):
incident progression (a dendrogram; for proxy a Sankey of referer -> client -> method -> content
type -> threat -> referred URIs, Spot's six columns), impact analysis (bars that break down into
network contexts), the map (plotly ``scattergeo`` on the world base map shipped in
``assets/world_110m.json``, so no map data is fetched at run time) and the timeline.

plotly.js fetches its base maps from a CDN unless told otherwise (``topojsonURL``); the file served here
is ``world_110m`` taken from plotly.js 4.1.1's ``dist/plotly-geo-assets.js`` (MIT; Natural Earth data),
the plotly.js version the installed plotly package bundles.
"""

from __future__ import annotations

import datetime as dt
import math

import dash
import plotly.graph_objects as go

from spot_dash.components.charts import FONT, base_figure, human_bytes, plain
from spot_dash.threat_data import CLASS_LABELS
from spot_dash.views import view

DIRECTION_COLOURS = {"inbound": "#1f6feb", "outbound": "#e8590c", "two-way": "#7b2cbf"}
WITH_CHILDREN, WITHOUT_CHILDREN = "#0071c5", "#939598"  # Spot's impact bars
ANCHOR = "#14202e"
RESPONSE_COLOURS = {"2xx": "#2b8a3e", "3xx": "#1f6feb", "4xx": "#f08c00", "5xx": "#d64545", "other": "#7b8794"}


def graph_config(zoomable: bool) -> dict:
    """Geo base maps from this server's assets, never a CDN; a zoomable figure keeps a mode bar (zoom,
    pan, reset, save) and zooms with the wheel, the others have none."""
    config = {"displaylogo": False, "topojsonURL": dash.get_asset_url("")}
    if zoomable:
        return {**config, "scrollZoom": True, "modeBarButtonsToRemove": ["select2d", "lasso2d", "sendDataToCloud"]}
    return {**config, "displayModeBar": False}


# ----- incident progression


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def flow_tree(dendro: dict) -> dict:
    return {"name": f"<b>{plain(dendro['name'])}</b>", "hover": f"threat {plain(dendro['name'])}", "children": [
        {"name": f"{CLASS_LABELS[c['name']]} · {c['impact']:,}",
         "hover": f"{_count(c['impact'], 'peer')} {CLASS_LABELS[c['name']].lower()}",
         "children": [{"name": f"{plain(x['name'])} · {x['impact']:,}",
                       "hover": f"{_count(x['impact'], 'peer')} in {plain(x['name'])}"} for x in c.get("children", [])]}
        for c in dendro["children"]]}


def dns_tree(dendro: dict) -> dict:
    what = "queries" if dendro["kind"] == "client" else "queried"
    return {"name": f"<b>{plain(dendro['name'])}</b>", "hover": f"threat {plain(dendro['name'])}", "children": [
        {"name": f"{plain(c['name'])} · {c['total']:,}", "hover": f"{plain(c['name'])}: {what} {c['total']:,}×"}
        for c in dendro["children"]]}


PROXY_COLUMNS = ("Referer", "Client IP", "Method", "Content type", "Threat", "Referred")
SHORT = 30


def short_uri(uri: str) -> str:
    """A URI as a node label: no scheme, the middle elided past ``SHORT`` characters (hover has it whole)."""
    text = uri.split("://", 1)[-1]
    return text if len(text) <= SHORT else f"{text[:SHORT // 2 - 1]}…{text[-(SHORT // 2):]}"


def proxy_sankey(dendro: dict) -> go.Figure:
    """Requests flow left to right through Spot's columns; link widths are request counts."""
    nodes: dict[tuple[int, str], int] = {}
    links: dict[tuple[int, int], int] = {}

    def node(column: int, value) -> int:
        return nodes.setdefault((column, str(value) if value not in (None, "") else "(none)"), len(nodes))

    for row in dendro["requests"]:
        path = [node(0, row["referer"]), node(1, row["clientip"]), node(2, row["reqmethod"]),
                node(3, row["resconttype"]), node(4, dendro["threat"])]
        for a, b in zip(path, path[1:]):
            links[(a, b)] = links.get((a, b), 0) + row["count"]
    threat = node(4, dendro["threat"])
    for row in dendro["referred"]:
        links[(threat, node(5, row["fulluri"]))] = row["count"]
    labels = [value for (_, value) in nodes]
    columns = sorted({c for c, _ in nodes})
    uri_columns = {0, 5}
    fig = base_figure(max(300, 26 * max(sum(1 for c, _ in nodes if c == k) for k in columns) + 80))
    colours = ["#9aa5b1", "#f7a706", "#5bc0de", "#7b8794", ANCHOR, "#d64545"]
    fig.add_trace(go.Sankey(
        arrangement="snap", textfont=FONT,
        # the threat's own label would cross the links to what it referred: the column header and the
        # briefing name it, hover shows it
        node=dict(label=["" if c == 4 else plain(short_uri(v) if c in uri_columns else v) for c, v in nodes],
                  pad=14, thickness=14,
                  color=[colours[c] for c, _ in nodes], customdata=[plain(v) for v in labels], line=dict(width=0),
                  hovertemplate="%{customdata}<br>%{value:,} requests<extra></extra>"),
        link=dict(source=[a for a, _ in links], target=[b for _, b in links], value=list(links.values()),
                  color="rgba(123,135,148,0.28)", hovertemplate="%{value:,} requests<extra></extra>")))
    for i, c in enumerate(columns):
        x = i / max(len(columns) - 1, 1)
        fig.add_annotation(x=x, y=1.0, yref="paper", xref="paper", yanchor="bottom", showarrow=False,
                           xanchor="left" if x == 0 else "right" if x == 1 else "center",
                           text=f"<b>{PROXY_COLUMNS[c]}</b>", font=dict(size=11, color="#616e7c"))
    fig.update_layout(margin=dict(l=10, r=10, t=30, b=10))
    return fig


def progression_figure(data_type: str, dendro: dict) -> go.Figure:
    return view(data_type).progression(dendro)


# ----- impact analysis


def impact_figure(impact: dict, drill: str | None = None) -> go.Figure:
    """Peers per class; with ``drill``, that class's peers per network context (Spot's partition chart:
    blue bars break down, grey ones do not)."""
    fig = base_figure(250)
    if drill is None:
        bars = impact["children"]
        names = [CLASS_LABELS[b["name"]] for b in bars]
        colours = [WITH_CHILDREN if b.get("children") else WITHOUT_CHILDREN for b in bars]
        hover = [f"<b>{CLASS_LABELS[b['name']]}</b><br>{_count(b['size'], 'peer')} · {_count(b['conns'], 'connection')}"
                 f" · {human_bytes(b['bytes'] or 0)}" + ("<br>click: by network context" if b.get("children") else "")
                 for b in bars]
        keys = [b["name"] for b in bars]
    else:
        parent = next((b for b in impact["children"] if b["name"] == drill), {"children": []})
        bars = sorted(parent.get("children", []), key=lambda b: -b["size"])
        names = [plain(b["name"]) for b in bars]
        colours = [WITHOUT_CHILDREN] * len(bars)
        hover = [f"<b>{plain(b['name'])}</b><br>{_count(b['size'], 'peer')} {CLASS_LABELS[drill].lower()}" for b in bars]
        keys = [None] * len(bars)
    fig.add_trace(go.Bar(x=[b["size"] for b in bars], y=names, orientation="h", marker_color=colours,
                         customdata=keys, hovertext=hover, hoverinfo="text", text=[f"{b['size']:,}" for b in bars],
                         textposition="auto", cliponaxis=False))
    fig.update_layout(margin=dict(l=10, r=20, t=10, b=36), bargap=0.35,
                      xaxis=dict(title="peers", gridcolor="#e4e7eb", rangemode="tozero", fixedrange=True, tick0=0,
                                 dtick=max(1, math.ceil(max((b["size"] for b in bars), default=1) / 5))),
                      yaxis=dict(autorange="reversed", fixedrange=True, automargin=True))
    return fig


# ----- map


def map_figure(globe: dict) -> go.Figure:
    """Lines from the side that opened the connections to the other, one colour per class."""
    fig = base_figure(380)
    by_class: dict[str, list[dict]] = {}
    for feature in globe["features"]:
        by_class.setdefault(feature["properties"]["direction"], []).append(feature)
    anchor = globe["anchor"]
    for direction, features in by_class.items():
        lon, lat, peers = [], [], {}
        for f in features:
            (lon0, lat0), (lon1, lat1) = f["geometry"]["coordinates"]
            lon += [lon0, lon1, None]
            lat += [lat0, lat1, None]
            p = f["properties"]
            far = (p["destination_ip"], p["destination_location"], lon1, lat1) if p["source_ip"] == anchor["ip"] \
                else (p["source_ip"], p["source_location"], lon0, lat0)
            peers[far[0]] = (*far[1:], p["conns"])
        colour = DIRECTION_COLOURS[direction]
        fig.add_trace(go.Scattergeo(lon=lon, lat=lat, mode="lines", line=dict(width=1.6, color=colour),
                                    opacity=0.75, hoverinfo="skip", name=CLASS_LABELS[direction], legendgroup=direction))
        fig.add_trace(go.Scattergeo(
            lon=[v[1] for v in peers.values()], lat=[v[2] for v in peers.values()], mode="markers",
            marker=dict(size=8, color=colour, line=dict(width=1, color="#ffffff")), legendgroup=direction,
            showlegend=False, hoverinfo="text",
            hovertext=[f"<b>{plain(ip)}</b> ({CLASS_LABELS[direction].lower()})<br>{plain(loc or 'unknown place')}<br>"
                       f"{_count(conns, 'connection')}" for ip, (loc, _, _, conns) in peers.items()]))
    lon, lat = anchor["coordinates"]
    fig.add_trace(go.Scattergeo(lon=[lon], lat=[lat], mode="markers", name="threat", hoverinfo="text",
                                marker=dict(size=13, color=ANCHOR, symbol="star", line=dict(width=1, color="#fff")),
                                hovertext=[f"<b>{plain(anchor['ip'])}</b> (threat)<br>{plain(anchor['location'] or '')}"]))
    fig.update_geos(projection_type="natural earth", showland=True, landcolor="#dfe4ea", showcountries=True,
                    countrycolor="#ffffff", countrywidth=0.6, showocean=True, oceancolor="#f3f7fb",
                    showcoastlines=False, showframe=False, showlakes=False, bgcolor="rgba(0,0,0,0)",
                    lataxis_range=[-58, 84])
    fig.update_layout(showlegend=True, margin=dict(l=0, r=0, t=0, b=0),
                      legend=dict(orientation="h", x=0.01, y=0.02, bgcolor="rgba(255,255,255,0.8)"))
    return fig


# ----- timeline

def _minute(start: str) -> str:
    return start[:19].replace("T", " ")


def timeline_figure(data_type: str, timeline: dict) -> go.Figure:
    """One line per peer, client or name, busiest first; a drop per minute sized by its count.
    Zoom with the wheel or the range slider, drag to pan."""
    shown = view(data_type)
    entity, value, word = shown.TIMELINE
    rows = timeline["rows"]
    totals: dict[str, int] = {}
    for r in rows:
        totals[r[entity]] = totals.get(r[entity], 0) + r[value]
    order = sorted(totals, key=lambda e: (-totals[e], str(e)))
    biggest = max((r[value] for r in rows), default=1)
    colours, names = shown.TIMELINE_COLOURS, shown.TIMELINE_NAMES
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(shown.timeline_group(r), []).append(r)
    fig = base_figure(max(240, 30 * len(order) + 130))
    times = sorted(_minute(r["start"]) for r in rows)
    for key, members in groups.items():
        fig.add_trace(go.Scatter(
            x=[_minute(r["start"]) for r in members], y=[plain(r[entity]) for r in members], mode="markers",
            name=names[key], marker=dict(size=[8 + 14 * math.sqrt(r[value] / biggest) for r in members],
                                         color=colours[key], opacity=0.8, line=dict(width=1, color="#fff")),
            hoverinfo="text", hovertext=[_timeline_hover(shown, r, entity, value, word) for r in members]))
    fig.update_layout(
        showlegend=shown.TIMELINE_LEGEND, legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom"), dragmode="zoom",
        margin=dict(l=10, r=20, t=30, b=10),
        xaxis=dict(type="date", gridcolor="#e4e7eb", range=padded(times[0], times[-1]),
                   rangeslider=dict(visible=True, thickness=0.07)),
        yaxis=dict(type="category", categoryorder="array", categoryarray=[plain(e) for e in order],
                   autorange="reversed", automargin=True, fixedrange=True, gridcolor="#f0f2f5"))
    return fig


def padded(first: str, last: str) -> list[str]:
    """The time axis around the drops: 5% of their span on each side, at least five minutes."""
    a, b = (dt.datetime.fromisoformat(t) for t in (first, last))
    pad = max((b - a) * 0.05, dt.timedelta(minutes=5))
    return [(a - pad).isoformat(sep=" "), (b + pad).isoformat(sep=" ")]


def _timeline_hover(shown, r: dict, entity: str, value: str, word: str) -> str:
    return f"<b>{plain(r[entity])}</b><br>{_minute(r['start'])[:16]} UTC · {_count(r[value], word)}" + \
        shown.timeline_hover(r)
