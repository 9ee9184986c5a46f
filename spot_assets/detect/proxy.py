"""Proxy detectors: what a web request log shows of implants, droppers and exfiltration.

Entities are a client and the Host it named (``clientip``, ``host``; null = any). A request that named
no Host (null, empty or Zeek's ``-``) has the host ``""`` (`spot_assets.datatypes.request_host`), so a
finding on it covers exactly the blank-Host requests.

* ``beacon``: a client polling one host on a timer (`spot_assets.detect.beacon`), damped when many
  clients poll the same host that day.
* ``rare_useragent``: a User-Agent string only a few clients of the organisation used that day.
* ``blank_host``: requests without a Host header, which browsers always send and implants often omit.
* ``ip_host``: an IP literal as the Host: the client skipped DNS.
* ``long_uri``: URIs far longer, or far more random, than the day's (data smuggled out in the URI).
* ``upload_heavy``: a client sending a host much more than it receives, above a volume floor.
* ``new_domain``: registered domains absent from every earlier day's profile.

Most of them share one prior (`shared`): an intrusion lands on one machine or a few, so a destination
that many clients of the organisation reach is its shared traffic (update checks, telemetry, CDNs),
and a finding about it is scaled down by how many do.

Every score is in [0, 1], 1 being as sure as that detector gets; the work is done per distinct value
(agent, host, URI) where Python is needed, and by vectorized group-bys otherwise.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spot_assets.datatypes import request_host
from spot_assets.detect import beacon as rhythm
from spot_assets.detect.base import DetectContext, Detector
from spot_assets.detect.measures import clip_text, entropy, findings, robust_z, size_text
from spot_assets.oa.domains import split_name

# An intrusion lands on one machine or a few; a destination this many clients reach in a day is scored
# in full, and one that ``k`` times as many reach is scored ``1/k`` (see `shared`). Three, not one: a
# campaign often reaches a handful of machines, and two users of one odd tool are still odd.
FEW_CLIENTS = 3

COLUMNS = ["clientip", "host", "score", "reason", "evidence", "events"]


def shared(clients, few: int) -> np.ndarray:
    """The prevalence damping: 1 up to ``few`` clients, then ``few / clients``."""
    return np.minimum(1.0, few / np.maximum(np.asarray(clients, dtype=float), 1.0))


def repeats(n, half: float) -> np.ndarray:
    """Confidence from repetition, ``n / (n + half)``: even odds at ``half`` events, approaching 1."""
    n = np.asarray(n, dtype=float)
    return n / (n + half)


def host_clients(clientip: pd.Series, host: pd.Series) -> pd.Series:
    """For each row, how many distinct clients reached its host that day."""
    return clientip.groupby(host, sort=False).transform("nunique")


def _entity(events: pd.DataFrame) -> pd.DataFrame:
    """Client and Host of every request with a client ("" for a blank Host)."""
    frame = pd.DataFrame({"clientip": events["clientip"], "host": request_host(events)}, index=events.index)
    return frame[frame["clientip"].notna()]


# ----- beacon


@dataclass(frozen=True)
class BeaconParams(rhythm.BeaconParams):
    # see FEW_CLIENTS; the blank Host counts as one host, as in blank_host: many clients polling without
    # a Host is a fleet tool
    few_clients: int = FEW_CLIENTS
    # bytes per request: "both" (request + response) or "response". A check-in repeats what it sends
    # as much as what it gets back, so the sum is regular when the program is; "response" for logs
    # whose request sizes are missing or include variable headers.
    size: str = "both"


def find_beacon(events: pd.DataFrame, params: BeaconParams, ctx: DetectContext) -> pd.DataFrame:
    if params.size not in ("both", "response"):
        raise ValueError(f"detect.proxy.beacon: size must be 'both' or 'response', not {params.size!r}")
    frame = _entity(events)
    size = events.loc[frame.index, "scbytes"].astype(float)
    if params.size == "both":
        size = size.fillna(0) + events.loc[frame.index, "csbytes"].astype(float).fillna(0)
    # one integer per (client, host): the beacon scorer's group-by then factorizes numbers, not string pairs
    client, client_names = pd.factorize(frame["clientip"])
    host, host_names = pd.factorize(frame["host"])
    polled_by = pd.Series(client).groupby(host).nunique().to_numpy()  # clients of each host code
    frame = frame.assign(ts=events.loc[frame.index, "ts"], bytes=size,
                         pair=client.astype(np.int64) * len(host_names) + host)
    found = rhythm.beacons(frame, ["pair"], "ts", "bytes", params)
    found = found[found["score"] >= params.min_score].reset_index(drop=True)
    client, host = np.divmod(found["pair"].to_numpy(dtype=np.int64), len(host_names))
    found = found.assign(clientip=np.asarray(client_names, dtype=object)[client],
                         host=np.asarray(host_names, dtype=object)[host])
    clients = polled_by[host]
    score = found["score"].to_numpy(dtype=float) * shared(clients, params.few_clients)
    reason = [rhythm.describe(row) + (f", host polled by {n} clients" if n > 1 else "")
              for row, n in zip(found.itertuples(), clients)]
    evidence = pd.DataFrame([rhythm.evidence(row) for row in found.itertuples()], index=found.index)
    return findings(found, score, reason, evidence.assign(beacon_score=found["score"], host_clients=clients),
                  found["connections"])


# ----- rare user agent


@dataclass(frozen=True)
class RareAgentParams:
    # a browser or OS agent is shared by every machine of a managed fleet; a string at most this many
    # clients used belongs to one program on a few machines (FEW_CLIENTS' reasoning)
    max_clients: int = FEW_CLIENTS
    # and it carries a sliver of the day: an agent with 1 % of all requests is a fleet tool, whoever runs it
    max_share: float = 0.01
    # "nobody else uses it" needs others who could have: the score grows with the clients that did
    # not use the agent and is full at twenty, a small office; a log of one or two clients calls nothing rare
    peers: int = 20


def _agent(events: pd.DataFrame) -> pd.Series:
    """The User-Agent, "" when absent (null, empty, "-"): a missing agent is one agent of its own."""
    codes, uniques = pd.factorize(events["useragent"])
    # the code of a null is -1, which picks the "" appended last
    clean = np.array([str(u).strip() for u in uniques] + [""], dtype=object)
    clean[clean == "-"] = ""
    return pd.Series(clean[codes], index=events.index, dtype=object)


def find_rare_useragent(events: pd.DataFrame, params: RareAgentParams, ctx: DetectContext) -> pd.DataFrame:
    """One finding per client of a rare agent; its events are that client's requests with the agent."""
    frame = _entity(events)
    frame = frame.assign(agent=_agent(events.loc[frame.index]))
    total, day_clients = len(frame), frame["clientip"].nunique()
    if total == 0:
        return pd.DataFrame(columns=COLUMNS)
    per_agent = frame.groupby("agent", sort=False)["clientip"].agg(["nunique", "size"])
    rare = per_agent[(per_agent["nunique"] <= params.max_clients) & (per_agent["size"] <= params.max_share * total)]
    pairs = (frame[frame["agent"].isin(rare.index)].groupby(["agent", "clientip"], sort=False)["host"]
             .agg(["size", "nunique", "first"]).reset_index())
    agent_clients = pairs["agent"].map(rare["nunique"]).to_numpy()
    agent_requests = pairs["agent"].map(rare["size"]).to_numpy()
    others = day_clients - agent_clients
    score = (1 / agent_clients) * np.minimum(1.0, others / params.peers)
    keep = score > 0
    pairs, agent_clients, agent_requests, others, score = (
        pairs[keep].reset_index(drop=True), agent_clients[keep], agent_requests[keep], others[keep], score[keep])
    pairs["host"] = pairs["first"].where(pairs["nunique"] == 1, None)
    reason = [(f"rare user agent {a!r}" if a else "no User-Agent") + f": {c} of {c + o} clients sent it, "
              f"{r} of {total} requests; this client {n} requests to {h} host{'s' if h > 1 else ''}"
              for a, c, o, r, n, h in zip(pairs["agent"], agent_clients, others, agent_requests, pairs["size"],
                                          pairs["nunique"])]
    evidence = pd.DataFrame({"agent_clients": agent_clients, "day_clients": agent_clients + others,
                             "agent_requests": agent_requests, "day_requests": total,
                             "client_requests": pairs["size"], "hosts": pairs["nunique"]})
    return findings(pairs, score, reason, evidence, pairs["size"])


