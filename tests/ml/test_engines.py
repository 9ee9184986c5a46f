"""Words, corpus, scores and the suspicious list are the same whether a day runs in process or on
Spark (``[ml] local_max_rows``): one simulated day of each type, through the real assets both ways."""

import datetime as dt
import shutil

import dagster as dg
import pyarrow as pa

from resources.config import SpotConfig
from resources.lake import LakeResource
from spot_assets.datatypes import DATA_TYPES
from spot_assets.definitions import build_definitions
from tests.sample import make_sample

DAY = dt.date(2024, 7, 8)
TYPES = tuple(DATA_TYPES)
IN_PROCESS, ON_SPARK = 10**9, 0


def config(home, local_max_rows: int) -> SpotConfig:
    return SpotConfig.model_validate({
        "home": str(home),
        "spark": {"master": "local[2]", "shuffle_partitions": 2},
        "ingest": {"settle_seconds": 0, "start_date": "2024-01-01"},
        "ml": {"topic_count": 5, "iterations": 10, "max_results": 100, "local_max_rows": local_max_rows},
    })


def run(cfg: SpotConfig, stages: list[str]) -> dg.ExecuteInProcessResult:
    job = build_definitions(cfg).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(partition_key=DAY.isoformat(), instance=dg.DagsterInstance.ephemeral(),
                                    asset_selection=[dg.AssetKey(f"{t}_{s}") for t in TYPES for s in stages])
    assert result.success
    return result


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {e.materialization.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()}


def read(lake: LakeResource, table: str, keys: list[str] | None) -> pa.Table:
    """The day's table as read back; sorted by ``keys`` (the engines split rows into files differently)."""
    stored = lake.read_day(table, DAY).replace_schema_metadata(None)
    return stored.sort_by([(k, "ascending") for k in keys]) if keys else stored


def same(lake: LakeResource, table: str, before: pa.Table, keys: list[str] | None) -> None:
    after = read(lake, table, keys)
    assert after.schema == before.schema, table
    assert after.num_rows == before.num_rows > 0, table
    assert after.equals(before), table


def test_in_process_and_spark_leave_the_same_tables(spark, tmp_path):
    sample = make_sample(tmp_path / "sample", DAY, seed=11, events=4000)
    local, remote = config(tmp_path / "home", IN_PROCESS), config(tmp_path / "home", ON_SPARK)
    for t in TYPES:
        (local.landing_root / t).mkdir(parents=True)
        for f in sample[t]:
            shutil.copy(f, local.landing_root / t)
    run(local, ["raw", "events", "rejects"])
    lake = LakeResource(root=local.lake_root)
    event_order = ["source_file", "record"]
    tables = {"words": event_order, "corpus": ["ip", "word"]}

    first = metadata(run(local, ["words"]))
    before = {(t, s): read(lake, f"{t}_{s}", k) for t in TYPES for s, k in tables.items()}
    second = metadata(run(remote, ["words"]))
    for t in TYPES:
        assert first[f"{t}_words"].pop("engine") == "in process" and second[f"{t}_words"].pop("engine") == "spark"
        assert first[f"{t}_words"] == second[f"{t}_words"], t
        for s, k in tables.items():
            same(lake, f"{t}_{s}", before[t, s], k)

    run(remote, ["model"])
    tables = {"scores": event_order, "suspicious": None}  # the list in its own order
    # Spark first this time: each engine replaces the other's files.
    first = metadata(run(remote, ["scores", "suspicious"]))
    before = {(t, s): read(lake, f"{t}_{s}", k) for t in TYPES for s, k in tables.items()}
    second = metadata(run(local, ["scores", "suspicious"]))
    for t in TYPES:
        assert first[f"{t}_scores"].pop("engine") == "spark" and second[f"{t}_scores"].pop("engine") == "in process"
        assert first[f"{t}_scores"] == second[f"{t}_scores"], t
        assert first[f"{t}_suspicious"] == second[f"{t}_suspicious"], t
        assert before[t, "suspicious"].num_rows == 100
        for s, k in tables.items():
            same(lake, f"{t}_{s}", before[t, s], k)
