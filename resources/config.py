"""`spot.toml`, the successor of Spot's `/etc/spot.conf`: one file, every key optional.

The file is chosen by ``--config`` or ``SPOT_CONFIG``; with neither, the embedded defaults describe a
single machine: Spark ``local[*]``, the lake, landing folders and Dagster's home under ``./spot-home``.
Unknown keys and bad values are errors that name the key, because a typo in a security tool's
configuration must not silently fall back to a default.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

ENV_VAR = "SPOT_CONFIG"
DataType = Literal["flow", "dns", "proxy"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SparkConfig(_Section):
    """Spark, with Spot's SPK_* sizing keys. ``sc://`` masters go through Spark Connect."""

    master: str = "local[*]"
    executors: int | None = Field(None, ge=1, description="SPK_EXEC")
    executor_memory: str | None = Field(None, description="SPK_EXEC_MEM, e.g. 4g")
    executor_cores: int | None = Field(None, ge=1, description="SPK_EXEC_CORES")
    driver_memory: str = Field("2g", description="SPK_DRIVER_MEM")
    driver_max_result_size: str | None = Field(None, description="SPK_DRIVER_MAX_RESULTS")
    executor_memory_overhead: str | None = Field(None, description="SPK_EXEC_MEM_OVERHEAD")
    driver_memory_overhead: str | None = Field(None, description="SPK_DRIVER_MEM_OVERHEAD")
    broadcast_join_threshold: int = Field(10_485_760, description="SPK_AUTO_BRDCST_JOIN_THR")
    shuffle_partitions: int = Field(8, ge=1)
    conf: dict[str, str] = Field(default_factory=dict, description="any other spark.* setting")

    @field_validator("master")
    @classmethod
    def _known_master(cls, v: str) -> str:
        if not (re.fullmatch(r"local(\[(\d+|\*)(,\d+)?\])?", v) or v == "yarn"
                or v.startswith(("spark://", "k8s://", "sc://"))):
            raise ValueError("must be local[N], spark://, yarn, k8s:// or sc:// (Spark Connect)")
        return v


class IngestConfig(_Section):
    types: list[DataType] = ["flow", "dns", "proxy"]
    landing: str | None = Field(None, description="landing root; <landing>/<type>/ is watched; default <home>/landing")
    start_date: dt.date = Field(dt.date(2023, 1, 1), description="first day partition")
    settle_seconds: float = Field(5.0, ge=0, description="a landed file is complete once unchanged this long")
    workers: int = Field(0, ge=0, description="decoder processes; 0 = one per core")
    max_reject_rate: float = Field(0.05, ge=0, le=1, description="blocking check on <type>_events")
    dns_engine: Literal["native", "tshark"] = "native"
    tshark_chunk_packets: int = Field(500_000, ge=1000)
    nfdump: str = "nfdump"
    tshark: str = "tshark"
    editcap: str = "editcap"


class MLConfig(_Section):
    """Spot's ml_ops.sh settings (spec §2.1, §3.1)."""

    tol: float = Field(1.0, description="TOL: score threshold (spot.conf shipped 1e-6, which lists nothing on a small day; 1.0 lists the lowest max_results)")
    max_results: int = Field(250, description="MAXRESULTS; -1 for all")
    topic_count: int = Field(20, ge=2, description="TOPIC_COUNT")
    iterations: int = Field(20, ge=1)
    optimizer: Literal["online", "em"] = "online"
    subsampling_rate: float = Field(0.05, gt=0, le=1, description="online: share of documents per iteration "
                                    "(at least min_batch_documents of them)")
    min_batch_documents: int = Field(256, ge=1)
    alpha: float | None = Field(None, gt=0, description="LDA_ALPHA (doc concentration); None = Spark's default")
    beta: float | None = Field(None, gt=0, description="LDA_BETA (topic concentration)")
    seed: int = 42
    seeds: int = Field(3, ge=1, description="LDA fits, from seed and seeds drawn from it; an event scores the mean "
                       "of their scores. One online fit's ranking moves with its random draws (ROC AUC 0.39-0.45 "
                       "over seeds 42, 1, 2 on a simulated 100 k-flow day); three combined, 0.37-0.38")
    precision: Literal[32, 64] = Field(64, description="PRECISION: bits of each stored topic mix and word "
                                       "probability; 32 halves the model in the lake and in every scoring task")
    dupfactor: int = Field(1000, ge=1, description="DUPFACTOR: copies of each low-risk rating in training")
    feedback_days: int = Field(7, ge=0, description="earlier days whose ratings of 3 feed a model")
    local_max_rows: int = Field(
        2_000_000, ge=0, description="a day of at most this many events is worded and scored in process "
        "(Arrow), a larger one on Spark; the LDA fit runs on Spark either way; 0 = always Spark. In process was "
        "faster at every size measured on 2 cores (1 M flows: words 3.3 s against 26.8 s, scores 3.2 s against "
        "9.2 s), so memory sets the limit: the process holds the day whole, about 0.8 GB per million flow "
        "events and 1.7 GB per million proxy events")

    def in_process(self, rows: int) -> bool:
        """Whether a day of ``rows`` events is worded and scored in process rather than on Spark."""
        return 0 < self.local_max_rows and rows <= self.local_max_rows


