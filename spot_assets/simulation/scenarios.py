"""Attack scenarios: each switchable, parameterised, and labeled with its id in every event it makes.

A scenario is a frozen dataclass whose fields are its parameters (defaults below; change them with
``spot simulate --set ID.FIELD=VALUE``); `generate` returns the connections, lookups and requests of
one day, all carrying the scenario id. Actors (victim, scanner, target) are chosen from the seed and
the scenario id only, so an attack keeps its victim from day to day; times vary with the day.
A ``victim`` parameter given as an internal address overrides the choice.

Ids: c2_beacon, scan_vertical, scan_horizontal, exfil_bulk, dns_tunnel, dga, long_connection,
lateral_movement, proxy_rare_ua, proxy_direct_ip, proxy_odd_content, proxy_upload.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import string
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from spot_assets.simulation import activity, rand, web
from spot_assets.simulation.activity import Activity
from spot_assets.simulation.background import TCP, Background, day_start_ms
from spot_assets.simulation.domains import public_address, stable_hash
from spot_assets.simulation.network import ROLE, ip_int, ip_text

UNCATEGORIZED = "Uncategorized"


@dataclass
class Context:
    """What a scenario may use: the organisation (through the background builder), the day, the seed."""

    background: Background
    day: dt.date
    seed: int

    @property
    def org(self):
        return self.background.org

    @property
    def start_ms(self) -> int:
        return day_start_ms(self.day)

    def rng(self, scenario: str) -> np.random.Generator:
        return rand.day_generator(self.seed, self.day, "scenario", scenario)

    def actor(self, scenario: str, role: str, given: str = "", salt: str = "") -> int:
        """A host of ``role`` chosen by seed and scenario (the same every day), or the host at ``given``."""
        if given:
            host = int(self.org.host_of(np.array([ip_int(given)]))[0])
            if host < 0:
                raise ValueError(f"{scenario}: {given} is not a host of the organisation")
            return host
        pool = self.org.of_role(role)
        return int(rand.generator(self.seed, "actor", scenario, salt).choice(pool))


@dataclass(frozen=True)
class Scenario:
    id: ClassVar[str]
    victim: str = ""

    def generate(self, ctx: Context) -> Activity:
        raise NotImplementedError


# ----- building blocks


def connections(scenario: str, ts, src, dst, dport, *, proto=TCP, fwd=(6, 800), rev=(5, 1_500),
                dur_ms=500, rtt_ms=30, probe=activity.PROBE_NONE, sport=-1) -> Activity:
    """Connections (a table of them), given per-connection arrays or scalars."""
    ts = np.asarray(ts, np.int64)
    n = len(ts)
    cols = {"ts_ms": ts, "src": src, "dst": dst, "sport": sport, "dport": dport, "proto": proto,
            "fwd_pkts": fwd[0], "fwd_bytes": fwd[1], "rev_pkts": rev[0], "rev_bytes": rev[1], "dur_ms": dur_ms,
            "rtt_ms": rtt_ms, "probe": probe, "scenario": scenario}
    cols = {k: (np.broadcast_to(v, n) if not isinstance(v, str) else v) for k, v in cols.items()}
    return Activity(activity.table(cols, activity.CONNECTIONS), activity.LOOKUPS.empty_table(),
                    activity.REQUESTS.empty_table())


def lookups(ctx: Context, scenario: str, host: int, ts, qname, qtype, rcode, answer, rng) -> Activity:
    ts = np.asarray(ts, np.int64)
    n = len(ts)
    full = lambda v: np.array(np.broadcast_to(np.asarray(v, dtype=object), n), dtype=object)  # noqa: E731
    delay = rng.integers(8, 60, n)
    table = ctx.background.lookup_table(ts, delay, np.full(n, host), full(qname), np.asarray(np.broadcast_to(qtype, n)),
                                        np.asarray(np.broadcast_to(rcode, n)), full(answer), rng, scenario=scenario)
    return Activity(activity.CONNECTIONS.empty_table(), table, activity.REQUESTS.empty_table())


def web_calls(ctx: Context, scenario: str, host: int, ts, site: str, ip: int, rng, *, port=443, method="GET",
              path="/", query="", ctype="text/html", status=200, agent="", sc_bytes=1_000, cs_bytes=500,
              category=UNCATEGORIZED, resolve=True) -> Activity:
    """Requests through the proxy, each on a connection of its own, after a lookup of ``site`` (if a name).

    The connection's flows carry the request's bytes plus TCP/TLS overhead, so sizes agree across
    flow and proxy data.
    """
    ts = np.asarray(ts, np.int64)
    n = len(ts)
    sc = np.broadcast_to(np.asarray(sc_bytes, np.int64), n)
    cs = np.broadcast_to(np.asarray(cs_bytes, np.int64), n)
    out = Activity.empty()
    if resolve:
        out += lookups(ctx, scenario, host, ts - 80, site, 1, 0, f"A {ip_text([ip])[0]}", rng)
    rev_pkts = 2 + -(-sc // 1_400)
    fwd_pkts = 3 + -(-cs // 1_400) + -(-rev_pkts // 2)
    tls = 1 if port == 443 else 0
    rtt = 40
    out += connections(scenario, ts, ctx.org.ip[host], ip, port, fwd=(fwd_pkts, cs + 40 * fwd_pkts + 600 * tls),
                       rev=(rev_pkts, sc + 40 * rev_pkts + 4_500 * tls), dur_ms=2 * rtt + 300 + sc // 5_000, rtt_ms=rtt)
    user = ctx.org.user[host] or ""
    full = lambda v: np.broadcast_to(np.asarray(v, dtype=object), n)  # noqa: E731
    requests = activity.table({
        "ts_ms": ts + 2 * rtt, "time_taken": full(150 + sc // 5_000), "client": np.full(n, ctx.org.ip[host]),
        "server": np.full(n, ip), "username": user, "method": full(method), "scheme": "https" if tls else "http",
        "host": site, "port": port, "path": full(path), "query": full(query),
        "extension": full(np.vectorize(_extension, otypes=[object])(full(path))), "ctype": full(ctype),
        "status": full(status), "action": "TCP_NC_MISS", "filter": "OBSERVED", "category": category,
        "referer": "", "agent": full(agent), "sc_bytes": sc, "cs_bytes": cs, "scenario": scenario,
    }, activity.REQUESTS)
    return out + Activity(activity.CONNECTIONS.empty_table(), activity.LOOKUPS.empty_table(), requests)


def _extension(path: str) -> str:
    last = path.rsplit("/", 1)[-1]
    return last.rsplit(".", 1)[-1] if "." in last else ""


def spread(ctx: Context, rng, count: int, start_hour: float, hours: float) -> np.ndarray:
    """``count`` sorted random times (ms) within ``hours`` from ``start_hour`` of the day."""
    width = int(hours * 3_600_000)
    return np.sort(ctx.start_ms + int(start_hour * 3_600_000) + rng.integers(0, max(width, 1), count))


# ----- the scenarios


@dataclass(frozen=True)
class C2Beacon(Scenario):
    """An implant calling home every ``period_s`` seconds (± ``jitter`` of it), all day: each call
    resolves the C2 name (short TTL), opens a TLS connection of small fixed size, and is a proxy POST
    with an outdated user agent."""

    id: ClassVar[str] = "c2_beacon"
    period_s: float = 300.0
    jitter: float = 0.1
    start_hour: float = 0.0
    hours: float = 24.0
    domain: str = "cdn-telemetry-sync.com"
    request_bytes: int = 420
    response_bytes: int = 1_250
    agent: str = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)"

    def generate(self, ctx: Context) -> Activity:
        rng = ctx.rng(self.id)
        host = ctx.actor(self.id, "workstation", self.victim)
        calls = int(self.hours * 3600 // self.period_s)
        first = int(self.start_hour * 3_600_000 + (self.jitter * self.period_s + 10) * 1000)
        beat = ctx.start_ms + first + np.arange(calls) * int(self.period_s * 1000)
        ts = beat + (rng.uniform(-self.jitter, self.jitter, calls) * self.period_s * 1000).astype(np.int64)
        site = f"api.{self.domain}"
        bot = f"{stable_hash(ctx.org.name[host]) & 0xFFFFFFFF:08x}"
        return web_calls(ctx, self.id, host, ts, site, public_address(self.domain), rng, method="POST",
                         path="/api/v2/check", query=f"?id={bot}", ctype="application/octet-stream",
                         agent=self.agent, sc_bytes=self.response_bytes, cs_bytes=self.request_bytes)


@dataclass(frozen=True)
class ScanVertical(Scenario):
    """One internal host SYN-probes every port from ``first_port`` to ``last_port`` of one server, from
    a fixed source port (as nmap does); open ports answer SYN-ACK (and the scanner resets), closed
    ones RST-ACK."""

    id: ClassVar[str] = "scan_vertical"
    first_port: int = 1
    last_port: int = 1024
    start_hour: float = 14.0
    rate_per_s: float = 200.0
    source_port: int = 54321
    target: str = ""
    open_ports: tuple[int, ...] = (22, 80, 443)

    def generate(self, ctx: Context) -> Activity:
        rng = ctx.rng(self.id)
        scanner = ctx.actor(self.id, "workstation", self.victim)
        target = ctx.actor(self.id, "app", self.target, salt="target")
        ports = rng.permutation(np.arange(self.first_port, self.last_port + 1))
        ts = ctx.start_ms + int(self.start_hour * 3_600_000) + (np.arange(len(ports)) * 1000 / self.rate_per_s).astype(np.int64)
        is_open = np.isin(ports, self.open_ports)
        return connections(self.id, ts, ctx.org.ip[scanner], ctx.org.ip[target], ports,
                           fwd=(np.where(is_open, 2, 1), np.where(is_open, 80, 40)), rev=(1, 40), dur_ms=np.where(is_open, 1, 0),
                           rtt_ms=1, probe=np.where(is_open, activity.PROBE_OPEN, activity.PROBE_CLOSED),
                           sport=self.source_port)


@dataclass(frozen=True)
class ScanHorizontal(Scenario):
    """One internal host SYN-probes ``port`` on every address of its own /24 (``hosts`` addresses):
    live Windows hosts answer SYN-ACK, other live hosts RST-ACK, empty addresses nothing."""

    id: ClassVar[str] = "scan_horizontal"
    port: int = 445
    hosts: int = 254
    start_hour: float = 15.0
    rate_per_s: float = 50.0

    def generate(self, ctx: Context) -> Activity:
        rng = ctx.rng(self.id)
        org = ctx.org
        scanner = ctx.actor(self.id, "workstation", self.victim)
        base = int(org.ip[scanner]) & ~0xFF
        targets = base + 1 + np.arange(min(self.hosts, 254))
        targets = rng.permutation(targets[targets != org.ip[scanner]])
        ts = ctx.start_ms + int(self.start_hour * 3_600_000) + (np.arange(len(targets)) * 1000 / self.rate_per_s).astype(np.int64)
        host = org.host_of(targets)
        live = host >= 0
        listening = live & (org.os[np.maximum(host, 0)] == 0)
        return connections(self.id, ts, org.ip[scanner], targets, self.port,
                           fwd=(np.where(listening, 2, 1), np.where(listening, 80, 40)), rev=(live.astype(np.int64), 40),
                           dur_ms=np.where(listening, 1, 0), rtt_ms=1,
                           probe=np.where(listening, activity.PROBE_OPEN, activity.PROBE_CLOSED))


@dataclass(frozen=True)
class ExfilBulk(Scenario):
    """A large upload to an outside address at an unusual hour: ``total_mb`` over ``connections``
    TLS connections of ``duration_s`` each, one after the other, from a file server."""

    id: ClassVar[str] = "exfil_bulk"
    total_mb: float = 2_000.0
    connections: int = 4
    hour: float = 3.0
    duration_s: float = 3_000.0
    destination: str = ""

    def generate(self, ctx: Context) -> Activity:
        rng = ctx.rng(self.id)
        host = ctx.actor(self.id, "file", self.victim)
        dst = ip_int(self.destination) if self.destination else public_address("exfil-drop/" + str(ctx.seed))
        size = int(self.total_mb * 1e6 / self.connections)
        ts = ctx.start_ms + int(self.hour * 3_600_000) + rng.integers(0, 60_000) + np.arange(self.connections) * int(
            (self.duration_s + 30) * 1000)
        pkts = max(2, size // 1_400)
        return connections(self.id, ts, ctx.org.ip[host], dst, 443, fwd=(pkts, size), rev=(pkts // 2, 40 * (pkts // 2)),
                           dur_ms=int(self.duration_s * 1000), rtt_ms=60)


@dataclass(frozen=True)
class DnsTunnel(Scenario):
    """Data carried in DNS (iodine/dnscat-like): ``queries`` lookups over ``minutes`` of long,
    high-entropy names (base32 payload of ``payload_chars`` characters, then a sequence number)
    under one ``domain``, with TXT and NULL query types answered with encoded data."""

    id: ClassVar[str] = "dns_tunnel"
    domain: str = "t.relay-sync.net"
    queries: int = 1_500
    start_hour: float = 1.0
    minutes: float = 60.0
    payload_chars: int = 100
    qtypes: tuple[str, ...] = ("TXT", "NULL")

    def generate(self, ctx: Context) -> Activity:
        rng = ctx.rng(self.id)
        host = ctx.actor(self.id, "workstation", self.victim)
        ts = spread(ctx, rng, self.queries, self.start_hour, self.minutes / 60)
        alphabet = np.array(list(string.ascii_lowercase + "234567"))
        chars = alphabet[rng.integers(0, len(alphabet), (self.queries, self.payload_chars))]
        names, answers = [], []
        types = rng.choice(self.qtypes, self.queries)
        for i, (row, qtype) in enumerate(zip(chars, types)):
            payload = "".join(row)
            labels = [payload[k:k + 60] for k in range(0, len(payload), 60)]
            names.append(".".join([*labels, f"{i:x}", self.domain]))
            data = rng.bytes(int(rng.integers(40, 180)))
            answers.append(f"TXT {base64.b64encode(data).decode()}" if qtype == "TXT" else f"NULL {data.hex()}")
        codes = np.where(types == "TXT", 16, 10)
        return lookups(ctx, self.id, host, ts, np.array(names, dtype=object), codes, 0, np.array(answers, dtype=object), rng)


@dataclass(frozen=True)
class Dga(Scenario):
    """Malware trying algorithmically generated names: ``names`` lookups within ``minutes``, all
    NXDOMAIN but ``resolved`` of them, which answer and are then contacted over TLS."""

    id: ClassVar[str] = "dga"
    names: int = 400
    resolved: int = 2
    start_hour: float = 10.0
    minutes: float = 10.0
    tlds: tuple[str, ...] = ("com", "net", "org", "info", "biz", "ru")

    def generate(self, ctx: Context) -> Activity:
        rng = ctx.rng(self.id)
        host = ctx.actor(self.id, "workstation", self.victim)
        ts = spread(ctx, rng, self.names, self.start_hour, self.minutes / 60)
        qnames = np.array([_dga_name(ctx.day, k, self.tlds) for k in range(self.names)], dtype=object)
        answered = np.zeros(self.names, bool)
        answered[rng.choice(self.names, min(self.resolved, self.names), replace=False)] = True
        c2 = np.array([public_address(str(n)) for n in qnames[answered]], np.int64)
        answer = np.full(self.names, "", dtype=object)
        answer[answered] = [f"A {a}" for a in ip_text(c2)]
        out = lookups(ctx, self.id, host, ts, qnames, 1, np.where(answered, 0, 3), answer, rng)
        return out + connections(self.id, ts[answered] + 200, ctx.org.ip[host], c2, 443, fwd=(8, 1_800),
                                 rev=(7, 5_200), dur_ms=900, rtt_ms=70)


def _dga_name(day: dt.date, k: int, tlds: tuple[str, ...]) -> str:
    """A date-seeded generated name, as DGA families derive them (here: a linear congruential walk)."""
    state = (day.toordinal() * 7919 + k * 104729) & 0xFFFFFFFF
    letters = []
    for _ in range(10 + (state % 9)):
        state = (1103515245 * state + 12345) & 0x7FFFFFFF
        letters.append(string.ascii_lowercase[(state >> 16) % 26])
    return "".join(letters) + "." + tlds[(state >> 8) % len(tlds)]


@dataclass(frozen=True)
class LongConnection(Scenario):
    """Interactive sessions to an outside address, each ``duration_s`` long (nfpcapd cuts flows at
    3600 s; longer use is more sessions): ``sessions`` back to back from ``start_hour``."""

    id: ClassVar[str] = "long_connection"
    sessions: int = 3
    duration_s: float = 3_300.0
    start_hour: float = 20.0
    port: int = 22
    destination: str = ""

    def generate(self, ctx: Context) -> Activity:
        rng = ctx.rng(self.id)
        host = ctx.actor(self.id, "workstation", self.victim)
        dst = ip_int(self.destination) if self.destination else public_address("long-haul/" + str(ctx.seed))
        dur = int(min(self.duration_s, 3_300) * 1000)
        ts = ctx.start_ms + int(self.start_hour * 3_600_000) + rng.integers(0, 60_000) + np.arange(self.sessions) * (dur + 20_000)
        pkts = dur // 20_000 + 2  # a keep-alive or keystroke at least every 20 s
        return connections(self.id, ts, ctx.org.ip[host], dst, self.port, fwd=(pkts, pkts * 120),
                           rev=(pkts, pkts * 180), dur_ms=dur, rtt_ms=50)


@dataclass(frozen=True)
class LateralMovement(Scenario):
    """A workstation reaching ``targets`` internal hosts over SMB, RDP and WinRM at an odd hour,
    looking each up first."""

    id: ClassVar[str] = "lateral_movement"
    targets: int = 6
    hour: float = 2.0
    ports: tuple[int, ...] = (445, 3389, 5985)

    def generate(self, ctx: Context) -> Activity:
        rng = ctx.rng(self.id)
        org = ctx.org
        source = ctx.actor(self.id, "workstation", self.victim)
        pool = np.flatnonzero(np.isin(org.role, [ROLE[r] for r in ("workstation", "file", "app", "dc")]) &
                              (np.arange(org.size) != source))
        chosen = rand.generator(ctx.seed, "actor", self.id, "targets").choice(pool, min(self.targets, len(pool)), replace=False)
        start = ctx.start_ms + int(self.hour * 3_600_000) + np.arange(len(chosen)) * 240_000 + rng.integers(0, 60_000, len(chosen))
        out = lookups(ctx, self.id, source, start, np.array([org.name[t] for t in chosen], dtype=object), 1, 0,
                      np.array([f"A {a}" for a in ip_text(org.ip[chosen])], dtype=object), rng)
        target, port = np.repeat(chosen, len(self.ports)), np.tile(self.ports, len(chosen))
        ts = np.repeat(start, len(self.ports)) + 500 + np.tile(np.arange(len(self.ports)) * 20_000, len(chosen))
        heavy = port == 3389
        return out + connections(self.id, ts, org.ip[source], org.ip[target], port,
                                 fwd=(np.where(heavy, 400, 30), np.where(heavy, 90_000, 9_000)),
                                 rev=(np.where(heavy, 900, 25), np.where(heavy, 1_200_000, 12_000)),
                                 dur_ms=np.where(heavy, 300_000, 4_000), rtt_ms=1)


@dataclass(frozen=True)
class ProxyRareAgent(Scenario):
    """A program with a user agent no other host uses calling home ``requests`` times a day."""

    id: ClassVar[str] = "proxy_rare_ua"
    requests: int = 24
    site: str = "status.agent-sync.net"
    agent: str = "WinHttpClient/5.1 (updater; cfg=7)"

    def generate(self, ctx: Context) -> Activity:
        rng = ctx.rng(self.id)
        host = ctx.actor(self.id, "workstation", self.victim)
        ts = spread(ctx, rng, self.requests, 0, 24)
        return web_calls(ctx, self.id, host, ts, self.site, public_address(self.site), rng, path="/c/status",
                         query=f"?h={stable_hash(ctx.org.name[host]) & 0xFFFF:04x}", ctype="text/plain",
                         agent=self.agent, sc_bytes=300, cs_bytes=350)


@dataclass(frozen=True)
class ProxyDirectIp(Scenario):
    """Requests to a bare IP address (no DNS lookup), posting to a script."""

    id: ClassVar[str] = "proxy_direct_ip"
    requests: int = 15
    start_hour: float = 9.0
    hours: float = 8.0

    def generate(self, ctx: Context) -> Activity:
        rng = ctx.rng(self.id)
        host = ctx.actor(self.id, "workstation", self.victim)
        ip = public_address("direct-ip/" + str(ctx.seed))
        ts = spread(ctx, rng, self.requests, self.start_hour, self.hours)
        return web_calls(ctx, self.id, host, ts, ip_text([ip])[0], ip, rng, port=80, method="POST", path="/gate.php",
                         ctype="text/html", agent=_browser(ctx, host), sc_bytes=rng.integers(200, 900, self.requests),
                         cs_bytes=rng.integers(600, 3_000, self.requests), resolve=False)


@dataclass(frozen=True)
class ProxyOddContent(Scenario):
    """Downloads whose content type does not fit the path: an executable served as an image."""

    id: ClassVar[str] = "proxy_odd_content"
    requests: int = 10
    site: str = "img.free-wallpapers-hd.top"
    content_type: str = "application/x-dosexec"

    def generate(self, ctx: Context) -> Activity:
        rng = ctx.rng(self.id)
        host = ctx.actor(self.id, "workstation", self.victim)
        ts = spread(ctx, rng, self.requests, 11, 6)
        return web_calls(ctx, self.id, host, ts, self.site, public_address(self.site), rng, path="/images/banner.jpg",
                         ctype=self.content_type, agent=_browser(ctx, host), sc_bytes=rng.integers(200_000, 900_000, self.requests))


@dataclass(frozen=True)
class ProxyUpload(Scenario):
    """Large POST uploads (``size_mb`` each) to a file-sharing site."""

    id: ClassVar[str] = "proxy_upload"
    requests: int = 5
    size_mb: float = 50.0
    site: str = "upload.share-drop.io"
    start_hour: float = 18.0

    def generate(self, ctx: Context) -> Activity:
        rng = ctx.rng(self.id)
        host = ctx.actor(self.id, "workstation", self.victim)
        ts = spread(ctx, rng, self.requests, self.start_hour, 2)
        return web_calls(ctx, self.id, host, ts, self.site, public_address(self.site), rng, method="POST",
                         path="/api/upload", ctype="application/json", agent=_browser(ctx, host), sc_bytes=400,
                         cs_bytes=int(self.size_mb * 1e6))


def _browser(ctx: Context, host: int) -> str:
    return web.ALL_AGENTS[ctx.background.browser_agent[host]]


SCENARIOS: dict[str, type[Scenario]] = {cls.id: cls for cls in (
    C2Beacon, ScanVertical, ScanHorizontal, ExfilBulk, DnsTunnel, Dga, LongConnection, LateralMovement,
    ProxyRareAgent, ProxyDirectIp, ProxyOddContent, ProxyUpload,
)}


def configure(ids: list[str], settings: list[str]) -> list[Scenario]:
    """Scenario instances from ids and ``ID.FIELD=VALUE`` settings (values parsed by field type)."""
    unknown = [i for i in ids if i not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")
    params: dict[str, dict[str, object]] = {i: {} for i in ids}
    for setting in settings:
        key, sep, value = setting.partition("=")
        sid, dot, name = key.partition(".")
        if not (sep and dot):
            raise ValueError(f"--set {setting!r}: expected ID.FIELD=VALUE")
        if sid not in params:
            raise ValueError(f"--set {setting!r}: scenario {sid} is not switched on")
        fields = {f.name: f for f in dataclasses.fields(SCENARIOS[sid])}
        if name not in fields:
            raise ValueError(f"--set {setting!r}: {sid} has no parameter {name} (it has {', '.join(fields)})")
        params[sid][name] = _parse(value, type(getattr(SCENARIOS[sid](), name)))
    return [SCENARIOS[i](**params[i]) for i in ids]


def _parse(value: str, kind: type) -> object:
    if kind is tuple:
        items = [v for v in value.split(",") if v]
        return tuple(int(v) if v.lstrip("-").isdigit() else v for v in items)
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a {kind.__name__}") from None
