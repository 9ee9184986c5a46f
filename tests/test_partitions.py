"""`each_day`: a one-day body over a run's days, folded into one result per asset and check when the
run covers a range (a single-run backfill), through real in-process Dagster runs."""

import datetime as dt

import dagster as dg

from spot_assets.partitions import SINGLE_RUN, daily, each_day, range_tags

PARTITIONS = daily(dt.date(2024, 1, 1))
RANGE = range_tags(dt.date(2024, 7, 8), dt.date(2024, 7, 10))


@dg.asset(partitions_def=PARTITIONS, backfill_policy=SINGLE_RUN,
          check_specs=[dg.AssetCheckSpec("even_day", asset="counted"), dg.AssetCheckSpec("not_ninth", asset="counted")])
def counted(context: dg.AssetExecutionContext):
    def one(day: dt.date):
        yield dg.MaterializeResult(metadata={"rows": day.day * 10, "note": dg.MetadataValue.md("**x**")})
        yield dg.AssetCheckResult(check_name="even_day", passed=day.day % 2 == 0, severity=dg.AssetCheckSeverity.WARN)
        yield dg.AssetCheckResult(check_name="not_ninth", passed=day.day != 9, metadata={"day": day.day})

    yield from each_day(context, one)


def test_a_one_day_run_passes_the_days_results_through():
    result = dg.materialize([counted], partition_key="2024-07-08")
    [mat] = result.asset_materializations_for_node("counted")
    assert mat.metadata["rows"].value == 80
    assert {c.check_name: c.passed for c in result.get_asset_check_evaluations()} == {"even_day": True, "not_ninth": True}


def test_a_range_run_folds_each_asset_and_check_into_one_result_with_a_row_per_day():
    result = dg.materialize([counted], tags=RANGE)
    mats = result.asset_materializations_for_node("counted")
    assert sorted(m.partition for m in mats) == ["2024-07-08", "2024-07-09", "2024-07-10"]
    rows = [r.data for r in mats[0].metadata["per_day"].value.records]
    assert rows == [{"partition": "2024-07-08", "rows": 80, "note": "**x**"},
                    {"partition": "2024-07-09", "rows": 90, "note": "**x**"},
                    {"partition": "2024-07-10", "rows": 100, "note": "**x**"}]
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    # A check fails if it failed on any day, with the severity of its worst failure.
    assert not checks["even_day"].passed and checks["even_day"].severity == dg.AssetCheckSeverity.WARN
    assert checks["even_day"].metadata["failed_days"].value == "2024-07-09"
    assert not checks["not_ninth"].passed and checks["not_ninth"].severity == dg.AssetCheckSeverity.ERROR
    assert [(r.data["partition"], r.data["day"]) for r in checks["not_ninth"].metadata["per_day"].value.records] == [
        ("2024-07-08", 8), ("2024-07-09", 9), ("2024-07-10", 10)]
