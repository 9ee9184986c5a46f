"""The same word rules on Spark, with no per-row Python: ``mapInArrow`` hands each partition's
Arrow batches to the rule's own ``words``, so Spark and the in-process path share one definition.

A rule's day-level aggregates (``DAY_COUNTS``: proxy's user-agent counts) are a Spark ``groupBy``
over the values the rule counts (``proxy.valid_agents``: a null agent counted as ``-``), collected
(one row per distinct value, not per event) and handed to every batch; pass them in ``day_counts``
to count over another set, e.g. the training set with its feedback copies.

Every column of ``df`` crosses to Python and back: select the columns you need first.
``spark_accounts`` counts the rows the rules leave without a word, per reason (``accounts``).
"""

from __future__ import annotations

from functools import partial, reduce
from typing import Callable, Iterator

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_type
from pyspark.sql.types import StringType, StructField, StructType

from spot_assets.datatypes import DATA_TYPES
from spot_assets.ml.words import common
from spot_assets.ml.words.accounts import row_accounts, summary
from spot_assets.ml.words.domains import load_top_sites

_ACCOUNT = "account"


def _word_batches(batches: Iterator[pa.RecordBatch], words: Callable, settings: dict) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield from words(pa.Table.from_batches([batch]), **settings).to_batches()


def _value_batches(batches: Iterator[pa.RecordBatch], values: Callable, name: str) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield pa.RecordBatch.from_arrays([values(pa.Table.from_batches([batch]))], names=[name])


def spark_day_counts(df: DataFrame, data_type: str) -> dict[str, pa.Table]:
    """The rule's ``DAY_COUNTS`` over the rows of ``df`` (validity as the rule defines it), by keyword."""
    rule = DATA_TYPES[data_type].word_rule
    out = {}
    for keyword, (values, schema) in rule.DAY_COUNTS.items():
        key, count = schema.names
        fields = StructType([StructField(key, from_arrow_type(schema.field(key).type))])
        counted = df.select(*rule.MODEL_COLUMNS).mapInArrow(partial(_value_batches, values=values, name=key), fields)
        out[keyword] = counted.groupBy(key).agg(F.count(F.lit(1)).alias(count)).toArrow().cast(schema)
    return out


def spark_words(
    df: DataFrame,
    data_type: str,
    *,
    user_domain: str = "",
    safe_domain: str = "",
    top_sites: frozenset[str] | None = None,
    day_counts: dict[str, pa.Table] | None = None,
) -> DataFrame:
    """``df`` with the word columns of ``data_type`` appended (``src_word``/``dst_word`` or ``word``)."""
    rule = DATA_TYPES[data_type].word_rule
    settings = {"user_domain": user_domain, "safe_domain": safe_domain,
                "top_sites": load_top_sites() if top_sites is None else frozenset(top_sites),
                **(spark_day_counts(df, data_type) if day_counts is None else day_counts)}
    schema = StructType(df.schema.fields + [StructField(name, StringType()) for name in rule.WORD_COLUMNS])
    return df.mapInArrow(partial(_word_batches, words=rule.words, settings=settings), schema)


def _account_batches(batches: Iterator[pa.RecordBatch], data_type: str) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        accounts = row_accounts(pa.Table.from_batches([batch]), data_type)
        yield pa.RecordBatch.from_arrays([accounts], names=[_ACCOUNT])


def spark_accounts(df: DataFrame, data_type: str) -> dict[str, dict[str, int]]:
    """``accounts.summary`` of ``df``'s events: rows without a word per reason, rows worded with a fill.

    Only the checks run (no word is built), so this pass costs a fraction of ``spark_words``.
    """
    columns = list(DATA_TYPES[data_type].word_rule.MODEL_COLUMNS)
    schema = StructType([StructField(_ACCOUNT, StringType())])
    accounts = df.select(*columns).mapInArrow(partial(_account_batches, data_type=data_type), schema)
    counts = accounts.where(F.col(_ACCOUNT).isNotNull()).groupBy(_ACCOUNT).count().collect()
    return summary({row[_ACCOUNT]: row["count"] for row in counts}, data_type)


def spark_corpus(worded: DataFrame, data_type: str) -> DataFrame:
    """(ip, word, count) from a ``spark_words`` result, both flow roles summed per (ip, word)."""
    pairs = reduce(
        DataFrame.unionByName,
        (worded.select(F.col(ip).alias("ip"), F.col(word).alias("word"))
         for ip, word in DATA_TYPES[data_type].word_rule.DOCUMENTS),
    )
    kept = pairs.where(F.col("word").isNotNull() & (F.col("word") != common.WORD_ERROR))
    return kept.groupBy("ip", "word").agg(F.count(F.lit(1)).alias("count"))