# ----- blank Host


@dataclass(frozen=True)
class BlankHostParams:
    # one blank-Host request may be a probe or a broken client; a program that omits Host omits it on
    # every call: three requests make even odds, a dozen 0.8
    half: float = 3.0
    # see FEW_CLIENTS: many clients omitting Host is a fleet tool (a health check), not an implant
    few_clients: int = FEW_CLIENTS
    # a blank Host is news only in a log that records Hosts: when most of a day's requests have none,
    # the format (or its decoder) does not carry the field, and nothing is reported
    max_day_share: float = 0.5


def find_blank_host(events: pd.DataFrame, params: BlankHostParams, ctx: DetectContext) -> pd.DataFrame:
    """A row logged without a request method (Zeek saw a response without its request) is covered by the
    finding but is no evidence: nobody saw what the client sent."""
    frame = _entity(events)
    blank = frame["host"] == ""
    if not blank.any() or blank.mean() > params.max_day_share:
        return pd.DataFrame(columns=COLUMNS)
    frame = frame[blank]
    frame = frame.assign(seen=events.loc[frame.index, "reqmethod"].notna(), server=events.loc[frame.index, "serverip"])
    per = frame.groupby("clientip", sort=False).agg(rows=("host", "size"), requests=("seen", "sum"),
                                                     servers=("server", "nunique")).reset_index()
    per = per[per["requests"] > 0].reset_index(drop=True)
    clients = len(per)
    score = repeats(per["requests"], params.half) * shared(clients, params.few_clients)
    reason = [f"blank Host: {n} requests without a Host header to {s} server address{'es' if s != 1 else ''}"
              + (f" (and {r - n} responses logged without their request)" if r > n else "")
              + (f"; {clients} clients sent such requests" if clients > 1 else "")
              for n, r, s in zip(per["requests"], per["rows"], per["servers"])]
    evidence = pd.DataFrame({"requests": per["requests"], "without_request": per["rows"] - per["requests"],
                             "servers": per["servers"], "clients": clients})
    return findings(per.assign(host=""), score, reason, evidence, per["rows"])


