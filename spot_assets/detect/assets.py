"""Behaviour detection and the priority list for one data type, as daily assets (in process, no Spark):

    <type>_events ──> <type>_findings ──┐
                      (+ profiles)       ├──> <type>_priority
    <type>_suspicious ──────────────────┤
    analyst_store (finding feedback) ───┘

A day of events fits in the memory of one process at the sizes Spot meets per type and day (1 M flows
are ~200 MB of the columns detectors read), and the detectors' group-bys cost less in pandas than a
Spark job's fixed cost. Earlier days' profiles are read as they are, not declared as dependencies, so
re-running an old day does not cascade into every later one (as the model's feedback window does).
"""

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa

from resources.config import SpotConfig
from resources.lake import LakeResource
from resources.store import AnalystStoreResource
from spot_assets.datatypes import DATA_TYPES, DERIVED_FROM, DataType
from spot_assets.detect import priority as fusion
from spot_assets.detect.base import DetectContext, flagged_or_private, params_for, private_addresses, run_all
from spot_assets.graph import ANALYST_STORE, EAGER
from spot_assets.oa.enrich import Context, load_context
from spot_assets.oa.files import Warnings
from spot_assets.oa.reputation import ThreatIntelList
from spot_assets.partitions import partition_day


def detector_settings(data_type: str, cfg: SpotConfig) -> dict[str, dict]:
    """Each detector's settings: what other sections of spot.toml already say (a params class's
    ``from_config``), then ``[detect.<type>.<detector>]``. Checked now: a typo fails the code location's load."""
    detectors = DATA_TYPES[data_type].detectors
    explicit = getattr(cfg.detect, data_type)
    unknown = sorted(set(explicit) - {d.name for d in detectors})
    if unknown:
        raise ValueError(f"detect.{data_type}: unknown detector(s) {', '.join(unknown)} "
                         f"(known: {', '.join(d.name for d in detectors)})")
    settings = {}
    for detector in detectors:
        inherited = {name: getattr(getattr(cfg, section), key)
                     for name, (section, key) in getattr(detector.params, "from_config", {}).items()}
        settings[detector.name] = {**inherited, **explicit.get(detector.name, {})}
        params_for(detector, settings[detector.name])
    return settings


def internal_addresses(ctx: Context):
    """Internal = in ``[context] ip_ranges`` when that file is set, else the private ranges."""
    if ctx.addresses.ranges is None:
        return private_addresses

    def internal(addresses: pd.Series) -> np.ndarray:
        return flagged_or_private(addresses, ctx.addresses.columns(
            pa.array(addresses.astype(object).where(addresses.notna(), None), pa.string()))["internal"])

    return internal


def profile_table(data_type: DataType, detector: str) -> str:
    return data_type.table(f"profile_{detector}")


def history(lake: LakeResource, data_type: DataType, detector: str, day: dt.date, days: int) -> pd.DataFrame | None:
    """A detector's profiles of the ``days`` before ``day`` (those that exist), with a ``day`` column."""
    frames = []
    for back in range(1, days + 1):
        earlier = day - dt.timedelta(days=back)
        try:
            frames.append(lake.read_day(profile_table(data_type, detector), earlier).to_pandas().assign(day=earlier))
        except FileNotFoundError:
            continue
    return pd.concat(frames, ignore_index=True) if frames else None


def _typed(table: pa.Table) -> pa.Table:
    """A profile with no rows has no values to type its text columns by: store them as text."""
    return table.cast(pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]))


def _markdown(table: pa.Table, columns: list[str], rows: int = 10) -> str:
    head = table.slice(0, rows).select(columns).to_pylist()
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]).replace("|", "/") for c in columns) + " |" for r in head]
    return "\n".join(lines)


