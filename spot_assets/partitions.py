"""Every asset of the graph is partitioned by UTC day, as Spot ran per day (`ml_ops.sh YYYYMMDD`)."""

from __future__ import annotations

import datetime as dt

import dagster as dg


def daily(start: dt.date) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone="UTC", end_offset=1)


def partition_day(context: dg.AssetExecutionContext) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)
