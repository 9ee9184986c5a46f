"""Background traffic of one simulated day: what the organisation's hosts do when nobody attacks.

The unit is a *session*: a host uses a service once (browses a site, opens a share, asks a domain
controller, polls a device). A session looks its target up in DNS first (when the service does),
then opens one or more connections; web sessions also make proxy requests, and the connections'
bytes and packets are the sum of those requests' sizes plus TCP/TLS overhead, so that flows, DNS and
proxy logs tell one consistent story.

Who does what, and when:

* each role has its own mix of services (`MIXES`); IT workstations also use SSH and RDP;
* workstations follow their user's working day (start, length, lunch dip; weekends mostly idle),
  servers a flat load with a business-hours bump;
* web sites come from the host's own favourites most of the time (`network.Organisation`), else
  from the global popularity of the shipped list, so hosts differ and stay themselves day to day;
* sizes and durations are log-normal (heavy-tailed), per service;
* scheduled work: the monitoring host polls servers and printers over SNMP at a fixed period (a
  benign beacon), and the backup host pulls large nightly transfers from the file and database servers.

Size: the day has exactly the number of flows asked for. Scheduled work is made first; sessions are
then drawn until they exceed the rest, a seeded random subset of them that fits is kept (thinning
keeps every distribution), and the last few flows are one-way syslog datagrams from servers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spot_assets.simulation import activity, dns, rand, web
from spot_assets.simulation.activity import Activity
from spot_assets.simulation.domains import CATEGORIES, Domains
from spot_assets.simulation.network import OS, ROLE, ROLES, SERVER_ROLES, Organisation, ip_text

TCP, UDP = 6, 17
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Service:
    proto: int
    ports: tuple[int, ...]
    target: str  # "web"/"update"/"quic"/"rtc"/"email" (external host names) or a role ("server": any server)
    conns: float = 1.0  # mean connections per session
    fwd: tuple[float, float] = (2_000, 1.0)  # median bytes and log sigma, initiator to responder
    rev: tuple[float, float] = (20_000, 1.5)
    pkt: float = 1_000.0  # mean bytes per packet
    dur: tuple[float, float] = (5.0, 1.0)  # median seconds and log sigma
    lookup: str = "name"  # "name" (A, and AAAA from dual-stack hosts), "srv", "noise" or "none"
    proxied: bool = False  # a web service: its connections carry proxy requests


SERVICES = {
    "web_https": Service(TCP, (443,), "web", conns=3.0, proxied=True),
    "web_http": Service(TCP, (80,), "web", conns=2.0, proxied=True),
    "update": Service(TCP, (443, 80), "update", conns=1.5, proxied=True),
    "quic": Service(UDP, (443,), "quic", conns=1.2, fwd=(30_000, 1.2), rev=(400_000, 1.5), pkt=1_200, dur=(60, 1.2)),
    "rtc": Service(UDP, (3478, 3479, 3480, 3481), "rtc", fwd=(2e6, 1.0), rev=(3e6, 1.0), pkt=900, dur=(900, 0.8)),
    "smb": Service(TCP, (445,), "file", conns=1.3, fwd=(20_000, 1.5), rev=(400_000, 2.0), pkt=1_100, dur=(30, 1.5)),
    "ldap": Service(TCP, (389,), "dc", conns=1.5, fwd=(1_500, 0.8), rev=(4_000, 1.0), pkt=300, dur=(2, 1.0), lookup="srv"),
    "kerberos": Service(TCP, (88,), "dc", fwd=(1_800, 0.4), rev=(1_600, 0.4), pkt=600, dur=(0.1, 0.5), lookup="srv"),
    "ntp": Service(UDP, (123,), "dc", fwd=(76, 0.0), rev=(76, 0.0), pkt=76, dur=(0.0, 0.0), lookup="none"),
    "print": Service(TCP, (9100,), "printer", fwd=(400_000, 1.2), rev=(2_000, 0.5), pkt=1_400, dur=(20, 1.0)),
    "imap": Service(TCP, (993,), "mail", fwd=(3_000, 1.0), rev=(60_000, 2.0), pkt=800, dur=(120, 1.5)),
    "intranet": Service(TCP, (443, 8443), "app", conns=2.0, fwd=(3_000, 1.0), rev=(40_000, 1.5), pkt=900, dur=(15, 1.2)),
    "ssh": Service(TCP, (22,), "dev", fwd=(40_000, 1.5), rev=(200_000, 1.5), pkt=150, dur=(600, 1.2)),
    "rdp": Service(TCP, (3389,), "server", fwd=(300_000, 1.2), rev=(3e6, 1.2), pkt=400, dur=(1_200, 1.0)),
    "db": Service(TCP, (5432, 1433, 3306), "db", conns=4.0, fwd=(2_000, 1.2), rev=(20_000, 1.8), pkt=500, dur=(2, 1.5)),
    "smtp": Service(TCP, (25,), "email", fwd=(40_000, 1.5), rev=(2_000, 0.4), pkt=1_000, dur=(3, 1.0)),
    "dns": Service(UDP, (53,), "none", conns=0.0, lookup="noise"),
}
SERVICE_NAMES = tuple(SERVICES)

_WORKSTATION = {"web_https": 48, "web_http": 5, "quic": 5, "update": 3, "rtc": 1.5, "smb": 8, "ldap": 4,
                "kerberos": 3, "ntp": 1, "print": 0.6, "imap": 2.5, "intranet": 4, "dns": 8}
MIXES = {
    "workstation": _WORKSTATION,
    "admin": {**_WORKSTATION, "ssh": 3, "rdp": 2},
    "app": {"db": 40, "web_https": 10, "update": 5, "ldap": 5, "ntp": 2, "dns": 5},
    "db": {"update": 5, "ntp": 2, "dns": 3, "ldap": 1},
    "file": {"ldap": 10, "update": 5, "ntp": 2, "dns": 3},
    "dev": {"web_https": 20, "update": 10, "db": 10, "ntp": 2, "dns": 3},
    "dc": {"update": 5, "ntp": 5, "dns": 5},
    "resolver": {"update": 2, "ntp": 1},
    "proxy": {"update": 2, "ntp": 1},
    "mail": {"smtp": 30, "update": 3, "ldap": 5, "ntp": 1},
    "monitor": {"web_https": 5, "update": 2, "ntp": 1},
    "backup": {"update": 1, "ntp": 1},
}
# Sessions per day of a host of each role, relative to a typical workstation (printers start none).
ROLE_RATE = {"workstation": 1.0, "app": 4.0, "db": 1.0, "file": 1.0, "dev": 2.0, "dc": 2.0, "resolver": 0.3,
             "proxy": 0.3, "mail": 3.0, "monitor": 1.0, "backup": 0.3, "printer": 0.0}
TARGET_CATEGORIES = {"update": {"update", "security", "software", "pki"}, "quic": {"video", "search", "social"},
                     "rtc": {"collab", "chat"}, "email": {"email"}}
NOISE = {"wpad": 15, "suffix": 20, "ptr": 20, "typo": 10, "internal": 15, "prefetch": 20}
AAAA_SHARE = 0.5  # of a dual-stack (Windows, macOS) host's lookups that also ask for AAAA
IPV6_DOMAINS = 150  # the most popular domains answer AAAA; the others have no AAAA record
POLL_SHARE, POLL_PERIOD_S = 0.03, 300  # monitoring polls: share of the day's flows, shortest period


def lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return median * rng.lognormal(0.0, sigma, n) if sigma else np.full(n, float(median))


def group_offsets(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For items repeated ``counts`` times: the group of each item and its position in the group."""
    group = np.repeat(np.arange(len(counts)), counts)
    return group, np.arange(len(group)) - np.repeat(np.cumsum(counts) - counts, counts)


