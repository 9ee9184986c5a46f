"""What the Suspicious page shows in the priority order, as pure functions of the lake and the analyst
store (no Dash here): the day's ``<type>_priority`` list, one row per entity with every reason it is
there, less the entities analysts rated on that day or suppress; the network of those entities; a
row's own events; and what rating a row records.

An entity is the type's entity columns (``spot_assets.datatypes``), a null column meaning "any value".
A feedback row selects a priority row when each column the feedback sets equals the row's value, so
feedback on one pair never hides the scan that covers it, and feedback on a source hides all its rows.
Whatever comes back from the browser (a row's entity values) is parsed again before it is used.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from resources.lake import LakeResource
from resources.store import HIGH, LOW, FindingFeedback
from spot_assets.datatypes import DATA_TYPES, DERIVED_FROM
from spot_assets.detect.priority import covers
from spot_assets.detect.priority_schema import priority_schema
from spot_assets.oa.investigate import read_matching
from spot_dash.context_data import private
from spot_dash.inputs import Filter, Invalid, parse_value
from spot_dash.network_data import edge_id, node_id
from spot_dash.suspicious_data import MAX_ROWS
from spot_dash.views import view

PRIORITY, LDA = "priority", "lda"
ORDERS = (PRIORITY, LDA)
# The feedback an analyst gives a finding: 1 raises its entity on later days' lists, 3 suppresses it.
FINDING_SEVERITIES = (HIGH, LOW)


def parse_order(text: str | None) -> str:
    """The page's order; the priority list unless Spot's LDA order is asked for."""
    if text in (None, ""):
        return PRIORITY
    if text not in ORDERS:
        raise Invalid(f"unknown order: {str(text)[:20]!r} (priority or lda)")
    return text


def table_name(data_type: str) -> str:
    return DATA_TYPES[data_type].table("priority")


def has_priority(lake: LakeResource, data_type: str, day: dt.date) -> bool:
    """Days before the detectors existed (or not run yet) have no priority list: the page shows Spot's order."""
    return bool(lake.day_files(table_name(data_type), day))


# ----- entities


def parse_entity(data_type: str, values: dict) -> dict:
    """A row's entity as it came back from the browser: each column parsed as what it holds (an IP, a
    port, a name), nulls kept (= any), at least one value set."""
    entity = {}
    for column in DATA_TYPES[data_type].entity_columns:
        value = values.get(column)  # "" is a value: a request that named no Host
        entity[column] = None if value is None else parse_value(data_type, column, value)
    if all(v is None for v in entity.values()):
        raise Invalid("a finding names at least one value")
    return entity


def label(data_type: str, entity: dict) -> str:
    return DATA_TYPES[data_type].label(entity)


def findings_are_ratings(data_type: str) -> bool:
    """Whether the type's entities are Spot rating selectors: a flow entity (sip, dip, dport) selects
    events as a rating does, so rating a finding can be a Spot rating too (a 3 teaches the LDA model, a
    1 lists its IPs under Threat investigation). DNS and proxy entities (a registered domain, a host)
    are not rating keys: their LDA feedback comes from rating in Spot's LDA order."""
    return set(DATA_TYPES[data_type].entity_columns) <= set(DATA_TYPES[data_type].rating_keys)


def rating_selector(data_type: str, entity: dict) -> dict | None:
    """The Spot rating a finding's rating also is, if its type's entities are rating selectors."""
    if not findings_are_ratings(data_type):
        return None
    return {k: v for k, v in entity.items() if v is not None}


def selected_by(table: pa.Table, data_type: str, feedback: list[FindingFeedback]) -> np.ndarray:
    """True for every row some feedback selects: the priority list's own rule (`priority.covers`)."""
    hit = np.zeros(table.num_rows, dtype=bool)
    frame = table.select(list(DATA_TYPES[data_type].entity_columns)).to_pandas()
    for f in feedback:
        if f.data_type == data_type and f.entity:
            hit |= covers(f.entity, frame)
    return hit


# ----- the priority list


@dataclasses.dataclass
class PriorityView:
    rows: pa.Table
    listed: int  # rows of the day's list
    rated: int  # of which feedback given on that day, or a suppression in force, selects


def filter_mask(table: pa.Table, data_type: str, flt: Filter | None) -> pa.Array | None:
    """The page's filter on entities: an IP in any of the entity's addresses, text in its name."""
    if flt is None:
        return None
    kind = DATA_TYPES[data_type]
    if flt.kind == "ip":
        tests = [pc.equal(table[c], flt.value) for c in kind.of_kind("ip")]
    else:
        tests = [pc.match_substring(table[c], flt.value, ignore_case=True) for c in kind.of_kind("domain")]
    return functools.reduce(pc.or_, (pc.fill_null(t, False) for t in tests), pa.repeat(False, table.num_rows))


