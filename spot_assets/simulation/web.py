"""What simulated web requests look like: each host name's resources, user agents, statuses and sizes.

Every host name gets a fixed catalogue of resources (paths, queries, content types, typical sizes),
made from a seed of its own, so the same pages, scripts and API calls recur across hosts and days,
with a Zipf popularity inside each site, as a real proxy log shows. The kinds of resources a site
serves follow its service class (a CDN serves scripts and images, an update service downloads, an
ad network tracking pixels). Requests are then drawn as indices into the catalogue: no per-request
string is built in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
import random
from functools import lru_cache

import numpy as np
import pyarrow as pa

from spot_assets.simulation.domains import load as load_domains

# ----- user agents

BROWSERS = {
    "windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
    ),
    "mac": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0",
    ),
    "linux": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    ),
}
# Agents of programs rather than browsers, by the service class they talk to and the host's OS.
SYSTEM_AGENTS = {
    ("update", "windows"): ("Microsoft-CryptoAPI/10.0", "Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.71",
                            "Microsoft-Delivery-Optimization/10.0"),
    ("update", "mac"): ("softwareupdated (unknown version) CFNetwork/1496.0.7 Darwin/23.5.0",),
    ("update", "linux"): ("Debian APT-HTTP/1.3 (2.6.1)", "Wget/1.21.3"),
    ("pki", "windows"): ("Microsoft-CryptoAPI/10.0",),
    ("collab", "windows"): ("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17726; Pro)",
                            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Teams/24152.405.2925.6762 Chrome/124.0.6367.243 Electron/30.1.2 Safari/537.36"),
    ("chat", "windows"): ("Slack/4.38.125 (Windows 10.0.19045)",),
    ("music", "windows"): ("Spotify/1.2.40.599 Win32_x86_64/0 (PC desktop)",),
    ("cloud", "windows"): ("Microsoft SkyDriveSync 24.116.0609.0003 ship; Windows NT 10.0 (19045)",),
    ("api", "linux"): ("python-requests/2.31.0", "Go-http-client/1.1", "curl/7.88.1", "Java/17.0.11"),
    ("dev", "linux"): ("pip/24.0 {\"python\":\"3.11.2\"}", "git/2.39.2", "curl/7.88.1"),
}
# Every agent, each once: requests refer to agents by their index here.
ALL_AGENTS = tuple(dict.fromkeys([*(a for b in BROWSERS.values() for a in b),
                                  *(a for agents in SYSTEM_AGENTS.values() for a in agents)]))

# ----- resources

WORDS = ("home", "news", "article", "account", "login", "search", "product", "products", "images", "assets",
         "static", "user", "users", "settings", "profile", "update", "feed", "watch", "video", "photos",
         "sports", "world", "business", "tech", "science", "health", "travel", "weather", "markets", "money",
         "shop", "cart", "checkout", "orders", "help", "support", "docs", "download", "blog", "about",
         "contact", "careers", "privacy", "terms", "media", "events", "live", "local", "opinion", "style",
         "food", "music", "movies", "games", "books", "deals", "new", "top", "trending", "popular",
         "recommendations", "notifications", "messages", "inbox", "calendar", "files", "share", "team",
         "project", "dashboard", "reports", "analytics", "metrics", "config", "status", "health", "version",
         "manifest", "catalog", "items", "list", "detail", "summary", "review", "ratings", "comments", "tags",
         "category", "region", "en-us", "global", "main", "vendor", "runtime", "app", "bundle", "common",
         "widget", "player", "embed", "thumb", "avatar", "banner", "logo", "icon", "hero", "gallery")

# kind -> content types (with extensions), methods, median size in bytes, size sigma
KINDS = {
    "page": ((("text/html", ""), ("text/html", "html"), ("text/html", "php"), ("text/html", "aspx")), 45_000, 0.8),
    "script": ((("application/javascript", "js"),), 60_000, 0.9),
    "style": ((("text/css", "css"),), 20_000, 0.7),
    "image": ((("image/jpeg", "jpg"), ("image/png", "png"), ("image/webp", "webp"), ("image/gif", "gif"),
               ("image/svg+xml", "svg")), 25_000, 1.1),
    "font": ((("font/woff2", "woff2"),), 30_000, 0.4),
    "api": ((("application/json", ""),), 3_000, 1.2),
    "beacon": ((("image/gif", "gif"), ("text/plain", "")), 43, 0.1),
    "media": ((("video/mp4", "mp4"), ("audio/mp4", "m4a"), ("video/iso.segment", "m4s")), 800_000, 0.8),
    "download": ((("application/vnd.ms-cab-compressed", "cab"), ("application/octet-stream", "exe"),
                  ("application/x-msi", "msi"), ("application/vnd.debian.binary-package", "deb"),
                  ("application/zip", "zip")), 2_000_000, 1.2),
    "ocsp": ((("application/ocsp-response", ""),), 1_500, 0.2),
    "crl": ((("application/pkix-crl", "crl"),), 50_000, 0.8),
}
KIND_NAMES = tuple(KINDS)
MAX_RESOURCE_BYTES = 50e6
_DEFAULT_MIX = {"page": 20, "script": 15, "style": 6, "image": 35, "font": 4, "api": 15, "beacon": 5}
_APP_MIX = {"api": 60, "page": 15, "script": 10, "image": 15}
MIXES = {
    "search": {"page": 40, "api": 30, "image": 20, "script": 10},
    "video": {"page": 10, "media": 50, "image": 25, "api": 15},
    "music": {"media": 50, "api": 30, "image": 20},
    "social": {"api": 40, "image": 35, "page": 10, "script": 10, "media": 5},
    "chat": {"api": 40, "image": 35, "page": 10, "script": 10, "media": 5},
    "cdn": {"script": 35, "style": 15, "image": 35, "font": 15},
    "update": {"download": 70, "api": 20, "page": 10},
    "pki": {"ocsp": 80, "crl": 20},
    "ads": {"beacon": 60, "script": 30, "image": 10},
    "security": {"download": 40, "api": 60},
    **{c: _APP_MIX for c in ("api", "ai", "cloud", "collab", "email", "auth", "dev")},
}
STATIC = {"script", "style", "image", "font"}
_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

# status codes by kind group, with probabilities
STATUSES = {
    "dynamic": ((200, 0.88), (302, 0.04), (304, 0.03), (404, 0.02), (403, 0.01), (401, 0.005), (500, 0.005),
                (204, 0.01)),
    "static": ((200, 0.80), (304, 0.17), (404, 0.03)),
    "beacon": ((204, 0.6), (200, 0.4)),
    "bulk": ((200, 0.9), (206, 0.1)),
    "pki": ((200, 1.0),),
}
_STATUS_GROUP = {"page": "dynamic", "api": "dynamic", "beacon": "beacon", "media": "bulk", "download": "bulk",
                 "ocsp": "pki", "crl": "pki", **{k: "static" for k in STATIC}}


@dataclass(frozen=True)
class Catalogue:
    """Resources of every host name (``first``/``count`` per host name), as Arrow and numpy columns."""

    first: np.ndarray
    count: np.ndarray
    kind: np.ndarray  # codes of KIND_NAMES
    path: pa.Array
    query: pa.Array  # "" for none
    ctype: pa.Array
    extension: pa.Array  # "" for none
    size: np.ndarray  # median response bytes
    post: np.ndarray  # bool: requested with POST

    def pick(self, hosts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One resource of each host name, Zipf-distributed over its catalogue."""
        rank = np.minimum(rng.zipf(1.6, len(hosts)) - 1, self.count[hosts] - 1)
        return self.first[hosts] + rank