class DnsConfig(_Section):
    user_domain: str = Field("", description="USER_DOMAIN: the organisation's own second-level label")


class ProxyConfig(_Section):
    safe_domain: str = Field("", description="the proxy word's own-domain class (Spot hard-coded 'intel')")


class DetectConfig(_Section):
    """Behaviour detectors and the priority list. Each detector's own settings go in
    ``[detect.<type>.<detector>]`` (e.g. ``[detect.flow.beacon] min_connections = 20``); their defaults and
    the reasons for them are in the detector modules, and an unknown key is an error naming it."""

    history_days: int = Field(7, ge=0, description="earlier days whose profiles a detector compares a day with")
    lda_weight: float = Field(0.3, ge=0, le=1, description="trust in Spot's LDA rarity in the priority list "
                              "(it ranks attacks near chance on labeled flow and DNS days)")
    raise_strength: float = Field(0.5, ge=0, le=1, description="what an analyst's rating of 1 adds to an entity")
    min_score: float = Field(0.05, ge=0, le=1, description="findings a detector itself rates below this stay in "
                             "<type>_findings but do not enter the priority list (common outliers, scaled down)")
    weights: dict[str, float] = Field(default_factory=dict, description="detector name -> weight (default 1)")
    flow: dict[str, dict[str, Any]] = Field(default_factory=dict)
    dns: dict[str, dict[str, Any]] = Field(default_factory=dict)
    proxy: dict[str, dict[str, Any]] = Field(default_factory=dict)


class HttpReputationConfig(_Section):
    """A reputation web service: one GET per value, JSON ``{"level": -1..3, "label": ..., "categories": [...]}``."""

    name: str = Field(description="service name, the first part of Spot's reputation string")
    url: str = Field(description="URL template; {kind} (ip, domain, url) and {value} (URL-encoded) are substituted")
    enabled: bool = Field(False, description="off unless turned on: values leave the network")
    kinds: list[Literal["ip", "domain", "url"]] = Field(["ip", "domain", "url"], description="what to ask it about")
    timeout: float = Field(5.0, gt=0, description="seconds per request")
    cache_ttl: int = Field(86400, ge=0, description="seconds a verdict is reused (cache under <home>/cache); 0 = none")
    headers: dict[str, str] = Field(default_factory=dict,
                                    description='request headers; a value "$NAME" is read from the environment')


class ContextConfig(_Section):
    """Operational-analytics context files; a missing optional file leaves its columns empty."""

    ip_ranges: str | None = Field(None, description="internal address blocks: CIDR, ip1-ip2 or start,end, then a label")
    network_context: str | None = Field(None, description="names of address blocks (same format as ip_ranges)")
    iploc: str | None = Field(None, description="Spot's iploc.csv: integer IPv4 ranges with location and owner")
    mmdb: str | None = Field(None, description="a MaxMind DB (GeoLite2-City, ASN, ...); asked before iploc")
    threat_intel: list[str] = Field([], description="threat lists: indicator[,label[,source[,level]]] per line")
    http_reputation: list[HttpReputationConfig] = Field([], description="reputation web services, each off by default")


