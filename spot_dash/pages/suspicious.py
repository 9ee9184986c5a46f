"""Suspicious: the day's priority list (or Spot's top suspicious events), the network view, details and scoring.

One module for every type (``/<data_type>/suspicious``): the layout and every callback are shared,
and what differs per type is the spec's (``spot_assets.datatypes``) or the type's view's
(``spot_dash/views/<type>.py``). The page's state is in
the URL (``?date=…&filter=…&order=lda``), as Spot kept it in the hash; callbacks re-validate whatever
the browser sends back.

Two orders share the page: the priority list (``<type>_priority``: one row per entity, the detectors'
and the model's reasons fused), shown by default, and Spot's LDA order (``<type>_enriched`` or
``_suspicious``: events by ascending score). A day without a priority list (older days) shows Spot's
order with a note. Rating a row of the priority list records feedback on its entity (3 suppresses it
on later days' lists, 1 raises it), listed in the Suppressions panel with Undo.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse

import dash
import pyarrow as pa
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html

from spot_assets.datatypes import DATA_TYPES
from spot_dash import context, details_data, network_data, scoring_data
from spot_dash import priority_data as prio
from spot_dash import suspicious_data as sd
from spot_dash.components import grid, network, scoring
from spot_dash.components.common import card, empty_state, notice
from spot_dash.components.header import NAV, type_title
from spot_dash.components.page import DayPage, day_page, stored_day
from spot_dash.exports import csv_bytes
from spot_dash.inputs import MAX_TEXT, Filter, Invalid, is_ip, parse_filter, parse_type
from spot_dash.views import view

TEMPLATE = "/<data_type>/suspicious"

dash.register_page(__name__, path_template=TEMPLATE, path="/flow/suspicious", name="Suspicious",
                   order=1, title=lambda data_type=None: f"Spot · {type_title(data_type)} suspicious")

PARAMS, SAVED, PENDING, EXPANDED = "page-params", "saved-count", "pending-criteria", "proxy-expanded"
FILTER, FILTER_GO, FILTER_CLEAR, FILTER_ERROR = "filter-input", "filter-go", "filter-clear", "filter-error"
STATUS, EMPTY, GRID_WRAP, GEO_NOTE = "list-status", "list-empty", "grid-wrap", "geo-note"
DETAILS_TITLE, DETAILS_BODY = "details-title", "details-body"
DETAILS_FILTER, DETAILS_FILTER_VALUE = "details-filter", "details-filter-value"
EXPORT, DOWNLOAD = "export-csv", "export-download"
ORDER, ORDER_NOTE = "list-order", "order-note"
FEEDBACK_LIST, FEEDBACK_MESSAGE = "feedback-list", "feedback-message"

NO_SELECTION = ("Select a row of the suspicious list", "Its events appear here; click a node of the network view "
                "for the IP's picture.")


def _order(data_type: str, day: dt.date, requested: str | None) -> str:
    """The order a page shows: the priority list when asked for (the default) and the day has one."""
    try:
        wanted = prio.parse_order(requested)
    except Invalid:
        wanted = prio.PRIORITY
    if wanted == prio.PRIORITY and prio.has_priority(context.current().lake, data_type, day):
        return prio.PRIORITY
    return prio.LDA


def layout(data_type: str | None = None, date: str | None = None, filter: str | None = None,
           order: str | None = None, **_):
    page = day_page(data_type, date, TEMPLATE)
    if not isinstance(page, DayPage):
        return page
    data_type, day = page.data_type, page.day
    shown = _order(data_type, day, order)
    available = prio.has_priority(context.current().lake, data_type, day)
    params = {"data_type": data_type, "day": day.isoformat(), "filter": (filter or "")[:MAX_TEXT], "order": shown}
    findings = shown == prio.PRIORITY
    fallback = None if available else notice(
        f"No priority list for {day} (the detectors had not run for it): this is Spot's LDA order.", id=ORDER_NOTE)
    return page.main([
        dcc.Store(id=PARAMS, data=params), dcc.Store(id=SAVED, data=0), dcc.Store(id=PENDING, data=[]),
        dcc.Store(id=EXPANDED, data=[]), dcc.Store(id=DETAILS_FILTER_VALUE), dcc.Download(id=DOWNLOAD),
        toolbar(data_type, params["filter"], shown, available),
        html.Div([
            card("Priority" if findings else "Suspicious", [
                fallback,
                html.Div(id=EMPTY, className="grid-empty", hidden=True),
                html.Div(grid.suspicious_grid(), id=GRID_WRAP, className="grid-wrap"),
                html.Div(id=GEO_NOTE, className="card-foot"),
            ], class_name="grow-2", tools=html.Span(id=STATUS, className="status")),
            card("Network view", network.network_view(data_type, findings), class_name="grow-1 network-card"),
        ], className="row top-row"),
        html.Div([
            card(html.Span(NO_SELECTION[0], id=DETAILS_TITLE), html.Div(empty_state(*NO_SELECTION), id=DETAILS_BODY),
                 class_name="grow-2 details-card",
                 tools=html.Button("Filter", id=DETAILS_FILTER, className="btn ghost", hidden=True, n_clicks=0)),
            card("Scoring", scoring.scoring_panel(data_type, findings), class_name="grow-1"),
        ], className="row bottom-row"),
        html.Div([
            card("Suppressions and raises", [html.Div(id=FEEDBACK_LIST),
                                             html.Div(id=FEEDBACK_MESSAGE, className="score-message", role="status")],
                 class_name="grow-1 feedback-card"),
        ], className="row"),
    ])


def toolbar(data_type: str, value: str, order: str = prio.LDA, available: bool = False):
    switch = dcc.RadioItems(id=ORDER, value=order, inline=True, className="order-switch", options=[
        {"label": "Priority", "value": prio.PRIORITY, "disabled": not available},
        {"label": "Spot's LDA order", "value": prio.LDA}])
    return html.Div([
        switch,
        html.Div([
            dcc.Input(id=FILTER, type="search", value=value, placeholder=view(data_type).FILTER_PLACEHOLDER,
                      maxLength=MAX_TEXT, debounce=False, className="text-input filter-input"),
            html.Button("Search", id=FILTER_GO, className="btn primary", n_clicks=0),
            html.Button("Clear", id=FILTER_CLEAR, className="btn ghost", n_clicks=0),
            html.Span(id=FILTER_ERROR, className="field-error", role="alert"),
        ], className="filter"),
        html.Button("Export CSV", id=EXPORT, className="btn ghost", n_clicks=0),
    ], className="toolbar")


def _params(params: dict) -> tuple[str, dt.date, Filter | None]:
    """The page's type and day and its filter, validated again."""
    data_type, day = stored_day(params)
    return data_type, day, parse_filter(data_type, params.get("filter"))


