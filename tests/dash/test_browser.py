"""The dashboard in headless Chromium (dash_duo): for each data type, open Suspicious, select a row,
see Details and the network view react, click a node, score and save, see the rows leave the list
and the rating in the analyst store. Every test fails on a browser console error. Screenshots of
each page go to tests/dash/screenshots/ (git-ignored) for a person to look at."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest
from selenium.webdriver.common.keys import Keys

from resources.lake import LakeResource
from resources.store import AnalystStore
from spot_dash import network_data
from tests.dash.conftest import DAY, pick, shot, start, until

GRID_ROW = '#suspicious-grid .ag-center-cols-container .ag-row[row-index="{}"]'
ROW = GRID_ROW + " .ag-cell"

# Per type: the first row's details, the node to click and what it brings, and how to score.
CASES = {
    "flow": {
        "details_title": "Connections between 10.0.0.5 and 203.0.113.9 in 2024-07-08 10:15 UTC",
        "details_rows": 4,  # three flows 10.0.0.5 -> 203.0.113.9 and one back in 10:15 (conftest)
        "first_nodes": [("internal", "10.0.0.5"), ("external", "203.0.113.9")],
        "tap": ("internal", "10.0.0.5"), "tap_shows": ".chord .main-svg",
        "quick": "203.0.113.9", "risk": 3,
        "rated": [{"sip": "203.0.113.9"}, {"dip": "203.0.113.9"}],
        "gone": lambda t: pc.or_(pc.equal(t["sip"], "203.0.113.9"), pc.equal(t["dip"], "203.0.113.9")),
    },
    "dns": {
        "details_title": "Records of x7f3k9q.badcdn.xyz, 2024-07-08 10:00-11:00 UTC",
        "details_rows": 2,
        "first_nodes": [("domain", "badcdn.xyz"), ("client", "10.0.2.9")],
        "tap": ("client", "10.0.2.9"), "tap_shows": ".dendrogram .main-svg",
        "pick": ("dns_qry_name", "x7f3k9q.badcdn.xyz"), "risk": 1,
        "rated": [{"dns_qry_name": "x7f3k9q.badcdn.xyz"}],
        "gone": lambda t: pc.equal(t["dns_qry_name"], "x7f3k9q.badcdn.xyz"),
    },
    "proxy": {
        "details_title": "Requests of 10.0.3.9 for this URI, 2024-07-08 10:00-11:00 UTC",
        "details_rows": 3,
        "first_nodes": [("method", "POST"), ("host", "POST\0upload.badhost.xyz")],
        "tap": ("root", "Proxy"), "tap_shows": None,
        "pick": ("fulluri", "http://upload.badhost.xyz/gate.php"), "risk": 2,
        "rated": [{"fulluri": "http://upload.badhost.xyz/gate.php"}],
        "gone": lambda t: pc.equal(t["fulluri"], "http://upload.badhost.xyz/gate.php"),
    },
}


def _node_style(dash_duo, kind: str, value: str, prop: str) -> str:
    return dash_duo.driver.execute_script(
        "var n = window.cy.getElementById(arguments[0]); return n.length ? n.style(arguments[1]) : null;",
        network_data.node_id(kind, value), prop)


@pytest.mark.parametrize("data_type", list(CASES))
def test_dash001_select_details_score_save(dash_duo, dash_config, data_type):
    case = CASES[data_type]
    listed = LakeResource(root=dash_config.lake_root).read_day(f"{data_type}_suspicious", DAY)
    gone = listed.filter(case["gone"](listed)).num_rows
    start(dash_duo, dash_config, f"/{data_type}/suspicious")
    dash_duo.wait_for_text_to_equal("#list-status", f"{listed.num_rows} shown · {listed.num_rows} listed · 0 scored")

    if data_type == "flow":  # enriched: the external address carries its reputation shield and globe
        shield = dash_duo.find_element(f"{GRID_ROW.format(0)} .cell-icon.shield")
        assert shield.get_attribute("title") == "Reputation: ti: High; fb: MALICIOUS"
        globe = dash_duo.find_element(f"{GRID_ROW.format(0)} .cell-icon.globe")
        assert globe.get_attribute("title") == "Location: US;Ashburn Example Transit · example-transit.net"
    dash_duo.find_element(ROW.format(0)).click()
    dash_duo.wait_for_text_to_equal("#details-title", case["details_title"])
    dash_duo.wait_for_element(f'#details-grid .ag-center-cols-container .ag-row[row-index="{case["details_rows"] - 1}"]')
    assert len(dash_duo.find_elements("#details-grid .ag-center-cols-container .ag-row")) == case["details_rows"]
    for kind, value in case["first_nodes"]:  # the row's nodes stand out in the network view
        until(dash_duo, lambda d: _node_style(dash_duo, kind, value, "border-color") == "rgb(232,89,12)",
                           msg=f"{value} highlighted")

    kind, value = case["tap"]
    before = dash_duo.driver.execute_script("return window.cy.nodes().length")
    dash_duo.driver.execute_script("window.cy.getElementById(arguments[0]).emit('tap')", network_data.node_id(kind, value))
    if case["tap_shows"]:
        dash_duo.wait_for_element(case["tap_shows"])
    else:  # the proxy root expands the whole hierarchy
        until(dash_duo, lambda d: d.execute_script("return window.cy.nodes().length") > before, msg="expanded")
    shot(dash_duo, f"{data_type}-suspicious")

    if "quick" in case:
        dash_duo.find_element("#score-quick").send_keys(case["quick"])
    else:
        pick(dash_duo, *case["pick"])
    dash_duo.find_element(f"#score-risk input[value='{case['risk']}']").click()
    dash_duo.find_element("#score-button").click()
    dash_duo.wait_for_contains_text("#score-message", f"{gone} row{'s' if gone != 1 else ''} of the list scored {case['risk']}")
    dash_duo.find_element("#save-button").click()
    dash_duo.wait_for_contains_text("#score-message", f"Saved {len(case['rated'])} rating")
    left = listed.num_rows - gone
    dash_duo.wait_for_text_to_equal("#list-status", f"{left} shown · {listed.num_rows} listed · {gone} scored")
    shot(dash_duo, f"{data_type}-scored")

    ratings = AnalystStore(dash_config.store_url).ratings(data_type, [DAY])
    assert sorted(map(repr, (r.selector for r in ratings))) == sorted(map(repr, case["rated"]))
    assert {(r.severity, r.analyst) for r in ratings} == {(case["risk"], "tester")}
    assert dash_duo.get_logs() == []


def test_dash002_filter_box_and_empty_states(dash_duo, dash_config):
    start(dash_duo, dash_config, "/flow/suspicious")
    dash_duo.wait_for_contains_text("#list-status", "shown")
    box = dash_duo.find_element("#filter-input")
    box.send_keys("10.0.0.7", Keys.ENTER)
    dash_duo.wait_for_text_to_equal("#list-status", "2 shown · 25 listed · 0 scored")
    assert "filter=10.0.0.7" in dash_duo.driver.current_url
    box = dash_duo.find_element("#filter-input")
    box.clear()
    box.send_keys("not an ip", Keys.ENTER)
    dash_duo.wait_for_text_to_equal("#filter-error", "flows are filtered by an IP address")
    dash_duo.driver.get(f"{dash_duo.server_url}/flow/suspicious?date=2024-07-01")
    dash_duo.wait_for_contains_text(".empty-title", "There is no Flows data for 2024-07-01")
    shot(dash_duo, "flow-empty-day")
    dash_duo.driver.get(f"{dash_duo.server_url}/dns/suspicious?date=2024-13-45")
    dash_duo.wait_for_contains_text(".empty-title", "That is not a day")
    assert dash_duo.get_logs() == []


def test_dash003_ingest_summary(dash_duo, dash_config):
    start(dash_duo, dash_config, "/flow/suspicious")
    dash_duo.find_element(".page-nav a[href^='/flow/ingest']").click()
    dash_duo.wait_for_contains_text(".ingest-card h2", "Flows: seeing data from 2024-07-08 10:00 to")
    dash_duo.wait_for_element("#ingest-chart .main-svg")
    shot(dash_duo, "flow-ingest")
    dash_duo.find_element("#type-dns").click()
    dash_duo.wait_for_contains_text(".ingest-card h2", "DNS: seeing data from 2024-07-08 10:00")
    dash_duo.driver.get(f"{dash_duo.server_url}/proxy/ingest?start=2024-01-01&end=2024-01-05")
    dash_duo.wait_for_contains_text(".empty-title", "No data ingested in this period")
    assert dash_duo.get_logs() == []
