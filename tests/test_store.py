"""The analyst store on SQLite and on a real PostgreSQL server alike: every test runs on both."""

import collections
import datetime as dt
import json
import multiprocessing
from pathlib import Path

import pytest
import sqlalchemy as sa

from resources.store import LOW, MIGRATIONS, AnalystStore, metadata
from spot_assets.datatypes import DATA_TYPES

DAY = dt.date(2024, 7, 8)


@pytest.fixture
def url(store_url):
    """Every test here runs on SQLite and on PostgreSQL (`store_url`, tests/conftest.py)."""
    return store_url


def _created(url: str) -> bool:
    """Whether anything of the store exists, looked at without creating a SQLite file that is not there."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return Path(parsed.database).exists()
    engine = sa.create_engine(url)
    try:
        return bool(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _contents(store: AnalystStore) -> dict:
    """Every row of every table: what something that must not write is compared on."""
    with store.engine.connect() as conn:
        return {t.name: conn.execute(sa.select(t).order_by(*(list(t.primary_key) or list(t.columns)))).all()
                for t in metadata.sorted_tables}


def _in_two_processes(target, url, *args) -> None:
    """Runs ``target(url, name, start, *args)`` in two processes released at the same moment by ``start``."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    workers = [ctx.Process(target=target, args=(url, name, start, *args)) for name in ("ana", "bob")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0


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
        AnalystStore(url, types=DATA_TYPES).rate("flow", DAY, selector, 3, "ana")
    with pytest.raises(ValueError, match="severity"):
        AnalystStore(url, types=DATA_TYPES).rate("proxy", DAY, {"fulluri": "a.com/x"}, 4, "ana")


def test_a_store_without_the_types_checks_keys_against_its_columns(url):
    store = AnalystStore(url)
    store.rate("flow", DAY, {"dns_qry_name": "x.example.com"}, 3, "ana")  # a column, if not one of flow's keys
    with pytest.raises(ValueError, match="flow ratings select on sip, dip, sport, dport, ip_dst, dns_qry_name, "
                                         "clientip, fulluri, not uri"):
        store.rate("flow", DAY, {"uri": "/x"}, 3, "ana")
    with pytest.raises(ValueError, match="unknown data type 'dhcp'"):
        AnalystStore(url, types=DATA_TYPES).rate("dhcp", DAY, {"sip": "10.0.0.1"}, 3, "ana")
    assert [r.selector for r in store.ratings("flow", [DAY])] == [{"dns_qry_name": "x.example.com"}]


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


def test_schema_is_versioned_and_opening_or_migrating_again_changes_nothing(url):
    store = AnalystStore(url)
    store.rate("dns", DAY, {"ip_dst": "10.0.0.1"}, 2, "ana")
    store.save_threat("dns", DAY, "x.example.com", "Tunnel", "long TXT answers", "ana")
    before = _contents(store)
    assert before["schema_version"] == [(version,) for version in range(1, len(MIGRATIONS) + 1)]
    assert len(before["ratings"]) == len(before["threats"]) == 1 and len(before["audit"]) == 2
    AnalystStore(url).migrate()  # reopened (which migrates) and migrated once more
    AnalystStore(url, writable=False).ratings("dns", [DAY])  # as a run reads it
    assert _contents(AnalystStore(url)) == before


def test_sqlite_store_runs_in_wal_mode_so_reads_do_not_wait_for_a_writer(tmp_path):
    store = AnalystStore(f"sqlite:///{tmp_path / 'analyst.db'}")
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"


def _rate_many(url, analyst, start, n):
    start.wait()  # both open the new store at once: both try to create and migrate it
    store = AnalystStore(url)
    for i in range(n):
        store.rate("proxy", DAY, {"fulluri": f"{analyst}.example.com/{i}"}, 3, analyst)


def test_two_processes_opening_a_new_store_and_writing_500_ratings_each_lose_none(url):
    _in_two_processes(_rate_many, url, 500)
    store = AnalystStore(url)
    expected = {f"{analyst}.example.com/{i}" for analyst in ("ana", "bob") for i in range(500)}
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM ratings")).scalar() == 1000
        assert conn.execute(sa.text("SELECT version FROM schema_version")).scalars().all() == list(range(1, len(MIGRATIONS) + 1))
    assert {r.selector["fulluri"] for r in store.ratings("proxy", [DAY])} == expected
    log = store.audit_log()
    assert len(log) == 1000 and {json.loads(e["details"])["fulluri"] for e in log} == expected


def _save_threats(url, analyst, start, anchors):
    store = AnalystStore(url)
    start.wait()
    for anchor in anchors:
        store.save_threat("flow", DAY, anchor, f"seen by {analyst}", "", analyst)


def test_two_processes_saving_the_same_threats_make_one_per_anchor_and_audit_every_save(url):
    AnalystStore(url)
    anchors = [f"10.0.0.{i}" for i in range(50)]
    _in_two_processes(_save_threats, url, anchors)
    store = AnalystStore(url)
    assert sorted(t.anchor for t in store.threats("flow", DAY)) == sorted(anchors)
    actions = collections.Counter(e["action"] for e in store.audit_log())
    assert actions == {"threat_create": 50, "threat_update": 50}


def test_runs_open_the_store_read_only_and_never_create_it(url):
    reader = AnalystStore(url, writable=False)
    assert reader.ratings("flow", [DAY]) == [] and reader.threats("flow", DAY) == []
    assert reader.threat_versions("flow") == {} and reader.audit_log() == []
    assert not _created(url)
    AnalystStore(url).rate("flow", DAY, {"sip": "10.0.0.1"}, 3, "ana")
    reader = AnalystStore(url, writable=False)
    assert len(reader.ratings("flow", [DAY])) == 1
    with pytest.raises(PermissionError):
        reader.rate("flow", DAY, {"sip": "10.0.0.2"}, 3, "ana")