def _view(params: dict) -> tuple[str, dt.date, Filter | None, sd.SuspiciousView | None]:
    app = context.current()
    data_type, day, flt = _params(params)
    return data_type, day, flt, sd.suspicious_view(app.lake, app.store.ratings(data_type, [day]), data_type, day, flt)


def _shown(params: dict) -> str:
    """The order of the page's list, as the layout chose it (validated again)."""
    data_type, day = stored_day(params)
    return _order(data_type, day, params.get("order"))


def _priority(params: dict) -> tuple[str, dt.date, Filter | None, prio.PriorityView | None]:
    app = context.current()
    data_type, day, flt = _params(params)
    return data_type, day, flt, prio.priority_view(app.lake, app.store.finding_feedback(data_type, day), data_type,
                                                   day, flt)


def _empty_reason(data_type: str, day: dt.date, flt, shown: sd.SuspiciousView | None):
    if shown is None:
        return empty_state(f"There is no {DATA_TYPES[data_type].title} data for {day}", "Pick another day.")
    if shown.listed == 0:
        return empty_state("Nothing suspicious on this day", "The model listed no event under its threshold (ml.tol).")
    if flt is not None:
        return empty_state(f"Nothing matches “{flt.value}”", "Clear the filter to see the whole list.")
    return empty_state("Every listed event has been scored",
                       f"Analysts rated all {shown.listed} events of this day's list.", "done")


