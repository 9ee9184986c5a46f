"""Proxy detectors on hand-built days whose truth is known by construction, beside benign look-alikes
(a browser session to a CDN, many clients polling an update host) that must not rank high.

Golden numbers are worked out here by hand or by brute force over the rows the test built (``Counter``
entropy, ``numpy`` gaps, the documented score formulas applied to hand counts), never read from the
detector first.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import math
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from spot_assets.datatypes import PROXY
from spot_assets.detect import proxy
from spot_assets.detect.base import DetectContext, as_findings, run_all

DAY = dt.date(2024, 7, 8)
MIDNIGHT = pd.Timestamp("2024-07-08", tz="UTC")
CTX = DetectContext(DAY)
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
DETECTORS = {d.name: d for d in proxy.DETECTORS}
WORDS = ["market", "report", "city", "council", "votes", "new", "budget", "team", "wins", "final", "phone", "review"]


def requests(client, host, seconds, agent=BROWSER, path="/", query=None, method="GET", up=300, down=5_000,
             server="198.51.100.10") -> pd.DataFrame:
    """Requests of one client to one host at ``seconds`` after midnight; scalars or per-request arrays."""
    seconds = np.asarray(seconds, dtype=float)
    n = len(seconds)
    return pd.DataFrame({
        "ts": MIDNIGHT + pd.to_timedelta(seconds, unit="s"), "clientip": client, "host": host, "reqmethod": method,
        "useragent": agent, "uripath": path, "uriquery": query, "scbytes": np.broadcast_to(down, n).astype("int64"),
        "csbytes": np.broadcast_to(up, n).astype("int64"), "serverip": server, "respcode": "200",
    })


def day(*parts: pd.DataFrame) -> pd.DataFrame:
    events = pd.concat(parts, ignore_index=True)
    return events.astype({"ts": "datetime64[ms, UTC]"}).sort_values("ts", kind="stable").reset_index(drop=True)


@functools.cache
def office(clients=30, per_client=100, seed=0) -> pd.DataFrame:
    """Ordinary browsing: ``clients`` machines, the same browser, varied pages of a few sites in office hours."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(clients):
        ts = np.sort(rng.uniform(8 * 3600, 18 * 3600, per_client))
        site = rng.choice(["www.news-site.com", "static.cdn-example.net", "intranet.corp.example"], per_client)
        pages = [f"/section/{rng.choice(['world', 'sport', 'tech'])}/2024/07/"
                 f"{'-'.join(rng.choice(WORDS, rng.integers(2, 6)))}-{rng.integers(1000)}.html"
                 for _ in range(per_client)]
        part = requests(f"10.0.1.{i + 1}", "", ts, path=pages, down=rng.integers(2_000, 90_000, per_client))
        parts.append(part.assign(host=site))
    return pd.concat(parts, ignore_index=True)


def find(name, events, ctx=CTX, **params):
    detector = DETECTORS[name]
    found = detector.find(events, detector.params(**params), ctx)
    as_findings(detector, DAY, found)  # the contract: scores in [0, 1], entity columns, evidence JSON
    return found


def row(found, **entity):
    match = found[np.logical_and.reduce([found[k] == v for k, v in entity.items()])]
    assert len(match) == 1, (entity, found[["clientip", "host", "score"]])
    return match.iloc[0]


# ----- beacon


def jittered_beacon(seed=1):
    """A 300 s timer ± 10 s (uniform) over the whole day with 10 % of the beats missing."""
    rng = np.random.default_rng(seed)
    beats = np.arange(0, 86_400, 300) + rng.uniform(-10, 10, 288)
    return np.sort(beats[rng.random(288) >= 0.1].clip(0, 86_399))


