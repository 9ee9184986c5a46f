"""The priority order's data functions on hand-written ``<type>_priority`` lists written into the dashboard
tests' lake (conftest): the list less the entities rated that day, the filter, a row's events (counted
here again from the conftest events by brute force), the network of entities and what a rating records.

``PRIORITY`` and ``priority_config`` are shared with the callback and browser tests of the priority order."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from resources.config import SpotConfig
from resources.lake import LakeResource
from resources.store import FindingFeedback
from spot_assets.datatypes import DATA_TYPES
from spot_assets.detect.priority_schema import priority_schema
from spot_dash import exports, inputs
from spot_dash import priority_data as pd_
from spot_dash.components import grid
from tests.dash.conftest import DAY, EVENTS

# Per type, the rows of the day's list in rank order: (score, entity columns, reasons, detectors, lda_score, events).
PRIORITY = {
    "flow": [
        (0.93, {"sip": "10.0.0.5", "dip": "203.0.113.9", "dport": 4444},
         "beacon: 4 connections, interval 22 s ± 9 s; rare under LDA: p = 1e-07", ["beacon", "lda"], 1e-7, 4),
        (0.71, {"sip": "10.0.0.7", "dip": None, "dport": 53},
         "outside resolver: 2 lookups to 1 external server", ["dns_outside"], None, 2),
        (0.40, {"sip": "10.0.1.3", "dip": None, "dport": None}, "new talker: 9 peers never seen before", ["novelty"],
         None, 9),
    ],
    "dns": [
        (0.88, {"ip_dst": "10.0.2.9", "domain": "badcdn.xyz"}, "dga: x7f3k9q scores 0.97 as generated",
         ["dga", "lda"], 1e-7, 2),
        (0.35, {"ip_dst": None, "domain": "example.com"}, "rare answer: 1 address for 5 names", ["rare_answer"],
         None, 60),
    ],
    "proxy": [
        (0.90, {"clientip": "10.0.3.9", "host": "upload.badhost.xyz"}, "upload: 3 POSTs to a host first seen today",
         ["upload", "lda"], 1e-7, 3),
        (0.30, {"clientip": "10.0.3.1", "host": "news.example.com"}, "rare agent: Mozilla/5.0 (test)", ["agent"],
         None, 10),
    ],
}


def priority_table(data_type: str, day: dt.date = DAY) -> pa.Table:
    kind = DATA_TYPES[data_type]
    rows = [{"day": day, "rank": rank, "score": score, "entity": kind.label(entity), **entity, "reasons": reasons,
             "detectors": detectors, "lda_score": lda, "events": events, "feedback": None}
            for rank, (score, entity, reasons, detectors, lda, events) in enumerate(PRIORITY[data_type], start=1)]
    return pa.Table.from_pylist(rows, schema=priority_schema(kind))


def write_priority(lake: LakeResource, day: dt.date = DAY) -> None:
    for data_type in PRIORITY:
        lake.replace_day(pd_.table_name(data_type), day, priority_table(data_type, day))


@pytest.fixture
def priority_config(dash_config) -> SpotConfig:
    """The dashboard tests' home with a priority list for every type of the day."""
    write_priority(LakeResource(root=dash_config.lake_root))
    return dash_config


@pytest.fixture
def lake(priority_config) -> LakeResource:
    return LakeResource(root=priority_config.lake_root)


def feedback(data_type: str, entity: dict, day: dt.date = DAY, severity: int = 3) -> FindingFeedback:
    return FindingFeedback(1, data_type, day, "*", entity, severity, "ana", dt.datetime(2024, 7, 8), day)


def test_the_list_in_rank_order_less_what_was_rated_that_day(lake):
    view = pd_.priority_view(lake, [], "flow", DAY)
    assert view.rows["entity"].to_pylist() == ["10.0.0.5 → 203.0.113.9:4444", "10.0.0.7 → *:53", "10.0.1.3 → *:*"]
    assert (view.listed, view.rated) == (3, 0)
    rated = pd_.priority_view(lake, [feedback("flow", {"sip": "10.0.0.7", "dport": 53})], "flow", DAY)
    assert rated.rows["rank"].to_pylist() == [1, 3] and (rated.listed, rated.rated) == (3, 1)
    # feedback on a source selects every row of it; feedback on one pair does not hide the row of "any" peer
    wide = pd_.priority_view(lake, [feedback("flow", {"sip": "10.0.1.3", "dip": "192.0.2.7"}),
                                    feedback("flow", {"sip": "10.0.0.5"})], "flow", DAY)
    assert wide.rows["rank"].to_pylist() == [2, 3]
    # an earlier day's raise keeps its row in the list; an earlier suppression in force hides it
    before = DAY - dt.timedelta(days=1)
    raised = pd_.priority_view(lake, [feedback("flow", {"sip": "10.0.0.5"}, before, severity=1)], "flow", DAY)
    assert raised.rows.num_rows == 3 and raised.rated == 0
    suppressed = pd_.priority_view(lake, [feedback("flow", {"sip": "10.0.0.5"}, before)], "flow", DAY)
    assert suppressed.rows["rank"].to_pylist() == [2, 3] and suppressed.rated == 1
    assert pd_.priority_view(lake, [], "flow", DAY - dt.timedelta(days=1)) is None  # a day without a list


