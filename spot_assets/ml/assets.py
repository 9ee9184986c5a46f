"""Suspicious Connects for one data type as daily assets on Spark (spec §3):

    <type>_events -> <type>_words -> <type>_model -> <type>_scores + <type>_suspicious
                                          ^
                     analyst_store (ratings of 3 of this day and the days before it)
"""

import datetime as dt
import functools
from typing import Iterator

import dagster as dg
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StructField, StructType

from resources.config import SpotConfig
from resources.lake import LakeResource
from resources.spark import SparkResource
from resources.store import AnalystStoreResource, Rating
from spot_assets import schemas
from spot_assets.graph import ANALYST_STORE, EAGER
from spot_assets.ingest.decode import events_table
from spot_assets.ml import lda, model as model_store
from spot_assets.ml.model import TopicModel
from spot_assets.ml.scoring import flow_scores, score
from spot_assets.ml.words import DOCUMENTS, WORD_COLUMNS, WORD_ERROR
from spot_assets.ml.words.spark import spark_accounts, spark_corpus, spark_words
from spot_assets.partitions import SINGLE_RUN, each_day



def _tables(data_type: str) -> dict[str, str]:
    return {name: f"{data_type}_{name}" for name in ("words", "corpus", "scores", "suspicious")}


def _read(spark: SparkSession, lake: LakeResource, table: str, day: dt.date) -> DataFrame | None:
    files = lake.spark_day_paths(table, day)
    return spark.read.parquet(*files) if files else None


def _write(lake: LakeResource, table: str, day: dt.date, df: DataFrame) -> None:
    lake.replace_day_from(table, day, lambda uri: df.write.mode("overwrite").parquet(uri))


def _matching(worded: DataFrame, ratings: list[Rating]) -> DataFrame:
    """The events any of ``ratings`` selects: every exact match of all of a rating's values."""
    condition = F.lit(False)
    for r in ratings:
        match = F.lit(True)
        for column, value in r.selector.items():
            match = match & (F.col(column) == F.lit(value))
        condition = condition | match
    return worded.where(condition)


def feedback_corpus(spark: SparkSession, lake: LakeResource, data_type: str, ratings: list[Rating],
                    dupfactor: int) -> DataFrame | None:
    """(ip, word, count) of the events analysts rated 3, each counted ``dupfactor`` times (spec §3.6).

    Counting a word ``dupfactor`` times is what Spot's replication of feedback rows did to the corpus,
    without materializing the copies.
    """
    parts = []
    for day in sorted({r.day for r in ratings}):
        worded = _read(spark, lake, _tables(data_type)["words"], day)
        if worded is not None:
            chosen = _matching(worded, [r for r in ratings if r.day == day])
            parts.append(spark_corpus(chosen, data_type).withColumn("count", F.col("count") * dupfactor))
    return functools.reduce(DataFrame.unionByName, parts) if parts else None


def _score_batches(batches: Iterator[pa.RecordBatch], data_type: str, broadcast) -> Iterator[pa.RecordBatch]:
    model = TopicModel(*broadcast.value)
    for batch in batches:
        table = pa.Table.from_batches([batch])
        if data_type == "flow":
            values = flow_scores(model, table["sip"], table["src_word"], table["dip"], table["dst_word"])
        else:
            [(ip, word)] = DOCUMENTS[data_type]
            values = score(model, table[ip], table[word])
        yield from table.append_column("score", pa.array(values, pa.float64())).to_batches()


