"""The external services simulated users reach: the shipped popular domains, their host names and addresses.

``data/popular_domains.csv`` (hand-curated, provenance in its header) lists each domain with a
service class. A domain's host names are the ones its class typically shows (``www.``, ``api.``,
``static.`` ...; a listed name that already is a service host, like ``teams.microsoft.com``, is its
only host name). Addresses are derived from the names with a hash, within globally routable IPv4
space, so they are stable across runs and machines without any lookup; they are plausible, not real.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

DATA_FILE = "popular_domains.csv"

# Service class -> (Blue Coat category, host name prefixes; "" is the domain itself).
CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "search": ("Search Engines/Portals", ("www", "", "suggest")),
    "video": ("Audio/Video Clips", ("www", "i", "m")),
    "music": ("Audio/Video Clips", ("www", "open", "api")),
    "social": ("Social Networking", ("www", "api", "static")),
    "chat": ("Chat (IM)/SMS", ("www", "web", "media")),
    "news": ("News", ("www", "cdn", "static")),
    "shopping": ("Shopping", ("www", "images", "api")),
    "travel": ("Travel", ("www", "api")),
    "finance": ("Financial Services", ("www", "secure", "api")),
    "reference": ("Reference", ("www", "", "upload")),
    "education": ("Education", ("www", "")),
    "health": ("Health", ("www",)),
    "government": ("Government/Legal", ("www",)),
    "business": ("Business/Economy", ("www", "app", "api")),
    "collab": ("Business/Economy", ("www", "app", "api")),
    "email": ("Email", ("", "www", "mail")),
    "auth": ("Technology/Internet", ("login", "")),
    "cloud": ("Technology/Internet", ("www", "api", "storage")),
    "software": ("Technology/Internet", ("www", "download", "support")),
    "dev": ("Technology/Internet", ("www", "", "api")),
    "api": ("Technology/Internet", ("api", "")),
    "ai": ("Technology/Internet", ("www", "api", "")),
    "cdn": ("Content Servers", ("", "static", "img", "cdn")),
    "update": ("Software Downloads", ("", "download", "update")),
    "pki": ("Technology/Internet", ("ocsp", "crl")),
    "security": ("Computer/Information Security", ("www", "update", "api")),
    "ads": ("Web Ads/Analytics", ("", "pixel", "stats")),
    "games": ("Games", ("www", "api", "cdn")),
}


# Public suffixes of two labels that the shipped list uses.
SECOND_LEVEL_SUFFIXES = {"co.uk", "ac.uk", "co.jp", "or.jp"}


def stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def public_address(text: str) -> int:
    """A globally routable unicast IPv4 address derived from ``text``."""
    counter = 0
    while True:
        value = stable_hash(f"{text}#{counter}") & 0xFFFFFFFF
        address = ipaddress.IPv4Address(value)
        if address.is_global and not address.is_multicast and value & 0xFF not in (0, 255):
            return value
        counter += 1


@dataclass(frozen=True)
class Domains:
    """Domains and their host names as parallel arrays; host ``h`` belongs to domain ``host_domain[h]``."""

    name: tuple[str, ...]
    category: tuple[str, ...]
    weight: np.ndarray  # global popularity (rank order of the shipped list)
    hosts: tuple[str, ...]
    host_domain: np.ndarray
    host_ip: np.ndarray  # uint32
    first_host: np.ndarray  # index of each domain's first host name; its hosts are contiguous

    def of_categories(self, categories: set[str]) -> np.ndarray:
        return np.flatnonzero(np.isin(np.array(self.category), list(categories)))

    def pick_hosts(self, domains: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A host name of each domain, the first (``www.`` or the domain) most often."""
        count = np.diff(np.append(self.first_host, len(self.hosts)))[domains]
        offset = np.minimum(rng.geometric(0.55, len(domains)) - 1, count - 1)
        return self.first_host[domains] + offset


def _is_service_host(name: str) -> bool:
    """``teams.microsoft.com`` is a service's host name; ``bbc.co.uk`` is a domain."""
    labels = name.split(".")
    return len(labels) - (".".join(labels[-2:]) in SECOND_LEVEL_SUFFIXES) > 2


def _read_list() -> list[tuple[str, str]]:
    text = resources.files("spot_assets.simulation").joinpath("data", DATA_FILE).read_text()
    rows = [line.split(",") for line in text.splitlines() if line and not line.startswith("#")]
    header, body = rows[0], rows[1:]
    if header != ["domain", "category"]:
        raise ValueError(f"{DATA_FILE}: unexpected header {header}")
    unknown = {c for _, c in body} - CATEGORIES.keys()
    if unknown:
        raise ValueError(f"{DATA_FILE}: unknown categories {sorted(unknown)}")
    return [(d, c) for d, c in body]


@lru_cache(maxsize=1)
def load() -> Domains:
    rows = _read_list()
    hosts, host_domain, first = [], [], []
    for i, (domain, category) in enumerate(rows):
        first.append(len(hosts))
        prefixes = ("",) if _is_service_host(domain) else CATEGORIES[category][1]
        names = list(dict.fromkeys(f"{p}.{domain}" if p else domain for p in prefixes))
        hosts += names
        host_domain += [i] * len(names)
    # A domain has one to three addresses; each host name resolves to one of its domain's.
    addresses = [[public_address(f"{d}/{k}") for k in range(1 + stable_hash(d) % 3)] for d, _ in rows]
    host_ip = [addresses[d][stable_hash(h) % len(addresses[d])] for h, d in zip(hosts, host_domain)]
    rank = np.arange(len(rows))
    return Domains(
        name=tuple(d for d, _ in rows), category=tuple(c for _, c in rows),
        weight=1.0 / (rank + 5.0) ** 0.8,
        hosts=tuple(hosts), host_domain=np.array(host_domain), host_ip=np.array(host_ip, np.uint32),
        first_host=np.array(first),
    )
