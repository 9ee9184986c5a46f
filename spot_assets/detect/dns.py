"""DNS detectors: tunnels, generated domains, NXDOMAIN storms and periodic lookups.

Entities are the client (``ip_dst``: Spot's DNS rows are responses, which go to the client) and the
registered domain of the query name (``domain``, Public Suffix List, see `spot_assets.datatypes`):
a tunnel or a DGA is a property of a domain its owner controls, never of one name under it.

* ``tunnel``: names that carry data. A tunnel encodes its payload in the labels under a domain the
  attacker runs, so its names are long, high in entropy and never repeat; a CDN or a cloud service
  also has many distinct names, but short ones with little information each. The information a name
  carries is estimated as its subdomain's length times the entropy per character of all the distinct
  subdomains of that client and domain (pooled, so a short name is measured with its peers' alphabet).
  Entity: client + domain, since a tunnel is one host's channel (the domain's totals over all clients
  are in the evidence).
* ``dga``: the registered domain's own label scored by the shipped character model (`dga`), per
  domain (any client; the clients are named in the reason).
* ``nxdomain``: a client most of whose lookups fail (rcode 3), under many registered domains.
* ``periodic_query``: one client looking one name up on a timer (`beacon`), entity client + domain
  with the name in the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from spot_assets.datatypes import DNS
from spot_assets.detect import beacon, dga
from spot_assets.detect.base import DetectContext, Detector
from spot_assets.detect.measures import entropy, size_text
from spot_assets.oa.domains import listed_suffix, split_name

# query types whose answer carries arbitrary data: TXT, NULL, CNAME, MX, and KEY (dns2tcp's other mode)
DATA_QTYPES = {16: "TXT", 10: "NULL", 5: "CNAME", 15: "MX", 25: "KEY"}
NXDOMAIN = 3


def _with_domain(events: pd.DataFrame) -> pd.DataFrame:
    """The events with their registered ``domain`` (the findings asset adds it; a caller may not have)."""
    return events if "domain" in events else DNS.with_entity(events)


@dataclass(frozen=True)
class _Lookups:
    """A day's lookups as integer codes (-1 where missing), so per-name work is done once per distinct name."""

    client: np.ndarray  # code per lookup
    clients: np.ndarray
    name: np.ndarray  # code per lookup
    names: np.ndarray  # distinct query names
    domain: np.ndarray  # registered-domain code per distinct name
    domains: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return (self.client >= 0) & (self.name >= 0) & (self.domain[np.maximum(self.name, 0)] >= 0)


def _lookups(events: pd.DataFrame) -> _Lookups:
    events = _with_domain(events)
    client, clients = pd.factorize(events["ip_dst"], sort=False)
    name, names = pd.factorize(events["dns_qry_name"], sort=False)
    first = np.zeros(len(names), np.int64)
    seen = name >= 0
    first[name[seen][::-1]] = np.flatnonzero(seen)[::-1]
    domain, domains = pd.factorize(events["domain"].to_numpy()[first], sort=False)
    return _Lookups(client, np.asarray(clients, dtype=object), name, np.asarray(names, dtype=object), domain,
                    np.asarray(domains, dtype=object))


def _subdomain(name: str, domain: str) -> str:
    """The part of a name left of its registered domain, case kept ("" when none)."""
    name = name.rstrip(".")
    return name[: len(name) - len(domain) - 1] if len(name) > len(domain) + 1 else ""


# ----- tunnel

@dataclass(frozen=True)
class TunnelParams:
    # A UUID is 128 random bits (16 bytes): the most that a machine-made hostname label carries (GUID-named
    # hosts, CDN object ids); names people choose carry far less. A name carrying more is payload-like.
    name_bytes: float = 16.0
    # payload-like names of one client under one domain, together: 128 bytes is eight such names, more than a
    # few GUID hosts or one reputation lookup of a file hash (32 bytes) carry, less than one short tunnel session
    payload_bytes: float = 128.0
    # Paxson et al., "Practical comprehensive bounds on surreptitious communication over DNS" (USENIX Security
    # 2013): 4 KB a day of information in one client's lookups under one domain, however short each name is
    volume_bytes: float = 4096.0
    # a finding needs its evidence at the bound (score 0.5); 16 times the bound scores 1 (a log scale)
    min_score: float = 0.5


def _score_ratio(ratio: np.ndarray) -> np.ndarray:
    """0.5 at the bound, 1 at 16 times it, 0 at a sixteenth: evidence grows by orders of magnitude."""
    with np.errstate(divide="ignore"):
        return np.clip(0.5 + np.log2(ratio) / 8, 0, 1)