class StoreConfig(_Section):
    url: str | None = Field(None, description="SQLAlchemy URL of the analyst store; default SQLite <home>/analyst.db")


class DashboardConfig(_Section):
    """`spot dash`. On the loopback address nobody else can connect, so no login is asked; bound to any
    other address it requires one. Passwords are stored only as werkzeug hashes (`spot dash --hash-password`).
    The environment can supply the same: SPOT_DASH_USER with SPOT_DASH_PASSWORD_HASH, and SPOT_DASH_SECRET_KEY."""

    host: str = "127.0.0.1"
    port: int = Field(8050, ge=1, le=65535)
    users: dict[str, str] = Field(default_factory=dict, description="user name -> password hash")
    secret_key: SecretStr | None = Field(None, description="signs session cookies; default: random per start")
    analyst: str | None = Field(None, description="the name ratings carry without a login; default the OS user")

    @field_validator("users")
    @classmethod
    def _hashed(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if not re.fullmatch(r"(scrypt|pbkdf2):[^$]+\$[^$]+\$[0-9a-f]+", value):
                raise ValueError(f"{name}: not a password hash (make one with `spot dash --hash-password`)")
        return v


class SpotConfig(_Section):
    home: str = Field("spot-home", description="root of everything Spot keeps on local disk")
    lake: str | None = Field(None, description="lake root: a path, hdfs:// or s3a:// URI; default <home>/lake")
    spark: SparkConfig = SparkConfig()
    ingest: IngestConfig = IngestConfig()
    ml: MLConfig = MLConfig()
    dns: DnsConfig = DnsConfig()
    detect: DetectConfig = DetectConfig()
    proxy: ProxyConfig = ProxyConfig()
    context: ContextConfig = ContextConfig()
    store: StoreConfig = StoreConfig()
    dashboard: DashboardConfig = DashboardConfig()

    # ----- derived locations (one place for the layout of the home folder)

    @property
    def home_path(self) -> Path:
        return Path(self.home).expanduser().resolve()

    @property
    def lake_root(self) -> str:
        return self.lake or str(self.home_path / "lake")

    @property
    def landing_root(self) -> Path:
        return Path(self.ingest.landing).expanduser().resolve() if self.ingest.landing else self.home_path / "landing"

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{self.home_path / 'analyst.db'}"

    @property
    def dagster_home(self) -> Path:
        return self.home_path / "dagster"

    @property
    def reputation_cache(self) -> Path:
        return self.home_path / "cache" / "reputation"

    def show(self) -> str:
        """The configuration as JSON, with every location resolved to where it really is."""
        data = self.model_dump(mode="json")
        data["home"], data["lake"] = str(self.home_path), self.lake_root
        data["store"]["url"] = self.store_url
        data["ingest"]["landing"] = str(self.landing_root)
        return json.dumps(data, indent=2)


class ConfigError(ValueError):
    pass


def _describe(error: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for e in error.errors():
        key = ".".join(str(p) for p in e["loc"])
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


# Keys holding local paths: in a file, they are relative to the file's folder.
_PATH_KEYS = (("", "home"), ("", "lake"), ("ingest", "landing"), ("context", "ip_ranges"),
              ("context", "network_context"), ("context", "iploc"), ("context", "mmdb"), ("context", "threat_intel"))


def load_config(path: str | os.PathLike | None = None) -> SpotConfig:
    """The effective configuration: ``path``, else ``$SPOT_CONFIG``, else the embedded defaults.

    Relative paths inside a file are relative to that file's folder, so a config works from any cwd.
    """
    path = path or os.environ.get(ENV_VAR)
    if not path:
        return SpotConfig()
    file = Path(path).expanduser()
    try:
        data = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {file}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{file}: {e}") from None
    base = file.resolve().parent

    def anchored(value):
        if isinstance(value, str) and "://" not in value and not Path(value).expanduser().is_absolute():
            return str(base / value)
        return value

    for section, key in _PATH_KEYS:
        table = data.get(section, {}) if section else data
        if isinstance(table, dict) and key in table:
            value = table[key]
            table[key] = [anchored(v) for v in value] if isinstance(value, list) else anchored(value)
    try:
        return SpotConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_describe(e, str(file))) from None
