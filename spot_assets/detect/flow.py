"""Flow detectors: beacons, long connections, strobes, scans, bulk uploads and lateral movement.

Each reads one day of flows (``sip → dip:dport`` as the sensor recorded it). ``ipkt``/``ibyt`` are
taken as the source's side and ``opkt``/``obyt`` as the reply; unidirectional NetFlow leaves the reply
at 0 and records the reply as a flow of its own, so no rule here needs the reply counters to exist.

Scores read alike across detectors: **0.5 where a detector's documented threshold is just met, 1 where
its evidence saturates** (as sure as that detector gets), log-linear between, because the evidence
(connections, hours, destinations, bytes) grows by orders of magnitude, not by steps. Evidence that
cannot be judged on a day (an outcome nobody recorded, a host without history or peers) counts half.

The pair detectors (beacon, long connection, strobe) look where RITA looks (`PairParams`): at internal
hosts talking to the outside, and damp destinations that many internal hosts reach, which are shared
infrastructure (NTP, update servers, resolvers, proxies), not a command server, as RITA v5 lowers the
score of destinations most hosts talk to (*prevalence*).
"""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spot_assets.detect import beacon
from spot_assets.detect.base import DetectContext, Detector
from spot_assets.detect.measures import findings, robust_z, share_text, size_text, times_text

PAIR = ["sip", "dip", "dport"]
FINDING_COLUMNS = ["sip", "dip", "dport", "score", "reason", "evidence", "events"]
ADMIN_SERVICES = {22: "SSH", 135: "RPC", 445: "SMB", 3389: "RDP", 5985: "WinRM", 5986: "WinRM over TLS"}


# ----- parameters (every default is the evidence a detector needs, not a value fitted to a data set)

@dataclass(frozen=True)
class PairParams:
    # RITA's scope: internal sources to external destinations (it drops internal-to-internal and inbound
    # connections on import). Inside, monitoring, backups and directory services run on timers and hold
    # sessions by design; a command server is outside. A day without any internal address (a capture of
    # public addresses, ranges not configured) is taken whole.
    outbound_only: bool = True
    # RITA v5 raises a score when at most 2 % of the internal hosts reach the destination and lowers it
    # from 50 %; we damp continuously (log scale) between the two: no damping at 2 %, none left at 50 %.
    rare_share: float = 0.02
    common_share: float = 0.5
    # one or two sources cannot make a destination "shared": below this many there is no damping
    min_shared_sources: int = 3


@dataclass(frozen=True)
class FlowBeaconParams(beacon.BeaconParams, PairParams):
    """`beacon.BeaconParams` (regularity) plus scope and prevalence."""


@dataclass(frozen=True)
class LongConnectionParams(PairParams):
    # RITA flags connections over 1 h by default and ranks them up to "high" at 12 h
    min_hours: float = 1.0
    saturation_hours: float = 12.0


@dataclass(frozen=True)
class StrobeParams(PairParams):
    # RITA's strobe: 86 400 connections a day between two hosts, one a second, more than any human or
    # timer needs; scaled to the hours the day's data spans (at least one: a page load opens dozens of
    # connections in a second, a rate needs an hour to mean anything)
    per_day: int = 86_400
    # ten a second is as sure as it gets
    saturation: float = 10.0


@dataclass(frozen=True)
class ScanParams:
    # distinct targets that never connected (set per direction below)
    min_targets: int = 25
    # ten times the threshold (a /24 sweep, nmap's top ports) is as sure as it gets
    saturation: float = 10.0
    # a sweep mostly meets empty addresses and closed ports; a busy client's connections mostly succeed (a
    # few % fail): below half failed, many targets are a busy client, not a scan
    min_failed_share: float = 0.5
    # weight of the failed share when no outcome was recorded (UDP without any reply): unknown, half
    unknown_share: float = 0.5


@dataclass(frozen=True)
class HorizontalScanParams(ScanParams):
    # Zeek's scan policy: 25 distinct hosts with failed connections on one port (within 5 minutes; a day
    # counts at least as many, and the failed share keeps a client's failures over a day out)
    min_targets: int = 25


@dataclass(frozen=True)
class VerticalScanParams(ScanParams):
    # Zeek's scan policy: 15 distinct ports with failed connections on one host
    min_targets: int = 15