def tunnel(events: pd.DataFrame, params: TunnelParams, ctx: DetectContext) -> pd.DataFrame:
    """Clients whose lookups under one domain carry data: long high-entropy names, or many names adding up.

    Evidence per client and domain: the distinct subdomains, the information each carries (its characters
    times the pooled entropy per character), the bytes of the payload-like names among them, the total
    (Paxson's bound), and the share of lookups for data-carrying types. A data-carrying type asks for a
    payload back, so the channel runs both ways: at a share of 1 the evidence counts double.
    """
    day = _lookups(events)
    valid = day.valid
    if not valid.any():
        return _empty()
    client, name = day.client[valid], day.name[valid]
    sub = np.array([_subdomain(n, d) for n, d in zip(day.names, day.domains[day.domain])], dtype=object)
    pair, pairs = pd.factorize(client.astype(np.int64) * len(day.domains) + day.domain[name], sort=False)
    n = len(pairs)
    lookups = np.bincount(pair, minlength=n)
    share = np.bincount(pair, events["dns_qry_type"].isin(list(DATA_QTYPES)).to_numpy()[valid], n) / lookups
    name_length = np.fromiter((len(x) for x in day.names), np.int64, len(day.names))
    query_bytes = np.bincount(pair, name_length[name], n)

    # distinct (client and domain, name) with a subdomain
    distinct = pd.unique(pair.astype(np.int64) * len(day.names) + name)  # pandas' hash: numpy's unique sorts
    codes, name_codes = distinct // len(day.names), distinct % len(day.names)
    sub_chars = np.fromiter((len(x) - x.count(".") for x in sub), np.int64, len(sub))
    # no pair can score above what its names would carry at the most entropy a DNS character has (6 bits of
    # 63 symbols): the rest is measured only for the pairs that could reach the bound
    ceiling = sub_chars[name_codes] * 6 / 8
    bound = np.maximum(np.bincount(codes, np.where(ceiling >= params.name_bytes, ceiling, 0), n) / params.payload_bytes,
                       np.bincount(codes, ceiling, n) / params.volume_bytes) * (1 + share)
    candidate = (_score_ratio(bound) >= params.min_score)[codes] & (sub_chars[name_codes] > 0)
    codes, name_codes = codes[candidate], name_codes[candidate]
    if not len(codes):
        return _empty()
    texts = [x.replace(".", "") for x in sub[name_codes]]
    bits = entropy(texts, codes, n)
    chars = np.fromiter((len(t) for t in texts), np.int64, len(texts))
    carried = chars * bits[codes] / 8
    payload_like = carried >= params.name_bytes
    distinct_names = np.bincount(codes, minlength=n)
    total = np.bincount(codes, carried, n)
    payload = np.bincount(codes, np.where(payload_like, carried, 0.0), n)
    payload_names = np.bincount(codes, payload_like, n).astype(np.int64)
    longest = np.zeros(n, np.int64)
    np.maximum.at(longest, codes, chars)
    ratio = np.maximum(payload / params.payload_bytes, total / params.volume_bytes) * (1 + share)
    score = _score_ratio(ratio)
    keep = np.flatnonzero(score >= params.min_score)
    if not len(keep):
        return _empty()
    domain_of_pair = pairs % len(day.domains)
    # the domain's totals over all its clients: distinct names under it and clients asking
    domain_names = np.bincount(day.domain[np.unique(name_codes)], minlength=len(day.domains))
    domain_clients = np.bincount(domain_of_pair, minlength=len(day.domains))  # pairs are distinct
    out = pd.DataFrame({
        "ip_dst": day.clients[pairs[keep] // len(day.domains)], "domain": day.domains[domain_of_pair[keep]],
        "score": score[keep], "names": distinct_names[keep], "payload_names": payload_names[keep],
        "longest": longest[keep], "entropy": bits[keep], "carried": total[keep], "payload": payload[keep],
        "data_share": share[keep], "query_bytes": query_bytes[keep].astype(np.int64), "events": lookups[keep],
        "domain_names": domain_names[domain_of_pair[keep]], "domain_clients": domain_clients[domain_of_pair[keep]]})
    out["reason"] = [
        f"tunnel: {r.names:,} distinct names under {r.domain}, up to {r.longest} characters at "
        f"{r.entropy:.1f} bits/char; they carry ~{size_text(r.carried)} ({r.payload_names:,} names over "
        f"{params.name_bytes:.0f} B: {size_text(r.payload)}); {r.data_share:.0%} TXT/NULL/CNAME/MX/KEY; "
        f"{size_text(r.query_bytes)} of query names in {r.events:,} lookups"
        for r in out.itertuples()]
    out["evidence"] = [{k: getattr(r, k) for k in ("names", "payload_names", "longest", "entropy", "carried",
                                                   "payload", "data_share", "query_bytes", "domain_names",
                                                   "domain_clients")} for r in out.itertuples()]
    return _result(out)


def _result(out: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in ("ip_dst", "domain") if c in out] + ["score", "reason", "evidence", "events"]
    return out[columns].sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=["ip_dst", "domain", "score", "reason", "evidence", "events"])


