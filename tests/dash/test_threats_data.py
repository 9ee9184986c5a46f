"""Threat investigation and Storyboard without a browser: validation of what a request sends, the
high-risk items, the expanded searches, the storyboard states and artifacts (built by the real
``<type>_storyboard`` asset), the figures, and the pages' layouts and callbacks called directly.
Expected counts are worked out from the test's events with plain Python."""

from __future__ import annotations

import datetime as dt
import sys

import dash
import pytest

from resources.lake import LakeResource
from resources.store import AnalystStore, Rating
from spot_assets.oa.storyboard import anchor_id
from spot_dash import inputs
from spot_dash import threat_data as td
from spot_dash.app import create_app
from spot_dash.components import story
from tests.dash.conftest import ANCHORS, DAY, EVENTS, GATE, build_storyboard

PARAMS = {t: {"data_type": t, "day": DAY.isoformat()} for t in ("flow", "dns", "proxy")}


def _text(component) -> str:
    return repr(component)


# ----- validation


def test_anchors_by_type():
    assert td.parse_anchor("flow", " 10.0.0.5 ") == "10.0.0.5"
    assert td.parse_anchor("dns", "10.0.2.9") == "10.0.2.9"
    assert td.parse_anchor("dns", "x7f3k9q.badcdn.xyz") == "x7f3k9q.badcdn.xyz"
    assert td.parse_anchor("proxy", GATE) == GATE
    for data_type, bad in (("flow", "evil.com"), ("flow", None), ("dns", ""), ("proxy", "http://a/\x00"),
                           ("proxy", "x" * (inputs.MAX_TEXT + 1))):
        with pytest.raises(inputs.Invalid):
            td.parse_anchor(data_type, bad)


@pytest.mark.parametrize("value, n", [(20, 20), ("7", 7), (3.0, 3), (" 500 ", 500)])
def test_top_n_taken(value, n):
    assert td.parse_top_n(value) == n


@pytest.mark.parametrize("value", [0, 501, -1, 2.5, "2.5", "1e3", "abc", "", None, True, "٣"])
def test_top_n_refused(value):
    with pytest.raises(inputs.Invalid, match="whole number"):
        td.parse_top_n(value)


def test_summary_title_one_line_description_lines():
    assert td.parse_summary("  Beacon ", "one\r\ntwo\n") == ("Beacon", "one\ntwo")
    for title, text, error in (("", "x", "title"), ("t", "  ", "describe"), ("a\nb", "x", "control"),
                               ("t", "a\x07b", "control"), ("t" * (td.MAX_TITLE + 1), "x", "at most"),
                               ("t", "x" * (td.MAX_DESCRIPTION + 1), "at most")):
        with pytest.raises(inputs.Invalid, match=error):
            td.parse_summary(title, text)


# ----- high-risk items


def _rating(selector: dict, severity: int = 1) -> Rating:
    return Rating("flow", DAY, selector, severity, "ana", dt.datetime(2024, 7, 8, tzinfo=dt.timezone.utc))


def test_high_risk_items_are_the_anchors_of_ratings_of_1(story_config):
    store = AnalystStore(story_config.store_url)
    store.rate("flow", DAY, {"sip": "10.0.0.10", "dport": 443}, 1, "ana")
    store.rate("flow", DAY, {"dport": 22}, 1, "ana")  # a port names no anchor
    store.rate("flow", DAY, {"dip": "192.0.2.7"}, 1, "ana")
    store.rate("flow", DAY, {"dip": "192.0.2.7"}, 3, "bob")  # its current rating is 3 now
    store.save_threat("flow", DAY, "10.0.0.5", "Beacon", "text", "ana")
    items = td.high_risk(store.ratings("flow", [DAY]), store.threats("flow", DAY), "flow")
    assert [(i.anchor, i.kind, i.threat) for i in items] == [  # numeric order: .5 before .10
        ("10.0.0.5", "ip", "Beacon"), ("10.0.0.10", "ip", None), ("203.0.113.9", "ip", None)]
    dns = td.high_risk(store.ratings("dns", [DAY]), [], "dns")
    assert [(i.anchor, i.kind) for i in dns] == [("10.0.2.9", "client"), ("x7f3k9q.badcdn.xyz", "query")]
    proxy = td.high_risk(store.ratings("proxy", [DAY]), [], "proxy")
    assert [i.anchor for i in proxy] == [GATE]  # a client IP alone names no URI
    assert td.high_risk([_rating({"sip": "10.0.0.1"}, 2)], [], "flow") == []
    with pytest.raises(inputs.Invalid, match="not rated 1"):
        td.chosen_item(items, "flow", "10.9.9.9")


# ----- expanded searches


