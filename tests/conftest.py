"""Suite-wide fixtures: the shared public datasets (read in place, never copied) and one SparkSession."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """`../shared/datasets` beside the clone; CI has it, a user's fresh clone may not."""
    if not DATASETS.is_dir():
        pytest.skip(f"public datasets not present at {DATASETS} (they ship beside the repository, not in it)")
    return DATASETS


@pytest.fixture(scope="session")
def spark():
    """The suite's one SparkSession (a cold start costs 10-15 s); SparkResource's getOrCreate reuses it."""
    from pyspark.sql import SparkSession

    from resources.config import SparkConfig
    from resources.spark import spark_conf

    builder = SparkSession.builder
    for key, value in spark_conf(SparkConfig(master="local[2]", shuffle_partitions=2, driver_memory="1g")).items():
        builder = builder.config(key, value)
    session = builder.config("spark.ui.enabled", "false").getOrCreate()
    yield session
    session.stop()


@pytest.fixture
def spot_config(tmp_path):
    """An isolated home (lake, landing, Dagster instance) with settle time off."""
    from resources.config import SpotConfig

    return SpotConfig.model_validate({
        "home": str(tmp_path / "home"),
        "spark": {"master": "local[2]", "shuffle_partitions": 2},
        "ingest": {"settle_seconds": 0, "workers": 2, "start_date": "2015-01-01"},
    })


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the suite (Debian's postgresql, started in a temporary folder)."""
    from tests import pg

    bindir = pg.server_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (Debian package postgresql; `make test` installs it)")
    with pg.running_server(bindir) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """An analyst store that does not exist yet: a SQLite file not created yet, or an empty PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'analyst.db'}"
    return request.getfixturevalue("postgres").create_database()
