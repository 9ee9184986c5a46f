import datetime as dt
import multiprocessing

import pytest
import sqlalchemy as sa

from resources.store import LOW, AnalystStore

DAY = dt.date(2024, 7, 8)


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'analyst.db'}"


def test_latest_rating_of_a_selector_is_current_and_only_3_is_feedback(url):
    store = AnalystStore(url)
    store.rate("flow", DAY, {"sip": "10.0.0.1", "dport": 443}, 3, "ana")
    store.rate("flow", DAY, {"sip": "10.0.0.1", "dport": 443}, 1, "bob")  # re-rated: no longer low risk
    store.rate("flow", DAY - dt.timedelta(days=3), {"dip": "8.8.8.8"}, 3, "ana")
    store.rate("flow", DAY - dt.timedelta(days=9), {"dip": "1.1.1.1"}, 3, "ana")  # outside a 7-day window
    store.rate("dns", DAY, {"dns_qry_name": "x.example.com"}, 3, "ana")  # another type
    feedback = store.low_risk("flow", DAY, window_days=7)
    assert [(r.day, r.selector, r.severity) for r in feedback] == [(DAY - dt.timedelta(days=3), {"dip": "8.8.8.8"}, LOW)]
    assert [r.severity for r in store.ratings("flow", [DAY])] == [1]


@pytest.mark.parametrize("selector, message", [
    ({}, "at least one key"),
    ({"sip": None}, "at least one key"),
    ({"fulluri": "a.com/x"}, "flow ratings select on sip, dip, sport, dport"),
])
def test_bad_ratings_are_refused(url, selector, message):
    with pytest.raises(ValueError, match=message):
        AnalystStore(url).rate("flow", DAY, selector, 3, "ana")
    with pytest.raises(ValueError, match="severity"):
        AnalystStore(url).rate("proxy", DAY, {"fulluri": "a.com/x"}, 4, "ana")


def test_threats_upsert_by_anchor_and_every_change_is_audited(url):
    store = AnalystStore(url)
    first = store.save_threat("flow", DAY, "10.0.0.9", "Beacon", "every 60 s", "ana")
    again = store.save_threat("flow", DAY, "10.0.0.9", "C2 beacon", "every 60 s to 203.0.113.7", "bob")
    assert first == again
    [threat] = store.threats("flow", DAY)
    assert (threat.title, threat.analyst) == ("C2 beacon", "bob") and threat.updated_at >= threat.created_at
    log = store.audit_log()
    assert [e["action"] for e in log] == ["threat_create", "threat_update"]
    assert '"old": {"analyst": "ana", "description": "every 60 s", "title": "Beacon"}' in log[1]["details"]


def test_schema_is_versioned_and_reopening_does_not_migrate_again(url):
    AnalystStore(url).rate("dns", DAY, {"ip_dst": "10.0.0.1"}, 2, "ana")
    store = AnalystStore(url)
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version FROM schema_version")).scalars().all() == [1]
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    assert len(store.ratings("dns", [DAY])) == 1


def _write_many(url, analyst, n):
    store = AnalystStore(url)
    for i in range(n):
        store.rate("proxy", DAY, {"fulluri": f"{analyst}.example.com/{i}"}, 3, analyst)


def test_two_processes_writing_500_ratings_each_lose_none(url):
    AnalystStore(url)  # create the schema once, as the dashboard does at start
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_write_many, args=(url, name, 500)) for name in ("ana", "bob")]
    for w in writers:
        w.start()
    for w in writers:
        w.join(120)
        assert w.exitcode == 0
    store = AnalystStore(url)
    assert len(store.ratings("proxy", [DAY])) == 1000
    assert len(store.audit_log()) == 1000


def test_runs_open_the_store_read_only_and_never_create_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'nobody-yet.db'}"
    reader = AnalystStore(url, writable=False)
    assert reader.ratings("flow", [DAY]) == [] and reader.threats("flow", DAY) == []
    assert not (tmp_path / "nobody-yet.db").exists()
    AnalystStore(url).rate("flow", DAY, {"sip": "10.0.0.1"}, 3, "ana")
    reader = AnalystStore(url, writable=False)
    assert len(reader.ratings("flow", [DAY])) == 1
    with pytest.raises(PermissionError):
        reader.rate("flow", DAY, {"sip": "10.0.0.2"}, 3, "ana")
