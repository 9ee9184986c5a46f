"""A two-day backfill through the Dagster webserver and daemon (`spot ui`), launched over GraphQL as
`spot demo` and the asset graph's Materialize button launch one: every asset of both days ends materialized, and
the Spark assets take both days in a single run (their backfill policy) while decoding stays one
run per day."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys

import dagster as dg
import pytest

from resources.config import load_config
from resources.dagster_api import DagsterApi
from resources.lake import LakeResource
from spot_assets.definitions import daily_assets
from spot_assets.simulation.sample import make_sample
from tests.test_cluster import free_port

pytestmark = pytest.mark.slow

DAYS = [dt.date(2024, 7, 8), dt.date(2024, 7, 9)]
SPARK_ASSETS = ["dns_ingest_summary", "dns_words", "dns_model", "dns_scores", "dns_suspicious"]


def test_two_day_asset_backfill_runs_spark_assets_once_for_both_days(tmp_path):
    config = tmp_path / "spot.toml"
    config.write_text('home = "."\n[ingest]\ntypes = ["dns"]\nsettle_seconds = 0\nstart_date = 2024-01-01\n'
                      '[spark]\nmaster = "local[2]"\ndriver_memory = "1g"\nshuffle_partitions = 2\n'
                      '[ml]\ntopic_count = 5\niterations = 10\n')
    cfg = load_config(config)
    (cfg.landing_root / "dns").mkdir(parents=True)
    for seed, day in enumerate(DAYS):
        shutil.copy(make_sample(tmp_path / f"sample{seed}", day, seed=seed, events=400)["dns"][0], cfg.landing_root / "dns")
    assets = daily_assets(cfg)

    port = free_port()
    with open(tmp_path / "dagster.log", "w") as log:
        ui = subprocess.Popen([sys.executable, "-m", "spot_assets.cli", "--config", str(config), "ui", "--host",
                               "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True, env=os.environ | {"DAGSTER_HOME": str(cfg.dagster_home)})
    try:
        api = DagsterApi(f"http://127.0.0.1:{port}")
        api.wait_ready(180)
        backfill = api.launch_asset_backfill(assets, [d.isoformat() for d in DAYS], "test")
        status = api.wait_backfill(backfill, poll=2, timeout=900)
        assert status == "COMPLETED_SUCCESS", (tmp_path / "dagster.log").read_text()[-5000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(ui.pid, signal.SIGTERM)
        try:
            ui.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(ui.pid, signal.SIGKILL)

    lake = LakeResource(root=cfg.lake_root)
    for day in DAYS:
        assert lake.read_day("dns_suspicious", day).num_rows > 0
    with dg.DagsterInstance.from_config(str(cfg.dagster_home)) as instance:
        def runs(asset: str) -> set[str]:
            """The backfill's runs that materialized ``asset`` (the landing sensor may have run some too)."""
            records = instance.fetch_materializations(dg.AssetKey(asset), limit=100).records
            return {r.run_id for r in records if instance.get_run_by_id(r.run_id).tags.get("dagster/backfill") == backfill}

        spark_runs = set.union(*(runs(a) for a in SPARK_ASSETS))
        assert len(spark_runs) == 1  # both days of every Spark asset, in one run
        assert len(runs("dns_events")) == 2  # one decoding run per day
        for asset in [*SPARK_ASSETS, "dns_events", "dns_enriched"]:
            records = instance.fetch_materializations(dg.AssetKey(asset), limit=100).records
            assert {r.partition_key for r in records} >= {d.isoformat() for d in DAYS}, asset