@callback(
    Output(grid.SUSPICIOUS, "rowData"), Output(grid.SUSPICIOUS, "columnDefs"), Output(STATUS, "children"),
    Output(EMPTY, "children"), Output(EMPTY, "hidden"), Output(GRID_WRAP, "hidden"), Output(GEO_NOTE, "children"),
    Output(scoring.key_dropdown_id(ALL), "options"), Output(scoring.key_dropdown_id(ALL), "value"),
    Input(PARAMS, "data"), Input(SAVED, "data"),
)
def refresh(params, _saved):
    if _shown(params) == prio.PRIORITY:
        return refresh_priority(params)
    data_type, day, flt, shown = _view(params)
    keys = DATA_TYPES[data_type].rating_keys  # the page lays the key boxes out in this order
    if shown is None or shown.rows.num_rows == 0:
        blank = [scoring.options([]) for _ in keys]
        status = "" if shown is None else f"{shown.listed} listed · {shown.scored} scored"
        return [], [], status, _empty_reason(data_type, day, flt, shown), False, True, "", blank, ["all"] * len(keys)
    values = scoring_data.key_options(shown.rows, data_type)
    status = f"{shown.rows.num_rows} shown · {shown.listed} listed · {shown.scored} scored"
    note = "" if shown.has_geo or not DATA_TYPES[data_type].places_addresses else notice(
        "No geolocation configured: set [context] iploc or mmdb and enrich the day to see where external IPs are.")
    return (grid.grid_rows(shown.rows, data_type), grid.column_defs(data_type, shown.columns), status, None, True,
            False, note, [scoring.options(values[k]) for k in keys], ["all"] * len(keys))


def refresh_priority(params: dict) -> tuple:
    data_type, day, flt, found = _priority(params)
    keys = DATA_TYPES[data_type].rating_keys
    blank = [scoring.options([]) for _ in keys], ["all"] * len(keys)
    if found is None or found.rows.num_rows == 0:
        status = "" if found is None else f"{found.listed} listed · {found.rated} rated"
        if found is None:
            empty = empty_state(f"There is no priority list of {DATA_TYPES[data_type].title} for {day}",
                                "Pick another day.")
        elif found.listed == 0:
            empty = empty_state("Nothing to read first on this day", "No detector and no model run listed an entity.")
        elif flt is not None:
            empty = empty_state(f"Nothing matches “{flt.value}”", "Clear the filter to see the whole list.")
        else:
            empty = empty_state("Every finding has been rated", f"Analysts rated all {found.listed} of this day.",
                                "done")
        return [], [], status, empty, False, True, "", *blank
    status = f"{found.rows.num_rows} shown · {found.listed} listed · {found.rated} rated"
    return (grid.priority_rows(found.rows), grid.priority_column_defs(), status, None, True, False, "", *blank)


@callback(Output(network.GRAPH, "elements"), Output(network.GRAPH, "layout"),
          Input(grid.SUSPICIOUS, "rowData"), Input(EXPANDED, "data"), State(PARAMS, "data"))
def draw_network(rows, expanded, params):
    data_type = parse_type(params.get("data_type"))
    if _shown(params) == prio.PRIORITY:
        elements = prio.network_elements(rows or [], data_type)
        return elements, network.layout_for(data_type, elements, tree=False)
    elements = network_data.network_elements(pa.Table.from_pylist(rows), data_type, set(expanded or [])) if rows else []
    return elements, network.layout_for(data_type, elements)


@callback(Output(network.GRAPH, "stylesheet"), Output(DETAILS_TITLE, "children"), Output(DETAILS_BODY, "children"),
          Output(EXPANDED, "data", allow_duplicate=True), Output(DETAILS_FILTER, "hidden"),
          Input(grid.SUSPICIOUS, "selectedRows"), State(PARAMS, "data"), State(EXPANDED, "data"),
          prevent_initial_call=True)
