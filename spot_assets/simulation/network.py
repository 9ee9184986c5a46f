"""The simulated organisation: its address ranges, its hosts and what each host is and does.

Everything here depends on the organisation's seed only, never on the day, so that a host keeps its
role, address, user, browser, working hours and favourite sites from one simulated day to the next:
a topic model learns each host's habits, and an attack is a departure from them.

Layout: workstations fill the first range, servers (and the resolvers, proxy, domain controllers,
monitoring and backup hosts) the second, printers the last; with fewer ranges, later roles share
the last range given. Addresses are handed out from a seeded shuffle of each range's usable hosts.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spot_assets.simulation import rand

# Roles, in the order their codes are used in arrays.
ROLES = ("workstation", "file", "app", "db", "dev", "dc", "resolver", "proxy", "mail", "monitor", "backup", "printer")
ROLE = {name: code for code, name in enumerate(ROLES)}
SERVER_ROLES = ("file", "app", "db", "dev", "dc", "resolver", "proxy", "mail", "monitor", "backup")
# How many hosts of each role: a fixed count, or one per N hosts (at least one).
_FIXED = {"dc": 2, "resolver": 2, "proxy": 1, "mail": 1, "monitor": 1, "backup": 1}
_PER = {"file": 150, "app": 100, "db": 300, "dev": 200, "printer": 60}
_NAMES = {"workstation": "ws-{:04d}", "file": "fs{:02d}", "app": "app{:02d}", "db": "db{:02d}", "dev": "dev{:02d}",
          "dc": "dc{:02d}", "resolver": "ns{:02d}", "proxy": "proxy{:02d}", "mail": "mail{:02d}",
          "monitor": "mon{:02d}", "backup": "bkp{:02d}", "printer": "prn-{:03d}"}

OS = ("windows", "mac", "linux")
WINDOWS_SERVERS = ("dc", "file", "mail", "backup")
# Ephemeral source ports by OS: Windows and macOS use the IANA range, Linux its own default.
EPHEMERAL = {"windows": (49152, 65535), "mac": (49152, 65535), "linux": (32768, 60999)}

FIRST_NAMES = ("james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "david", "susan",
               "william", "karen", "richard", "lisa", "joseph", "nancy", "thomas", "betty", "carlos", "sandra",
               "daniel", "ashley", "matthew", "emily", "anthony", "donna", "mark", "michelle", "paul", "laura",
               "steven", "sarah", "andrew", "kim", "kenneth", "aisha", "kevin", "mei", "brian", "priya", "omar",
               "fatima", "ivan", "olga", "hiro", "yuki", "lars", "ingrid", "pierre", "chloe")
LAST_NAMES = ("smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
              "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor", "moore",
              "jackson", "martin", "lee", "perez", "thompson", "white", "harris", "sanchez", "clark", "ramirez",
              "lewis", "robinson", "walker", "young", "allen", "king", "wright", "scott", "torres", "nguyen",
              "hill", "flores", "green", "adams", "nelson", "baker", "hall", "rivera", "campbell", "mitchell",
              "carter", "roberts", "kowalski", "novak", "schmidt", "muller", "rossi", "dubois", "tanaka", "kim")


@dataclass(frozen=True)
class OrgConfig:
    hosts: int = 500
    ranges: tuple[str, ...] = ("10.10.0.0/16", "10.20.0.0/20", "192.168.48.0/22")
    domain: str = "corp.example.com"  # the internal DNS zone; its second-level label is Spot's USER_DOMAIN
    seed: int = 0


def ip_int(address: str) -> int:
    return int(ipaddress.IPv4Address(address))


def ip_strings(values) -> pa.Array:
    """Dotted quads of IPv4 integers, as an Arrow string array (vectorized)."""
    v = np.asarray(values, np.int64)
    octets = [pa.array((v >> shift) & 0xFF).cast(pa.string()) for shift in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*octets, ".")


def ip_text(values) -> np.ndarray:
    """Dotted quads of IPv4 integers, as a numpy array of Python strings."""
    return np.array(ip_strings(values).to_pylist(), dtype=object)


def _placement(role: str, networks: list) -> tuple:
    if role == "workstation":
        return tuple(networks[:1])
    if role == "printer":
        return tuple(networks[-1:])
    return tuple(networks[1:2] or networks[-1:])


def _role_counts(hosts: int) -> dict[str, int]:
    counts = dict(_FIXED)
    counts.update({role: max(1, hosts // per) for role, per in _PER.items()})
    counts["workstation"] = hosts - sum(counts.values())
    if counts["workstation"] < 10:
        minimum = sum(_FIXED.values()) + len(_PER) + 10
        raise ValueError(f"an organisation needs at least {minimum} hosts, not {hosts}")
    return counts


def _addresses(ranges: list[ipaddress.IPv4Network], count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` distinct usable addresses from the given ranges, in a seeded order."""
    pools = []
    for net in ranges:
        first, last = int(net.network_address) + 1, int(net.broadcast_address) - 1
        pool = np.arange(first, last + 1, dtype=np.int64)
        pools.append(pool[(pool & 0xFF != 0) & (pool & 0xFF != 255)])
    pool = np.concatenate(pools)
    if len(pool) < count:
        raise ValueError(f"the ranges {', '.join(map(str, ranges))} hold {len(pool)} hosts, {count} asked")
    return np.sort(rng.choice(pool, count, replace=False))


