"""DNS detectors on hand-built days whose truth is known by construction.

Golden numbers are worked out here by hand (a 16-symbol alphabet used uniformly is 4 bits a character)
or by an independent brute-force count (Counter-based entropy), never read back from the code under test.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import string
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from spot_assets.datatypes import DNS
from spot_assets.detect import dns
from spot_assets.detect.base import DetectContext, run_all

DAY = dt.date(2024, 7, 8)
T0 = pd.Timestamp("2024-07-08", tz="UTC")
CTX = DetectContext(DAY)


def lookups(client: str, names, *, qtype: int = 1, rcode: int = 0, start_s: float = 0.0, step_s: float = 1.0,
            times=None) -> pd.DataFrame:
    names = list(names)
    seconds = np.asarray(times if times is not None else start_s + step_s * np.arange(len(names)), float)
    return pd.DataFrame({
        "ts": T0 + pd.to_timedelta(seconds, unit="s"), "ip_dst": client, "ip_src": "10.0.0.53",
        "dns_qry_name": names, "dns_qry_type": qtype, "dns_qry_rcode": rcode, "frame_len": 120,
    })


def day(*parts: pd.DataFrame) -> pd.DataFrame:
    events = pd.concat(parts, ignore_index=True)
    events["dns_qry_type"] = events["dns_qry_type"].astype("int32")
    events["dns_qry_rcode"] = events["dns_qry_rcode"].astype("int32")
    return DNS.with_entity(events)


def base32_tunnel(client: str, domain: str, n: int, rng: random.Random) -> pd.DataFrame:
    """iodine/dnscat-like: 100 base32 characters in two labels, then a sequence number, TXT."""
    alphabet = string.ascii_lowercase + "234567"
    names = []
    for i in range(n):
        payload = "".join(rng.choice(alphabet) for _ in range(100))
        names.append(f"{payload[:60]}.{payload[60:]}.{i:x}.t.{domain}")
    return lookups(client, names, qtype=16, step_s=2.0)


def cdn(client: str, n: int) -> pd.DataFrame:
    """A CDN's many short edge names (e123.a.cdn-edge.net), looked up once each."""
    return lookups(client, [f"e{i}.a.cdn-edge.net" for i in range(n)], step_s=30.0)


def brute_entropy(texts: list[str]) -> float:
    counts = Counter("".join(texts))
    total = sum(counts.values())
    return -sum(c / total * math.log2(c / total) for c in counts.values())


# ----- tunnel

def test_tunnel_found_cdn_and_browsing_not():
    rng = random.Random(7)
    events = day(base32_tunnel("10.0.0.5", "relay-sync.net", 300, rng),
                 cdn("10.0.0.6", 800),
                 lookups("10.0.0.7", [f"{w}.example{i}.com" for i in range(200) for w in ("www", "img", "api")]))
    found = dns.tunnel(events, dns.TunnelParams(), CTX)
    assert list(zip(found["ip_dst"], found["domain"])) == [("10.0.0.5", "relay-sync.net")]
    row = found.iloc[0]
    assert row["score"] == 1.0 and row["events"] == 300
    # independent measure: the pooled entropy of the tunnel's subdomains, without dots
    tunnel_names = events.loc[events["domain"] == "relay-sync.net", "dns_qry_name"]
    subs = [n[: -len(".relay-sync.net")].replace(".", "") for n in tunnel_names]
    assert row["evidence"]["entropy"] == pytest.approx(brute_entropy(subs))
    assert row["evidence"]["carried"] == pytest.approx(sum(map(len, subs)) * brute_entropy(subs) / 8)
    assert row["evidence"]["query_bytes"] == sum(map(len, tunnel_names))
    assert row["evidence"]["data_share"] == 1.0
    assert "300 distinct names under relay-sync.net" in row["reason"] and "100% TXT" in row["reason"]