def test_beacon_with_jitter_ranks_over_update_polling_and_browsing():
    beats = jittered_beacon()
    c2 = requests("10.0.1.66", "cdn-stats.c2-example.net", beats, up=512, down=128)
    update = pd.concat([requests(f"10.0.2.{i}", "update.vendor.example", np.arange(24) * 3600 + 60 * i, up=200,
                                 down=900) for i in range(40)])
    rng = np.random.default_rng(2)
    session = requests("10.0.1.7", "static.cdn-example.net", np.sort(rng.uniform(36_000, 39_600, 300)),
                       down=rng.integers(500, 400_000, 300))
    events = day(office(), c2, update, session)
    found = find("beacon", events)

    top = found.iloc[0]
    assert (top.clientip, top.host) == ("10.0.1.66", "cdn-stats.c2-example.net")
    assert top.events == len(beats)
    gaps = np.diff(events.loc[events["clientip"] == "10.0.1.66", "ts"].astype("int64").to_numpy() / 1e3)
    assert top.evidence["interval"] == pytest.approx(np.median(gaps))
    assert top.evidence["jitter"] == pytest.approx(np.median(np.abs(gaps - np.median(gaps))))
    assert top.score >= 0.8
    assert f"beacon: {len(beats)} connections" in top.reason
    # 40 clients poll the update host on the hour: each is a perfect beacon, damped to 3/40 of it
    polled = found[found["host"] == "update.vendor.example"]
    assert len(polled) == 40 and (polled["score"] <= 3 / 40 + 1e-12).all()
    assert all(e["host_clients"] == 40 for e in polled["evidence"])
    assert "host polled by 40 clients" in polled.iloc[0].reason
    # a burst of 300 requests within one hour has no rhythm across the day
    assert not (found["clientip"] == "10.0.1.7").any()


def test_beacon_size_choice_is_checked():
    with pytest.raises(ValueError, match="size must be 'both' or 'response'"):
        find("beacon", day(office(clients=2, per_client=5)), size="request")


# ----- rare user agent


def test_rare_agent_of_one_client_scores_full():
    implant = requests("10.0.1.66", "status.agent-sync.net", np.linspace(0, 86_000, 24),
                       agent="WinHttpClient/5.1 (updater; cfg=7)")
    found = find("rare_useragent", day(office(clients=30, per_client=100), implant))
    assert len(found) == 1
    hit = found.iloc[0]
    # 1 client of 31 used it, 30 others >= 20 peers: (1 / 1) * min(1, 30 / 20) = 1
    assert (hit.clientip, hit.host, hit.score, hit.events) == ("10.0.1.66", "status.agent-sync.net", 1.0, 24)
    assert "'WinHttpClient/5.1 (updater; cfg=7)'" in hit.reason and "1 of 31 clients" in hit.reason
    assert hit.evidence["agent_requests"] == 24 and hit.evidence["day_requests"] == 3024


def test_rare_agent_shared_by_two_clients_and_blank_agents():
    tool = [requests(c, h, np.arange(5) * 600.0, agent="curl/7.1") for c, h in
            (("10.0.1.5", "a.example.org"), ("10.0.1.6", "b.example.org"))]
    blank = [requests("10.0.1.9", "x.example.org", [10.0, 20.0], agent=None),
             requests("10.0.1.9", "y.example.org", [30.0], agent="-")]
    found = find("rare_useragent", day(office(clients=30, per_client=100), *tool, *blank))
    # two clients: 1/2, with 28 peers not using it
    assert row(found, clientip="10.0.1.5")["score"] == 0.5 and row(found, clientip="10.0.1.6")["score"] == 0.5
    # null and "-" are the same absent agent; two hosts, so the finding names no host
    none = row(found, clientip="10.0.1.9")
    assert none.host is None and none.events == 3 and none.score == 1.0 and none.reason.startswith("no User-Agent")


