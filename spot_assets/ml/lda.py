"""Fitting the day's topic model with Spark ML's LDA on the (ip, word, count) corpus (spec §3.5).

Each IP is a document; its words and counts become a sparse vector over the day's vocabulary. The
vocabulary and the documents are sorted and laid out in fixed partitions, so the same corpus and
seed give the same model. φ is Spark's topics matrix with every topic column normalised to sum to
1. θ is, as in Spot, the topic distribution EM estimated for each training document, and for the
online optimizer the model's inference on the same documents. Spark ML keeps EM's estimates inside
the distributed model and exposes only its inference; we read them from the JVM model (a
Spark-internal accessor; where it is absent, as over Spark Connect, EM falls back to inference and
the run log says so).

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
import pyarrow as pa
import pyarrow.compute as pc
from dagster import get_dagster_logger
from pyspark.ml.clustering import LDA
from pyspark.ml.functions import vector_to_array
from pyspark.ml.linalg import Vectors, VectorUDT
from pyspark.mllib.common import _java2py
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from resources.config import MLConfig
from spot_assets.ml.model import TopicModel, combine
from spot_assets.ml.scoring import score

log = get_dagster_logger()

# Spot's classic setting (ml_ops.sh with spot.conf filled in): one EM fit; EM needs alpha and beta above 1.
CLASSIC = {"optimizer": "em", "alpha": 1.02, "beta": 1.001, "iterations": 20, "seeds": 1}
# Enough documents per task that an iteration's work outweighs its scheduling (a 1 M-flow day of
# 3,119 IPs fits as fast in 1, 2 or 4 partitions), few enough that a large day's EM spreads out.
DOCUMENTS_PER_PARTITION = 1000


@dataclass
class FitStats:
    documents: int
    vocabulary: int
    tokens: int
    log_likelihood: float
    log_perplexity: float


def _pairs(corpus: DataFrame) -> pa.Table:
    """The corpus's (ip, word, count) rows with a positive count, repeated pairs summed, on the driver.

    The driver holds it anyway: the log-likelihood is computed over it, and it is the size of the
    vocabulary of each document, not of the day's events (611 k pairs for a 1 M-flow day)."""
    table = corpus.where(F.col("count") > 0).select("ip", "word", F.col("count").cast("long")).toArrow()
    return table.group_by(["ip", "word"]).aggregate([("count", "sum")]).rename_columns(["ip", "word", "count"])


def _documents(spark: SparkSession, pairs: pa.Table, ips: pa.Array, vocabulary: pa.Array) -> DataFrame:
    """Each IP's sparse word-count vector over ``vocabulary``, in the order of ``ips``, in partitions
    of DOCUMENTS_PER_PARTITION. Spark's LDA seeds each partition's random draws apart (the online
    mini-batches, their starting γ), so the layout is part of the model: with one that a shuffle
    decided (as a groupBy and orderBy did) the same corpus and seed gave different models from run
    to run, and with one of the cluster's size, different models on different clusters."""
    doc = pc.index_in(pairs["ip"], value_set=ips).to_numpy()
    word = pc.index_in(pairs["word"], value_set=vocabulary).to_numpy()
    counts = pairs["count"].to_numpy().astype(np.float64)
    order = np.lexsort((word, doc))
    doc, word, counts = doc[order], word[order], counts[order]
    bounds = np.searchsorted(doc, np.arange(len(ips) + 1))
    size = len(vocabulary)
    rows = [(ip, Vectors.sparse(size, word[a:b], counts[a:b]))
            for ip, a, b in zip(ips.to_pylist(), bounds[:-1], bounds[1:])]
    schema = StructType([StructField("ip", StringType(), False), StructField("features", VectorUDT(), False)])
    slices = max(1, math.ceil(len(rows) / DOCUMENTS_PER_PARTITION))
    return spark.createDataFrame(spark.sparkContext.parallelize(rows, slices), schema)


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


def _fit_one(spark: SparkSession, docs: DataFrame, documents: int, vocabulary: pa.Array, params: MLConfig,
             seed: int) -> TopicModel:
    # A 5 % mini-batch of a small day is a handful of documents; such a model never sees most of them.
    rate = min(1.0, max(params.subsampling_rate, params.min_batch_documents / documents))
    lda = LDA(k=params.topic_count, maxIter=params.iterations, optimizer=params.optimizer, seed=seed,
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
    return TopicModel(ips, theta, vocabulary.to_numpy(zero_copy_only=False), phi)


def member_seeds(seed: int, n: int) -> list[int]:
    """The seeds of ``n`` combined fits: ``seed`` itself, then seeds drawn from it (``SeedSequence``),
    so that nearby base seeds (42, 1, 2) share no fit, as seed, seed+1, ... would."""
    return [seed, *(int(s) for s in np.random.SeedSequence(seed).generate_state(n - 1))] if n > 1 else [seed]


def fit(spark: SparkSession, corpus: DataFrame, params: MLConfig) -> tuple[TopicModel, FitStats]:
    """Fit LDA on ``corpus`` (ip, word, count; a repeated pair counts as their sum), with k,
    iterations, optimizer, α, β and seed from ``params``; with ``seeds`` n > 1, n fits (``member_seeds``)
    combined into one model that scores their mean (``model.combine``)."""
    pairs = _pairs(corpus)
    if pairs.num_rows == 0:
        raise ValueError("the corpus is empty: there is no valid event to learn from")
    ips, vocabulary = pc.unique(pairs["ip"]).sort(), pc.unique(pairs["word"]).sort()
    docs = _documents(spark, pairs, ips, vocabulary).cache()
    documents = len(ips)
    model = combine([_fit_one(spark, docs, documents, vocabulary, params, seed)
                     for seed in member_seeds(params.seed, params.seeds)])
    counts = pairs["count"].to_numpy().astype(np.float64)
    with np.errstate(divide="ignore"):
        log_likelihood = float(counts @ np.log(score(model, pairs["ip"], pairs["word"])))
    tokens = int(counts.sum())
    stats = FitStats(documents=documents, vocabulary=len(vocabulary), tokens=tokens,
                     log_likelihood=log_likelihood, log_perplexity=-log_likelihood / tokens)
    docs.unpersist()
    return model, stats


def finite(stats: FitStats) -> bool:
    return math.isfinite(stats.log_likelihood) and math.isfinite(stats.log_perplexity)
