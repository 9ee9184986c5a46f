"""Simulator benchmark: one whole simulated day, captures included, as `spot simulate` makes it.

    python bench/simulate.py [--flows 1000000] [--hosts 2000] [--scenarios all] [--seed 0]

Generates the day (background plus every scenario), writes its flows as a pcap and turns them into
nfcapd files with nfpcapd, writes the day's DNS pcaps, proxy logs and labels, in a temporary folder.
Reports flows per second over the whole day, the time of each step, packets written, and this
process's peak RSS (not nfpcapd's: getrusage of children would count the forking Python's memory,
which Linux charges to a child at exec; run nfpcapd under GNU time for its own). Then checks with ``nfdump -I`` that the
nfcapd files hold exactly the flows asked for. Goal: a 1 M-flow day in at most 120 s on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spot_assets.simulation import scenarios  # noqa: E402
from spot_cli.simulate import scenario_ids  # noqa: E402
from spot_assets.simulation.simulator import Settings, Simulator  # noqa: E402

GOAL_SECONDS = 120
GOAL_FLOWS_PER_S = 1_000_000 / GOAL_SECONDS  # fixed costs make smaller days slower per flow
DAY = dt.date(2024, 7, 9)


def nfdump_flows(files: list[Path]) -> int:
    total = 0
    for path in files:
        info = subprocess.run(["nfdump", "-I", "-r", str(path)], capture_output=True, text=True, check=True).stdout
        total += int(next(line.split()[1] for line in info.splitlines() if line.startswith("Flows:")))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flows", type=int, default=1_000_000)
    parser.add_argument("--hosts", type=int, default=2_000)
    parser.add_argument("--scenarios", default="all")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    settings = Settings(hosts=args.hosts, flows=args.flows, seed=args.seed,
                        scenarios=tuple(scenarios.configure(scenario_ids(args.scenarios), [])))
    with tempfile.TemporaryDirectory(prefix="spot-simulate-bench-") as tmp:
        start = time.perf_counter()
        simulator = Simulator(settings)
        setup = time.perf_counter() - start
        result = simulator.day(DAY, Path(tmp) / "landing", Path(tmp) / "labels")
        total = time.perf_counter() - start
        counted = nfdump_flows(result.files["flow"])
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"day {DAY}: {settings.hosts} hosts, {len(settings.scenarios)} scenarios")
    print(f"  flows {result.events['flow']:,} (nfdump -I counts {counted:,}), flow packets {result.packets['flow']:,}")
    print(f"  DNS lookups {result.events['dns']:,} ({result.packets['dns']:,} packets), "
          f"proxy requests {result.events['proxy']:,}")
    steps = {"organisation": setup, **result.seconds}
    print("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()))
    rate = result.events["flow"] / total
    verdict = ("met" if rate >= GOAL_FLOWS_PER_S else "MISSED") if args.flows >= 1_000_000 else "judged on 1 M flows or more"
    print(f"  total {total:.1f} s, {rate:,.0f} flows/s (goal: 1,000,000 flows in <= {GOAL_SECONDS} s: {verdict})")
    print(f"  peak RSS of the simulator: {own:,.0f} MB")
    return 0 if counted == result.events["flow"] else 1


if __name__ == "__main__":
    sys.exit(main())
