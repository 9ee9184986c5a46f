"""The ingest stage of one data type as daily-partitioned assets:

    <type>_raw  ->  <type>_events + <type>_rejects  ->  <type>_ingest_summary

Landing and decoding run native tools in worker processes and never start a JVM; the summary is the
first Spark step, so the ingest proves the Spark path (local or cluster) every day it runs.
"""


import datetime as dt
import functools
import time

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from resources.decoders import DecoderResource
from resources.lake import LakeResource
from resources.landing import LandingResource
from resources.spark import SparkResource
from spot_assets import schemas
from spot_assets.datatypes import DATA_TYPES
from spot_assets.ingest import formats, manifest
from spot_assets.ingest.decode import ingest_file, needs_decoding
from spot_assets.ingest.landing import files_of_day, land
from spot_assets.ingest.manifest import DECODED, DUPLICATE, QUARANTINED, ManifestEntry
from spot_assets.partitions import SINGLE_RUN, each_day, partition_day


def _manifest_markdown(entries: list[ManifestEntry]) -> str:
    lines = ["| file | status | rows | rejects | first event | error |", "|---|---|---|---|---|---|"]
    for e in entries[:200]:
        error = (e.error or "").replace("|", "\\|")[:200]
        lines.append(f"| {e.name} | {e.status} | {e.rows} | {e.rejects} | {e.first_ts or ''} | {error} |")
    if len(entries) > 200:
        lines.append(f"| … {len(entries) - 200} more | | | | | |")
    return "\n".join(lines)


def _schema_problems(lake: LakeResource, table: str, day: dt.date, expected: pa.Schema) -> list[str]:
    problems = []
    for f in lake.day_files(table, day):
        found = pq.read_schema(f, filesystem=lake.fs)
        if not found.remove_metadata().equals(expected, check_metadata=False):
            problems.append(f"{f}: {found}")
    return problems


