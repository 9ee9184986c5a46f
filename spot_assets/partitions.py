"""Every asset of the graph is partitioned by UTC day, as Spot ran per day (`ml_ops.sh YYYYMMDD`).

The Spark assets also take a range of days in one run (``SINGLE_RUN``): a backfill of them launched
from the asset graph then starts one Spark session for all its days instead of one per day. Their
bodies are written for one day and run through `each_day`.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Callable, Iterable, Iterator

import dagster as dg

# Backfill policies are beta in Dagster 1.13; the warning would repeat for every Spark asset on every load.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
# The whole-graph job mixes policies on purpose: its own backfills run a day per run, as Dagster warns;
# asset backfills still honour each asset's policy.
warnings.filterwarnings("ignore", message="Asset job .* materializes assets with varying BackfillPolicies")
SINGLE_RUN = dg.BackfillPolicy.single_run()
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
Result = dg.MaterializeResult | dg.AssetCheckResult


def daily(start: dt.date) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone="UTC", end_offset=1)


def partition_day(context: dg.AssetExecutionContext) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)


def range_tags(first: dt.date, last: dt.date) -> dict[str, str]:
    """The tags of one run over the days ``first``..``last``, as a single-run backfill launches it."""
    return {RANGE_START: first.isoformat(), RANGE_END: last.isoformat()}


def each_day(context: dg.AssetExecutionContext, day_body: Callable[[dt.date], Iterable[Result]]) -> Iterator[Result]:
    """Run a one-day body for every day of the run, in order, and yield its results.

    A one-day run passes them through. A range run may give Dagster one result per asset and per check
    only, so the days' results are folded: the metadata become a table with a row per day, and a check
    passes only if it passed on every day (with the severity of its worst failure).
    """
    days = [dt.date.fromisoformat(key) for key in context.partition_keys]
    if len(days) == 1:
        yield from day_body(days[0])
        return
    materialized: dict[dg.AssetKey | None, list[tuple[dt.date, dg.MaterializeResult]]] = {}
    checked: dict[tuple[dg.AssetKey | None, str | None], list[tuple[dt.date, dg.AssetCheckResult]]] = {}
    for day in days:
        context.log.info(f"day {day}")
        for result in day_body(day):
            if isinstance(result, dg.MaterializeResult):
                materialized.setdefault(result.asset_key, []).append((day, result))
            else:
                checked.setdefault((result.asset_key, result.check_name), []).append((day, result))
    for key, results in materialized.items():
        yield dg.MaterializeResult(asset_key=key, metadata={"days": len(results), "per_day": _per_day(results)})
    for (key, name), results in checked.items():
        failed = [(day, r) for day, r in results if not r.passed]
        severity = (dg.AssetCheckSeverity.ERROR if any(r.severity == dg.AssetCheckSeverity.ERROR for _, r in failed)
                    else dg.AssetCheckSeverity.WARN)
        yield dg.AssetCheckResult(asset_key=key, check_name=name, passed=not failed, severity=severity, metadata={
            "failed_days": ", ".join(str(day) for day, _ in failed) or "none", "per_day": _per_day(results)})


def _per_day(results: list[tuple[dt.date, Result]]) -> dg.MetadataValue:
    """A table of each day's plain metadata values (text, numbers, flags; JSON as its text), a row per partition."""
    def plain(value):
        value = value.value if isinstance(value, dg.MetadataValue) else value
        if isinstance(value, dict):
            return json.dumps(value)
        return value if isinstance(value, (str, int, float, bool)) else None

    rows = []
    for day, result in results:
        metadata = result.metadata or {}
        if "partition" in metadata:
            raise ValueError("'partition' is the per-day table's own column; name that metadata otherwise")
        rows.append({"partition": day.isoformat(), **{k: plain(v) for k, v in metadata.items()}})
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return dg.MetadataValue.table([dg.TableRecord({c: row.get(c) for c in columns}) for row in rows])
