"""Suspicious Connects for one data type as daily assets (spec §3):

    <type>_events -> <type>_words -> <type>_model -> <type>_scores + <type>_suspicious
                                          ^
                     analyst_store (ratings of 3 of this day and the days before it)

Words and scores run in process or on Spark by the day's size (``MLConfig.in_process``: ``word_day``,
``score_day``); the LDA fit runs on Spark. The feedback rule is ``feedback``, the suspicious rule
``suspicious``.
"""

import datetime as dt

import dagster as dg

from resources.config import SpotConfig
from resources.lake import LakeResource
from resources.spark import SparkResource
from resources.store import AnalystStoreResource
from spot_assets.datatypes import DATA_TYPES
from spot_assets.graph import ANALYST_STORE, EAGER
from spot_assets.ml import lda, model as model_store, score_day, word_day
from spot_assets.ml.feedback import feedback_corpus
from spot_assets.ml.tables import spark_read
from spot_assets.partitions import SINGLE_RUN, each_day

ENGINES = {True: "in process", False: "spark"}


def ml_assets(data_type: str, partitions: dg.PartitionsDefinition, cfg: SpotConfig) -> list:
    spec = DATA_TYPES[data_type]
    events_key = dg.AssetKey(spec.table("events"))
    words_key, model_key = dg.AssetKey(spec.table("words")), dg.AssetKey(spec.table("model"))
    scores_key, suspicious_key = dg.AssetKey(spec.table("scores")), dg.AssetKey(spec.table("suspicious"))
    ml = cfg.ml
    settings = {"user_domain": cfg.dns.user_domain, "safe_domain": cfg.proxy.safe_domain}
    kinds = {"spark", "parquet"}

    @dg.asset(name=spec.table("words"), deps=[events_key], partitions_def=partitions, group_name=data_type,
              kinds=kinds, automation_condition=EAGER, backfill_policy=SINGLE_RUN,
              check_specs=[dg.AssetCheckSpec("word_error_rate", asset=words_key,
                                             description="share of valid events whose word could not be built")])
    def words(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource):
        """Every valid event with its word(s) (Spot's word rules), and the (ip, word, count) corpus."""

        def one(day: dt.date):
            if not lake.day_files(spec.table("events"), day):
                raise dg.Failure(f"no {data_type} events for {day}: ingest them first")
            total = lake.day_rows(spec.table("events"), day)
            local = ml.in_process(total)
            day_words = (word_day.in_process(lake, spec, day, settings) if local
                         else word_day.on_spark(spark.spark_session, lake, spec, day, settings))
            rate = day_words.errors / day_words.valid if day_words.valid else 0.0
            # Rows without a word stay in the events (detectors read them there); count them per reason.
            yield dg.MaterializeResult(metadata={
                "engine": ENGINES[local],
                "events": total, "valid_events": day_words.valid, "invalid_events": total - day_words.valid,
                "invalid_rows": dg.MetadataValue.json(day_words.accounts["invalid_rows"]),
                "filled_rows": dg.MetadataValue.json(day_words.accounts["filled_rows"]),
                "word_errors": day_words.errors, "corpus_pairs": lake.day_rows(spec.table("corpus"), day)})
            yield dg.AssetCheckResult(check_name="word_error_rate", passed=rate <= 0.01,
                                      severity=dg.AssetCheckSeverity.WARN, metadata={"word_error_rate": round(rate, 6)})

        yield from each_day(context, one)

    @dg.asset(
        name=spec.table("model"), partitions_def=partitions, group_name=data_type, kinds=kinds,
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

        def one(day: dt.date):
            session = spark.spark_session
            corpus = spark_read(session, lake, spec.table("corpus"), day)
            if corpus is None:
                raise dg.Failure(f"no {data_type} corpus for {day}: materialize {spec.table('words')} first")
            ratings = store.store().low_risk(data_type, day, ml.feedback_days)
            feedback = feedback_corpus(lake, data_type, ratings, ml.dupfactor)
            if feedback is not None:
                corpus = corpus.unionByName(session.createDataFrame(feedback))
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

        def one(day: dt.date):
            local = ml.in_process(lake.day_rows(spec.table("events"), day))
            scored = (score_day.in_process(lake, spec, day, ml) if local
                      else score_day.on_spark(spark.spark_session, lake, spec, day, ml))
            top = scored.top
            yield dg.MaterializeResult(asset_key=scores_key, metadata={
                "engine": ENGINES[local], "rows": lake.day_rows(spec.table("scores"), day)})
            yield dg.MaterializeResult(asset_key=suspicious_key, metadata={
                "rows": top.num_rows, "tol": ml.tol, "max_results": ml.max_results,
                "lowest_score": float(top["score"][0].as_py()) if top.num_rows else None})
            yield dg.AssetCheckResult(check_name="unseen_word_share", asset_key=scores_key,
                                      passed=scored.unseen_share <= 0.05, severity=dg.AssetCheckSeverity.WARN,
                                      metadata={"unseen_word_share": round(scored.unseen_share, 6)})

        yield from each_day(context, one)

    return [words, topic_model, scoring]