@dataclass(frozen=True)
class BulkOutboundParams:
    # RITA's data-size modifier counts 25 MB to one destination as significant: less is not an exfiltration
    # worth an analyst's time, whatever the ratio
    min_bytes: float = 25e6
    # a busy day is a small multiple of a usual one; ten times is another kind of day
    own_ratio: float = 10.0
    own_saturation: float = 10.0  # 100x its usual
    # a week of earlier days; a median needs at least three of them to say what is usual
    baseline_days: int = 7
    min_baseline_days: int = 3
    # Iglewicz & Hoaglin's modified z-score outlier cut (0.6745 (x - median) / MAD > 3.5), on log bytes
    # because bytes per host spread over orders of magnitude
    peer_z: float = 3.5
    peer_saturation: float = 3.0  # z of 10.5
    # fewer hosts than this are not a population to compare with
    min_peers: int = 10


@dataclass(frozen=True)
class LateralMovementParams:
    # remote administration: SSH, RPC endpoint mapper, SMB, RDP, WinRM (HTTP and TLS)
    ports: tuple[int, ...] = tuple(ADMIN_SERVICES)
    # a workstation's usual admin-port peers are its domain controllers and a file server or two
    min_targets: int = 5
    # ten times that (a server VLAN) is as sure as it gets; also the scale of the ratio to its usual day
    saturation: float = 10.0
    # far above its usual: three times its median day on that port (a median below 1 counts as 1)
    own_ratio: float = 3.0
    baseline_days: int = 7
    # as for bulk transfers: modified z-score cut, its scale, and the smallest population of peers
    peer_z: float = 3.5
    peer_saturation: float = 3.0
    min_peers: int = 10


# ----- shared measures

