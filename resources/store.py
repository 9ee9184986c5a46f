"""The analyst store: what analysts decide (ratings, threats) and an append-only audit of every change.

It is user data. No materialization, re-run or backfill writes to it (Spot wiped a day's analyst
work on every OA re-run); only the dashboard and the `spot` commands acting for an analyst do, and
every write is one transaction with its audit row. SQLite by default (WAL, so the dashboard reads
while a run reads too; a busy timeout, so two writers wait instead of failing); PostgreSQL for teams
through a SQLAlchemy URL. The schema is versioned and migrated forward on open.

A rating is a selector, as Spot's scoring panel was: the exact values of some key columns of a
type (unset = "all"), a severity (1 high, 2 medium, 3 low risk) and who said it. It applies to every
event of its day that matches all of its values. The latest rating of a selector is its current one.

Feedback on a finding (a row of the priority list) names an entity by the columns of its type's
entity (unset = "any"), a detector or "*" for all of them, and 1 (raise) or 3 (suppress). It is in
force from the day it was given through ``expires`` (``FEEDBACK_DAYS`` later by default); undo is a
revoke that keeps the row and says who revoked it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Protocol

import dagster as dg
import sqlalchemy as sa

HIGH, MEDIUM, LOW = 1, 2, 3
ALL_DETECTORS = "*"
# How long a finding's feedback applies, from the day it was given: a month of daily runs is long enough
# to stop re-reading a known benign entity every morning and short enough that a host that changes
# role (or is compromised later) comes back without anyone remembering to undo a decision.
FEEDBACK_DAYS = 30

# The key columns of the tables with their SQL types: the store's own schema, changed only by a migration.
# A rating selects on some of RATING_COLUMNS (the columns of Spot's score mutations, spec §4.6); feedback
# names an entity by some of FEEDBACK_COLUMNS (the entity columns of the data types when the table was
# made). Which of them each type may use is the data types' to say (`KeyedType`).
RATING_COLUMNS = (("sip", sa.Text), ("dip", sa.Text), ("sport", sa.Integer), ("dport", sa.Integer),
                  ("ip_dst", sa.Text), ("dns_qry_name", sa.Text), ("clientip", sa.Text), ("fulluri", sa.Text))
FEEDBACK_COLUMNS = (("sip", sa.Text), ("dip", sa.Text), ("dport", sa.Integer), ("ip_dst", sa.Text),
                    ("domain", sa.Text), ("clientip", sa.Text), ("host", sa.Text))
_RATING_KEYS = tuple(name for name, _ in RATING_COLUMNS)
_FEEDBACK_KEYS = tuple(name for name, _ in FEEDBACK_COLUMNS)


class KeyedType(Protocol):
    """What a writing store asks of a data type: the keys its ratings select on and the columns of its
    entity (the data-type spec, ``DataType``, answers both)."""

    @property
    def rating_keys(self) -> tuple[str, ...]: ...

    @property
    def entity_columns(self) -> tuple[str, ...]: ...


metadata = sa.MetaData()
schema_version = sa.Table("schema_version", metadata, sa.Column("version", sa.Integer, nullable=False))
ratings = sa.Table(
    "ratings", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("data_type", sa.String(8), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    *[sa.Column(name, kind) for name, kind in RATING_COLUMNS],
    sa.Column("severity", sa.Integer, nullable=False),
    sa.Column("analyst", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("severity IN (1, 2, 3)", name="severity_1_2_3"),
    sa.CheckConstraint("data_type IN ('flow', 'dns', 'proxy')", name="known_type"),
    sa.Index("ratings_by_day", "data_type", "day"),
)
threats = sa.Table(
    "threats", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("data_type", sa.String(8), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("anchor", sa.Text, nullable=False),  # the IP, domain or URI the threat is about
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("analyst", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("data_type", "day", "anchor", name="one_threat_per_anchor"),
)
finding_feedback = sa.Table(
    "finding_feedback", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("data_type", sa.String(8), nullable=False),
    sa.Column("day", sa.Date, nullable=False),  # the day whose list the analyst rated
    sa.Column("detector", sa.Text, nullable=False),  # one detector's name, or "*": every source of the entity
    *[sa.Column(name, kind) for name, kind in FEEDBACK_COLUMNS],  # null = any
    sa.Column("severity", sa.Integer, nullable=False),
    sa.Column("analyst", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires", sa.Date, nullable=False),  # the last day it applies
    sa.Column("revoked_at", sa.DateTime(timezone=True)),  # undone: the row stays, as analyst data always does
    sa.Column("revoked_by", sa.Text),
    sa.CheckConstraint("severity IN (1, 3)", name="feedback_raises_or_suppresses"),
    sa.CheckConstraint("data_type IN ('flow', 'dns', 'proxy')", name="feedback_known_type"),
    sa.CheckConstraint("expires >= day", name="feedback_expires_after_its_day"),
    sa.Index("finding_feedback_by_day", "data_type", "day"),
)
audit = sa.Table(
    "audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("analyst", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),  # table:id
    sa.Column("details", sa.Text, nullable=False),  # JSON: the new values, and the old ones on update
)

# Each migration takes the schema from version i to i + 1; never edit one that has shipped.
MIGRATIONS = [
    lambda conn: metadata.create_all(conn, tables=[ratings, threats, audit]),
    lambda conn: metadata.create_all(conn, tables=[finding_feedback]),
]


@dataclass(frozen=True)
class Rating:
    data_type: str
    day: dt.date
    selector: dict  # key column -> exact value, only the columns the analyst chose
    severity: int
    analyst: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Threat:
    data_type: str
    day: dt.date
    anchor: str
    title: str
    description: str
    analyst: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class FindingFeedback:
    """An analyst's word on a finding's entity: 1 raises it to the top of later lists, 3 suppresses it."""

    id: int
    data_type: str
    day: dt.date
    detector: str
    entity: dict  # entity column -> exact value, only the columns that are set (the others: any)
    severity: int
    analyst: str
    created_at: dt.datetime
    expires: dt.date


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands timestamps back naive; they were written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _sqlite_file_missing(url: str) -> bool:
    parsed = sa.engine.make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
        and not Path(parsed.database).exists()


# PostgreSQL's counterpart of SQLite's BEGIN IMMEDIATE below: a lock every write transaction takes first.
# Advisory locks belong to one database, so stores in other databases never wait on each other.
_PG_WRITE_LOCK = 0x73706F74  # "spot"


def _wal(cursor) -> None:
    """Switch a SQLite file to WAL (kept in the file: once is enough). The switch needs the file to
    itself, and SQLite answers "locked" at once rather than wait when two first opens race, so it is
    retried for a while; failing that, the store still works, its readers only wait for writers."""
    for _ in range(100):
        try:
            if cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() == "wal":
                return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)


def _engine(url: str) -> sa.Engine:
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _):
        # Leave transactions to SQLAlchemy: pysqlite's own implicit BEGIN would defeat BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        _wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        # Take the write lock at the start, so concurrent writers queue instead of deadlocking.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class AnalystStore:
    """``writable=False`` is how runs open it: nothing is created, migrated or written, and a store
    that does not exist yet reads as empty (no analyst has decided anything).

    ``types``: the data types by name, whose own keys a write is checked against (a flow rating selects
    on flow's keys only); the dashboard and the commands pass the spec's. Without them a write is
    checked against the table's key columns only.
    """

    def __init__(self, url: str, writable: bool = True, types: Mapping[str, KeyedType] | None = None):
        for name, t in (types or {}).items():
            for what, keys, columns in (("rating key", t.rating_keys, _RATING_KEYS),
                                        ("entity column", t.entity_columns, _FEEDBACK_KEYS)):
                if missing := [k for k in keys if k not in columns]:
                    raise ValueError(f"the analyst store has no column for {name}'s {what}(s) {', '.join(missing)}: "
                                     "a new key needs a migration (resources/store.py)")
        self.url = url
        self.writable = writable
        self.types = types
        parsed = sa.engine.make_url(url)
        if writable and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine = _engine(url)
        self.absent = not writable and (_sqlite_file_missing(url)
                                        or not sa.inspect(self.engine).has_table(schema_version.name))
        if writable:
            self.migrate()

    def migrate(self) -> int:
        with self._transaction() as conn:
            schema_version.create(conn, checkfirst=True)
            current = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0
            for version in range(current, len(MIGRATIONS)):
                MIGRATIONS[version](conn)
                conn.execute(schema_version.insert().values(version=version + 1))
        return len(MIGRATIONS)

    # ----- writes (each one transaction with its audit row)

    @contextlib.contextmanager
    def _transaction(self):
        """A write transaction that holds the store's write lock, so concurrent writers queue: without it
        two first opens of a PostgreSQL store both create its tables, and two saves of one threat both insert."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_WRITE_LOCK)))
            yield conn

    def _chosen(self, data_type: str, values: dict, columns: tuple[str, ...], own, named: str) -> dict:
        """The non-null ``values`` of a write, each checked to be a key column ``data_type`` may set: its
        own (``own`` of its spec) when the store knows the types, else every key column of the table."""
        if self.types is None:
            keys = columns
        elif data_type not in self.types:
            raise ValueError(f"unknown data type {data_type!r} (known: {', '.join(self.types)})")
        else:
            keys = own(self.types[data_type])
        if unknown := set(values) - set(keys):
            raise ValueError(f"{data_type} {named} {', '.join(keys)}, not {', '.join(sorted(unknown))}")
        return {k: v for k, v in values.items() if v is not None}

    def _writing(self) -> None:
        if not self.writable:
            raise PermissionError("this analyst store was opened read-only: runs never write analyst data")

    def _audit(self, conn, analyst: str, action: str, subject: str, details: dict) -> None:
        conn.execute(audit.insert().values(at=_now(), analyst=analyst, action=action, subject=subject,
                                           details=json.dumps(details, default=str, sort_keys=True)))

    def rate(self, data_type: str, day: dt.date, selector: dict, severity: int, analyst: str) -> int:
        chosen = self._chosen(data_type, selector, _RATING_KEYS, lambda t: t.rating_keys, "ratings select on")
        if not chosen:
            raise ValueError("a rating needs at least one key value (Spot refused a score with no criterion)")
        if severity not in (HIGH, MEDIUM, LOW):
            raise ValueError(f"severity must be 1, 2 or 3, not {severity!r}")
        self._writing()
        values = dict(data_type=data_type, day=day, severity=severity, analyst=analyst, created_at=_now(), **chosen)
        with self._transaction() as conn:
            rating_id = conn.execute(ratings.insert().values(**values)).inserted_primary_key[0]
            self._audit(conn, analyst, "rate", f"ratings:{rating_id}", values)
        return rating_id

    def save_threat(self, data_type: str, day: dt.date, anchor: str, title: str, description: str, analyst: str) -> int:
        self._writing()
        now = _now()
        with self._transaction() as conn:
            key = (threats.c.data_type == data_type) & (threats.c.day == day) & (threats.c.anchor == anchor)
            old = conn.execute(sa.select(threats).where(key)).mappings().first()
            if old is None:
                values = dict(data_type=data_type, day=day, anchor=anchor, title=title, description=description,
                              analyst=analyst, created_at=now, updated_at=now)
                threat_id = conn.execute(threats.insert().values(**values)).inserted_primary_key[0]
                self._audit(conn, analyst, "threat_create", f"threats:{threat_id}", values)
            else:
                threat_id = old["id"]
                conn.execute(threats.update().where(threats.c.id == threat_id)
                             .values(title=title, description=description, analyst=analyst, updated_at=now))
                self._audit(conn, analyst, "threat_update", f"threats:{threat_id}",
                            {"title": title, "description": description,
                             "old": {"title": old["title"], "description": old["description"], "analyst": old["analyst"]}})
        return threat_id

    def record_feedback(self, data_type: str, day: dt.date, entity: dict, severity: int, analyst: str,
                        detector: str = ALL_DETECTORS, expires: dt.date | None = None) -> int:
        """Feedback on the entity of a finding of ``day``; it applies from ``day`` through ``expires``
        (``FEEDBACK_DAYS`` later by default) unless revoked."""
        chosen = self._chosen(data_type, entity, _FEEDBACK_KEYS, lambda t: t.entity_columns, "findings are about")
        if not chosen:
            raise ValueError("feedback needs at least one entity value (one of every value would hide everything)")
        if severity not in (HIGH, LOW):
            raise ValueError(f"feedback on a finding is 1 (raise) or 3 (suppress), not {severity!r}")
        if not detector:
            raise ValueError(f"name a detector, or {ALL_DETECTORS!r} for all of them")
        expires = expires if expires is not None else day + dt.timedelta(days=FEEDBACK_DAYS)
        if expires < day:
            raise ValueError(f"feedback of {day} cannot expire before it, on {expires}")
        self._writing()
        values = dict(data_type=data_type, day=day, detector=detector, severity=severity, analyst=analyst,
                      created_at=_now(), expires=expires, **chosen)
        with self._transaction() as conn:
            feedback_id = conn.execute(finding_feedback.insert().values(**values)).inserted_primary_key[0]
            self._audit(conn, analyst, "feedback", f"finding_feedback:{feedback_id}", values)
        return feedback_id

    def revoke_feedback(self, feedback_id: int, analyst: str) -> None:
        """Undo: the row is kept and marked revoked, so who decided what, and who undid it, stays on record."""
        self._writing()
        now = _now()
        with self._transaction() as conn:
            query = sa.select(finding_feedback).where(finding_feedback.c.id == feedback_id)
            row = conn.execute(query).mappings().first()
            if row is None:
                raise ValueError(f"no finding feedback {feedback_id}")
            if row["revoked_at"] is not None:
                raise ValueError(f"finding feedback {feedback_id} was already revoked by {row['revoked_by']}")
            conn.execute(finding_feedback.update().where(finding_feedback.c.id == feedback_id)
                         .values(revoked_at=now, revoked_by=analyst))
            self._audit(conn, analyst, "feedback_revoke", f"finding_feedback:{feedback_id}", {"revoked_at": now})

    # ----- reads

    def _rating(self, row) -> Rating:
        selector = {k: row[k] for k in _RATING_KEYS if row[k] is not None}
        return Rating(row["data_type"], row["day"], selector, row["severity"], row["analyst"], _utc(row["created_at"]))

    def ratings(self, data_type: str, days: Iterable[dt.date]) -> list[Rating]:
        """The current rating of every selector rated on these days (the latest per selector)."""
        if self.absent:
            return []
        query = (sa.select(ratings).where(ratings.c.data_type == data_type, ratings.c.day.in_(list(days)))
                 .order_by(ratings.c.id))
        with self.engine.connect() as conn:
            rows = [self._rating(r) for r in conn.execute(query).mappings()]
        latest = {}
        for r in rows:
            latest[(r.day, tuple(sorted(r.selector.items())))] = r
        return list(latest.values())

    def low_risk(self, data_type: str, day: dt.date, window_days: int) -> list[Rating]:
        """The feedback a model of ``day`` learns from: current ratings of 3 on that day and the
        ``window_days`` before it (spec §3.6; ratings of 1 and 2 have no effect on the model)."""
        days = [day - dt.timedelta(days=n) for n in range(window_days + 1)]
        return [r for r in self.ratings(data_type, days) if r.severity == LOW]

    def threats(self, data_type: str, day: dt.date) -> list[Threat]:
        if self.absent:
            return []
        query = sa.select(threats).where(threats.c.data_type == data_type, threats.c.day == day).order_by(threats.c.id)
        with self.engine.connect() as conn:
            return [Threat(r["data_type"], r["day"], r["anchor"], r["title"], r["description"], r["analyst"],
                           _utc(r["created_at"]), _utc(r["updated_at"])) for r in conn.execute(query).mappings()]

    def threat_versions(self, data_type: str) -> dict[str, str]:
        """Per day with threats, when its threats last changed: what a storyboard build waits for."""
        if self.absent:
            return {}
        query = (sa.select(threats.c.day, sa.func.max(threats.c.updated_at), sa.func.count())
                 .where(threats.c.data_type == data_type).group_by(threats.c.day))
        with self.engine.connect() as conn:
            return {day.isoformat(): f"{_utc(stamp).isoformat()}#{n}" for day, stamp, n in conn.execute(query)}

    def finding_feedback(self, data_type: str, day: dt.date) -> list[FindingFeedback]:
        """The feedback in force on ``day``: given on or before it, not expired, not revoked; oldest first.
        A store made before findings had feedback (not migrated yet: runs never migrate) has none."""
        if self.absent:
            return []
        c = finding_feedback.c
        query = (sa.select(finding_feedback)
                 .where(c.data_type == data_type, c.day <= day, c.expires >= day, c.revoked_at.is_(None))
                 .order_by(c.id))
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table(finding_feedback.name):
                return []
            return [FindingFeedback(r["id"], r["data_type"], r["day"], r["detector"],
                                    {k: r[k] for k in _FEEDBACK_KEYS if r[k] is not None}, r["severity"],
                                    r["analyst"], _utc(r["created_at"]), r["expires"])
                    for r in conn.execute(query).mappings()]

    def audit_log(self) -> list[dict]:
        if self.absent:
            return []
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(audit).order_by(audit.c.id)).mappings()]


class AnalystStoreResource(dg.ConfigurableResource):
    """The store for assets: they only ever read it (feedback, severities, threats)."""

    url: str

    def store(self) -> AnalystStore:
        return AnalystStore(self.url, writable=False)
