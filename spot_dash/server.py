"""`spot dash`: the dashboard under waitress, a production WSGI server (Dash's own server is for
development). Loopback needs no login; any other address requires one (see ``auth``)."""

from __future__ import annotations

import waitress

from resources.config import SpotConfig
from spot_dash import auth
from spot_dash.app import create_app

THREADS = 8


def main(cfg: SpotConfig, host: str | None = None, port: int | None = None, hash_password: bool = False) -> int:
    if hash_password:
        print(auth.hash_password())
        return 0
    host = host or cfg.dashboard.host
    port = port or cfg.dashboard.port
    login = not auth.is_loopback(host)
    app = create_app(cfg, login_required=login)
    print(f"Spot dashboard on http://{host}:{port}/ ({'login required' if login else 'loopback only, no login'});"
          " Ctrl-C stops it.", flush=True)
    waitress.serve(app.server, host=host, port=port, threads=THREADS, ident="spot")
    return 0
