"""Suspicious: the day's top suspicious events of one data type, the network view, details and scoring.

One module for the three types (``/<data_type>/suspicious``): the layout and every callback are shared,
and what differs per type lives in the data functions and component builders. The page's state is in
the URL (``?date=…&filter=…``), as Spot kept it in the hash; callbacks re-validate whatever the browser
sends back.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse

import dash
import pyarrow as pa
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html

from resources.store import RATING_KEYS
from spot_dash import context, data
from spot_dash.components import charts, grid, network, scoring
from spot_dash.components.common import card, empty_state, notice
from spot_dash.components.header import NAV, TYPE_LABELS
from spot_dash.components.page import DayPage, day_page, stored_day

TEMPLATE = "/<data_type>/suspicious"

dash.register_page(__name__, path_template=TEMPLATE, path="/flow/suspicious", name="Suspicious",
                   order=1, title=lambda data_type=None: f"Spot · {TYPE_LABELS.get(data_type, '')} suspicious")

PARAMS, SAVED, PENDING, EXPANDED = "page-params", "saved-count", "pending-criteria", "proxy-expanded"
FILTER, FILTER_GO, FILTER_CLEAR, FILTER_ERROR = "filter-input", "filter-go", "filter-clear", "filter-error"
STATUS, EMPTY, GRID_WRAP, GEO_NOTE = "list-status", "list-empty", "grid-wrap", "geo-note"
DETAILS_TITLE, DETAILS_BODY = "details-title", "details-body"
DETAILS_FILTER, DETAILS_FILTER_VALUE = "details-filter", "details-filter-value"
EXPORT, DOWNLOAD = "export-csv", "export-download"

FILTER_PLACEHOLDER = {"flow": "IP address", "dns": "client IP or part of a query name",
                      "proxy": "client IP or part of a URI"}
NO_SELECTION = ("Select a row of the suspicious list", "Its events appear here; click a node of the network view "
                "for the IP's picture.")


def layout(data_type: str | None = None, date: str | None = None, filter: str | None = None, **_):
    page = day_page(data_type, date, TEMPLATE)
    if not isinstance(page, DayPage):
        return page
    data_type, day = page.data_type, page.day
    params = {"data_type": data_type, "day": day.isoformat(), "filter": (filter or "")[:data.MAX_TEXT]}
    return page.main([
        dcc.Store(id=PARAMS, data=params), dcc.Store(id=SAVED, data=0), dcc.Store(id=PENDING, data=[]),
        dcc.Store(id=EXPANDED, data=[]), dcc.Store(id=DETAILS_FILTER_VALUE), dcc.Download(id=DOWNLOAD),
        toolbar(data_type, params["filter"]),
        html.Div([
            card("Suspicious", [
                html.Div(id=EMPTY, className="grid-empty", hidden=True),
                html.Div(grid.suspicious_grid(), id=GRID_WRAP, className="grid-wrap"),
                html.Div(id=GEO_NOTE, className="card-foot"),
            ], class_name="grow-2", tools=html.Span(id=STATUS, className="status")),
            card("Network view", network.network_view(data_type), class_name="grow-1 network-card"),
        ], className="row top-row"),
        html.Div([
            card(html.Span(NO_SELECTION[0], id=DETAILS_TITLE), html.Div(empty_state(*NO_SELECTION), id=DETAILS_BODY),
                 class_name="grow-2 details-card",
                 tools=html.Button("Filter", id=DETAILS_FILTER, className="btn ghost", hidden=True, n_clicks=0)),
            card("Scoring", scoring.scoring_panel(data_type), class_name="grow-1"),
        ], className="row bottom-row"),
    ])


def toolbar(data_type: str, value: str):
    return html.Div([
        html.Div([
            dcc.Input(id=FILTER, type="search", value=value, placeholder=FILTER_PLACEHOLDER[data_type], maxLength=512,
                      debounce=False, className="text-input filter-input"),
            html.Button("Search", id=FILTER_GO, className="btn primary", n_clicks=0),
            html.Button("Clear", id=FILTER_CLEAR, className="btn ghost", n_clicks=0),
            html.Span(id=FILTER_ERROR, className="field-error", role="alert"),
        ], className="filter"),
        html.Button("Export CSV", id=EXPORT, className="btn ghost", n_clicks=0),
    ], className="toolbar")


def _params(params: dict) -> tuple[str, dt.date, data.Filter | None]:
    """The page's type and day and its filter, validated again."""
    data_type, day = stored_day(params)
    return data_type, day, data.parse_filter(data_type, params.get("filter"))


