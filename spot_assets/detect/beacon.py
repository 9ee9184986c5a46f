"""Beacon scoring in RITA's manner, once for every type: flow pairs, DNS client→name, proxy client→host.

Malware that calls home does so on a timer, so its connections are regular in time and usually in
size. For each group of events (an entity) with enough connections, RITA scores:

* **interval skew**: Bowley's quartile skew of the gaps between connections, (Q1 + Q3 − 2·Q2)/(Q3 − Q1),
  0 for a symmetric spread; a timer with jitter is symmetric, a burst of browsing is not. Score 1 − |skew|.
* **interval dispersion**: the median absolute deviation of the gaps. RITA divides an absolute MAD by
  30 s; we divide by the median gap, so a 1-hour timer with 2 minutes of jitter and a 5-minute timer
  with 10 s of jitter read alike. Score 1 − (MAD / median gap) / ``jitter_tolerance``, at least 0.
* **coverage**: the share of the hours that hold the day's data in which the group connected at all.
  A beacon that misses beats still covers the day; a session of 300 fast requests does not.
* **size skew and dispersion**: the same two measures over bytes per connection; commands and
  heartbeats repeat their size.

Time score = mean(skew, dispersion, coverage), size score = mean(skew, dispersion) and the beacon
score is their mean (RITA's equal weighting). Gaps are taken between distinct timestamps, so a
connection logged twice, or a burst at one instant, is one beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class BeaconParams:
    # Quartile skew and a MAD need a handful of gaps each side of the median before they mean anything;
    # RITA's default is 20 connections a day. Below 12 beats a 5-minute timer would have run for an hour.
    min_connections: int = 12
    # interval MAD over median interval at which regularity scores 0: ±50 % jitter is no rhythm at all
    jitter_tolerance: float = 0.5
    # the same for bytes per connection
    size_tolerance: float = 0.5
    # findings below this are not reported: the mean of six unit scores, half of them noise, sits near 0.5
    min_score: float = 0.7


def group_quantiles(codes: np.ndarray, values: np.ndarray, n_groups: int,
                    qs: tuple[float, ...] = (0.25, 0.5, 0.75)) -> np.ndarray:
    """Quantiles of ``values`` per group code (linear interpolation, as numpy's default), shape (groups, qs).

    One sort for all groups instead of a Python loop: a day has hundreds of thousands of pairs.
    Groups without values get NaN.
    """
    order = np.lexsort((values, codes))
    codes, values = codes[order], values[order]
    counts = np.bincount(codes, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    out = np.full((n_groups, len(qs)), np.nan)
    has = counts > 0
    for j, q in enumerate(qs):
        pos = (counts[has] - 1) * q
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, counts[has] - 1)
        frac = pos - lo
        base = starts[has]
        out[has, j] = values[base + lo] * (1 - frac) + values[base + hi] * frac
    return out


def _skew_mad(codes: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group: Bowley skew (0 where the quartiles coincide), median, and median absolute deviation."""
    q1, q2, q3 = group_quantiles(codes, values, n).T
    spread = q3 - q1
    with np.errstate(invalid="ignore", divide="ignore"):
        skew = np.where(spread > 0, (q1 + q3 - 2 * q2) / spread, 0.0)
    mad = group_quantiles(codes, np.abs(values - q2[codes]), n, (0.5,))[:, 0]
    return skew, q2, mad


def _regularity(mad: np.ndarray, median: np.ndarray, tolerance: float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.where(median > 0, mad / median, np.where(mad > 0, np.inf, 0.0))
    return np.clip(1 - relative / tolerance, 0, 1)


def beacons(events: pd.DataFrame, keys: list[str], ts: str, size: str | None, params: BeaconParams) -> pd.DataFrame:
    """One row per group of ``keys`` with at least ``min_connections`` events, scored as a beacon.

    ``ts`` is a timestamp column, ``size`` a bytes column (or None where a type has no size: the time
    score is then the beacon score). Columns: the keys, ``connections``, ``interval`` (median gap, s),
    ``jitter`` (MAD of the gaps, s), ``interval_skew``, ``hours``, ``span_hours``, ``size``, ``size_mad``,
    ``size_skew``, ``ts_score``, ``size_score`` and ``score``; sorted by score, highest first.
    """
    columns = [*keys, ts] + ([size] if size else [])
    frame = events[columns].dropna(subset=[*keys, ts])
    seconds = epoch_seconds(frame[ts])
    span_hours = max(1, int(np.ceil((seconds.max() - seconds.min()) / 3600))) if len(seconds) else 1
    # groups numbered in order of appearance (a MultiIndex's factorize builds a tuple per event: seconds a million)
    codes = frame.groupby(keys, sort=False).ngroup().to_numpy()
    groups = pd.MultiIndex.from_frame(frame[keys].iloc[np.unique(codes, return_index=True)[1]])
    n = len(groups)
    connections = np.bincount(codes, minlength=n)
    keep = connections[codes] >= params.min_connections
    if not keep.any():
        return _empty(keys)
    # renumber the kept groups densely
    kept_groups, codes = np.unique(codes[keep], return_inverse=True)
    seconds = seconds[keep]
    sizes = frame[size].to_numpy(dtype=float)[keep] if size else None
    n = len(kept_groups)

    # gaps between distinct timestamps of a group
    order = np.lexsort((seconds, codes))
    c_sorted, t_sorted = codes[order], seconds[order]
    distinct = np.ones(len(t_sorted), bool)
    distinct[1:] = (c_sorted[1:] != c_sorted[:-1]) | (t_sorted[1:] != t_sorted[:-1])
    c_beats, t_beats = c_sorted[distinct], t_sorted[distinct]
    same = c_beats[1:] == c_beats[:-1]
    gap_codes, gaps = c_beats[1:][same], np.diff(t_beats)[same]
    skew, interval, jitter = _skew_mad(gap_codes, gaps, n)
    hours = _distinct_count(codes, np.floor((seconds - seconds.min()) / 3600).astype(np.int64), n)
    coverage = np.minimum(hours / span_hours, 1.0)
    ts_score = np.nan_to_num((1 - np.abs(skew) + _regularity(jitter, interval, params.jitter_tolerance) + coverage) / 3)
    if sizes is not None:
        size_skew, size_median, size_mad = _skew_mad(codes, np.nan_to_num(sizes), n)
        size_score = (1 - np.abs(size_skew) + _regularity(size_mad, size_median, params.size_tolerance)) / 2
        score = (ts_score + size_score) / 2
    else:
        size_skew = size_median = size_mad = size_score = np.full(n, np.nan)
        score = ts_score
    out = pd.DataFrame(list(groups[kept_groups]), columns=keys)
    out = out.assign(connections=connections[kept_groups], interval=interval, jitter=jitter, interval_skew=skew,
                     hours=hours, span_hours=span_hours, size=size_median, size_mad=size_mad, size_skew=size_skew,
                     ts_score=ts_score, size_score=size_score, score=np.clip(score, 0, 1))
    # one distinct beat has no gap: it is no rhythm
    out.loc[np.isnan(interval), ["ts_score", "score"]] = 0.0
    return out.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


def describe(row) -> str:
    """The reason an analyst reads: "beacon: 288 connections, interval 300 s ± 4 s, 24 of 24 hours"."""
    text = (f"beacon: {int(row.connections)} connections, interval {_duration(row.interval)} ± "
            f"{_duration(row.jitter)}, {int(row.hours)} of {int(row.span_hours)} hours")
    if not pd.isna(row.size):
        text += f", {row.size:,.0f} B ± {row.size_mad:,.0f}"
    return text


def evidence(row) -> dict:
    return {k: getattr(row, k) for k in ("connections", "interval", "jitter", "interval_skew", "hours", "span_hours",
                                         "size", "size_mad", "size_skew", "ts_score", "size_score")}


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


def _distinct_count(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    pairs = np.unique(np.stack([codes, values]), axis=1)
    return np.bincount(pairs[0], minlength=n)


def epoch_seconds(ts: pd.Series) -> np.ndarray:
    """Epoch seconds of a timestamp column, whatever unit it is stored in."""
    unit = ts.dt.unit if isinstance(ts.dtype, pd.DatetimeTZDtype) else np.datetime_data(ts.dtype)[0]
    return ts.astype("int64").to_numpy() / {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[unit]


def _empty(keys: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=[*keys, "connections", "interval", "jitter", "interval_skew", "hours", "span_hours",
                                 "size", "size_mad", "size_skew", "ts_score", "size_score", "score"])