@dataclass
class Organisation:
    """Hosts as parallel arrays (index = host id), built by `build`."""

    config: OrgConfig
    ip: np.ndarray  # uint32
    role: np.ndarray  # int8, codes of ROLES
    name: list[str]  # fully qualified internal host names
    os: np.ndarray  # int8, codes of OS
    user: list[str | None]  # the workstation's user, None for other hosts
    activity: np.ndarray  # float: how busy the host is, relative to its role's typical host
    work_start: np.ndarray  # float hour at which the host's working day starts
    work_hours: np.ndarray  # float length of that working day
    weekend: np.ndarray  # bool: also active at weekends
    admin: np.ndarray  # bool: an IT workstation (uses SSH/RDP to servers)
    browser: np.ndarray  # float in [0, 1): which of its OS's browsers the host runs (see web.BROWSERS)
    favourites: np.ndarray = field(repr=False)  # (hosts, K) domain indices, most preferred first
    networks: list[ipaddress.IPv4Network] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.ip)

    def of_role(self, role: str) -> np.ndarray:
        return np.flatnonzero(self.role == ROLE[role])

    @cached_property
    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.ip)
        return self.ip[order].astype(np.int64), order

    def host_of(self, ips: np.ndarray) -> np.ndarray:
        """Host ids of addresses, -1 for addresses outside the organisation."""
        sorted_ips, order = self._sorted
        ips = np.asarray(ips, np.int64)
        at = np.clip(np.searchsorted(sorted_ips, ips), 0, len(sorted_ips) - 1)
        return np.where(sorted_ips[at] == ips, order[at], -1)

    def ephemeral_range(self, hosts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The first and last ephemeral port of each host (of the IANA range for outsiders)."""
        lo = np.array([EPHEMERAL[o][0] for o in OS])
        hi = np.array([EPHEMERAL[o][1] for o in OS])
        os_code = np.where(hosts >= 0, self.os[np.maximum(hosts, 0)], 0)
        return lo[os_code], hi[os_code]


def build(config: OrgConfig, domain_weights: np.ndarray, favourites: int = 40) -> Organisation:
    """The organisation of ``config``; ``domain_weights`` is the global popularity of the shipped domains."""
    rng = rand.generator(config.seed, "organisation")
    counts = _role_counts(config.hosts)
    networks = [ipaddress.IPv4Network(r) for r in config.ranges]
    role = np.concatenate([np.full(counts[r], ROLE[r], np.int8) for r in ROLES])
    names = [f"{_NAMES[r].format(i + 1)}.{config.domain}" for r in ROLES for i in range(counts[r])]
    ip = np.zeros(len(role), np.uint32)
    placed = {r: _placement(r, networks) for r in ROLES}
    for nets in dict.fromkeys(placed.values()):
        members = np.isin(role, [ROLE[r] for r in ROLES if placed[r] == nets])
        ip[members] = _addresses(list(nets), int(members.sum()), rng)
    n = len(role)
    ws = role == ROLE["workstation"]
    os_code = np.where(ws, rng.choice(3, n, p=[0.80, 0.15, 0.05]), OS.index("linux"))
    os_code[np.isin(role, [ROLE[r] for r in WINDOWS_SERVERS])] = OS.index("windows")
    first = rng.choice(FIRST_NAMES, n)
    last = rng.choice(LAST_NAMES, n)
    users, seen = [], set()
    for i in range(n):
        if not ws[i]:
            users.append(None)
            continue
        user, k = f"{first[i][0]}{last[i]}", 1
        while user in seen:
            k += 1
            user = f"{first[i][0]}{last[i]}{k}"
        seen.add(user)
        users.append(user)
    weights = domain_weights / domain_weights.sum()
    fav = np.stack([rng.choice(len(weights), min(favourites, len(weights)), replace=False, p=weights)
                    for _ in range(n)])
    return Organisation(
        config=config, ip=ip, role=role, name=names, os=os_code.astype(np.int8), user=users,
        activity=np.where(ws, rng.lognormal(0.0, 0.6, n), rng.lognormal(0.0, 0.3, n)),
        work_start=np.clip(rng.normal(8.3, 0.8, n), 6.0, 11.0),
        work_hours=np.clip(rng.normal(8.7, 0.7, n), 6.5, 11.0),
        weekend=rng.random(n) < 0.12,
        admin=ws & (rng.random(n) < 0.04),
        browser=rng.random(n),
        favourites=fav, networks=networks,
    )
