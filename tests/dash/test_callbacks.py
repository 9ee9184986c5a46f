"""Page layouts and callbacks called directly (no browser), the login, and `spot dash`."""

from __future__ import annotations

import base64
import json
import re
import sys
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash, generate_password_hash

from resources.config import ConfigError, SpotConfig
from resources.store import AnalystStore
import spot_cli.main as cli
from spot_dash import auth, server
from spot_dash.app import create_app
from spot_dash.components import network
from tests.dash.conftest import DAY

PARAMS = {t: {"data_type": t, "day": DAY.isoformat(), "filter": ""} for t in ("flow", "dns", "proxy")}


@pytest.fixture
def app(dash_config):
    return create_app(dash_config)


@pytest.fixture
def page(app):
    """The Suspicious page module as the app loaded it, called inside the app (as a request would be)."""
    with app.server.app_context():
        yield sys.modules["spot_dash.pages.suspicious"]


def _text(component) -> str:
    """Everything a layout or component shows (its repr holds the nested children)."""
    return repr(component)


@pytest.mark.parametrize("data_type, shown", [("flow", 25), ("dns", 23), ("proxy", 23)])
def test_refresh_fills_grid_and_scoring_boxes(page, data_type, shown):
    rows, columns, status, _, empty_hidden, grid_hidden, _, options, values = page.refresh(PARAMS[data_type], 0)
    assert len(rows) == shown and status == f"{shown} shown · {shown} listed · 0 scored"
    assert empty_hidden and not grid_hidden and {c["field"] for c in columns} >= {"time", "score"}
    assert all(o[0] == {"label": "all", "value": "all"} for o in options) and set(values) == {"all"}


def test_empty_list_says_why(page, dash_config):
    store = AnalystStore(dash_config.store_url)
    store.rate("proxy", DAY, {"fulluri": "http://upload.badhost.xyz/gate.php"}, 1, "ana")
    for uri in {f"http://news.example.com/a/{i}" for i in range(3)}:
        store.rate("proxy", DAY, {"fulluri": uri}, 3, "ana")
    rows, _, status, empty, empty_hidden, grid_hidden, *_ = page.refresh(PARAMS["proxy"], 1)
    assert rows == [] and not empty_hidden and grid_hidden and status == "23 listed · 23 scored"
    assert "Every listed event has been scored" in _text(empty)
    _, _, _, empty, *_ = page.refresh({**PARAMS["dns"], "filter": "nothing-like-this"}, 0)
    assert "Nothing matches" in _text(empty)


def test_tampered_params_are_refused(page):
    with pytest.raises(ValueError):
        page.refresh({**PARAMS["flow"], "day": "../../etc"}, 0)
    with pytest.raises(ValueError):
        page.refresh({**PARAMS["flow"], "data_type": "users"}, 0)


def test_layouts_explain_bad_input_and_missing_days(page):
    assert "Unknown page" in _text(page.layout("secrets"))
    assert "That is not a day" in _text(page.layout("flow", date="2024-02-30"))
    assert "There is no Flows data for 2024-07-01" in _text(page.layout("flow", date="2024-07-01"))
    assert "2024-07-08" in _text(page.layout("dns"))  # defaults to the latest day with data


def test_selecting_a_row_fills_details_and_highlights(page):
    rows, *_ = page.refresh(PARAMS["flow"], 0)
    stylesheet, title, body, expanded, _ = page.select_row([rows[0]], PARAMS["flow"], [])
    assert title == "Connections between 10.0.0.5 and 203.0.113.9 in 2024-07-08 10:15 UTC"
    assert len(body[-1].children.rowData) == 4
    picked = [r["selector"] for r in stylesheet if "#e8590c" in json.dumps(r["style"])]
    assert len(picked) == 6  # two nodes and the link, each as node and edge selector
    rows, *_ = page.refresh(PARAMS["proxy"], 0)
    _, _, body, expanded, _ = page.select_row([rows[0]], PARAMS["proxy"], [])
    assert len(expanded) == 3 and "Mozilla/5.0 (test)" in _text(body)  # the row's chain opens


