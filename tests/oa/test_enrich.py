"""Enrichment of suspicious events: golden values from small context files written here, computed by hand."""

import datetime as dt
import hashlib
import http.server
import json
import socket
import threading

import dagster as dg
import pyarrow as pa
import pytest

from resources.config import ContextConfig, SpotConfig
from resources.lake import LakeResource
from resources.store import AnalystStore, AnalystStoreResource, Rating
from spot_assets.datatypes import DATA_TYPES
from spot_assets.oa.context import AddressContext, MmdbGeo, load_blocks, load_iploc
from spot_assets.oa.domains import split_name
from spot_assets.oa.enrich import enrich, load_context, suspicious_schema
from spot_assets.oa.enrich_assets import enrich_assets
from spot_assets.oa.files import Warnings
from spot_assets.oa.iana import dns_class_names, dns_rcode_names, dns_type_names, http_status_names
from spot_assets.oa.reputation import HttpProvider, Reputation, ThreatIntelList, reputation_columns
from spot_assets.oa.services import flow_services, protocol_names
from spot_assets.oa.severity import severity_of
from spot_assets.partitions import daily

DAY = dt.date(2024, 7, 8)
T0 = dt.datetime(2024, 7, 8, 13, 5, tzinfo=dt.timezone.utc)


def ip_int(a, b, c, d):
    return a * 2**24 + b * 2**16 + c * 2**8 + d


@pytest.fixture
def files(tmp_path):
    """Context files as an operator would write them, bad lines included."""
    f = {name: tmp_path / name for name in ("ranges.csv", "names.csv", "iploc.csv", "ti.csv", "blocklist.txt")}
    f["ranges.csv"].write_text(
        "block,label\n"
        "10.0.0.0/8,corp\n"
        "172.16.0.1,172.16.0.255,dmz\n"           # Spot's start,end form
        "192.168.1.10-192.168.1.20,printers\n"
        "10.300.0.0/16,typo\n")                    # line 5: bad
    f["names.csv"].write_text(
        "ip,description\n"
        "10.1.0.0/16,Finance VLAN\n"
        "10.2.3.4-10.2.3.9,Build farm\n"
        "10.0.0.0/8,Corporate\n"
        "fd00::/8,IPv6 lab\n")
    google, london = (ip_int(8, 8, 8, 0), ip_int(8, 8, 8, 255)), (ip_int(81, 2, 69, 0), ip_int(81, 2, 69, 255))
    assert google == (134744064, 134744319)
    f["iploc.csv"].write_text(
        f'"{google[0]}","{google[1]}","US","United States","California","Mountain View","37.386","-122.0838",'
        '"Google LLC","google.com"\n'
        '"x","y","a","b","c","d","e","f","g","h"\n'  # line 2: not integers
        f'"{london[0]}","{london[1]}","GB","United Kingdom","England","Nowhere","1","2","Old ISP","isp.example"\n'
        '"1","2","3"\n')                            # line 4: short
    f["ti.csv"].write_text(
        "indicator,label,source,level\n"
        "203.0.113.7,c2,feodo,high\n"
        "198.51.100.0/24,scanner,blocklist,2\n"
        "evil.example.co.uk,phishing,openphish,3\n"
        "http://bad.example.com/payload.exe,malware,urlhaus,3\n"
        "not a thing,x\n")                          # line 6: bad
    f["blocklist.txt"].write_text("# one domain a line\nmalware.test\n")
    return f


@pytest.fixture
def mmdb(tmp_path):
    writer = pytest.importorskip("mmdb_writer", reason="mmdb-writer (test extra) builds the MaxMind DB fixture")
    from netaddr import IPSet

    w = writer.MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City")
    w.insert_network(IPSet(["81.2.69.0/24"]), {
        "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}}, "city": {"names": {"en": "London"}},
        "subdivisions": [{"names": {"en": "England"}}], "location": {"latitude": 51.5142, "longitude": -0.0931}})
    path = tmp_path / "city.mmdb"
    w.to_db_file(str(path))
    return path


def context_config(files, **extra):
    return ContextConfig(ip_ranges=str(files["ranges.csv"]), network_context=str(files["names.csv"]),
                         iploc=str(files["iploc.csv"]), threat_intel=[str(files["ti.csv"]), str(files["blocklist.txt"])],
                         **extra)


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----- pure functions


