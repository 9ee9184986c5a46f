"""Threat investigation: the day's items rated 1 (high risk), the expanded search of the one picked
(spec §5.3), and the threat summary whose Save records the threat in the analyst store.

Saving is all the dashboard does: the ``<type>_threat_sensor`` of the Dagster daemon sees the store
change and builds the day's storyboard, which the Storyboard page shows once it is there. One module
for the three types (``/<data_type>/threats``); the page state (type, day) is in the URL and every
value the browser sends back is validated again (``spot_dash.threat_data``).
"""

from __future__ import annotations

import datetime as dt

import dash
from dash import Input, Output, State, callback, dcc, html

from spot_assets.oa.storyboard import anchor_id
from spot_dash import context
from spot_dash import threat_data as td
from spot_dash.components import grid
from spot_dash.components.common import card, empty_state, notice
from spot_dash.components.header import page_href, type_title
from spot_dash.components.page import DayPage, day_page, stored_day
from spot_dash.inputs import Invalid
from spot_dash.views import view

TEMPLATE = "/<data_type>/threats"
STORYBOARD = "/<data_type>/storyboard"

dash.register_page(__name__, path_template=TEMPLATE, path="/flow/threats", name="Threat investigation",
                   order=2, title=lambda data_type=None: f"Spot · {type_title(data_type)} threat investigation")

PARAMS, ITEMS = "threat-params", "threat-items"
TOP_N, TOP_N_ERROR, SEARCH_TITLE, SEARCH_BODY, SEARCH_STATUS = (
    "search-top-n", "search-top-n-error", "search-title", "search-body", "search-status")
FORM_TITLE, TITLE, DESCRIPTION, SAVE, MESSAGE = (
    "threat-form-title", "threat-title", "threat-description", "threat-save", "threat-message")

NO_PICK = ("Pick a high-risk item", "Its expanded search appears here: who it talked to, how often and how much.")


def layout(data_type: str | None = None, date: str | None = None, **_):
    page = day_page(data_type, date, TEMPLATE)
    if not isinstance(page, DayPage):
        return page
    data_type, day = page.data_type, page.day
    items = _items(data_type, day)
    params = {"data_type": data_type, "day": day.isoformat()}
    return page.main([
        dcc.Store(id=PARAMS, data=params),
        html.Div([
            card(f"High risk {view(data_type).ITEM_NOUN}", item_list(data_type, day, items),
                 class_name="items-card",
                 tools=html.Span(f"{len(items)} rated 1" if items else "", className="status")),
            html.Div([
                card(html.Span(NO_PICK[0], id=SEARCH_TITLE),
                     [html.Div(id=SEARCH_STATUS, className="search-summary"),
                      html.Div(empty_state(*NO_PICK), id=SEARCH_BODY, className="search-body")],
                     class_name="search-card", tools=[
                         html.Label("Top n", htmlFor=TOP_N, className="field-label"),
                         dcc.Input(id=TOP_N, type="number", value=td.DEFAULT_TOP_N, min=1, max=td.MAX_TOP_N,
                                   step=1, debounce=True, className="text-input top-n"),
                         html.Span(id=TOP_N_ERROR, className="field-error", role="alert")]),
                card(html.Span("Threat summary", id=FORM_TITLE), threat_form(), class_name="form-card"),
            ], className="stack grow-3"),
        ], className="row threat-row"),
    ])


def _items(data_type: str, day: dt.date) -> list[td.HighRisk]:
    app = context.current()
    return td.high_risk(app.store.ratings(data_type, [day]), app.store.threats(data_type, day), data_type)


def item_list(data_type: str, day: dt.date, items: list[td.HighRisk]):
    if not items:
        return empty_state(f"Nothing rated high risk on {day}",
                           ["Rate events 1 (High) on ", dcc.Link("Suspicious", href=page_href(
                               "/<data_type>/suspicious", data_type, date=day.isoformat())),
                            " and save: their ", view(data_type).ITEM_NOUN, " come here to be investigated."])
    return dcc.RadioItems(id=ITEMS, options=item_options(items), value=None, className="item-list")


def item_options(items: list[td.HighRisk]) -> list[dict]:
    return [{"label": html.Span([
        html.Span(item.anchor, className="item-anchor", title=item.anchor),
        html.Span(td.KIND_LABELS[item.kind], className="item-kind"),
        html.Span("saved", className="chip saved", title=f"threat saved: {item.threat}") if item.threat else None,
    ], className="item"), "value": item.anchor} for item in items]