def _hex(rng: random.Random, n: int) -> str:
    return "%0*x" % (n, rng.getrandbits(4 * n))


def _path(kind: str, ext: str, rng: random.Random) -> tuple[str, str]:
    """A path and query of a resource of this kind (plain `random`: a catalogue is tens of thousands of these)."""
    w = lambda: rng.choice(WORDS)  # noqa: E731
    n = lambda: str(rng.randrange(1, 100_000))  # noqa: E731
    dot = f".{ext}" if ext else ""
    choices = {
        "page": [lambda: ("/", ""), lambda: (f"/{w()}", ""), lambda: (f"/{w()}/{w()}{dot}", ""),
                 lambda: (f"/{w()}/2024/{rng.randrange(1, 13):02d}/{w()}-{w()}-{w()}{dot or '.html'}", ""),
                 lambda: (f"/{w()}/{n()}", ""), lambda: (f"/search{dot}", f"?q={w()}+{w()}&hl=en")],
        "script": [lambda: (f"/static/js/{w()}.{_hex(rng, 8)}.js", ""), lambda: (f"/assets/{w()}-{_hex(rng, 8)}.min.js", ""),
                   lambda: (f"/js/{w()}.js", f"?v={_hex(rng, 6)}")],
        "style": [lambda: (f"/static/css/{w()}.{_hex(rng, 8)}.css", ""), lambda: (f"/css/{w()}.css", "")],
        "image": [lambda: (f"/images/{w()}/{_hex(rng, 12)}{dot}", ""), lambda: (f"/img/{w()}_{n()}{dot}", ""),
                  lambda: (f"/media/{_hex(rng, 16)}{dot}", f"?w={rng.choice((160, 320, 640, 1280))}")],
        "font": [lambda: (f"/fonts/{w()}-regular.woff2", "")],
        "api": [lambda: (f"/api/v{rng.randrange(1, 4)}/{w()}/{w()}", ""), lambda: (f"/api/{w()}/{n()}", f"?lang=en&{w()}={n()}"),
                lambda: ("/graphql", f"?op={w()}"), lambda: (f"/v{rng.randrange(1, 4)}/{w()}", f"?id={n()}")],
        "beacon": [lambda: ("/collect", f"?v=1&tid={_hex(rng, 8)}&cid={n()}.{n()}&t=pageview"),
                   lambda: (f"/pixel{dot}", f"?id={n()}&ev={w()}"), lambda: ("/event", "")],
        "media": [lambda: ("/videoplayback", f"?itag={rng.randrange(18, 400)}&range=0-{n()}"),
                  lambda: (f"/{w()}/{_hex(rng, 16)}/seg-{n()}{dot}", "")],
        "download": [lambda: (f"/{w()}/{w()}/{_hex(rng, 16)}/{w()}_{n()}{dot}", ""),
                     lambda: (f"/pub/{w()}/{w()}-{rng.randrange(1, 20)}.{rng.randrange(10)}{dot}", "")],
        "ocsp": [lambda: ("/" + "".join(rng.choices(_BASE64, k=60)), "")],
        "crl": [lambda: (f"/{w()}{n()}{dot}", "")],
    }[kind]
    return rng.choice(choices)()


