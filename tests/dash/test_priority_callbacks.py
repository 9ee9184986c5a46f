"""The Suspicious page's priority order, its callbacks called directly (no browser): the list by default,
the switch to Spot's LDA order, the fallback on a day without a list, a row's reasons and events, rating a
row (feedback on its entity, and for flows the same Spot rating), the suppressions panel and Undo."""

from __future__ import annotations

import base64
import datetime as dt
import sys

import pytest

from resources.lake import LakeResource
from resources.store import FEEDBACK_DAYS, AnalystStore
from spot_dash import threat_data
from spot_dash.app import create_app
from tests.dash.conftest import DAY, write_day
from tests.dash.test_priority_data import PRIORITY, priority_config  # noqa: F401  (fixture)

PARAMS = {t: {"data_type": t, "day": DAY.isoformat(), "filter": "", "order": "priority"} for t in PRIORITY}
LDA = {t: {**p, "order": "lda"} for t, p in PARAMS.items()}
FIRST = {"flow": "10.0.0.5 → 203.0.113.9:4444", "dns": "10.0.2.9 → badcdn.xyz",
         "proxy": "10.0.3.9 → upload.badhost.xyz"}


@pytest.fixture
def page(priority_config):
    app = create_app(priority_config)
    with app.server.app_context():
        yield sys.modules["spot_dash.pages.suspicious"]


def _text(component) -> str:
    return repr(component)


def test_the_priority_list_is_the_default_and_the_switch_names_the_lda_order(page, priority_config):
    shown = _text(page.layout("flow"))
    assert "'order': 'priority'" in shown and "Priority" in shown and "3 Low: suppress" in shown
    assert "'order': 'lda'" in _text(page.layout("flow", order="lda"))
    assert "'order': 'priority'" in _text(page.layout("flow", order="nonsense"))  # the default again
    assert page.switch_order("lda", PARAMS["flow"]) == "/flow/suspicious?date=2024-07-08&order=lda"
    assert page.switch_order("priority", LDA["flow"]) == "/flow/suspicious?date=2024-07-08"
    assert page.filter_target(LDA["flow"], page.FILTER_GO, "10.0.0.7", None, None, None)[0] == (
        "/flow/suspicious?date=2024-07-08&filter=10.0.0.7&order=lda")  # the filter keeps the order
    older = DAY - dt.timedelta(days=1)
    write_day(LakeResource(root=priority_config.lake_root), "flow", older)  # a day from before the detectors
    fallback = _text(page.layout("flow", date=older.isoformat()))
    assert "'order': 'lda'" in fallback and f"No priority list for {older}" in fallback


@pytest.mark.parametrize("data_type", list(PRIORITY))
def test_refresh_shows_ranks_entities_and_reasons(page, data_type):
    rows, columns, status, _, empty_hidden, grid_hidden, *_ = page.refresh(PARAMS[data_type], 0)
    n = len(PRIORITY[data_type])
    assert [r["rank"] for r in rows] == list(range(1, n + 1)) and rows[0]["entity"] == FIRST[data_type]
    assert [r["reasons"] for r in rows] == [p[2] for p in PRIORITY[data_type]]
    assert [c["field"] for c in columns] == ["rank", "score", "entity", "reasons", "detectors", "events"]
    assert status == f"{n} shown · {n} listed · 0 rated" and empty_hidden and not grid_hidden
    rows, columns, status, *_ = page.refresh(LDA[data_type], 0)  # Spot's order: its events by score
    assert "score" in {c["field"] for c in columns} and "reasons" not in rows[0] and "listed · 0 scored" in status


def test_a_rows_details_say_why_and_show_its_events(page):
    rows, *_ = page.refresh(PARAMS["flow"], 0)
    stylesheet, title, body, _, _ = page.select_row([rows[0]], PARAMS["flow"], [])
    assert title == "Why 10.0.0.5 → 203.0.113.9:4444 is listed"
    assert [li.children for li in body[0].children] == ["beacon: 4 connections, interval 22 s ± 9 s",
                                                        "rare under LDA: p = 1e-07"]
    assert len(body[-1].children.rowData) == 4  # the pair's flows to port 4444 (conftest)
    assert sum("#e8590c" in repr(r["style"]) for r in stylesheet) == 6  # its two nodes and link stand out
    elements, layout = page.draw_network(rows, [], PARAMS["flow"])
    assert layout["name"] == "cose" and len([e for e in elements if "source" in e["data"]]) == 3


