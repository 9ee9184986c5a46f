"""The main job on the embedded default: simulated days with attacks, through the whole graph as a
Dagster asset backfill (the Spark assets take all the days in one run), then the Dagster UI and the
analyst dashboard.

Running it again reuses what exists: the simulated captures are kept under ``<home>/samples`` and
recognised by their sha256 when landed again, and a day whose suspicious lists already exist is not
backfilled again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from resources.config import SpotConfig
from resources.dagster_api import DagsterApi
from resources.lake import LakeResource
from spot_assets.definitions import daily_assets
from spot_assets.simulation import scenarios
from spot_assets.simulation.cli import nfpcapd_path
from spot_assets.simulation.simulator import Settings, Simulator

FIRST_DAY, DAYS = dt.date(2024, 7, 8), 3
DEMO = Settings(hosts=300, flows=40_000, seed=7)


def demo_days() -> list[dt.date]:
    return [FIRST_DAY + dt.timedelta(days=k) for k in range(DAYS)]


def simulate(cfg: SpotConfig) -> Path:
    """Captures and labels of the demo days, made once."""
    samples = cfg.home_path / "samples"
    done = samples / ".complete"
    if done.exists():
        print(f"reusing the simulated captures in {samples}")
        return samples
    settings = dataclasses.replace(DEMO, scenarios=tuple(scenarios.configure(list(scenarios.SCENARIOS), [])))
    simulator = Simulator(settings, nfpcapd_path(cfg))
    for day in demo_days():
        result = simulator.day(day, samples, samples / "labels")
        print(f"simulated {day}: {result.events['flow']} flows, {result.events['dns']} DNS responses, "
              f"{result.events['proxy']} proxy requests, with every attack scenario")
    done.touch()
    return samples


def _start(args: list[str], log: Path) -> subprocess.Popen:
    # A new session: Ctrl-C reaches only us, and we stop the whole group of each server ourselves.
    return subprocess.Popen(args, stdout=open(log, "a"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def pending_days(cfg: SpotConfig) -> list[dt.date]:
    lake = LakeResource(root=cfg.lake_root)
    done = set.intersection(*(set(lake.days(f"{t}_suspicious")) for t in cfg.ingest.types))
    return [d for d in demo_days() if d not in done]


def serve(cfg: SpotConfig, host: str, ui_port: int, dash_port: int) -> int:
    """Start the Dagster UI and daemon, backfill what is missing, start the dashboard, wait for Ctrl-C."""
    logs = cfg.home_path / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    # Ctrl-C, even when started in the background (where SIGINT starts ignored), and `kill` both stop
    # the servers too.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    spot = [sys.executable, "-m", "spot_assets.cli"]
    procs = [_start([*spot, "ui", "--host", host, "--port", str(ui_port)], logs / "dagster.log")]
    try:
        api = DagsterApi(f"http://{host}:{ui_port}")
        print(f"starting the Dagster UI and daemon (log: {logs / 'dagster.log'})")
        api.wait_ready()
        days = pending_days(cfg)
        if days:
            print(f"backfilling {len(days)} day(s) through the whole graph: {', '.join(map(str, days))}")
            backfill = api.launch_asset_backfill(daily_assets(cfg), [d.isoformat() for d in days], "spot demo")
            status = api.wait_backfill(backfill)
            if status not in ("COMPLETED", "COMPLETED_SUCCESS"):
                print(f"the backfill ended {status.lower()}: see http://{host}:{ui_port}/overview/backfills/{backfill}")
                return 1
        procs.append(_start([*spot, "dash", "--host", host, "--port", str(dash_port)], logs / "dashboard.log"))
        print(f"\nDagster UI (lineage, runs, partitions, checks): http://{host}:{ui_port}")
        print(f"Analyst dashboard:                              http://{host}:{dash_port}")
        print("Ctrl-C stops both.")
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        print(f"a server stopped on its own: see the logs in {logs}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(procs)
