"""A day's words, corpus and accounts (the ``<type>_words`` asset), on either engine.

Both engines run the type's word rule (``DataType.word_rule``) and leave the same tables: every
valid event with its word(s) in ``<type>_words``, the (ip, word, count) corpus in ``<type>_corpus``.
``in_process`` words the day in one Arrow table, which on a day of a few million events is faster
than Spark's start, its Python workers and its shuffles; ``on_spark`` spreads a day too large for
one process over the cluster. Which one runs is ``MLConfig.in_process``.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from resources.lake import LakeResource
from spot_assets.datatypes import DataType
from spot_assets.ml.tables import as_spark_writes, spark_read, spark_write
from spot_assets.ml.words import WORD_ERROR, corpus, count_accounts
from spot_assets.ml.words.spark import spark_accounts, spark_corpus, spark_words


@dataclass(frozen=True)
class WordedDay:
    valid: int  # events with a word
    errors: int  # of them, events with a ``word_error``
    accounts: dict[str, dict[str, int]]  # ``accounts.summary`` of the day's events


def in_process(lake: LakeResource, spec: DataType, day: dt.date, settings: dict) -> WordedDay:
    """``settings``: the word rules' keywords from the configuration (user_domain, safe_domain)."""
    rule = spec.word_rule
    events = lake.read_day(spec.table("events"), day, columns=list(spec.ml_columns))
    worded = rule.words(events, **settings)
    valid = as_spark_writes(worded.filter(pc.is_valid(worded[rule.WORD_COLUMNS[0]])))
    lake.replace_day(spec.table("words"), day, valid)
    lake.replace_day(spec.table("corpus"), day, corpus(valid, spec.name))
    error = np.logical_or.reduce([pc.fill_null(pc.equal(valid[w], WORD_ERROR), False).to_numpy(zero_copy_only=False)
                                  for w in rule.WORD_COLUMNS])
    return WordedDay(valid.num_rows, int(np.count_nonzero(error)), count_accounts(events, spec.name))


def on_spark(spark: SparkSession, lake: LakeResource, spec: DataType, day: dt.date, settings: dict) -> WordedDay:
    rule = spec.word_rule
    events = spark_read(spark, lake, spec.table("events"), day)
    worded = spark_words(events.select(*spec.ml_columns), spec.name, **settings)
    spark_write(lake, spec.table("words"), day, worded.where(F.col(rule.WORD_COLUMNS[0]).isNotNull()))
    stored = spark_read(spark, lake, spec.table("words"), day)
    spark_write(lake, spec.table("corpus"), day, spark_corpus(stored, spec.name))
    error = functools.reduce(lambda a, b: a | b, [F.col(w) == WORD_ERROR for w in rule.WORD_COLUMNS])
    counts = stored.agg(F.count(F.lit(1)).alias("n"), F.sum(error.cast("int")).alias("errors")).first()
    return WordedDay(counts["n"], int(counts["errors"] or 0), spark_accounts(events, spec.name))
