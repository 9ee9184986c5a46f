"""Single-run backfill of the Spark assets against one run per day, over the demo's days.

    python bench/backfill.py [--work /tmp/spot-bench-backfill] [--days 3] [--flows 40000] [--repeat 1]

Simulates ``--days`` days as `spot demo` does (every scenario, 300 hosts) and ingests them once. Then
materializes the Spark assets of every type (ingest summary, words, model, scores, suspicious),
each configuration in fresh processes, as the Dagster daemon launches them:

  (a) one run per day (a job backfill, or an asset backfill without a policy): ``--days`` processes;
  (b) one run over the range (the assets' ``BackfillPolicy.single_run``): one process.

Reports the wall time of each (process start, definitions, Spark start-up and the work) and their
ratio, and checks that both leave the same scores. Results go to ``WORK/backfill.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench._harness import run_assets, spot, write_config  # noqa: E402
from resources.lake import LakeResource  # noqa: E402
from spot_assets import schemas  # noqa: E402
from spot_assets.datatypes import DATA_TYPES

FIRST = dt.date(2024, 7, 8)
ASSETS = ("{t}_ingest_summary", "{t}_words", "{t}_model", "{t}_scores", "{t}_suspicious")
TYPES = ",".join(tuple(DATA_TYPES))


def prepare(work: Path, days: int, flows: int) -> Path:
    config = write_config(work / "spot.toml", work / "home", spark={"driver_memory": "2g"})
    sim = work / "sim"
    if not sim.exists():
        spot(config, "simulate", "--date", FIRST, "--days", days, "--flows", flows, "--hosts", 300,
             "--scenarios", "all", "--out", sim)
    lake = LakeResource(root=str(work / "home" / "lake"))
    for data_type in tuple(DATA_TYPES):
        if not lake.days(f"{data_type}_events"):
            spot(config, "ingest", data_type, *sorted((sim / data_type).iterdir()))
    return config


def scores(work: Path, days: list[dt.date]) -> dict:
    lake = LakeResource(root=str(work / "home" / "lake"))
    return {(t, d): lake.read_day(f"{t}_scores", d).sort_by([("source_file", "ascending"), ("record", "ascending")])
            for t in tuple(DATA_TYPES) for d in days}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="/tmp/spot-bench-backfill")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--flows", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=1, help="alternations; each configuration keeps its fastest")
    args = parser.parse_args()
    work = Path(args.work)
    config = prepare(work, args.days, args.flows)
    days = [FIRST + dt.timedelta(days=k) for k in range(args.days)]
    print(f"load average at start: {os.getloadavg()}, {os.cpu_count()} cores", flush=True)

    per_day, single, same = [], [], True
    for _ in range(args.repeat):
        start = time.perf_counter()
        for day in days:
            run_assets(config, day, TYPES, ASSETS)
        per_day.append(time.perf_counter() - start)
        first = scores(work, days)
        measured, _ = run_assets(config, days[0], TYPES, ASSETS, last=days[-1])
        single.append(measured.seconds)
        second = scores(work, days)
        same &= all(first[k].num_rows == second[k].num_rows and np.allclose(
            first[k]["score"].to_numpy(), second[k]["score"].to_numpy(), rtol=1e-9, atol=1e-12) for k in first)
        print(f"  one run per day {per_day[-1]:.1f} s, one run for {args.days} days {single[-1]:.1f} s", flush=True)
    result = {"days": args.days, "flows_per_day": args.flows, "per_day_runs_s": min(per_day),
              "single_run_s": min(single), "ratio": min(per_day) / min(single), "same_scores": same,
              "load_avg": os.getloadavg()[0]}
    print(f"{args.days} days of {args.flows} flows (+ DNS, proxy): one run per day {result['per_day_runs_s']:.1f} s, "
          f"a single run {result['single_run_s']:.1f} s: {result['ratio']:.2f}x; same scores: {same}")
    (work / "backfill.json").write_text(json.dumps(result, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