@pytest.fixture
def lake(story_config) -> LakeResource:
    return LakeResource(root=story_config.lake_root)


def test_flow_search_classifies_the_peers(lake):
    ip = "10.0.0.5"
    rows = [r for r in EVENTS["flow"]().select(["sip", "dip", "ibyt"]).to_pylist() if ip in (r["sip"], r["dip"])]
    as_dst = {r["dip"] for r in rows if r["sip"] == ip}  # the anchor opened to them
    as_src = {r["sip"] for r in rows if r["dip"] == ip}
    expected = {"inbound": as_dst - as_src, "outbound": as_src - as_dst, "two-way": as_src & as_dst}
    found = td.expanded_search(lake, "flow", DAY, ip, 20)
    tables = {t.key: t for t in found.tables}
    for direction, peers in expected.items():
        assert set(tables[direction].table["peer"].to_pylist()) == peers
        assert tables[direction].label == f"{td.CLASS_LABELS[direction]} ({len(peers)})"
    assert found.summary.startswith(f"{len(rows)} flows with {len(as_src | as_dst)} peers")
    top = td.expanded_search(lake, "flow", DAY, ip, 2)
    by_bytes = {t.key: t for t in top.tables}["bytes"].table
    biggest = sorted(((max(r["ibyt"] for r in rows if p in (r["sip"], r["dip"])), p) for p in as_src | as_dst),
                     reverse=True)[:2]
    assert by_bytes["peer"].to_pylist() == [p for _, p in biggest]
    inbound = {t.key: t for t in top.tables}["inbound"]
    assert inbound.note == f"top 2 by connections and top 2 by bytes of {len(expected['inbound'])}"
    assert td.expanded_search(lake, "flow", DAY, "10.99.0.1", 20).empty


def test_dns_search_both_ways(lake):
    events = EVENTS["dns"]().select(["ip_dst", "dns_qry_name"]).to_pylist()
    by_name = td.expanded_search(lake, "dns", DAY, "x7f3k9q.badcdn.xyz", 20)
    clients = [r["ip_dst"] for r in events if r["dns_qry_name"] == "x7f3k9q.badcdn.xyz"]
    assert by_name.tables[0].table.to_pylist() == [{"ip_dst": "10.0.2.9", "total": len(clients)}]
    by_client = td.expanded_search(lake, "dns", DAY, "10.0.2.6", 2)
    names = [r["dns_qry_name"] for r in events if r["ip_dst"] == "10.0.2.6"]
    table = by_client.tables[0]
    assert table.table.num_rows == 2 and table.note == f"top 2 of {len(set(names))}"
    assert by_client.summary == f"10.0.2.6 made {len(names)} queries for {len(set(names))} names"


def test_proxy_search_requests_clients_referred(lake):
    found = td.expanded_search(lake, "proxy", DAY, GATE, 1)
    tables = {t.key: t.table for t in found.tables}
    # conftest: three POSTs from 10.0.3.9; write_referred_requests: two GETs from 10.0.3.7, and two
    # requests for payload.bin with the threat as referer
    assert tables["requests"].num_rows == 5
    assert tables["clients"].to_pylist()[0]["clientip"] == "10.0.3.9" and tables["clients"].num_rows == 1
    assert tables["referred"].select(["fulluri", "requests", "clients"]).to_pylist() == [
        {"fulluri": "http://cdn.badhost.xyz/payload.bin", "requests": 2, "clients": 2}]
    assert found.summary == "5 requests from 2 clients; it was the referer of 2 requests for 1 URI"


# ----- storyboard states and artifacts


def test_a_saved_threat_builds_then_is_ready_then_updating(story_config, lake):
    store = AnalystStore(story_config.store_url)
    store.save_threat("flow", DAY, "10.0.0.5", "Beacon", "one\ntwo", "ana")
    [threat] = td.story_threats(lake, store.threats("flow", DAY), "flow", DAY)
    assert (threat.state, threat.artifacts, threat.id) == (td.BUILDING, (), anchor_id("10.0.0.5"))
    assert td.building([threat]) and td.artifact(lake, "flow", DAY, threat, "dendro") is None

    build_storyboard(story_config, "flow")
    [threat] = td.story_threats(lake, store.threats("flow", DAY), "flow", DAY)
    assert threat.state == td.READY and threat.artifacts == ("dendro", "impact", "globe", "timeline")
    dendro = td.artifact(lake, "flow", DAY, threat, "dendro")
    assert dendro["name"] == "10.0.0.5" and not td.building([threat])
    assert td.artifact(lake, "flow", DAY, threat, "../../briefing") is None

    folder = lake.storyboard_dir("flow", DAY)
    briefing = lake.read_json(f"{folder}/briefing.json")
    briefing["threats"][0]["updated_at"] = "2020-01-01T00:00:00Z"  # built before the last edit
    lake.write_json(f"{folder}/briefing.json", briefing)
    [threat] = td.story_threats(lake, store.threats("flow", DAY), "flow", DAY)
    assert threat.state == td.UPDATING and threat.artifacts

    lake.fs.delete_file(f"{folder}/briefing.json")
    with lake.fs.open_output_stream(f"{folder}/briefing.json") as out:
        out.write(b"{not json")
    assert td.briefing(lake, "flow", DAY) == {"threats": []}
    assert td.chosen_threat([threat], "no-such-id") == threat and td.chosen_threat([], None) is None


