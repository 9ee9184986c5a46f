"""Storyboard: the day's saved threats told for a briefing (spec §5.4). The executive threat briefing
lists them; the one picked shows its description and its artifacts: incident progression, and for
flows the impact analysis (click a bar to break it down) and the map; then the timeline.

The artifacts are JSON files the ``<type>_storyboard`` asset writes after a threat is saved; until they
are there (or while they predate the threat's last edit) the page says so and polls, and it stops
polling once every threat is built. One module for the three types (``/<data_type>/storyboard``).
"""

from __future__ import annotations

import datetime as dt

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html

from spot_assets.datatypes import DATA_TYPES
from spot_assets.oa.investigate import DIRECTIONS
from spot_dash import context
from spot_dash import threat_data as td
from spot_dash.components import story
from spot_dash.components.common import card, empty_state, notice
from spot_dash.components.header import page_href, type_title
from spot_dash.components.page import DayPage, day_page, stored_day

TEMPLATE = "/<data_type>/storyboard"

dash.register_page(__name__, path_template=TEMPLATE, path="/flow/storyboard", name="Storyboard", order=3,
                   title=lambda data_type=None: f"Spot · {type_title(data_type)} storyboard")

PARAMS, SELECTED, STATES, POLL, BRIEFING = "story-params", "story-selected", "story-states", "story-poll", "briefing"
BRIEF, PANEL = "brief", "story-panel"
IMPACT_GRAPH, IMPACT_BACK, IMPACT_NOTE = "impact-graph", "impact-back", "impact-note"
POLL_MS = 2000
DRILL_HINT = "Click a blue bar to see its peers by network context."

PANEL_TITLES = {"dendro": "Incident progression", "impact": "Impact analysis", "globe": "Map view",
                "timeline": "Timeline"}
STATE_LABELS = {td.READY: "ready", td.BUILDING: "building…", td.UPDATING: "updating…"}


def layout(data_type: str | None = None, date: str | None = None, threat: str | None = None, **_):
    page = day_page(data_type, date, TEMPLATE)
    if not isinstance(page, DayPage):
        return page
    data_type, day = page.data_type, page.day
    threats = _threats(data_type, day)
    if not threats:
        return page.main(card("Executive threat briefing", empty_state(
            f"No threats saved for {day} yet",
            ["Investigate the items rated 1 on ", dcc.Link("Threat investigation", href=page_href(
                "/<data_type>/threats", data_type, date=day.isoformat())),
             " and save a threat summary: its storyboard appears here."]), class_name="briefing-card"))
    chosen = td.chosen_threat(threats, threat)
    panels = {name: card(PANEL_TITLES[name], html.Div(panel(data_type, day, chosen, name),
                                                      id={"type": PANEL, "name": name}, className="panel-body"),
                         class_name=f"panel-card {name}-card")
              for name in DATA_TYPES[data_type].artifacts}
    rows = [html.Div([card("Executive threat briefing", html.Div(briefing_list(threats, chosen), id=BRIEFING),
                           class_name="briefing-card"), panels.pop("dendro")], className="row story-row")]
    timeline = panels.pop("timeline")
    if panels:  # the type's other artifacts (flow: impact and map) between the two
        rows.append(html.Div(list(panels.values()), className="row story-row"))
    rows.append(timeline)
    return page.main([
        dcc.Store(id=PARAMS, data={"data_type": data_type, "day": day.isoformat()}),
        dcc.Store(id=SELECTED, data=chosen.id), dcc.Store(id=STATES, data=td.states(threats)),
        dcc.Interval(id=POLL, interval=POLL_MS, disabled=not td.building(threats)),
        *rows,
    ])


def _threats(data_type: str, day: dt.date) -> list[td.StoryThreat]:
    app = context.current()
    return td.story_threats(app.lake, app.store.threats(data_type, day), data_type, day)


def briefing_list(threats: list[td.StoryThreat], chosen: td.StoryThreat):
    return [html.Article([
        html.Button([html.Span(t.title, className="brief-title"),
                     html.Span(STATE_LABELS[t.state], className=f"chip state {t.state}")],
                    id={"type": BRIEF, "id": t.id}, n_clicks=0, className="brief-head", title=t.anchor),
        html.Div(t.anchor, className="brief-anchor", title=t.anchor),
        html.Div(f"{t.analyst} · {t.updated_at:%Y-%m-%d %H:%M} UTC", className="brief-meta"),
        html.P(t.description, className="brief-text") if t.id == chosen.id else None,
    ], className="brief selected" if t.id == chosen.id else "brief") for t in threats]


def panel(data_type: str, day: dt.date, threat: td.StoryThreat, name: str):
    """One artifact of the chosen threat drawn, or why it is not (building, no places, no activity)."""
    if threat.state == td.BUILDING:
        return empty_state("Building the storyboard…", [
            f"Dagster's {data_type}_threat_sensor builds it within seconds while the daemon runs (",
            html.Code("spot ui", className="cmd"), " or ", html.Code("spot demo", className="cmd"), "). Without one: ",
            html.Code(f"spot run --type {data_type} --date {day}", className="cmd"), "."], "busy")
    found = td.artifact(context.current().lake, data_type, day, threat, name)
    if found is None:
        return _missing(name, threat)
    body = {"dendro": _progression, "impact": _impact, "globe": _map, "timeline": _timeline}[name](data_type, day,
                                                                                                 threat, found)
    if threat.state == td.UPDATING:
        return [notice("The threat was edited: this storyboard is being rebuilt.", "info"), body]
    return body


