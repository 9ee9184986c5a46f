"""Zeek conn/dns/http logs (ASCII, gzip, CSV, IoT-23 labeled) decoded into Spot's flow, DNS and proxy rows.

The fixtures are Zeek logs written out here line by line; every expected value below was worked out
by hand from the fixture text (not from the code under test).
"""

from __future__ import annotations

import gzip
from datetime import datetime, timezone
from pathlib import Path

import pytest

from resources.tools import Tools
from spot_assets.ingest import formats
from spot_assets.ingest.formats import DecodeError, zeek

ZEEK = {f.name: f for f in zeek.FORMATS}
TOOLS = Tools()

CONN_FIELDS = (
    "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes resp_bytes conn_state "
    "local_orig local_resp missed_bytes history orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents"
).split()
CONN_TYPES = (
    "time string addr port addr port enum string interval count count string bool bool count string count count "
    "count count set[string]"
).split()
DNS_FIELDS = (
    "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto trans_id rtt query qclass qclass_name qtype qtype_name "
    "rcode rcode_name AA TC RD RA Z answers TTLs rejected"
).split()
DNS_TYPES = (
    "time string addr port addr port enum count interval string count string count string count string bool bool "
    "bool bool count vector[string] vector[interval] bool"
).split()
HTTP_FIELDS = (
    "ts uid id.orig_h id.orig_p id.resp_h id.resp_p trans_depth method host uri referrer version user_agent origin "
    "request_body_len response_body_len status_code status_msg info_code info_msg tags username password proxied "
    "orig_fuids orig_filenames orig_mime_types resp_fuids resp_filenames resp_mime_types"
).split()
HTTP_TYPES = (
    "time string addr port addr port count string string string string string string string count count count "
    "string count string set[enum] string string set[string] vector[string] vector[string] vector[string] "
    "vector[string] vector[string] vector[string]"
).split()


def header(path: str, fields: list[str], types: list[str]) -> list[str]:
    """Zeek's ASCII header block (8 lines), as Zeek writes it."""
    return [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        f"#path\t{path}",
        "#open\t2023-11-14-22-13-20",
        "#fields\t" + "\t".join(fields),
        "#types\t" + "\t".join(types),
    ]


def tsv(*values: str) -> str:
    return "\t".join(values)


def write(path: Path, lines: list[str], compress: bool = False) -> Path:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def utc(seconds: int, millis: int = 0) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc).replace(microsecond=millis * 1000)


# conn.log: lines 1-8 header, 9-14 entries (line 11 cut short in transfer), 15 #close.
CONN_LINES = header("conn", CONN_FIELDS, CONN_TYPES) + [
    tsv("1700000000.123456", "CAbc1a2b3c4d5e6f7", "192.168.1.10", "49152", "93.184.216.34", "80", "tcp", "http",
        "1.500000", "120", "3400", "SF", "-", "-", "0", "ShADadfF", "8", "540", "6", "3720", "(empty)"),
    tsv("1700000001.000999", "CXyz9y8x7w6v5u4t3", "192.168.1.10", "53211", "8.8.8.8", "53", "udp", "dns",
        "0.020000", "35", "51", "SF", "-", "-", "0", "Dd", "1", "63", "1", "79", "-"),
    tsv("1700000002.000000", "CTrunc", "192.168.1.10", "49153"),
    tsv("1545404156.529000", "CS0nly", "192.168.1.10", "49200", "203.0.113.7", "22", "tcp", "-",
        "-", "-", "-", "S0", "-", "-", "0", "S", "1", "60", "0", "0", "-"),
    tsv("1700000004.500000", "CIcmp", "192.168.1.10", "8", "192.168.1.1", "0", "icmp", "-",
        "0.001000", "56", "56", "OTH", "-", "-", "0", "-", "1", "84", "1", "84", "-"),
    tsv("1700000005.000000", "CNoHist", "10.0.0.5", "443", "10.0.0.9", "51000", "tcp", "-",
        "-", "-", "-", "OTH", "-", "-", "0", "-", "0", "0", "2", "104", "-"),
    "#close\t2023-11-14-22-18-20",
]