# ----- figures


def test_figures_from_the_artifacts(story_config, lake):
    store = AnalystStore(story_config.store_url)
    for data_type in ("flow", "dns", "proxy"):
        store.save_threat(data_type, DAY, ANCHORS[data_type], "t", "d", "ana")
        build_storyboard(story_config, data_type)
    artifacts = {}
    for data_type in ("flow", "dns", "proxy"):
        [threat] = td.story_threats(lake, store.threats(data_type, DAY), data_type, DAY)
        artifacts[data_type] = {n: td.artifact(lake, data_type, DAY, threat, n) for n in threat.artifacts}

    flow = artifacts["flow"]
    bars = story.impact_figure(flow["impact"]).data[0]
    assert list(bars.y) == ["Inbound", "Outbound", "Two-way"] and list(bars.customdata) == ["inbound", "outbound", "two-way"]
    assert bars.marker.color[0] == story.WITH_CHILDREN  # inbound peers are in named blocks: it breaks down
    drilled = story.impact_figure(flow["impact"], "inbound").data[0]
    assert list(drilled.y) == ["Partner DMZ"] and list(drilled.x) == [5]
    geo = story.map_figure(flow["globe"])
    assert geo.layout.geo.projection.type == "natural earth"
    assert {t.name for t in geo.data if t.mode == "lines"} == {"Inbound", "Outbound", "Two-way"}
    timeline = story.timeline_figure("flow", flow["timeline"])
    assert list(timeline.layout.yaxis.categoryarray)[0] == "203.0.113.9"  # the busiest peer first
    tree = story.progression_figure("flow", flow["dendro"])
    assert "Inbound · 5" in tree.data[2].text

    sankey = story.progression_figure("proxy", artifacts["proxy"]["dendro"]).data[0]
    labels = list(sankey.node.label)
    assert "10.0.3.9" in labels and "cdn.badhost.xyz/payload.bin" in labels and "(none)" in labels
    assert sum(v for s, v in zip(sankey.link.source, sankey.link.value) if labels[s] == "10.0.3.7") == 2
    dns = story.timeline_figure("dns", artifacts["dns"]["timeline"])
    assert not dns.layout.showlegend and dns.layout.xaxis.range[0] < "2024-07-08 10:30:00"
    assert story.short_uri("https://" + "a" * 50) == "a" * 14 + "…" + "a" * 15


def test_names_from_the_wire_are_text_not_markup():
    name = "<a href='javascript:alert(1)'>x</a>.evil.example"
    tree = story.progression_figure("dns", {"name": "10.0.0.1", "kind": "client",
                                            "children": [{"name": name, "total": 3}]})
    leaves = tree.data[-1]
    assert leaves.text[0].startswith("&lt;a href='javascript:alert(1)'&gt;") and "<a" not in leaves.hovertext[0]
    timeline = story.timeline_figure("dns", {"rows": [{"name": name, "start": "2024-07-08T10:00:00Z", "queries": 1}],
                                             "truncated": False, "bucket_seconds": 60})
    assert "<a" not in timeline.data[0].y[0] and "<a" not in timeline.layout.yaxis.categoryarray[0]


# ----- the pages, called as a request would call them


@pytest.fixture
def pages(story_config):
    app = create_app(story_config)
    with app.server.app_context():
        yield sys.modules["spot_dash.pages.threats"], sys.modules["spot_dash.pages.storyboard"]


def test_threats_layout_lists_items_and_explains_empty_days(pages):
    threats, _ = pages
    assert "10.0.0.5" in _text(threats.layout("flow")) and "2 rated 1" in _text(threats.layout("flow"))
    assert "There is no Proxy data for 2024-07-01" in _text(threats.layout("proxy", date="2024-07-01"))
    assert "That is not a day" in _text(threats.layout("dns", date="2024-02-30"))
    assert "Unknown page" in _text(threats.layout("users"))