def select_row(selected, params, expanded):
    data_type, day, _ = _params(params)
    if not selected:
        return network.stylesheet(data_type), NO_SELECTION[0], empty_state(*NO_SELECTION), dash.no_update, True
    row = selected[0]
    if _shown(params) == prio.PRIORITY:
        entity = prio.parse_entity(data_type, row)
        events = prio.entity_events(context.current().lake, data_type, day, entity)
        title, body = finding_details(data_type, row, entity, events)
        return network.stylesheet(data_type, prio.row_elements(row, data_type)), title, body, dash.no_update, True
    ids = network_data.row_elements(row, data_type)
    opened = dash.no_update
    if view(data_type).TREE:  # open the row's chain so its nodes are there to highlight
        opened = sorted(set(expanded or []) | set(ids[1:-1]))
    table = details_data.details(context.current().lake, data_type, row)
    title, body = row_details(data_type, row, table)
    return network.stylesheet(data_type, ids), title, body, opened, True


def finding_details(data_type: str, row: dict, entity: dict, events: pa.Table):
    """Why a priority row is listed (each reason, the facts behind its rank) and the entity's events."""
    title = f"Why {prio.label(data_type, entity)} is listed"
    lda = row.get("lda_score")
    facts = [("Rank", row.get("rank")), ("Score", f"{row.get('score') or 0:.2f}"),
             ("Detectors", row.get("detectors")), ("LDA score", "" if lda is None else f"{lda:.3e}"),
             ("Events", f"{row.get('events') or 0:,}"), ("Feedback", row.get("feedback") or "")]
    parts = [html.Ul([html.Li(r) for r in prio.reasons(row)], className="reasons"),
             html.Dl([x for k, v in facts if v not in (None, "") for x in (html.Dt(k), html.Dd(str(v)))],
                     className="facts")]
    if events.num_rows == 0:
        parts.append(empty_state("No events found for this entity", "Its events are not in the lake for this day."))
    else:
        parts.append(html.Div(grid.details_grid(events), className="details-grid-wrap"))
    return title, parts


def row_details(data_type: str, row: dict, table: pa.Table):
    title = view(data_type).details_title(row)
    parts = []
    facts = view(data_type).details_facts(row)
    if facts:
        parts.append(html.Dl([x for k, v in facts for x in (html.Dt(k), html.Dd("" if v is None else f"{v:,}" if isinstance(v, int) else str(v)))],
                             className="facts"))
    if table.num_rows == 0:
        parts.append(empty_state("No events found for this row", "Its events are not in the lake for that hour."))
    else:
        parts.append(html.Div(grid.details_grid(table), className="details-grid-wrap"))
    return title, parts


@callback(Output(DETAILS_TITLE, "children", allow_duplicate=True), Output(DETAILS_BODY, "children", allow_duplicate=True),
          Output(EXPANDED, "data", allow_duplicate=True), Output(DETAILS_FILTER, "hidden", allow_duplicate=True),
          Output(DETAILS_FILTER, "children"), Output(DETAILS_FILTER_VALUE, "data"),
          Input(network.GRAPH, "tapNodeData"), State(PARAMS, "data"), State(EXPANDED, "data"),
          State(grid.SUSPICIOUS, "rowData"), prevent_initial_call=True)
def tap_node(node, params, expanded, rows):
    if not node or node.get("kind") == "any":
        raise dash.exceptions.PreventUpdate
    data_type, day, _ = _params(params)
    shown = view(data_type)
    label, kind = str(node.get("label", "")), node.get("kind")
    opened = dash.no_update
    if shown.TREE and _shown(params) == prio.LDA:
        tree = shown.tree(pa.Table.from_pylist(rows or []))
        opened = sorted(shown.toggle(tree, set(expanded or []), node.get("id")))
    value = _filter_value(data_type, kind, label)
    button = (False, f"Filter by {value}", value) if value else (True, "", None)
    picture = shown.node_picture(context.current().lake, day, kind, label)
    if picture is None:
        return dash.no_update, dash.no_update, opened, *button
    return *picture, opened, *button