def test_rating_a_flow_row_3_suppresses_it_and_is_a_spot_rating_and_undo_brings_it_back(page, priority_config):
    rows, *_ = page.refresh(PARAMS["flow"], 0)
    _, message = page.score(1, [], 3, "", [], rows, PARAMS["flow"], None)
    assert "Select a row" in _text(message)
    _, message = page.score(1, [], 2, "", [], rows, PARAMS["flow"], [rows[0]])
    assert "1 (raise) or 3 (suppress)" in _text(message)
    pending, message = page.score(1, [], 3, "", [], rows, PARAMS["flow"], [rows[0]])
    assert pending == [{"finding": {"sip": "10.0.0.5", "dip": "203.0.113.9", "dport": 4444}, "severity": 3}]
    assert "will be suppressed" in _text(message)
    assert "10.0.0.5 → 203.0.113.9:4444 → suppress" in _text(page.show_pending(pending, PARAMS["flow"]))
    left, message, saved, *_ = page.save(1, pending, PARAMS["flow"], 0)
    assert left == [] and saved == 1 and "Saved 1 rating as tester" in _text(message)

    store = AnalystStore(priority_config.store_url)
    [feedback] = store.finding_feedback("flow", DAY)
    assert (feedback.entity, feedback.severity, feedback.detector, feedback.analyst) == (
        {"sip": "10.0.0.5", "dip": "203.0.113.9", "dport": 4444}, 3, "*", "tester")
    assert [(r.selector, r.severity) for r in store.low_risk("flow", DAY, 0)] == [
        ({"sip": "10.0.0.5", "dip": "203.0.113.9", "dport": 4444}, 3)]  # Spot's LDA feedback as before
    rows, _, status, *_ = page.refresh(PARAMS["flow"], 1)
    assert [r["rank"] for r in rows] == [2, 3] and status == "2 shown · 3 listed · 1 rated"
    panel = _text(page.list_feedback(PARAMS["flow"], 1))
    until = (DAY + dt.timedelta(days=FEEDBACK_DAYS)).isoformat()
    assert "Suppressed" in panel and "10.0.0.5 → 203.0.113.9:4444" in panel and f"until {until}" in panel

    saved, message = page.undo_feedback(PARAMS["flow"], feedback.id, 1)
    assert saved == 2 and "Undone by tester" in _text(message)
    assert "Spot rating it also recorded stays" in _text(message)
    assert store.finding_feedback("flow", DAY) == [] and "No suppressions or raises" in _text(
        page.list_feedback(PARAMS["flow"], 2))
    assert len(page.refresh(PARAMS["flow"], 2)[0]) == 3
    _, message = page.undo_feedback(PARAMS["flow"], feedback.id, 2)  # twice, or a stale panel
    assert "no longer in force" in _text(message)


def test_raising_a_flow_row_lists_its_ip_under_threat_investigation(page, priority_config):
    rows, *_ = page.refresh(PARAMS["flow"], 0)
    pending, _ = page.score(1, [], 1, "", [], rows, PARAMS["flow"], [rows[1]])  # 10.0.0.7 → *:53
    page.save(1, pending, PARAMS["flow"], 0)
    store = AnalystStore(priority_config.store_url)
    items = threat_data.high_risk(store.ratings("flow", [DAY]), store.threats("flow", DAY), "flow")
    assert [(i.anchor, i.kind) for i in items] == [("10.0.0.7", "ip")]
    assert "Raised" in _text(page.list_feedback(PARAMS["flow"], 1))


def test_rating_a_dns_row_is_feedback_only(page, priority_config):
    rows, *_ = page.refresh(PARAMS["dns"], 0)
    pending, _ = page.score(1, [], 1, "", [], rows, PARAMS["dns"], [rows[1]])
    page.save(1, pending, PARAMS["dns"], 0)
    store = AnalystStore(priority_config.store_url)
    assert [(f.entity, f.severity) for f in store.finding_feedback("dns", DAY)] == [({"domain": "example.com"}, 1)]
    assert store.ratings("dns", [DAY]) == []  # a registered domain is no rating key: LDA feedback is the LDA order's
    assert "Raised" in _text(page.list_feedback(PARAMS["dns"], 1))
    assert "LDA feedback and Threat investigation come from ratings" in _text(page.layout("dns"))
    [feedback] = store.finding_feedback("dns", DAY)
    _, message = page.undo_feedback(PARAMS["dns"], feedback.id, 1)
    assert "Undone by tester." in _text(message) and "Spot rating" not in _text(message)


def test_tampered_findings_are_not_saved(page, priority_config):
    _, message, *_ = page.save(1, [{"finding": {"sip": "10.0.0.5' OR 1=1"}, "severity": 3}], PARAMS["flow"], 0)
    assert "Not saved" in _text(message)
    _, message, *_ = page.save(1, [{"finding": {"sip": "10.0.0.5"}, "severity": 2}], PARAMS["flow"], 0)
    assert "Not saved" in _text(message)
    assert AnalystStore(priority_config.store_url).finding_feedback("flow", DAY) == []


def test_export_follows_the_order(page):
    sent = page.export(1, PARAMS["proxy"])
    text = base64.b64decode(sent["content"]).decode()
    assert sent["filename"] == "proxy_priority_2024-07-08.csv" and "upload: 3 POSTs" in text and text.count("\n") == 3
    assert page.export(1, LDA["proxy"])["filename"] == "proxy_suspicious_2024-07-08.csv"
