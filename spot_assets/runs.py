"""Running the graph from the command line: every run goes through Dagster on a persistent instance
under ``<home>/dagster``, so it shows in the Dagster UI beside the runs started there."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg

from resources.config import SpotConfig
from spot_assets.definitions import build_definitions
from spot_assets.partitions import range_tags

# One run at a time: each run holds a Spark driver, and two of them on a small machine only fight.
_INSTANCE_YAML = """\
telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 1
# A run whose process died (a killed demo, a reboot) is marked failed instead of holding the queue.
run_monitoring:
  enabled: true
  poll_interval_seconds: 30
"""


def prepare_dagster_home(cfg: SpotConfig) -> Path:
    """Point DAGSTER_HOME at the persistent instance; its dagster.yaml is Spot's own and rewritten."""
    home = cfg.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(_INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def materialize_day(cfg: SpotConfig, day: dt.date, data_types: list[str], only: list[str] | None = None,
                    last: dt.date | None = None) -> dg.ExecuteInProcessResult:
    """Materialize every asset of ``data_types`` for one day (or of the given asset names only); with
    ``last``, in one run over the days ``day``..``last``, as a single-run backfill does (only assets
    with that backfill policy take a range)."""
    prepare_dagster_home(cfg)
    defs = build_definitions(cfg)
    job = defs.resolve_implicit_global_asset_job_def()
    keys = [key for key in defs.resolve_asset_graph().get_all_asset_keys()
            if defs.resolve_assets_def(key).group_names_by_key[key] in data_types
            and (only is None or key.to_user_string() in only)]
    with dg.DagsterInstance.get() as instance:
        tags = {"spot/launched_by": "cli"} | (range_tags(day, last) if last is not None else {})
        return job.execute_in_process(partition_key=None if last else day.isoformat(), asset_selection=keys,
                                      instance=instance, raise_on_error=False, tags=tags)
