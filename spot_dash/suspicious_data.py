"""The Suspicious page in Spot's LDA order, as pure functions of the lake and the analyst's ratings (no
Dash here): the day's list (``<type>_enriched`` when the OA has run, else ``<type>_suspicious``) without
the rows analysts scored, filtered as Spot's filter box does, and what the page needs when it opens.

Every function reads Parquet through ``LakeResource`` with filter push-down and touches only what it
needs (the suspicious list of one day: 250 rows); nothing here starts Spark, so a request never waits
for a JVM.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from resources.lake import LakeResource
from resources.store import Rating
from spot_assets.datatypes import DATA_TYPES
from spot_assets.oa.severity import severity_of
from spot_dash import details_data, network_data
from spot_dash.inputs import Filter

MAX_ROWS = 250  # Spot's MAX_SUSPICIOUS_ROWS


def suspicious_tables(data_type: str) -> list[str]:
    """The tables a day's list is read from, the first present: the enriched one, else the ML output."""
    return [DATA_TYPES[data_type].table("enriched"), DATA_TYPES[data_type].table("suspicious")]


@dataclasses.dataclass
class SuspiciousView:
    """The day's list after scored rows left it and the filter applied; the counts explain an empty list."""

    rows: pa.Table
    source: str  # the table read: <type>_enriched, else <type>_suspicious
    listed: int  # rows the ML run listed
    scored: int  # of which analysts have rated
    has_reputation: bool
    has_geo: bool

    @property
    def columns(self) -> set[str]:
        return set(self.rows.column_names)


def events_names(table: pa.Table, data_type: str) -> pa.Table:
    """The enriched table keeps Spot's *_scores column names (spec §2.3); the page speaks the events' names."""
    spot = {enriched: name for name, enriched in DATA_TYPES[data_type].enriched_names.items()}
    return table.rename_columns([spot.get(c, c) if spot.get(c) not in table.column_names else c
                                 for c in table.column_names])


def has_values(table: pa.Table, columns) -> bool:
    """A context column counts when it holds something: the enrichment writes nulls when unconfigured."""
    for c in columns:
        if c in table.column_names and table.num_rows:
            values = pc.cast(table[c], pa.string())
            if pc.any(pc.fill_null(pc.greater(pc.utf8_length(values), 0), False)).as_py():
                return True
    return False


def geo_columns(data_type: str) -> list[str]:
    return [f"{prefix}_geoloc" for prefix in DATA_TYPES[data_type].places.values()]


def _with_rank(table: pa.Table) -> pa.Table:
    """Spot's rank: the 0-based position in the ML output (ascending score), kept through exclusion."""
    if "rank" in table.column_names:
        return table
    return table.append_column("rank", pa.array(np.arange(table.num_rows), pa.int64()))


def row_ids(table: pa.Table) -> pa.Array:
    """A stable id per event: its provenance (raw file and record), so a selection survives a reload."""
    return pc.binary_join_element_wise(pc.cast(table["source_file"], pa.string()),
                                       pc.cast(table["record"], pa.string()), ":")


def scored_mask(table: pa.Table, ratings: list[Rating]) -> np.ndarray:
    """True for every row a current rating selects (all of its values equal): the OA rule (``severity_of``)."""
    if not ratings or table.num_rows == 0:
        return np.zeros(table.num_rows, dtype=bool)
    return np.asarray(pc.is_valid(severity_of(table, ratings)).to_numpy(zero_copy_only=False), dtype=bool)


def filter_mask(table: pa.Table, data_type: str, flt: Filter | None) -> pa.Array | None:
    """Spot's filter (spec §4.6): an IP equal to any of the type's addresses, else a substring of its
    text column, case-insensitive."""
    if flt is None:
        return None
    spec = DATA_TYPES[data_type]
    if flt.kind == "ip":
        return functools.reduce(pc.or_, (pc.fill_null(pc.equal(table[c], flt.value), False)
                                         for c in spec.of_kind("ip")))
    return pc.fill_null(pc.match_substring(table[spec.text_filter], flt.value, ignore_case=True), False)


def suspicious_view(lake: LakeResource, ratings: list[Rating], data_type: str, day: dt.date,
                    flt: Filter | None = None, limit: int = MAX_ROWS) -> SuspiciousView | None:
    """The day's suspicious list: the enriched table when OA has run, the ML output otherwise; None
    when neither has the day."""
    for source in suspicious_tables(data_type):
        if lake.day_files(source, day):
            break
    else:
        return None
    table = _with_rank(events_names(lake.read_day(source, day), data_type))
    listed = table.num_rows
    scored = scored_mask(table, ratings)
    keep = pa.array(~scored)
    wanted = filter_mask(table, data_type, flt)
    if wanted is not None:
        keep = pc.and_(keep, wanted)
    rows = table.filter(keep).slice(0, limit)
    return SuspiciousView(
        rows=rows, source=source, listed=listed, scored=int(scored.sum()),
        has_reputation=has_values(table, DATA_TYPES[data_type].reputation),
        has_geo=has_values(table, geo_columns(data_type)),
    )


@dataclasses.dataclass
class PageData:
    """What the Suspicious page needs at once (and what the benchmark times)."""

    view: SuspiciousView
    elements: list[dict]
    first_details: pa.Table | None


def page_data(lake: LakeResource, ratings: list[Rating], data_type: str, day: dt.date,
              flt: Filter | None = None) -> PageData | None:
    view = suspicious_view(lake, ratings, data_type, day, flt)
    if view is None:
        return None
    first = view.rows.slice(0, 1).to_pylist()
    return PageData(view, network_data.network_elements(view.rows, data_type),
                    details_data.details(lake, data_type, first[0]) if first else None)
