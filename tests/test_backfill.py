"""Two-day backfills through the Dagster webserver and daemon (`spot ui`), launched over GraphQL as
`spot demo` and the asset graph's Materialize button launch them.

The whole graph: every asset of both days ends materialized, decoding runs a day per run, and the
Spark assets run over ranges of days (their single-run policy; the daemon starts one as soon as
some days are decoded, so two days may still take two such runs). Re-scoring both days (the Spark
assets alone, their inputs already there) is then exactly one run."""

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
from spot_assets.partitions import RANGE_END, RANGE_START
from tests.sample import make_sample
from tests.test_cluster import free_port

pytestmark = pytest.mark.slow

DAYS = [dt.date(2024, 7, 8), dt.date(2024, 7, 9)]
SPARK_ASSETS = ["dns_ingest_summary", "dns_words", "dns_model", "dns_scores", "dns_suspicious"]


def test_two_day_asset_backfills_run_the_spark_assets_over_ranges(tmp_path):
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
        ui = subprocess.Popen([sys.executable, "-m", "spot_cli", "--config", str(config), "ui", "--host",
                               "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True, env=os.environ | {"DAGSTER_HOME": str(cfg.dagster_home)})
    try:
        api = DagsterApi(f"http://127.0.0.1:{port}")
        api.wait_ready(180)
        days = [d.isoformat() for d in DAYS]
        backfills = [api.launch_asset_backfill(assets, days, "test: the whole graph")]
        assert api.wait_backfill(backfills[0], poll=2, timeout=900) == "COMPLETED_SUCCESS", \
            (tmp_path / "dagster.log").read_text()[-5000:]
        backfills.append(api.launch_asset_backfill(SPARK_ASSETS, days, "test: re-score"))
        assert api.wait_backfill(backfills[1], poll=2, timeout=600) == "COMPLETED_SUCCESS", \
            (tmp_path / "dagster.log").read_text()[-5000:]
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
        def runs(backfill: str, assets: list[str]) -> dict[str, dict]:
            """The tags of the backfill's runs that materialized any of ``assets`` (the landing sensor
            and automation may have run some too), by run id."""
            found = {}
            for asset in assets:
                for record in instance.fetch_materializations(dg.AssetKey(asset), limit=100).records:
                    tags = instance.get_run_by_id(record.run_id).tags
                    if tags.get("dagster/backfill") == backfill:
                        found[record.run_id] = tags
            return found

        graph, rescore = backfills
        assert len(runs(graph, ["dns_events"])) == 2  # one decoding run per day
        assert all(RANGE_START in tags for tags in runs(graph, SPARK_ASSETS).values())
        [tags] = runs(rescore, SPARK_ASSETS).values()  # both days of every Spark asset, in one run
        assert (tags[RANGE_START], tags[RANGE_END]) == tuple(days)
        for asset in [*SPARK_ASSETS, "dns_events", "dns_enriched"]:
            records = instance.fetch_materializations(dg.AssetKey(asset), limit=100).records
            assert {r.partition_key for r in records} >= set(days), asset
