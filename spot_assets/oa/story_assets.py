"""Details and storyboards of one data type as daily assets, on pyarrow and DuckDB (no Spark: a day's
suspicious rows and saved threats are few, and the event reads are filtered at the Parquet files):

    <type>_suspicious ─┐
    <type>_events ─────┴─> <type>_details      lake tables, see details.py
    <type>_events ─────┐
    <type>_enriched ───┼─> <type>_storyboard   JSON per saved threat + the day's briefing, see storyboard.py
    analyst_store ─────┘   (read only: the store is user data, no run writes it)

``<type>_enriched`` is a dependency for lineage and ordering (the storyboard shows the threats of
enriched, rated events); the artifacts are computed from the events themselves, like Spot's.
"""

import dagster as dg

from resources.config import SpotConfig
from resources.lake import LakeResource
from resources.store import AnalystStoreResource
from spot_assets import schemas
from spot_assets.datatypes import DATA_TYPES
from spot_assets.graph import ANALYST_STORE, EAGER
from spot_assets.oa.enrich import load_context, suspicious_schema
from spot_assets.oa.files import Warnings
from spot_assets.oa.storyboard import storyboard_files, write_storyboard
from spot_assets.partitions import partition_day


def oa_story_assets(data_type: str, partitions: dg.PartitionsDefinition, cfg: SpotConfig) -> list:
    spec = DATA_TYPES[data_type]
    events, suspicious = dg.AssetKey(spec.table("events")), spec.table("suspicious")
    cache_dir = cfg.reputation_cache

    @dg.asset(name=spec.table("details"), group_name=data_type, partitions_def=partitions, kinds={"parquet"},
              deps=[dg.AssetKey(suspicious), events], automation_condition=EAGER)
    def details(context: dg.AssetExecutionContext, lake: LakeResource):
        """What the dashboard shows under a suspicious row: the same-minute connections and chords
        (flow), the matching queries and each client's names (dns), the requests (proxy)."""
        day = partition_day(context)
        try:
            # Spark wrote it: conform gives the types (UTC timestamps, strings) the details compute with.
            rows = schemas.conform(lake.read_day(suspicious, day), suspicious_schema(data_type))
        except FileNotFoundError:
            raise dg.Failure(f"no {suspicious} for {day}: materialize it first") from None
        tables = spec.oa.details(lake, day, rows)
        for table, data in tables.items():
            lake.replace_day(table, day, data)
        return dg.MaterializeResult(metadata={"suspicious_rows": rows.num_rows,
                                              **{f"{t}_rows": d.num_rows for t, d in tables.items()}})

    @dg.asset(name=spec.table("storyboard"), group_name=data_type, partitions_def=partitions, kinds={"json"},
              deps=[events, dg.AssetKey(spec.table("enriched")), ANALYST_STORE],
              description=f"The artifacts ({', '.join(spec.artifacts)}) of every {data_type} threat saved "
                          "for the day, and the day's executive briefing.")
    def storyboard(context: dg.AssetExecutionContext, lake: LakeResource, store: AnalystStoreResource):
        day = partition_day(context)
        analysts = store.store()
        try:
            threats = analysts.threats(data_type, day)
        finally:
            analysts.engine.dispose()
        warnings = Warnings(context.log)
        # Only some storyboards place addresses (network context, globe); load_context also reads the
        # reputation sources, which cost a little and are not used here.
        ctx = load_context(cfg.context, cache_dir, warnings) if spec.places_addresses else None
        try:
            files = storyboard_files(lake, data_type, day, threats, ctx.addresses if ctx else None)
        finally:
            if ctx is not None:
                ctx.close()
        folder = write_storyboard(lake, data_type, day, files)
        return dg.MaterializeResult(metadata={
            "threats": len(threats), "files": len(files), "folder": folder,
            "globes": sum(1 for path in files if path.endswith("/globe.json")),
            "warnings": dg.MetadataValue.json(warnings.messages)})

    return [details, storyboard]
