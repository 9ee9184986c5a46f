"""The dashboard's application shell: pages from ``spot_dash/pages`` (Dash Pages), the navigation
location, the header's callbacks, the request context, and the login when one is needed."""

from __future__ import annotations

import dash
import flask
from dash import dcc, html

from resources.config import SpotConfig, load_config
from spot_dash import auth, context
from spot_dash.components import header


def create_app(cfg: SpotConfig | None = None, *, login_required: bool = False) -> dash.Dash:
    cfg = cfg or load_config()
    app = dash.Dash(
        "spot_dash", use_pages=True, pages_folder="pages", suppress_callback_exceptions=True, title="Spot",
        update_title=None, serve_locally=True,  # no CDN: the dashboard works on an isolated network
    )
    app.server.config[context.KEY] = context.make(cfg, login_required)
    if login_required:
        auth.install(app.server, auth.users(cfg), auth.secret_key(cfg))
    _harden(app)
    app.layout = html.Div([dcc.Location(id=header.NAV, refresh="callback-nav"), dash.page_container], className="app")
    header.register(app)
    return app


HOME = "/flow/suspicious"


def _harden(app: dash.Dash) -> None:
    @app.server.before_request
    def _home():
        # Dash owns "/", so the landing redirect happens before it (Pages' redirect_from cannot take "/").
        if flask.request.path == "/":
            return flask.redirect(HOME)
        return None

    @app.server.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