def ml_assets(data_type: str, partitions: dg.PartitionsDefinition, cfg: SpotConfig) -> list:
    tables = _tables(data_type)
    events_key = dg.AssetKey(events_table(data_type))
    words_key, model_key = dg.AssetKey(tables["words"]), dg.AssetKey(f"{data_type}_model")
    scores_key, suspicious_key = dg.AssetKey(tables["scores"]), dg.AssetKey(tables["suspicious"])
    ml = cfg.ml
    kinds = {"spark", "parquet"}

    @dg.asset(name=tables["words"], deps=[events_key], partitions_def=partitions, group_name=data_type, kinds=kinds,
              automation_condition=EAGER, backfill_policy=SINGLE_RUN,
              check_specs=[dg.AssetCheckSpec("word_error_rate", asset=words_key,
                                             description="share of valid events whose word could not be built")])
    def words(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource):
        """Every valid event with its word(s) (Spot's word rules), and the (ip, word, count) corpus."""
        session = spark.spark_session

        def one(day: dt.date):
            events = _read(session, lake, events_table(data_type), day)
            if events is None:
                raise dg.Failure(f"no {data_type} events for {day}: ingest them first")
            worded = spark_words(events.select(*schemas.ML_COLUMNS[data_type]), data_type,
                                 user_domain=cfg.dns.user_domain, safe_domain=cfg.proxy.safe_domain)
            valid = worded.where(F.col(WORD_COLUMNS[data_type][0]).isNotNull())
            _write(lake, tables["words"], day, valid)
            stored = _read(session, lake, tables["words"], day)
            _write(lake, tables["corpus"], day, spark_corpus(stored, data_type))
            error = functools.reduce(lambda a, b: a | b, [F.col(w) == WORD_ERROR for w in WORD_COLUMNS[data_type]])
            counts = stored.agg(F.count(F.lit(1)).alias("n"), F.sum(error.cast("int")).alias("errors")).first()
            total, errors = lake.day_rows(events_table(data_type), day), int(counts["errors"] or 0)
            rate = errors / counts["n"] if counts["n"] else 0.0
            # Rows without a word stay in the events (detectors read them there); count them per reason.
            accounts = spark_accounts(events, data_type)
            yield dg.MaterializeResult(metadata={
                "events": total, "valid_events": counts["n"], "invalid_events": total - counts["n"],
                "invalid_rows": dg.MetadataValue.json(accounts["invalid_rows"]),
                "filled_rows": dg.MetadataValue.json(accounts["filled_rows"]),
                "word_errors": errors, "corpus_pairs": lake.day_rows(tables["corpus"], day)})
            yield dg.AssetCheckResult(check_name="word_error_rate", passed=rate <= 0.01, severity=dg.AssetCheckSeverity.WARN,
                                      metadata={"word_error_rate": round(rate, 6)})

        yield from each_day(context, one)

    @dg.asset(
        name=model_key.path[-1], partitions_def=partitions, group_name=data_type, kinds=kinds,
        # The feedback of earlier days is read from their words tables as they are; they are not
        # declared as dependencies, so a re-run of an old day does not cascade into every later model.
        deps=[words_key, ANALYST_STORE],
        automation_condition=EAGER, backfill_policy=SINGLE_RUN,
        check_specs=[
            dg.AssetCheckSpec("finite_log_likelihood", asset=model_key, blocking=True),
            dg.AssetCheckSpec("vocabulary_size", asset=model_key, description="the model has words to score with"),
        ],
    )
    def topic_model(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource,
                    store: AnalystStoreResource):
        """LDA topic mixes per IP (θ) and word probabilities per topic (φ), fit on the day's corpus plus
        the events analysts rated 3 on this day and the window before it, each DUPFACTOR times."""
        session = spark.spark_session

        def one(day: dt.date):
            corpus = _read(session, lake, tables["corpus"], day)
            if corpus is None:
                raise dg.Failure(f"no {data_type} corpus for {day}: materialize {tables['words']} first")
            ratings = store.store().low_risk(data_type, day, ml.feedback_days)
            feedback = feedback_corpus(session, lake, data_type, ratings, ml.dupfactor)
            if feedback is not None:
                corpus = corpus.unionByName(feedback)
            fitted, stats = lda.fit(session, corpus, ml)
            model_store.save(lake, data_type, day, fitted, ml.precision)
            yield dg.MaterializeResult(metadata={
                "optimizer": ml.optimizer, "topics": ml.topic_count, "iterations": ml.iterations,
                "alpha": ml.alpha if ml.alpha is not None else "spark default",
                "beta": ml.beta if ml.beta is not None else "spark default", "seed": ml.seed, "seeds": ml.seeds,
                "precision": ml.precision,
                "documents": stats.documents, "vocabulary": stats.vocabulary, "tokens": stats.tokens,
                "feedback_ratings": len(ratings), "dupfactor": ml.dupfactor,
                "log_likelihood": stats.log_likelihood, "log_perplexity": stats.log_perplexity})
            yield dg.AssetCheckResult(check_name="finite_log_likelihood", passed=lda.finite(stats),
                                      metadata={"log_likelihood": stats.log_likelihood})
            yield dg.AssetCheckResult(check_name="vocabulary_size", passed=stats.vocabulary > 0,
                                      metadata={"vocabulary": stats.vocabulary})

        yield from each_day(context, one)

    @dg.multi_asset(
        name=f"{data_type}_scoring", partitions_def=partitions, backfill_policy=SINGLE_RUN,
        specs=[
            dg.AssetSpec(scores_key, deps=[model_key, words_key], group_name=data_type, kinds=kinds,
                         automation_condition=EAGER,
                         description="Every valid event with its word(s) and score."),
            dg.AssetSpec(suspicious_key, deps=[scores_key], group_name=data_type, kinds=kinds,
                         automation_condition=EAGER,
                         description=f"score <= TOL and > -1, ascending, top {ml.max_results} (spec §3.1)."),
        ],
        check_specs=[dg.AssetCheckSpec("unseen_word_share", asset=scores_key,
                                       description="share of words the model never saw (they score 0)")],
    )
    def scoring(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource):
        session = spark.spark_session

        def one(day: dt.date):
            fitted = model_store.load(lake, data_type, day)
            worded = _read(session, lake, tables["words"], day)
            shared = session.sparkContext.broadcast((fitted.docs.to_numpy(), fitted.theta, fitted.words.to_numpy(), fitted.phi))
            schema = StructType([*worded.schema.fields, StructField("score", DoubleType(), False)])
            scored = worded.mapInArrow(functools.partial(_score_batches, data_type=data_type, broadcast=shared), schema)
            _write(lake, tables["scores"], day, scored)
            stored = _read(session, lake, tables["scores"], day)
            suspicious = (stored.where((F.col("score") <= ml.tol) & (F.col("score") > -1))
                          .orderBy("score", "ts", "source_file", "record"))
            if ml.max_results > 0:
                suspicious = suspicious.limit(ml.max_results)
            top = suspicious.toArrow()
            lake.replace_day(tables["suspicious"], day, top)
            shared.unpersist()
            # A known word always has some probability, so a score of exactly 0 means a word the model never saw.
            zeros = stored.agg(F.sum((F.col("score") == 0).cast("int")).alias("z"),
                               F.sum((F.col("score") >= 0).cast("int")).alias("n")).first()
            share = (zeros["z"] or 0) / zeros["n"] if zeros["n"] else 0.0
            yield dg.MaterializeResult(asset_key=scores_key, metadata={"rows": lake.day_rows(tables["scores"], day)})
            yield dg.MaterializeResult(asset_key=suspicious_key, metadata={
                "rows": top.num_rows, "tol": ml.tol, "max_results": ml.max_results,
                "lowest_score": float(top["score"][0].as_py()) if top.num_rows else None})
            yield dg.AssetCheckResult(check_name="unseen_word_share", asset_key=scores_key, passed=share <= 0.05,
                                      severity=dg.AssetCheckSeverity.WARN, metadata={"unseen_word_share": round(share, 6)})

        yield from each_day(context, one)

    return [words, topic_model, scoring]