def cumsum_within(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Running sums of ``values`` restarting at each group of ``counts`` items (exclusive: first is 0)."""
    total = np.cumsum(values) - values
    first = np.cumsum(counts) - counts  # each group's first item (past the end for trailing empty groups)
    base = total[np.minimum(first, len(total) - 1)] if len(total) else np.zeros(len(counts), total.dtype)
    return total - np.repeat(base, counts)


def day_start_ms(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp() * 1000)


def hourly_profiles(org: Organisation, day: dt.date) -> np.ndarray:
    """(hosts, 24) relative activity of each host in each hour of ``day``."""
    hours = np.arange(24) + 0.5
    start = org.work_start[:, None]
    end = start + org.work_hours[:, None]
    working = (hours >= start) & (hours < end)
    lunch = np.abs(hours - (start + 4.0)) < 0.75
    shoulder = ((hours >= start - 1.5) & (hours < start)) | ((hours >= end) & (hours < end + 2.0))
    person = np.where(working, np.where(lunch, 0.55, 1.0), np.where(shoulder, 0.25, 0.02))
    business = (hours >= 8) & (hours < 18)
    machine = np.broadcast_to(0.55 + 0.45 * business, person.shape)
    if day.weekday() >= 5:
        person = np.where(org.weekend[:, None], 0.35 * person, 0.015)
        machine = np.full(person.shape, 0.55)
    return np.where((org.role == ROLE["workstation"])[:, None], person, machine)


class Background:
    """Builds the background `Activity` of days of one organisation."""

    def __init__(self, org: Organisation, doms: Domains, seed: int) -> None:
        self.org, self.doms, self.seed = org, doms, seed
        self.catalogue = web.catalogue()
        self.resolvers = org.of_role("resolver")
        self.host_names = np.array(org.name, dtype=object)
        self.domain_hosts = np.array(doms.hosts, dtype=object)
        self.categories = np.array([CATEGORIES[c][0] for c in doms.category], dtype=object)
        # Each host's browser, as an index into web.ALL_AGENTS.
        browsers = [web.BROWSERS[OS[o]] for o in org.os]
        self.browser_agent = np.array([web.ALL_AGENTS.index(b[int(p * len(b))]) for b, p in zip(browsers, org.browser)])
        is_server = np.isin(org.role, [ROLE[r] for r in SERVER_ROLES])
        mix_name = np.where(org.admin, "admin", np.array(ROLES, dtype=object)[org.role])
        self.mix = np.where(is_server | (org.role == ROLE["workstation"]), mix_name, "")

    # ----- the day

    def day(self, day: dt.date, flows: int) -> Activity:
        rng = lambda *names: rand.day_generator(self.seed, day, "background", *names)  # noqa: E731
        scheduled = self._polls(day, int(flows * POLL_SHARE) // 2, rng("polls")) + self._backups(day, rng("backups"))
        left = flows - scheduled.flow_count()
        if left < 0:
            raise ValueError(f"{flows} flows a day is too few for this organisation's scheduled traffic "
                             f"({scheduled.flow_count()} flows); ask for more flows or fewer hosts")
        sessions = self._sessions_for(day, left, rng)
        built = self._build(day, sessions, rng("build"))
        filler = self._syslog(day, left - built.flow_count(), rng("syslog"))
        return scheduled + built + filler

    def _sessions_for(self, day: dt.date, flows: int, rng) -> dict[str, np.ndarray]:
        """Sessions whose flows add up to at most ``flows``, as few short of it as one session's."""
        parts = [self._sessions(day, 0, rng("sessions", 0))]
        total, per_session = 0, 4.0
        while total < flows:
            batch = self._sessions(day, int(np.ceil((flows - total) / per_session * 1.2)) + 1, rng("sessions", len(parts)))
            parts.append(batch)
            total += int(batch["flows"].sum())
            per_session = max(1.0, float(batch["flows"].mean()))
        sessions = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        # Keep the longest prefix of a random order that fits.
        order = rng("thinning").permutation(len(sessions["flows"]))
        keep = np.sort(order[np.cumsum(sessions["flows"][order]) <= flows])
        return {k: v[keep] for k, v in sessions.items()}

    def _sessions(self, day: dt.date, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        org = self.org
        profile = hourly_profiles(org, day)
        rate = np.array([ROLE_RATE[ROLES[r]] for r in org.role]) * org.activity * profile.sum(1)
        host = rng.choice(org.size, n, p=rate / rate.sum())
        cum = np.cumsum(profile / profile.sum(1, keepdims=True), axis=1)
        hour = np.minimum((cum[host] < rng.random(n)[:, None]).sum(1), 23)
        ts = day_start_ms(day) + hour * 3_600_000 + rng.integers(0, 3_600_000, n)
        service = np.empty(n, np.int16)
        for mix_name in np.unique(self.mix[host]):
            if not mix_name:
                continue
            members = np.flatnonzero(self.mix[host] == mix_name)
            mix = MIXES[mix_name]
            weights = np.array(list(mix.values()))
            codes = np.array([SERVICE_NAMES.index(name) for name in mix])
            service[members] = rng.choice(codes, len(members), p=weights / weights.sum())
        conns = np.zeros(n, np.int64)
        lookups = np.zeros(n, np.int64)
        dual = rng.random(n) < AAAA_SHARE
        dual &= org.os[host] != OS.index("linux")  # Linux hosts here ask for A only
        for code, name in enumerate(SERVICE_NAMES):
            svc = SERVICES[name]
            members = service == code
            if svc.conns > 0:
                conns[members] = np.minimum(1 + rng.poisson(svc.conns - 1, int(members.sum())), 40)
            lookups[members] = {"none": 0, "srv": 1, "noise": 1}.get(svc.lookup, 1 + dual[members])
        order = np.argsort(ts, kind="stable")
        sessions = {"host": host, "service": service, "ts": ts, "conns": conns, "lookups": lookups,
                    "flows": 2 * conns + 2 * lookups}  # every background connection is answered
        return {k: v[order] for k, v in sessions.items()}

    # ----- sessions -> connections, lookups, requests

    def _build(self, day: dt.date, s: dict[str, np.ndarray], rng: np.random.Generator) -> Activity:
        n = len(s["host"])
        target_ip, target_name, site = self._targets(s, rng)
        external = site >= 0
        domain = np.where(external, self.doms.host_domain[np.maximum(site, 0)], -1)
        looked = self._lookups(s, target_name, target_ip, domain, rng)
        # The first connection follows the (last) lookup's answer.
        delay = np.zeros(n, np.int64)
        if looked.num_rows:
            owner = np.repeat(np.arange(n), s["lookups"])
            ends = looked["ts_ms"].to_numpy() + looked["delay_ms"].to_numpy() - np.repeat(s["ts"], s["lookups"])
            np.maximum.at(delay, owner, ends)
        sess, _ = group_offsets(s["conns"])
        svc = s["service"][sess]
        ports = np.zeros(n, np.int64)
        for code, name in enumerate(SERVICE_NAMES):
            members = s["service"] == code
            ports[members] = rng.choice(SERVICES[name].ports, int(members.sum()))
        gaps = rng.exponential(15_000.0, len(sess)).astype(np.int64)
        start = s["ts"][sess] + delay[sess] + 1 + rng.integers(0, 20, len(sess)) + cumsum_within(gaps, s["conns"])
        rtt = np.where(external[sess], rng.integers(8, 120, len(sess)), rng.integers(0, 3, len(sess)))
        conns = {
            "ts_ms": start, "src": self.org.ip[s["host"][sess]], "dst": target_ip[sess], "sport": -1,
            "dport": ports[sess], "proto": np.array([SERVICES[n].proto for n in SERVICE_NAMES])[svc],
            "rtt_ms": rtt, "probe": activity.PROBE_NONE,
        }
        proxied = np.array([SERVICES[n].proxied for n in SERVICE_NAMES])[svc]
        self._sizes(conns, svc, rng)
        requests = self._requests(conns, proxied, s["host"][sess], site[sess], domain[sess], rng)
        return Activity(activity.table(conns, activity.CONNECTIONS), looked, requests)

    def _targets(self, s, rng) -> tuple[np.ndarray, ...]:
        """Per session: the address and name it reaches, and the index of that name among the
        domains' host names (-1 for an internal host)."""
        org, doms = self.org, self.doms
        n = len(s["host"])
        ip, name = np.zeros(n, np.uint32), np.empty(n, dtype=object)
        site = np.full(n, -1)
        for code, service in enumerate(SERVICE_NAMES):
            members = np.flatnonzero(s["service"] == code)
            target = SERVICES[service].target
            if not len(members) or target == "none":
                continue
            if target in ROLE or target == "server":
                roles = [ROLE[target]] if target in ROLE else [ROLE[r] for r in ("file", "app", "db", "dev")]
                pool = np.flatnonzero(np.isin(org.role, roles))
                home = pool[s["host"][members] % len(pool)]  # each client mostly uses the same server
                chosen = np.where(rng.random(len(members)) < 0.8, home, rng.choice(pool, len(members)))
                ip[members], name[members] = org.ip[chosen], self.host_names[chosen]
                continue
            if target == "web":
                d = self._favourite_domains(s["host"][members], rng)
            else:
                pool = doms.of_categories(TARGET_CATEGORIES[target])
                w = doms.weight[pool]
                d = rng.choice(pool, len(members), p=w / w.sum())
            h = doms.pick_hosts(d, rng)
            ip[members], name[members], site[members] = doms.host_ip[h], self.domain_hosts[h], h
        return ip, name, site

    def _favourite_domains(self, hosts: np.ndarray, rng) -> np.ndarray:
        fav = self.org.favourites
        rank = np.minimum(rng.zipf(1.3, len(hosts)) - 1, fav.shape[1] - 1)
        w = self.doms.weight
        anywhere = rng.choice(len(w), len(hosts), p=w / w.sum())
        return np.where(rng.random(len(hosts)) < 0.7, fav[hosts, rank], anywhere)

    def _sizes(self, c: dict, svc: np.ndarray, rng) -> None:
        """Bytes, packets and duration of non-web connections (web ones get theirs from their requests)."""
        n = len(svc)
        for key in ("fwd_bytes", "fwd_pkts", "rev_bytes", "rev_pkts", "dur_ms"):
            c[key] = np.zeros(n, np.int64)
        for code, name in enumerate(SERVICE_NAMES):
            members = np.flatnonzero(svc == code)
            if not len(members):
                continue
            service = SERVICES[name]
            least = 2 if service.proto == TCP else 1
            for side, (median, sigma) in (("fwd", service.fwd), ("rev", service.rev)):
                size = lognormal(rng, median, sigma, len(members))
                pkts = np.maximum(least, np.rint(size / service.pkt * rng.uniform(0.8, 1.2, len(members))))
                c[f"{side}_pkts"][members] = pkts
                c[f"{side}_bytes"][members] = np.maximum(size, 40 * pkts)
            c["dur_ms"][members] = lognormal(rng, service.dur[0] * 1000, service.dur[1], len(members))

    def _requests(self, c: dict, proxied: np.ndarray, host: np.ndarray, site: np.ndarray,
                  domain: np.ndarray, rng) -> pa.Table:
        """Proxy requests of the web connections; their sizes and times set those connections' flows."""
        conn = np.flatnonzero(proxied)
        per = 1 + rng.poisson(np.where(np.isin(domain[conn], self.doms.of_categories({"update", "pki"})), 0.3, 1.5))
        owner, first = group_offsets(per)
        owner = conn[owner]
        is_first = first == 0
        cat = self.catalogue
        res = cat.pick(site[owner], rng)
        kind = cat.kind[res]
        status = web.statuses(kind, rng)
        post = cat.post[res]
        size = cat.size[res] * rng.lognormal(0.0, 0.25, len(res))
        small = np.isin(status, (204, 302, 304))
        sc = np.where(small, rng.integers(200, 450, len(res)), np.where(status == 404, rng.integers(800, 5_000, len(res)), size))
        sc = sc.astype(np.int64)
        path, query = cat.path.take(pa.array(res)), cat.query.take(pa.array(res))
        url_len = pc.add(pc.utf8_length(path), pc.utf8_length(query)).to_numpy()
        cs = (lognormal(rng, 600, 0.3, len(res)) + url_len + np.where(post, lognormal(rng, 2_000, 1.0, len(res)), 0)).astype(np.int64)
        taken = np.maximum(1, lognormal(rng, 1.0, 0.6, len(res)) * (60 + sc / 2_000)).astype(np.int64)
        think = rng.exponential(2_000.0, len(res)).astype(np.int64)
        rtt = c["rtt_ms"][owner]
        ts = c["ts_ms"][owner] + 2 * rtt + cumsum_within(taken + think, per)
        # The connections' flows: the requests plus TCP/TLS overhead and an idle keep-alive tail.
        sc_sum, cs_sum = np.bincount(owner, sc, len(proxied))[conn], np.bincount(owner, cs, len(proxied))[conn]
        end = np.zeros(len(proxied), np.int64)
        np.maximum.at(end, owner, ts + taken)
        https = c["dport"][conn] == 443
        rev_pkts = 2 + np.ceil(sc_sum / 1_400)
        fwd_pkts = 3 + np.ceil(cs_sum / 1_400) + np.ceil(rev_pkts / 2)
        c["rev_pkts"][conn], c["fwd_pkts"][conn] = rev_pkts, fwd_pkts
        c["rev_bytes"][conn] = sc_sum + 40 * rev_pkts + np.where(https, 4_500, 0)
        c["fwd_bytes"][conn] = cs_sum + 40 * fwd_pkts + np.where(https, 600, 0)
        c["dur_ms"][conn] = end[conn] - c["ts_ms"][conn] + rng.integers(500, 30_000, len(conn))
        host_names = pa.array(self.domain_hosts[site[owner]], pa.string())
        return self._request_table(c, owner, is_first, host[owner], host_names, domain[owner], res, status,
                                   sc, cs, taken, ts, post, rng)

    def _request_table(self, c, owner, is_first, host, host_names, domain, res, status, sc, cs, taken, ts, post,
                       rng) -> pa.Table:
        cat, org = self.catalogue, self.org
        https = c["dport"][owner] == 443
        scheme = pa.array(np.where(https, "https", "http"))
        path = cat.path.take(pa.array(res))
        # Referer: the first page of the connection for later requests; sometimes a search engine for the first.
        first_url = pc.binary_join_element_wise(scheme, pa.scalar("://"), host_names, path, "")
        conn_first = np.repeat(np.flatnonzero(is_first), np.diff(np.append(np.flatnonzero(is_first), len(owner))))
        referer = pc.if_else(
            pa.array(is_first),
            pc.if_else(pa.array(rng.random(len(owner)) < 0.25), pa.scalar("https://www.google.com/"), pa.scalar("")),
            first_url.take(pa.array(conn_first)),
        )
        kind = cat.kind[res]
        static = np.isin(kind, [web.KIND_NAMES.index(k) for k in web.STATIC])
        denied = status == 403
        action = np.where(denied, "TCP_DENIED", np.where(static & (status == 200) & (rng.random(len(res)) < 0.3),
                                                        "TCP_HIT", "TCP_NC_MISS"))
        # No body for 204/304; an error or redirect page is HTML whatever was asked for.
        ctype = pc.if_else(pa.array(status >= 300), pa.scalar("text/html"), cat.ctype.take(pa.array(res)))
        ctype = pc.if_else(pa.array(np.isin(status, (204, 304))), pa.scalar(""), ctype)
        users = np.array([u or "" for u in org.user], dtype=object)
        return activity.table({
            "ts_ms": ts, "time_taken": taken, "client": org.ip[host], "server": c["dst"][owner],
            "username": users[host], "method": np.where(post, "POST", "GET"), "scheme": scheme, "host": host_names,
            "port": c["dport"][owner], "path": path, "query": cat.query.take(pa.array(res)),
            "extension": cat.extension.take(pa.array(res)), "ctype": ctype, "status": status, "action": action,
            "filter": np.where(denied, "DENIED", "OBSERVED"), "category": self.categories[domain],
            "referer": referer, "agent": pa.array(web.ALL_AGENTS).take(pa.array(self._agents(host, domain, rng))),
            "sc_bytes": sc, "cs_bytes": cs,
        }, activity.REQUESTS)

    def _agents(self, host: np.ndarray, domain: np.ndarray, rng) -> np.ndarray:
        """The user agent of each request: the host's browser, or the program that talks to that kind of site."""
        agent = self.browser_agent[host].copy()
        category = np.array(self.doms.category, dtype=object)[domain]
        os_name = np.array(OS, dtype=object)[self.org.os[host]]
        servers = self.org.role[host] != ROLE["workstation"]
        programs = rng.random(len(host)) < 0.7
        for (cat, os_), agents in web.SYSTEM_AGENTS.items():
            members = np.flatnonzero((os_name == os_) & (((category == cat) & programs) | (servers & (cat == "api"))))
            if len(members):
                agent[members] = [web.ALL_AGENTS.index(a) for a in rng.choice(agents, len(members))]
        return agent

    def _lookups(self, s, target_name, target_ip, domain, rng) -> pa.Table:
        """Each session's DNS lookups, just before its first connection."""
        owner, which = group_offsets(s["lookups"])
        host = s["host"][owner]
        kind = np.array([SERVICES[n].lookup for n in SERVICE_NAMES], dtype=object)[s["service"][owner]]
        qname = target_name[owner].copy()
        qtype = np.where(which == 1, 28, 1)
        answer = np.where(qtype == 1, np.char.add("A ", ip_text(target_ip[owner]).astype(str)).astype(object), "")
        with_v6 = (qtype == 28) & (domain[owner] >= 0) & (domain[owner] < IPV6_DOMAINS)
        answer[with_v6] = [f"AAAA {_ipv6_of(int(ip))}" for ip in target_ip[owner][with_v6]]
        rcode = np.zeros(len(owner), np.int64)
        srv = kind == "srv"
        if srv.any():
            dcs = self.host_names[self.org.of_role("dc")]
            port = np.where(s["service"][owner][srv] == SERVICE_NAMES.index("kerberos"), 88, 389)
            proto = np.where(port == 88, "_kerberos", "_ldap")
            qname[srv] = [f"{p}._tcp.dc._msdcs.{self.org.config.domain}" for p in proto]
            qtype[srv] = 33
            answer[srv] = ["|".join(f"SRV 0 100 {p} {dc}" for dc in dcs) for p in port]
        noise = kind == "noise"
        if noise.any():
            qname[noise], qtype[noise], rcode[noise], answer[noise] = self._noise(host[noise], rng)
        delay = np.where(rng.random(len(owner)) < 0.7, rng.integers(1, 4, len(owner)),
                         np.clip(lognormal(rng, 25, 0.8, len(owner)), 2, 2_000)).astype(np.int64)
        # A second lookup (AAAA) goes out right after the first is answered.
        first_of = (np.cumsum(s["lookups"]) - s["lookups"])[owner]
        ts = s["ts"][owner] + np.where(which == 1, delay[first_of] + 1, 0)
        return self.lookup_table(ts, delay, host, qname, qtype, rcode, answer, rng)

    def lookup_table(self, ts, delay, host, qname, qtype, rcode, answer, rng, scenario=None) -> pa.Table:
        """Lookups of internal ``host`` ids through their resolvers, from an ephemeral port."""
        org = self.org
        primary = self.resolvers[host % len(self.resolvers)]
        resolver = np.where(rng.random(len(host)) < 0.9, primary, rng.choice(self.resolvers, len(host)))
        lo, hi = org.ephemeral_range(host)
        return activity.table({
            "ts_ms": ts, "delay_ms": delay, "client": org.ip[host], "resolver": org.ip[resolver],
            "cport": lo + (rng.random(len(host)) * (hi - lo)).astype(np.int64), "qname": qname.astype(object),
            "qtype": qtype, "rcode": rcode, "answer": answer.astype(object), "scenario": scenario,
        }, activity.LOOKUPS)

    def _noise(self, hosts: np.ndarray, rng) -> tuple[np.ndarray, ...]:
        """Lookups no connection follows: WPAD, search-suffix and typo misses, reverse lookups, prefetches."""
        org, doms, zone = self.org, self.doms, self.org.config.domain
        n = len(hosts)
        kinds = rng.choice(list(NOISE), n, p=np.array(list(NOISE.values())) / sum(NOISE.values()))
        popular = doms.pick_hosts(rng.choice(len(doms.weight), n, p=doms.weight / doms.weight.sum()), rng)
        inside = rng.integers(0, org.size, n)
        qname, qtype = np.empty(n, dtype=object), np.ones(n, np.int64)
        rcode, answer = np.full(n, 3), np.full(n, "", dtype=object)
        for i, kind in enumerate(kinds):
            if kind == "wpad":
                qname[i] = f"wpad.{zone}"
            elif kind == "suffix":
                qname[i] = f"{doms.hosts[popular[i]]}.{zone}"
            elif kind == "typo":
                name = doms.hosts[popular[i]]
                cut = int(rng.integers(0, max(1, name.index(".") if "." in name else 1)))
                qname[i] = name[:cut] + name[cut] + name[cut:]
            elif kind == "ptr":
                ip = int(org.ip[inside[i]])
                qname[i] = f"{ip & 255}.{ip >> 8 & 255}.{ip >> 16 & 255}.{ip >> 24}.in-addr.arpa"
                qtype[i], rcode[i], answer[i] = 12, 0, f"PTR {org.name[inside[i]]}"
            elif kind == "internal":
                qname[i], rcode[i], answer[i] = org.name[inside[i]], 0, f"A {ip_text([org.ip[inside[i]]])[0]}"
            else:
                qname[i], rcode[i] = doms.hosts[popular[i]], 0
                answer[i] = f"A {ip_text([doms.host_ip[popular[i]]])[0]}"
        return qname, qtype, rcode, answer

    # ----- scheduled and filler traffic

    def _polls(self, day: dt.date, polls: int, rng) -> Activity:
        """SNMP polls from the monitoring host, each device at its own fixed period and phase."""
        org = self.org
        devices = np.flatnonzero(np.isin(org.role, [ROLE[r] for r in (*SERVER_ROLES, "printer")])
                                 & (org.role != ROLE["monitor"]))
        per_device = min(86_400 // POLL_PERIOD_S, polls // max(len(devices), 1))
        if per_device == 0:
            devices, per_device = devices[:polls], 1
        period = 86_400_000 // per_device
        phase = rng.integers(0, period, len(devices))
        device, k = group_offsets(np.full(len(devices), per_device))
        ts = day_start_ms(day) + phase[device] + k * period + rng.integers(0, 2_000, len(device))
        monitor = org.of_role("monitor")[0]
        return Activity(activity.table({
            "ts_ms": ts, "src": np.full(len(ts), org.ip[monitor]), "dst": org.ip[devices[device]], "sport": -1,
            "dport": 161, "proto": UDP, "dur_ms": 0, "fwd_pkts": 1, "fwd_bytes": rng.integers(80, 120, len(ts)),
            "rev_pkts": 1, "rev_bytes": rng.integers(90, 600, len(ts)), "rtt_ms": rng.integers(1, 4, len(ts)),
            "probe": activity.PROBE_NONE,
        }, activity.CONNECTIONS), activity.LOOKUPS.empty_table(), activity.REQUESTS.empty_table())

    def _backups(self, day: dt.date, rng) -> Activity:
        """Nightly transfers from the file and database servers to the backup host (jumbo frames)."""
        org = self.org
        sources = np.flatnonzero(np.isin(org.role, [ROLE["file"], ROLE["db"]]))
        streams = 1 + rng.integers(0, 3, len(sources))
        source, k = group_offsets(streams)
        size = np.minimum(lognormal(rng, 3e8, 0.7, len(source)), 2e9).astype(np.int64)
        start = day_start_ms(day) + (1 + sources[source] % 3) * 3_600_000 + k * 60_000 + rng.integers(0, 600_000, len(source))
        pkts = np.ceil(size / 8_960).astype(np.int64)
        backup = org.of_role("backup")[0]
        return Activity(activity.table({
            "ts_ms": start, "src": np.full(len(source), org.ip[backup]), "dst": org.ip[sources[source]], "sport": -1,
            "dport": 445, "proto": TCP, "dur_ms": np.minimum(size // 2_000, 3_000_000), "fwd_pkts": 2 + pkts // 2,
            "fwd_bytes": 40 * (2 + pkts // 2) + 2_000, "rev_pkts": pkts, "rev_bytes": size,
            "rtt_ms": 1, "probe": activity.PROBE_NONE,
        }, activity.CONNECTIONS), activity.LOOKUPS.empty_table(), activity.REQUESTS.empty_table())

    def _syslog(self, day: dt.date, count: int, rng) -> Activity:
        """One-way syslog datagrams from servers to the monitoring host: exactly ``count`` flows."""
        org = self.org
        servers = np.flatnonzero(np.isin(org.role, [ROLE[r] for r in SERVER_ROLES]) & (org.role != ROLE["monitor"]))
        src = rng.choice(servers, count)
        return Activity(activity.table({
            "ts_ms": np.sort(day_start_ms(day) + rng.integers(0, DAY_MS, count)), "src": org.ip[src],
            "dst": np.full(count, org.ip[org.of_role("monitor")[0]]), "sport": -1, "dport": 514, "proto": UDP,
            "dur_ms": 0, "fwd_pkts": 1, "fwd_bytes": rng.integers(60, 400, count), "rev_pkts": 0, "rev_bytes": 0,
            "rtt_ms": 0, "probe": activity.PROBE_NONE,
        }, activity.CONNECTIONS), activity.LOOKUPS.empty_table(), activity.REQUESTS.empty_table())


def _ipv6_of(ip: int) -> str:
    """A stable global IPv6 address standing for an IPv4 service address."""
    return f"2606:{ip >> 16 & 0xFFFF:x}:{ip & 0xFFFF:x}::{(ip * 2654435761) & 0xFFFF:x}"
