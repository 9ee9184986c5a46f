"""What the Ingest summary page draws: events per minute over a period, from ``<type>_ingest_summary``."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from resources.lake import LakeResource
from spot_assets import schemas
from spot_assets.datatypes import DATA_TYPES


def ingest_series(lake: LakeResource, data_type: str, start: dt.date, end: dt.date) -> pa.Table:
    """Events per minute over [start, end] (the ingest asset's summary), every minute from the first
    to the last with data present (a minute without events is 0, not a line drawn across it)."""
    table = DATA_TYPES[data_type].table("ingest_summary")
    days = [d for d in lake.days(table) if start <= d <= end]
    parts = [lake.read_day(table, d, schemas.INGEST_SUMMARY, columns=["minute", "total"]) for d in days]
    if not parts or not sum(p.num_rows for p in parts):
        return schemas.INGEST_SUMMARY.empty_table().select(["minute", "total"])
    got = pa.concat_tables(parts).group_by("minute").aggregate([("total", "sum")])
    minutes = got["minute"].cast(pa.int64()).to_numpy()  # ms since the epoch
    first = minutes.min()
    slots = (minutes - first) // 60_000
    totals = np.zeros(int(slots.max()) + 1, dtype=np.int64)
    np.add.at(totals, slots, got["total_sum"].to_numpy())
    axis = pa.array(first + np.arange(len(totals), dtype=np.int64) * 60_000).cast(schemas.TS)
    return pa.table({"minute": axis, "total": totals})