def priority_view(lake: LakeResource, feedback: list[FindingFeedback], data_type: str, day: dt.date,
                  flt: Filter | None = None, limit: int = MAX_ROWS) -> PriorityView | None:
    """The day's priority list in rank order without the entities rated on that day (they have been
    read) and those an earlier suppression in force selects (a list built before it was given still
    holds them); None without a list. ``feedback``: the feedback in force on ``day``."""
    if not has_priority(lake, data_type, day):
        return None
    table = lake.read_day(table_name(data_type), day, priority_schema(DATA_TYPES[data_type])).sort_by("rank")
    rated = selected_by(table, data_type, [f for f in feedback if f.day == day or f.severity == LOW])
    keep = pa.array(~rated)
    wanted = filter_mask(table, data_type, flt)
    if wanted is not None:
        keep = pc.and_(keep, wanted)
    return PriorityView(table.filter(keep).slice(0, limit), table.num_rows, int(rated.sum()))


def reasons(row: dict) -> list[str]:
    return [r.strip() for r in (row.get("reasons") or "").split(";") if r.strip()]


def csv_table(table: pa.Table) -> pa.Table:
    """The list as CSV takes it: the detectors joined as the grid shows them."""
    joined = pa.array([", ".join(d or []) for d in table["detectors"].to_pylist()], pa.string())
    return table.set_column(table.column_names.index("detectors"), "detectors", joined)


# ----- the network of entities


def _ends(data_type: str, row: dict) -> tuple[tuple[str, str], tuple[str, str]]:
    """A row's two ends as (kind, value) (``ENTITY_ENDS`` of the type's view; an address end without a
    kind of its own is internal or external); an end of "any" value is a node of its own per row, so
    unrelated scans do not meet in one hub."""
    def end(column: str, kind: str | None) -> tuple[str, str]:
        value = row.get(column)
        if value is None:
            return "any", f"{row['entity']}\0{column}"
        return kind or ("internal" if private([value])[0] else "external"), str(value)

    first, second = view(data_type).ENTITY_ENDS
    return end(*first), end(*second)


def network_elements(rows: list[dict], data_type: str) -> list[dict]:
    """Each entity as a link between its two ends; a higher fused score draws a heavier link."""
    hits: dict[tuple[str, str], int] = {}
    edges: dict[tuple, float] = {}
    for row in rows:
        a, b = _ends(data_type, row)
        for node in (a, b):
            hits[node] = hits.get(node, 0) + 1
        key = tuple(sorted([a, b]))
        edges[key] = max(edges.get(key, 0.0), 30.0 * float(row.get("score") or 0.0))
    elements = [{"data": {"id": node_id(k, v), "label": "*" if k == "any" else v or "(none)", "kind": k, "hits": n,
                          "tip": "any value" if k == "any" else f"{v} ({k})"}, "classes": k}
                for (k, v), n in hits.items()]
    for (a, b), w in edges.items():
        source, target = node_id(*a), node_id(*b)
        elements.append({"data": {"id": edge_id(source, target), "source": source, "target": target,
                                  "weight": round(w, 3)}})
    return elements


def row_elements(row: dict, data_type: str) -> list[str]:
    a, b = (node_id(*end) for end in _ends(data_type, row))
    return [a, b, edge_id(a, b)]


# ----- a row's events


def entity_events(lake: LakeResource, data_type: str, day: dt.date, entity: dict,
                  limit: int = MAX_ROWS) -> pa.Table:
    """The day's events of one entity (the details of a priority row), first ``limit`` in time. An
    entity with an address is read as the threat searches read one (``read_matching``: DuckDB on a
    local lake, so a rare address is cheap); one without is scanned with its values pushed down, a
    derived column (a registered domain, a request's host) as a substring of the column it comes from.
    The exact rule then decides: equal event columns, and the detectors' own rule for derived ones."""
    kind = DATA_TYPES[data_type]
    columns = view(data_type).DETAIL_COLUMNS
    set_values = {k: v for k, v in entity.items() if v is not None}
    plain = {k: v for k, v in set_values.items() if k not in kind.derived}
    derived = {k: v for k, v in set_values.items() if k in kind.derived}
    address = next((c for c in kind.of_kind("ip") if c in plain), None)
    if address:
        table = read_matching(lake, data_type, day, columns, {address: plain[address]})
    else:
        conditions = [ds.field(k) == v for k, v in plain.items()]
        conditions += [pc.match_substring(ds.field(DERIVED_FROM[k]), pattern=v, ignore_case=True)
                       for k, v in derived.items() if v]
        where = functools.reduce(lambda a, b: a & b, conditions) if conditions else None
        table = lake.read_day(kind.table("events"), day, kind.events, columns=columns, filter=where)
    for k, v in plain.items():
        table = table.filter(pc.fill_null(pc.equal(table[k], pa.scalar(v, table.schema.field(k).type)), False))
    if derived and table.num_rows:
        frame = kind.with_entity(table.to_pandas())
        keep = np.logical_and.reduce([(frame[k] == v).to_numpy() for k, v in derived.items()])
        table = table.filter(pa.array(keep))
    return table.sort_by("ts").slice(0, limit)
