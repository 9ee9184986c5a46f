"""A flow day end to end after ingest, as `spot run` runs it: words -> model -> scores and suspicious ->
findings -> priority -> enriched, in one Dagster run in a fresh process, with the time of each step.

    python bench/e2e.py [--flows 1000000] [--seed 0] [--work DIR] [--engine auto|in-process|spark]

One simulated flow day (every scenario, hosts scaled to the size, made and ingested once under
``DIR/<flows>`` as bench/ml.py makes its days) is run through the stages above with the default
configuration. The question is how much of a day's work is Spark's and Dagster's fixed cost rather
than the model itself, so the figure is the ratio

    end-to-end / model-step = the run process's wall time, start to exit (Python, Dagster, the JVM
                              start and every step included: what a user waits for)
                              / the `flow_model` step's time (from the run's event log)

``--engine`` forces where the words and scores run (``[ml] local_max_rows``): ``in-process`` (Arrow,
whatever the size), ``spark`` (whatever the size) or ``auto`` (the configuration's default threshold);
the LDA fit runs on Spark in all three. Where the words run in process, the JVM starts in the model
step and its start-up is counted in that step.

The JVM starts are counted, not assumed: the Spark driver JVMs (`java ... SparkSubmit`) seen in the
run process's tree, sampled every 0.25 s (a JVM lives for seconds, so none is missed; what is left
out, Spark's short launcher JVM before each driver and the driver's own forks, is listed in
bench/_harness.py). One is what a run should cost; one per Spark step would show the steps not
sharing a session.

The output ends with exactly two lines for scripts to read, e.g.

    end-to-end / model-step: 1.84
    JVM starts: 1

Each run is also appended to ``DIR/e2e.json`` with its steps, CPU seconds, peak RSS and load average
(the machine may be shared: a busy machine stretches wall time, not CPU time).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._harness import run_assets, write_config  # noqa: E402
from bench.ml import DAY, driver_memory, prepare  # noqa: E402

ASSETS = ("{t}_words", "{t}_model", "{t}_scores", "{t}_suspicious", "{t}_findings", "{t}_priority", "{t}_enriched")
MODEL_STEP = "flow_model"
ENGINES = {"auto": {}, "in-process": {"local_max_rows": 10**12}, "spark": {"local_max_rows": 0}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0, help="the simulator's seed")
    parser.add_argument("--work", default="/tmp/spot-bench-e2e", help="kept between runs: the day is reused")
    parser.add_argument("--engine", choices=ENGINES, default="auto", help="where words and scores run")
    args = parser.parse_args()
    work = Path(args.work) / str(args.flows)
    print(f"{args.flows} flows under {work}, words and scores: {args.engine}", flush=True)
    home, _ = prepare(work, args.flows, args.seed)
    config = write_config(work / f"e2e-{args.engine}.toml", home, spark={"driver_memory": driver_memory(args.flows)},
                          ml=ENGINES[args.engine])
    measured, steps = run_assets(config, DAY, "flow", ASSETS)
    in_steps = sum(steps.values())
    for step, seconds in steps.items():
        print(f"  {step:<16} {seconds:8.1f} s  {seconds / measured.seconds:6.1%}")
    print(f"  {'steps':<16} {in_steps:8.1f} s  {in_steps / measured.seconds:6.1%}")
    print(f"  {'outside steps':<16} {measured.seconds - in_steps:8.1f} s  (Python start, Dagster, run set-up)")
    print(f"  {'end to end':<16} {measured.seconds:8.1f} s  CPU {measured.cpu_seconds:.1f} s, "
          f"peak RSS {measured.peak_rss_mb:.0f} MB, load average {os.getloadavg()[0]:.1f}")
    row = {"flows": args.flows, "engine": args.engine, "steps": steps, "process_seconds": measured.seconds,
           "cpu_seconds": measured.cpu_seconds, "peak_rss_mb": measured.peak_rss_mb, "jvm_starts": measured.jvm_starts, "load_avg": os.getloadavg()[0]}
    with open(Path(args.work) / "e2e.json", "a") as f:
        f.write(json.dumps(row) + "\n")
    print(f"end-to-end / model-step: {measured.seconds / steps[MODEL_STEP]:.2f}")
    print(f"JVM starts: {measured.jvm_starts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
