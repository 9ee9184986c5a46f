"""Details, threat investigation and storyboards on small hand-made days; golden values worked out by hand
from the event lists below."""

import datetime as dt
import hashlib
import json
from pathlib import Path

import dagster as dg
import jsonschema
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from resources.config import ContextConfig, SpotConfig
from resources.lake import LakeResource
from resources.store import AnalystStore, AnalystStoreResource
from spot_assets import schemas
from spot_assets.datatypes import DATA_TYPES
from spot_assets.ingest.timecols import with_time_columns
from spot_assets.oa import dns, flow, investigate, proxy
from spot_assets.oa.details import row_details
from spot_assets.oa.enrich import suspicious_schema
from spot_assets.oa.investigate import dns_expanded_search, flow_expanded_search, proxy_expanded_search
from spot_assets.oa.story_assets import oa_story_assets
from spot_assets.oa.storyboard import anchor_id, json_schema
from spot_assets.partitions import daily

DAY = dt.date(2024, 7, 8)
X, UNLOCATED = "203.0.113.5", "198.51.100.7"  # flow threats: X has a location, UNLOCATED has none
A, B, C, D, E, F = (f"10.0.0.{i}" for i in range(1, 7))
CL1, CL2 = "10.1.0.1", "10.1.0.2"
P1, P2 = "10.2.0.1", "10.2.0.2"
U = "http://evil.example/x.php"
NEWS = "http://news.example/"


def at(hh: int, mm: int, ss: int = 0) -> dt.datetime:
    return dt.datetime(DAY.year, DAY.month, DAY.day, hh, mm, ss, tzinfo=dt.timezone.utc)


# (time, sip, dip, dport, ibyt, ipkt); record = position + 1
FLOWS = [
    (at(10, 15, 5), X, A, 22, 100, 2),     # 1  suspicious; A is two-way (3 flows)
    (at(10, 15, 40), A, X, 443, 300, 3),   # 2  suspicious (same pair and minute as 1)
    (at(10, 16, 30), X, A, 22, 200, 2),    # 3  next minute: not a detail of 1
    (at(10, 15, 10), X, B, 445, 1000, 10),  # 4  suspicious; B inbound (2 flows)
    (at(11, 0, 0), X, B, 445, 500, 5),     # 5
    (at(12, 30, 0), C, X, 80, 50, 1),      # 6  C outbound
    (at(10, 15, 20), A, B, 139, 7, 1),     # 7  both IPs suspicious, the pair is not
    (at(10, 16, 0), D, A, 53, 70, 1),      # 8
    (at(13, 0, 0), X, E, 3389, 10, 1),     # 9  E inbound: most connections, few bytes
    (at(13, 1, 0), X, E, 3389, 10, 1),     # 10
    (at(13, 2, 0), X, E, 3389, 10, 1),     # 11
    (at(14, 0, 0), X, F, 3389, 5, 1),      # 12 F inbound
    (at(15, 0, 0), UNLOCATED, A, 443, 9, 1),  # 13
]

# (time, client, name, answer)
QUERIES = [
    (at(9, 0, 10), CL1, "bad.example.com", "192.0.2.66"),    # suspicious
    (at(9, 0, 50), CL1, "bad.example.com", "192.0.2.66"),
    (at(9, 5, 0), CL1, "bad.example.com", "192.0.2.66"),
    (at(10, 0, 0), CL2, "bad.example.com", "192.0.2.66"),    # another hour
    (at(9, 30, 0), CL2, "x.bad.example.com", "192.0.2.67"),  # contains the name
    (at(9, 10, 0), CL1, "good.org", "192.0.2.10"),
    (at(12, 0, 0), CL1, "good.org", "192.0.2.10"),
]

# (time, client, method, uri, referer, content type, respcode, duration)
REQUESTS = [
    (at(8, 0, 0), P1, "GET", U, NEWS, "text/html", "200", 100),  # suspicious
    (at(8, 0, 30), P1, "GET", U, NEWS, "text/html", "200", 50),
    (at(8, 10, 0), P2, "POST", U, None, "application/octet-stream", "404", 10),
    (at(8, 1, 0), P1, "GET", "http://evil.example/payload.bin", U, "application/octet-stream", "200", 30),
    (at(8, 2, 0), P2, "GET", "http://other.example/", NEWS, "text/html", "200", 5),
    (at(9, 0, 0), P1, "GET", U, NEWS, "text/html", "200", 20),
]


