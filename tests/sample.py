"""A small, deterministic capture set for one day, written by the real tools: the graph tests' input.

Flow: a generated pcap turned into nfcapd files by nfdump's own ``nfpcapd``. DNS: a pcap of
query/response pairs. Proxy: a Blue Coat ELFF log. The same seed gives the same bytes, so landing
the set twice is recognised as the same files and ingested once.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import tempfile
from pathlib import Path

from spot_assets.simulation import dnsmsg
from spot_assets.simulation.pcap import tcp_frame, udp_frame, write_pcap

INTERNAL = [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(60)]
SERVERS = {"www.example.com": "93.184.216.34", "api.github.com": "140.82.112.6", "www.wikipedia.org": "208.80.154.224",
           "mail.google.com": "142.250.64.69", "cdn.jsdelivr.net": "151.101.1.229", "updates.vendor.net": "52.4.7.1"}
RESOLVER = "10.0.0.53"
ELFF_FIELDS = ("date time time-taken c-ip cs-username cs-auth-group x-exception-id sc-filter-result cs-categories "
               "cs(Referer) sc-status s-action cs-method rs(Content-Type) cs-uri-scheme cs-host cs-uri-port "
               "cs-uri-path cs-uri-query cs-uri-extension cs(User-Agent) s-ip sc-bytes cs-bytes x-virus-id "
               "x-bluecoat-application-name x-bluecoat-application-operation")
AGENTS = ['"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"',
          '"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 Version/17.2 Safari/605.1.15"']


def _times(rng: random.Random, day: dt.date, n: int) -> list[float]:
    start = dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp()
    # Busier in office hours, as a real network is.
    hours = rng.choices(range(24), weights=[1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 10, 9, 8, 9, 10, 10, 9, 7, 5, 3, 2, 2, 1, 1], k=n)
    return sorted(start + h * 3600 + rng.uniform(0, 3600) for h in hours)


def flow_files(out: Path, day: dt.date, flows: int, rng: random.Random, nfpcapd: str = "nfpcapd") -> list[Path]:
    packets = []
    for ts in _times(rng, day, flows):
        client, server = rng.choice(INTERNAL), rng.choice(list(SERVERS.values()))
        sport = rng.randint(1025, 65000)
        if rng.random() < 0.8:
            dport = rng.choice([443, 443, 443, 80, 22])
            payload = b"x" * rng.randint(0, 1200)
            packets.append((ts, tcp_frame(client, server, sport, dport, payload, flags="PA")))
            packets.append((ts + 0.05, tcp_frame(server, client, dport, sport, payload[:200], flags="A")))
        else:
            packets.append((ts, udp_frame(client, server, sport, rng.choice([123, 443, 4500]), b"u" * rng.randint(8, 300))))
    with tempfile.TemporaryDirectory() as tmp:
        pcap = Path(tmp) / "flows.pcap"
        write_pcap(pcap, sorted(packets, key=lambda p: p[0]))
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run([nfpcapd, "-r", str(pcap), "-w", str(out), "-t", "3600"], check=True, capture_output=True,
                       env=os.environ | {"TZ": "UTC"})
    return sorted(out.glob("nfcapd.*"))


def dns_file(out: Path, day: dt.date, lookups: int, rng: random.Random) -> Path:
    packets = []
    for i, ts in enumerate(_times(rng, day, lookups)):
        name = rng.choice(list(SERVERS))
        client = rng.choice(INTERNAL)
        if rng.random() < 0.05:
            name, answers, rcode = f"{rng.getrandbits(40):x}.invalid-host.net", [], "NXDOMAIN"
        else:
            answers, rcode = [(name, "A", SERVERS.get(name, "192.0.2.1"))], "NOERROR"
        q, r = dnsmsg.exchange(client, RESOLVER, rng.randint(1025, 65000), dnsmsg.query(name, "A", i),
                               dnsmsg.response(name, "A", rcode, answers, i))
        packets += [(ts, q), (ts + 0.002, r)]
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"dns-{day:%Y%m%d}.pcap"
    write_pcap(path, packets)
    return path


def proxy_file(out: Path, day: dt.date, requests: int, rng: random.Random) -> Path:
    lines = ["#Software: SGOS 6.7.5.1", "#Version: 1.0", f"#Date: {day} 00:00:00", f"#Fields: {ELFF_FIELDS}"]
    for ts in _times(rng, day, requests):
        host = rng.choice(list(SERVERS))
        when = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
        path = rng.choice(["/", "/index.html", "/api/v1/items", "/static/app.js", "/images/logo.png"])
        ctype = {"js": "application/javascript", "png": "image/png"}.get(path.rsplit(".", 1)[-1], "text/html")
        lines.append(" ".join([
            f"{when:%Y-%m-%d}", f"{when:%H:%M:%S}", str(rng.randint(5, 900)), rng.choice(INTERNAL), "-", "-", "-",
            "OBSERVED", '"Technology/Internet"', "-", rng.choice(["200"] * 9 + ["404"]), "TCP_NC_MISS",
            rng.choice(["GET"] * 8 + ["POST"]), ctype, "https", host, "443", path,
            rng.choice(["-", "?q=1", "?page=2"]), "-", rng.choice(AGENTS), "10.0.0.2",
            str(rng.randint(300, 90000)), str(rng.randint(200, 900)), "-", "-", "-",
        ]))
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"proxy-{day:%Y%m%d}.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def make_sample(out: Path, day: dt.date, seed: int = 7, events: int = 3000) -> dict[str, list[Path]]:
    """Captures of one day for each data type, under ``out/<type>/``."""
    rng = random.Random(seed)
    return {
        "flow": flow_files(out / "flow", day, events, rng),
        "dns": [dns_file(out / "dns", day, events // 2, rng)],
        "proxy": [proxy_file(out / "proxy", day, events // 2, rng)],
    }