# The values each conn entry must give, by hand from the text above.
CONN_EXPECTED = [
    dict(record=9, uid="CAbc1a2b3c4d5e6f7", ts=utc(1700000000, 123), sip="192.168.1.10", dip="93.184.216.34",
         sport=49152, dport=80, proto="TCP", tdur=1.5, flag=".A..SF", ipkt=8, ibyt=540, opkt=6, obyt=3720),
    dict(record=10, uid="CXyz9y8x7w6v5u4t3", ts=utc(1700000001, 0), sip="192.168.1.10", dip="8.8.8.8",
         sport=53211, dport=53, proto="UDP", tdur=pytest.approx(0.02), flag="......", ipkt=1, ibyt=63, opkt=1, obyt=79),
    dict(record=12, uid="CS0nly", ts=utc(1545404156, 529), sip="192.168.1.10", dip="203.0.113.7",
         sport=49200, dport=22, proto="TCP", tdur=0.0, flag="....S.", ipkt=1, ibyt=60, opkt=0, obyt=0),
    dict(record=13, uid="CIcmp", ts=utc(1700000004, 500), sip="192.168.1.10", dip="192.168.1.1",
         sport=8, dport=0, proto="ICMP", tdur=pytest.approx(0.001), flag="......", ipkt=1, ibyt=84, opkt=1, obyt=84),
    dict(record=14, uid="CNoHist", ts=utc(1700000005, 0), sip="10.0.0.5", dip="10.0.0.9",
         sport=443, dport=51000, proto="TCP", tdur=0.0, flag=None, ipkt=0, ibyt=0, opkt=2, obyt=104),
]


def picked(row: dict, like: dict) -> dict:
    return {k: row[k] for k in like}


def reasons(decoded) -> list[tuple[int, str]]:
    return [(r["record"], r["reason"]) for r in decoded.rejects.to_pylist()]


