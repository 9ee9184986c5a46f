"""Spark for the asset graph: dagster-pyspark's lazy session, configured from `spot.toml`.

Lazy, because an asset that does not touch Spark (landing, decoding) must not pay for a JVM. The
master is passed through untouched, so ``local[*]``, ``spark://``, ``yarn`` and ``k8s://`` work as
they are; ``sc://`` becomes ``spark.remote``, which makes the same builder return a Spark Connect
session.
"""

from __future__ import annotations

import os
import sys

from dagster_pyspark import LazyPySparkResource

from resources.config import SparkConfig

_SIZING = {
    "executors": "spark.dynamicAllocation.maxExecutors",
    "executor_memory": "spark.executor.memory",
    "executor_cores": "spark.executor.cores",
    "driver_memory": "spark.driver.memory",
    "driver_max_result_size": "spark.driver.maxResultSize",
    "executor_memory_overhead": "spark.executor.memoryOverhead",
    "driver_memory_overhead": "spark.driver.memoryOverhead",
    "broadcast_join_threshold": "spark.sql.autoBroadcastJoinThreshold",
    "shuffle_partitions": "spark.sql.shuffle.partitions",
}


def spark_conf(cfg: SparkConfig) -> dict[str, str]:
    conf = {"spark.remote": cfg.master} if cfg.master.startswith("sc://") else {"spark.master": cfg.master}
    if cfg.master.startswith("local") or cfg.master.startswith("spark://127.") or "localhost" in cfg.master:
        # Spark otherwise binds the driver to the first non-loopback interface (stack-notes §2).
        conf |= {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
    conf |= {
        "spark.app.name": "spot",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    }
    for key, spark_key in _SIZING.items():
        value = getattr(cfg, key)
        if value is not None:
            conf[spark_key] = str(value)
    return conf | cfg.conf


class SparkResource(LazyPySparkResource):
    """The lazy session, with Python workers on this interpreter (else pandas UDFs fail to import)."""

    def _init_session(self) -> None:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        super()._init_session()


def spark_resource(cfg: SparkConfig) -> SparkResource:
    return SparkResource(spark_config=spark_conf(cfg))