def test_rare_agent_needs_peers_and_a_sliver_of_traffic():
    # a 6-client office: 5 others of the 20 peers that make "rare" sure -> 0.25
    implant = requests("10.0.1.66", "status.agent-sync.net", np.arange(5) * 60.0, agent="odd/1.0")
    found = find("rare_useragent", day(office(clients=5, per_client=200), implant))
    assert row(found, clientip="10.0.1.66")["score"] == pytest.approx(5 / 20)
    # the same agent carrying 5 % of the day's requests is a fleet tool, whoever runs it
    heavy = requests("10.0.1.66", "status.agent-sync.net", np.arange(160) * 60.0, agent="odd/1.0")
    assert find("rare_useragent", day(office(clients=30, per_client=100), heavy)).empty


# ----- blank Host


def test_blank_host_covers_exactly_the_blank_requests():
    blank = pd.concat([requests("10.0.1.66", "-", np.arange(12) * 300.0, server="203.0.113.9"),
                       requests("10.0.1.66", None, [5_000.0, 6_000.0, 7_000.0], server="203.0.113.9"),
                       requests("10.0.1.66", "", [8_000.0, 9_000.0], method=None, server="203.0.113.8")])
    orphans = requests("10.0.1.67", None, [100.0, 200.0], method=None)
    events = day(office(), blank, orphans)
    found = find("blank_host", events)
    hit = row(found, clientip="10.0.1.66")
    brute = sum(1 for c, h in zip(events["clientip"], events["host"]) if c == "10.0.1.66" and h in (None, "-", ""))
    matched = PROXY.with_entity(events).query("clientip == '10.0.1.66' and host == ''")
    assert hit.host == "" and hit.events == brute == len(matched) == 17
    # 15 requests are evidence, the 2 responses Zeek logged without a request are not: n / (n + half), half = 3
    assert hit.score == pytest.approx(15 / (15 + 3))
    assert hit.evidence["without_request"] == 2 and hit.evidence["servers"] == 2
    assert hit.reason == ("blank Host: 15 requests without a Host header to 2 server addresses "
                          "(and 2 responses logged without their request)")
    assert len(found) == 1  # the client with only request-less rows has no evidence


def test_blank_host_in_a_log_without_hosts_is_not_news():
    # Squid's cache_object:// lines, say: the decoder has no Host for any request
    events = day(office(clients=3, per_client=20).assign(host=None))
    assert find("blank_host", events).empty


def test_blank_host_from_many_clients_is_a_fleet_tool():
    checks = pd.concat([requests(f"10.0.2.{i}", "", np.arange(12) * 300.0) for i in range(30)])
    found = find("blank_host", day(office(), checks))
    assert len(found) == 30 and found["score"].max() == pytest.approx(12 / 15 * 3 / 30)


# ----- IP literal as Host


@pytest.mark.parametrize("host,address", [
    ("203.0.113.7", "203.0.113.7"), ("203.0.113.7:8080", "203.0.113.7"), ("[2001:db8::1]:443", "2001:db8::1"),
    ("2001:db8::1", "2001:db8::1"), ("[2001:db8::1]", "2001:db8::1"), ("www.example.com", None),
    ("www.example.com:8080", None), ("", None), ("1.2.3", None), ("300.1.1.1", None),
])
def test_ip_literal(host, address):
    assert proxy.ip_literal(host) == address


def test_ip_host_external_over_internal():
    events = day(office(),
                 requests("10.0.1.66", "45.77.10.20:8080", [100.0, 200.0, 300.0], method="POST", path="/gate.php"),
                 requests("10.0.1.67", "[2a01:4f8::1]", [400.0]),
                 requests("10.0.1.5", "10.20.0.8", [500.0, 600.0, 700.0]))
    found = find("ip_host", events)
    assert len(found) == 3
    assert row(found, clientip="10.0.1.66", host="45.77.10.20:8080")["score"] == pytest.approx(3 / 4)
    assert row(found, clientip="10.0.1.67", host="[2a01:4f8::1]")["score"] == pytest.approx(1 / 2)
    internal = row(found, clientip="10.0.1.5", host="10.20.0.8")
    assert internal.score == pytest.approx(3 / 4 * 0.25) and "internal 10.20.0.8" in internal.reason
    assert found.iloc[0].host == "45.77.10.20:8080"