def ingest_assets(data_type: str, partitions: dg.PartitionsDefinition, max_reject_rate: float) -> list:
    spec = DATA_TYPES[data_type]
    raw_key = dg.AssetKey(spec.table("raw"))
    events_key = dg.AssetKey(spec.table("events"))
    rejects_key = dg.AssetKey(spec.table("rejects"))

    @dg.asset(name=raw_key.path[-1], partitions_def=partitions, group_name=data_type, kinds={"files"})
    def raw(context: dg.AssetExecutionContext, lake: LakeResource, landing: LandingResource,
            decoders: DecoderResource) -> dg.MaterializeResult:
        """Complete files of this day from the landing folder, moved byte for byte into the raw zone
        with a manifest entry each (sha256, size, status). A file seen before is not ingested twice."""
        day = partition_day(context)
        tools = decoders.tools(formats.tools_needed(data_type))
        landed = [land(lake, data_type, path, day) for path in files_of_day(landing, data_type, day, tools, partitions)]
        entries = manifest.entries(lake, data_type, day)
        for e in landed:
            context.log.info(f"landed {e.name} ({e.size} bytes) as {e.status}")
        return dg.MaterializeResult(metadata={
            "files_landed": len(landed),
            "duplicates_landed": sum(e.status == DUPLICATE for e in landed),
            "files": len([e for e in entries if e.status != DUPLICATE]),
            "bytes": sum(e.size for e in entries if e.status != DUPLICATE),
            "manifest": dg.MetadataValue.md(_manifest_markdown(entries)),
        })

    check_specs = [
        dg.AssetCheckSpec("schema", asset=events_key, blocking=True,
                          description="every part file of the day has exactly the events schema"),
        dg.AssetCheckSpec("non_empty", asset=events_key, blocking=True, description="the day has events"),
        dg.AssetCheckSpec("reject_rate", asset=events_key, blocking=True,
                          description=f"rejected rows are at most {max_reject_rate:.1%} of the rows read"),
    ]

    @dg.multi_asset(
        name=f"{data_type}_decode",
        specs=[
            dg.AssetSpec(events_key, deps=[raw_key], group_name=data_type, kinds={"parquet"},
                         description=f"Decoded {data_type} events, Spot's schema plus provenance, partitioned y/m/d/h."),
            dg.AssetSpec(rejects_key, deps=[raw_key], group_name=data_type, kinds={"parquet"},
                         description="Rows that could not be parsed: file, record number, raw text, reason."),
        ],
        check_specs=check_specs,
        partitions_def=partitions,
    )
    def decode(context: dg.AssetExecutionContext, lake: LakeResource, decoders: DecoderResource):
        day = partition_day(context)
        todo = [e for e in manifest.entries(lake, data_type, day) if needs_decoding(e)]
        started = time.perf_counter()
        done = []
        if todo:
            job = functools.partial(ingest_file, lake.root, tools=decoders.tools(formats.tools_needed(data_type)))
            done = list(decoders.map(job, todo))
        seconds = time.perf_counter() - started
        for e in done:
            if e.status == QUARANTINED:
                context.log.warning(f"quarantined {e.path}: {e.error}")
            for warning in e.warnings:  # decoded whole, with a note from its decoder
                context.log.warning(warning)
        rows = lake.day_rows(spec.table("events"), day)
        rejects = lake.day_rows(spec.table("rejects"), day)
        decoded_rows = sum(e.rows for e in done)
        entries = manifest.entries(lake, data_type, day)
        yield dg.MaterializeResult(asset_key=events_key, metadata={
            "rows": rows,
            "rejects": rejects,
            "files": sum(e.status == DECODED for e in entries),
            "files_quarantined": sum(e.status == QUARANTINED for e in entries),
            "files_decoded_now": len(done),
            "bytes_decoded_now": sum(e.size for e in done),
            "decode_seconds": round(seconds, 3),
            "events_per_second": round(decoded_rows / seconds, 1) if seconds and decoded_rows else 0.0,
            "manifest": dg.MetadataValue.md(_manifest_markdown(entries)),
        })
        yield dg.MaterializeResult(asset_key=rejects_key, metadata={"rows": rejects})

        problems = _schema_problems(lake, spec.table("events"), day, spec.events)
        yield dg.AssetCheckResult(check_name="schema", asset_key=events_key, passed=not problems,
                                  metadata={"mismatched_files": len(problems), "first": (problems or [""])[0][:1000]})
        yield dg.AssetCheckResult(check_name="non_empty", asset_key=events_key, passed=rows > 0,
                                  metadata={"rows": rows})
        rate = rejects / (rows + rejects) if rows + rejects else 0.0
        yield dg.AssetCheckResult(check_name="reject_rate", asset_key=events_key, passed=rate <= max_reject_rate,
                                  metadata={"reject_rate": round(rate, 6), "bound": max_reject_rate})

    @dg.asset(name=spec.table("ingest_summary"), deps=[events_key], partitions_def=partitions,
              group_name=data_type, kinds={"spark", "parquet"}, backfill_policy=SINGLE_RUN)
    def ingest_summary(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource):
        """Events per minute of the day: what Spot's Ingest Summary page draws."""
        def one(day: dt.date):
            files = lake.spark_day_paths(spec.table("events"), day)
            if files:
                from pyspark.sql import functions as F

                counts = (spark.spark_session.read.parquet(*files)
                          .groupBy(F.date_trunc("minute", "ts").alias("minute")).count()
                          .orderBy("minute").toArrow())
                minute = counts["minute"].cast(schemas.TS)
                total = counts["count"].cast(pa.int64())
            else:
                minute, total = pa.array([], schemas.TS), pa.array([], pa.int64())
            summary = pa.table({"minute": minute, "tdate": pc.strftime(minute, "%Y-%m-%d %H:%M"), "total": total},
                               schema=schemas.INGEST_SUMMARY)
            lake.replace_day(spec.table("ingest_summary"), day, summary)
            yield dg.MaterializeResult(metadata={"minutes": summary.num_rows, "events": int(pc.sum(total).as_py() or 0)})

        yield from each_day(context, one)

    return [raw, decode, ingest_summary]