def grade(value, threshold: float, saturation: float) -> np.ndarray:
    """0 below ``threshold``, 0.5 at it, 1 at ``saturation`` times it, log-linear between (module docstring)."""
    value = np.asarray(value, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = 0.5 + 0.5 * np.log(value / threshold) / np.log(saturation)
    return np.where(value >= threshold, np.clip(np.nan_to_num(g, nan=1.0), 0.5, 1.0), 0.0)


def combine(*codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One dense code per distinct combination of non-negative code arrays, and the first row of each."""
    key = np.zeros(len(codes[0]), np.int64)
    for part in codes:
        key = pd.factorize(key * (int(part.max(initial=0)) + 1) + part)[0]  # re-densified: never overflows
    return key, first_rows(key)


def first_rows(codes: np.ndarray) -> np.ndarray:
    """The first row of each code of a factorization (codes are numbered in order of appearance)."""
    seen = np.maximum.accumulate(np.r_[-1, codes[:-1]]) if len(codes) else codes
    return np.flatnonzero(codes > seen)


class Flows:
    """One day's flows as arrays, addresses coded once: what every detector here groups by.

    Built once per events frame and context (`flows_of`): a million flows take a second to factorize,
    and seven detectors read the same day.
    """

    def __init__(self, events: pd.DataFrame, ctx: DetectContext):
        self.sip, sips = pd.factorize(events["sip"])
        self.dip, dips = pd.factorize(events["dip"])
        self.sips, self.dips = np.asarray(sips, dtype=object), np.asarray(dips, dtype=object)
        self.dport = events["dport"].fillna(-1).to_numpy(np.int64)
        # addresses judged once: the union of both columns' distinct values
        codes, addresses = pd.factorize(np.concatenate([self.sips, self.dips]))
        self.addresses = len(addresses)
        # one code space for both columns (-1: null), so a flow's reverse can be looked up
        self.sip_address = np.append(codes[:len(self.sips)], -1)[self.sip]
        self.dip_address = np.append(codes[len(self.sips):], -1)[self.dip]
        inside = np.append(np.asarray(ctx.internal(pd.Series(addresses, dtype=object)), bool), False)
        self.sip_internal, self.dip_internal = inside[self.sip_address], inside[self.dip_address]
        self.valid = (self.sip >= 0) & (self.dip >= 0) & (self.dport >= 0)
        ts = events["ts"]
        self.seconds = beacon.epoch_seconds(ts)
        # the hours the day's data spans, at least one
        self.span_hours = max(1.0, float(np.ptp(self.seconds)) / 3600) if len(self.seconds) else 1.0
        self._pairs: dict[bool, tuple] = {}

    def pairs(self, outbound_only: bool) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
        """The rows in scope (`PairParams`), each one's (sip, dip, dport) code, and the pairs as a frame."""
        if outbound_only not in self._pairs:
            scope = self.valid
            if outbound_only and (self.sip_internal | self.dip_internal).any():
                scope = scope & self.sip_internal & ~self.dip_internal
            rows = np.flatnonzero(scope)
            codes, first = combine(self.sip[rows], self.dip[rows], self.dport[rows])
            pairs = pd.DataFrame({"sip": self.sips[self.sip[rows][first]], "dip": self.dips[self.dip[rows][first]],
                                  "dport": self.dport[rows][first]})
            self._pairs[outbound_only] = rows, codes, pairs
        return self._pairs[outbound_only]


# the day being detected: {id(events): (weak reference to events, internal, Flows)}, forgotten with the events
_DAY: dict[int, tuple] = {}


def flows_of(events: pd.DataFrame, ctx: DetectContext) -> Flows:
    """The coded flows of ``events`` (which detectors read and never modify), built on first use."""
    held = _DAY.get(id(events))
    if held and held[0]() is events and held[1] is ctx.internal:
        return held[2]
    flows = Flows(events, ctx)
    _DAY.clear()
    _DAY[id(events)] = (weakref.ref(events), ctx.internal, flows)
    weakref.finalize(events, _DAY.pop, id(events), None)
    return flows


def column(events: pd.DataFrame, name: str, fill=0) -> np.ndarray:
    """A numeric column (nulls, or a column the events lack, read ``fill``)."""
    if name not in events:
        return np.full(len(events), fill, dtype=float)
    return pd.to_numeric(events[name], errors="coerce").fillna(fill).to_numpy(dtype=float)


def _per_distinct(values: pd.Series, fn) -> np.ndarray:
    """``fn`` of each distinct value (flags, protocols: a handful of strings over a million flows)."""
    codes, uniques = pd.factorize(values)
    return np.array([fn(u) for u in uniques] + [fn(None)])[codes]


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=FINDING_COLUMNS)


# ----- prevalence: shared infrastructure is not a command server

def prevalence(flows: Flows, found: pd.DataFrame, params: PairParams) -> pd.DataFrame:
    """``found`` (rows with ``dip``, ``dport``) with its destinations' ``sources`` (distinct internal sources
    reaching it today), ``population`` (the day's internal sources), ``share`` and damping ``factor``.

    Counted over internal sources (RITA's prevalence); when no source of the day is internal (a capture of
    public addresses without configured ranges) every source counts instead.
    """
    rows = np.flatnonzero(flows.valid)
    if flows.sip_internal[rows].any():
        rows = rows[flows.sip_internal[rows]]
    population = len(np.unique(flows.sip[rows]))
    destination = flows.dip[rows] * 65_536 + flows.dport[rows]
    wanted = pd.Index(flows.dips).get_indexer(found["dip"]) * 65_536 + found["dport"].to_numpy(np.int64)
    mine = np.isin(destination, wanted)
    reached = pd.DataFrame({"d": destination[mine], "s": flows.sip[rows][mine]}).groupby("d")["s"].nunique()
    sources = reached.reindex(wanted, fill_value=0).to_numpy()
    share = sources / max(population, 1)
    with np.errstate(divide="ignore"):
        factor = np.log(share / params.common_share) / np.log(params.rare_share / params.common_share)
    factor = np.where(sources < params.min_shared_sources, 1.0, np.clip(factor, 0, 1))
    return found.assign(sources=sources, population=population, share=share, factor=factor)


def _damped(flows: Flows, found: pd.DataFrame, params: PairParams) -> pd.DataFrame:
    """``found`` with its prevalence and ``score`` times the damping; rows damped to nothing dropped."""
    found = prevalence(flows, found, params)
    found = found.assign(score=found["score"] * found["factor"])
    return found[found["score"] > 0].reset_index(drop=True)


def _prevalence_text(row) -> str:
    if row.factor >= 1:
        return ""
    return (f"; shared: {int(row.sources)} of {int(row.population)} sources reach it "
            f"({share_text(row.share)}), score x{row.factor:.2f}")


def _prevalence_evidence(row) -> dict:
    return {"sources": row.sources, "population": row.population, "prevalence": row.share,
            "prevalence_factor": row.factor}


# ----- outcome of an attempt: failed, answered, or unknown

def outcomes(flows: Flows, events: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Per flow of ``rows``: failed, known, and the basis of the judgement.

    A TCP flow whose flags hold no ACK never completed a handshake (a lone SYN, a SYN answered by RST,
    a half-open scan that resets): failed. A flow nobody answered failed too, when the day can tell:
    bidirectional records carry reply counters (none: unanswered); unidirectional NetFlow records the reply
    as a flow of its own (the same ports the other way: none, unanswered), which the day holds when it
    holds replies at all (flows from a port below 1024 to one above). With neither, only TCP flags can
    tell, and a UDP flow's outcome is unknown.
    """
    def text(name):
        return events[name].iloc[rows] if name in events else pd.Series(None, index=events.index[rows], dtype=object)

    tcp = _per_distinct(text("proto"), lambda p: p is not None and str(p).upper() in ("TCP", "6"))
    flags = text("flag")
    by_flags = tcp & _per_distinct(flags, lambda f: isinstance(f, str) and any(c.isalpha() for c in f))
    no_handshake = by_flags & _per_distinct(flags, lambda f: isinstance(f, str) and "A" not in f.upper())
    everything = np.ones(len(rows), bool)
    if ((column(events, "opkt") > 0) | (column(events, "obyt") > 0)).any():
        answered = (column(events, "opkt")[rows] > 0) | (column(events, "obyt")[rows] > 0)
        return ~answered | no_handshake, everything, "reply counters and TCP flags"
    sport = column(events, "sport", fill=70_000).astype(np.int64)  # a null port matches no port
    if (flows.valid & (sport < 1024) & (flows.dport >= 1024)).any():
        return ~_reverse_seen(flows, sport, rows) | no_handshake, everything, "reply flows and TCP flags"
    return no_handshake, by_flags, "TCP flags only (no replies recorded this day)"


def _reverse_seen(flows: Flows, sport: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per flow of ``rows``: whether the day holds a flow between the same ports the other way (its reply)."""
    a, b, dport = flows.sip_address, flows.dip_address, flows.dport
    n = flows.addresses + 1
    # only flows between the same two hosts the other way can be a reply
    pool = np.flatnonzero(flows.valid & np.isin(a * n + b, b[rows] * n + a[rows]))
    keys = combine(np.r_[b[rows], a[pool]], np.r_[a[rows], b[pool]], np.r_[dport[rows], sport[pool]],
                   np.r_[sport[rows], dport[pool]])[0]
    return np.isin(keys[:len(rows)], keys[len(rows):])


# ----- beacon

def find_beacons(events: pd.DataFrame, params: FlowBeaconParams, ctx: DetectContext) -> pd.DataFrame:
    """RITA-style periodicity per pair (`beacon`), size = bytes both ways, damped by prevalence."""
    flows = flows_of(events, ctx)
    rows, codes, pairs = flows.pairs(params.outbound_only)
    if not len(rows):
        return _empty()
    size = column(events, "ibyt")[rows] + column(events, "obyt")[rows]
    frame = pd.DataFrame({"pair": codes, "ts": events["ts"].iloc[rows].reset_index(drop=True), "size": size})
    found = beacon.beacons(frame, ["pair"], "ts", "size", params)
    found = found[found["score"] >= params.min_score]
    if found.empty:
        return _empty()
    # the reporting threshold reads 0.5 and a perfect beacon 1, as every detector's scores do
    found = pd.concat([pairs.iloc[found["pair"].to_numpy(np.int64)].reset_index(drop=True),
                       found.reset_index(drop=True)], axis=1)
    found["score"] = 0.5 + 0.5 * (found["score"] - params.min_score) / (1 - params.min_score)
    found = _damped(flows, found, params)
    out = list(found.itertuples())
    return findings(found[PAIR], found["score"], [beacon.describe(r) + _prevalence_text(r) for r in out],
                     [{**beacon.evidence(r), **_prevalence_evidence(r)} for r in out], found["connections"])


# ----- long connection

def find_long_connections(events: pd.DataFrame, params: LongConnectionParams, ctx: DetectContext) -> pd.DataFrame:
    """Time a pair held connections open over the day: the union of its flows' spans, so parallel flows
    do not add up and a session an exporter cut into pieces (active timeout) adds back up to its length."""
    flows = flows_of(events, ctx)
    rows, codes, pairs = flows.pairs(params.outbound_only)
    duration = np.maximum(column(events, "tdur")[rows], 0)  # nfdump prints a negative one for a flow without an end
    total = np.bincount(codes, duration, minlength=len(pairs))
    keep = total[codes] >= params.min_hours * 3600  # the union is never longer than the sum
    if not keep.any():
        return _empty()
    codes, duration, start = codes[keep], duration[keep], flows.seconds[rows][keep]
    order = np.lexsort((start, codes))
    c, s, e = codes[order], start[order], start[order] + duration[order]
    reach = pd.Series(e).groupby(c).cummax().to_numpy()  # the latest end so far within the pair
    before = np.r_[-np.inf, reach[:-1]]
    before[np.r_[True, c[1:] != c[:-1]]] = -np.inf
    covered = np.bincount(c, np.maximum(0, e - np.maximum(s, before)), minlength=len(pairs))
    hit = np.flatnonzero(covered >= params.min_hours * 3600)
    if not len(hit):
        return _empty()
    longest = pd.Series(duration).groupby(codes).max().reindex(hit).to_numpy()
    found = pairs.iloc[hit].reset_index(drop=True).assign(
        connected=covered[hit], total=total[hit], longest=longest, flows=np.bincount(codes, minlength=len(pairs))[hit],
        score=grade(covered[hit] / 3600, params.min_hours, params.saturation_hours / params.min_hours))
    found = _damped(flows, found, params)
    out = list(found.itertuples())
    reason = [f"long connection: connected {r.connected / 3600:.1f} h over {r.flows} flows "
              f"(longest {r.longest / 3600:.1f} h, durations sum {r.total / 3600:.1f} h)" + _prevalence_text(r)
              for r in out]
    evidence = [{"connected_s": r.connected, "duration_sum_s": r.total, "longest_s": r.longest, "flows": r.flows,
                 **_prevalence_evidence(r)} for r in out]
    return findings(found[PAIR], found["score"], reason, evidence, found["flows"])


# ----- strobe

def find_strobes(events: pd.DataFrame, params: StrobeParams, ctx: DetectContext) -> pd.DataFrame:
    """Pairs with more connections than one a second over the day's span."""
    flows = flows_of(events, ctx)
    _, codes, pairs = flows.pairs(params.outbound_only)
    count = np.bincount(codes, minlength=len(pairs))
    hours = flows.span_hours
    threshold = params.per_day * min(hours, 24.0) / 24
    hit = np.flatnonzero(count >= threshold)
    if not len(hit):
        return _empty()
    found = pairs.iloc[hit].reset_index(drop=True).assign(
        connections=count[hit], score=grade(count[hit], threshold, params.saturation))
    found = _damped(flows, found, params)
    out = list(found.itertuples())
    reason = [f"strobe: {r.connections:,} connections in {hours:.1f} h ({r.connections / hours / 3600:.1f} a second; "
              f"threshold {threshold:,.0f})" + _prevalence_text(r) for r in out]
    evidence = [{"connections": r.connections, "span_hours": hours, "threshold": threshold, **_prevalence_evidence(r)}
                for r in out]
    return findings(found[PAIR], found["score"], reason, evidence, found["connections"])


# ----- scans

def _scan(events: pd.DataFrame, params: ScanParams, ctx: DetectContext, vertical: bool) -> pd.DataFrame:
    """Sources that tried many targets (hosts on one port, or ports of one host), most attempts failing.

    Flows from a port below 1024 to one above are the server's side of a conversation (in unidirectional
    NetFlow, a reply), not probes, and are left out; so, too, is a scan sent from a fixed low source port.
    """
    flows = flows_of(events, ctx)
    sport = column(events, "sport", fill=65_535)
    rows = np.flatnonzero(flows.valid & ~((sport < 1024) & (flows.dport >= 1024)))
    sip, dip, dport = flows.sip[rows], flows.dip[rows], flows.dport[rows]
    group, first = combine(sip, dip) if vertical else combine(sip, dport)
    attempt = combine(group, dport if vertical else dip)[0]
    n = len(first)
    targets = np.bincount(group[first_rows(attempt)], minlength=n)
    keep = targets[group] >= params.min_targets
    if not keep.any():
        return _empty()
    rows, group, attempt, first = rows[keep], group[keep], attempt[keep], rows[first]
    failed, known, basis = outcomes(flows, events, rows)
    attempts = np.bincount(group, minlength=n)
    n_known = np.bincount(group, known, minlength=n)
    n_failed = np.bincount(group, failed & known, minlength=n)
    # a target failed when it had known attempts and none of them succeeded
    per_target = pd.DataFrame({"g": group, "t": attempt, "k": known, "ok": known & ~failed}).groupby("t").agg(
        g=("g", "first"), k=("k", "any"), ok=("ok", "any"))
    failed_targets = np.bincount(per_target["g"], per_target["k"] & ~per_target["ok"], minlength=n).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n_known > 0, n_failed / n_known, np.nan)
    fanout = np.where(n_known > 0, failed_targets, targets)
    weight = np.where(np.isnan(share), params.unknown_share, share)
    score = grade(fanout, params.min_targets, params.saturation) * weight
    hit = np.flatnonzero((score > 0) & ~(share < params.min_failed_share))
    if not len(hit):
        return _empty()
    keys = pd.DataFrame({"sip": flows.sips[flows.sip[first[hit]]]})
    if vertical:
        keys["dip"] = flows.dips[flows.dip[first[hit]]]
    else:
        keys["dport"] = flows.dport[first[hit]]
    what, kind = ("ports", "vertical scan") if vertical else ("hosts", "horizontal scan")
    reason, evidence = [], []
    for i, key in zip(hit, keys.itertuples(index=False)):
        where = key.dip if vertical else f"port {key.dport}"
        outcome = (f"{share_text(share[i])} of {attempts[i]:,} attempts failed or unanswered, "
                   f"{failed_targets[i]:,} {what} never connected ({basis})" if not np.isnan(share[i])
                   else f"{attempts[i]:,} attempts, outcome unknown (no replies recorded, not TCP)")
        reason.append(f"{kind}: {targets[i]:,} {what} tried on {where}; {outcome}")
        evidence.append({"targets": targets[i], "failed_targets": failed_targets[i], "attempts": attempts[i],
                         "known_attempts": n_known[i], "failed_share": share[i]})
    return findings(keys, score[hit], reason, evidence, attempts[hit])


def find_horizontal_scans(events: pd.DataFrame, params: ScanParams, ctx: DetectContext) -> pd.DataFrame:
    """One source, many hosts on one port: a sweep for a service (entity ``sip``, ``dport``)."""
    return _scan(events, params, ctx, vertical=False)


def find_vertical_scans(events: pd.DataFrame, params: ScanParams, ctx: DetectContext) -> pd.DataFrame:
    """One source, many ports of one host: a port scan of that host (entity ``sip``, ``dip``)."""
    return _scan(events, params, ctx, vertical=True)


# ----- history

def _history_days(ctx: DetectContext, days: int) -> tuple[pd.DataFrame, list[dt.date]]:
    """The profiles of the last ``days`` days before ``ctx.day`` that have one, and those days."""
    history = ctx.history
    if history is None or history.empty or "day" not in history:
        return pd.DataFrame(), []
    day = pd.to_datetime(history["day"]).dt.date
    earlier = sorted(d for d in day.unique() if d < ctx.day)[-days:] if days > 0 else []
    chosen = day.isin(earlier)
    return history[chosen].assign(day=day[chosen]), earlier


# ----- bulk outbound

def _bytes_out(events: pd.DataFrame, ctx: DetectContext) -> pd.DataFrame:
    """Bytes each internal host sent to external addresses: what it sent as a source (``ibyt``) and what it
    answered as a destination (``obyt`` of flows from outside)."""
    flows = flows_of(events, ctx)
    sent = flows.sip_internal & ~flows.dip_internal & (flows.dip >= 0)
    answered = flows.dip_internal & ~flows.sip_internal & (flows.sip >= 0)
    names = np.concatenate([flows.sips, flows.dips])
    host = np.concatenate([flows.sip[sent], len(flows.sips) + flows.dip[answered]])
    out = pd.DataFrame({"sip": names[host],
                        "bytes_out": np.concatenate([column(events, "ibyt")[sent], column(events, "obyt")[answered]])})
    return out.groupby("sip", sort=False, as_index=False).agg(bytes_out=("bytes_out", "sum"),
                                                             flows=("bytes_out", "size"))


def profile_bytes_out(events: pd.DataFrame, params: BulkOutboundParams, ctx: DetectContext) -> pd.DataFrame:
    return _bytes_out(events, ctx)[["sip", "bytes_out"]]


def find_bulk_outbound(events: pd.DataFrame, params: BulkOutboundParams, ctx: DetectContext) -> pd.DataFrame:
    """Internal hosts sending far more to the outside than on their usual days, or than their peers today."""
    today = _bytes_out(events, ctx)
    today = today[today["bytes_out"] > 0].reset_index(drop=True)
    if today.empty:
        return _empty()
    out = today["bytes_out"].to_numpy(float)
    with_peers = len(today) >= params.min_peers
    z = robust_z(np.log10(out)) if with_peers else np.full(len(out), np.nan)
    top = (len(out) - pd.Series(out).rank(method="min").to_numpy() + 1) / len(out)  # share of hosts sending as much
    history, days = _history_days(ctx, params.baseline_days)
    usual, seen = np.full(len(out), np.nan), np.zeros(len(out), np.int64)
    if days:
        stats = history.groupby("sip")["bytes_out"].agg(["median", "count"]).reindex(today["sip"])
        seen = stats["count"].fillna(0).to_numpy(np.int64)
        usual = np.where(seen >= params.min_baseline_days, stats["median"].to_numpy(float), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = out / usual  # inf where the usual day sends nothing, nan without a usual day
    own = grade(np.nan_to_num(ratio, nan=0.0), params.own_ratio, params.own_saturation)
    peer = grade(np.nan_to_num(z, nan=0.0), params.peer_z, params.peer_saturation)
    score = np.where(out >= params.min_bytes, 1 - (1 - own) * (1 - peer), 0.0)  # either, surer with both
    hit = np.flatnonzero(score > 0)
    if not len(hit):
        return _empty()
    reason, evidence = [], []
    for i in hit:
        parts = [f"sent {size_text(out[i])} out"]
        if not np.isnan(usual[i]):
            parts.append(f"{times_text(ratio[i])} its {seen[i]}-day median ({size_text(usual[i])})")
        else:
            parts.append(f"seen on {seen[i]} of {len(days)} earlier days, too few for a usual day" if days
                         else "no earlier days to compare")
        if with_peers:
            parts.append(f"top {share_text(top[i])} of {len(out):,} hosts (robust z {z[i]:.1f})")
        reason.append("bulk outbound: " + ", ".join(parts))
        evidence.append({"bytes_out": out[i], "usual_bytes": usual[i], "ratio": ratio[i], "baseline_days": seen[i],
                         "peer_z": z[i], "top_share": top[i], "hosts": len(out)})
    return findings(today[["sip"]].iloc[hit], score[hit], reason, evidence, today["flows"].iloc[hit])


# ----- lateral movement

def _admin_fanout(events: pd.DataFrame, params: LateralMovementParams, ctx: DetectContext) -> pd.DataFrame:
    """Per internal source and admin port: distinct internal hosts it held sessions with (``peers``) and flows.

    Attempts known to have failed are left out: a sweep that finds nothing is a scan (`find_horizontal_scans`),
    movement needs a session.
    """
    flows = flows_of(events, ctx)
    admin = np.flatnonzero(flows.valid & flows.sip_internal & flows.dip_internal & np.isin(flows.dport, params.ports)
                           & (flows.sip_address != flows.dip_address))
    failed, known, _ = outcomes(flows, events, admin)
    admin = admin[~(failed & known)]
    frame = pd.DataFrame({"sip": flows.sips[flows.sip[admin]], "dport": flows.dport[admin], "dip": flows.dip[admin]})
    return frame.groupby(["sip", "dport"], sort=False, as_index=False).agg(peers=("dip", "nunique"),
                                                                          flows=("dip", "size"))


def profile_admin_fanout(events: pd.DataFrame, params: LateralMovementParams, ctx: DetectContext) -> pd.DataFrame:
    return _admin_fanout(events, params, ctx)[["sip", "dport", "peers"]]


def find_lateral_movement(events: pd.DataFrame, params: LateralMovementParams, ctx: DetectContext) -> pd.DataFrame:
    """Admin sessions from one internal host to many internal hosts, which it does not usually do.

    With history, "usual" is the source's own median day on that port (days it did not use the port count
    0: it is a behaviour, not a volume) and a port it never used is new; a jump host that always fans out
    is its usual self. Without history its peers (the other sources on that port today) are the measure;
    with neither, the novelty is unknown and counts half.
    """
    today = _admin_fanout(events, params, ctx)
    if today.empty:
        return _empty()
    peers = today["peers"].to_numpy(float)
    history, days = _history_days(ctx, params.baseline_days)
    z = np.full(len(today), np.nan)
    for index in today.groupby("dport").indices.values():
        if len(index) >= params.min_peers:
            z[index] = robust_z(peers[index])
    new, usual = np.zeros(len(today), bool), np.full(len(today), np.nan)
    if days:
        daily = history.pivot_table(index=["sip", "dport"], columns="day", values="peers", aggfunc="max")
        usual_days = daily.reindex(columns=days).fillna(0).median(axis=1).rename("usual").reset_index()
        usual = today[["sip", "dport"]].merge(usual_days, on=["sip", "dport"], how="left")["usual"].to_numpy(float)
        new = np.isnan(usual)
        usual = np.nan_to_num(usual, nan=0.0)
        unusual = np.where(new, 1.0, grade(peers / np.maximum(usual, 1), params.own_ratio, params.saturation))
    else:
        unusual = np.where(np.isnan(z), 0.5, grade(np.nan_to_num(z, nan=0.0), params.peer_z, params.peer_saturation))
    score = grade(peers, params.min_targets, params.saturation) * unusual
    hit = np.flatnonzero(score > 0)
    if not len(hit):
        return _empty()
    reason, evidence = [], []
    for i in hit:
        port = int(today["dport"].iloc[i])
        text = (f"lateral movement: admin sessions to {int(peers[i])} internal hosts on port {port} "
                f"({ADMIN_SERVICES.get(port, 'admin')})")
        if days:
            text += (f", none in {len(days)} earlier days" if new[i] else
                     f", {times_text(peers[i] / max(usual[i], 1))} its {len(days)}-day median ({usual[i]:.0f})")
        elif not np.isnan(z[i]):
            text += f", robust z {z[i]:.1f} against the port's {len(today[today['dport'] == port])} sources today"
        else:
            text += ", no history and too few peers to compare"
        reason.append(text)
        evidence.append({"peers": peers[i], "usual_peers": usual[i] if days else np.nan, "new": bool(new[i]),
                         "history_days": len(days), "peer_z": z[i], "flows": today["flows"].iloc[i]})
    return findings(today[["sip", "dport"]].iloc[hit], score[hit], reason, evidence, today["flows"].iloc[hit])


# every detector codes the day's flows (`Flows`), so every one reads the pair columns
_PAIR_COLUMNS = ("ts", "sip", "dip", "dport")
_OUTCOME_COLUMNS = (*_PAIR_COLUMNS, "sport", "proto", "flag", "opkt", "obyt")

DETECTORS: tuple[Detector, ...] = (
    Detector("beacon", "flow", FlowBeaconParams, find_beacons, columns=(*_PAIR_COLUMNS, "ibyt", "obyt")),
    Detector("long_connection", "flow", LongConnectionParams, find_long_connections,
             columns=(*_PAIR_COLUMNS, "tdur")),
    Detector("strobe", "flow", StrobeParams, find_strobes, columns=_PAIR_COLUMNS),
    Detector("horizontal_scan", "flow", HorizontalScanParams, find_horizontal_scans, columns=_OUTCOME_COLUMNS),
    Detector("vertical_scan", "flow", VerticalScanParams, find_vertical_scans, columns=_OUTCOME_COLUMNS),
    Detector("bulk_outbound", "flow", BulkOutboundParams, find_bulk_outbound, profile_bytes_out,
             columns=(*_PAIR_COLUMNS, "ibyt", "obyt")),
    Detector("lateral_movement", "flow", LateralMovementParams, find_lateral_movement, profile_admin_fanout,
             columns=_OUTCOME_COLUMNS),
)