# ----- dga

@dataclass(frozen=True)
class DgaParams:
    # P(DGA) at a balanced prior: 0.9 is 9:1 odds. Held-out top sites scoring this high: 0.1 %; held-out
    # DGA families: 35 % of their names (data/dga-model.provenance.json). A generator tries dozens to
    # hundreds of names, so the fraction it needs to be seen is small; a day of thousands of benign domains
    # is not.
    min_score: float = 0.9
    # Labels this short are not scored: short names were registered long ago (36^5 is 60 M labels), so a
    # generator that needs unregistered names makes longer ones (the 17 reference families: 6 and more),
    # and a five-character label has too few trigrams to judge.
    min_length: int = 6
    # the organisation's own second-level label: its internal names are not generated
    user_domain: str = ""
    # settings the rest of spot.toml already holds (`base.Detector` reads them before [detect.dns.dga])
    from_config: ClassVar[dict[str, tuple[str, str]]] = {"user_domain": ("dns", "user_domain")}


def _labels(domains: np.ndarray) -> tuple[list, np.ndarray]:
    """Each registered domain's own label, and whether its suffix is on the Public Suffix List at all."""
    split = [split_name(d) for d in domains]
    labels = [s[1] for s in split]
    listed = np.array([s[3] is not None and listed_suffix(s[3]) for s in split], bool)
    return labels, listed


def dga_domains(events: pd.DataFrame, params: DgaParams, ctx: DetectContext) -> pd.DataFrame:
    """Registered domains whose own label the character model takes for generated, with who looked them up.

    Not scored: labels shorter than ``min_length``, the organisation's own label, and names under a suffix
    the Public Suffix List does not know (``host.lan``, ``printer.local``): a generator's names must resolve
    on the Internet, so they sit under real suffixes, while internal names are often machine-made.
    """
    frame = _with_domain(events)[["ip_dst", "domain", "dns_qry_rcode"]].dropna(subset=["domain"])
    domains = frame["domain"].unique()
    if not len(domains):
        return _empty()
    labels, listed = _labels(domains)
    lengths = np.fromiter((len(x) if x else 0 for x in labels), np.int64, len(labels))
    own = np.array([x == params.user_domain.lower() for x in labels], bool)
    scored = listed & (lengths >= params.min_length) & ~own
    score = np.zeros(len(domains))
    score[scored] = dga.load().score([labels[i] for i in np.flatnonzero(scored)])
    hits = pd.DataFrame({"domain": domains, "label": labels, "score": score})[score >= params.min_score]
    if hits.empty:
        return _empty()
    mine = frame[frame["domain"].isin(hits["domain"])]
    pairs = mine.dropna(subset=["ip_dst"]).drop_duplicates(["domain", "ip_dst"]).sort_values(["domain", "ip_dst"])
    hits = hits.assign(
        events=mine["domain"].value_counts().reindex(hits["domain"]).to_numpy(),
        nxdomain=mine.loc[mine["dns_qry_rcode"] == NXDOMAIN, "domain"].value_counts().reindex(hits["domain"])
        .fillna(0).astype(np.int64).to_numpy(),
        clients=pairs["domain"].value_counts().reindex(hits["domain"]).fillna(0).astype(np.int64).to_numpy(),
        who=pairs.groupby("domain").head(3).groupby("domain")["ip_dst"].agg(", ".join).reindex(hits["domain"])
        .fillna("").to_numpy())
    hits["reason"] = [
        f"dga: label '{r.label}' ({len(r.label)} characters) scores {r.score:.2f} on the character model; "
        f"{r.events:,} lookups, {r.nxdomain:,} NXDOMAIN, by {r.clients} client(s) {r.who}".rstrip()
        for r in hits.itertuples()]
    hits["evidence"] = [{"model_score": r.score, "length": len(r.label), "lookups": r.events, "nxdomain": r.nxdomain,
                         "clients": r.clients} for r in hits.itertuples()]
    return _result(hits)


# ----- nxdomain

