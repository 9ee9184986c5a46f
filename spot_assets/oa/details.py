"""The details behind a day's suspicious events (spec §4.2 steps 6-7, §4.3, §4.4): what the dashboard
shows when an analyst opens a suspicious row, computed once per day as lake tables.

* ``flow_details`` (Spot's ``flow_edge``): for each suspicious pair, every flow between the two IPs, in
  either direction, in the same UTC minute as the suspicious flow. Rows keep the events' column names
  (``sip``, ``trhour``, ``trminute``...); the dashboard finds a row's details by the unordered pair
  and the minute, as Spot's query did.
* ``flow_chords`` (Spot's ``flow_chords``): for each IP with more than one distinct peer among the
  suspicious rows, the day's bytes and packets between it and each of those peers, per direction:
  ``ip_threat, sip, dip, ibyt, ipkt``.
* ``dns_details`` (Spot's ``dns_edge``): for each suspicious query name (``anchor``) and UTC hour
  (``hh``), up to 250 events of that hour whose name contains it (Spot's ``LIKE '%name%'``), earliest
  first, with the IANA names of class, type and rcode.
* ``dns_dendro`` (Spot's ``dns_dendro``): for each suspicious client, the names it queried that day
  and their answers, with how often (``queries``) and since when (``first_seen``), at most 250 per
  client, most frequent first. Spot kept one row per second instead of a count.
* ``proxy_details`` (Spot's ``proxy_edge``): for each suspicious (``fulluri``, ``clientip``, ``hh``),
  up to 250 requests of that hour, earliest first, with the HTTP status name.

What the dashboard shows under one row is ``row_details``: the rows of the day's table that the type's
``of_row`` selects, or, for a row the table does not hold, the same selection of what the type's
``edges`` computes for that row alone. For DNS that selection is the row's *exact* query name in its
hour: Spot's UI asked ``edgeDetails(frameTime, dnsQuery)``, which read ``dns_edge`` with
``dns_qry_name = <name>`` (spec §5.2 "same hour and exact query", §4.7), while the table itself holds
Spot's ``LIKE '%name%'`` rows (spec §4.3).

The tables of each type are built by its OA module (``spot_assets/oa/<type>.py``, ``details``).
Spot picked its 250 rows in no particular order; here the earliest are kept, so a re-run gives the
same rows. Network context and geolocation are not repeated here: ``<type>_enriched`` has them for
the suspicious rows. Everything is read with pyarrow push-down filters on the anchors' values.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from resources.lake import LakeResource
from spot_assets.datatypes import DATA_TYPES

LIMIT = 250  # Spot's LIMIT per suspicious row


def day_events(lake: LakeResource, data_type: str, day: dt.date, columns: list[str],
               filter: ds.Expression) -> pa.Table:
    return lake.read_day(DATA_TYPES[data_type].table("events"), day, DATA_TYPES[data_type].events, columns=columns,
                         filter=filter)


def distinct(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    return pc.unique(pc.drop_null(values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values))


def hour_of(ts: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.cast(pc.hour(ts), pa.int32())


def pair(a: pa.ChunkedArray, b: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """The two ends of a flow in a fixed order, so both directions share one key."""
    first = pc.less_equal(a, b)
    return pc.if_else(first, a, b), pc.if_else(first, b, a)


def head_per_group(table: pa.Table, keys: list[str], order: list[tuple[str, str]], n: int) -> pa.Table:
    """The first ``n`` rows of each group of equal ``keys`` in ``order`` (SQL's per-group LIMIT)."""
    ordered = table.sort_by([(k, "ascending") for k in keys] + order)
    rows = ordered.num_rows
    if rows == 0:
        return ordered
    starts = np.zeros(rows, bool)
    starts[0] = True
    for key in keys:
        codes = pc.fill_null(pc.dictionary_encode(ordered[key].combine_chunks()).indices, -1).to_numpy()
        starts[1:] |= codes[1:] != codes[:-1]
    first = np.flatnonzero(starts)
    rank = np.arange(rows) - np.repeat(first, np.diff(np.append(first, rows)))
    return ordered.filter(pa.array(rank < n))


EARLIEST = [("ts", "ascending"), ("source_file", "ascending"), ("record", "ascending")]


def _as_suspicious(spec, row: dict) -> pa.Table:
    """One row (as a page holds it: any value types, ``ts`` maybe ISO text) as the suspicious table it
    came from, with the columns its details are found by."""
    values = {**row, "ts": as_utc(row["ts"])}
    return pa.table({c: pa.array([values[c]], spec.events.field(c).type) for c in spec.oa.KEYS})


def as_utc(ts) -> dt.datetime:
    if isinstance(ts, str):
        ts = dt.datetime.fromisoformat(ts)
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)


def row_details(lake: LakeResource, data_type: str, row: dict, limit: int = LIMIT) -> pa.Table:
    """What an analyst sees under one suspicious row (``of_row`` of the type's OA module): read from
    ``<type>_details`` of the row's day when it holds the row, else computed for the row alone by the
    same function the asset runs (the row is not suspicious that day, or the details are not built
    yet). Earliest first, at most ``limit``."""
    spec = DATA_TYPES[data_type]
    row = {**row, "ts": as_utc(row["ts"])}
    day, wanted = row["ts"].date(), spec.oa.of_row(row)
    table = lake.read_day(spec.table("details"), day, filter=wanted) if lake.day_files(spec.table("details"), day) \
        else None
    if table is None or table.num_rows == 0:  # a materialized row holds its own event at least
        table = spec.oa.edges(lake, day, _as_suspicious(spec, row)).filter(wanted)
    return table.sort_by(EARLIEST).slice(0, limit)