def test_no_ratings_nothing_to_investigate(dash_config):
    app = create_app(dash_config)
    with app.server.app_context():
        page = _text(sys.modules["spot_dash.pages.threats"].layout("flow"))
    assert "Nothing rated high risk on 2024-07-08" in page


def test_search_callback_validates_what_the_browser_sends(pages):
    threats, _ = pages
    title, body, status, error = threats.search("10.0.0.5", 20, PARAMS["flow"])
    assert title == "Expanded search of 10.0.0.5 on 2024-07-08" and status.startswith("11 flows") and not error
    assert [tab.label for tab in body.children][:3] == ["Inbound (5)", "Outbound (1)", "Two-way (1)"]
    assert threats.search("10.0.0.5", 0, PARAMS["flow"])[3].startswith("top n is a whole number")
    title, body, *_ = threats.search("10.0.0.99", 20, PARAMS["flow"])  # not rated 1 that day
    assert "not rated 1" in _text(body)
    assert "Pick a high-risk item" in _text(threats.search(None, 20, PARAMS["flow"])[1])
    assert "not a date" in _text(threats.search("10.0.0.5", 20, {**PARAMS["flow"], "day": "../../etc"})[1])
    _, body, status, _ = threats.search("x7f3k9q.badcdn.xyz", 5, PARAMS["dns"])
    assert "Clients (top 5)" in _text(body) and status == "1 client queried x7f3k9q.badcdn.xyz 2 times"


def test_save_records_the_threat_and_prefill_reads_it_back(pages, story_config):
    threats, _ = pages
    message, options = threats.save(1, "Beacon", "one\ntwo", GATE, PARAMS["proxy"])
    assert "Saved “Beacon” as tester" in _text(message)
    assert f"threat={anchor_id(GATE)}" in _text(message) and "saved" in _text(options)
    [saved] = AnalystStore(story_config.store_url).threats("proxy", DAY)
    assert (saved.anchor, saved.title, saved.description, saved.analyst) == (GATE, "Beacon", "one\ntwo", "tester")
    heading, title, text, *disabled, note = threats.prefill(GATE, PARAMS["proxy"])
    assert (heading, title, text, disabled) == (f"Threat summary for {GATE}", "Beacon", "one\ntwo", [False] * 3)
    assert "Saved by tester" in _text(note)
    message, _ = threats.save(2, "", "x", GATE, PARAMS["proxy"])
    assert "Not saved: give the threat a title" in _text(message)
    message, _ = threats.save(3, "t", "x", "http://never.rated/", PARAMS["proxy"])
    assert "Not saved" in _text(message) and len(AnalystStore(story_config.store_url).threats("proxy", DAY)) == 1
    assert threats.prefill("http://never.rated/", PARAMS["proxy"])[-2] is True  # the save button stays off


def test_storyboard_page_builds_polls_and_draws(pages, story_config):
    _, board = pages
    assert "No threats saved for 2024-07-08 yet" in _text(board.layout("dns"))
    AnalystStore(story_config.store_url).save_threat("flow", DAY, "10.0.0.5", "Beacon", "one\ntwo", "ana")
    page = board.layout("flow")
    assert "Building the storyboard…" in _text(page) and "disabled=False" in _text(page)  # polling
    building = td.states(board._threats("flow", DAY))
    with pytest.raises(dash.exceptions.PreventUpdate):  # a poll with nothing new draws nothing
        board.redraw(PARAMS["flow"], None, building)

    build_storyboard(story_config, "flow")
    briefing, panels, stop_polling, states = board.redraw(PARAMS["flow"], None, building)
    assert stop_polling and states != building and "ready" in _text(briefing) and "one\\ntwo" in _text(briefing)
    assert [type(p).__name__ for p in panels] == ["Graph", "list", "list", "list"]  # dendro, impact, map, timeline
    figure, hidden, note = board.impact_view(PARAMS["flow"], None, "inbound")
    assert not hidden and note == "Inbound peers by network context" and list(figure.data[0].y) == ["Partner DMZ"]
    for tampered in ("<script>", "children"):
        with pytest.raises(dash.exceptions.PreventUpdate):  # not a class: nothing is drawn
            board.impact_view(PARAMS["flow"], None, tampered)
    assert board.impact_view(PARAMS["flow"], "no-such-id", None)[1] is True  # back to the classes


def test_map_explains_missing_geolocation(dash_config):
    store = AnalystStore(dash_config.store_url)
    store.save_threat("flow", DAY, "198.51.100.7", "Inbound from transit", "text", "ana")
    build_storyboard(dash_config, "flow")
    app = create_app(dash_config)
    with app.server.app_context():
        page = _text(sys.modules["spot_dash.pages.storyboard"].layout("flow"))
    assert "No geolocation configured, so no map" in page
    assert "when [context] network_context is configured" in page