def test_address_context_golden(files, mmdb):
    log = Warnings()
    ctx = AddressContext(ranges=load_blocks(files["ranges.csv"], log), names=load_blocks(files["names.csv"], log),
                         iploc=load_iploc(files["iploc.csv"], log), mmdb=MmdbGeo(mmdb))
    ips = pa.array(["10.1.2.3", "8.8.8.8", "172.16.0.9", "10.2.3.5", "81.2.69.160", "fd00::1", "192.168.1.21",
                    "nonsense", None])
    got = ctx.columns(ips)
    ctx.close()
    assert got["internal"].to_pylist() == [1, 0, 1, 1, 0, 0, 0, None, None]
    assert got["range"].to_pylist() == ["corp", None, "dmz", "corp", None, None, None, None, None]
    assert got["context"].to_pylist() == ["Finance VLAN", None, None, "Build farm", None, "IPv6 lab", None, None, None]
    assert got["country"].to_pylist()[:2] == [None, "United States"]
    assert got["geoloc"][1].as_py() == "California;Mountain View Google LLC"  # Spot's "<state>;<city> <owner>"
    assert got["domain"][1].as_py() == "google.com"
    assert (got["lat"][1].as_py(), got["lon"][1].as_py()) == (37.386, -122.0838)
    # The MaxMind DB is asked before iploc (which says "Nowhere" for that block).
    assert got["city"][4].as_py() == "London" and got["lat"][4].as_py() == pytest.approx(51.5142)
    assert got["geoloc"][4].as_py() == "England;London "
    assert got["domain"][4].as_py() is None
    assert sorted(m.split(": ")[0] for m in log.messages) == sorted(
        [f"{files['ranges.csv']}:5", f"{files['iploc.csv']}:2", f"{files['iploc.csv']}:4"])


def test_threat_intel_hits_ip_cidr_domain_subdomain_and_url(files):
    log = Warnings()
    ti = ThreatIntelList([files["ti.csv"], files["blocklist.txt"]], log)
    assert [m.split(": ")[0] for m in log.messages] == [f"{files['ti.csv']}:6"]
    ips = ti.check("ip", ["203.0.113.7", "198.51.100.9", "8.8.8.8"])
    assert ips == {"203.0.113.7": Reputation(3, "c2", (), "feodo"), "198.51.100.9": Reputation(2, "scanner", (), "blocklist")}
    domains = ti.check("domain", ["evil.example.co.uk", "x.y.evil.example.co.uk", "example.co.uk", "MALWARE.test."])
    assert {k: v.source for k, v in domains.items()} == {
        "evil.example.co.uk": "openphish", "x.y.evil.example.co.uk": "openphish", "MALWARE.test.": "blocklist"}
    assert domains["MALWARE.test."] == Reputation(3, "listed", (), "blocklist")
    urls = ti.check("url", ["HTTP://Bad.Example.com/payload.exe#x", "http://bad.example.com/other",
                            "http://evil.example.co.uk/login", "http://203.0.113.7:8080/"])
    assert {k: v.source for k, v in urls.items()} == {
        "HTTP://Bad.Example.com/payload.exe#x": "urlhaus", "http://evil.example.co.uk/login": "openphish",
        "http://203.0.113.7:8080/": "feodo"}


def test_reputation_columns_join_providers_as_spot_strings():
    class Fixed:
        name = "fixed"

        def check(self, kind, values):
            return {v: Reputation(1, "Low", ("ads", "tracking"), "fx") for v in values if v.startswith("a")}

    class Broken:
        name = "broken"

        def check(self, kind, values):
            raise RuntimeError("plug-in bug")

    log = Warnings()
    rep, level = reputation_columns("domain", pa.array(["a.com", "b.com", None, "a.com"]), [Fixed(), Broken()], log)
    assert rep.to_pylist() == ["fx:Low:1:ads;tracking::broken:UNVERIFIED:-1", "broken:UNVERIFIED:-1", None,
                               "fx:Low:1:ads;tracking::broken:UNVERIFIED:-1"]
    assert level.to_pylist() == [1, -1, None, 1]
    assert "broken" in log.messages[0] and "plug-in bug" in log.messages[0]


