"""`spot`: the command line. Every command that computes goes through Dagster (see `runs`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pyarrow.parquet as pq

from resources.config import ConfigError, SpotConfig, load_config
from resources.lake import LakeResource
from resources.tools import ToolError
from spot_assets.datatypes import DATA_TYPES
from spot_assets.ml.evaluate import evaluate
from spot_assets.partitions import daily
from spot_cli import demo, runs, simulate
from spot_cli.arguments import date
from spot_cli.export import EXPORTABLE, cmd_export
from spot_cli.ingest import ZEEK, cmd_ingest, land_paths


def cmd_config(cfg: SpotConfig, args) -> int:
    print(cfg.show())
    return 0


def cmd_run(cfg: SpotConfig, args) -> int:
    partitions = daily(cfg.ingest.start_date)
    if not partitions.has_partition_key(args.date.isoformat()):
        raise ValueError(f"{args.date} is not a partition: they run from ingest.start_date "
                         f"({cfg.ingest.start_date}) to {partitions.get_last_partition_key()} (today, UTC)")
    types = [args.type] if args.type else list(cfg.ingest.types)
    return 0 if runs.report(runs.materialize_day(cfg, args.date, types), args.date) else 1


def cmd_demo(cfg: SpotConfig, args) -> int:
    """Simulated days with attacks, through the whole graph a day at a time, with the UI and dashboard."""
    samples = demo.simulate(cfg)
    for data_type in cfg.ingest.types:
        land_paths(cfg, data_type, sorted(p for p in (samples / data_type).iterdir() if p.is_file()))
    runs.prepare_dagster_home(cfg)
    return demo.serve(cfg, args.host, args.port, args.dash_port)


def cmd_evaluate(cfg: SpotConfig, args) -> int:
    report = evaluate(LakeResource(root=cfg.lake_root), args.type, args.date, pq.read_table(args.labels))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.type} {args.date}: {report['scored_events']} scored events, {report['positives']} labeled attacks "
          f"among the {report['events']} joined on {', '.join(report['joined_on'])}")
    print(f"  unmatched: {report['scored_without_label']} scored events without a label, "
          f"{report['labels_without_score']} labels without a scored event")
    keys = ("roc_auc", "average_precision", "precision_at_10", "precision_at_50", "precision_at_100",
            "precision_at_250", "recall_at_250", "recall_at_1pct")
    orders = {"Spot's LDA order": report, **({"priority list": report["priority"]} if "priority" in report else {}),
              **{f"detector {name}": r for name, r in report.get("detectors", {}).items()}}
    print(f"  {'':<28}" + "".join(f"{k.replace('precision_at_', 'P@').replace('recall_at_', 'R@'):>10}" for k in keys))
    for name, r in orders.items():
        print(f"  {name[:28]:<28}" + "".join(f"{r[k]:>10.4f}" for k in keys))
    for name, aucs in report.get("scenarios", {}).items():
        print(f"  scenario {name}: ROC AUC " + ", ".join(f"{order} {auc:.4f}" for order, auc in aucs.items()))
    return 0


def cmd_dash(cfg: SpotConfig, args) -> int:
    from spot_dash import server  # Dash and waitress load only for this command

    return server.main(cfg, args.host, args.port, args.hash_password)


def cmd_ui(cfg: SpotConfig, args) -> int:
    """Start the Dagster UI (webserver and daemon, so sensors run) on the persistent instance."""
    runs.prepare_dagster_home(cfg)
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    dagster = Path(sys.executable).with_name("dagster")
    os.execv(str(dagster), [str(dagster), "dev", "-w", str(workspace), "-h", args.host, "-p", str(args.port)])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spot", description="Spot on Dagster: network threat hunting.")
    p.add_argument("--config", help="spot.toml (default: $SPOT_CONFIG, else the embedded defaults)")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("config", help="configuration")
    c.add_argument("action", choices=["show"])
    c.set_defaults(fn=cmd_config)

    i = sub.add_parser("ingest", help="land capture files and ingest the days they cover")
    i.add_argument("type", choices=[*tuple(DATA_TYPES), ZEEK],
                   help=f"a data type, or {ZEEK}: Zeek logs, conn/dns/http routed to flow/dns/proxy")
    i.add_argument("paths", nargs="+", help="files, folders (every file of the type under them) or quoted globs")
    i.add_argument("--format", help="force an input format instead of detecting it")
    i.set_defaults(fn=cmd_ingest)

    r = sub.add_parser("run", help="materialize everything defined for one day")
    r.add_argument("--date", type=date, required=True)
    r.add_argument("--type", choices=tuple(DATA_TYPES))
    r.set_defaults(fn=cmd_run)

    e = sub.add_parser("export", help="export one day of a table to CSV or Parquet")
    e.add_argument("type", choices=tuple(DATA_TYPES))
    e.add_argument("--date", type=date, required=True)
    e.add_argument("--table", choices=sorted([*EXPORTABLE, "storyboard"]), required=True)
    e.add_argument("--out", required=True)
    e.set_defaults(fn=cmd_export)

    v = sub.add_parser("evaluate", help="rank quality of a day's scores against labeled events")
    v.add_argument("type", choices=tuple(DATA_TYPES))
    v.add_argument("--date", type=date, required=True)
    v.add_argument("--labels", required=True, help="Parquet labels (e.g. from spot simulate)")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.set_defaults(fn=cmd_evaluate)

    simulate.register(sub)

    d = sub.add_parser("dash", help="the analyst dashboard (login required beyond 127.0.0.1)")
    d.add_argument("--host", help="default [dashboard] host, 127.0.0.1")
    d.add_argument("--port", type=int, help="default [dashboard] port, 8050")
    d.add_argument("--hash-password", action="store_true", help="print a password hash for [dashboard] users")
    d.set_defaults(fn=cmd_dash)

    for name, fn, text in (("ui", cmd_ui, "start the Dagster UI on the persistent instance"),
                           ("demo", cmd_demo, "sample captures through the whole graph, then the Dagster UI")):
        u = sub.add_parser(name, help=text)
        u.add_argument("--host", default="127.0.0.1")
        u.add_argument("--port", type=int, default=3000)
        if name == "demo":
            u.add_argument("--dash-port", type=int, default=8050)
        u.set_defaults(fn=fn)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        cfg = load_config(args.config)
        if args.config:
            os.environ["SPOT_CONFIG"] = str(Path(args.config).resolve())
        return args.fn(cfg, args)
    except (ConfigError, ToolError, ValueError, FileNotFoundError) as e:
        print(f"spot: {e}", file=sys.stderr)
        return 2