def _filter_value(data_type: str, kind: str | None, label: str) -> str | None:
    """What the secondary action on a node filters by: an IP, a domain (DNS) or a URI path (proxy)."""
    if kind in ("internal", "external", "client"):
        return label if is_ip(label) else None
    if kind in ("domain", "path", "site"):
        return label
    return None


@callback(Output(NAV, "href", allow_duplicate=True), Output(FILTER_ERROR, "children"),
          Input(FILTER_GO, "n_clicks"), Input(FILTER, "n_submit"), Input(FILTER_CLEAR, "n_clicks"),
          Input(network.GRAPH, "contextMenuData"), Input(DETAILS_FILTER, "n_clicks"),
          State(FILTER, "value"), State(network.GRAPH, "elements"), State(DETAILS_FILTER_VALUE, "data"),
          State(PARAMS, "data"), prevent_initial_call=True)
def apply_filter(_go, _submit, _clear, menu, _details, typed, elements, details_value, params):
    if not ctx.triggered or not ctx.triggered[0]["value"]:
        raise dash.exceptions.PreventUpdate  # inserted with the page, not pressed (the output is in the shell)
    return filter_target(params, ctx.triggered_id, typed, menu, elements, details_value)


def filter_target(params: dict, trigger: str, typed: str | None, menu: dict | None, elements: list | None,
                  details_value: str | None) -> tuple:
    """Every way to filter reloads the page with the filter in its URL (Spot's filter semantics):
    (href or no_update, error text)."""
    data_type, day, _ = _params(params)
    if trigger == FILTER_CLEAR:
        text = ""
    elif trigger == network.GRAPH:
        if not menu or menu.get("menuItemId") != network.FILTER_ITEM:
            raise dash.exceptions.PreventUpdate
        node = next((e["data"] for e in elements or [] if e["data"].get("id") == menu.get("elementId")), None)
        text = _filter_value(data_type, node.get("kind"), str(node.get("label", ""))) if node else None
        if not text:
            return dash.no_update, "Only IPs, domains and paths can be filters"
    elif trigger == DETAILS_FILTER:
        text = details_value or ""
    else:
        text = typed or ""
    try:
        flt = parse_filter(data_type, text)
    except Invalid as e:
        return dash.no_update, str(e)
    return _href(data_type, day, flt.value if flt else None, params.get("order")), ""


def _href(data_type: str, day: dt.date, flt: str | None, order: str | None) -> str:
    """The page's URL: Spot's LDA order is named in it, the priority order is the default."""
    query = {"date": day.isoformat(), **({"filter": flt} if flt else {}),
             **({"order": order} if order == prio.LDA else {})}
    return f"/{data_type}/suspicious?{urllib.parse.urlencode(query)}"


@callback(Output(NAV, "href", allow_duplicate=True), Input(ORDER, "value"), State(PARAMS, "data"),
          prevent_initial_call=True)
def switch_order(order, params):
    """The switch reloads the page in the other order, keeping its filter."""
    data_type, day, flt = _params(params)
    if order == params.get("order"):
        raise dash.exceptions.PreventUpdate
    return _href(data_type, day, flt.value if flt else None, prio.parse_order(order))


@callback(Output(PENDING, "data"), Output(scoring.MESSAGE, "children"), Input(scoring.SCORE, "n_clicks"),
          State(scoring.key_dropdown_id(ALL), "value"), State(scoring.RISK, "value"), State(scoring.QUICK, "value"),
          State(PENDING, "data"), State(grid.SUSPICIOUS, "rowData"), State(PARAMS, "data"),
          State(grid.SUSPICIOUS, "selectedRows"), prevent_initial_call=True)
def score(_n, values, risk, quick, pending, rows, params, selected=None):
    data_type, _, _ = _params(params)
    if _shown(params) == prio.PRIORITY:
        return score_finding(data_type, risk, selected, pending)
    chosen = dict(zip(DATA_TYPES[data_type].rating_keys, values))  # the key boxes are laid out in this order
    try:
        new = scoring_data.criteria(data_type, chosen, quick, int(risk))
    except (Invalid, TypeError, ValueError) as e:
        return dash.no_update, notice(str(e), "warn")
    table = pa.Table.from_pylist(rows or [])
    matched = scoring_data.matching_rows(table, [c.selector for c in new]) if table.num_rows else 0
    pending = (pending or []) + [{"selector": c.selector, "severity": c.severity} for c in new]
    text = (f"{matched} row{'s' if matched != 1 else ''} of the list scored {risk}: remember to save." if matched
            else "Queued (no row of the current list matches): remember to save.")
    return pending, notice(text, "ok" if matched else "info")


