"""`spot export`: one day of a table as CSV or Parquet, or a day's storyboard as JSON."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from resources.config import SpotConfig
from resources.lake import LakeResource
from spot_assets import schemas
from spot_assets.datatypes import DATA_TYPES
from spot_assets.detect.base import findings_schema
from spot_assets.detect.priority_schema import priority_schema
from spot_assets.export import neutralise_formulas

# Tables `spot export` knows, by the name the user types, with their schemas.
EXPORTABLE = {
    "events": lambda t: DATA_TYPES[t].events,
    "rejects": lambda t: schemas.REJECTS,
    "ingest_summary": lambda t: schemas.INGEST_SUMMARY,
    # Their schema is what the files say (Spark, or the enrichment and details builders, wrote them).
    **{name: (lambda t: None) for name in ("words", "scores", "suspicious", "enriched", "details",
                                             "chords", "dendro")},
    "findings": lambda t: findings_schema(DATA_TYPES[t]),
    "priority": lambda t: priority_schema(DATA_TYPES[t]),
}


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
