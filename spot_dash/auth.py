"""Login for a dashboard bound beyond the loopback address.

On 127.0.0.1 only the machine's own users can connect, so no login is asked (as Spot's Jupyter-served
UI did). Bound to any other address, every request needs a session made by the login form: users
and werkzeug password hashes come from ``[dashboard] users`` or SPOT_DASH_USER/SPOT_DASH_PASSWORD_HASH;
no plaintext password is stored anywhere. Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax)
keyed by SPOT_DASH_SECRET_KEY, ``[dashboard] secret_key`` or a random key per start. The form carries
a CSRF token, and a failed attempt costs a second.
"""

from __future__ import annotations

import getpass
import hmac
import ipaddress
import os
import re
import secrets
import time

import flask
from markupsafe import escape
from werkzeug.security import check_password_hash, generate_password_hash

from resources.config import ConfigError, SpotConfig

OPEN_PATHS = ("/login", "/logout", "/_favicon.ico")
_HASH = re.compile(r"(scrypt|pbkdf2):[^$]+\$[^$]+\$[0-9a-f]+")
# Checked against when the user is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = generate_password_hash(secrets.token_hex(8))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def users(cfg: SpotConfig) -> dict[str, str]:
    found = dict(cfg.dashboard.users)
    name, hashed = os.environ.get("SPOT_DASH_USER"), os.environ.get("SPOT_DASH_PASSWORD_HASH")
    if name and hashed:
        if not _HASH.fullmatch(hashed):
            raise ConfigError("SPOT_DASH_PASSWORD_HASH is not a password hash (make one with `spot dash --hash-password`)")
        found[name] = hashed
    return found


def secret_key(cfg: SpotConfig) -> str:
    configured = cfg.dashboard.secret_key.get_secret_value() if cfg.dashboard.secret_key else None
    return os.environ.get("SPOT_DASH_SECRET_KEY") or configured or secrets.token_hex(32)


def hash_password() -> str:
    """Ask for a password twice (not echoed) and return its hash for ``[dashboard] users``."""
    first = getpass.getpass("password: ")
    if len(first) < 8:
        raise ValueError("a password of at least 8 characters")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return generate_password_hash(first)


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never another host (``//x``, ``/\\x``) or a scheme."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")) and _printable(target):
        return target
    return "/"


def _printable(text: str) -> bool:
    return len(text) <= 512 and not re.search(r"[\x00-\x20\x7f]", text)


def _page(error: str, token: str, target: str) -> str:
    message = f'<p class="error">{escape(error)}</p>' if error else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Spot · sign in</title>
<style>
body{{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#eef1f5;color:#1f2933}}
header{{background:#14202e;color:#fff;padding:14px 24px;font-weight:600;letter-spacing:.04em}}
form{{max-width:320px;margin:80px auto;background:#fff;border-radius:8px;padding:28px;box-shadow:0 2px 8px rgba(20,32,46,.12)}}
h1{{font-size:18px;margin:0 0 18px}} label{{display:block;font-size:13px;margin:12px 0 4px;color:#52606d}}
input{{width:100%;box-sizing:border-box;padding:8px;border:1px solid #cbd2d9;border-radius:4px;font-size:14px}}
button{{margin-top:20px;width:100%;padding:9px;border:0;border-radius:4px;background:#1f6feb;color:#fff;font-size:14px}}
.error{{color:#b42318;font-size:13px}}
</style></head><body><header>SPOT</header>
<form method="post" action="/login"><h1>Sign in</h1>{message}
<input type="hidden" name="csrf" value="{escape(token)}"><input type="hidden" name="next" value="{escape(target)}">
<label for="user">User</label><input id="user" name="user" autocomplete="username" autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit">Sign in</button></form></body></html>"""


def install(server: flask.Flask, known: dict[str, str], key: str) -> None:
    """Require a session for every request except the login form itself."""
    if not known:
        raise ConfigError("the dashboard is bound beyond 127.0.0.1, so it needs a login: add [dashboard] users "
                          "(hashes from `spot dash --hash-password`) or set SPOT_DASH_USER and SPOT_DASH_PASSWORD_HASH")
    server.secret_key = key
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")

    @server.before_request
    def _require_login():
        if flask.request.path in OPEN_PATHS or flask.session.get("user") in known:
            return None
        if flask.request.path.startswith("/_dash-"):
            return flask.jsonify(error="login required"), 401
        return flask.redirect(f"/login?next={flask.request.full_path if flask.request.query_string else flask.request.path}")

    def _form(error: str = "", status: int = 200):
        token = flask.session.setdefault("csrf", secrets.token_urlsafe(32))
        return _page(error, token, _safe_next(flask.request.values.get("next"))), status

    @server.route("/login", methods=["GET", "POST"])
    def login():
        if flask.request.method == "GET":
            return _form()
        form = flask.request.form
        token = flask.session.get("csrf")
        if not token or not hmac.compare_digest(form.get("csrf", ""), token):
            return _form("The form expired; try again.", 400)
        name = form.get("user", "")
        if not check_password_hash(known.get(name, _DUMMY), form.get("password", "")) or name not in known:
            time.sleep(1)
            return _form("Unknown user or wrong password.", 401)
        flask.session.clear()
        flask.session["user"] = name
        return flask.redirect(_safe_next(form.get("next")))

    @server.route("/logout")
    def logout():
        flask.session.clear()
        return flask.redirect("/login")
