"""Ingest summary: records per minute of one data type over a period (default the 7 days up to the
latest day ingested), zoomable along time (spec §5.5)."""

from __future__ import annotations

import datetime as dt
import urllib.parse

import dash
import pyarrow.compute as pc
from dash import Input, Output, State, callback, ctx, dcc, html

from spot_assets.datatypes import DATA_TYPES
from spot_dash import context
from spot_dash.components import charts
from spot_dash.components.common import card, empty_state
from spot_dash.components.header import NAV, header, type_title
from spot_dash.ingest_data import ingest_series
from spot_dash.inputs import Invalid, parse_range, parse_type

TEMPLATE = "/<data_type>/ingest"

dash.register_page(__name__, path_template=TEMPLATE, path="/flow/ingest", name="Ingest summary", order=90,
                   title=lambda data_type=None: f"Spot · {type_title(data_type)} ingest summary")

RANGE, CHART, ERROR, TYPE = "ingest-range", "ingest-chart", "ingest-error", "ingest-type"


def layout(data_type: str | None = None, start: str | None = None, end: str | None = None, **_):
    app = context.current()
    try:
        data_type = parse_type(data_type)
    except Invalid as e:
        return html.Main(empty_state("Unknown page", str(e), "warn"), className="page")
    days = app.lake.days(DATA_TYPES[data_type].table("ingest_summary"))
    user = app.analyst() if app.login_required else None
    top = header(data_type, TEMPLATE, days[-1] if days else None, days, user, date_picker=False)
    try:
        first, last = parse_range(start, end, days[-1] if days else today())
    except Invalid as e:
        return html.Div([top, html.Main(empty_state("That is not a period", str(e), "warn"), className="page")])
    series = ingest_series(app.lake, data_type, first, last)
    picker = dcc.DatePickerRange(id=RANGE, start_date=first.isoformat(), end_date=last.isoformat(),
                                 display_format="YYYY-MM-DD", first_day_of_week=1, minimum_nights=0,
                                 className="range-picker")
    label = DATA_TYPES[data_type].title
    if series.num_rows:
        minutes = series["minute"]
        title = (f"{label}: seeing data from {minutes[0].as_py():%Y-%m-%d %H:%M} to {minutes[-1].as_py():%Y-%m-%d %H:%M}"
                 f" UTC · {total_records(series):,} records")
        body = dcc.Graph(id=CHART, figure=charts.ingest_figure(series), className="ingest-chart",
                         config={"displaylogo": False, "scrollZoom": True,
                                 "modeBarButtonsToRemove": ["select2d", "lasso2d"]})
    else:
        title = f"{label} ingest summary, {first} to {last}"
        body = empty_state("No data ingested in this period",
                           "Pick another period, or ingest files for these days." if days else
                           f"Nothing of type {data_type} has been ingested yet: spot ingest {data_type} FILES.")
    return html.Div([top, html.Main([
        dcc.Store(id=TYPE, data=data_type),
        card(title, [html.Div(id=ERROR, className="field-error", role="alert"), body],
             tools=html.Div([html.Span("Period", className="field-label"), picker], className="range"),
             class_name="ingest-card"),
    ], className="page")])


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def total_records(series) -> int:
    return int(pc.sum(series["total"]).as_py() or 0)


@callback(Output(NAV, "href", allow_duplicate=True), Output(ERROR, "children"),
          Input(RANGE, "start_date"), Input(RANGE, "end_date"), State(TYPE, "data"), prevent_initial_call=True)
def change_period(start, end, data_type):
    """A new period reloads the page with it in the URL, so it can be shared and reloaded."""
    if not ctx.triggered or not ctx.triggered[0]["value"]:
        raise dash.exceptions.PreventUpdate
    try:
        data_type = parse_type(data_type)
        first, last = parse_range((start or "")[:10] or None, (end or "")[:10] or None, today())
    except Invalid as e:
        return dash.no_update, str(e)
    return f"/{data_type}/ingest?{urllib.parse.urlencode({'start': first, 'end': last})}", ""
