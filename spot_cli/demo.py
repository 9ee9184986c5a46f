"""The main job on the embedded default: simulated days with attacks, through the whole graph a day at a
time, with the Dagster UI from the start and the analyst dashboard as soon as the first day is done.

The days run in one worker process (``python -m spot_cli.demo DAY...``), one Dagster run per day
on the persistent instance (so each shows in the UI), in date order because a day's detectors read
the profiles of the days before it. One process for all the days means one Spark session, one JVM
start, where a backfill through the daemon starts a process and a JVM for each of its runs: that was
15 runs and about 16 minutes to the first look on 2 cores.

Running it again reuses what exists: the simulated captures are kept under ``<home>/samples`` and
recognised by their sha256 when landed again, and a day whose every asset is materialized is not run
again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import dagster as dg

from resources.config import SpotConfig, load_config
from resources.dagster_api import DagsterApi
from spot_assets.simulation import scenarios
from spot_assets.simulation.simulator import Settings, Simulator
from spot_cli.runs import DayProgress, materialize_day
from spot_cli.simulate import nfpcapd_path

FIRST_DAY, DAYS = dt.date(2024, 7, 8), 3
DEMO = Settings(hosts=300, flows=40_000, seed=7)
POLL_SECONDS = 2.0


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
    # A new session: Ctrl-C reaches only us, and we stop the whole group of each process ourselves.
    return subprocess.Popen(args, stdout=open(log, "a"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    # SIGINT first: the worker's Dagster run then ends as failed ("interrupted") instead of staying
    # "started" in the UI; the servers stop on it too.
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except (urllib.error.URLError, OSError):
        return False


class Board:
    """The progress board on the terminal: redrawn in place on a terminal, a line per changed day in a log."""

    def __init__(self, progress: DayProgress):
        self.progress = progress
        self.shown: list[str] = []
        self.in_place = sys.stdout.isatty()

    def update(self, done: dict[dt.date, set], running: tuple[str, str] | None) -> None:
        # On a terminal, no line may wrap: that would throw off the count of lines to redraw.
        width = shutil.get_terminal_size().columns - 1 if self.in_place else None
        lines = self.progress.lines(done, running, width)
        if lines == self.shown:
            return
        if self.in_place:
            if self.shown:
                print(f"\x1b[{len(self.shown)}F\x1b[J", end="")
            print("\n".join(line[:width] for line in lines), flush=True)
        else:
            changed = [line for k, line in enumerate(lines) if k >= len(self.shown) or line != self.shown[k]]
            if changed:
                print("\n".join(changed), flush=True)
        self.shown = lines

    def say(self, text: str) -> None:
        """A message below the board; on a terminal, the board is drawn again below it at its next change."""
        print(text, flush=True)
        if self.in_place:
            self.shown = []


def serve(cfg: SpotConfig, host: str, ui_port: int, dash_port: int) -> int:
    """Start the Dagster UI and daemon and the worker for the days not done yet; start the dashboard once
    a day is done; show each day's progress; wait for Ctrl-C."""
    logs = cfg.home_path / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    # Ctrl-C, even when started in the background (where SIGINT starts ignored), and `kill` both stop
    # the servers too.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    spot = [sys.executable, "-m", "spot_cli"]
    ui_url, dash_url = f"http://{host}:{ui_port}", f"http://{host}:{dash_port}"
    servers = [_start([*spot, "ui", "--host", host, "--port", str(ui_port)], logs / "dagster.log")]
    worker = None
    try:
        progress = DayProgress(cfg, demo_days())
        board = Board(progress)
        with dg.DagsterInstance.get() as instance:
            done = progress.done(instance)
            pending = [day for day in progress.days if not progress.complete(done, day)]
            if pending:
                board.say(f"running the whole graph for {', '.join(map(str, pending))}, a run per day "
                          f"(log: {logs / 'demo-runs.log'})")
                worker = _start([sys.executable, "-m", "spot_cli.demo", *map(str, pending)], logs / "demo-runs.log")
            ui, ui_shown, dash_shown = DagsterApi(ui_url), False, False
            while True:
                running = worker is not None and worker.poll() is None
                done = progress.done(instance)
                board.update(done, progress.running(instance) if running else None)
                if not ui_shown and ui.ready():
                    board.say(f"Dagster UI (lineage, runs, partitions, checks): {ui_url}")
                    ui_shown = True
                if len(servers) == 1 and any(progress.complete(done, day) for day in progress.days):
                    servers.append(_start([*spot, "dash", "--host", host, "--port", str(dash_port)],
                                          logs / "dashboard.log"))
                if len(servers) == 2 and not dash_shown and _answers(dash_url):
                    later = " (the other days fill in: pick them in its day list)" if running else ""
                    board.say(f"Analyst dashboard: {dash_url}{later}\nCtrl-C stops everything.")
                    dash_shown = True
                if worker is not None and not running:
                    if worker.returncode != 0:
                        board.say(f"a day's run failed: see {logs / 'demo-runs.log'} and {ui_url}/runs")
                        if len(servers) == 1:
                            return 1
                    worker = None
                if any(p.poll() is not None for p in servers):
                    board.say(f"a server stopped on its own: see the logs in {logs}")
                    return 1
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        return 0
    finally:
        _stop([worker, *servers] if worker else servers)


def work(days: list[dt.date]) -> int:
    """The worker: the whole graph of each day, in date order, in this one process (one Spark session)."""
    cfg = load_config()
    for day in days:
        started = time.perf_counter()
        result = materialize_day(cfg, day, list(cfg.ingest.types))
        print(f"{day}: run {result.run_id} {'succeeded' if result.success else 'failed'} "
              f"in {time.perf_counter() - started:.0f} s", flush=True)
        if not result.success:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(work([dt.date.fromisoformat(arg) for arg in sys.argv[1:]]))