def test_clicking_nodes(page):
    rows, *_ = page.refresh(PARAMS["flow"], 0)
    node = {"id": "x", "label": "10.0.0.5", "kind": "internal"}
    title, body, _, hidden, text, value = page.tap_node(node, PARAMS["flow"], [], rows)
    assert title == "Bytes between 10.0.0.5 and its peers on 2024-07-08" and body.figure is not None
    assert (hidden, text, value) == (False, "Filter by 10.0.0.5", "10.0.0.5")
    rows, *_ = page.refresh(PARAMS["dns"], 0)
    title, body, *_ = page.tap_node({"label": "10.0.2.9", "kind": "client"}, PARAMS["dns"], [], rows)
    assert title.startswith("Queries of 10.0.2.9") and "dendrogram" in body.className
    rows, *_ = page.refresh(PARAMS["proxy"], 0)
    root = page.network_data.node_id("root", "Proxy")
    *_, opened, _, _, _ = page.tap_node({"id": root, "label": "Proxy", "kind": "root"}, PARAMS["proxy"], [], rows)
    assert len(opened) > 3


def test_every_way_to_filter(page):
    assert page.filter_target(PARAMS["flow"], page.FILTER_GO, "10.0.0.7", None, None, None) == (
        "/flow/suspicious?date=2024-07-08&filter=10.0.0.7", "")
    assert page.filter_target(PARAMS["flow"], page.FILTER_CLEAR, "10.0.0.7", None, None, None)[0] == (
        "/flow/suspicious?date=2024-07-08")
    href, error = page.filter_target(PARAMS["flow"], page.FILTER_GO, "a.com", None, None, None)
    assert error == "flows are filtered by an IP address"
    href, _ = page.filter_target(PARAMS["proxy"], page.FILTER_GO, "/a?b=c&d=<x>", None, None, None)
    assert href == "/proxy/suspicious?date=2024-07-08&filter=%2Fa%3Fb%3Dc%26d%3D%3Cx%3E"  # escaped into the URL
    elements = [{"data": {"id": "n1", "label": "10.0.2.9", "kind": "client"}}]
    menu = {"menuItemId": network.FILTER_ITEM, "elementId": "n1"}
    assert page.filter_target(PARAMS["dns"], network.GRAPH, None, menu, elements, None)[0].endswith("filter=10.0.2.9")
    assert page.filter_target(PARAMS["dns"], page.DETAILS_FILTER, None, None, None, "badcdn.xyz")[0].endswith(
        "filter=badcdn.xyz")


def test_score_then_save_writes_the_store(page, dash_config):
    rows, *_ = page.refresh(PARAMS["dns"], 0)
    pending, message = page.score(1, ["10.0.2.9", "all"], 1, "", [], rows, PARAMS["dns"])
    assert pending == [{"selector": {"ip_dst": "10.0.2.9"}, "severity": 1}] and "3 rows" in _text(message)
    _, message = page.score(2, ["all", "all"], 1, "", pending, rows, PARAMS["dns"])
    assert "at least one" in _text(message)
    left, message, saved, quick, *_ = page.save(1, pending, PARAMS["dns"], 0)
    assert left == [] and saved == 1 and "Saved 1 rating as tester" in _text(message)
    ratings = AnalystStore(dash_config.store_url).ratings("dns", [DAY])
    assert [(r.selector, r.severity, r.analyst) for r in ratings] == [({"ip_dst": "10.0.2.9"}, 1, "tester")]
    # what comes back from the browser is checked again
    _, message, *_ = page.save(2, [{"selector": {"ip_dst": "'; DROP TABLE ratings"}, "severity": 1}], PARAMS["dns"], 1)
    assert "Not saved" in _text(message) and len(AnalystStore(dash_config.store_url).ratings("dns", [DAY])) == 1


def test_export_is_neutralised_csv(page):
    sent = page.export(1, PARAMS["proxy"])
    assert sent["filename"] == "proxy_suspicious_2024-07-08.csv"
    text = base64.b64decode(sent["content"]).decode()
    assert text.count("\n") == 24 and "http://upload.badhost.xyz/gate.php" in text


def test_ingest_page(app):
    with app.server.app_context():
        ingest = sys.modules["spot_dash.pages.ingest"]
        assert "Flows: seeing data from 2024-07-08 10:00 to 2024-07-08 12:40 UTC · 213 records" in _text(ingest.layout("flow"))
        assert "No data ingested in this period" in _text(ingest.layout("dns", start="2020-01-01"))
        assert "That is not a period" in _text(ingest.layout("dns", start="2020-01-01", end="2024-01-01"))