def events(data_type: str, columns: dict) -> pa.Table:
    n = len(columns["ts"])
    table = pa.table({**columns, "source_file": ["f1"] * n, "record": list(range(1, n + 1))})
    return schemas.conform(with_time_columns(data_type, table), DATA_TYPES[data_type].events)


def flow_events() -> pa.Table:
    ts, sip, dip, dport, ibyt, ipkt = zip(*FLOWS)
    n = len(FLOWS)
    return events("flow", {"ts": ts, "sip": sip, "dip": dip, "sport": [40000 + i for i in range(n)], "dport": dport,
                           "proto": ["TCP"] * n, "ibyt": ibyt, "ipkt": ipkt, "obyt": [0] * n, "opkt": [0] * n})


def dns_events() -> pa.Table:
    ts, client, name, answer = zip(*QUERIES)
    n = len(QUERIES)
    return events("dns", {"ts": ts, "ip_dst": client, "ip_src": ["10.1.0.53"] * n, "dns_qry_name": name,
                          "dns_qry_class": ["0x0001"] * n, "dns_qry_type": [1] * n, "dns_qry_rcode": [0] * n,
                          "dns_a": answer})


def proxy_events() -> pa.Table:
    ts, client, method, uri, referer, ctype, code, duration = zip(*REQUESTS)
    n = len(REQUESTS)
    return events("proxy", {"ts": ts, "clientip": client, "reqmethod": method, "fulluri": uri, "referer": referer,
                            "resconttype": ctype, "respcode": code, "duration": duration, "useragent": ["UA"] * n,
                            "serverip": ["192.0.2.80"] * n, "scbytes": [500] * n, "csbytes": [200] * n})


EVENTS = {"flow": flow_events, "dns": dns_events, "proxy": proxy_events}
SUSPICIOUS_RECORDS = {"flow": [1, 2, 4], "dns": [1], "proxy": [1]}


def suspicious(data_type: str) -> pa.Table:
    table = EVENTS[data_type]()
    rows = table.take([r - 1 for r in SUSPICIOUS_RECORDS[data_type]])
    schema = suspicious_schema(data_type)
    return schemas.conform(rows.append_column("score", pa.array([0.001] * rows.num_rows)), schema)


def write_lake(root: Path) -> LakeResource:
    lake = LakeResource(root=str(root))
    for data_type, make in EVENTS.items():
        table = make()
        hours = pc.hour(table["ts"]).to_pylist()
        for hour in sorted(set(hours)):
            part = table.filter(pa.array([h == hour for h in hours]))
            lake.write_part(f"{data_type}_events", DAY, "f1", part, hour=hour)
        lake.replace_day(f"{data_type}_suspicious", DAY, suspicious(data_type))
    return lake


@pytest.fixture
def lake(tmp_path):
    return write_lake(tmp_path / "lake")


def records(table: pa.Table) -> list[int]:
    return table["record"].to_pylist()


# ----- threat investigation


def peer_rows(search) -> dict[str, tuple]:
    return {r["peer"]: (r["direction"], r["conns"], r["in_conns"], r["out_conns"], r["maxbytes"], r["avgbytes"],
                        r["bytes"], r["maxpkts"], r["dports"]) for r in search.peers.to_pylist()}


def test_flow_expanded_search_classifies_peers(lake):
    search = flow_expanded_search(lake, DAY, X, top_n=1)
    assert sorted(records_of(search.rows)) == [1, 2, 3, 4, 5, 6, 9, 10, 11, 12]
    assert peer_rows(search) == {
        A: ("two-way", 3, 1, 2, 300, 200.0, 600, 3, 2),  # X->A twice (22), A->X once (443)
        B: ("inbound", 2, 0, 2, 1000, 750.0, 1500, 10, 1),
        C: ("outbound", 1, 1, 0, 50, 50.0, 50, 1, 1),
        E: ("inbound", 3, 0, 3, 10, 10.0, 30, 1, 1),
        F: ("inbound", 1, 0, 1, 5, 5.0, 5, 1, 1),
    }
    times = {r["peer"]: (r["first_seen"], r["last_seen"]) for r in search.peers.to_pylist()}
    assert times[A] == (at(10, 15, 5), at(10, 16, 30)) and times[E] == (at(13, 0), at(13, 2))
    # Top 1 by connections (E) ∪ top 1 by bytes (B); F is neither.
    assert search.classes["inbound"]["peer"].to_pylist() == [E, B]
    assert search.classes["outbound"]["peer"].to_pylist() == [C]
    assert search.classes["two-way"]["peer"].to_pylist() == [A]
    assert search.by_connections["peer"].to_pylist() == [A]  # A and E have 3: ties by address
    assert search.by_bytes["peer"].to_pylist() == [B]
    spot_rows = search.connections.to_pylist()
    assert [(r["sip"], r["dip"], r["dport"], r["conns"], r["maxbyts"]) for r in spot_rows][:2] == [
        (X, A, 22, 1, 100), (X, B, 445, 1, 1000)]  # sports differ per flow, so one row per flow


