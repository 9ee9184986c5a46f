"""Running the graph from the command line: every run goes through Dagster on a persistent instance
under ``<home>/dagster``, so it shows in the Dagster UI beside the runs started there; and what those
runs have done so far, per day and stage, read back from the same instance."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg

from resources.config import SpotConfig
from spot_assets.definitions import DAILY_JOB, build_definitions
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


def report(result: dg.ExecuteInProcessResult, day: dt.date) -> bool:
    """Print what a run materialized, with its metadata; True when the run succeeded."""
    print(f"{day}: run {result.run_id} {'succeeded' if result.success else 'FAILED'}")
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        shown = {k: v.value for k, v in mat.metadata.items() if k != "manifest"}
        print(f"  {mat.asset_key.to_user_string():<24} {shown}")
    for event in result.get_asset_check_evaluations():
        status = "passed" if event.passed else "FAILED"
        print(f"  check {event.asset_key.to_user_string()}:{event.check_name:<12} {status}")
    for event in result.all_events:
        if event.is_step_failure:
            print(f"  step {event.step_key} failed: {event.step_failure_data.error.message.strip()}")
    return result.success


class DayProgress:
    """Which assets of the whole graph each day has materialized, from the instance's event log: what
    `spot demo` shows while its days run, and how it tells a done day (Dagster's own record, the same
    the UI shows, rather than a guess from the lake's folders).

    A stage is an asset's name without its data type (``flow_model`` is stage ``model``), in the graph's
    order, so assets added to the graph show up without a change here.
    """

    def __init__(self, cfg: SpotConfig, days: list[dt.date]):
        defs = build_definitions(cfg)
        daily = set(defs.resolve_job_def(DAILY_JOB).asset_layer.executable_asset_keys)
        self.days = list(days)
        self.keys = [key for key in defs.resolve_asset_graph().toposorted_asset_keys if key in daily]
        self.stages: dict[str, set[dg.AssetKey]] = {}
        for key in self.keys:
            self.stages.setdefault(key.to_user_string().partition("_")[2], set()).add(key)

    def done(self, instance: dg.DagsterInstance) -> dict[dt.date, set[dg.AssetKey]]:
        by_key = {day.isoformat(): day for day in self.days}
        done: dict[dt.date, set[dg.AssetKey]] = {day: set() for day in self.days}
        for key in self.keys:
            for partition in instance.get_materialized_partitions(key) & by_key.keys():
                done[by_key[partition]].add(key)
        return done

    def complete(self, done: dict[dt.date, set[dg.AssetKey]], day: dt.date) -> bool:
        return len(done[day]) == len(self.keys)

    @staticmethod
    def running(instance: dg.DagsterInstance) -> tuple[str, str] | None:
        """(day, step) of the run in progress, if one is."""
        runs = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]), limit=1)
        if not runs:
            return None
        starts = instance.all_logs(runs[0].run_id, of_type=dg.DagsterEventType.STEP_START)
        return (runs[0].tags.get("dagster/partition", ""), starts[-1].step_key if starts else "starting")

    def lines(self, done: dict[dt.date, set[dg.AssetKey]], running: tuple[str, str] | None,
              width: int | None = None) -> list[str]:
        """The board: a row per day, a column per stage: "ok", "-" (not yet) or how many types are done;
        the stages split into blocks of at most ``width`` characters a line."""
        def cell(day: dt.date, keys: set[dg.AssetKey]) -> str:
            n = len(done[day] & keys)
            return "ok" if n == len(keys) else "-" if n == 0 else f"{n}/{len(keys)}"

        blocks, block = [], []
        for stage in self.stages:
            if block and width and len(" ".join(["day".ljust(10), *block, stage])) > width:
                blocks.append(block)
                block = []
            block.append(stage)
        rows = []
        for block in [*blocks, block]:
            rows.append(" ".join(["day".ljust(10), *block]))
            rows += [f"{day} " + " ".join(cell(day, self.stages[s]).ljust(len(s)) for s in block).rstrip()
                     for day in self.days]
        if running:
            rows.append(f"running: {running[0]} {running[1]}")
        return rows
