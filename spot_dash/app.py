"""The dashboard's application shell. Pages arrive with the dashboard issue; until then it says so."""

from __future__ import annotations

import dash
from dash import html


def create_app() -> dash.Dash:
    app = dash.Dash(__name__, title="Spot")
    app.layout = html.Main([
        html.H1("Spot"),
        html.P("The analyst dashboard is not built yet. The Dagster UI (`spot ui`) shows the ingested data."),
    ])
    return app