def _missing(name: str, threat: td.StoryThreat):
    if name != "globe":
        return empty_state(f"No {PANEL_TITLES[name].lower()} for {threat.anchor}", "The storyboard holds none.")
    geo = context.current().cfg.context
    if not (geo.iploc or geo.mmdb):
        return empty_state("No geolocation configured, so no map",
                           "Set [context] iploc or mmdb in spot.toml; the next storyboard build places the threat "
                           "and its peers.")
    return empty_state(f"No place known for {threat.anchor} or its top peers",
                       "The configured geolocation (iploc, MaxMind DB) has no entry for these addresses.")


def _graph(figure, class_name: str, zoomable: bool = True, **props):
    return dcc.Graph(figure=figure, config=story.graph_config(zoomable), className=class_name, **props)


def _progression(data_type, day, threat, dendro):
    return _graph(story.progression_figure(data_type, dendro), "progression", zoomable=False)


def _impact(data_type, day, threat, impact):
    drillable = any(c.get("children") for c in impact["children"])
    hint = (DRILL_HINT if drillable else
            "Bars break down by network context when [context] network_context is configured.")
    return [html.Div([html.Button("← all classes", id=IMPACT_BACK, className="btn ghost small", hidden=True,
                                  n_clicks=0),
                      html.Span(hint, id=IMPACT_NOTE, className="hint")], className="panel-tools"),
            _graph(story.impact_figure(impact), "impact", zoomable=False, id=IMPACT_GRAPH)]


def _map(data_type, day, threat, globe):
    unlocated = globe["unlocated_peers"]
    note = html.Div(f"{unlocated} of the top peers have no known place and are not drawn.", className="card-foot") \
        if unlocated else None
    return [_graph(story.map_figure(globe), "map"), note]


def _timeline(data_type, day, threat, timeline):
    if not timeline["rows"]:
        return empty_state(f"No activity of {threat.anchor} on {day}", "Its events are not in the lake for that day.")
    note = html.Div("Only the first minutes are drawn: the timeline keeps 1,000 of them.", className="card-foot") \
        if timeline["truncated"] else None
    return [_graph(story.timeline_figure(data_type, timeline), "timeline"), note]


@callback(Output(BRIEFING, "children"), Output({"type": PANEL, "name": ALL}, "children"), Output(POLL, "disabled"),
          Output(STATES, "data"), Input(SELECTED, "data"), Input(POLL, "n_intervals"), State(PARAMS, "data"),
          State(STATES, "data"), prevent_initial_call=True)
def refresh(selected, _ticks, params, shown):
    return redraw(params, selected, shown if ctx.triggered_id == POLL else None)


def redraw(params: dict, selected: str | None, unless: dict | None = None) -> tuple:
    """The briefing and the chosen threat's panels, whether to keep polling, and the states drawn; a
    poll passes the states it drew (``unless``) and redraws only when one changed (artifacts arrived)."""
    data_type, day = stored_day(params)
    threats = _threats(data_type, day)
    now = td.states(threats)
    chosen = td.chosen_threat(threats, selected)
    if now == unless or chosen is None:
        raise dash.exceptions.PreventUpdate
    return (briefing_list(threats, chosen),
            [panel(data_type, day, chosen, name) for name in DATA_TYPES[data_type].artifacts],
            not td.building(threats), now)


@callback(Output(SELECTED, "data"), Input({"type": BRIEF, "id": ALL}, "n_clicks"), prevent_initial_call=True)
def choose(_clicks):
    if not ctx.triggered or not ctx.triggered[0]["value"] or not isinstance(ctx.triggered_id, dict):
        raise dash.exceptions.PreventUpdate  # the briefing was redrawn, nothing was clicked
    return str(ctx.triggered_id["id"])[:100]


@callback(Output(IMPACT_GRAPH, "figure"), Output(IMPACT_BACK, "hidden"), Output(IMPACT_NOTE, "children"),
          Input(IMPACT_GRAPH, "clickData"), Input(IMPACT_BACK, "n_clicks"), State(SELECTED, "data"),
          State(PARAMS, "data"), prevent_initial_call=True)
def drill(click, back, selected, params):
    if ctx.triggered_id == IMPACT_BACK:
        if not back:
            raise dash.exceptions.PreventUpdate  # drawn, not pressed
        return impact_view(params, selected, None)
    point = ((click or {}).get("points") or [{}])[0]
    return impact_view(params, selected, point.get("customdata"))


def impact_view(params: dict, selected: str | None, bar: str | None) -> tuple:
    """The impact chart of the chosen threat: the classes, or the network contexts of class ``bar``
    (a class name from the browser: only a class with contexts is drawn)."""
    data_type, day = stored_day(params)
    threat = td.chosen_threat(_threats(data_type, day), selected)
    impact = td.artifact(context.current().lake, data_type, day, threat, "impact") if threat else None
    if impact is None:
        raise dash.exceptions.PreventUpdate
    if bar is None:
        return story.impact_figure(impact), True, DRILL_HINT
    chosen = next((c for c in impact["children"] if c["name"] == bar and bar in DIRECTIONS), None)
    if chosen is None or not chosen.get("children"):
        raise dash.exceptions.PreventUpdate
    return story.impact_figure(impact, bar), False, f"{td.CLASS_LABELS[bar]} peers by network context"