def records_of(rows: pa.Table) -> list[int]:
    """The FLOWS positions (1-based) of search rows, found by time."""
    return [next(i + 1 for i, f in enumerate(FLOWS) if f[0] == t) for t in rows["ts"].to_pylist()]


def test_the_pyarrow_path_of_remote_lakes_answers_the_same(lake, monkeypatch):
    local = flow_expanded_search(lake, DAY, X)
    monkeypatch.setattr(investigate, "is_local", lambda _: False)
    remote = flow_expanded_search(lake, DAY, X)
    assert remote.peers.equals(local.peers)
    assert dns_expanded_search(lake, DAY, domain="bad.example.com").num_rows == 2


def test_unknown_ip_and_empty_day(lake):
    assert flow_expanded_search(lake, DAY, "192.0.2.200").peers.num_rows == 0
    empty = flow_expanded_search(lake, DAY + dt.timedelta(days=1), X)
    assert empty.rows.num_rows == 0 and all(t.num_rows == 0 for t in empty.classes.values())


def test_dns_expanded_search_both_ways(lake):
    assert dns_expanded_search(lake, DAY, domain="bad.example.com").to_pylist() == [
        {"dns_qry_name": "bad.example.com", "ip_dst": CL1, "total": 3},
        {"dns_qry_name": "bad.example.com", "ip_dst": CL2, "total": 1}]
    assert dns_expanded_search(lake, DAY, ip=CL1, top_n=1).to_pylist() == [
        {"dns_qry_name": "bad.example.com", "ip_dst": CL1, "total": 3}]
    with pytest.raises(ValueError):
        dns_expanded_search(lake, DAY)


def test_proxy_expanded_search_requests_and_referred(lake):
    search = proxy_expanded_search(lake, DAY, U)
    assert [(r["clientip"], r["reqmethod"], r["referer"]) for r in search.requests.to_pylist()] == [
        (P1, "GET", NEWS), (P1, "GET", NEWS), (P2, "POST", None), (P1, "GET", NEWS)]
    assert search.referred["fulluri"].to_pylist() == ["http://evil.example/payload.bin"]


# ----- details


def test_flow_details_same_minute_and_chords(lake):
    tables = flow.details(lake, DAY, suspicious("flow"))
    assert records(tables["flow_details"]) == [1, 4, 2]  # by time; not 3 (next minute) nor 7 (other pair)
    assert tables["flow_details"]["trminute"].to_pylist() == [15, 15, 15]
    # X has two suspicious peers (A, B); A and B have one each. Day totals per direction.
    assert tables["flow_chords"].to_pylist() == [
        {"ip_threat": X, "sip": A, "dip": X, "ibyt": 300, "ipkt": 3},
        {"ip_threat": X, "sip": X, "dip": A, "ibyt": 300, "ipkt": 4},
        {"ip_threat": X, "sip": X, "dip": B, "ibyt": 1500, "ipkt": 15},
    ]


def test_dns_details_names_containing_the_query_in_its_hour(lake):
    tables = dns.details(lake, DAY, suspicious("dns"))
    edges = tables["dns_details"]
    assert records(edges) == [1, 2, 3, 5]
    assert set(edges["anchor"].to_pylist()) == {"bad.example.com"} and set(edges["hh"].to_pylist()) == {9}
    assert edges["dns_qry_type_name"].to_pylist()[0] == "A"
    assert [(r["dns_qry_name"], r["dns_a"], r["queries"]) for r in tables["dns_dendro"].to_pylist()] == [
        ("bad.example.com", "192.0.2.66", 3), ("good.org", "192.0.2.10", 2)]


def test_proxy_details_same_uri_client_and_hour(lake):
    edges = proxy.details(lake, DAY, suspicious("proxy"))["proxy_details"]
    assert records(edges) == [1, 2]
    assert edges["respcode_name"].to_pylist() == ["OK", "OK"]
    assert edges["useragent"].to_pylist() == ["UA", "UA"]