# ----- IP literal as Host

_BRACKETED = re.compile(r"^\[(?P<ip>[^\]]+)\](?::\d+)?$")
_V4_PORT = re.compile(r"^(?P<ip>[^:]+):\d+$")


def ip_literal(host: str) -> str | None:
    """The address a Host names literally ("10.0.0.1", "10.0.0.1:8080", "[2001:db8::1]:443", "2001:db8::1")."""
    text = host.strip()
    match = _BRACKETED.match(text) or _V4_PORT.match(text)
    candidate = match["ip"] if match else text
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


@dataclass(frozen=True)
class IpHostParams:
    # one request to a bare public address already skipped DNS (payload downloads and implants do):
    # even odds at one request, 0.75 at three
    half: float = 1.0
    # an internal server reached by address is ordinary (intranet apps, printers, appliances): it stays
    # in view at a quarter of the score, below any external one with the same evidence
    internal_weight: float = 0.25
    few_clients: int = FEW_CLIENTS  # see FEW_CLIENTS


def find_ip_host(events: pd.DataFrame, params: IpHostParams, ctx: DetectContext) -> pd.DataFrame:
    frame = _entity(events)
    distinct = frame["host"].unique()
    literal = {h: a for h in distinct if (a := ip_literal(h)) is not None}
    frame = frame[frame["host"].isin(literal.keys())]
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    clients = host_clients(frame["clientip"], frame["host"])
    per = (frame.assign(clients=clients).groupby(["clientip", "host"], sort=False)
           .agg(requests=("host", "size"), clients=("clients", "first")).reset_index())
    address = per["host"].map(literal)
    internal = ctx.internal(address)
    score = (repeats(per["requests"], params.half) * shared(per["clients"], params.few_clients)
             * np.where(internal, params.internal_weight, 1.0))
    reason = [f"IP address as Host: {n} requests to {'internal' if i else 'external'} {a}, no name looked up"
              + (f"; {c} clients reach it" if c > 1 else "")
              for n, i, a, c in zip(per["requests"], internal, address, per["clients"])]
    evidence = pd.DataFrame({"requests": per["requests"], "internal": internal.astype(bool),
                             "host_clients": per["clients"]})
    return findings(per, score, reason, evidence, per["requests"])


# ----- long or random URI


@dataclass(frozen=True)
class LongUriParams:
    # a modified z-score above 3.5 is an outlier (Iglewicz & Hoaglin's rule for the median/MAD z)
    outlier_z: float = 3.5
    # twice that is as sure as a distribution's tail gets
    sure_z: float = 7.0
    # character entropy is bounded by log2(length) and on short strings measures length, not randomness:
    # only URIs of at least 32 characters (5 bits of room) are compared for entropy
    entropy_length: int = 32
    # a median and a MAD of fewer than 20 values move with each one: smaller days report nothing
    min_requests: int = 20
    few_clients: int = FEW_CLIENTS  # see FEW_CLIENTS: long URIs many clients send a host are its API