def test_tunnel_bound_by_hand():
    """32 hex characters using all 16 symbols equally: 4 bits each, 16 bytes a name, exactly a UUID.

    Eight such names carry 8 x 16 = 128 bytes = the payload bound: score 0.5, reported. Four carry half the
    bound: 0.5 + log2(0.5) / 8 = 0.375, not reported. The same four asked as TXT count double: 0.5 again.
    """
    hexdigits = "0123456789abcdef"
    names = [f"{hexdigits[k:] + hexdigits[:k]}{hexdigits[::-1]}.hand-made.org" for k in range(8)]
    eight = dns.tunnel(day(lookups("10.1.1.1", names)), dns.TunnelParams(), CTX)
    assert eight["score"].tolist() == [pytest.approx(0.5)]
    assert eight.iloc[0]["evidence"]["payload"] == pytest.approx(128.0)
    assert dns.tunnel(day(lookups("10.1.1.1", names[:4])), dns.TunnelParams(), CTX).empty
    txt = dns.tunnel(day(lookups("10.1.1.1", names[:4], qtype=16)), dns.TunnelParams(), CTX)
    assert txt["score"].tolist() == [pytest.approx(0.5)]


def test_tunnel_volume_bound_catches_short_names():
    """dns2tcp-like short names (10 base64 characters) carry little each, but thousands pass Paxson's 4 KB."""
    rng = random.Random(3)
    alphabet = string.ascii_letters + string.digits + "+/"
    names = ["".join(rng.choice(alphabet) for _ in range(10)) + ".www.short-tunnel.tk" for _ in range(1_500)]
    found = dns.tunnel(day(lookups("10.2.2.2", names)), dns.TunnelParams(), CTX)
    assert found["domain"].tolist() == ["short-tunnel.tk"]
    evidence = found.iloc[0]["evidence"]
    assert evidence["payload_names"] == 0 and evidence["carried"] > 4096


def test_tunnel_robust_to_nulls_and_bare_names():
    events = day(lookups("10.0.0.9", ["localhost", "1.2.3.4", "printer"]),
                 pd.DataFrame({"ts": [T0], "ip_dst": [None], "dns_qry_name": ["a.b.com"], "dns_qry_type": [1],
                               "dns_qry_rcode": [0]}))
    assert dns.tunnel(events, dns.TunnelParams(), CTX).empty


# ----- nxdomain

def test_nxdomain_storm_and_look_alikes():
    rng = random.Random(11)
    generated = ["".join(rng.choice(string.ascii_lowercase) for _ in range(12)) + ".com" for _ in range(300)]
    storm = pd.concat([lookups("10.0.0.20", generated[:290], rcode=3), lookups("10.0.0.20", generated[290:])])
    # a mail server's blocklist lookups: "not listed" is NXDOMAIN, all under one zone
    dnsbl = lookups("10.0.0.21", [f"{i}.2.0.192.zen.spamhaus.org" for i in range(200)], rcode=3)
    # a laptop with a few dead bookmarks: 60 % of 40 lookups fail, not "mostly" with confidence
    dead = pd.concat([lookups("10.0.0.22", [f"gone{i}.org" for i in range(24)], rcode=3),
                      lookups("10.0.0.22", [f"ok{i}.org" for i in range(16)])])
    found = dns.nxdomain(day(storm, dnsbl, dead), dns.NxdomainParams(), CTX)
    assert found["ip_dst"].tolist() == ["10.0.0.20"]
    row = found.iloc[0]
    assert row["events"] == 300 and row["evidence"] == {"lookups": 300, "nxdomain": 290, "domains": 290}
    assert "290 of 300 lookups failed (97%)" in row["reason"]
    # the Wilson lower bound sits below the observed share and above one half
    assert 0.5 < row["score"] < 290 / 300
    assert "domain" not in found or found["domain"].isna().all()


def test_wilson_lower_bound_by_hand():
    # k = n = 20, z = 1.96: (1 + z²/40 - z * sqrt(z²/1600)) / (1 + z²/20) = 1 / (1 + z²/20)
    z = 1.96
    assert dns._wilson_lower(np.array([20.0]), np.array([20.0]))[0] == pytest.approx(1 / (1 + z * z / 20))