def data_lines(path: Path) -> tuple[int, bool]:
    """(non-empty, non-# lines, whether the first such line is a CSV header), counted from the bytes."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    lines = [line[:-1] if line.endswith(b"\r") else line for line in raw.split(b"\n")]
    content = [line for line in lines if line and not line.startswith(b"#")]
    csv_header = bool(content) and not any(line.startswith(b"#") for line in lines[: lines.index(content[0])])
    return len(content), csv_header


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_conn_log(tmp_path, compress):
    path = write(tmp_path / ("conn.log.gz" if compress else "conn.log"), CONN_LINES, compress)
    assert formats.detect("flow", path).name == "zeek_conn"
    decoded = formats.decode_file("flow", path, TOOLS)
    rows = decoded.events.to_pylist()
    assert [picked(r, e) for r, e in zip(rows, CONN_EXPECTED)] == CONN_EXPECTED
    assert len(rows) == len(CONN_EXPECTED)
    assert decoded.rejects.to_pylist() == [
        {"record": 11, "raw": CONN_LINES[10], "reason": "4 fields where the header names 21"}
    ]
    assert len(rows) == data_lines(path)[0] - decoded.rejects.num_rows == 5
    first = rows[0]
    assert (first["treceived"], first["trhour"], first["trsec"]) == ("2023-11-14 22:13:20", 22, 20)
    assert {first[k] for k in ("fwd", "stos", "input", "output", "sas", "das", "dtos", "dir")} == {0}
    assert first["rip"] is None


def test_conn_values_of_the_wrong_type_are_rejects(tmp_path):
    good = CONN_LINES[8]
    lines = header("conn", CONN_FIELDS, CONN_TYPES) + [
        good,
        good.replace("\t8\t540\t", "\tabc\t540\t"),  # orig_pkts not a count
        good.replace("\t49152\t", "\t70000\t"),  # port out of range
        good.replace("1700000000.123456", "-"),  # no ts
        good.replace("\t1.500000\t", "\tnan\t"),
        good,
    ]
    decoded = formats.decode_file("flow", write(tmp_path / "conn.log", lines), TOOLS)
    assert decoded.events["record"].to_pylist() == [9, 14]
    assert reasons(decoded) == [
        (10, "orig_pkts is not a count"),
        (11, "id.orig_p is not a 16-bit number"),
        (12, "ts is unset"),
        (13, "duration is not a duration"),
    ]
    assert decoded.rejects["raw"][0].as_py() == lines[9]


# IoT-23 conn.log.labeled: the last three fields joined by three spaces, in the header and the data;
# line 11 uses tabs there (accepted as well), line 12 lost its tail.
IOT23_FIELDS = "\t".join(CONN_FIELDS) + "   label   detailed-label"
IOT23_LINES = [
    "#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-", "#path\tconn",
    "#open\t2018-12-21-15-50-14",
    "#fields\t" + IOT23_FIELDS,
    "#types\t" + "\t".join(CONN_TYPES) + "   string   string",
    tsv("1545404156.529012", "CrDn63WjJEmrWGjqf", "192.168.1.195", "41040", "185.244.25.235", "80", "tcp", "-",
        "3.139211", "0", "0", "S0", "-", "-", "0", "S", "3", "180", "0", "0", "-   Benign   -"),
    tsv("1545404199.468589", "CY9lJW3gh1Eje4usP6", "192.168.1.195", "41040", "185.244.25.235", "80", "tcp", "-",
        "-", "-", "-", "S0", "-", "-", "0", "S", "1", "60", "0", "0",
        "(empty)   Malicious   PartOfAHorizontalPortScan"),
    tsv("1545404210.000001", "CmES5u32sYpV7JYN", "192.168.1.195", "123", "147.231.100.5", "123", "udp", "-",
        "0.011003", "48", "48", "SF", "-", "-", "0", "Dd", "1", "76", "1", "76", "-", "Benign", "-"),
    tsv("1545404220.000000", "CCut", "192.168.1.195", "41041", "185.244.25.235", "80", "tcp", "-"),
]


def test_iot23_labeled_conn(tmp_path):
    path = write(tmp_path / "conn.log.labeled", IOT23_LINES)
    assert formats.detect("flow", path).name == "zeek_conn"
    decoded = formats.decode_file("flow", path, TOOLS)
    rows = decoded.events.to_pylist()
    assert [(r["record"], r["uid"], r["ts"], r["proto"], r["tdur"], r["ipkt"], r["ibyt"], r["flag"]) for r in rows] == [
        (9, "CrDn63WjJEmrWGjqf", utc(1545404156, 529), "TCP", pytest.approx(3.139211), 3, 180, "....S."),
        (10, "CY9lJW3gh1Eje4usP6", utc(1545404199, 468), "TCP", 0.0, 1, 60, "....S."),
        (11, "CmES5u32sYpV7JYN", utc(1545404210, 0), "UDP", pytest.approx(0.011003), 1, 76, "......"),
    ]
    assert reasons(decoded) == [(12, "8 fields where the header names 23")]


# The same conn entries as a Zeek-field CSV with IoT-23's label columns; line 3 holds a quote that
# never closes (it must not swallow line 4), line 5 a quoted set value.
CSV_HEADER = ",".join(CONN_FIELDS + ["label", "detailed-label"])
CSV_LINES = [
    CSV_HEADER,
    "1545404156.529012,CrDn63WjJEmrWGjqf,192.168.1.195,41040,185.244.25.235,80,tcp,-,3.139211,0,0,S0,-,-,0,S,3,180,"
    "0,0,-,Benign,-",
    '1545404157.000000,"CBroken,192.168.1.195,41040,185.244.25.235,80,tcp,-,-,-,-,S0,-,-,0,S,1,60,0,0,-,Benign,-',
    "1545404199.468589,CY9lJW3gh1Eje4usP6,192.168.1.195,41040,185.244.25.235,80,tcp,-,-,-,-,S0,-,-,0,S,1,60,0,0,-,"
    "Malicious,PartOfAHorizontalPortScan",
    '1545404300.250000,CTun,10.0.0.1,5000,10.0.0.2,4789,udp,"dns,vxlan",2.000000,100,200,SF,-,-,0,Dd,2,156,2,256,'
    '"Cx1,Cx2",Benign,-',
]


def test_conn_csv(tmp_path):
    path = write(tmp_path / "conn.csv", CSV_LINES)
    assert formats.detect("flow", path).name == "zeek_conn_csv"
    assert not ZEEK["zeek_conn"].sniff(path, path.read_bytes())
    decoded = formats.decode_file("flow", path, TOOLS)
    rows = decoded.events.to_pylist()
    columns = ("record", "uid", "ts", "sport", "dport", "proto", "ibyt", "obyt")
    assert [tuple(r[c] for c in columns) for r in rows] == [
        (2, "CrDn63WjJEmrWGjqf", utc(1545404156, 529), 41040, 80, "TCP", 180, 0),
        (4, "CY9lJW3gh1Eje4usP6", utc(1545404199, 468), 41040, 80, "TCP", 60, 0),
        (5, "CTun", utc(1545404300, 250), 5000, 4789, "UDP", 156, 256),
    ]
    assert [(r["record"], r["raw"]) for r in decoded.rejects.to_pylist()] == [(3, CSV_LINES[2])]
    count, csv_header = data_lines(path)
    assert csv_header and len(rows) + decoded.rejects.num_rows == count - 1


# dns.log: 9 answered A query (CNAME first, two A), 10 AAAA only, 11 bad line, 12 unanswered,
# 13 mDNS PTR with the unicast-response class bit and an empty answer set, 14 NXDOMAIN.
DNS_LINES = header("dns", DNS_FIELDS, DNS_TYPES) + [
    tsv("1700000010.250000", "CDns1", "192.168.1.10", "53211", "8.8.8.8", "53", "udp", "4711", "0.020000",
        "www.example.com", "1", "C_INTERNET", "1", "A", "0", "NOERROR", "F", "F", "T", "T", "0",
        "www.example.com-v4.edgesuite.net,93.184.216.34,93.184.216.35", "300.000000,60.000000,60.000000", "F"),
    tsv("1700000011.000000", "CDns2", "192.168.1.10", "53212", "8.8.8.8", "53", "udp", "4712", "0.030000",
        "example.org", "1", "C_INTERNET", "28", "AAAA", "0", "NOERROR", "F", "F", "T", "T", "0",
        "2606:2800:220:1:248:1893:25c8:1946", "86400.000000", "F"),
    "this line is not a dns.log entry",
    tsv("1700000012.000000", "CDns3", "192.168.1.10", "53213", "8.8.8.8", "53", "udp", "4713", "-",
        "unanswered.test", "1", "C_INTERNET", "1", "A", "-", "-", "F", "F", "T", "F", "0", "-", "-", "F"),
    tsv("1700000013.000000", "CDns4", "192.168.1.20", "5353", "224.0.0.251", "5353", "udp", "0", "-",
        "_services._dns-sd._udp.local", "32769", "C_INTERNET", "12", "PTR", "0", "NOERROR", "T", "F", "F", "F", "0",
        "(empty)", "(empty)", "F"),
    tsv("1700000014.999999", "CDns5", "192.168.1.10", "53214", "192.168.1.1", "53", "udp", "4714", "0.001000",
        "nosuch.example", "1", "C_INTERNET", "1", "A", "3", "NXDOMAIN", "F", "F", "T", "T", "0", "-", "-", "F"),
    "#close\t2023-11-14-22-18-20",
]
DNS_EXPECTED = [
    (9, "CDns1", utc(1700000010, 250), "192.168.1.10", "8.8.8.8", "www.example.com", "0x0001", 1, 0, "93.184.216.34"),
    (10, "CDns2", utc(1700000011, 0), "192.168.1.10", "8.8.8.8", "example.org", "0x0001", 28, 0, None),
    (12, "CDns3", utc(1700000012, 0), "192.168.1.10", "8.8.8.8", "unanswered.test", "0x0001", 1, None, None),
    (13, "CDns4", utc(1700000013, 0), "192.168.1.20", "224.0.0.251", "_services._dns-sd._udp.local", "0x8001", 12, 0,
     None),
    (14, "CDns5", utc(1700000014, 999), "192.168.1.10", "192.168.1.1", "nosuch.example", "0x0001", 1, 3, None),
]
DNS_COLUMNS = (
    "record", "uid", "ts", "ip_dst", "ip_src", "dns_qry_name", "dns_qry_class", "dns_qry_type", "dns_qry_rcode", "dns_a"
)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_dns_log(tmp_path, compress):
    path = write(tmp_path / "dns.log", DNS_LINES, compress)
    assert formats.detect("dns", path).name == "zeek_dns"
    decoded = formats.decode_file("dns", path, TOOLS)
    rows = decoded.events.to_pylist()
    assert [tuple(r[c] for c in DNS_COLUMNS) for r in rows] == DNS_EXPECTED
    assert {r["frame_len"] for r in rows} == {None}
    assert rows[0]["frame_time"] == "Nov 14 2023 22:13:30.250 UTC"
    assert reasons(decoded) == [(11, "1 fields where the header names 24")]
    assert len(rows) == data_lines(path)[0] - 1


def test_dns_csv_without_path(tmp_path):
    lines = [
        ",".join(DNS_FIELDS),
        '1700000010.250000,CDns1,192.168.1.10,53211,8.8.8.8,53,udp,4711,0.02,www.example.com,1,C_INTERNET,1,A,0,'
        'NOERROR,F,F,T,T,0,"www.example.com-v4.edgesuite.net,93.184.216.34",300.0,F',
    ]
    path = write(tmp_path / "dns.csv", lines)
    assert formats.detect("dns", path).name == "zeek_dns"
    row = formats.decode_file("dns", path, TOOLS).events.to_pylist()[0]
    assert tuple(row[c] for c in DNS_COLUMNS) == (2,) + DNS_EXPECTED[0][1:]


# http.log: 9 a page with a query, 10 "/" (vanishes from fulluri), 11 POST to "/v1/upload?" with a
# user name (a lone "?" vanishes), 12 a line with a field too many.
HTTP_LINES = header("http", HTTP_FIELDS, HTTP_TYPES) + [
    tsv("1700000020.000000", "CHttp1", "192.168.1.10", "49160", "93.184.216.34", "80", "1", "GET", "www.example.com",
        "/index.html?a=1&b=2", "http://www.example.com/", "1.1", "Mozilla/5.0 (X11; Linux x86_64)", "-", "0", "1256",
        "200", "OK", "-", "-", "(empty)", "-", "-", "-", "-", "-", "-", "FhAbc1,FhAbc2", "-", "text/html,image/png"),
    tsv("1700000021.500000", "CHttp2", "192.168.1.10", "49161", "93.184.216.34", "80", "2", "GET", "www.example.com",
        "/", "-", "1.1", "curl/8.0.1", "-", "0", "0", "304", "Not Modified", "-", "-", "(empty)", "-", "-", "-",
        "-", "-", "-", "-", "-", "-"),
    tsv("1700000022.000000", "CHttp3", "10.1.2.3", "50000", "198.51.100.7", "8080", "1", "POST", "api.example.com",
        "/v1/upload?", "-", "1.1", "python-requests/2.31", "-", "512", "17", "201", "Created", "-", "-", "(empty)",
        "alice", "-", "-", "FpOst1", "-", "application/octet-stream", "FrEsp1", "-", "application/json"),
    tsv("1700000023.000000", "CHttp4", "10.1.2.3", "50001", "198.51.100.7", "80", "1", "GET", "x", "/", "-", "1.1",
        "-", "-", "0", "0", "200", "OK", "-", "-", "(empty)", "-", "-", "-", "-", "-", "-", "-", "-", "-", "extra"),
]
HTTP_COLUMNS = ("record", "uid", "ts", "p_date", "p_time", "clientip", "serverip", "uriport", "host", "reqmethod",
                "uripath", "uriquery", "fulluri", "useragent", "referer", "respcode", "csbytes", "scbytes",
                "resconttype", "username")
HTTP_EXPECTED = [
    (9, "CHttp1", utc(1700000020), "2023-11-14", "22:13:40", "192.168.1.10", "93.184.216.34", "80", "www.example.com",
     "GET", "/index.html", "?a=1&b=2", "www.example.com/index.html?a=1&b=2", "Mozilla/5.0 (X11; Linux x86_64)",
     "http://www.example.com/", "200", 0, 1256, "text/html", None),
    (10, "CHttp2", utc(1700000021, 500), "2023-11-14", "22:13:41", "192.168.1.10", "93.184.216.34", "80",
     "www.example.com", "GET", "/", None, "www.example.com", "curl/8.0.1", None, "304", 0, 0, None, None),
    (11, "CHttp3", utc(1700000022), "2023-11-14", "22:13:42", "10.1.2.3", "198.51.100.7", "8080", "api.example.com",
     "POST", "/v1/upload", "?", "api.example.com/v1/upload", "python-requests/2.31", None, "201", 512, 17,
     "application/json", "alice"),
]


def test_http_log(tmp_path):
    path = write(tmp_path / "http.log", HTTP_LINES)
    assert formats.detect("proxy", path).name == "zeek_http"
    decoded = formats.decode_file("proxy", path, TOOLS)
    rows = decoded.events.to_pylist()
    assert [tuple(r[c] for c in HTTP_COLUMNS) for r in rows] == HTTP_EXPECTED
    assert reasons(decoded) == [(12, "31 fields where the header names 30")]
    assert {r["duration"] for r in rows} == {r["webcat"] for r in rows} == {None}


def test_invalid_utf8_reads_as_zeek_escapes(tmp_path):
    path = tmp_path / "http.log"
    path.write_bytes(("\n".join(HTTP_LINES[:11]) + "\n").encode().replace(b"curl/8.0.1", b"curl/\xff\xfe"))
    decoded = formats.decode_file("proxy", path, TOOLS)
    assert decoded.events["useragent"].to_pylist()[1] == "curl/\\xff\\xfe"
    assert decoded.rejects.num_rows == 0


def test_sniff_by_fields_when_path_is_missing_and_path_beats_fields(tmp_path):
    no_path = [line for line in CONN_LINES if not line.startswith("#path")]
    path = write(tmp_path / "nopath.log", no_path)
    assert ZEEK["zeek_conn"].sniff(path, path.read_bytes())
    ssl = [line.replace("#path\tconn", "#path\tssl") for line in CONN_LINES]
    path = write(tmp_path / "ssl.log", ssl)
    assert not any(f.sniff(path, path.read_bytes()) for f in zeek.FORMATS)
    dns = write(tmp_path / "dns.log", DNS_LINES, compress=True)
    assert [f.name for f in zeek.FORMATS if f.sniff(dns, dns.read_bytes()[:4096])] == ["zeek_dns"]


def test_records_count_physical_lines_across_header_blocks_and_crlf(tmp_path):
    """Two concatenated logs (the second with its own header), CRLF line ends and a blank line."""
    lines = CONN_LINES[:9] + [""] + CONN_LINES[:9] + [CONN_LINES[9]]
    path = tmp_path / "two.log"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    decoded = formats.decode_file("flow", path, TOOLS, "zeek_conn")
    assert decoded.events["record"].to_pylist() == [9, 19, 20]
    assert decoded.events["uid"].to_pylist() == ["CAbc1a2b3c4d5e6f7", "CAbc1a2b3c4d5e6f7", "CXyz9y8x7w6v5u4t3"]
    assert decoded.rejects.num_rows == 0


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_reading_in_small_pieces_changes_nothing(tmp_path, monkeypatch, compress):
    """Pieces end inside header blocks and between entries; rows, records and rejects stay the same."""
    path = write(tmp_path / "conn.log", CONN_LINES + CONN_LINES, compress)
    whole = formats.decode_file("flow", path, TOOLS)
    monkeypatch.setattr(zeek, "PIECE_BYTES", 100)
    pieces = formats.decode_file("flow", path, TOOLS)
    assert pieces.events.equals(whole.events) and pieces.rejects.equals(whole.rejects)
    assert whole.events["record"].to_pylist() == [9, 10, 12, 13, 14, 24, 25, 27, 28, 29]


def test_header_only_log_has_no_rows(tmp_path):
    path = write(tmp_path / "conn.log", CONN_LINES[:8] + CONN_LINES[-1:])
    decoded = formats.decode_file("flow", path, TOOLS, "zeek_conn")
    assert decoded.events.num_rows == decoded.rejects.num_rows == 0


@pytest.mark.parametrize(
    "content",
    [b"\x00\x01garbage\xff\xfe" * 100, b"hello world\nthis is not zeek\n", b"", gzip.compress(b"x" * 10000)[:50]],
    ids=["binary", "text", "empty", "truncated-gzip"],
)
def test_unreadable_files_raise_decode_error(tmp_path, content):
    path = tmp_path / "bad.log"
    path.write_bytes(content)
    assert not any(f.sniff(path, content[:4096]) for f in zeek.FORMATS)
    for fmt in zeek.FORMATS:
        with pytest.raises(DecodeError):
            fmt.decode(path, TOOLS)


def test_wrong_kind_raises_decode_error(tmp_path):
    path = write(tmp_path / "dns.log", DNS_LINES)
    with pytest.raises(DecodeError, match="conn_state"):
        formats.decode_file("flow", path, TOOLS, "zeek_conn")
