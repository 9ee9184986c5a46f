"""The Dagster code location: the whole graph, built from the effective `spot.toml`."""

from __future__ import annotations

import dagster as dg

from resources.config import SpotConfig, load_config
from resources.decoders import DecoderResource
from resources.lake import LakeResource
from resources.landing import LandingResource
from resources.spark import spark_resource
from resources.store import AnalystStoreResource
from spot_assets.datatypes import DATA_TYPES
from spot_assets.detect.assets import detect_assets
from spot_assets.graph import ANALYST_STORE
from spot_assets.ingest.assets import ingest_assets
from spot_assets.ingest.sensors import landing_sensor
from spot_assets.ml.assets import ml_assets
from spot_assets.oa.enrich_assets import enrich_assets
from spot_assets.oa.sensors import threat_sensor
from spot_assets.oa.story_assets import oa_story_assets
from spot_assets.partitions import daily

DAILY_JOB = "spot_daily"

# User data, written only by analysts (dashboard, CLI): shown in the lineage, never materialized.
ANALYST_STORE_SPEC = dg.AssetSpec(ANALYST_STORE, group_name="analyst", kinds={"sqlite"},
                                  description="Ratings, threats and their audit log: what analysts decided.")


def resources_for(cfg: SpotConfig) -> dict:
    ingest = cfg.ingest
    return {
        "lake": LakeResource(root=cfg.lake_root),
        "landing": LandingResource(root=str(cfg.landing_root), settle_seconds=ingest.settle_seconds),
        "decoders": DecoderResource(nfdump=ingest.nfdump, tshark=ingest.tshark, editcap=ingest.editcap,
                                    workers=ingest.workers, dns_engine=ingest.dns_engine,
                                    tshark_chunk_packets=ingest.tshark_chunk_packets),
        "spark": spark_resource(cfg.spark),
        "store": AnalystStoreResource(url=cfg.store_url),
    }


def daily_assets(cfg: SpotConfig) -> list[str]:
    """Every asset a day's whole graph materializes (those of `spot_daily`)."""
    job = build_definitions(cfg).resolve_job_def(DAILY_JOB)
    return sorted(key.to_user_string() for key in job.asset_layer.executable_asset_keys)


def build_definitions(cfg: SpotConfig) -> dg.Definitions:
    partitions = daily(cfg.ingest.start_date)
    assets, jobs, sensors = [ANALYST_STORE_SPEC], [], []
    for data_type in cfg.ingest.types:
        ingest = ingest_assets(data_type, partitions, cfg.ingest.max_reject_rate)
        job = dg.define_asset_job(f"{data_type}_ingest", selection=dg.AssetSelection.assets(*ingest),
                                  description=f"Landing, decoding and summary of {data_type} for one day.")
        story = oa_story_assets(data_type, partitions, cfg)
        assets += (ingest + ml_assets(data_type, partitions, cfg) + detect_assets(data_type, partitions, cfg)
                   + enrich_assets(data_type, partitions, cfg) + story)
        storyboard_job = dg.define_asset_job(f"{data_type}_storyboard_build", selection=[DATA_TYPES[data_type].table("storyboard")],
                                             description=f"The {data_type} storyboard of a day, after a threat is saved.")
        jobs += [job, storyboard_job]
        sensors += [landing_sensor(data_type, job, partitions), threat_sensor(data_type, storyboard_job, partitions)]
    # The whole graph of a day in one run (one Spark session): what `spot run` and job backfills use.
    jobs.append(dg.define_asset_job(DAILY_JOB, selection=dg.AssetSelection.all() - dg.AssetSelection.assets(ANALYST_STORE),
                                    description="Everything of one day: ingest, words, models, scores, context."))
    # One process per run: the steps of a day share one SparkSession instead of one JVM each.
    return dg.Definitions(assets=assets, jobs=jobs, sensors=sensors, resources=resources_for(cfg),
                          executor=dg.in_process_executor)


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(load_config())