@dataclass(frozen=True)
class NxdomainParams:
    # distinct registered domains that failed: a generator tries dozens to hundreds of domains, while a typo
    # retried is one, and a blocklist lookup (DNSBLs answer "not listed" with NXDOMAIN) fails many names
    # under one zone
    min_domains: int = 20
    # "mostly": the share must be above one half with 95 % confidence (the Wilson interval's lower bound is the
    # score), so 12 failures in 20 lookups do not count and 600 in 1,000 do
    min_share: float = 0.5


def _wilson_lower(k: np.ndarray, n: np.ndarray, z: float = 1.96) -> np.ndarray:
    p = k / n
    centre = p + z * z / (2 * n)
    margin = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - margin) / (1 + z * z / n)


def nxdomain(events: pd.DataFrame, params: NxdomainParams, ctx: DetectContext) -> pd.DataFrame:
    """Clients most of whose lookups fail (NXDOMAIN), across many registered domains."""
    frame = _with_domain(events)[["ip_dst", "domain", "dns_qry_rcode"]].dropna(subset=["ip_dst", "dns_qry_rcode"])
    if frame.empty:
        return _empty()
    failed = frame["dns_qry_rcode"].to_numpy() == NXDOMAIN
    per = frame.assign(failed=failed).groupby("ip_dst").agg(lookups=("failed", "size"), nx=("failed", "sum"))
    domains = frame[failed].groupby("ip_dst")["domain"].nunique()
    per["domains"] = domains.reindex(per.index).fillna(0).astype(int)
    per["score"] = _wilson_lower(per["nx"].to_numpy(float), per["lookups"].to_numpy(float))
    per = per[(per["domains"] >= params.min_domains) & (per["score"] > params.min_share)]
    if per.empty:
        return _empty()
    out = per.reset_index()
    out["reason"] = [f"nxdomain: {r.nx:,} of {r.lookups:,} lookups failed ({r.nx / r.lookups:.0%}), "
                     f"under {r.domains:,} registered domains" for r in out.itertuples()]
    out["evidence"] = [{"lookups": r.lookups, "nxdomain": r.nx, "domains": r.domains} for r in out.itertuples()]
    out["events"] = out["lookups"]
    return _result(out)


# ----- periodic_query

@dataclass(frozen=True)
class PeriodicQueryParams(beacon.BeaconParams):
    # a name polled on a timer by this many clients or more is a fleet's software (update checks, time,
    # telemetry), not an implant, which runs on the few hosts it infected
    max_clients: int = 10


def periodic_query(events: pd.DataFrame, params: PeriodicQueryParams, ctx: DetectContext) -> pd.DataFrame:
    """A client looking one name up on a timer (RITA's beacon scoring over the lookup times)."""
    day = _lookups(events)
    valid = np.flatnonzero(day.valid)
    client, name = day.client[valid].astype(np.int64), day.name[valid]
    clients = np.bincount(pd.unique(name * len(day.clients) + client) // len(day.clients), minlength=len(day.names))
    # only pairs with enough lookups to be scored, of names no fleet polls
    pair = pd.factorize(client * len(day.names) + name)[0]
    rows = valid[(np.bincount(pair)[pair] >= params.min_connections) & (clients[name] < params.max_clients)]
    if not len(rows):
        return _empty()
    found = beacon.beacons(events.iloc[rows], ["ip_dst", "dns_qry_name"], "ts", None, params)
    found = found[found["score"] >= params.min_score]
    if found.empty:
        return _empty()
    domain = pd.Series(day.domains[day.domain], index=day.names)
    found = found.assign(domain=domain.reindex(found["dns_qry_name"]).to_numpy())
    # one finding per client and domain: its most regular name
    found = found.drop_duplicates(["ip_dst", "domain"]).reset_index(drop=True)
    found["reason"] = [f"periodic lookups of {r.dns_qry_name}: {beacon.describe(r)}" for r in found.itertuples()]
    found["evidence"] = [{**beacon.evidence(r), "name": r.dns_qry_name} for r in found.itertuples()]
    found["events"] = found["connections"]
    return _result(found)


DETECTORS = (
    Detector("tunnel", "dns", TunnelParams, tunnel, columns=("ip_dst", "dns_qry_name", "dns_qry_type")),
    Detector("dga", "dns", DgaParams, dga_domains, columns=("ip_dst", "dns_qry_name", "dns_qry_rcode")),
    Detector("nxdomain", "dns", NxdomainParams, nxdomain, columns=("ip_dst", "dns_qry_name", "dns_qry_rcode")),
    Detector("periodic_query", "dns", PeriodicQueryParams, periodic_query, columns=("ip_dst", "dns_qry_name", "ts")),
)