def find_long_uri(events: pd.DataFrame, params: LongUriParams, ctx: DetectContext) -> pd.DataFrame:
    frame = _entity(events)
    if len(frame) < params.min_requests:
        return pd.DataFrame(columns=COLUMNS)
    uri = (events.loc[frame.index, "uripath"].fillna("").astype(str)
           + events.loc[frame.index, "uriquery"].fillna("").astype(str))
    codes, uniques = pd.factorize(uri)
    lengths = pd.Index(uniques).str.len().to_numpy(dtype=float)
    # the day's distribution is of requests (a URI requested 1000 times weighs 1000), scored per distinct URI;
    # lengths compare by ratio (a path twice the usual is one step, whatever the usual), so by their logarithm
    z_len = robust_z(np.log1p(lengths), np.log1p(lengths)[codes])
    bits = np.full(len(uniques), np.nan)
    room = np.flatnonzero(lengths >= params.entropy_length)
    bits[room] = entropy(np.asarray(uniques, dtype=object)[room].tolist())
    z_ent = np.zeros(len(uniques))
    in_room = np.isin(codes, room)
    if in_room.sum() >= params.min_requests:
        z_ent = np.nan_to_num(robust_z(bits, bits[codes[in_room]]))
    per_uri = (np.clip(z_len / params.sure_z, 0, 1) + np.clip(z_ent / params.sure_z, 0, 1)) / 2
    flagged_uri = (z_len >= params.outlier_z) | (z_ent >= params.outlier_z)
    rows = flagged_uri[codes]
    if not rows.any():
        return pd.DataFrame(columns=COLUMNS)
    flagged = frame.assign(uri=codes, clients=host_clients(frame["clientip"], frame["host"]),
                           uri_score=per_uri[codes])[rows]
    top = flagged.sort_values("uri_score", ascending=False, kind="stable")
    per = (top.groupby(["clientip", "host"], sort=False)
           .agg(requests=("uri", "size"), uris=("uri", "nunique"), uri=("uri", "first"),
                uri_score=("uri_score", "first"), clients=("clients", "first")).reset_index())
    u = per["uri"].to_numpy()
    median_len = np.median(lengths[codes])
    median_ent = np.nanmedian(bits[codes]) if in_room.any() else np.nan
    score = per["uri_score"].to_numpy() * shared(per["clients"], params.few_clients)
    reason = [f"long URI: {int(lengths[i])} characters (day median {median_len:.0f}, z {z_len[i]:.1f})"
              + (f", {bits[i]:.2f} bits/char (median {median_ent:.2f}, z {z_ent[i]:.1f})"
                 if not np.isnan(bits[i]) else "")
              + f"; {n} such request{'s' if n > 1 else ''}, {k} distinct"
              + (f"; {c} clients reach the host" if c > 1 else "") + f": {clip_text(uniques[i])}"
              for i, n, k, c in zip(u, per["requests"], per["uris"], per["clients"])]
    evidence = pd.DataFrame({"length": lengths[u], "length_z": z_len[u], "median_length": median_len,
                             "entropy": bits[u], "entropy_z": z_ent[u], "median_entropy": median_ent,
                             "requests": per["requests"], "uris": per["uris"], "host_clients": per["clients"]})
    return findings(per, score, reason, evidence, per["requests"])


# ----- upload heavy


@dataclass(frozen=True)
class UploadParams:
    # browsing receives far more than it sends (pages, images, downloads); a client sending a host ten
    # times what it received that day is a different activity (uploading, exfiltrating)
    min_ratio: float = 10.0
    # a thousand to one is as lopsided as the ratio needs to be to be sure
    sure_ratio: float = 1000.0
    # below a megabyte a day, form posts and API calls; above it, documents leave the building
    min_bytes: float = 1e6
    # a hundred times the floor (100 MB) is a body of files or a database dump: as sure as volume gets
    sure_bytes: float = 1e8


def find_upload_heavy(events: pd.DataFrame, params: UploadParams, ctx: DetectContext) -> pd.DataFrame:
    frame = _entity(events)
    frame = frame.assign(up=events.loc[frame.index, "csbytes"].fillna(0).astype(float),
                         down=events.loc[frame.index, "scbytes"].fillna(0).astype(float),
                         post=events.loc[frame.index, "reqmethod"].fillna("").str.upper().isin(["POST", "PUT"]))
    per = (frame.groupby(["clientip", "host"], sort=False)
           .agg(up=("up", "sum"), down=("down", "sum"), requests=("up", "size"), posts=("post", "sum")).reset_index())
    ratio = per["up"] / np.maximum(per["down"], 1.0)
    per = per[(per["up"] >= params.min_bytes) & (ratio >= params.min_ratio)].reset_index(drop=True)
    ratio = (per["up"] / np.maximum(per["down"], 1.0)).to_numpy()
    by_ratio = np.clip(np.log(ratio) / np.log(params.sure_ratio), 0, 1)
    by_volume = np.clip(np.log(per["up"] / params.min_bytes) / np.log(params.sure_bytes / params.min_bytes), 0, 1)
    score = (by_ratio + by_volume) / 2
    reason = [f"upload heavy: {size_text(u)} sent, {size_text(d)} received ({r:,.0f}:1) in {n} requests ({p} POST/PUT)"
              for u, d, r, n, p in zip(per["up"], per["down"], ratio, per["requests"], per["posts"])]
    evidence = pd.DataFrame({"uploaded": per["up"], "downloaded": per["down"], "ratio": ratio,
                             "requests": per["requests"], "posts": per["posts"]})
    return findings(per, score, reason, evidence, per["requests"])


