"""Fitting the day's topic model with Spark ML's LDA on the (ip, word, count) corpus (spec §3.5).

Each IP is a document; its words and counts become a sparse vector over the day's vocabulary. The
vocabulary and the documents are sorted, so the same corpus and seed give the same model. φ is
Spark's topics matrix with every topic column normalised to sum to 1. θ is, as in Spot, the topic
distribution EM estimated for each training document, and for the online optimizer the model's
inference on the same documents. Spark ML keeps EM's estimates inside the distributed model and
exposes only its inference; we read them from the JVM model (a Spark-internal accessor; where it
is absent, as over Spark Connect, EM falls back to inference and the run log says so).

The log-likelihood reported is the training corpus's under the fitted θ and φ,
Σ count · log Σ_t θ_ip[t] φ_word[t]: the quantity scoring ranks by, defined alike for both
optimizers. Spark's own figure is a variational bound for online and a joint likelihood for EM,
and costs one more inference pass over every document, as long as the online fit itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from dagster import get_dagster_logger
from pyspark.ml.clustering import LDA
from pyspark.ml.functions import vector_to_array
from pyspark.ml.linalg import Vectors, VectorUDT
from pyspark.mllib.common import _java2py
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from resources.config import MLConfig
from spot_assets.ml.model import TopicModel
from spot_assets.ml.scoring import score

log = get_dagster_logger()

# Spot's classic setting (ml_ops.sh with spot.conf filled in): EM needs alpha and beta above 1.
CLASSIC = {"optimizer": "em", "alpha": 1.02, "beta": 1.001, "iterations": 20}


@dataclass
class FitStats:
    documents: int
    vocabulary: int
    tokens: int
    log_likelihood: float
    log_perplexity: float


def _documents(spark: SparkSession, corpus: DataFrame, vocabulary: list[str]) -> DataFrame:
    index = spark.createDataFrame([(w, i) for i, w in enumerate(vocabulary)], "word string, idx int")
    terms = (corpus.join(index, "word")
             .groupBy("ip").agg(F.sort_array(F.collect_list(F.struct("idx", "count"))).alias("terms"))
             .orderBy("ip"))
    size = len(vocabulary)
    vectors = terms.rdd.map(lambda r: (r.ip, Vectors.sparse(size, [t.idx for t in r.terms],
                                                            [float(t["count"]) for t in r.terms])))
    schema = StructType([StructField("ip", StringType(), False), StructField("features", VectorUDT(), False)])
    return spark.createDataFrame(vectors, schema)


def _em_theta(spark: SparkSession, fitted, docs: DataFrame) -> tuple[np.ndarray | None, np.ndarray | None]:
    """EM's own topic distributions of the training documents, by IP (None where not reachable)."""
    try:
        old = getattr(fitted._java_obj, "org$apache$spark$ml$clustering$DistributedLDAModel$$oldDistributedModel")()
        pairs = old.javaTopicDistributions()
        ids = np.asarray(list(pairs.keys().collect()), dtype=np.int64)
        vectors = _java2py(spark.sparkContext, pairs.values()).collect()
    except Exception as e:  # Spark Connect or another Spark: no JVM model to read
        log.warning(f"EM topic distributions not reachable ({type(e).__name__}); using the model's inference")
        return None, None
    # Spark ML numbered the documents with monotonically_increasing_id over the cached `docs`.
    numbered = docs.select("ip", F.monotonically_increasing_id().alias("id")).toArrow()
    position = pd.Index(numbered["id"].to_numpy()).get_indexer(ids)
    ips = numbered["ip"].to_numpy(zero_copy_only=False)[position]
    return ips, np.vstack([v.toArray() for v in vectors])


def fit(spark: SparkSession, corpus: DataFrame, params: MLConfig) -> tuple[TopicModel, FitStats]:
    """Fit LDA on ``corpus`` (ip, word, count), with k, iterations, optimizer, α, β and seed from ``params``."""
    corpus = corpus.where(F.col("count") > 0).cache()
    vocabulary = [r.word for r in corpus.select("word").distinct().orderBy("word").collect()]
    if not vocabulary:
        raise ValueError("the corpus is empty: there is no valid event to learn from")
    docs = _documents(spark, corpus, vocabulary).cache()
    documents = docs.count()
    # A 5 % mini-batch of a small day is a handful of documents; such a model never sees most of them.
    rate = min(1.0, max(params.subsampling_rate, params.min_batch_documents / documents))
    lda = LDA(k=params.topic_count, maxIter=params.iterations, optimizer=params.optimizer, seed=params.seed,
              subsamplingRate=rate, featuresCol="features", topicDistributionCol="theta")
    if params.alpha is not None:
        lda.setDocConcentration([float(params.alpha)] * params.topic_count)
    if params.beta is not None:
        lda.setTopicConcentration(float(params.beta))
    fitted = lda.fit(docs)

    phi = fitted.topicsMatrix().toArray()
    phi = phi / np.where(phi.sum(axis=0) > 0, phi.sum(axis=0), 1.0)
    ips, theta = _em_theta(spark, fitted, docs) if params.optimizer == "em" else (None, None)
    if theta is None:
        table = fitted.transform(docs).select("ip", vector_to_array("theta").alias("theta")).toArrow()
        ips = table["ip"].to_numpy(zero_copy_only=False)
        theta = np.asarray(table["theta"].to_pylist(), dtype=np.float64).reshape(-1, params.topic_count)
    model = TopicModel(ips, theta, vocabulary, phi)
    pairs = corpus.select("ip", "word", "count").toArrow()
    counts = pairs["count"].to_numpy().astype(np.float64)
    with np.errstate(divide="ignore"):
        log_likelihood = float(counts @ np.log(score(model, pairs["ip"], pairs["word"])))
    tokens = int(counts.sum())
    stats = FitStats(documents=documents, vocabulary=len(vocabulary), tokens=tokens,
                     log_likelihood=log_likelihood, log_perplexity=-log_likelihood / tokens)
    docs.unpersist()
    corpus.unpersist()
    return model, stats


def finite(stats: FitStats) -> bool:
    return math.isfinite(stats.log_likelihood) and math.isfinite(stats.log_perplexity)