# ----- long or random URI


def entropy(text: str) -> float:
    data = text.encode()
    return -sum(c / len(data) * math.log2(c / len(data)) for c in Counter(data).values())


def test_long_base64_uri_ranks_first_and_browsing_does_not_fire():
    rng = np.random.default_rng(5)
    blobs = ["/c?d=" + base64.urlsafe_b64encode(rng.bytes(300)).decode() for _ in range(5)]
    smuggle = requests("10.0.1.66", "api.exfil-example.net", [1_000.0, 2_000.0, 3_000.0, 4_000.0, 5_000.0],
                       path=[b.split("?")[0] for b in blobs], query=["?" + b.split("?")[1] for b in blobs])
    background = office()
    found = find("long_uri", day(background, smuggle))
    top = found.iloc[0]
    assert (top.clientip, top.host, top.events) == ("10.0.1.66", "api.exfil-example.net", 5)
    assert top.evidence["length"] == len(blobs[0])
    assert any(top.evidence["entropy"] == pytest.approx(entropy(b)) for b in blobs)
    uris = pd.concat([background["uripath"], pd.Series(blobs)])
    assert top.evidence["median_length"] == np.median(uris.str.len())
    assert top.score > 0.9
    assert not (found["clientip"] != "10.0.1.66").any()


def test_long_uris_every_client_sends_a_tracker_are_its_api():
    rng = np.random.default_rng(6)
    pixels = pd.concat([requests(f"10.0.1.{i + 1}", "px.ads-tracker.example", [40_000.0 + i], path="/p",
                                 query="?e=" + base64.urlsafe_b64encode(rng.bytes(300)).decode()) for i in range(30)])
    found = find("long_uri", day(office(), pixels))
    assert set(found["host"]) == {"px.ads-tracker.example"}
    assert len(found) == 30 and found["score"].max() <= 3 / 30


def test_long_uri_needs_a_day_to_compare_with():
    few = requests("10.0.1.66", "a.example.org", np.arange(10.0), path="/" + "x" * 500)
    assert find("long_uri", day(few, requests("10.0.1.1", "b.example.org", np.arange(9.0)))).empty


# ----- upload heavy


def test_large_upload_and_tiny_posts():
    events = day(office(),
                 requests("10.0.1.66", "upload.share-drop.io", [64_800.0, 65_000.0, 66_000.0, 67_000.0, 68_000.0],
                          method="POST", up=50_000_000, down=400),
                 requests("10.0.1.5", "forms.example.org", np.arange(100) * 60.0, method="POST", up=5_000, down=0),
                 requests("10.0.1.6", "api.example.org", [10.0, 20.0], method="PUT", up=1_000_000, down=50_000))
    found = find("upload_heavy", events)
    assert set(found["clientip"]) == {"10.0.1.66", "10.0.1.6"}  # 500 kB of form posts stay under the floor
    big = row(found, clientip="10.0.1.66")
    # 250 MB up, 2 kB down: ratio 125 000 >= 1000 and volume >= 100 MB -> both parts 1
    assert (big.score, big.events, big.evidence["uploaded"], big.evidence["downloaded"]) == (1.0, 5, 250e6, 2_000)
    small = row(found, clientip="10.0.1.6")
    # 2 MB up, 100 kB down: ratio 20 -> log 20 / log 1000; volume 2 MB -> log 2 / log 100
    assert small.score == pytest.approx((math.log(20) / math.log(1000) + math.log(2) / math.log(100)) / 2)
    assert "upload heavy: 2.0 MB sent, 100.0 kB received (20:1) in 2 requests (2 POST/PUT)" == small.reason


# ----- new domain


