"""The ML stages' day tables in the lake, as either engine reads and writes them.

A stage runs in process (Arrow) or on Spark (``MLConfig.in_process``), and what it leaves in the lake
must read back the same either way: the next stage, the dashboard and a re-run on the other engine
all read these tables. ``as_spark_writes`` gives an Arrow table the schema Spark gives the same data
when it writes it (every column nullable, timestamps in microseconds, no schema metadata: a Spark
schema copied from the files read would hide the columns added since, from Spark's reader).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession

from resources.lake import LakeResource


def _field(field: pa.Field) -> pa.Field:
    kind = pa.timestamp("us", tz=field.type.tz) if pa.types.is_timestamp(field.type) else field.type
    return pa.field(field.name, kind, nullable=True)


def as_spark_writes(table: pa.Table, required: tuple[str, ...] = ()) -> pa.Table:
    """``table`` cast to Spark's schema for it; the ``required`` columns never null (Spark's counts,
    and columns its plan knows are never null)."""
    fields = [_field(f).with_nullable(f.name not in required) for f in table.schema]
    return table.cast(pa.schema(fields))


def spark_read(spark: SparkSession, lake: LakeResource, table: str, day: dt.date) -> DataFrame | None:
    files = lake.spark_day_paths(table, day)
    return spark.read.parquet(*files) if files else None


def spark_write(lake: LakeResource, table: str, day: dt.date, df: DataFrame) -> None:
    lake.replace_day_from(table, day, lambda uri: df.write.mode("overwrite").parquet(uri))
