import datetime as dt

import pytest

from resources.config import ConfigError, SpotConfig, load_config
from resources.spark import spark_conf


def write(tmp_path, text):
    path = tmp_path / "spot.toml"
    path.write_text(text)
    return path


def test_embedded_defaults_need_no_file(monkeypatch):
    monkeypatch.delenv("SPOT_CONFIG", raising=False)
    cfg = load_config()
    assert cfg.spark.master == "local[*]"
    assert cfg.ingest.types == ["flow", "dns", "proxy"]
    assert cfg.ml.dupfactor == 1000 and cfg.ml.tol == 1.0 and cfg.ml.optimizer == "online"
    assert cfg.lake_root.endswith("spot-home/lake")


def test_file_overrides_and_relative_paths_follow_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, 'home = "h"\n[ingest]\nstart_date = 2024-02-03\ntypes = ["dns"]\n[spark]\nmaster = "spark://127.0.0.1:7077"\n')
    monkeypatch.setenv("SPOT_CONFIG", str(path))
    cfg = load_config()
    assert cfg.home_path == tmp_path / "h"
    assert cfg.lake_root == str(tmp_path / "h" / "lake")
    assert cfg.landing_root == tmp_path / "h" / "landing"
    assert cfg.ingest.start_date == dt.date(2024, 2, 3)
    assert cfg.ingest.types == ["dns"]


def test_uri_lake_is_kept_as_is(tmp_path):
    cfg = load_config(write(tmp_path, 'lake = "s3a://bucket/spot"\n'))
    assert cfg.lake_root == "s3a://bucket/spot"


@pytest.mark.parametrize("text, key", [
    ("[ingest]\nbogus = 1\n", "ingest.bogus: unknown key"),
    ("colour = 'red'\n", "colour: unknown key"),
    ("[ml]\noptimizer = 'gibbs'\n", "ml.optimizer"),
    ("[ingest]\nmax_reject_rate = 2.0\n", "ingest.max_reject_rate"),
    ("[spark]\nmaster = 'localhost'\n", "spark.master"),
    ("[ingest]\ntypes = ['netflow']\n", "ingest.types.0"),
])
def test_bad_keys_and_values_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    assert key in str(error.value)
    assert str(tmp_path / "spot.toml") in str(error.value)


def test_missing_file_and_bad_toml_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="spot.toml"):
        load_config(write(tmp_path, "[ml\n"))


def test_spark_conf_maps_spot_sizing_keys_and_connect():
    from resources.config import SparkConfig

    conf = spark_conf(SparkConfig(executors=4, executor_memory="8g", conf={"spark.foo": "bar"}))
    assert conf["spark.master"] == "local[*]"
    assert conf["spark.dynamicAllocation.maxExecutors"] == "4"
    assert conf["spark.executor.memory"] == "8g"
    assert conf["spark.foo"] == "bar"
    assert conf["spark.driver.bindAddress"] == "127.0.0.1"
    connect = spark_conf(SparkConfig(master="sc://spark.example:15002"))
    assert connect["spark.remote"] == "sc://spark.example:15002" and "spark.master" not in connect
    assert "spark.driver.host" not in spark_conf(SparkConfig(master="yarn"))


def test_show_prints_effective_locations():
    shown = SpotConfig(home="/srv/spot").show()
    assert '"lake": "/srv/spot/lake"' in shown and '"landing": "/srv/spot/landing"' in shown


def test_context_files_are_relative_to_the_config_file(tmp_path):
    cfg = load_config(write(tmp_path, '[context]\niploc = "ctx/iploc.csv"\nthreat_intel = ["ti.csv", "/abs/ti2.csv"]\n'))
    assert cfg.context.iploc == str(tmp_path / "ctx" / "iploc.csv")
    assert cfg.context.threat_intel == [str(tmp_path / "ti.csv"), "/abs/ti2.csv"]
