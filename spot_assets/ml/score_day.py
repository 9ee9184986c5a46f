"""A day's scores and suspicious list (the ``<type>_scoring`` assets), on either engine.

Both engines score every worded event with the day's model (``scoring.event_scores``, the same
function over the whole day or over Spark's Arrow batches) and pick the suspicious events by the one
rule in ``suspicious``. ``in_process`` holds the day's words and the model in one process;
``on_spark`` broadcasts the model to the cluster's tasks. Which one runs is ``MLConfig.in_process``.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StructField, StructType

from resources.config import MLConfig
from resources.lake import LakeResource
from spot_assets.datatypes import DataType
from spot_assets.ml import model as model_store, suspicious
from spot_assets.ml.model import TopicModel
from spot_assets.ml.scoring import event_scores
from spot_assets.ml.tables import as_spark_writes, spark_read, spark_write

SCORE = pa.field("score", pa.float64(), nullable=False)


@dataclass(frozen=True)
class ScoredDay:
    top: pa.Table  # the suspicious list, as stored
    unseen_share: float  # of the scored words (score >= 0), those the model never saw (score 0)


def _scored(model: TopicModel, table: pa.Table, documents) -> pa.Table:
    return table.append_column(SCORE, pa.array(event_scores(model, table, documents), pa.float64()))


def in_process(lake: LakeResource, spec: DataType, day: dt.date, ml: MLConfig) -> ScoredDay:
    model = model_store.load(lake, spec.name, day)
    scored = as_spark_writes(_scored(model, lake.read_day(spec.table("words"), day), spec.word_rule.DOCUMENTS),
                             required=(SCORE.name,))
    lake.replace_day(spec.table("scores"), day, scored)
    top = as_spark_writes(suspicious.top(scored, ml.tol, ml.max_results))
    lake.replace_day(spec.table("suspicious"), day, top)
    score = scored[SCORE.name].to_numpy()
    seen = int(np.count_nonzero(score >= 0))
    return ScoredDay(top, int(np.count_nonzero(score == 0)) / seen if seen else 0.0)


def _score_batches(batches: Iterator[pa.RecordBatch], documents, broadcast) -> Iterator[pa.RecordBatch]:
    model = TopicModel(*broadcast.value)
    for batch in batches:
        yield from _scored(model, pa.Table.from_batches([batch]), documents).to_batches()


def on_spark(spark: SparkSession, lake: LakeResource, spec: DataType, day: dt.date, ml: MLConfig) -> ScoredDay:
    fitted = model_store.load(lake, spec.name, day)
    worded = spark_read(spark, lake, spec.table("words"), day)
    shared = spark.sparkContext.broadcast((fitted.docs.to_numpy(), fitted.theta, fitted.words.to_numpy(), fitted.phi))
    schema = StructType([*worded.schema.fields, StructField(SCORE.name, DoubleType(), False)])
    fn = functools.partial(_score_batches, documents=spec.word_rule.DOCUMENTS, broadcast=shared)
    spark_write(lake, spec.table("scores"), day, worded.mapInArrow(fn, schema))
    stored = spark_read(spark, lake, spec.table("scores"), day)
    top = suspicious.spark_top(stored, ml.tol, ml.max_results)
    lake.replace_day(spec.table("suspicious"), day, top)
    shared.unpersist()
    counts = stored.agg(F.sum((F.col("score") == 0).cast("int")).alias("z"),
                        F.sum((F.col("score") >= 0).cast("int")).alias("n")).first()
    return ScoredDay(top, (counts["z"] or 0) / counts["n"] if counts["n"] else 0.0)