@pytest.mark.parametrize("data_type, text, ranks", [
    ("flow", "203.0.113.9", [1]), ("flow", "10.0.0.7", [2]), ("dns", "10.0.2.9", [1]), ("dns", "EXAMPLE", [2]),
    ("proxy", "badhost", [1]), ("proxy", "10.0.3.1", [2]),
])
def test_the_filter_box_on_entities(lake, data_type, text, ranks):
    view = pd_.priority_view(lake, [], data_type, DAY, inputs.parse_filter(data_type, text))
    assert view.rows["rank"].to_pylist() == ranks


def _brute_force(data_type: str, keep) -> int:
    return sum(1 for row in EVENTS[data_type]().to_pylist() if keep(row))


@pytest.mark.parametrize("data_type, entity, keep", [
    ("flow", {"sip": "10.0.0.5", "dip": "203.0.113.9", "dport": 4444},
     lambda r: (r["sip"], r["dip"], r["dport"]) == ("10.0.0.5", "203.0.113.9", 4444)),
    ("flow", {"sip": "10.0.0.7", "dip": None, "dport": 53}, lambda r: r["sip"] == "10.0.0.7" and r["dport"] == 53),
    ("dns", {"ip_dst": None, "domain": "example.com"},
     lambda r: r["dns_qry_name"] == "example.com" or r["dns_qry_name"].endswith(".example.com")),
    ("dns", {"ip_dst": "10.0.2.9", "domain": "badcdn.xyz"},
     lambda r: r["ip_dst"] == "10.0.2.9" and r["dns_qry_name"].endswith(".badcdn.xyz")),
    ("proxy", {"clientip": None, "host": "upload.badhost.xyz"}, lambda r: r["host"] == "upload.badhost.xyz"),
])
def test_a_rows_events_are_its_entitys(lake, data_type, entity, keep):
    table = pd_.entity_events(lake, data_type, DAY, entity)
    assert table.num_rows == _brute_force(data_type, keep) > 0
    assert table["ts"].to_pylist() == sorted(table["ts"].to_pylist())
    assert pd_.entity_events(lake, data_type, DAY, entity, limit=1).num_rows == 1


def test_entities_from_the_browser_are_parsed_again():
    assert pd_.parse_entity("flow", {"sip": "10.0.0.7", "dip": None, "dport": "53"}) == {
        "sip": "10.0.0.7", "dip": None, "dport": 53}
    assert pd_.parse_entity("proxy", {"clientip": "10.0.3.9", "host": ""})["host"] == ""  # a request with no Host
    for data_type, values in [("flow", {"sip": "10.0.0.7; DROP"}), ("flow", {"dport": 70000}),
                              ("dns", {"ip_dst": None, "domain": None}), ("proxy", {"host": "a\x00b"})]:
        with pytest.raises(inputs.Invalid):
            pd_.parse_entity(data_type, values)
    assert pd_.parse_order(None) == "priority" and pd_.parse_order("lda") == "lda"
    with pytest.raises(inputs.Invalid):
        pd_.parse_order("../x")


def test_a_flow_findings_rating_is_a_spot_rating_and_others_are_not():
    selector = pd_.rating_selector("flow", {"sip": "10.0.0.7", "dip": None, "dport": 53})
    assert selector == {"sip": "10.0.0.7", "dport": 53}
    assert pd_.rating_selector("dns", {"ip_dst": "10.0.2.9", "domain": "badcdn.xyz"}) is None
    assert pd_.rating_selector("proxy", {"clientip": "10.0.3.9", "host": "upload.badhost.xyz"}) is None


def test_network_of_entities(lake):
    rows = grid.priority_rows(pd_.priority_view(lake, [], "flow", DAY).rows)
    assert [r["_id"] for r in rows] == [r["entity"] for r in rows] and rows[0]["detectors"] == "beacon, lda"
    elements = pd_.network_elements(rows, "flow")
    nodes = {e["data"]["label"]: e["data"] for e in elements if "source" not in e["data"]}
    edges = [e["data"] for e in elements if "source" in e["data"]]
    # 10.0.0.5, 203.0.113.9, 10.0.0.7 and 10.0.1.3, and one "any" peer for each of the last two
    assert sorted(nodes) == ["*", "10.0.0.5", "10.0.0.7", "10.0.1.3", "203.0.113.9"] and len(edges) == 3
    assert sum(1 for e in elements if e["data"].get("kind") == "any") == 2
    assert (nodes["10.0.0.5"]["kind"], nodes["203.0.113.9"]["kind"]) == ("internal", "external")
    assert [e["weight"] for e in edges] == [round(30 * 0.93, 3), round(30 * 0.71, 3), round(30 * 0.40, 3)]
    a, b, link = pd_.row_elements(rows[0], "flow")
    assert {a, b} == {nodes["10.0.0.5"]["id"], nodes["203.0.113.9"]["id"]} and link == edges[0]["id"]


def test_csv_of_the_list_names_its_detectors(lake):
    table = pd_.csv_table(pd_.priority_view(lake, [], "dns", DAY).rows)
    text = exports.csv_bytes(table).decode()
    assert '"dga, lda"' in text and "badcdn.xyz" in text and text.count("\n") == 3
