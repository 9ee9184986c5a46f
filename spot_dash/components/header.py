"""The header: data type, pages (built from ``dash.page_registry``, so a new page module is all a new
page takes), the day, and who is signed in."""

from __future__ import annotations

import datetime as dt
import urllib.parse

import dash
from dash import Input, Output, State, dcc, html

from spot_assets.datatypes import DATA_TYPES

NAV = "spot-nav"  # the shell's dcc.Location: callbacks navigate by setting its href
DATE = "header-date"
PAGE_DAY = "header-page-day"
TYPE_SLOT = "<data_type>"


def type_title(data_type: str | None) -> str:
    """The type's title for a page title; empty for what is not a type (the page explains it)."""
    return DATA_TYPES[data_type].title if data_type in DATA_TYPES else ""


def page_href(template: str, data_type: str, **query) -> str:
    path = template.replace(TYPE_SLOT, data_type)
    query = {k: v for k, v in query.items() if v}
    return f"{path}?{urllib.parse.urlencode(query)}" if query else path


def nav_pages() -> list[dict]:
    """Registered pages that belong in the menu: one per data type (their template has the type slot)."""
    pages = [p for p in dash.page_registry.values() if TYPE_SLOT in (p.get("path_template") or "")]
    return sorted(pages, key=lambda p: (p.get("order") is None, p.get("order") or 0, p["name"]))


def header(data_type: str, template: str, day: dt.date | None, days: list[dt.date], user: str | None,
           date_picker: bool = True):
    date = day.isoformat() if day else None
    types = [dcc.Link(spec.title, href=page_href(template, t, date=date), id=f"type-{t}",
                      className="type-tab active" if t == data_type else "type-tab") for t, spec in DATA_TYPES.items()]
    pages = [dcc.Link(p["name"], href=page_href(p["path_template"], data_type, date=date),
                      className="nav-link active" if p["path_template"] == template else "nav-link")
             for p in nav_pages()]
    right = [dcc.Store(id=PAGE_DAY, data=date)]
    if date_picker:
        right.append(html.Label("Day", htmlFor=DATE, className="header-label"))
        right.append(dcc.DatePickerSingle(
            id=DATE, date=date, display_format="YYYY-MM-DD", first_day_of_week=1, clearable=False,
            min_date_allowed=min(days).isoformat() if days else None,
            max_date_allowed=max(days).isoformat() if days else None,
            initial_visible_month=date, className="header-date"))
    if user:
        right.append(html.Span([html.Span(user, className="user-name"), html.A("Sign out", href="/logout")],
                               className="user"))
    return html.Header([
        html.Div([html.Span("SPOT", className="brand-mark"), html.Span("threat hunting", className="brand-sub")],
                 className="brand"),
        html.Nav(types, className="type-tabs", **{"aria-label": "data type"}),
        html.Nav(pages, className="page-nav", **{"aria-label": "pages"}),
        html.Div(right, className="header-right"),
    ], className="app-header")


def register(app: dash.Dash) -> None:
    """A new day reloads the page for that day, clearing the filter (Spot's date picker)."""

    @app.callback(Output(NAV, "href", allow_duplicate=True), Input(DATE, "date"), State(PAGE_DAY, "data"),
                  State("_pages_location", "pathname"), prevent_initial_call=True)
    def change_day(date, page_day, pathname):
        # Dash also calls this when a page inserts the picker (its output lives in the shell): only a
        # day other than the page's own navigates.
        if not date or date[:10] == page_day:
            return dash.no_update
        if not pathname or not pathname.startswith("/") or pathname.startswith("//"):
            pathname = "/"
        return f"{pathname}?{urllib.parse.urlencode({'date': date[:10]})}"
