"""`spot`: the command line. Every command that computes goes through Dagster (see `runs`)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from resources.config import ConfigError, SpotConfig, load_config
from resources.decoders import ToolError
from resources.lake import LakeResource
from spot_assets import demo, schemas
from spot_assets.datatypes import DATA_TYPES
from spot_assets.definitions import resources_for
from spot_assets.detect.base import findings_schema
from spot_assets.detect.priority_schema import priority_schema
from spot_assets.export import neutralise_formulas
from spot_assets.ingest import formats, manifest
from spot_assets.ingest.formats import zeek
from spot_assets.ingest.landing import Named, Unplaceable, day_of, files_named, land, of_type, zeek_routes
from spot_assets.ml.evaluate import evaluate
from spot_assets.partitions import daily
from spot_assets.runs import materialize_day, prepare_dagster_home
from spot_assets.simulation import cli as simulation_cli

INGEST_ASSETS = ("{t}_raw", "{t}_events", "{t}_rejects", "{t}_ingest_summary")
ZEEK = "zeek"  # `spot ingest zeek DIR`: Zeek's logs, each routed to the type its log feeds
# Tables `spot export` knows, by the name the user types, with their schemas.
EXPORTABLE = {
    "events": lambda t: schemas.EVENTS[t],
    "rejects": lambda t: schemas.REJECTS,
    "ingest_summary": lambda t: schemas.INGEST_SUMMARY,
    # Their schema is what the files say (Spark, or the enrichment and details builders, wrote them).
    **{name: (lambda t: None) for name in ("words", "scores", "suspicious", "enriched", "details",
                                             "chords", "dendro")},
    "findings": lambda t: findings_schema(DATA_TYPES[t]),
    "priority": lambda t: priority_schema(DATA_TYPES[t]),
}


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _report(result, day: dt.date) -> bool:
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


def cmd_config(cfg: SpotConfig, args) -> int:
    print(cfg.show())
    return 0


@dataclass
class Landing:
    """What landing did: the days to run and the ids of the files to decode in them (new files, and
    files seen before whose first ingest never decoded them)."""

    days: set[dt.date] = field(default_factory=set)
    file_ids: set[str] = field(default_factory=set)


def _placed(cfg: SpotConfig, data_type: str, files: list[Named], fmt: str | None) -> tuple[list, list[str]]:
    """(file, day) of every file that has a day partition; one line per file that has none."""
    tools = resources_for(cfg)["decoders"].tools(data_type)
    partitions = daily(cfg.ingest.start_date)
    placed, refused = [], []
    for f in files:
        try:
            placed.append((f, day_of(data_type, f.path, tools, partitions, fmt)))
        except Unplaceable as e:
            refused.append(str(e))
    return placed, refused


def _land_placed(cfg: SpotConfig, data_type: str, placed: list, fmt: str | None) -> Landing:
    lake = LakeResource(root=cfg.lake_root)
    result, counts = Landing(), Counter()
    for f, day in placed:
        entry = land(lake, data_type, f.path, day, fmt=fmt, remove=False, name=f.name)
        counts[entry.day, entry.status] += 1
        # A file seen before is run again only if its first ingest did not get to decode it.
        if entry.status != manifest.DUPLICATE or manifest.find(lake, data_type, entry.sha256).status == manifest.LANDED:
            result.days.add(entry.day)
            result.file_ids.add(entry.file_id)
    for (day, status), n in sorted(counts.items()):
        note = " (seen before: not ingested twice)" if status == manifest.DUPLICATE else ""
        print(f"{data_type} {day}: {n} file(s) {status}{note}")
    return result


def land_paths(cfg: SpotConfig, data_type: str, paths: list[Path], fmt: str | None = None) -> Landing:
    """Land files (copies: the originals stay where they are); a file without a day is an error."""
    if fmt:
        formats.get(data_type, fmt)  # a bad name fails before anything is copied
    placed, refused = _placed(cfg, data_type, files_named([str(p) for p in paths]), fmt)
    if refused:
        raise ValueError("\n".join(refused))
    return _land_placed(cfg, data_type, placed, fmt)


def _ingest_days(cfg: SpotConfig, data_type: str, landing: Landing) -> bool:
    """Run the ingest of every day the landed files belong to, then of every other day their rows fell
    on (a log that runs past midnight): each such day gets its own materialization and checks."""
    lake, partitions = LakeResource(root=cfg.lake_root), daily(cfg.ingest.start_date)
    only = [name.format(t=data_type) for name in INGEST_ASSETS]
    todo, done, ok = set(landing.days), set(), True
    while todo:
        day = min(todo)
        todo.discard(day)
        done.add(day)
        ok = _report(materialize_day(cfg, day, [data_type], only=only), day) and ok
        for entry in manifest.entries(lake, data_type, day):
            if entry.file_id not in landing.file_ids:
                continue
            for row_day in {dt.date.fromisoformat(hour[:10]) for hour in entry.hours} - done - todo:
                if partitions.has_partition_key(row_day.isoformat()):
                    todo.add(row_day)
                else:
                    print(f"{data_type} {row_day}: rows of {entry.name} are stored there, outside the partitions "
                          f"(ingest.start_date {cfg.ingest.start_date}): not materialized")
    return ok


def _print_skipped(what: str, skipped: Counter, why: str) -> None:
    if skipped:
        counts = ", ".join(f"{n} {log}" for log, n in sorted(skipped.items()))
        print(f"{what}: not ingested: {counts} file(s) ({why})")


def cmd_ingest(cfg: SpotConfig, args) -> int:
    """Every file is placed (given its day) before anything lands; the files that have no day are named,
    one line each, and the others are ingested: no Dagster run ever sees a file it has no partition for."""
    named = files_named(args.paths)
    if args.type == ZEEK:
        if args.format:
            raise ValueError("--format does not apply to `spot ingest zeek`: each log is read by its own format")
        batches, skipped = zeek_routes(named, cfg.ingest.types)
        routes = ", ".join(f"{log} as {t}" for log, t in zeek.DATA_TYPES.items())
        _print_skipped("zeek", skipped, f"Spot ingests {routes}")
    else:
        if args.format:
            formats.get(args.type, args.format)  # a bad name fails before anything is copied
        taken, skipped = of_type(args.type, named)
        batches = {args.type: taken}
        _print_skipped(args.type, skipped, f"not of a {args.type} format")
    placed, refused = {}, []
    for data_type, files in batches.items():
        placed[data_type], lines = _placed(cfg, data_type, files, args.format)
        refused += lines
    for line in refused:
        print(f"spot: not ingested: {line}", file=sys.stderr)
    ok = True
    for data_type, files in placed.items():
        if files:
            ok = _ingest_days(cfg, data_type, _land_placed(cfg, data_type, files, args.format)) and ok
    if not any(placed.values()) and not refused:
        print(f"spot: no file to ingest in {' '.join(args.paths)}", file=sys.stderr)
        return 2
    return 0 if ok and not refused else 1


def cmd_run(cfg: SpotConfig, args) -> int:
    partitions = daily(cfg.ingest.start_date)
    if not partitions.has_partition_key(args.date.isoformat()):
        raise ValueError(f"{args.date} is not a partition: they run from ingest.start_date "
                         f"({cfg.ingest.start_date}) to {partitions.get_last_partition_key()} (today, UTC)")
    types = [args.type] if args.type else list(cfg.ingest.types)
    return 0 if _report(materialize_day(cfg, args.date, types), args.date) else 1


def _export_storyboard(lake: LakeResource, data_type: str, day: dt.date, out: Path) -> int:
    """The day's briefing and every threat's artifacts, as one JSON document."""
    folder = lake.storyboard_dir(data_type, day)
    briefing = lake.read_json(f"{folder}/briefing.json")
    if briefing is None:
        raise FileNotFoundError(f"no {data_type} storyboard for {day}: save a threat, then materialize {data_type}_storyboard")
    artifacts = {entry.rsplit("/", 1)[1]: {f.rsplit("/", 1)[1]: lake.read_json(f) for f in lake.listdir(entry)}
                 for entry in lake.listdir(folder) if not entry.endswith(".json")}
    out.write_text(json.dumps({"briefing": briefing, "artifacts": artifacts}, indent=1))
    print(f"wrote the {data_type} storyboard of {day} ({len(artifacts)} threat(s)) to {out}")
    return 0


def cmd_export(cfg: SpotConfig, args) -> int:
    lake = LakeResource(root=cfg.lake_root)
    out = Path(args.out)
    if args.table == "storyboard":
        if out.suffix != ".json":
            print("spot export: a storyboard exports as .json", file=sys.stderr)
            return 2
        return _export_storyboard(lake, args.type, args.date, out)
    table = lake.read_day(f"{args.type}_{args.table}", args.date, EXPORTABLE[args.table](args.type))
    if out.suffix == ".parquet":
        pq.write_table(table, out)
    elif out.suffix == ".csv":
        pacsv.write_csv(neutralise_formulas(table), out)
    else:
        print("spot export: --out must end in .csv or .parquet", file=sys.stderr)
        return 2
    print(f"wrote {table.num_rows} rows of {args.type}_{args.table} for {args.date} to {out}")
    return 0


def cmd_demo(cfg: SpotConfig, args) -> int:
    """Simulated days with attacks, through the whole graph a day at a time, with the UI and dashboard."""
    samples = demo.simulate(cfg)
    for data_type in cfg.ingest.types:
        land_paths(cfg, data_type, sorted(p for p in (samples / data_type).iterdir() if p.is_file()))
    prepare_dagster_home(cfg)
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
    prepare_dagster_home(cfg)
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
    i.add_argument("type", choices=[*schemas.TYPES, ZEEK],
                   help=f"a data type, or {ZEEK}: Zeek logs, conn/dns/http routed to flow/dns/proxy")
    i.add_argument("paths", nargs="+", help="files, folders (every file of the type under them) or quoted globs")
    i.add_argument("--format", help="force an input format instead of detecting it")
    i.set_defaults(fn=cmd_ingest)

    r = sub.add_parser("run", help="materialize everything defined for one day")
    r.add_argument("--date", type=_date, required=True)
    r.add_argument("--type", choices=schemas.TYPES)
    r.set_defaults(fn=cmd_run)

    e = sub.add_parser("export", help="export one day of a table to CSV or Parquet")
    e.add_argument("type", choices=schemas.TYPES)
    e.add_argument("--date", type=_date, required=True)
    e.add_argument("--table", choices=sorted([*EXPORTABLE, "storyboard"]), required=True)
    e.add_argument("--out", required=True)
    e.set_defaults(fn=cmd_export)

    v = sub.add_parser("evaluate", help="rank quality of a day's scores against labeled events")
    v.add_argument("type", choices=schemas.TYPES)
    v.add_argument("--date", type=_date, required=True)
    v.add_argument("--labels", required=True, help="Parquet labels (e.g. from spot simulate)")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.set_defaults(fn=cmd_evaluate)

    simulation_cli.register(sub)

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


if __name__ == "__main__":
    sys.exit(main())
