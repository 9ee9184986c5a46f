"""``<type>_enriched``: a day's suspicious events with context, reputation, names and analyst severity.

    <type>_suspicious ──┐
                        ├─> <type>_enriched     (lake table, replaced whole per day)
    analyst_store ──────┘   (read only: the store is user data, no run writes it)

Context files and reputation services come from ``[context]`` in spot.toml; one that is missing,
unreadable or unreachable is a warning in the run's log (and in the ``warnings`` metadata), never a
failed run. Reputation web services cache their verdicts under ``<home>/cache/reputation``.
"""

import dagster as dg
import pyarrow.compute as pc

from resources.config import SpotConfig
from resources.lake import LakeResource
from resources.store import AnalystStoreResource
from spot_assets.datatypes import DATA_TYPES
from spot_assets.graph import ANALYST_STORE, EAGER
from spot_assets.oa.enrich import enrich, load_context
from spot_assets.oa.files import Warnings
from spot_assets.partitions import partition_day


def enrich_assets(data_type: str, partitions: dg.PartitionsDefinition, cfg: SpotConfig) -> list:
    suspicious, enriched = DATA_TYPES[data_type].table("suspicious"), DATA_TYPES[data_type].table("enriched")
    cache_dir = cfg.reputation_cache

    @dg.asset(name=enriched, group_name=data_type, deps=[dg.AssetKey(suspicious), ANALYST_STORE],
              partitions_def=partitions, kinds={"parquet"}, automation_condition=EAGER)
    def enriched_asset(context: dg.AssetExecutionContext, lake: LakeResource, store: AnalystStoreResource):
        """Spot's ``<type>_scores`` table and more: rank, the analysts' current severity, internal/external,
        network context names, geolocation, reputation, domain parts and IANA names."""
        day = partition_day(context)
        try:
            events = lake.read_day(suspicious, day)
        except FileNotFoundError:
            raise dg.Failure(f"no {suspicious} for {day}: materialize it first") from None
        ratings = store.store().ratings(data_type, [day])
        warnings = Warnings(context.log)
        ctx = load_context(cfg.context, cache_dir, warnings)
        try:
            table = enrich(data_type, events, ratings, ctx, warnings)
        finally:
            ctx.close()
        lake.replace_day(enriched, day, table)
        levels = [c for c in table.column_names if c.endswith("_rep_level")]
        return dg.MaterializeResult(metadata={
            "rows": table.num_rows,
            "rated_rows": table.num_rows - table["severity"].null_count,
            "reputation_hits": sum(pc.sum(pc.greater_equal(table[c], 1)).as_py() or 0 for c in levels),
            "context_sources": dg.MetadataValue.json(ctx.sources),
            "warnings": dg.MetadataValue.json(warnings.messages),
        })

    return [enriched_asset]
