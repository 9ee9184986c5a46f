"""What a request needs besides its own input: the configuration, the lake, the analyst store and who
is asking. One per app, kept on the Flask server, so page modules stay free of globals."""

from __future__ import annotations

import dataclasses
import getpass

import flask

from resources.config import SpotConfig
from resources.lake import LakeResource
from resources.store import AnalystStore
from spot_assets.datatypes import DATA_TYPES

KEY = "spot"


@dataclasses.dataclass
class Context:
    cfg: SpotConfig
    lake: LakeResource
    store: AnalystStore
    login_required: bool

    def analyst(self) -> str:
        """The logged-in user; without a login (loopback), the configured name, else the OS user."""
        if self.login_required:
            return flask.session["user"]
        return self.cfg.dashboard.analyst or _os_user()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "analyst"


def make(cfg: SpotConfig, login_required: bool) -> Context:
    return Context(cfg, LakeResource(root=cfg.lake_root), AnalystStore(cfg.store_url, types=DATA_TYPES), login_required)


def current() -> Context:
    return flask.current_app.config[KEY]