@lru_cache(maxsize=2)
def catalogue(seed: int = 0) -> Catalogue:
    """The resources of every host name of the shipped domains (the same for the same seed)."""
    domains = load_domains()
    rng = random.Random(f"web-catalogue/{seed}")
    rows = []
    first, count = [], []
    for h in range(len(domains.hosts)):
        mix = MIXES.get(domains.category[domains.host_domain[h]], _DEFAULT_MIX)
        n = rng.randrange(6, 40)
        first.append(len(rows))
        count.append(n)
        for kind in rng.choices(list(mix), weights=list(mix.values()), k=n):
            types, median, sigma = KINDS[kind]
            ctype, ext = rng.choice(types)
            path, query = _path(kind, ext, rng)
            post = kind == "api" and rng.random() < 0.3 or kind == "beacon" and ctype == "text/plain"
            rows.append((KIND_NAMES.index(kind), path, query, ctype, ext, median * rng.lognormvariate(0, sigma), post))
    kind, path, query, ctype, ext, size, post = zip(*rows)
    return Catalogue(
        first=np.array(first), count=np.array(count), kind=np.array(kind, np.int8),
        path=pa.array(path), query=pa.array(query), ctype=pa.array(ctype), extension=pa.array(ext),
        size=np.clip(np.array(size), 43.0, MAX_RESOURCE_BYTES), post=np.array(post),
    )


def statuses(kinds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A response status for each request of a resource of these kinds."""
    out = np.empty(len(kinds), np.int16)
    for group, table in STATUSES.items():
        members = np.isin(kinds, [KIND_NAMES.index(k) for k, g in _STATUS_GROUP.items() if g == group])
        codes, p = zip(*table)
        out[members] = rng.choice(codes, int(members.sum()), p=np.array(p) / sum(p))
    return out