# ----- new domain


@dataclass(frozen=True)
class NewDomainParams:
    # a week of history covers a business's weekly rhythm (the Monday-only service): "absent from all
    # history" counts in full from seven days, proportionally less before
    history_days: int = 7
    # a page view pulls dozens of objects from a site; a dropper's download or a check-in is a handful:
    # up to ten requests count in full, beyond that the score shrinks as 10 / requests
    few_requests: int = 10
    few_clients: int = FEW_CLIENTS  # see FEW_CLIENTS: a new site many clients visit is news, not an intrusion


def _registered(hosts: pd.Series) -> pd.Series:
    """The registered domain of each Host (null for IP literals, bare labels and blanks)."""
    distinct = hosts.dropna().unique()
    return hosts.map({h: split_name(h)[0] for h in distinct})


def profile_new_domain(events: pd.DataFrame, params: NewDomainParams, ctx: DetectContext) -> pd.DataFrame:
    """The registered domains the day's requests reached (a string column even on a day without any)."""
    domains = _registered(pd.Series(request_host(events).unique())).dropna().unique()
    return pd.DataFrame({"domain": pd.Series(np.sort(domains), dtype="string")})


def find_new_domain(events: pd.DataFrame, params: NewDomainParams, ctx: DetectContext) -> pd.DataFrame:
    """Nothing without history: "first seen" needs a past to be absent from."""
    if ctx.history is None or ctx.history.empty:
        return pd.DataFrame(columns=COLUMNS)
    frame = _entity(events)
    frame = frame.assign(domain=_registered(frame["host"]))
    frame = frame[frame["domain"].notna() & ~frame["domain"].isin(set(ctx.history["domain"]))]
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    days = ctx.history["day"].nunique()
    domain = frame.groupby("domain", sort=False)["clientip"].agg(["nunique", "size"])
    per = (frame.groupby(["host", "domain"], sort=False)["clientip"].agg(["nunique", "size", "first"])
           .reset_index())
    per["clientip"] = per["first"].where(per["nunique"] == 1, None)
    clients, requests = per["domain"].map(domain["nunique"]), per["domain"].map(domain["size"])
    score = (min(1.0, days / params.history_days) * shared(clients, params.few_clients)
             * np.minimum(1.0, params.few_requests / requests))
    reason = [f"new domain {d}: absent from {days} day{'s' if days > 1 else ''} of history; {c} client"
              f"{'s' if c > 1 else ''}, {r} requests to it ({n} to {h})"
              for d, c, r, n, h in zip(per["domain"], clients, requests, per["size"], per["host"])]
    evidence = pd.DataFrame({"history_days": days, "domain_clients": clients, "domain_requests": requests,
                             "host_clients": per["nunique"], "host_requests": per["size"]})
    return findings(per, score, reason, evidence, per["size"])


DETECTORS: tuple[Detector, ...] = (
    Detector("beacon", "proxy", BeaconParams, find_beacon,
             columns=("ts", "clientip", "host", "scbytes", "csbytes")),
    Detector("rare_useragent", "proxy", RareAgentParams, find_rare_useragent,
             columns=("clientip", "host", "useragent")),
    Detector("blank_host", "proxy", BlankHostParams, find_blank_host,
             columns=("clientip", "host", "reqmethod", "serverip")),
    Detector("ip_host", "proxy", IpHostParams, find_ip_host, columns=("clientip", "host")),
    Detector("long_uri", "proxy", LongUriParams, find_long_uri, columns=("clientip", "host", "uripath", "uriquery")),
    Detector("upload_heavy", "proxy", UploadParams, find_upload_heavy,
             columns=("clientip", "host", "csbytes", "scbytes", "reqmethod")),
    Detector("new_domain", "proxy", NewDomainParams, find_new_domain, profile=profile_new_domain,
             columns=("clientip", "host")),
)