def threat_form():
    return html.Div([
        html.Div([html.Label("Title", htmlFor=TITLE, className="field-label"),
                  dcc.Input(id=TITLE, type="text", maxLength=td.MAX_TITLE, debounce=False, disabled=True,
                            placeholder="a short name for the threat", className="text-input")], className="field"),
        html.Div([html.Label("Description", htmlFor=DESCRIPTION, className="field-label"),
                  dcc.Textarea(id=DESCRIPTION, maxLength=td.MAX_DESCRIPTION, disabled=True, className="text-area",
                               placeholder="what happened, what it affects, what to do")], className="field"),
        html.Div([html.Button("Save", id=SAVE, className="btn primary", n_clicks=0, disabled=True),
                  html.Div(id=MESSAGE, className="score-message", role="status")], className="buttons"),
        html.P("Saving records the threat; its storyboard is built from it within seconds while the Dagster "
               "daemon runs (spot ui or spot demo).", className="hint"),
    ], className="scoring threat-form")


def _chosen(params: dict, anchor: str | None) -> tuple[str, dt.date, td.HighRisk]:
    """The page's type and day and the picked item, as the browser sent them back, validated again."""
    data_type, day = stored_day(params)
    return data_type, day, td.chosen_item(_items(data_type, day), data_type, anchor)


@callback(Output(SEARCH_TITLE, "children"), Output(SEARCH_BODY, "children"), Output(SEARCH_STATUS, "children"),
          Output(TOP_N_ERROR, "children"), Input(ITEMS, "value"), Input(TOP_N, "value"), State(PARAMS, "data"),
          prevent_initial_call=True)
def search(anchor, top_n, params):
    if not anchor:
        return NO_PICK[0], empty_state(*NO_PICK), "", ""
    try:
        n = td.parse_top_n(top_n)
    except Invalid as e:
        return dash.no_update, dash.no_update, dash.no_update, str(e)
    try:
        data_type, day, item = _chosen(params, anchor)
    except Invalid as e:
        return "Not an item of this day", empty_state("That item cannot be searched", str(e), "warn"), "", ""
    found = td.expanded_search(context.current().lake, data_type, day, item.anchor, n)
    title = f"Expanded search of {item.anchor} on {day}"
    if found.empty:
        return title, empty_state(f"No {data_type} events of {item.anchor} on {day}",
                                  "Its events are not in the lake for that day."), "", ""
    return title, search_tables(found), found.summary, ""


def search_tables(found: td.Search):
    """One grid per table; several go in tabs, each saying how many rows it holds."""
    panes = []
    for t in found.tables:
        body = [html.Div(grid.table_grid(f"search-{t.key}", t.table, grid.SEARCH_HEADERS), className="search-grid")
                if t.table.num_rows else empty_state(t.empty)]
        if t.note:
            body.append(html.Div(f"Showing {t.note}.", className="card-foot"))
        panes.append((t, body))
    if len(panes) == 1:
        table, body = panes[0]
        return html.Div([html.Div(table.label, className="pane-title"), *body], className="search-pane")
    return dcc.Tabs([dcc.Tab(html.Div(body, className="search-pane"), label=t.label, value=t.key,
                             className="search-tab", selected_className="search-tab active")
                     for t, body in panes], value=panes[0][0].key, className="search-tabs")


@callback(Output(FORM_TITLE, "children"), Output(TITLE, "value"), Output(DESCRIPTION, "value"),
          Output(TITLE, "disabled"), Output(DESCRIPTION, "disabled"), Output(SAVE, "disabled"),
          Output(MESSAGE, "children"), Input(ITEMS, "value"), State(PARAMS, "data"), prevent_initial_call=True)
def prefill(anchor, params):
    """The form of the picked item, with the threat saved for it if there is one (Spot pre-filled it)."""
    try:
        data_type, day, item = _chosen(params, anchor)
    except Invalid:
        return "Threat summary", "", "", True, True, True, None
    saved = next((t for t in context.current().store.threats(data_type, day) if t.anchor == item.anchor), None)
    title, text = (saved.title, saved.description) if saved else ("", "")
    note = notice(f"Saved by {saved.analyst}; saving again updates it.", "info") if saved else None
    return f"Threat summary for {item.anchor}", title, text, False, False, False, note


@callback(Output(MESSAGE, "children", allow_duplicate=True), Output(ITEMS, "options"),
          Input(SAVE, "n_clicks"), State(TITLE, "value"), State(DESCRIPTION, "value"), State(ITEMS, "value"),
          State(PARAMS, "data"), prevent_initial_call=True)
def save(_n, title, description, anchor, params):
    try:
        data_type, day, item = _chosen(params, anchor)
        title, text = td.parse_summary(title, description)
    except Invalid as e:
        return notice(f"Not saved: {e}", "warn"), dash.no_update
    app = context.current()
    analyst = app.analyst()
    app.store.save_threat(data_type, day, item.anchor, title, text, analyst)
    href = page_href(STORYBOARD, data_type, date=day.isoformat(), threat=anchor_id(item.anchor))
    message = html.Div([f"Saved “{title}” as {analyst}. Its storyboard is being built: ",
                        dcc.Link("open the Storyboard", href=href, id="storyboard-link"), "."], className="notice ok")
    return message, item_options(_items(data_type, day))
