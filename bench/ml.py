"""Suspicious Connects benchmark: a flow day end to end (words -> model -> scores + suspicious) with
our defaults against Spot's classic setting, in the same run.

    python bench/ml.py [--sizes 100000,1000000,5000000] [--seeds 42] [--repeat 1] [--work DIR] [--em-limit 900]
                       [--config NAME[:key=value,...]]...

For each size: simulate one flow day (every scenario, hosts scaled to the size), ingest its flow
captures once, then for each configuration, in a fresh process (so the Spark JVM's memory is that
configuration's own): materialize flow_words, flow_model, flow_scores and flow_suspicious, timing
each Dagster step from the run's event log, sampling the peak RSS of the whole process tree (Python,
JVM, Python workers) every 0.25 s, and evaluating the scores against the simulator's labels.
Words and scores run where the configuration puts them (``[ml] local_max_rows``: in process up to
that many events); ``--config ours:local_max_rows=0`` runs them on Spark.

The two configurations differ only in [ml]: (a) ours, the `MLConfig` defaults (three online LDA
fits combined, ``seeds = 3``); (b) Spot's classic, `lda.CLASSIC` (one EM fit, alpha 1.02, beta
1.001, 20 iterations). Classic runs first,
so the lake is left with our model (bench/scoring.py reads it). Above 1 M flows, classic is skipped
where its time, extrapolated linearly from the largest size it ran, would exceed ``--em-limit`` s.
With ``--repeat R`` the configurations alternate R times and each keeps its fastest run (the
machine may be shared). With ``--seeds`` both run once per LDA seed: an LDA model's detection
quality moves with its random draws alone, so a difference in AUC between the settings means
something only beside the spread over seeds. ``--config`` replaces the two configurations with the
ones named (``classic``, ``ours``, or a new name), each with [ml] keys over the defaults, e.g.
``--config ours --config iter100:iterations=100``; the last one listed is left in the lake. Goal:
classic/ours >= 5x in total time, at an equal or better ROC AUC (the mean over the seeds). Results go to ``DIR/ml.json``.
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

import pyarrow.parquet as pq  # noqa: E402

from bench._harness import run_assets, spot, write_config  # noqa: E402
from resources.lake import LakeResource  # noqa: E402
from spot_assets.ml.evaluate import evaluate  # noqa: E402
from spot_assets.ml.lda import CLASSIC  # noqa: E402

DAY = dt.date(2024, 7, 8)
CONFIGS = {"classic": CLASSIC, "ours": {}}
STEPS = ("flow_words", "flow_model", "flow_scoring")
GOAL_RATIO = 5.0
ALWAYS_COMPARED = 1_000_000  # up to this size classic always runs (below it, fixed costs dominate its time)


def parse_config(text: str) -> tuple[str, dict]:
    """``NAME[:key=value,...]``: the [ml] keys of a named configuration over its base (``CONFIGS`` or none)."""
    name, _, keys = text.partition(":")
    ml = dict(CONFIGS.get(name, {}))
    for item in filter(None, keys.split(",")):
        key, _, value = item.partition("=")
        try:
            ml[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            ml[key.strip()] = value.strip()  # a word such as em
    return name, ml


def driver_memory(flows: int) -> str:
    return "2g" if flows <= 200_000 else "4g" if flows <= 1_000_000 else "6g"


def prepare(work: Path, flows: int, seed: int) -> tuple[Path, Path]:
    """Simulate and ingest one flow day under ``work``; (its home, its flow labels)."""
    home, sim = work / "home", work / "sim"
    config = write_config(work / "ingest.toml", home, spark={"driver_memory": driver_memory(flows)})
    labels = sim / "labels" / "flow" / f"{DAY}.parquet"
    if not labels.exists():
        t = time.perf_counter()
        spot(config, "simulate", "--date", DAY, "--flows", flows, "--hosts", max(500, flows // 500),
             "--seed", seed, "--scenarios", "all", "--out", sim)
        print(f"  simulated {flows} flows in {time.perf_counter() - t:.0f} s", flush=True)
    if not LakeResource(root=str(home / "lake")).day_files("flow_events", DAY):
        t = time.perf_counter()
        spot(config, "ingest", "flow", *sorted((sim / "flow").iterdir()))
        print(f"  ingested in {time.perf_counter() - t:.0f} s", flush=True)
    return home, labels


def bench_config(work: Path, home: Path, labels: Path, flows: int, name: str, ml: dict) -> dict:
    config = write_config(work / f"{name}.toml", home, spark={"driver_memory": driver_memory(flows)}, ml=ml)
    measured, steps = run_assets(config, DAY, "flow")
    report = evaluate(LakeResource(root=str(home / "lake")), "flow", DAY, pq.read_table(labels))
    row = {"flows": flows, "config": name, "seed": ml["seed"], "ml": ml, "steps": steps,
           "steps_total": sum(steps.values()),
           "process_seconds": measured.seconds, "cpu_seconds": measured.cpu_seconds, "peak_rss_mb": measured.peak_rss_mb,
           "load_avg": os.getloadavg()[0], **{k: report[k] for k in (
               "events", "positives", "roc_auc", "average_precision", "precision_at_10", "precision_at_50",
               "precision_at_100", "precision_at_250", "recall_at_250")}}
    print(f"  {name:<8} seed {ml['seed']:<4} {row['steps_total']:7.1f} s  CPU {row['cpu_seconds']:7.1f} s"
          f"  {row['peak_rss_mb']:6.0f} MB  AUC {row['roc_auc']:.3f}", flush=True)
    return row


def _mean(rows: list[dict], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows)


def _auc(rows: list[dict]) -> str:
    aucs = sorted(r["roc_auc"] for r in rows)
    return f"{_mean(rows, 'roc_auc'):.3f}" + (f" [{aucs[0]:.3f}-{aucs[-1]:.3f}]" if len(aucs) > 1 else "")


def table(rows: list[dict], skipped: list[str]) -> str:
    head = f"{'flows':>9} {'config':<8} {'seed':>5} "
    head += " ".join(f"{s.removeprefix('flow_'):>8}" for s in STEPS) + " "
    head += " ".join(f"{h:>8}" for h in ("total s", "process", "CPU s", "RSS MB", "AUC", "AP", "P@250", "R@250", "load"))
    lines = [head]
    for r in rows:
        steps = " ".join(f"{r['steps'].get(s, float('nan')):8.1f}" for s in STEPS)
        lines.append(f"{r['flows']:>9} {r['config']:<8} {r['seed']:>5} {steps} {r['steps_total']:8.1f}"
                     f" {r['process_seconds']:8.1f} {r.get('cpu_seconds', float('nan')):8.1f} {r['peak_rss_mb']:8.0f}"
                     f" {r['roc_auc']:8.3f} {r['average_precision']:8.3f} {r['precision_at_250']:8.3f}"
                     f" {r['recall_at_250']:8.3f} {r['load_avg']:8.1f}")
    for flows in sorted({r["flows"] for r in rows}):
        c = [r for r in rows if r["flows"] == flows and r["config"] == "classic"]
        o = [r for r in rows if r["flows"] == flows and r["config"] == "ours"]
        if c and o:
            ratio = _mean(c, "steps_total") / _mean(o, "steps_total")
            model = sum(r["steps"]["flow_model"] for r in c) / sum(r["steps"]["flow_model"] for r in o)
            verdict = "met" if ratio >= GOAL_RATIO and _mean(o, "roc_auc") >= _mean(c, "roc_auc") else "NOT met"
            lines.append(f"{flows:>9} classic/ours over {len(o)} seed(s): steps {ratio:.2f}x, model {model:.2f}x, "
                         f"process {_mean(c, 'process_seconds') / _mean(o, 'process_seconds'):.2f}x, "
                         f"CPU {_mean(c, 'cpu_seconds') / _mean(o, 'cpu_seconds'):.2f}x; AUC {_auc(o)} vs {_auc(c)}; "
                         f"goal >= {GOAL_RATIO:.0f}x at equal or better AUC: {verdict}")
    for flows, name in dict.fromkeys((r["flows"], r["config"]) for r in rows):
        mine = [r for r in rows if r["flows"] == flows and r["config"] == name]
        aucs = [r["roc_auc"] for r in mine]
        lines.append(f"{flows:>9} {name:<8} over {len(mine)} seed(s): AUC {_auc(mine)} range {max(aucs) - min(aucs):.3f}, "
                     f"model step {sum(r['steps']['flow_model'] for r in mine) / len(mine):.1f} s, "
                     f"steps {_mean(mine, 'steps_total'):.1f} s")
    ours = {}
    for r in rows:
        if r["config"] == "ours":
            ours.setdefault(r["flows"], []).append(r)
    sizes = sorted(ours)
    for a, b in zip(sizes, sizes[1:]):
        lines.append(f"ours {a} -> {b} flows ({b / a:.0f}x): time "
                     f"{_mean(ours[b], 'steps_total') / _mean(ours[a], 'steps_total'):.2f}x, peak RSS "
                     f"{_mean(ours[b], 'peak_rss_mb') / _mean(ours[a], 'peak_rss_mb'):.2f}x")
    lines += [f"skipped: {s}" for s in skipped]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flows", type=int, help="a single size (same as --sizes N)")
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--work", default="/tmp/spot-bench-ml", help="kept between runs: data is reused")
    parser.add_argument("--seed", type=int, default=0, help="the simulator's seed")
    parser.add_argument("--seeds", default="42", help="LDA seeds, separated by commas (42 is the default config's)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration; the fastest is kept")
    parser.add_argument("--config", action="append", type=parse_config, metavar="NAME[:key=value,...]",
                        help="a configuration to run instead of classic and ours (repeat the option)")
    parser.add_argument("--em-limit", type=float, default=900.0, help="skip classic beyond this many seconds")
    args = parser.parse_args()
    sizes = [args.flows] if args.flows else sorted(int(s) for s in args.sizes.split(","))
    work = Path(args.work)
    rows, skipped = [], []
    print(f"load average at start: {os.getloadavg()}, {os.cpu_count()} cores", flush=True)
    for flows in sizes:
        print(f"{flows} flows", flush=True)
        size_dir = work / str(flows)
        home, labels = prepare(size_dir, flows, args.seed)
        configs = dict(args.config) if args.config else dict(CONFIGS)
        previous = [r for r in rows if r["config"] == "classic"]
        if previous and flows > ALWAYS_COMPARED:
            last = previous[-1]
            expected = last["steps_total"] * flows / last["flows"]
            if expected > args.em_limit:
                del configs["classic"]
                skipped.append(f"classic at {flows} flows: about {expected:.0f} s expected "
                               f"({last['steps_total']:.0f} s at {last['flows']} flows, scaled linearly) "
                               f"> --em-limit {args.em_limit:.0f} s")
                print(f"  {skipped[-1]}", flush=True)
        # Configurations alternate, so that a busy spell of a shared machine does not favour one of them.
        for seed in (int(s) for s in args.seeds.split(",")):
            runs = [bench_config(size_dir, home, labels, flows, name, ml | {"seed": seed})
                    for _ in range(args.repeat) for name, ml in configs.items()]
            for name in configs:
                mine = [r for r in runs if r["config"] == name]
                fastest = min(mine, key=lambda r: r["steps_total"])
                rows.append(fastest | {"runs_total": [r["steps_total"] for r in mine]})
        (work / "ml.json").write_text(json.dumps({"rows": rows, "skipped": skipped}, indent=2))
    print()
    print(table(rows, skipped))
    print(f"load average at end: {os.getloadavg()}; results in {work / 'ml.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
