"""The frame of a page about one data type and one day: the type and the day from the URL validated,
the header, and the explained empty pages (unknown type, not a day, no data yet, no data that day)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from dash import html

from spot_assets.datatypes import DATA_TYPES
from spot_dash import context
from spot_dash.components.common import empty_state
from spot_dash.components.header import header, page_href
from spot_dash.inputs import Invalid, parse_day, parse_type
from spot_dash.suspicious_data import suspicious_tables


@dataclasses.dataclass
class DayPage:
    data_type: str
    day: dt.date
    top: html.Header  # the header, to put above the page's body

    def main(self, children) -> html.Div:
        return html.Div([self.top, html.Main(children, className="page")])


def stored_day(params: dict) -> tuple[str, dt.date]:
    """The type and day a page stored for its callbacks, as the browser sent them back, validated
    again (they are user input too)."""
    return parse_type(params.get("data_type")), parse_day(params.get("day"))


def day_page(data_type: str | None, date: str | None, template: str) -> DayPage | html.Div | html.Main:
    """The page's type and day, or the page that explains why there is nothing to show. Days are those
    with a suspicious list; without ``date``, the latest of them."""
    app = context.current()
    try:
        data_type = parse_type(data_type)
    except Invalid as e:
        return html.Main(empty_state("Unknown page", str(e), "warn"), className="page")
    days = sorted({d for t in suspicious_tables(data_type) for d in app.lake.days(t)})
    user = app.analyst() if app.login_required else None
    try:
        day = parse_day(date) if date else (days[-1] if days else None)
    except Invalid as e:
        return html.Div([header(data_type, template, None, days, user),
                         html.Main(empty_state("That is not a day", str(e), "warn"), className="page")])
    page = DayPage(data_type, day, header(data_type, template, day, days, user))
    label = DATA_TYPES[data_type].title
    if day is None:
        return page.main(empty_state(
            f"No suspicious {label} yet",
            f"Ingest {data_type} data and run the model for a day: spot ingest {data_type} FILES, then "
            f"spot run --date YYYY-MM-DD.", "info"))
    if day not in days:
        latest = html.A(f"the latest day, {days[-1]}", href=page_href(template, data_type, date=days[-1].isoformat())) \
            if days else ""
        return page.main(empty_state(f"There is no {label} data for {day}",
                                     ["Pick another day with the date picker, or go to ", latest, "."] if days else "",
                                     "info"))
    return page