def test_domain_parts_with_a_multi_label_public_suffix():
    assert split_name("a.b.example.co.uk") == ("example.co.uk", "example", "a.b", "co.uk")
    assert split_name("co.uk") == (None, None, None, "co.uk")
    assert split_name("WWW.Example.COM.") == ("example.com", "example", "www", "com")
    assert split_name("shop.example.com:8443") == ("example.com", "example", "shop", "com")
    assert split_name("10.0.0.1") == (None, None, None, None)


def test_iana_names():
    assert dns_type_names(pa.array([1, 28, -1, 65280, None], pa.int32())).to_pylist() == [
        "A", "AAAA", "UNKNOWN", "Unknown (65280)", None]
    assert dns_class_names(pa.array(["0x0001", "1", "0x00000001", "0x00ff", "0x7777"])).to_pylist() == [
        "Internet (IN)", "Internet (IN)", "Internet (IN)", "QCLASS * (ANY)", "Unknown (0x7777)"]
    assert dns_rcode_names(pa.array([0, 3, -1], pa.int32())).to_pylist() == ["NoError", "NXDomain", "UNKNOWN"]
    assert http_status_names(pa.array(["404", "200", "-"])).to_pylist() == ["Not Found", "OK", "Unknown (-)"]


def test_protocol_and_service_names():
    proto = pa.array(["TCP", "17", "ICMP6", "zz"])
    assert protocol_names(proto).to_pylist() == [
        "Transmission Control", "User Datagram", "ICMP for IPv6", "Unknown (zz)"]
    sport, dport = pa.array([51000, 53, 0, 1], pa.int32()), pa.array([443, 40000, 0, 2], pa.int32())
    assert flow_services(sport, dport, proto).to_pylist() == ["https", "domain", None, None]


def test_severity_is_the_latest_matching_rating():
    events = pa.table({"sip": ["10.0.0.1", "10.0.0.1", "10.0.0.2"], "dip": ["8.8.8.8"] * 3,
                       "sport": pa.array([1, 2, 3], pa.int32()), "dport": pa.array([443, 80, 443], pa.int32())})
    at = lambda minutes: T0 + dt.timedelta(minutes=minutes)  # noqa: E731
    ratings = [
        Rating("flow", DAY, {"sip": "10.0.0.1", "dport": 443}, 1, "bob", at(2)),  # later, narrower
        Rating("flow", DAY, {"sip": "10.0.0.1"}, 3, "ana", at(1)),
        Rating("flow", DAY, {"sip": "10.9.9.9"}, 2, "ana", at(3)),                # matches nothing
    ]
    assert severity_of(events, ratings).to_pylist() == [1, 3, None]
    assert severity_of(events, []).to_pylist() == [None, None, None]


class _Service(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):  # noqa: N802
        type(self).hits += 1
        known = {"/ip/203.0.113.7": {"level": 3, "label": "High", "categories": ["botnet"]}}
        body = known.get(self.path)
        self.send_response(200 if body else 404)
        self.end_headers()
        if body:
            self.wfile.write(json.dumps(body).encode())

    def log_message(self, *args):
        pass


