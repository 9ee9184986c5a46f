"""Feedback on findings in the analyst store: when it is in force, undo that keeps the row, the audit,
and a store older than the table. On SQLite and PostgreSQL alike (the ``url`` fixture of test_store)."""

import dataclasses
import datetime as dt

import pyarrow as pa
import pytest
import sqlalchemy as sa

from resources.store import (FEEDBACK_COLUMNS, FEEDBACK_DAYS, MIGRATIONS, RATING_COLUMNS, AnalystStore, finding_feedback,
                             schema_version)
from spot_assets.datatypes import DATA_TYPES

DAY = dt.date(2024, 7, 8)


@pytest.fixture
def url(store_url):
    """Every test here runs on SQLite and on PostgreSQL (`store_url`, tests/conftest.py)."""
    return store_url
ONE = dt.timedelta(days=1)


def _active(store: AnalystStore, day: dt.date, data_type: str = "flow") -> list[tuple]:
    return [(f.entity, f.severity, f.detector) for f in store.finding_feedback(data_type, day)]


def test_feedback_is_in_force_from_its_day_through_its_expiry(url):
    store = AnalystStore(url)
    store.record_feedback("flow", DAY, {"sip": "10.0.0.1", "dip": None, "dport": 443}, 3, "ana")
    store.record_feedback("flow", DAY + 2 * ONE, {"dip": "203.0.113.9"}, 1, "bob", detector="beacon",
                          expires=DAY + 4 * ONE)
    store.record_feedback("dns", DAY, {"domain": "example.com"}, 3, "ana")  # another type
    suppressed = ({"sip": "10.0.0.1", "dport": 443}, 3, "*")  # null = any: not part of the entity
    assert _active(store, DAY - ONE) == []
    assert _active(store, DAY) == [suppressed]
    assert _active(store, DAY + 3 * ONE) == [suppressed, ({"dip": "203.0.113.9"}, 1, "beacon")]
    assert _active(store, DAY + 5 * ONE) == [suppressed]
    assert _active(store, DAY + FEEDBACK_DAYS * ONE) == [suppressed]  # the default expiry is its last day
    assert _active(store, DAY + (FEEDBACK_DAYS + 1) * ONE) == []
    [rated] = store.finding_feedback("flow", DAY)
    assert (rated.day, rated.expires, rated.analyst) == (DAY, DAY + FEEDBACK_DAYS * ONE, "ana")
    assert _active(store, DAY, "dns") == [({"domain": "example.com"}, 3, "*")]


def test_undo_revokes_and_keeps_the_row_and_every_write_is_audited(url):
    store = AnalystStore(url)
    kept = store.record_feedback("proxy", DAY, {"clientip": "10.0.3.9", "host": "cdn.example.com"}, 3, "ana")
    undone = store.record_feedback("proxy", DAY, {"host": "upload.badhost.xyz"}, 3, "ana")
    store.revoke_feedback(undone, "bob")
    assert [f.id for f in store.finding_feedback("proxy", DAY)] == [kept]
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(finding_feedback).where(finding_feedback.c.id == undone)).mappings().one()
        assert conn.execute(sa.select(sa.func.count()).select_from(finding_feedback)).scalar() == 2
    assert (row["host"], row["severity"], row["analyst"], row["revoked_by"]) == ("upload.badhost.xyz", 3, "ana", "bob")
    assert row["revoked_at"] is not None
    log = store.audit_log()
    assert [(e["action"], e["subject"], e["analyst"]) for e in log] == [
        ("feedback", f"finding_feedback:{kept}", "ana"), ("feedback", f"finding_feedback:{undone}", "ana"),
        ("feedback_revoke", f"finding_feedback:{undone}", "bob")]
    assert '"host": "upload.badhost.xyz"' in log[1]["details"]
    with pytest.raises(ValueError, match="already revoked by bob"):
        store.revoke_feedback(undone, "ana")
    with pytest.raises(ValueError, match="no finding feedback 999"):
        store.revoke_feedback(999, "ana")
    assert len(store.audit_log()) == 3  # refused writes leave nothing


@pytest.mark.parametrize("entity, severity, expires, message", [
    ({"domain": "example.com"}, 3, None, "flow findings are about sip, dip, dport, not domain"),
    ({"sip": None, "dport": None}, 3, None, "at least one entity value"),
    ({"sip": "10.0.0.1"}, 2, None, r"1 \(raise\) or 3 \(suppress\)"),
    ({"sip": "10.0.0.1"}, 3, DAY - ONE, "cannot expire before it"),
])
def test_bad_feedback_is_refused(url, entity, severity, expires, message):
    store = AnalystStore(url, types=DATA_TYPES)
    with pytest.raises(ValueError, match=message):
        store.record_feedback("flow", DAY, entity, severity, "ana", expires=expires)
    assert store.audit_log() == []


def test_runs_read_feedback_and_never_write_it(url):
    AnalystStore(url).record_feedback("flow", DAY, {"sip": "10.0.0.1"}, 3, "ana")
    reader = AnalystStore(url, writable=False)
    assert _active(reader, DAY) == [({"sip": "10.0.0.1"}, 3, "*")]
    with pytest.raises(PermissionError):
        reader.record_feedback("flow", DAY, {"sip": "10.0.0.2"}, 3, "ana")
    with pytest.raises(PermissionError):
        reader.revoke_feedback(1, "ana")


def test_a_store_made_before_feedback_reads_as_none_and_is_migrated_on_open(url):
    old = AnalystStore(url, writable=False)  # build version 1 by hand, as a store of the previous release
    with old.engine.begin() as conn:
        schema_version.create(conn)
        MIGRATIONS[0](conn)
        conn.execute(schema_version.insert().values(version=1))
    old.engine.dispose()
    assert AnalystStore(url, writable=False).finding_feedback("flow", DAY) == []  # runs do not migrate
    store = AnalystStore(url)
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() == len(MIGRATIONS)
    store.record_feedback("flow", DAY, {"dport": 53}, 1, "ana")
    assert _active(store, DAY) == [({"dport": 53}, 1, "*")]


def test_the_tables_have_a_column_of_the_events_type_for_every_types_keys():
    """The store's key columns are its own schema; each type's entity and rating keys must be among them,
    with the SQL type of the event column (a port an integer, everything else text)."""
    def sql(arrow_type):
        return sa.Integer if pa.types.is_integer(arrow_type) else sa.Text

    feedback, rating = dict(FEEDBACK_COLUMNS), dict(RATING_COLUMNS)
    assert set(feedback) == {c for t in DATA_TYPES.values() for c in t.entity_columns}
    assert set(rating) == {k for t in DATA_TYPES.values() for k in t.rating_keys}
    for t in DATA_TYPES.values():
        assert {c: feedback[c] for c, _ in t.entity} == {c: sql(kind) for c, kind in t.entity}
        assert {k: rating[k] for k in t.rating_keys} == {k: sql(t.events.field(k).type) for k in t.rating_keys}


def test_a_type_whose_keys_have_no_column_is_refused_when_the_store_opens():
    dhcp = dataclasses.replace(DATA_TYPES["flow"], name="dhcp", entity=(("mac", pa.string()),))
    with pytest.raises(ValueError, match=r"no column for dhcp's entity column\(s\) mac: a new key needs a migration"):
        AnalystStore("sqlite://", types={**DATA_TYPES, "dhcp": dhcp})