def test_pages_served_locally_with_safe_headers(app):
    client = app.server.test_client()
    assert client.get("/").headers["Location"].endswith("/flow/suspicious")
    page = client.get("/dns/suspicious?date=2024-07-08")
    assert page.status_code == 200 and page.headers["X-Frame-Options"] == "DENY"
    assert not re.search(r'(src|href)="(https?:)?//', page.get_data(as_text=True))  # no CDN
    nav = json.dumps(client.get("/_dash-layout").get_json())
    assert "spot-nav" in nav


# ----- login


@pytest.fixture
def guarded(dash_config):
    cfg = SpotConfig.model_validate({**dash_config.model_dump(), "dashboard": {
        "users": {"ana": generate_password_hash("correct horse")}, "secret_key": "k" * 32}})
    return create_app(cfg, login_required=True).server.test_client()


def _csrf(client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)


def test_login_is_required_beyond_loopback(guarded, monkeypatch):
    monkeypatch.setattr(auth.time, "sleep", lambda s: None)
    assert guarded.get("/flow/suspicious").headers["Location"].startswith("/login?next=/flow/suspicious")
    assert guarded.post("/_dash-update-component", json={}).status_code == 401
    assert guarded.post("/login", data={"user": "ana", "password": "correct horse"}).status_code == 400  # no CSRF
    token = _csrf(guarded)
    assert guarded.post("/login", data={"user": "ana", "password": "wrong", "csrf": token}).status_code == 401
    assert guarded.post("/login", data={"user": "bob", "password": "correct horse", "csrf": token}).status_code == 401
    ok = guarded.post("/login", data={"user": "ana", "password": "correct horse", "csrf": token, "next": "//evil.example"})
    assert ok.status_code == 302 and ok.headers["Location"] == "/"
    assert guarded.get("/flow/suspicious").status_code == 200
    guarded.get("/logout")
    assert guarded.get("/flow/suspicious").status_code == 302


def test_login_needs_users_and_hashes(dash_config, monkeypatch):
    monkeypatch.delenv("SPOT_DASH_USER", raising=False)
    with pytest.raises(ConfigError, match="needs a login"):
        server.main(dash_config, host="0.0.0.0", port=8050)
    with pytest.raises(ValueError, match="not a password hash"):
        SpotConfig.model_validate({"dashboard": {"users": {"ana": "plaintext"}}})
    monkeypatch.setenv("SPOT_DASH_USER", "ops")
    monkeypatch.setenv("SPOT_DASH_PASSWORD_HASH", generate_password_hash("x" * 12))
    assert set(auth.users(dash_config)) == {"ops"}
    assert auth.is_loopback("127.0.0.1") and auth.is_loopback("::1") and not auth.is_loopback("0.0.0.0")


def test_hash_password_command(monkeypatch, capsys):
    answers = iter(["a long passphrase", "a long passphrase"])
    monkeypatch.setattr(auth.getpass, "getpass", lambda prompt: next(answers))
    assert cli.main(["dash", "--hash-password"]) == 0
    assert check_password_hash(capsys.readouterr().out.strip(), "a long passphrase")


@pytest.mark.slow  # starts `spot dash` in a process of its own
def test_spot_dash_serves_with_waitress(dash_config, tmp_path):
    """`spot dash` end to end: the command, waitress on loopback, a page and a callback answered."""
    import socket
    import subprocess
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "spot.toml"
    config.write_text(f'home = "{dash_config.home}"\n')
    spot = Path(sys.executable).with_name("spot")
    proc = subprocess.Popen([str(spot), "--config", str(config), "dash", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, page = time.monotonic() + 90, None  # a start-up wait, generous for a loaded machine
        while time.monotonic() < deadline and page is None:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/flow/suspicious", timeout=2)
            except OSError:
                time.sleep(0.3)
        assert page is not None and page.status == 200 and page.headers["Server"] == "spot"  # waitress, ident=spot
        layout = urllib.request.urlopen(f"http://127.0.0.1:{port}/_dash-layout", timeout=5)
        assert layout.status == 200
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