def test_a_rows_details_are_read_from_the_table_the_asset_built(lake):
    """The dashboard's details of a row come from ``<type>_details`` when it holds the row: a table
    that lost a row's events answers without them, so it was read, not recomputed."""
    rows = suspicious("flow")
    built = flow.details(lake, DAY, rows)["flow_details"]
    lake.replace_day("flow_details", DAY, built.filter(pc.equal(built["record"], 1)))
    assert records(row_details(lake, "flow", rows.to_pylist()[0])) == [1]  # 2 left the table
    assert records(row_details(lake, "flow", rows.to_pylist()[2])) == [4]  # not in it: computed the same way


def test_dns_row_details_are_the_exact_name_in_its_hour(lake):
    """Spot's dns_edge holds the names containing the query (record 5); its UI showed the exact name."""
    rows = suspicious("dns")
    lake.replace_day("dns_details", DAY, dns.details(lake, DAY, rows)["dns_details"])
    assert records(row_details(lake, "dns", rows.to_pylist()[0])) == [1, 2, 3]
    other = dns_events().to_pylist()[5]  # good.org at 09:10, not suspicious: computed with the same rule
    assert records(row_details(lake, "dns", other)) == [6]
    proxy_row = suspicious("proxy").to_pylist()[0]
    assert records(row_details(lake, "proxy", proxy_row)) == [1, 2]  # nothing built: computed


# ----- storyboards through Dagster


@pytest.fixture
def context_files(tmp_path):
    names = tmp_path / "networkcontext.csv"
    names.write_text("block,name\n10.0.0.0/30,Servers\n10.0.0.4/30,Desktops\n")
    iploc = tmp_path / "iploc.csv"
    n = lambda a, b, c, d: (a << 24) | (b << 16) | (c << 8) | d  # noqa: E731
    rows = [(n(10, 0, 0, 0), n(10, 0, 0, 255), "US", "United States", "CA", "Santa Clara", "37.35", "-121.95", "Corp",
             "corp.example"),
            (n(203, 0, 113, 0), n(203, 0, 113, 255), "FR", "France", "IDF", "Paris", "48.85", "2.35", "Evil",
             "evil.example")]
    iploc.write_text("".join(",".join(f'"{v}"' for v in row) + "\n" for row in rows))
    return ContextConfig(network_context=str(names), iploc=str(iploc))


def save_threats(db: Path) -> None:
    store = AnalystStore(f"sqlite:///{db}")
    for data_type, anchor in (("flow", X), ("flow", UNLOCATED), ("dns", "bad.example.com"), ("dns", CL1),
                              ("proxy", U)):
        store.save_threat(data_type, DAY, anchor, f"title {anchor}", "line one\nline two", "ana")
    store.engine.dispose()  # checkpoint the WAL: the file's bytes are the store's whole state


def materialize(tmp_path: Path, lake: LakeResource, db: Path, context: ContextConfig) -> None:
    cfg = SpotConfig(home=str(tmp_path / "home"), context=context)
    assets = [a for t in ("flow", "dns", "proxy") for a in oa_story_assets(t, daily(DAY), cfg)]
    result = dg.materialize(assets, resources={"lake": lake, "store": AnalystStoreResource(url=f"sqlite:///{db}")},
                            partition_key=DAY.isoformat())
    assert result.success


