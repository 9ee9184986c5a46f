"""`spot ingest`: files a user names, each placed in its day, landed, and the days they cover ingested."""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from resources.config import SpotConfig
from resources.lake import LakeResource
from spot_assets.datatypes import DATA_TYPES
from spot_assets.definitions import resources_for
from spot_assets.ingest import formats, manifest
from spot_assets.ingest.formats import zeek
from spot_assets.ingest.landing import Named, Unplaceable, day_of, files_named, land, of_type, zeek_routes
from spot_assets.partitions import daily
from spot_cli.runs import materialize_day, report

INGEST_STAGES = ("raw", "events", "rejects", "ingest_summary")
ZEEK = "zeek"  # `spot ingest zeek DIR`: Zeek's logs, each routed to the type its log feeds


@dataclass
class Landing:
    """What landing did: the days to run and the ids of the files to decode in them (new files, and
    files seen before whose first ingest never decoded them)."""

    days: set[dt.date] = field(default_factory=set)
    file_ids: set[str] = field(default_factory=set)


def _placed(cfg: SpotConfig, data_type: str, files: list[Named], fmt: str | None) -> tuple[list, list[str]]:
    """(file, day) of every file that has a day partition; one line per file that has none."""
    tools = resources_for(cfg)["decoders"].tools(formats.tools_needed(data_type))
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
    only = [DATA_TYPES[data_type].table(stage) for stage in INGEST_STAGES]
    todo, done, ok = set(landing.days), set(), True
    while todo:
        day = min(todo)
        todo.discard(day)
        done.add(day)
        ok = report(materialize_day(cfg, day, [data_type], only=only), day) and ok
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
        routes = ", ".join(f"{log.path} as {log.data_type}" for log in zeek.LOGS.values())
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