def _view(params: dict) -> tuple[str, dt.date, data.Filter | None, data.SuspiciousView | None]:
    app = context.current()
    data_type, day, flt = _params(params)
    return data_type, day, flt, data.suspicious_view(app.lake, app.store.ratings(data_type, [day]), data_type, day, flt)


def _empty_reason(data_type: str, day: dt.date, flt, view: data.SuspiciousView | None):
    if view is None:
        return empty_state(f"There is no {TYPE_LABELS[data_type]} data for {day}", "Pick another day.")
    if view.listed == 0:
        return empty_state("Nothing suspicious on this day", "The model listed no event under its threshold (ml.tol).")
    if flt is not None:
        return empty_state(f"Nothing matches “{flt.value}”", "Clear the filter to see the whole list.")
    return empty_state("Every listed event has been scored",
                       f"Analysts rated all {view.listed} events of this day's list.", "done")


@callback(
    Output(grid.SUSPICIOUS, "rowData"), Output(grid.SUSPICIOUS, "columnDefs"), Output(STATUS, "children"),
    Output(EMPTY, "children"), Output(EMPTY, "hidden"), Output(GRID_WRAP, "hidden"), Output(GEO_NOTE, "children"),
    Output(scoring.key_dropdown_id(ALL), "options"), Output(scoring.key_dropdown_id(ALL), "value"),
    Input(PARAMS, "data"), Input(SAVED, "data"),
)
def refresh(params, _saved):
    data_type, day, flt, view = _view(params)
    keys = RATING_KEYS[data_type]  # the page lays the key boxes out in this order
    if view is None or view.rows.num_rows == 0:
        blank = [scoring.options([]) for _ in keys]
        status = "" if view is None else f"{view.listed} listed · {view.scored} scored"
        return [], [], status, _empty_reason(data_type, day, flt, view), False, True, "", blank, ["all"] * len(keys)
    values = data.key_options(view.rows, data_type)
    status = f"{view.rows.num_rows} shown · {view.listed} listed · {view.scored} scored"
    note = "" if view.has_geo or data_type != "flow" else notice(
        "No geolocation configured: set [context] iploc or mmdb and enrich the day to see where external IPs are.")
    return (grid.grid_rows(view.rows, data_type), grid.column_defs(data_type, view.columns), status, None, True, False,
            note, [scoring.options(values[k]) for k in keys], ["all"] * len(keys))


@callback(Output(network.GRAPH, "elements"), Output(network.GRAPH, "layout"),
          Input(grid.SUSPICIOUS, "rowData"), Input(EXPANDED, "data"), State(PARAMS, "data"))
def draw_network(rows, expanded, params):
    data_type = data.parse_type(params.get("data_type"))
    elements = data.network_elements(pa.Table.from_pylist(rows), data_type, set(expanded or [])) if rows else []
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
    ids = data.row_elements(row, data_type)
    opened = dash.no_update
    if data_type == "proxy":  # open the row's chain so its nodes are there to highlight
        opened = sorted(set(expanded or []) | set(ids[1:-1]))
    table = data.details(context.current().lake, data_type, row)
    title, body = row_details(data_type, row, table)
    return network.stylesheet(data_type, ids), title, body, opened, True


def _hour_span(time: str) -> str:
    hour = int(time[11:13])
    return f"{time[:10]} {hour:02d}:00-{hour + 1:02d}:00 UTC"


def row_details(data_type: str, row: dict, table: pa.Table):
    if data_type == "flow":
        minute = row["time"][:16]
        title = f"Connections between {row['sip']} and {row['dip']} in {minute} UTC"
    elif data_type == "dns":
        title = f"Records of {row['dns_qry_name']}, {_hour_span(row['time'])}"
    else:
        title = f"Requests of {row['clientip']} for this URI, {_hour_span(row['time'])}"
    parts = []
    if data_type == "proxy":
        facts = [("User agent", row.get("useragent")), ("MIME type", row.get("resconttype")),
                 ("Server IP", row.get("serverip")), ("Server bytes", row.get("scbytes")),
                 ("Client bytes", row.get("csbytes")), ("URI", row.get("fulluri"))]
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
    if not node:
        raise dash.exceptions.PreventUpdate
    data_type, day, _ = _params(params)
    lake = context.current().lake
    label, kind = str(node.get("label", "")), node.get("kind")
    opened = dash.no_update
    if data_type == "proxy":
        tree = data.proxy_tree(pa.Table.from_pylist(rows or []))
        opened = sorted(data.toggle(tree, set(expanded or []), node.get("id")))
    value = _filter_value(data_type, kind, label)
    button = (False, f"Filter by {value}", value) if value else (True, "", None)
    if data_type == "flow":
        ip = data.parse_ip(label)
        chord = data.flow_chord(lake, day, ip)
        if chord.matrix.sum() == 0:
            return f"Connections of {ip} on {day}", empty_state(f"No bytes recorded for {ip} on {day}"), opened, *button
        body = dcc.Graph(figure=charts.chord_figure(chord), config={"displayModeBar": False, "scrollZoom": True},
                         className="chord")
        return f"Bytes between {ip} and its peers on {day}", body, opened, *button
    if data_type == "dns" and kind == "client":
        ip = data.parse_ip(label)
        tree = data.dns_tree(lake, day, ip)
        if tree.num_rows == 0:
            return f"Queries of {ip} on {day}", empty_state(f"No queries recorded for {ip} on {day}"), opened, *button
        body = dcc.Graph(figure=charts.dendrogram_figure(tree, ip), config={"displayModeBar": False}, className="dendrogram")
        return f"Queries of {ip} and their answers on {day}", body, opened, *button
    return dash.no_update, dash.no_update, opened, *button


