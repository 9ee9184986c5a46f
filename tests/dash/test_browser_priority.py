"""The priority order in headless Chromium (dash_duo): the Suspicious page shows the day's priority list
and its reasons by default, the switch shows Spot's LDA order, and rating a row 3 writes a suppression
that leaves the list, appears in the Suppressions panel and is undone there. Fails on a console error."""

from __future__ import annotations

from resources.store import AnalystStore
from tests.dash.conftest import DAY, shot, start, until
from tests.dash.test_priority_data import priority_config  # noqa: F401  (fixture)

GRID_ROW = '#suspicious-grid .ag-center-cols-container .ag-row[row-index="{}"]'
CELL = GRID_ROW + ' .ag-cell[col-id="{}"]'


def test_dash101_priority_by_default_switch_and_suppress_then_undo(dash_duo, priority_config):
    start(dash_duo, priority_config, "/flow/suspicious")
    dash_duo.wait_for_text_to_equal("#list-status", "3 shown · 3 listed · 0 rated")
    dash_duo.wait_for_text_to_equal(CELL.format(0, "entity"), "10.0.0.5 → 203.0.113.9:4444")
    assert dash_duo.find_element(CELL.format(0, "reasons")).text == (
        "beacon: 4 connections, interval 22 s ± 9 s; rare under LDA: p = 1e-07")
    assert dash_duo.find_element(CELL.format(1, "entity")).text == "10.0.0.7 → *:53"
    dash_duo.find_element(CELL.format(0, "entity")).click()
    dash_duo.wait_for_text_to_equal("#details-title", "Why 10.0.0.5 → 203.0.113.9:4444 is listed")
    assert [li.text for li in dash_duo.find_elements("#details-body .reasons li")] == [
        "beacon: 4 connections, interval 22 s ± 9 s", "rare under LDA: p = 1e-07"]
    dash_duo.wait_for_element('#details-grid .ag-center-cols-container .ag-row[row-index="3"]')
    shot(dash_duo, "flow-priority")

    dash_duo.find_element("#list-order input[value='lda']").click()  # Spot's order
    dash_duo.wait_for_text_to_equal("#list-status", "25 shown · 25 listed · 0 scored")
    assert "order=lda" in dash_duo.driver.current_url
    dash_duo.find_element("#list-order input[value='priority']").click()  # and back
    dash_duo.wait_for_text_to_equal("#list-status", "3 shown · 3 listed · 0 rated")
    assert "order=" not in dash_duo.driver.current_url

    dash_duo.wait_for_text_to_equal(CELL.format(0, "entity"), "10.0.0.5 → 203.0.113.9:4444")
    dash_duo.find_element(CELL.format(0, "entity")).click()
    dash_duo.wait_for_text_to_equal("#score-finding", "Rates: 10.0.0.5 → 203.0.113.9:4444")
    dash_duo.find_element("#score-risk input[value='3']").click()
    dash_duo.find_element("#score-button").click()
    dash_duo.wait_for_contains_text("#score-message", "will be suppressed")
    dash_duo.find_element("#save-button").click()
    dash_duo.wait_for_contains_text("#score-message", "Saved 1 rating")
    dash_duo.wait_for_text_to_equal("#list-status", "2 shown · 3 listed · 1 rated")
    dash_duo.wait_for_contains_text("#feedback-list .feedback-item", "10.0.0.5 → 203.0.113.9:4444")
    assert "Suppressed" in dash_duo.find_element("#feedback-list .feedback-item").text
    store = AnalystStore(priority_config.store_url)
    assert [(f.entity, f.severity) for f in store.finding_feedback("flow", DAY)] == [
        ({"sip": "10.0.0.5", "dip": "203.0.113.9", "dport": 4444}, 3)]
    shot(dash_duo, "flow-priority-suppressed", whole=True)

    dash_duo.find_element("#feedback-list .feedback-item button").click()  # Undo
    dash_duo.wait_for_contains_text("#feedback-message", "Undone by tester")
    dash_duo.wait_for_contains_text("#feedback-list", "No suppressions or raises in force")
    dash_duo.wait_for_text_to_equal("#list-status", "3 shown · 3 listed · 0 rated")
    until(dash_duo, lambda d: store.finding_feedback("flow", DAY) == [], msg="revoked in the store")
    assert dash_duo.get_logs() == []


def test_dash102_dns_and_proxy_priority_lists(dash_duo, priority_config):
    start(dash_duo, priority_config, "/dns/suspicious")
    for data_type, first, title in [
            ("dns", "10.0.2.9 → badcdn.xyz", "Why 10.0.2.9 → badcdn.xyz is listed"),
            ("proxy", "10.0.3.9 → upload.badhost.xyz", "Why 10.0.3.9 → upload.badhost.xyz is listed")]:
        dash_duo.driver.get(f"{dash_duo.server_url}/{data_type}/suspicious")
        dash_duo.wait_for_text_to_equal("#list-status", "2 shown · 2 listed · 0 rated")
        dash_duo.wait_for_text_to_equal(CELL.format(0, "entity"), first)
        dash_duo.find_element(CELL.format(0, "entity")).click()
        dash_duo.wait_for_text_to_equal("#details-title", title)
        dash_duo.wait_for_element('#details-grid .ag-center-cols-container .ag-row[row-index="1"]')
        # the network view: one link per entity, a node per end
        until(dash_duo, lambda d: d.execute_script("return window.cy.edges().length") == 2, msg="two links")
        shot(dash_duo, f"{data_type}-priority")
    assert dash_duo.get_logs() == []