def detect_assets(data_type: str, partitions: dg.PartitionsDefinition, cfg: SpotConfig) -> list:
    spec = DATA_TYPES[data_type]
    detectors = spec.detectors
    settings = detector_settings(data_type, cfg)
    columns = sorted({"ts", *(c for d in detectors for c in d.columns)} & set(spec.events.names))
    findings_key, priority_key = dg.AssetKey(spec.table("findings")), dg.AssetKey(spec.table("priority"))
    cache_dir = cfg.reputation_cache

    @dg.asset(name=spec.table("findings"), deps=[dg.AssetKey(spec.table("events"))], partitions_def=partitions,
              group_name=data_type, kinds={"pandas", "parquet"}, automation_condition=EAGER)
    def findings(context: dg.AssetExecutionContext, lake: LakeResource):
        """What the behaviour detectors found in the day's events: entity, score, reason and evidence."""
        day = partition_day(context)
        events = lake.read_day(spec.table("events"), day, spec.events, columns=columns).to_pandas()
        if events.empty:
            raise dg.Failure(f"no {data_type} events for {day}: ingest them first")
        events = spec.with_entity(events)
        ctx = load_context(cfg.context, cache_dir, Warnings(context.log))
        try:
            histories = {d.name: history(lake, spec, d.name, day, cfg.detect.history_days)
                         for d in detectors if d.profile is not None}
            result = run_all(spec, detectors, events, DetectContext(day, internal_addresses(ctx)), settings, histories)
        finally:
            ctx.close()
        table = result.findings.sort_by([("score", "descending")])
        lake.replace_day(spec.table("findings"), day, table)
        for name, profile in result.profiles.items():
            lake.replace_day(profile_table(spec, name), day, _typed(pa.Table.from_pandas(profile, preserve_index=False)))
        per_detector = pd.Series(table["detector"].to_pylist()).value_counts().to_dict() if table.num_rows else {}
        return dg.MaterializeResult(metadata={
            "events": len(events), "findings": table.num_rows,
            "per_detector": dg.MetadataValue.json({d.name: int(per_detector.get(d.name, 0)) for d in detectors}),
            "seconds": dg.MetadataValue.json({k: round(v, 3) for k, v in result.seconds.items()}),
            "history_days": {k: 0 if v is None else int(v["day"].nunique()) for k, v in histories.items()} or None,
            "top": dg.MetadataValue.md(_markdown(table, ["detector", "entity", "score", "reason"])),
        })

    @dg.asset(name=spec.table("priority"), partitions_def=partitions, group_name=data_type, kinds={"pandas", "parquet"},
              deps=[findings_key, dg.AssetKey(spec.table("suspicious")), ANALYST_STORE], automation_condition=EAGER)
    def priority(context: dg.AssetExecutionContext, lake: LakeResource, store: AnalystStoreResource):
        """The list an analyst reads first: findings, LDA rarity and threat intel fused, every row with its reasons."""
        day = partition_day(context)
        found = lake.read_day(spec.table("findings"), day).to_pandas()
        try:
            suspicious = lake.read_day(spec.table("suspicious"), day).to_pandas()
        except FileNotFoundError:
            raise dg.Failure(f"no {data_type}_suspicious for {day}: materialize it first") from None
        scored = lake.day_rows(spec.table("scores"), day)
        warnings = Warnings(context.log)
        ctx = load_context(cfg.context, cache_dir, warnings)
        try:
            listed = _intel(lake, spec, day, [p for p in ctx.providers if isinstance(p, ThreatIntelList)])
        finally:
            ctx.close()
        feedback = store.store().finding_feedback(data_type, day)
        weights = fusion.Weights(cfg.detect.lda_weight, dict(cfg.detect.weights), cfg.detect.raise_strength)
        contributions = [fusion.findings_contributions(found[found["score"] >= cfg.detect.min_score]),
                         fusion.lda_contributions(spec, suspicious, scored),
                         fusion.intel_contributions(spec, listed)]
        table = fusion.fuse(spec, day, contributions, feedback, weights)
        lake.replace_day(spec.table("priority"), day, table)
        return dg.MaterializeResult(metadata={
            "rows": table.num_rows, "findings": len(found), "lda_events": len(suspicious),
            "intel_hits": len(listed), "feedback": len(feedback),
            "warnings": dg.MetadataValue.json(warnings.messages),
            "top": dg.MetadataValue.md(_markdown(table, ["rank", "score", "entity", "reasons"])),
        })

    return [findings, priority]


def _intel(lake: LakeResource, spec: DataType, day: dt.date, lists: list[ThreatIntelList]) -> list[tuple]:
    """(column, value, level, what, events) for every entity value of the day a local list names."""
    if not lists:
        return []
    kinds = {c: kind for c, kind in spec.kinds.items() if kind in ("ip", "domain")}
    needed = sorted({DERIVED_FROM.get(column, column) for column in kinds})
    events = spec.with_entity(lake.read_day(spec.table("events"), day, spec.events, columns=needed).to_pandas())
    out = []
    for column, kind in kinds.items():
        counts = events[column].dropna().value_counts()
        counts = counts[counts.index != ""]
        for provider in lists:
            for value, rep in provider.check(kind, counts.index.tolist()).items():
                out.append((column, value, rep.level, f"{value} listed by {rep.source} ({rep.label})",
                            int(counts[value])))
    return out
