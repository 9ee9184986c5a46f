"""Threat investigation and Storyboard in headless Chromium (dash_duo): for each data type, pick an item
rated 1, run the expanded search and change its n, save a threat summary, follow the link to the
Storyboard, see it building, build it with the real ``<type>_storyboard`` asset (what the sensor's run
does) and see the briefing and its artifacts appear. Every test fails on a browser console error (a
map base layer fetched from a CDN would be one: there is no network here). Screenshots go to
tests/dash/screenshots/."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from resources.store import AnalystStore
from spot_assets.oa.storyboard import anchor_id
from tests.dash.conftest import ANCHORS, DAY, EVENTS, GATE, build_storyboard, shot, start, until


def _flow_counts(ip: str) -> tuple[int, int]:
    """Flows of ``ip`` and its distinct peers, counted from the test's events."""
    rows = [r for r in EVENTS["flow"]().select(["sip", "dip"]).to_pylist() if ip in (r["sip"], r["dip"])]
    return len(rows), len({r["dip"] if r["sip"] == ip else r["sip"] for r in rows})


FLOWS, PEERS = _flow_counts("10.0.0.5")
CASES = {
    "flow": {"items": ["10.0.0.5", "203.0.113.9"], "status": f"{FLOWS} flows with {PEERS} peers",
             "grid": "#search-inbound", "rows": 5, "top2": "Top 2 by connections",
             "panels": ["progression", "impact", "map", "timeline"]},
    "dns": {"items": ["10.0.2.9", "x7f3k9q.badcdn.xyz"], "status": "1 client queried x7f3k9q.badcdn.xyz 2 times",
            "grid": "#search-clients", "rows": 1, "top2": "Clients (top 2)", "panels": ["progression", "timeline"]},
    "proxy": {"items": [GATE], "status": "5 requests from 2 clients", "grid": "#search-requests", "rows": 5,
              "top2": "Top 2 clients", "panels": ["progression", "timeline"]},
}
TITLE, TEXT = "Beaconing to a staging host", "Seen every few minutes from one desktop.\nIsolate it and reimage."
OTHER = ("203.0.113.9", "Scanner at the edge", "Probes port 4444 on the servers.")


def _grid_rows(dash_duo, grid: str) -> int:
    return len(dash_duo.find_elements(f"{grid} .ag-center-cols-container .ag-row"))


@pytest.mark.parametrize("data_type", list(CASES))
def test_threat001_investigate_save_and_storyboard(dash_duo, story_config, data_type):
    case, anchor = CASES[data_type], ANCHORS[data_type]
    if data_type == "flow":  # a threat saved earlier, so the briefing has two to pick from
        AnalystStore(story_config.store_url).save_threat("flow", DAY, *OTHER, "ana")
    start(dash_duo, story_config, f"/{data_type}/threats")
    dash_duo.wait_for_element(".item-list")
    assert [e.text for e in dash_duo.find_elements(".item-anchor")] == case["items"]

    dash_duo.find_element(f".item-list input[value='{anchor}']").click()
    dash_duo.wait_for_text_to_equal("#search-title", f"Expanded search of {anchor} on {DAY}")
    dash_duo.wait_for_contains_text("#search-status", case["status"])
    until(dash_duo, lambda d: _grid_rows(dash_duo, case["grid"]) == case["rows"], msg="search rows")
    dash_duo.wait_for_text_to_equal("#threat-form-title", f"Threat summary for {anchor}")
    box = dash_duo.find_element("#search-top-n")
    box.send_keys(Keys.BACKSPACE * 3, "2", Keys.ENTER)
    dash_duo.wait_for_contains_text(".search-card", case["top2"])
    if data_type == "flow":  # another tab: the top 2 peers by bytes
        dash_duo.find_element(".search-tab:last-child").click()
        until(dash_duo, lambda d: _grid_rows(dash_duo, "#search-bytes") == 2, msg="top 2 by bytes")
    shot(dash_duo, f"{data_type}-threats")

    dash_duo.find_element("#threat-title").send_keys(TITLE)
    dash_duo.find_element("#threat-description").send_keys(TEXT)
    dash_duo.find_element("#threat-save").click()
    dash_duo.wait_for_contains_text("#threat-message", f"Saved “{TITLE}” as tester")
    saved = {t.anchor: t for t in AnalystStore(story_config.store_url).threats(data_type, DAY)}
    assert (saved[anchor].title, saved[anchor].description, saved[anchor].analyst) == (TITLE, TEXT, "tester")
    dash_duo.wait_for_text_to_equal(f".item-list label:has(input[value='{anchor}']) .chip.saved", "saved")

    dash_duo.find_element("#storyboard-link").click()
    dash_duo.wait_for_contains_text(".brief.selected .brief-title", TITLE)
    dash_duo.wait_for_text_to_equal(".brief.selected .chip.state", "building…")
    dash_duo.wait_for_contains_text(".dendro-card", "Building the storyboard…")
    shot(dash_duo, f"{data_type}-storyboard-building")

    build_storyboard(story_config, data_type)  # what the threat sensor's run does
    dash_duo.wait_for_text_to_equal(".brief.selected .chip.state", "ready", timeout=10)
    assert dash_duo.find_element(".brief.selected .brief-text").text == TEXT
    for name in case["panels"]:
        dash_duo.wait_for_element(f".{name} .main-svg")
    if data_type == "flow":
        _flow_storyboard(dash_duo)
    shot(dash_duo, f"{data_type}-storyboard", whole=True)
    assert dash_duo.get_logs() == []