def _filter_value(data_type: str, kind: str | None, label: str) -> str | None:
    """What the secondary action on a node filters by: an IP, a domain (DNS) or a URI path (proxy)."""
    if kind in ("internal", "external", "client"):
        return label if data.is_ip(label) else None
    if kind in ("domain", "path"):
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
        flt = data.parse_filter(data_type, text)
    except data.Invalid as e:
        return dash.no_update, str(e)
    query = {"date": day.isoformat(), **({"filter": flt.value} if flt else {})}
    return f"/{data_type}/suspicious?{urllib.parse.urlencode(query)}", ""


@callback(Output(PENDING, "data"), Output(scoring.MESSAGE, "children"), Input(scoring.SCORE, "n_clicks"),
          State(scoring.key_dropdown_id(ALL), "value"), State(scoring.RISK, "value"), State(scoring.QUICK, "value"),
          State(PENDING, "data"), State(grid.SUSPICIOUS, "rowData"), State(PARAMS, "data"), prevent_initial_call=True)
def score(_n, values, risk, quick, pending, rows, params):
    data_type, _, _ = _params(params)
    chosen = dict(zip(RATING_KEYS[data_type], values))  # the key boxes are laid out in this order
    try:
        new = data.criteria(data_type, chosen, quick, int(risk))
    except (data.Invalid, TypeError, ValueError) as e:
        return dash.no_update, notice(str(e), "warn")
    table = pa.Table.from_pylist(rows or [])
    matched = data.matching_rows(table, [c.selector for c in new]) if table.num_rows else 0
    pending = (pending or []) + [{"selector": c.selector, "severity": c.severity} for c in new]
    text = (f"{matched} row{'s' if matched != 1 else ''} of the list scored {risk}: remember to save." if matched
            else "Queued (no row of the current list matches): remember to save.")
    return pending, notice(text, "ok" if matched else "info")


@callback(Output(scoring.PENDING_LIST, "children"), Input(PENDING, "data"))
def show_pending(pending):
    return [html.Span(f"{' · '.join(f'{k}={v}' for k, v in p['selector'].items())} → {p['severity']}",
                      className=f"chip risk-{p['severity']}") for p in pending or []]


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
        checked = [c for p in pending for c in data.criteria(data_type, p["selector"], None, int(p["severity"]))]
    except (data.Invalid, KeyError, TypeError, ValueError) as e:
        return [], notice(f"Not saved: {e}", "warn"), *unchanged
    for c in checked:
        app.store.rate(data_type, day, c.selector, c.severity, analyst)
    text = f"Saved {len(checked)} rating{'s' if len(checked) != 1 else ''} as {analyst}."
    return ([], notice(text, "ok"), (saved or 0) + 1, "", network.stylesheet(data_type), NO_SELECTION[0],
            empty_state(*NO_SELECTION))


@callback(Output(DOWNLOAD, "data"), Input(EXPORT, "n_clicks"), State(PARAMS, "data"), prevent_initial_call=True)
def export(_n, params):
    data_type, day, flt, view = _view(params)
    if view is None:
        raise dash.exceptions.PreventUpdate
    return dcc.send_bytes(data.csv_bytes(view.rows), f"{data_type}_suspicious_{day.isoformat()}.csv")


clientside_callback(
    """function (node) {
        if (!node) { return ["", true]; }
        return [node.tip || node.label || "", false];
    }""",
    Output(network.HOVER, "children"), Output(network.HOVER, "hidden"), Input(network.GRAPH, "mouseoverNodeData"),
)
