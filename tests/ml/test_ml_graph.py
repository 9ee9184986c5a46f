"""Suspicious Connects through real Dagster materializations on Spark, feedback from the analyst store."""

import datetime as dt
import hashlib
import shutil

import dagster as dg
import pyarrow.compute as pc
import pytest

from resources.config import SpotConfig
from resources.lake import LakeResource
from resources.store import AnalystStore
from spot_assets.definitions import build_definitions
from spot_assets.partitions import range_tags
from tests.sample import make_sample

DAY = dt.date(2024, 7, 8)


@pytest.fixture
def cfg(tmp_path):
    return SpotConfig.model_validate({
        "home": str(tmp_path / "home"),
        "spark": {"master": "local[2]", "shuffle_partitions": 2},
        "ingest": {"settle_seconds": 0, "start_date": "2024-01-01"},
        "ml": {"topic_count": 5, "iterations": 10, "max_results": 20},
    })


def run(cfg, names, day=DAY, tags=None):
    """One run of ``names`` for ``day``, or for the partition range ``tags`` name."""
    defs = build_definitions(cfg)
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(partition_key=None if tags else day.isoformat(), tags=tags,
                                  asset_selection=[dg.AssetKey(n) for n in names], instance=dg.DagsterInstance.ephemeral())


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_dns_day_scores_ranks_and_learns_from_a_low_risk_rating(spark, cfg, tmp_path):
    sample = make_sample(tmp_path / "sample", DAY, seed=3, events=600)
    (cfg.landing_root / "dns").mkdir(parents=True)
    shutil.copy(sample["dns"][0], cfg.landing_root / "dns")
    ml = ["dns_words", "dns_model", "dns_scores", "dns_suspicious"]
    result = run(cfg, ["dns_raw", "dns_events", "dns_rejects", *ml])
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())

    lake = LakeResource(root=cfg.lake_root)
    events = lake.read_day("dns_events", DAY)
    scores = lake.read_day("dns_scores", DAY)
    assert scores.num_rows == events.num_rows  # every response is a valid event
    assert pc.min(scores["score"]).as_py() >= 0
    top = lake.read_day("dns_suspicious", DAY).to_pylist()
    assert len(top) == 20
    assert [r["score"] for r in top] == sorted(r["score"] for r in top)
    assert top[-1]["score"] <= sorted(scores["score"].to_pylist())[20]

    # An analyst says the most suspicious lookup is fine; the re-fit model learns it.
    target = top[0]
    store = AnalystStore(cfg.store_url)
    store.rate("dns", DAY, {"ip_dst": target["ip_dst"], "dns_qry_name": target["dns_qry_name"]}, 3, "ana")
    before = digest(cfg.home_path / "analyst.db")
    again = run(cfg, ["dns_model", "dns_scores", "dns_suspicious"])
    assert again.success
    assert digest(cfg.home_path / "analyst.db") == before  # runs never write analyst data

    rescored = lake.read_day("dns_scores", DAY)
    same = pc.and_(pc.equal(rescored["source_file"], target["source_file"]),
                   pc.equal(rescored["record"], target["record"]))
    [after] = rescored.filter(same)["score"].to_pylist()
    assert after > 10 * target["score"]
    new_top = {(r["source_file"], r["record"]) for r in lake.read_day("dns_suspicious", DAY).to_pylist()}
    assert (target["source_file"], target["record"]) not in new_top


def test_a_range_run_scores_each_day_as_its_own_run(spark, cfg, tmp_path):
    """A single-run backfill of the Spark assets (one run over two days) leaves each day's tables as a
    one-day run does, with one row per day in its metadata and checks."""
    days = [DAY, DAY + dt.timedelta(days=1)]
    (cfg.landing_root / "dns").mkdir(parents=True)
    for seed, day in enumerate(days):
        shutil.copy(make_sample(tmp_path / f"sample{seed}", day, seed=seed, events=400)["dns"][0], cfg.landing_root / "dns")
    for day in days:
        assert run(cfg, ["dns_raw", "dns_events", "dns_rejects"], day).success
    spark_assets = ["dns_ingest_summary", "dns_words", "dns_model", "dns_scores", "dns_suspicious"]
    ranged = run(cfg, spark_assets, tags=range_tags(*days))
    assert ranged.success
    lake = LakeResource(root=cfg.lake_root)
    together = {day: lake.read_day("dns_scores", day).sort_by("record") for day in days}
    model = [e.materialization for e in ranged.get_asset_materialization_events()
             if e.materialization.asset_key == dg.AssetKey("dns_model")]
    assert sorted(m.partition for m in model) == [d.isoformat() for d in days]
    assert [r.data["partition"] for r in model[0].metadata["per_day"].value.records] == [d.isoformat() for d in days]
    checks = ranged.get_asset_check_evaluations()
    assert {c.check_name for c in checks} == {"word_error_rate", "finite_log_likelihood", "vocabulary_size",
                                               "unseen_word_share"}
    assert all(len(c.metadata["per_day"].value.records) == 2 for c in checks)

    for day in days:
        assert run(cfg, spark_assets, day).success
        alone = lake.read_day("dns_scores", day).sort_by("record")
        assert alone.num_rows == together[day].num_rows > 0
        assert alone["record"].equals(together[day]["record"])
        assert alone["score"].to_pylist() == pytest.approx(together[day]["score"].to_pylist(), rel=1e-9, abs=1e-12)