# ----- periodic_query

def test_periodic_lookup_found_fleet_polling_and_browsing_not():
    rng = np.random.default_rng(5)
    beats = np.arange(0, 86_400, 300.0) + rng.normal(0, 5, 288)
    beats = np.delete(beats, rng.choice(288, 30, replace=False))  # missed beats
    implant = lookups("10.0.0.30", ["cdn.update-check.biz"] * len(beats), times=beats)
    fleet = pd.concat([lookups(f"10.0.1.{h}", ["time.vendor-ntp.com"] * 288, times=np.arange(0, 86_400, 300.0) + h)
                       for h in range(12)])
    browsing = lookups("10.0.0.31", ["www.news-site.com"] * 200, times=np.sort(rng.uniform(9 * 3600, 17 * 3600, 200)))
    found = dns.periodic_query(day(implant, fleet, browsing), dns.PeriodicQueryParams(), CTX)
    assert list(zip(found["ip_dst"], found["domain"])) == [("10.0.0.30", "update-check.biz")]
    row = found.iloc[0]
    assert row["events"] == len(beats)
    assert row["reason"].startswith(f"periodic lookups of cdn.update-check.biz: beacon: {len(beats)} connections")
    assert row["evidence"]["name"] == "cdn.update-check.biz"


# ----- dga

def test_dga_scores_generated_labels_not_popular_short_or_own_names():
    rng = random.Random(13)
    generated = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(12, 20))) + ".net"
                 for _ in range(40)]
    popular = ["www.google.com", "mail.wikipedia.org", "news.bbc.co.uk", "www.amazon.de", "login.microsoftonline.com",
               "cdn.cloudflare.net", "www.weather.com", "static.nytimes.com"]
    short = ["xq.com", "zzkq.net", "qjxvz.org"]  # five characters or fewer: not scored
    internal = ["qwxzkvjhtp.lan", "dc01-xkqzvbn.local"]  # suffixes not on the list: not scored
    events = day(lookups("10.0.0.40", generated, rcode=3), lookups("10.0.0.41", popular + short + internal),
                 lookups("10.0.0.42", ["vpn.xkqzvwjtb.com"]))
    found = dns.dga_domains(events, dns.DgaParams(), CTX)
    flagged = set(found["domain"])
    # uniformly random letters (vowels included) of 12-20 characters: most, not all, reach 9:1 odds
    assert len(flagged & set(generated)) >= 0.75 * len(generated)
    registered = {"google.com", "wikipedia.org", "bbc.co.uk", "amazon.de", "microsoftonline.com", "cloudflare.net",
                  "weather.com", "nytimes.com", *short, *internal}
    assert not flagged & registered
    assert "ip_dst" not in found or found["ip_dst"].isna().all()  # per domain, any client
    row = found[found["domain"].isin(generated)].iloc[0]
    assert "1 lookups, 1 NXDOMAIN, by 1 client(s) 10.0.0.40" in row["reason"]
    # the organisation's own label is never scored
    own = dns.dga_domains(events, dns.DgaParams(user_domain="xkqzvwjtb"), CTX)
    assert "xkqzvwjtb.com" in flagged and "xkqzvwjtb.com" not in set(own["domain"])


# ----- the contract

def test_all_detectors_run_into_the_findings_schema():
    rng = random.Random(1)
    events = day(base32_tunnel("10.0.0.5", "relay-sync.net", 50, rng), cdn("10.0.0.6", 50),
                 lookups("10.0.0.20", ["".join(rng.choice(string.ascii_lowercase) for _ in range(14)) + ".com"
                                       for _ in range(40)], rcode=3))
    table = run_all(DNS, dns.DETECTORS, events, CTX).findings
    assert set(table["detector"].to_pylist()) == {"tunnel", "dga", "nxdomain"}
    scores = np.array(table["score"].to_pylist())
    assert ((scores >= 0) & (scores <= 1)).all()
    assert "10.0.0.5 → relay-sync.net" in table["entity"].to_pylist()
