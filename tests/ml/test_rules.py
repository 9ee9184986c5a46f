"""The suspicious rule and the feedback rule on hand-built tables, expected rows worked by hand."""

import datetime as dt

import pyarrow as pa
import pytest

from resources.config import MLConfig
from resources.lake import LakeResource
from resources.store import Rating
from spot_assets.ml.feedback import feedback_corpus, selection
from spot_assets.ml.suspicious import top

DAY = dt.date(2024, 7, 8)
TS = pa.timestamp("us", tz="UTC")


def scores(rows: list[tuple[float, int, str, int]]) -> pa.Table:
    score, ts, source_file, record = zip(*rows)
    return pa.table({"score": pa.array(score, pa.float64()), "ts": pa.array(ts, TS),
                     "source_file": source_file, "record": pa.array(record, pa.int64())})


def test_suspicious_is_at_most_tol_above_minus_one_lowest_first_ties_by_time_then_file_and_record():
    table = scores([
        (0.5, 3, "b", 1),
        (-1.0, 0, "a", 1),   # word_error: never listed
        (0.0, 9, "a", 2),    # an unseen word: the most suspicious
        (2.0, 0, "a", 3),    # above tol
        (0.5, 1, "b", 2),    # ties the first on score, earlier
        (0.5, 1, "a", 9),    # ties on score and time, earlier file
        (1.0, 0, "c", 1),    # exactly tol: listed
    ])
    listed = top(table, tol=1.0, max_results=0)
    assert list(zip(listed["source_file"].to_pylist(), listed["record"].to_pylist())) == [
        ("a", 2), ("a", 9), ("b", 2), ("b", 1), ("c", 1)]
    assert top(table, tol=1.0, max_results=2)["record"].to_pylist() == [2, 9]
    assert top(table, tol=0.1, max_results=10)["record"].to_pylist() == [2]


def rating(selector: dict, day=DAY) -> Rating:
    return Rating("flow", day, selector, 3, "ana", dt.datetime(2024, 7, 9, tzinfo=dt.timezone.utc))


@pytest.fixture
def lake(tmp_path) -> LakeResource:
    lake = LakeResource(root=str(tmp_path / "lake"))
    lake.replace_day("flow_words", DAY, pa.table({
        "sip": ["A", "A", "B", "C"], "dip": ["B", "B", "A", "A"],
        "sport": pa.array([80, 80, 443, 53], pa.int32()), "dport": pa.array([5000, 5001, 6000, 7000], pa.int32()),
        "src_word": ["s1", "s1", "s2", "s3"], "dst_word": ["d1", "d1", "d2", "word_error"],
    }))
    return lake


def test_a_rating_selects_the_events_matching_all_its_values_and_any_rating_counts(lake):
    words = lake.read_day("flow_words", DAY)
    picked = lambda ratings: words.filter(selection(ratings))["dport"].to_pylist()  # noqa: E731
    assert picked([rating({"sip": "A", "sport": 80})]) == [5000, 5001]
    assert picked([rating({"sip": "A", "dport": 5001}), rating({"dip": "A", "sport": 53})]) == [5001, 7000]
    assert picked([rating({"sip": "A", "dip": "A"})]) == []
    assert picked([]) == []


def test_feedback_counts_each_rated_word_dupfactor_times_in_both_documents(lake):
    ratings = [rating({"sip": "A", "sport": 80}), rating({"sip": "C"}),
               rating({"sip": "A"}, day=DAY - dt.timedelta(days=1))]  # a day without words: nothing
    got = feedback_corpus(lake, "flow", ratings, dupfactor=1000).sort_by([("ip", "ascending"), ("word", "ascending")])
    assert got.to_pylist() == [
        {"ip": "A", "word": "s1", "count": 2000},  # two rated events, A's source word
        {"ip": "B", "word": "d1", "count": 2000},  # and B's destination word
        {"ip": "C", "word": "s3", "count": 1000},  # C's dst side is a word_error: left out
    ]
    assert feedback_corpus(lake, "flow", [rating({"sip": "Z"})], dupfactor=1000) is None


def test_a_day_runs_in_process_up_to_local_max_rows_and_never_when_it_is_zero():
    assert MLConfig(local_max_rows=100).in_process(100) and not MLConfig(local_max_rows=100).in_process(101)
    assert not MLConfig(local_max_rows=0).in_process(0)