def test_http_provider_answers_are_cached(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/{{kind}}/{{value}}"
        provider = HttpProvider("svc", url, Warnings(), timeout=2, cache_dir=tmp_path)
        expected = {"203.0.113.7": Reputation(3, "High", ("botnet",), "svc"), "8.8.8.8": Reputation(0, "NONE", (), "svc")}
        assert provider.check("ip", ["203.0.113.7", "8.8.8.8"]) == expected
        assert provider.check("ip", ["203.0.113.7", "8.8.8.8"]) == expected
        assert _Service.hits == 2  # the second check came from the cache
    finally:
        server.shutdown()
        server.server_close()


def test_unreachable_http_provider_leaves_values_unverified(tmp_path):
    log = Warnings()
    provider = HttpProvider("down", f"http://127.0.0.1:{closed_port()}/{{kind}}/{{value}}", log, timeout=1,
                            cache_dir=tmp_path)
    assert provider.check("ip", ["1.2.3.4", "5.6.7.8"]) == {v: Reputation(-1, "UNVERIFIED", (), "down")
                                                            for v in ("1.2.3.4", "5.6.7.8")}
    [message] = log.messages
    assert "'down' unreachable at 127.0.0.1" in message and "2 ip values left unverified" in message


def test_missing_optional_files_leave_columns_empty(tmp_path):
    log = Warnings()
    ctx = load_context(ContextConfig(iploc=str(tmp_path / "absent.csv")), tmp_path, log)
    out = enrich("dns", dns_suspicious(), [], ctx, log)
    assert out.schema == DATA_TYPES["dns"].oa.ENRICHED
    for column in ("query_rep", "query_rep_level", "network_context", "client_internal", "client_country"):
        assert out[column].null_count == out.num_rows
    assert out["registrable_domain"].to_pylist() == ["example.co.uk", "example.co.uk", "malware.test"]
    assert log.messages == [f"iploc file {tmp_path / 'absent.csv'} does not exist; its columns stay empty"]


# ----- the assets


def flow_suspicious():
    rows = [  # not in score order: rank comes from the score
        dict(sip="8.8.8.8", dip="10.1.2.3", sport=53, dport=40000, proto="UDP", score=0.002),
        dict(sip="10.1.2.3", dip="203.0.113.7", sport=51000, dport=443, proto="TCP", score=0.001),
        dict(sip="172.16.0.9", dip="198.51.100.9", sport=51001, dport=22, proto="TCP", score=0.003),
    ]
    for i, r in enumerate(rows):
        r.update(ts=T0 + dt.timedelta(seconds=i), treceived=f"2024-07-08 13:05:0{i}", source_file="f1", record=i + 1,
                 ipkt=10, ibyt=1000 + i, opkt=5, obyt=500, src_word="w", dst_word="w")
    return pa.Table.from_pylist(rows, schema=suspicious_schema("flow"))


def dns_suspicious():
    names = ["a.b.example.co.uk", "x.evil.example.co.uk", "malware.test"]
    rows = [dict(ts=T0, frame_time="Jul  8, 2024 13:05:00.000000000 UTC", unix_tstamp=int(T0.timestamp()),
                 frame_len=90, ip_dst="10.1.2.3", dns_qry_name=name, dns_qry_class="0x0001", dns_qry_type=t,
                 dns_qry_rcode=rc, source_file="f2", record=i + 1, word="w", score=0.1 * (i + 1))
            for i, (name, t, rc) in enumerate(zip(names, [1, 28, -1], [0, 3, 0]))]
    return pa.Table.from_pylist(rows, schema=suspicious_schema("dns"))


def proxy_suspicious():
    uris = ["http://bad.example.com/payload.exe", "http://shop.example.co.uk:8080/cart?id=1"]
    rows = [dict(ts=T0, p_date="2024-07-08", p_time="13:05:00", clientip="10.2.3.5", host=host, fulluri=uri,
                 respcode=code, uriport=port, source_file="f3", record=i + 1, word="w", score=0.5 - i * 0.1)
            for i, (uri, host, code, port) in enumerate(zip(uris, ["bad.example.com", "shop.example.co.uk:8080"],
                                                            ["200", "404"], ["80", "-"]))]
    return pa.Table.from_pylist(rows, schema=suspicious_schema("proxy"))


@pytest.fixture
def lake_and_store(tmp_path):
    lake = LakeResource(root=str(tmp_path / "lake"))
    for data_type, table in (("flow", flow_suspicious()), ("dns", dns_suspicious()), ("proxy", proxy_suspicious())):
        lake.replace_day(f"{data_type}_suspicious", DAY, table)
    db = tmp_path / "analyst.db"
    store = AnalystStore(f"sqlite:///{db}")
    store.rate("flow", DAY, {"sip": "10.1.2.3", "dport": 443}, 1, "ana")       # matches the lowest score
    store.rate("flow", DAY, {"dip": "192.0.2.1"}, 2, "ana")                    # matches nothing
    store.rate("dns", DAY, {"dns_qry_name": "malware.test"}, 1, "ana")
    store.engine.dispose()  # checkpoint the WAL: the file's bytes are the store's whole state
    return lake, db


def test_enriched_assets_golden_and_the_store_untouched(tmp_path, files, lake_and_store):
    lake, db = lake_and_store
    before = db.read_bytes()
    down = closed_port()
    cfg = SpotConfig.model_validate({"home": str(tmp_path / "home"), "context": context_config(files, http_reputation=[
        {"name": "down", "url": f"http://127.0.0.1:{down}/{{kind}}/{{value}}", "enabled": True, "timeout": 1,
         "kinds": ["ip"]}]).model_dump()})
    partitions = daily(dt.date(2024, 1, 1))
    assets = [a for t in ("flow", "dns", "proxy") for a in enrich_assets(t, partitions, cfg)]
    result = dg.materialize(assets, partition_key=DAY.isoformat(), resources={
        "lake": lake, "store": AnalystStoreResource(url=f"sqlite:///{db}")})
    assert result.success
    assert db.read_bytes() == before  # no materialization writes analyst data

    flow = lake.read_day("flow_enriched", DAY)
    assert flow.schema == DATA_TYPES["flow"].oa.ENRICHED
    rows = flow.to_pylist()
    assert [r["rank"] for r in rows] == [0, 1, 2] and [r["ml_score"] for r in rows] == [0.001, 0.002, 0.003]
    first, second, third = rows
    assert (first["srcip"], first["severity"], second["severity"]) == ("10.1.2.3", 1, None)
    assert (first["srcip_internal"], first["dstip_internal"], first["src_context"]) == (1, 0, "Finance VLAN")
    assert first["dst_rep"] == "feodo:c2:3::down:UNVERIFIED:-1" and first["dst_rep_level"] == 3
    assert first["src_rep"] == "down:UNVERIFIED:-1" and first["src_rep_level"] == -1
    assert third["dst_rep"].startswith("blocklist:scanner:2") and third["src_range"] == "dmz"
    assert (first["protocol_name"], first["service"], second["service"]) == ("Transmission Control", "https", "domain")
    assert (second["src_geoloc"], second["src_domain"], second["src_country"]) == (
        "California;Mountain View Google LLC", "google.com", "United States")
    assert (first["tstart"], first["source_file"], first["record"]) == ("2024-07-08 13:05:01", "f1", 2)
    ratings = AnalystStore(f"sqlite:///{db}").ratings("flow", [DAY])  # a reader's live severity: the same here
    assert severity_of(flow, ratings, DATA_TYPES["flow"].enriched_names).to_pylist() == [1, None, None]

    dns = lake.read_day("dns_enriched", DAY).to_pylist()
    assert [(r["dns_qry_name"], r["tld"], r["public_suffix"], r["subdomain"]) for r in dns] == [
        ("a.b.example.co.uk", "example.co.uk", "co.uk", "a.b"), ("x.evil.example.co.uk", "example.co.uk", "co.uk", "x.evil"),
        ("malware.test", "malware.test", "test", None)]
    assert [r["query_rep"] for r in dns] == [None, "openphish:phishing:3", "blocklist:listed:3"]
    assert [(r["dns_qry_class_name"], r["dns_qry_type_name"], r["dns_qry_rcode_name"]) for r in dns] == [
        ("Internet (IN)", "A", "NoError"), ("Internet (IN)", "AAAA", "NXDomain"), ("Internet (IN)", "UNKNOWN", "NoError")]
    assert [(r["severity"], r["hh"], r["network_context"], r["client_internal"]) for r in dns] == [
        (None, 13, "Finance VLAN", 1), (None, 13, "Finance VLAN", 1), (1, 13, "Finance VLAN", 1)]

    proxy = lake.read_day("proxy_enriched", DAY).to_pylist()
    shop, bad = proxy  # ascending score
    assert bad["uri_rep"] == "urlhaus:malware:3" and shop["uri_rep"] is None
    assert (shop["respcode"], shop["respcode_name"], shop["uriport"], bad["uriport"]) == (404, "Not Found", None, 80)
    assert shop["uri_hash"] == hashlib.md5(b"http://shop.example.co.uk:8080/cart?id=1").hexdigest()
    assert (shop["host_registrable_domain"], shop["host_subdomain"], shop["network_context"]) == (
        "example.co.uk", "shop", "Build farm")

    flow_run = result.asset_materializations_for_node("flow_enriched")[0].metadata
    warnings = flow_run["warnings"].value
    assert any("'down' unreachable" in w for w in warnings)
    assert flow_run["rated_rows"].value == 1 and flow_run["reputation_hits"].value == 2
