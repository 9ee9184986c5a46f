"""The priority list: noisy-OR fusion, feedback, and the rank an event takes from the rows covering it.

Expected scores are worked out by hand from the module's rule, 1 − Π(1 − wᵢ·sᵢ).
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from resources.store import FindingFeedback
from spot_assets.datatypes import DNS, FLOW
from spot_assets.detect.priority import (Weights, cover, findings_contributions, fuse, intel_contributions,
                                         lda_contributions)

DAY = dt.date(2024, 7, 8)


def Feedback(detector, entity, severity, analyst, day):
    return FindingFeedback(0, "flow", day, detector, entity, severity, analyst, dt.datetime.now(dt.timezone.utc),
                           day + dt.timedelta(days=30))


def _findings(rows):
    return findings_contributions(pd.DataFrame(rows, columns=["detector", "sip", "dip", "dport", "score", "reason",
                                                              "events"]))


FINDINGS = [("beacon", "10.0.0.5", "6.6.6.6", 443, 0.9, "beacon: 288 connections", 288),
            ("horizontal_scan", "10.0.0.9", None, 22, 0.8, "scan: 500 hosts", 500)]
SUSPICIOUS = pd.DataFrame({"sip": ["10.0.0.5", "10.0.0.7", "10.0.0.7"], "dip": ["6.6.6.6", "1.1.1.1", "1.1.1.1"],
                           "dport": [443, 80, 80], "score": [1e-7, 2e-7, 3e-7]})


def _list(feedback=(), weights=Weights()):
    parts = [_findings(FINDINGS), lda_contributions(FLOW, SUSPICIOUS, 1000),
             intel_contributions(FLOW, [("dip", "9.9.9.9", 2, "9.9.9.9 listed by ti (c2)", 3)])]
    return fuse(FLOW, DAY, parts, list(feedback), weights).to_pandas()


def test_sources_of_one_entity_add_up_as_a_noisy_or_and_the_list_is_ranked():
    table = _list()
    scores = dict(zip(table["entity"], table["score"]))
    # beacon 0.9 and LDA rarity 1 − 0/1000 = 1 at weight 0.3 on the same pair
    assert scores["10.0.0.5 → 6.6.6.6:443"] == pytest.approx(1 - (1 - 0.9) * (1 - 0.3))
    assert scores["10.0.0.9 → *:22"] == pytest.approx(0.8)
    assert scores["* → 9.9.9.9:*"] == pytest.approx(0.6)  # a medium-level intel hit
    # the two LDA events of one pair are one row: the rarer (rank 2 of 1000) decides
    assert scores["10.0.0.7 → 1.1.1.1:80"] == pytest.approx(0.3 * (1 - 1 / 1000))
    assert table["rank"].tolist() == [1, 2, 3, 4]
    assert table["score"].is_monotonic_decreasing
    first = table.iloc[0]
    assert first["reasons"].startswith("beacon: 288 connections; rare under LDA: p = 1.0e-07 (rank 1 of 1,000")
    assert list(first["detectors"]) == ["beacon", "lda"] and first["lda_score"] == pytest.approx(1e-7)
    assert table.set_index("entity").loc["10.0.0.7 → 1.1.1.1:80", "events"] == 2


def test_a_suppression_removes_its_detector_from_the_entities_it_covers_and_a_raise_lifts():
    table = _list([Feedback("beacon", {"sip": "10.0.0.5"}, 3, "ana", DAY),
                   Feedback("*", {"sip": "10.0.0.9", "dport": 22}, 3, "ana", DAY),
                   Feedback("*", {"dip": "9.9.9.9"}, 1, "bob", DAY)]).set_index("entity")
    assert "10.0.0.9 → *:22" not in table.index
    assert table.loc["10.0.0.5 → 6.6.6.6:443", "score"] == pytest.approx(0.3)  # LDA alone is left
    assert table.loc["* → 9.9.9.9:*", "score"] == pytest.approx(1 - (1 - 0.6) * (1 - 0.5))
    assert table.loc["* → 9.9.9.9:*", "reasons"].startswith("raised by bob (2024-07-08); threat intel")
    assert table.loc["* → 9.9.9.9:*", "rank"] == 1


def test_a_narrower_suppression_does_not_hide_a_wider_finding():
    table = _list([Feedback("horizontal_scan", {"sip": "10.0.0.9", "dip": "10.1.1.1", "dport": 22}, 3, "ana", DAY)])
    assert "10.0.0.9 → *:22" in set(table["entity"])


def test_weights_say_how_far_a_source_is_trusted():
    table = _list(weights=Weights(lda=0.0, detectors={"horizontal_scan": 0.5}))
    scores = dict(zip(table["entity"], table["score"]))
    assert scores["10.0.0.9 → *:22"] == pytest.approx(0.4)
    assert scores["10.0.0.7 → 1.1.1.1:80"] == 0.0


def test_an_event_takes_the_best_rank_of_the_rows_covering_it():
    table = _list()
    ranks = dict(zip(table["entity"], table["rank"]))
    events = pd.DataFrame({
        "sip": ["10.0.0.5", "10.0.0.9", "10.0.0.9", "10.0.0.7", "10.0.0.1", "10.0.0.3"],
        "dip": ["6.6.6.6", "10.1.1.1", "10.1.1.2", "1.1.1.1", "9.9.9.9", "8.8.8.8"],
        "dport": np.array([443, 22, 23, 80, 53, 53], dtype="int32")})
    # a round trip through Parquet turns a port column with nulls into floats: matching must not care
    rows = table.astype({"dport": "float64"})
    assert cover(FLOW, events, rows).tolist() == [
        ranks["10.0.0.5 → 6.6.6.6:443"], ranks["10.0.0.9 → *:22"], 5, ranks["10.0.0.7 → 1.1.1.1:80"],
        ranks["* → 9.9.9.9:*"], 5]


def test_a_flow_row_covers_the_replies_of_the_conversation_it_names():
    table = _list()
    ranks = dict(zip(table["entity"], table["rank"]))
    replies = pd.DataFrame({"sip": ["6.6.6.6", "10.1.1.1", "6.6.6.6"], "dip": ["10.0.0.5", "10.0.0.9", "10.0.0.6"],
                            "sport": np.array([443, 22, 443], dtype="int32"),
                            "dport": np.array([51000, 40000, 51000], dtype="int32")})
    assert cover(FLOW, replies, table).tolist() == [ranks["10.0.0.5 → 6.6.6.6:443"], ranks["10.0.0.9 → *:22"], 5]


def test_dns_rows_cover_every_name_of_their_registered_domain():
    found = pd.DataFrame({"detector": ["tunnel"], "ip_dst": [None], "domain": ["evil.co.uk"], "score": [0.95],
                          "reason": ["tunnel: 800 names"], "events": [800]})
    table = fuse(DNS, DAY, [findings_contributions(found)], [], Weights()).to_pandas()
    events = pd.DataFrame({"ip_dst": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
                           "dns_qry_name": ["abc.def.evil.co.uk", "EVIL.co.uk.", "evil.co.uk.example.com"]})
    assert cover(DNS, events, table).tolist() == [1, 1, 2]


def test_nothing_to_fuse_is_an_empty_list():
    assert fuse(FLOW, DAY, [lda_contributions(FLOW, SUSPICIOUS.iloc[:0], 0)], [], Weights()).num_rows == 0


def test_a_source_speaks_once_per_entity_with_its_strongest_finding():
    found = pd.DataFrame({"detector": ["periodic_query", "periodic_query"], "ip_dst": ["10.0.0.1", "10.0.0.1"],
                          "domain": ["example.com", "example.com"], "score": [0.8, 0.75],
                          "reason": ["periodic: a.example.com", "periodic: b.example.com"], "events": [30, 40]})
    table = fuse(DNS, DAY, [findings_contributions(found)], [], Weights()).to_pandas()
    assert table["score"].tolist() == [pytest.approx(0.8)]
    assert table["reasons"].tolist() == ["periodic: a.example.com"]


def test_threat_intel_names_the_days_entity_values_a_local_list_holds(tmp_path):
    import logging

    import pyarrow as pa

    from resources.lake import LakeResource
    from spot_assets import schemas
    from spot_assets.detect.assets import _intel
    from spot_assets.oa.reputation import ThreatIntelList

    lake = LakeResource(root=str(tmp_path / "lake"))
    ts = pd.Timestamp("2024-07-08 12:00", tz="UTC")
    flows = pa.table({"ts": [ts] * 3, "sip": ["10.0.0.1", "10.0.0.2", "6.6.6.6"],
                      "dip": ["6.6.6.6", "6.6.6.6", "10.0.0.3"], "source_file": ["f"] * 3, "record": [1, 2, 3]})
    lake.replace_day("flow_events", DAY, schemas.conform(flows, schemas.FLOW_EVENTS))
    listed = tmp_path / "ti.csv"
    listed.write_text("6.6.6.0/24,c2,testlist,high\n")
    found = _intel(lake, FLOW, DAY, [ThreatIntelList([listed], logging.getLogger("test"))])
    assert sorted(found) == [("dip", "6.6.6.6", 3, "6.6.6.6 listed by testlist (c2)", 2),
                             ("sip", "6.6.6.6", 3, "6.6.6.6 listed by testlist (c2)", 1)]
    rows = fuse(FLOW, DAY, [intel_contributions(FLOW, found)], [], Weights()).to_pandas()
    assert rows["entity"].tolist() == ["* → 6.6.6.6:*", "6.6.6.6 → *:*"] and rows["score"].tolist() == [1.0, 1.0]