def history(days: int, domains=("news-site.com", "cdn-example.net", "corp.example")) -> pd.DataFrame:
    return pd.DataFrame([{"day": DAY - dt.timedelta(days=d), "domain": x} for d in range(1, days + 1)
                         for x in domains])


def test_new_domain_first_seen_today():
    dropper = requests("10.0.1.66", "dl.fresh-payload.top", [100.0, 200.0, 300.0])
    popular = pd.concat([requests(f"10.0.1.{i + 1}", "www.new-popular-site.com", np.arange(10) * 30.0 + i)
                         for i in range(30)])
    events = day(office(), dropper, popular)
    detector = DETECTORS["new_domain"]
    profile = detector.profile(events, detector.params(), CTX)
    assert sorted(profile["domain"]) == ["cdn-example.net", "corp.example", "fresh-payload.top", "new-popular-site.com",
                                         "news-site.com"]
    found = find("new_domain", events, DetectContext(DAY, history=history(7)))
    assert set(found["host"]) == {"dl.fresh-payload.top", "www.new-popular-site.com"}
    hit = row(found, host="dl.fresh-payload.top")
    assert (hit.clientip, hit.score, hit.events) == ("10.0.1.66", 1.0, 3)
    assert "new domain fresh-payload.top" in hit.reason
    crowd = row(found, host="www.new-popular-site.com")
    # 30 clients, 300 requests: 3/30 * 10/300
    assert crowd.clientip is None and crowd.score == pytest.approx(3 / 30 * 10 / 300)
    # two days of history are 2/7 of a week's certainty
    assert row(find("new_domain", events, DetectContext(DAY, history=history(2))),
               host="dl.fresh-payload.top")["score"] == pytest.approx(2 / 7)


def test_new_domain_profile_of_a_day_without_domains_is_still_strings():
    events = day(requests("10.0.1.66", "45.77.10.20", [1.0]))
    detector = DETECTORS["new_domain"]
    profile = pa.Table.from_pandas(detector.profile(events, detector.params(), CTX), preserve_index=False)
    assert profile.num_rows == 0 and profile.schema.field("domain").type == pa.string()


def test_new_domain_without_history_reports_nothing():
    events = day(office(), requests("10.0.1.66", "dl.fresh-payload.top", [100.0]))
    assert find("new_domain", events).empty
    assert find("new_domain", events, DetectContext(DAY, history=history(0))).empty


# ----- all of them


def test_run_all_on_a_day_with_every_scenario():
    events = day(office(), requests("10.0.1.66", "-", np.arange(4) * 60.0, agent=None),
                 requests("10.0.1.66", "45.77.10.20", [10.0], method="POST", up=3_000_000, down=10))
    result = run_all(PROXY, proxy.DETECTORS, events, CTX, histories={"new_domain": history(7)})
    by = result.findings.to_pandas().groupby("detector")["entity"].apply(set).to_dict()
    assert by["blank_host"] == {"10.0.1.66 → "}
    assert by["ip_host"] == by["upload_heavy"] == {"10.0.1.66 → 45.77.10.20"}
    assert by["rare_useragent"] == {"10.0.1.66 → "}  # its agentless requests all had a blank Host
    assert set(result.profiles) == {"new_domain"}


def test_real_proxy_logs_run(shared_datasets):
    from resources.tools import Tools
    from spot_assets.ingest.formats import DecodeError, decode_file, detect

    paths = sorted((shared_datasets / "zeek-labeled").glob("*/http.log.labeled"))
    paths += sorted((shared_datasets / "proxy-logs").iterdir())
    assert paths
    for path in paths:
        try:
            fmt = detect("proxy", path).name
        except DecodeError:
            continue
        events = decode_file("proxy", path, Tools(), fmt).events.to_pandas()
        result = run_all(PROXY, proxy.DETECTORS, events, CTX)
        assert result.findings.num_rows >= 0 and set(result.seconds) == set(DETECTORS), path