def _flow_storyboard(dash_duo):
    # the map's base layer came from this server (world_110m.json): land is drawn
    until(dash_duo, lambda d: d.execute_script("return document.querySelectorAll('.map .layer.land path').length") > 0,
          msg="land on the map")
    # impact: a blue bar breaks down into network contexts, and back
    bar = dash_duo.find_elements(".impact .bars .point path")[0]
    ActionChains(dash_duo.driver).move_to_element(bar).click().perform()
    dash_duo.wait_for_text_to_equal("#impact-note", "Inbound peers by network context")
    dash_duo.wait_for_contains_text(".impact", "Partner DMZ")
    dash_duo.find_element("#impact-back").click()
    dash_duo.wait_for_text_to_equal("#impact-note", "Click a blue bar to see its peers by network context.")
    # the other threat of the briefing: its description and artifacts replace these
    other = dash_duo.find_element(f"[id*='{anchor_id(OTHER[0])}'].brief-head")
    other.click()
    dash_duo.wait_for_text_to_equal(".brief.selected .brief-text", OTHER[2])
    dash_duo.wait_for_contains_text(".progression", OTHER[0])
    dash_duo.find_element(f"[id*='{anchor_id(ANCHORS['flow'])}'].brief-head").click()
    dash_duo.wait_for_text_to_equal(".brief.selected .brief-text", TEXT)


def test_threat002_empty_states(dash_duo, dash_config):
    """No ratings, no threats, and a flow storyboard without geolocation: each page says why."""
    start(dash_duo, dash_config, "/flow/threats")
    dash_duo.wait_for_contains_text(".items-card .empty-title", f"Nothing rated high risk on {DAY}")
    dash_duo.driver.get(f"{dash_duo.server_url}/dns/storyboard")
    dash_duo.wait_for_contains_text(".empty-title", f"No threats saved for {DAY} yet")
    shot(dash_duo, "dns-storyboard-empty")
    store = AnalystStore(dash_config.store_url)
    store.rate("flow", DAY, {"sip": "198.51.100.7"}, 1, "ana")
    store.save_threat("flow", DAY, "198.51.100.7", "Inbound from transit", "One connection in.", "ana")
    build_storyboard(dash_config, "flow")
    dash_duo.driver.get(f"{dash_duo.server_url}/flow/storyboard?date={DAY}")
    dash_duo.wait_for_contains_text(".globe-card", "No geolocation configured, so no map")
    dash_duo.wait_for_contains_text(".impact-card", "when [context] network_context is configured")
    dash_duo.wait_for_element(".timeline .main-svg")
    shot(dash_duo, "flow-storyboard-no-geo", whole=True)
    dash_duo.driver.get(f"{dash_duo.server_url}/proxy/threats?date=2024-07-01")
    dash_duo.wait_for_contains_text(".empty-title", "There is no Proxy data for 2024-07-01")
    assert dash_duo.get_logs() == []