def score_finding(data_type: str, risk, selected: list | None, pending: list | None) -> tuple:
    """Queue a rating of the selected row's entity (1 raise, 3 suppress)."""
    if not selected:
        return dash.no_update, notice("Select a row of the list first: Score rates its entity.", "warn")
    try:
        entity = prio.parse_entity(data_type, selected[0])
        severity = int(risk)
        if severity not in prio.FINDING_SEVERITIES:
            raise Invalid("a finding is rated 1 (raise) or 3 (suppress)")
    except (Invalid, TypeError, ValueError) as e:
        return dash.no_update, notice(str(e), "warn")
    queued = {"finding": entity, "severity": severity}
    pending = [p for p in pending or [] if p.get("finding") != entity] + [queued]
    verb = "suppressed" if severity == 3 else "raised"
    return pending, notice(f"{prio.label(data_type, entity)} will be {verb}: remember to save.", "ok")


@callback(Output(scoring.FINDING, "children"), Input(grid.SUSPICIOUS, "selectedRows"),
          Input(grid.SUSPICIOUS, "rowData"), State(PARAMS, "data"))
def finding_target(selected, _rows, params):
    """What Score will rate; a reloaded list (after a save) has nothing selected."""
    reloaded = f"{grid.SUSPICIOUS}.rowData" in ctx.triggered_prop_ids
    if not selected or reloaded or _shown(params) != prio.PRIORITY:
        return "Select a row of the list to rate it."
    return f"Rates: {selected[0].get('entity', '')}"


def _pending_text(data_type: str, p: dict) -> str:
    if "finding" in p:
        return f"{prio.label(data_type, p['finding'])} → {'raise' if p['severity'] == 1 else 'suppress'}"
    return f"{' · '.join(f'{k}={v}' for k, v in p['selector'].items())} → {p['severity']}"


@callback(Output(scoring.PENDING_LIST, "children"), Input(PENDING, "data"), State(PARAMS, "data"))
def show_pending(pending, params):
    data_type = parse_type(params.get("data_type"))
    return [html.Span(_pending_text(data_type, p), className=f"chip risk-{p['severity']}") for p in pending or []]


@callback(Output(PENDING, "data", allow_duplicate=True), Output(scoring.MESSAGE, "children", allow_duplicate=True),
          Output(SAVED, "data"), Output(scoring.QUICK, "value"), Output(network.GRAPH, "stylesheet", allow_duplicate=True),
          Output(DETAILS_TITLE, "children", allow_duplicate=True), Output(DETAILS_BODY, "children", allow_duplicate=True),
          Input(scoring.SAVE, "n_clicks"), State(PENDING, "data"), State(PARAMS, "data"), State(SAVED, "data"),
          prevent_initial_call=True)
def save(_n, pending, params, saved):
    """Write the queued ratings; the list reloads without the rows they select, nothing stays selected."""
    data_type, day, _ = _params(params)
    unchanged = (dash.no_update,) * 5  # counter, quick box, graph, details
    if not pending:
        return dash.no_update, notice("Nothing to save: choose values and press Score first.", "warn"), *unchanged
    app = context.current()
    analyst = app.analyst()
    try:  # everything queued was validated by Score; validate again, it came back from the browser
        findings = [(prio.parse_entity(data_type, p["finding"]), int(p["severity"])) for p in pending if "finding" in p]
        checked = [c for p in pending if "finding" not in p
                   for c in scoring_data.criteria(data_type, p["selector"], None, int(p["severity"]))]
        if any(severity not in prio.FINDING_SEVERITIES for _, severity in findings):
            raise Invalid("a finding is rated 1 (raise) or 3 (suppress)")
    except (Invalid, KeyError, TypeError, ValueError, AttributeError) as e:
        return [], notice(f"Not saved: {e}", "warn"), *unchanged
    for c in checked:
        app.store.rate(data_type, day, c.selector, c.severity, analyst)
    for entity, severity in findings:
        save_finding(app.store, data_type, day, entity, severity, analyst)
    n = len(checked) + len(findings)
    text = f"Saved {n} rating{'s' if n != 1 else ''} as {analyst}."
    return ([], notice(text, "ok"), (saved or 0) + 1, "", network.stylesheet(data_type), NO_SELECTION[0],
            empty_state(*NO_SELECTION))


