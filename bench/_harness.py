"""Shared pieces of the machine-learning benchmarks: a Spot home with its own `spot.toml`, the `spot`
command in a fresh process, the graph's ML assets run in a fresh process with per-step times, and
the peak memory and CPU time of a whole process tree (Python, the Spark JVM and its Python workers).

Each measured configuration runs in its own process so that the JVM's memory and warm-up belong
to that configuration alone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ML_ASSETS = ("{t}_words", "{t}_model", "{t}_scores", "{t}_suspicious")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
TICKS = os.sysconf("SC_CLK_TCK")


def write_config(path: Path, home: Path, spark: dict | None = None, ml: dict | None = None) -> Path:
    """A `spot.toml` for one benchmark home; ``spark`` and ``ml`` are extra keys of those sections."""
    def section(name: str, values: dict) -> str:
        return f"[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())

    spark = {"master": "local[2]", "shuffle_partitions": 4} | (spark or {})
    text = (f"home = {json.dumps(str(home))}\n"
            + section("ingest", {"settle_seconds": 0, "start_date": "2018-01-01"})
            + section("spark", spark) + (section("ml", ml) if ml else ""))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def spot(config: Path, *args) -> None:
    """Run `spot --config CONFIG ARGS...` in a fresh process; its output only when it fails."""
    cmd = [sys.executable, "-m", "spot_cli", "--config", str(config), *map(str, args)]
    done = subprocess.run(cmd, cwd=REPO, text=True, capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def _tree(root: int) -> dict[int, tuple[int, float]]:
    """(resident kB, CPU seconds so far) of ``root`` and each of its descendants, from /proc."""
    parents, usage = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        pid = int(entry)
        parents[pid] = int(fields[1])
        usage[pid] = (int(fields[21]) * PAGE_KB, (int(fields[11]) + int(fields[12])) / TICKS)
    tree = {}
    for pid in usage:
        p = pid
        while p > 1 and p != root:
            p = parents.get(p, 0)
        if p == root:
            tree[pid] = usage[pid]
    return tree


@dataclass
class Measured:
    seconds: float  # the process, start to end (Python and JVM start-up included)
    peak_rss_mb: float  # the whole process tree, sampled every ``interval`` seconds
    cpu_seconds: float  # user + system of the tree, as last sampled per process (a busy machine stretches
    stdout: str         # wall time far more than CPU time, so this compares configurations more fairly)
    jvm_starts: int = 0  # Spark driver JVMs seen in the tree (see `_is_spark_jvm`): one lives seconds, far longer
    #                      than the sampling interval, so none is missed


def measure(cmd: list[str], interval: float = 0.25) -> Measured:
    """Run ``cmd``, sampling the peak resident memory and the CPU time of its process tree."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak, cpu, jvms = [0], {}, set()

    def sample() -> None:
        while proc.poll() is None:
            tree = _tree(proc.pid)
            peak[0] = max(peak[0], sum(rss for rss, _ in tree.values()))
            jvms.update(pid for pid in tree.keys() - jvms if _is_spark_jvm(pid))  # a launcher script execs java
            cpu.update({pid: seconds for pid, (_, seconds) in tree.items()})
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    sampler.join()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-3000:]}\n{err[-3000:]}")
    return Measured(seconds, peak[0] / 1024, sum(cpu.values()), out, len(jvms))


def _is_spark_jvm(pid: int) -> bool:
    """A Spark driver JVM: `java ... org.apache.spark.deploy.SparkSubmit`. Not counted: the `spark-class`
    shell script before it execs that java (same pid, counted once it is java), the short helper JVM
    (`org.apache.spark.launcher.Main`) the script runs first to build the command line, and the JVM's
    own children caught between fork and exec (they still show its command line; the driver forks
    its Python workers so)."""
    def driver(p: int | str) -> bool:
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            return False
        return (args[0].rsplit(b"/", 1)[-1] == b"java" and b"org.apache.spark.deploy.SparkSubmit" in args
                and b"org.apache.spark.launcher.Main" not in args)

    try:
        with open(f"/proc/{pid}/stat") as f:
            parent = f.read().rsplit(")", 1)[1].split()[1]
    except OSError:
        return False
    return driver(pid) and not driver(parent)


def run_assets(config: Path, day: dt.date, data_type: str, assets: tuple[str, ...] = ML_ASSETS,
               last: dt.date | None = None) -> tuple[Measured, dict]:
    """Materialize ``assets`` of ``data_type`` (or of types separated by commas) for one day (or, with
    ``last``, for the days to it, in one run) in a fresh process; (process measure, seconds per step)."""
    types = data_type.split(",")
    names = ",".join(a.format(t=t) for t in types for a in assets)
    measured = measure([sys.executable, __file__, "--config", str(config), "--date", day.isoformat(),
                        "--type", data_type, "--assets", names, *(["--last", last.isoformat()] if last else [])])
    return measured, json.loads(measured.stdout.strip().splitlines()[-1])


def _driver() -> int:
    """The fresh process of `run_assets`: materialize, then print each step's seconds as JSON."""
    import argparse

    sys.path.insert(0, str(REPO))
    import dagster as dg

    from resources.config import load_config
    from spot_cli.runs import materialize_day

    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--date", type=dt.date.fromisoformat, required=True)
    p.add_argument("--type", required=True)
    p.add_argument("--assets", required=True)
    p.add_argument("--last", type=dt.date.fromisoformat)
    args = p.parse_args()
    cfg = load_config(args.config)
    result = materialize_day(cfg, args.date, args.type.split(","), only=args.assets.split(","), last=args.last)
    if not result.success:
        failures = [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]
        print("\n".join(failures), file=sys.stderr)
        return 1
    starts, steps = {}, {}
    with dg.DagsterInstance.get() as instance:
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type_value == "STEP_START":
                starts[event.step_key] = entry.timestamp
            elif event.event_type_value == "STEP_SUCCESS":
                steps[event.step_key] = entry.timestamp - starts[event.step_key]
    print(json.dumps(steps))
    return 0


if __name__ == "__main__":
    sys.exit(_driver())
