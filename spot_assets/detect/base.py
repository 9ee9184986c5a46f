"""The detector contract: parameters with documented defaults, findings in one schema, history by profile.

A detector is a pure function of one day's events, its parameters and a `DetectContext`. Detectors
that compare a day with the days before it (bulk transfer against a host's own past, admin ports a
host does not usually use, domains first seen today) also define a *profile*: a small per-day
summary that the findings asset stores, so a later day reads a week of profiles instead of a week of
events.

Parameters are frozen dataclasses whose defaults are the evidence a detector needs, explained where
they are defined; ``[detect.<type>.<detector>]`` in spot.toml overrides any of them, and an unknown
key is an error that names it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from spot_assets.datatypes import DATA_TYPES, DataType


# RFC 1918, shared (CGNAT), loopback, link-local and IPv6 unique-local: the organisation's own when
# nothing says otherwise. (Python's ``is_private`` also counts the documentation and benchmark ranges,
# which examples and tests use for outside addresses.)
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "::1/128", "fc00::/7", "fe80::/10"))


def _private(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except (ValueError, TypeError):
        return False
    return any(ip in network for network in PRIVATE_NETWORKS if network.version == ip.version)


def private_addresses(addresses: pd.Series) -> np.ndarray:
    """Inside the organisation when nothing says otherwise: RFC 1918, CGNAT, ULA, link-local, loopback.

    Decided once per distinct address: a day has millions of events but thousands of addresses.
    """
    codes, uniques = pd.factorize(addresses, use_na_sentinel=True)
    flags = np.fromiter((_private(a) for a in uniques), dtype=bool, count=len(uniques))
    return np.where(codes >= 0, flags[np.maximum(codes, 0)], False)


def flagged_or_private(addresses: pd.Series, flags: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Internal where the network context (``[context] ip_ranges``) flagged an address 1 or 0, and by the
    private ranges where it said nothing: the one rule the detectors and the dashboard mark addresses by."""
    flags = flags.cast(pa.int8())  # the flag's column may be int32, bool, or all null (untyped)
    known = np.asarray(flags.is_valid())
    return np.where(known, np.asarray(flags.fill_null(0)) == 1, private_addresses(addresses))


@dataclass(frozen=True)
class DetectContext:
    day: dt.date
    # which addresses are the organisation's own (``[context] ip_ranges`` when set, else private ranges)
    internal: Callable[[pd.Series], np.ndarray] = private_addresses
    # this detector's profiles of earlier days, with a ``day`` column; empty when there are none
    history: pd.DataFrame | None = None


@dataclass(frozen=True)
class Detector:
    """One behaviour detector of one data type.

    ``find(events, params, context)`` returns one row per finding: the type's entity columns it sets
    (the others are "any"), ``score`` in [0, 1], ``reason`` (what an analyst reads: words and numbers),
    ``evidence`` (a dict of the numbers behind it) and ``events`` (how many events it covers).
    """

    name: str
    data_type: str
    params: type
    find: Callable[[pd.DataFrame, Any, DetectContext], pd.DataFrame]
    profile: Callable[[pd.DataFrame, Any, DetectContext], pd.DataFrame] | None = None
    # the event columns it reads (the asset reads only the union of these)
    columns: tuple[str, ...] = ()


def findings_schema(data_type: DataType) -> pa.Schema:
    return pa.schema([
        pa.field("day", pa.date32(), nullable=False),
        pa.field("detector", pa.string(), nullable=False),
        pa.field("entity", pa.string(), nullable=False),
        *[pa.field(name, typ) for name, typ in data_type.entity],
        pa.field("score", pa.float64(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("evidence", pa.string(), nullable=False),  # JSON object
        pa.field("events", pa.int64(), nullable=False),
    ])


def _json_value(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else round(float(value), 6)
    return value


def as_findings(detector: Detector, day: dt.date, found: pd.DataFrame) -> pa.Table:
    """A detector's rows in the findings schema: day, detector and entity label added, score checked."""
    data_type = DATA_TYPES[detector.data_type]
    schema = findings_schema(data_type)
    n = len(found)
    if n == 0:
        return schema.empty_table()
    score = found["score"].to_numpy(dtype=float)
    if not np.all((score >= 0) & (score <= 1)):
        raise ValueError(f"detector {detector.name}: scores outside [0, 1]")
    keys = {c: found[c] if c in found else pd.Series([None] * n, index=found.index) for c in data_type.entity_columns}
    key_rows = pd.DataFrame(keys).astype(object).where(pd.DataFrame(keys).notna(), None).to_dict("records")
    columns = {
        "day": pa.array([day] * n, pa.date32()),
        "detector": pa.array([detector.name] * n, pa.string()),
        "entity": pa.array([data_type.label(k) for k in key_rows], pa.string()),
        **{c: pa.array([k[c] for k in key_rows], typ) for c, typ in data_type.entity},
        "score": pa.array(score, pa.float64()),
        "reason": pa.array(found["reason"].astype(str).tolist(), pa.string()),
        "evidence": pa.array([json.dumps({k: _json_value(v) for k, v in e.items()}, sort_keys=True)
                              for e in found["evidence"]], pa.string()),
        "events": pa.array(found["events"].astype("int64").to_numpy(), pa.int64()),
    }
    return pa.Table.from_pydict(columns, schema=schema)


def params_for(detector: Detector, overrides: dict[str, Any] | None) -> Any:
    """The detector's parameters: its documented defaults, with spot.toml's overrides by name."""
    overrides = overrides or {}
    known = {f.name for f in dataclasses.fields(detector.params)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"detect.{detector.data_type}.{detector.name}: unknown key(s) {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(known))})")
    return detector.params(**overrides)


@dataclass
class DayFindings:
    findings: pa.Table
    profiles: dict[str, pd.DataFrame]  # detector -> its profile of the day
    seconds: dict[str, float]  # detector -> time taken


def run_all(data_type: DataType, detectors: Iterable[Detector], events: pd.DataFrame, context: DetectContext,
            settings: dict[str, dict] | None = None, histories: dict[str, pd.DataFrame] | None = None) -> DayFindings:
    """Every detector over one day: their findings in one table, each one's profile of the day, and its time."""
    settings, histories = settings or {}, histories or {}
    out = DayFindings(findings_schema(data_type).empty_table(), {}, {})
    tables = [out.findings]
    for detector in detectors:
        started = time.perf_counter()
        params = params_for(detector, settings.get(detector.name))
        ctx = dataclasses.replace(context, history=histories.get(detector.name))
        tables.append(as_findings(detector, context.day, detector.find(events, params, ctx)))
        if detector.profile is not None:
            out.profiles[detector.name] = detector.profile(events, params, ctx)
        out.seconds[detector.name] = time.perf_counter() - started
    out.findings = pa.concat_tables(tables)
    return out