def save_finding(store, data_type: str, day: dt.date, entity: dict, severity: int, analyst: str) -> None:
    """A finding's rating: feedback on its entity and, where the entity is a rating selector (flows),
    the same rating in Spot's terms, so the LDA feedback and Threat investigation see it too."""
    store.record_feedback(data_type, day, entity, severity, analyst)
    selector = prio.rating_selector(data_type, entity)
    if selector:
        store.rate(data_type, day, selector, severity, analyst)


@callback(Output(FEEDBACK_LIST, "children"), Input(PARAMS, "data"), Input(SAVED, "data"))
def list_feedback(params, _saved):
    data_type, day = stored_day(params)
    items = context.current().store.finding_feedback(data_type, day)
    return scoring.feedback_list([(f.id, prio.label(data_type, f.entity), f.severity, f.detector, f.analyst,
                                   f.day.isoformat(), f.expires.isoformat()) for f in items])


@callback(Output(SAVED, "data", allow_duplicate=True), Output(FEEDBACK_MESSAGE, "children"),
          Input(scoring.undo_id(ALL), "n_clicks"), State(PARAMS, "data"), State(SAVED, "data"),
          prevent_initial_call=True)
def undo(_clicks, params, saved):
    """Undo revokes the feedback (the store keeps it, marked revoked); the list reloads without it."""
    if not ctx.triggered or not ctx.triggered[0]["value"]:
        raise dash.exceptions.PreventUpdate  # the buttons were drawn, not pressed
    return undo_feedback(params, ctx.triggered_id["id"], saved)


def undo_feedback(params: dict, feedback_id, saved) -> tuple:
    """Only feedback in force for the page's type and day can be undone from it (the id came from the browser)."""
    data_type, day = stored_day(params)
    app = context.current()
    gone = notice("That suppression or raise is no longer in force.", "warn")
    if not any(f.id == feedback_id for f in app.store.finding_feedback(data_type, day)):
        return dash.no_update, gone
    try:
        app.store.revoke_feedback(feedback_id, app.analyst())
    except ValueError:  # another analyst undid it a moment ago
        return (saved or 0) + 1, gone
    text = f"Undone by {app.analyst()}."
    if prio.findings_are_ratings(data_type):
        text += " The Spot rating it also recorded stays: rate the same values in Spot's LDA order to change it."
    return (saved or 0) + 1, notice(text, "ok")


@callback(Output(DOWNLOAD, "data"), Input(EXPORT, "n_clicks"), State(PARAMS, "data"), prevent_initial_call=True)
def export(_n, params):
    if _shown(params) == prio.PRIORITY:
        data_type, day, _, found = _priority(params)
        if found is None:
            raise dash.exceptions.PreventUpdate
        name = f"{DATA_TYPES[data_type].table('priority')}_{day}.csv"
        return dcc.send_bytes(csv_bytes(prio.csv_table(found.rows)), name)
    data_type, day, flt, shown = _view(params)
    if shown is None:
        raise dash.exceptions.PreventUpdate
    return dcc.send_bytes(csv_bytes(shown.rows), f"{DATA_TYPES[data_type].table('suspicious')}_{day}.csv")


clientside_callback(
    """function (node) {
        if (!node) { return ["", true]; }
        return [node.tip || node.label || "", false];
    }""",
    Output(network.HOVER, "children"), Output(network.HOVER, "hidden"), Input(network.GRAPH, "mouseoverNodeData"),
)
