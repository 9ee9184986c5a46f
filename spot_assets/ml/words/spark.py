"""The same word rules on Spark, with no per-row Python: ``mapInArrow`` hands each partition's
Arrow batches to the vectorized functions, so Spark and pandas share one definition.

Flow and DNS rules are row-local. The proxy user-agent count is a day aggregate: it is a Spark
``groupBy`` over the valid rows' agents (``proxy.valid_agents``, a null agent counted as ``-``), joined
to the rows before the batches go to Python; pass ``ua_counts`` (useragent, ua_count) to count over
another set, e.g. the training set with its feedback copies.

Every column of ``df`` crosses to Python and back: select the columns you need first.
``spark_accounts`` counts the rows the rules leave without a word, per reason (``accounts``).
"""

from __future__ import annotations

from functools import partial, reduce
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from spot_assets.ml.words import common, dns, flow, proxy
from spot_assets.ml.words.accounts import RULES, row_accounts, summary
from spot_assets.ml.words.corpus import DOCUMENTS, WORD_COLUMNS
from spot_assets.ml.words.domains import load_top_sites

_UA_KEY, _UA_COUNT = "_spot_ua_key", "_spot_ua_count"
_ACCOUNT = "account"


def _words(table: pa.Table, data_type: str, own_domain: str, top_sites: frozenset[str]) -> dict[str, pa.Array]:
    if data_type == "flow":
        return flow.flow_word_columns(common.columns(table, flow.MODEL_COLUMNS))
    if data_type == "dns":
        return dns.dns_word_columns(common.columns(table, dns.MODEL_COLUMNS), own_domain, top_sites)
    counts = pc.cast(table[_UA_COUNT], pa.int64()).combine_chunks()
    return proxy.proxy_word_columns(common.columns(table, proxy.MODEL_COLUMNS), counts, own_domain, top_sites)


def _word_batches(batches: Iterator[pa.RecordBatch], **params) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        table = pa.Table.from_batches([batch])
        yield from common.with_words(table, _words(table, **params)).to_batches()


def _agent_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield pa.RecordBatch.from_arrays([proxy.valid_agents(pa.Table.from_batches([batch]))], names=["useragent"])


def spark_ua_counts(df: DataFrame) -> DataFrame:
    """(useragent, ua_count) over the valid proxy rows of ``df`` (validity as ``proxy`` defines it)."""
    schema = StructType([StructField("useragent", StringType())])
    agents = df.select(*proxy.MODEL_COLUMNS).mapInArrow(_agent_batches, schema)
    return agents.groupBy("useragent").agg(F.count(F.lit(1)).alias("ua_count"))


def spark_words(
    df: DataFrame,
    data_type: str,
    *,
    user_domain: str = "",
    safe_domain: str = "",
    top_sites: frozenset[str] | None = None,
    ua_counts: DataFrame | None = None,
) -> DataFrame:
    """``df`` with the word columns of ``data_type`` appended (``src_word``/``dst_word`` or ``word``)."""
    sites = load_top_sites() if top_sites is None else frozenset(top_sites)
    own_domain = {"dns": user_domain, "proxy": safe_domain}.get(data_type, "")
    columns = df.columns
    if data_type == "proxy":
        counts = spark_ua_counts(df) if ua_counts is None else ua_counts
        counts = counts.select(F.col("useragent").alias(_UA_KEY), F.col("ua_count").alias(_UA_COUNT))
        df = df.withColumn(_UA_KEY, F.coalesce(F.col("useragent"), F.lit(proxy.NO_VALUE))).join(counts, _UA_KEY, "left")
    schema = StructType(df.schema.fields + [StructField(name, StringType()) for name in WORD_COLUMNS[data_type]])
    fn = partial(_word_batches, data_type=data_type, own_domain=own_domain, top_sites=sites)
    return df.mapInArrow(fn, schema).select(*columns, *WORD_COLUMNS[data_type])


def _account_batches(batches: Iterator[pa.RecordBatch], data_type: str) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        accounts = row_accounts(pa.Table.from_batches([batch]), data_type)
        yield pa.RecordBatch.from_arrays([accounts], names=[_ACCOUNT])


def spark_accounts(df: DataFrame, data_type: str) -> dict[str, dict[str, int]]:
    """``accounts.summary`` of ``df``'s events: rows without a word per reason, rows worded with a fill.

    Only the checks run (no word is built), so this pass costs a fraction of ``spark_words``.
    """
    columns = list(RULES[data_type][0])
    schema = StructType([StructField(_ACCOUNT, StringType())])
    accounts = df.select(*columns).mapInArrow(partial(_account_batches, data_type=data_type), schema)
    counts = accounts.where(F.col(_ACCOUNT).isNotNull()).groupBy(_ACCOUNT).count().collect()
    return summary({row[_ACCOUNT]: row["count"] for row in counts}, data_type)


def spark_corpus(worded: DataFrame, data_type: str) -> DataFrame:
    """(ip, word, count) from a ``spark_words`` result, both flow roles summed per (ip, word)."""
    pairs = reduce(
        DataFrame.unionByName,
        (worded.select(F.col(ip).alias("ip"), F.col(word).alias("word")) for ip, word in DOCUMENTS[data_type]),
    )
    kept = pairs.where(F.col("word").isNotNull() & (F.col("word") != common.WORD_ERROR))
    return kept.groupBy("ip", "word").agg(F.count(F.lit(1)).alias("count"))
