"""A tiny lake for the dashboard tests (no Spark): one day of events, suspicious lists and an ingest
summary per data type, written with ``LakeResource`` the way the assets lay them out; for the threat
pages, ratings of 1, context files and storyboards built by the real asset. Also the headless Chrome
the browser tests run in, so plain ``pytest`` runs them without extra flags."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from resources.config import SpotConfig
from resources.lake import LakeResource
from resources.store import AnalystStore, AnalystStoreResource
from spot_assets import schemas
from spot_assets.datatypes import DATA_TYPES
from spot_assets.oa.story_assets import oa_story_assets
from spot_assets.partitions import daily
from spot_dash.app import create_app

DAY = dt.date(2024, 7, 8)
START = dt.datetime(2024, 7, 8, 10, 0, tzinfo=dt.timezone.utc)
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                "--window-size=1440,1000"]
SHOTS = Path(__file__).resolve().parent / "screenshots"


def pytest_setup_options():
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    return options


def until(dash_duo, condition, msg: str, timeout: float = 10):
    WebDriverWait(dash_duo.driver, timeout).until(condition, msg)


def start(dash_duo, cfg, path: str):
    dash_duo.driver.set_window_size(1440, 1180)
    dash_duo.start_server(create_app(cfg))
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}{path}")


def pick(dash_duo, key: str, value: str) -> None:
    """Choose a value in a Dash 4 dropdown (a button that opens a list of options, with a search box
    that narrows a long list to the value, so its option is in view)."""
    dash_duo.find_element(f'.key-box[id*=\'"key":"{key}"\']').click()
    def search(driver):  # the open list's search box
        return [e for e in driver.find_elements(By.CSS_SELECTOR, "input.dash-dropdown-search") if e.is_displayed()]

    until(dash_duo, search, msg=f"the {key} list")
    search(dash_duo.driver)[0].send_keys(value)
    option = f"//label[@role='option'][.//input[@value='{value}']]"
    until(dash_duo, lambda d: d.find_elements(By.XPATH, option), msg=f"option {value}")
    dash_duo.driver.find_element(By.XPATH, option).click()
    until(dash_duo, lambda d: not d.find_elements(By.XPATH, option), msg=f"the {key} list closed")


def shot(dash_duo, name: str, whole: bool = False) -> None:
    """A screenshot for a person to look at (tests/dash/screenshots/, git-ignored); ``whole``: the
    whole page, not only the window."""
    SHOTS.mkdir(exist_ok=True)
    driver = dash_duo.driver
    size = driver.get_window_size()
    if whole:
        driver.set_window_size(size["width"], driver.execute_script("return document.body.scrollHeight") + 140)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))
    if whole:
        driver.set_window_size(size["width"], size["height"])


def _events(data_type: str, columns: dict) -> pa.Table:
    n = len(columns["ts"])
    columns = {**columns, "source_file": [f"{data_type}-file"] * n, "record": list(range(1, n + 1))}
    return schemas.conform(pa.table(columns), DATA_TYPES[data_type].events)


def flow_events() -> pa.Table:
    """Background traffic plus two pairs the tests look at: 10.0.0.5 <-> 203.0.113.9 (three flows in
    10:15, one back, one in 10:16) and 10.0.0.7 -> 198.51.100.20 (two in 11:02), and six more peers
    of 10.0.0.5 in hour 12."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(200):
        rows.append((START + dt.timedelta(seconds=int(rng.integers(0, 7200))), f"10.0.1.{rng.integers(1, 30)}",
                     f"192.0.2.{rng.integers(1, 40)}", int(rng.integers(20000, 40000)), 443, int(rng.integers(100, 5000))))
    at = lambda h, m, s: START.replace(hour=h, minute=m, second=s)  # noqa: E731
    rows += [(at(10, 15, 5), "10.0.0.5", "203.0.113.9", 50001, 4444, 1200),
             (at(10, 15, 20), "10.0.0.5", "203.0.113.9", 50002, 4444, 800),
             (at(10, 15, 40), "10.0.0.5", "203.0.113.9", 50003, 4444, 400),
             (at(10, 15, 30), "203.0.113.9", "10.0.0.5", 4444, 50001, 9000),
             (at(10, 16, 10), "10.0.0.5", "203.0.113.9", 50004, 4444, 100),
             (at(11, 2, 1), "10.0.0.7", "198.51.100.20", 40000, 53, 300),
             (at(11, 2, 9), "10.0.0.7", "198.51.100.20", 40001, 53, 310)]
    # 10.0.0.5's other peers that day (not listed): its chord diagram has more than one ribbon
    rows += [(at(12, 5 * k, 0), "10.0.0.5", f"192.0.2.{100 + k}", 51000 + k, 443, 3000 * (k + 1)) for k in range(5)]
    rows += [(at(12, 40, 0), "198.51.100.7", "10.0.0.5", 443, 52000, 20000)]
    ts, sip, dip, sport, dport, ibyt = zip(*rows)
    return _events("flow", {"ts": pa.array(ts, schemas.TS), "sip": sip, "dip": dip, "sport": sport, "dport": dport,
                            "proto": ["TCP"] * len(rows), "ibyt": ibyt, "ipkt": [b // 100 + 1 for b in ibyt],
                            "obyt": [b // 2 for b in ibyt], "opkt": [1] * len(rows)})


def dns_events() -> pa.Table:
    rows = []
    for i in range(60):
        rows.append((START + dt.timedelta(minutes=i), f"10.0.2.{i % 6 + 1}", f"www{i % 5}.example.com", "93.184.216.34"))
    rows += [(START + dt.timedelta(minutes=30, seconds=s), "10.0.2.9", "x7f3k9q.badcdn.xyz", a)
             for s, a in ((1, "203.0.113.50"), (2, "203.0.113.51"))]
    rows += [(START + dt.timedelta(minutes=40), "10.0.2.9", "c2.evil.example.net", "198.51.100.66")]
    ts, client, name, answer = zip(*rows)
    return _events("dns", {"ts": pa.array(ts, schemas.TS), "ip_dst": client, "ip_src": ["10.0.0.53"] * len(rows),
                           "dns_qry_name": name, "dns_qry_class": ["0x00000001"] * len(rows),
                           "dns_qry_type": [1] * len(rows), "dns_qry_rcode": [0] * len(rows), "dns_a": answer,
                           "frame_len": [90] * len(rows)})


def proxy_events() -> pa.Table:
    rows = []
    for i in range(40):
        rows.append((START + dt.timedelta(minutes=i), f"10.0.3.{i % 4 + 1}", "GET", "news.example.com", f"/a/{i % 3}"))
    rows += [(START + dt.timedelta(minutes=20, seconds=s), "10.0.3.9", "POST", "upload.badhost.xyz", "/gate.php")
             for s in (1, 2, 3)]
    ts, client, method, host, path = zip(*rows)
    return _events("proxy", {"ts": pa.array(ts, schemas.TS), "clientip": client, "reqmethod": method, "host": host,
                             "uripath": path, "fulluri": [f"http://{h}{p}" for h, p in zip(host, path)],
                             "useragent": ["Mozilla/5.0 (test)"] * len(rows), "resconttype": ["text/html"] * len(rows),
                             "serverip": ["192.0.2.80"] * len(rows), "scbytes": [2048] * len(rows),
                             "csbytes": [512] * len(rows), "respcode": ["200"] * len(rows),
                             "webcat": ["News"] * len(rows)})


EVENTS = {"flow": flow_events, "dns": dns_events, "proxy": proxy_events}
# The suspicious list of each type: the rows the tests look at, most suspicious first, then background rows.
SUSPICIOUS = {
    "flow": lambda t: pc.or_(pc.is_in(t["sport"], pa.array([50001, 50002, 4444], pa.int32())), pc.equal(t["dport"], 53)),
    "dns": lambda t: pc.equal(t["ip_dst"], "10.0.2.9"),
    "proxy": lambda t: pc.equal(t["clientip"], "10.0.3.9"),
}
BACKGROUND_LISTED = 20


def suspicious_of(data_type: str, events: pa.Table) -> pa.Table:
    picked = SUSPICIOUS[data_type](events)
    chosen = pa.concat_tables([events.filter(picked), events.filter(pc.invert(picked)).slice(0, BACKGROUND_LISTED)])
    chosen = chosen.select(list(DATA_TYPES[data_type].ml_columns))
    scores = pa.array(np.geomspace(1e-7, 1e-3, chosen.num_rows))
    return chosen.append_column("word", pa.array(["w"] * chosen.num_rows)).append_column("score", scores)


def ingest_summary(events: pa.Table) -> pa.Table:
    minute = pc.floor_temporal(events["ts"], unit="minute")
    counts = pa.table({"minute": minute}).group_by("minute").aggregate([("minute", "count")]).sort_by("minute")
    return pa.table({"minute": counts["minute"], "tdate": pc.strftime(counts["minute"], "%Y-%m-%d %H:%M"),
                     "total": counts["minute_count"]}, schema=schemas.INGEST_SUMMARY)


def write_day(lake: LakeResource, data_type: str, day: dt.date = DAY) -> pa.Table:
    events = EVENTS[data_type]()
    hours = pc.hour(events["ts"])
    for hour in sorted(set(hours.to_pylist())):
        lake.write_part(f"{data_type}_events", day, "f1", events.filter(pc.equal(hours, hour)), hour)
    lake.replace_day(f"{data_type}_suspicious", day, suspicious_of(data_type, events))
    lake.replace_day(f"{data_type}_ingest_summary", day, ingest_summary(events))
    return events


REPUTATION = {"203.0.113.9": "ti:High:3::fb:MALICIOUS:3", "198.51.100.20": "ti:Medium:2"}


def write_flow_enriched(lake: LakeResource, day: dt.date = DAY) -> pa.Table:
    """``flow_enriched`` as the OA step names it (Spot's srcip/dstip/ml_score), with geolocation and
    reputation of the external addresses, so the grid shows its shields and globes."""
    listed = lake.read_day("flow_suspicious", day)
    n = listed.num_rows

    def side(column: str, prefix: str) -> dict:
        ips = listed[column].to_pylist()
        outside = [not ip.startswith("10.") for ip in ips]
        return {f"{prefix}ip_internal": pa.array([int(not o) for o in outside], pa.int32()),
                f"{prefix}_geoloc": pa.array(["US;Ashburn Example Transit" if o else None for o in outside]),
                f"{prefix}_domain": pa.array(["example-transit.net" if o else None for o in outside]),
                f"{prefix}_rep": pa.array([REPUTATION.get(ip, "ti:NONE:0") if o else None for ip, o in zip(ips, outside)])}

    columns = {{"sip": "srcip", "dip": "dstip", "score": "ml_score"}.get(c, c): listed[c] for c in listed.column_names}
    columns["rank"] = pa.array(range(n), pa.int32())
    columns.update(side("sip", "src"))
    columns.update(side("dip", "dst"))
    enriched = pa.table(columns)
    lake.replace_day("flow_enriched", day, enriched)
    return enriched


@pytest.fixture
def dash_config(tmp_path) -> SpotConfig:
    """A home whose lake holds one day of every type (flows enriched, DNS and proxy as the ML wrote them)."""
    cfg = SpotConfig.model_validate({"home": str(tmp_path / "home"), "dashboard": {"analyst": "tester"}})
    lake = LakeResource(root=cfg.lake_root)
    for data_type in EVENTS:
        write_day(lake, data_type)
    write_flow_enriched(lake)
    return cfg


# ----- threat investigation and storyboards

GATE = "http://upload.badhost.xyz/gate.php"
# The ratings of 1 each type's Threat investigation lists, and the item the tests investigate.
HIGH_RISK = {"flow": [{"sip": "10.0.0.5", "dip": "203.0.113.9"}],
             "dns": [{"dns_qry_name": "x7f3k9q.badcdn.xyz"}, {"ip_dst": "10.0.2.9"}],
             "proxy": [{"fulluri": GATE}, {"clientip": "10.0.3.9"}]}
ANCHORS = {"flow": "10.0.0.5", "dns": "x7f3k9q.badcdn.xyz", "proxy": GATE}


def _ip_int(ip: str) -> int:
    a, b, c, d = map(int, ip.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def write_context_files(folder) -> dict:
    """Spot's iploc.csv and network context for the flow storyboard's map and impact breakdown."""
    folder.mkdir(parents=True, exist_ok=True)
    places = [("10.0.0.0", "US", "United States", "CA", "Santa Clara", 37.35, -121.95, "Corp"),
              ("192.0.2.0", "DE", "Germany", "HE", "Frankfurt", 50.11, 8.68, "Partner"),
              ("198.51.100.0", "BR", "Brazil", "SP", "Sao Paulo", -23.55, -46.63, "Transit"),
              ("203.0.113.0", "FR", "France", "IDF", "Paris", 48.85, 2.35, "Evil")]
    iploc = folder / "iploc.csv"
    iploc.write_text("".join(",".join(f'"{v}"' for v in (_ip_int(net), _ip_int(net) + 255, *rest, "example.net")) + "\n"
                             for net, *rest in places))
    names = folder / "networkcontext.csv"
    names.write_text("block,name\n10.0.0.0/24,Servers\n192.0.2.96/28,Partner DMZ\n192.0.2.0/24,Partners\n")
    return {"iploc": str(iploc), "network_context": str(names)}


def write_referred_requests(lake: LakeResource, day: dt.date = DAY) -> None:
    """Two more requests for the threat URI from another client, and two it referred (another part file)."""
    at = lambda m, s: START.replace(minute=m, second=s)  # noqa: E731
    rows = [(at(22, 1), "10.0.3.7", "GET", "upload.badhost.xyz", "/gate.php", "http://news.example.com/a/1"),
            (at(22, 9), "10.0.3.7", "GET", "upload.badhost.xyz", "/gate.php", "http://news.example.com/a/1"),
            (at(22, 30), "10.0.3.7", "GET", "cdn.badhost.xyz", "/payload.bin", GATE),
            (at(23, 2), "10.0.3.9", "GET", "cdn.badhost.xyz", "/payload.bin", GATE)]
    ts, client, method, host, path, referer = zip(*rows)
    n = len(rows)
    events = schemas.conform(pa.table({
        "ts": pa.array(ts, schemas.TS), "clientip": client, "reqmethod": method, "host": host, "uripath": path,
        "fulluri": [f"http://{h}{p}" for h, p in zip(host, path)], "referer": referer,
        "useragent": ["Mozilla/5.0 (test)"] * n, "resconttype": ["application/octet-stream"] * n,
        "respcode": ["200", "200", "404", "200"], "serverip": ["192.0.2.81"] * n, "scbytes": [4096] * n,
        "csbytes": [300] * n, "duration": [120, 95, 40, 310], "source_file": ["proxy-file-2"] * n,
        "record": list(range(1, n + 1))}), DATA_TYPES["proxy"].events)
    lake.write_part("proxy_events", day, "f2", events, 10)


@pytest.fixture
def story_config(dash_config, tmp_path) -> SpotConfig:
    """The dashboard's home with geolocation and network context configured, the referred proxy
    requests, and the ratings of 1 (``HIGH_RISK``) in the analyst store; no threat saved yet."""
    cfg = SpotConfig.model_validate({**dash_config.model_dump(), "context": write_context_files(tmp_path / "ctx")})
    write_referred_requests(LakeResource(root=cfg.lake_root))
    store = AnalystStore(cfg.store_url)
    for data_type, selectors in HIGH_RISK.items():
        for selector in selectors:
            store.rate(data_type, DAY, selector, 1, "ana")
    store.engine.dispose()
    return cfg


def build_storyboard(cfg: SpotConfig, data_type: str, day: dt.date = DAY) -> None:
    """What the threat sensor's run does: materialize the day's ``<type>_storyboard`` (in process)."""
    assets = [a for a in oa_story_assets(data_type, daily(day), cfg) if a.key.to_user_string() == f"{data_type}_storyboard"]
    result = dg.materialize(assets, partition_key=day.isoformat(), resources={
        "lake": LakeResource(root=cfg.lake_root), "store": AnalystStoreResource(url=cfg.store_url)})
    assert result.success