def read_json(lake: LakeResource, data_type: str, path: str) -> dict:
    return json.loads(Path(lake.storyboard_dir(data_type, DAY), path).read_text())


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_storyboard_assets_golden_valid_and_store_untouched(tmp_path, lake, context_files):
    db = tmp_path / "analyst.db"
    save_threats(db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    materialize(tmp_path, lake, db, context_files)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before

    for data_type in ("flow", "dns", "proxy"):
        briefing = read_json(lake, data_type, "briefing.json")
        jsonschema.validate(briefing, json_schema(None, "briefing"))
        for threat in briefing["threats"]:
            assert set(threat["artifacts"]) <= set(DATA_TYPES[data_type].artifacts)
            for name, path in threat["artifacts"].items():
                jsonschema.validate(read_json(lake, data_type, path), json_schema(data_type, name))
    assert [t["anchor"] for t in read_json(lake, "flow", "briefing.json")["threats"]] == [X, UNLOCATED]
    assert read_json(lake, "flow", "briefing.json")["threats"][0]["description"] == "line one\nline two"

    x = anchor_id(X)
    assert read_json(lake, "flow", f"{x}/dendro.json") == {"name": X, "children": [
        {"name": "inbound", "impact": 3,
         "children": [{"name": "Desktops", "impact": 2}, {"name": "Servers", "impact": 1}]},
        {"name": "outbound", "impact": 1, "children": [{"name": "Servers", "impact": 1}]},
        {"name": "two-way", "impact": 1, "children": [{"name": "Servers", "impact": 1}]}]}
    impact = read_json(lake, "flow", f"{x}/impact.json")
    assert (impact["name"], impact["size"]) == (f"title {X}", 5)
    assert [(c["name"], c["size"], c["conns"], c["bytes"]) for c in impact["children"]] == [
        ("inbound", 3, 6, 1535), ("outbound", 1, 1, 50), ("two-way", 1, 3, 600)]
    globe = read_json(lake, "flow", f"{x}/globe.json")
    paris, santa_clara = [2.35, 48.85], [-121.95, 37.35]
    assert globe["anchor"]["coordinates"] == paris and globe["unlocated_peers"] == 0
    lines = {f["properties"]["destination_ip"] if f["properties"]["source_ip"] == X else f["properties"]["source_ip"]:
             (f["properties"]["direction"], f["geometry"]["coordinates"]) for f in globe["features"]}
    assert lines == {A: ("two-way", [paris, santa_clara]), B: ("inbound", [paris, santa_clara]),
                     E: ("inbound", [paris, santa_clara]), F: ("inbound", [paris, santa_clara]),
                     C: ("outbound", [santa_clara, paris])}
    timeline = read_json(lake, "flow", f"{x}/timeline.json")
    assert timeline["rows"][0] == {"peer": A, "direction": "two-way", "start": "2024-07-08T10:15:00Z", "conns": 2,
                                   "ibyt": 400, "ipkt": 5, "dports": [22, 443]}
    assert len(timeline["rows"]) == 9 and not timeline["truncated"]

    unlocated = Path(lake.storyboard_dir("flow", DAY), anchor_id(UNLOCATED))
    assert sorted(p.name for p in unlocated.iterdir()) == ["dendro.json", "impact.json", "timeline.json"]

    query = read_json(lake, "dns", f"{anchor_id('bad.example.com')}/dendro.json")
    assert query == {"name": "bad.example.com", "kind": "query",
                     "children": [{"name": CL1, "total": 3}, {"name": CL2, "total": 1}]}
    assert [(r["name"], r["start"], r["queries"]) for r in
            read_json(lake, "dns", f"{anchor_id('bad.example.com')}/timeline.json")["rows"]] == [
        (CL1, "2024-07-08T09:00:00Z", 2), (CL1, "2024-07-08T09:05:00Z", 1), (CL2, "2024-07-08T10:00:00Z", 1)]
    assert read_json(lake, "dns", f"{anchor_id(CL1)}/dendro.json")["kind"] == "client"

    progression = read_json(lake, "proxy", f"{anchor_id(U)}/dendro.json")
    assert progression["requests"] == [
        {"clientip": P1, "referer": NEWS, "reqmethod": "GET", "resconttype": "text/html", "count": 3},
        {"clientip": P2, "referer": None, "reqmethod": "POST", "resconttype": "application/octet-stream", "count": 1}]
    assert progression["referred"] == [{"fulluri": "http://evil.example/payload.bin", "count": 1}]
    assert read_json(lake, "proxy", f"{anchor_id(U)}/timeline.json")["rows"] == [
        {"clientip": P1, "start": "2024-07-08T08:00:00Z", "requests": 2, "duration": 150, "respcodes": ["200"]},
        {"clientip": P2, "start": "2024-07-08T08:10:00Z", "requests": 1, "duration": 10, "respcodes": ["404"]},
        {"clientip": P1, "start": "2024-07-08T09:00:00Z", "requests": 1, "duration": 20, "respcodes": ["200"]}]

    # A re-run gives the same files, and the store is still untouched.
    first = {t: digest(Path(lake.storyboard_dir(t, DAY))) for t in ("flow", "dns", "proxy")}
    materialize(tmp_path, lake, db, context_files)
    assert {t: digest(Path(lake.storyboard_dir(t, DAY))) for t in ("flow", "dns", "proxy")} == first
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert lake.read_day("flow_details", DAY).num_rows == 3


def test_without_context_files_no_globe_and_no_context_level(tmp_path, lake):
    db = tmp_path / "analyst.db"
    save_threats(db)
    materialize(tmp_path, lake, db, ContextConfig())
    folder = Path(lake.storyboard_dir("flow", DAY), anchor_id(X))
    assert not (folder / "globe.json").exists()
    dendro = read_json(lake, "flow", f"{anchor_id(X)}/dendro.json")
    jsonschema.validate(dendro, json_schema("flow", "dendro"))
    assert dendro["children"][0] == {"name": "inbound", "impact": 3}
