"""Spot's word rules against the golden values of Spot's own ScalaTest suites (spec §3.2-3.4, §6.1, §9).

Expected words are Spot's literals (``FlowWordCreatorTest``, ``DNSWordCreationTest``,
``ProxyWordCreationTest``, ``DomainProcessorTest``) or worked by hand from the rules, never
produced by the code under test.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from spot_assets.ingest.timecols import dns_columns
from spot_assets.ml.words import WORD_ERROR, corpus, count_accounts, load_top_sites, split_domains
from spot_assets.ml.words import dns as dns_rule, flow as flow_rule, proxy as proxy_rule
from spot_assets.ml.words.common import length_and_entropy, log2_ceil, log2_floor
from spot_assets.ml.words.domains import COUNTRY_CODES, domain_class


# ----- fixtures: rows as Spot's tests built them

def flow_rows(rows: list[dict]) -> pa.Table:
    base = {"treceived": "2016-01-01 12:59:32", "trhour": 12, "trminute": 59, "trsec": 32, "sip": "10.0.2.115",
            "dip": "172.16.0.107", "proto": "UDP", "ibyt": 222, "ipkt": 3}
    return pa.Table.from_pylist([base | row for row in rows])


def dns_rows(rows: list[dict]) -> pa.Table:
    base = {"frame_time": "May  12 2015 11:32:45.543421000 UTC", "unix_tstamp": 1494326461, "frame_len": 213,
            "ip_dst": "122.52.206.191", "dns_qry_name": "abcdefg.apache.com", "dns_qry_class": "0x00000001",
            "dns_qry_type": 1, "dns_qry_rcode": 0}
    schema = pa.schema([("frame_time", pa.string()), ("unix_tstamp", pa.int64()), ("frame_len", pa.int32()),
                        ("ip_dst", pa.string()), ("dns_qry_name", pa.string()), ("dns_qry_class", pa.string()),
                        ("dns_qry_type", pa.int32()), ("dns_qry_rcode", pa.int32())])
    return pa.Table.from_pylist([base | row for row in rows], schema=schema)


PROXY_FIELDS = ("p_date", "p_time", "clientip", "host", "reqmethod", "useragent", "resconttype", "respcode", "fulluri")
LONG_URI = ("maw.bronto.com/sites/c37i4q22szvir8ga3m8mtxaft7gwnm5fio8hfxo35mu81absi1/carts"
            "/4b3a313d-50f6-4117-8ffd-4e804fd354ef/fiddle")
# ProxyWordCreationTest: (time, host, method, agent, content type, code, uri) -> golden word
PROXY_GOLDEN = [
    ("00:57:36", "intel.com", "PUT", "Mozilla/5.0", "text/plain", "202", "ab", "2_0_PUT_4_text_0_1_202"),
    ("01:57:36", "maw.bronto.com", "PUT", "Safari/537.36", "image", "202", "abc", "1_1_PUT_6_image_3_1_202"),
    ("02:57:36", "maw.bronto.com", "PUT", "Safari/537.36", "image", "304", "abcd", "1_2_PUT_7_image_3_2_304"),
    ("03:57:36", "maw.bronto.com", "PUT", "Safari/537.36", "binary", "304", "abcde", "1_3_PUT_8_binary_3_2_304"),
    ("10:57:36", "maw.bronto.com", "PUT", "Safari/537.36", "binary", "206", "abcdef", "1_10_PUT_9_binary_3_2_206"),
    ("11:57:36", "maw.bronto.com", "GET", "Safari/537.36", "binary", "206", "abcdefghijklmnopqrstuvwxyz",
     "1_11_GET_16_binary_3_4_206"),
    ("13:57:36", "maw.bronto.com", "GET", "Safari/537.36", "text/plain", "200", "aaa", "1_13_GET_0_text_3_1_200"),
    ("14:57:36", "maw.bronto.com", "GET", "Safari/537.36", "text/plain", "200", "aaabbb", "1_14_GET_4_text_3_2_200"),
    ("22:57:36", "maw.bronto.com", "GET", "Safari/537.36", "text/plain", "302", "aaaaaaaaaaabbbbbbbbbbbccccccccccc",
     "1_22_GET_6_text_3_5_302"),
    ("23:57:36", "maw.bronto.com", "GET", "Safari/537.36", "text/plain", "302", LONG_URI, "1_23_GET_17_text_3_6_302"),
]


def proxy_rows(rows: list[dict]) -> pa.Table:
    base = {"p_date": "2016-10-03", "p_time": "00:57:36", "clientip": "127.0.0.1", "host": "intel.com", "reqmethod": "PUT",
            "useragent": "Mozilla/5.0", "resconttype": "text/plain", "respcode": "202", "fulluri": "ab"}
    return pa.Table.from_pylist([base | row for row in rows], schema=pa.schema([(f, pa.string()) for f in PROXY_FIELDS]))


def golden_proxy_table() -> pa.Table:
    keys = ("p_time", "host", "reqmethod", "useragent", "resconttype", "respcode", "fulluri")
    return proxy_rows([dict(zip(keys, row[:-1])) for row in PROXY_GOLDEN])


# ----- flow (§3.2)

# FlowWordCreatorTest's 20 cases: hour 12, ibyt 222, ipkt 3 unless given.
FLOW_GOLDEN = [
    (dict(sport=2132, dport=23), "23_UDP_12_8_2", "-1_23_UDP_12_8_2"),
    (dict(sport=23, dport=2132), "-1_23_UDP_12_8_2", "23_UDP_12_8_2"),
    (dict(sport=8392, dport=9874), "333333_UDP_12_8_2", "333333_UDP_12_8_2"),
    (dict(sport=80, dport=0), "-1_80_UDP_12_8_2", "80_UDP_12_8_2"),
    (dict(sport=0, dport=43), "43_UDP_12_8_2", "-1_43_UDP_12_8_2"),
    (dict(sport=1024, dport=80), "111111_UDP_12_8_2", "111111_UDP_12_8_2"),
    (dict(sport=0, dport=0), "0_UDP_12_8_2", "0_UDP_12_8_2"),
    (dict(sport=3245, dport=43), "43_UDP_12_8_2", "-1_43_UDP_12_8_2"),
    (dict(sport=80, dport=2435), "-1_80_UDP_12_8_2", "80_UDP_12_8_2"),
    (dict(sport=2354, dport=2435), "333333_UDP_12_8_2", "333333_UDP_12_8_2"),
    (dict(sport=80, dport=0), "-1_80_UDP_12_8_2", "80_UDP_12_8_2"),
    (dict(sport=0, dport=2435), "2435_UDP_12_8_2", "-1_2435_UDP_12_8_2"),
    (dict(sport=80, dport=1024), "111111_UDP_12_8_2", "111111_UDP_12_8_2"),
    (dict(sport=0, dport=0), "0_UDP_12_8_2", "0_UDP_12_8_2"),
    (dict(sport=2132, dport=23, proto="TCP"), "23_TCP_12_8_2", "-1_23_TCP_12_8_2"),
    (dict(sport=0, dport=0, proto="TCP"), "0_TCP_12_8_2", "0_TCP_12_8_2"),
    (dict(sport=2132, dport=23), "23_UDP_12_8_2", "-1_23_UDP_12_8_2"),
    (dict(sport=0, dport=0, proto="TCP"), "0_TCP_12_8_2", "0_TCP_12_8_2"),
    (dict(sport=0, dport=0, proto="TCP", ibyt=0), "0_TCP_12_0_2", "0_TCP_12_0_2"),
    (dict(sport=0, dport=0, proto="TCP", ipkt=0), "0_TCP_12_8_0", "0_TCP_12_8_0"),
]


def test_flow_port_direction_table_matches_spot_goldens():
    out = flow_rule.words(flow_rows([row for row, _, _ in FLOW_GOLDEN]))
    assert out["src_word"].to_pylist() == [src for _, src, _ in FLOW_GOLDEN]
    assert out["dst_word"].to_pylist() == [dst for _, _, dst in FLOW_GOLDEN]


def test_log2_bins():
    values = np.array([0, 1, 2, 3, 4, 7, 8, 222])
    assert log2_ceil(values + 1).tolist() == [0, 1, 2, 2, 3, 3, 4, 8]  # ceil(log2(x+1))
    assert log2_floor(np.array([0, 1, 1.9, 2, 4, 8, 213])).tolist() == [0, 0, 0, 1, 2, 3, 7]  # MathUtilsTest + 213


def test_flow_website_example_follows_the_code():
    """§9: 1066 -> 301/TCP, 1026 B, 10 packets at 03h is 301_TCP_3_11_4 (the website said ..._12_5)."""
    out = flow_rule.words(flow_rows([dict(trhour=3, sport=1066, dport=301, proto="TCP", ibyt=1026, ipkt=10)]))
    assert out["src_word"].to_pylist() == ["301_TCP_3_11_4"]
    assert out["dst_word"].to_pylist() == ["-1_301_TCP_3_11_4"]


def test_flow_validity_filter():
    bad = [dict(trhour=24), dict(trhour=-1), dict(trminute=60), dict(trsec=60), dict(treceived=None), dict(sip=None),
           dict(dip=None), dict(sport=-1), dict(dport=-1), dict(ibyt=-1), dict(ipkt=-1), dict(trhour=None),
           dict(ibyt=None)]
    out = flow_rule.words(flow_rows([dict(sport=80, dport=80), *bad, dict(sport=80, dport=80, proto=None)]))
    assert out["src_word"].to_pylist() == ["111111_UDP_12_8_2"] + [None] * len(bad) + ["111111_null_12_8_2"]
    assert out["dst_word"].null_count == len(bad)


def test_pandas_in_pandas_out():
    frame = flow_rows([dict(sport=2132, dport=23)]).to_pandas()
    frame["sport"] = frame["sport"].astype("float64")  # how pandas holds an int column that had nulls
    out = flow_rule.words(frame)
    assert isinstance(out, pd.DataFrame)
    assert out[["src_word", "dst_word"]].values.tolist() == [["23_UDP_12_8_2", "-1_23_UDP_12_8_2"]]


# ----- domains and entropy (§3.3)

def test_entropy_and_lengths_as_java_counts_them():
    length, entropy = length_and_entropy(pa.array(["abcdefg", "services", "ab", "", "aaa", "héllo😀"]))
    assert entropy[0] == 2.807354922057604  # DNSWordCreationTest, exact
    assert entropy[1:5].tolist() == [2.5, 1.0, 0.0, 0.0]
    # Java counts UTF-16 units: the emoji is two distinct surrogates.
    units = Counter("héllo😀".encode("utf-16-le")[i : i + 2] for i in range(0, 14, 2))
    assert length[5] == 7 and length[:4].tolist() == [7, 8, 2, 0]
    assert entropy[5] == pytest.approx(-sum(c / 7 * math.log2(c / 7) for c in units.values()))


def java_entropy(text: str) -> tuple[int, float]:
    """Entropy.stringEntropy as written in Scala, over UTF-16 code units."""
    raw = text.encode("utf-16-le")
    units = Counter(raw[i : i + 2] for i in range(0, len(raw), 2))
    n = len(raw) // 2
    return n, sum(-(c / n) * math.log10(c / n) / math.log10(2) for c in units.values())


def test_entropy_matches_a_java_reference_on_mixed_text(monkeypatch):
    rng = np.random.default_rng(7)
    alphabet = list("abcxyz019.-_/?=") + ["é", "ß", "中", "😀", "𝄞"]
    texts = ["".join(rng.choice(alphabet, size=rng.integers(0, 40))) for _ in range(300)]
    monkeypatch.setattr("spot_assets.ml.words.common._SLICE_ROWS", 37)  # several slices, one array
    monkeypatch.setattr("spot_assets.ml.words.common._CELLS", 50)  # several counting steps per slice
    length, entropy = length_and_entropy(pa.array(texts).slice(5))
    want = [java_entropy(t) for t in texts[5:]]
    assert length.tolist() == [n for n, _ in want]
    assert entropy == pytest.approx([e for _, e in want], rel=1e-12, abs=1e-12)


def test_country_codes_are_spots_254():
    assert len(COUNTRY_CODES) == 254
    assert {"krd", "", "uk", "su", "an", "tp", "eu", "ac"} <= COUNTRY_CODES
    assert not {"bl", "mf", "um", "com"} & COUNTRY_CODES


@pytest.mark.parametrize(
    "name, domain, subdomain, parts",
    [
        ("services.amazon.com.mx", "amazon", "services", 4),
        ("amazon.com.mx", "amazon", "None", 3),
        ("services.amazon.com", "amazon", "services", 3),
        ("amazon.com", "amazon", "None", 2),
        ("fatosdesconhecidos.com.br", "fatosdesconhecidos", "None", 3),
        ("panasonic.jp", "panasonic", "None", 2),
        ("get.your.best.electronic.at.panasonic.jp", "panasonic", "get.your.best.electronic.at", 7),
        ("wow.its.really.long.super.long.yeah.so.long.long.long.long.forrealz.net", "forrealz",
         "wow.its.really.long.super.long.yeah.so.long.long.long.long", 14),
        ("panasonic.c", "None", "None", 2),
        ("123.103.104.10.in-addr.arpa", "None", "None", 6),
        ("news.bbc.co.uk", "co", "news.bbc", 4),  # quirk: co is no generic TLD
        ("ab..com", "", "ab", 3),
        ("com.mx", "None", "None", 2),
        ("www.google.com.", "google", "www", 3),  # Java's split drops the trailing empty label
        ("localhost", "None", "None", 1),
    ],
)
def test_domain_parsing(name, domain, subdomain, parts):
    got = split_domains(pa.array([name]))
    assert (got["domain"][0].as_py(), got["subdomain"][0].as_py(), int(got["num_parts"][0])) == (domain, subdomain, parts)


def test_domain_class_order_and_empty_user_domain():
    domains = pa.array(["amazon", "apache", "", "None", "other"])
    sites = frozenset({"amazon", "apache"})
    assert domain_class(domains, "apache", sites).tolist() == [1, 2, 0, 0, 0]  # user domain before top sites
    assert domain_class(domains, "", sites).tolist() == [1, 1, 0, 0, 0]  # "" never matches ab..com's ""


def test_shipped_top_sites():
    sites = load_top_sites()
    assert len(sites) > 1000 and {"google", "youtube", "amazon", "facebook", "akamaiedge"} <= sites
    assert not {"com", "www", "herokuapp", "duckdns"} & sites


# ----- DNS words (§3.3)

def test_dns_golden_word():
    out = dns_rule.words(dns_rows([{}]), user_domain="apache", top_sites=frozenset({"google", "youtube"}))
    assert out["word"].to_pylist() == ["2_7_11_2_10_1_1_0"]


def test_dns_hour_from_our_frame_time_and_fills():
    ts = pa.array([dt.datetime(2016, 7, 8, 6, 58, 45, 765000, tzinfo=dt.timezone.utc)], pa.timestamp("ms", tz="UTC"))
    frame_time = dns_columns(ts)["frame_time"][0].as_py()
    assert frame_time == "Jul 08 2016 06:58:45.765 UTC"
    rows = [dict(frame_time=frame_time, dns_qry_name="www.google.com", frame_len=1, dns_qry_type=None, dns_qry_rcode=3)]
    out = dns_rule.words(dns_rows(rows), top_sites=frozenset({"google"}))
    # class 1, L(1)=0, hour 6, L(3)=1, entropy("www")=0 -> bin 0, L(3 labels)=1, type filled -1, rcode 3
    assert out["word"].to_pylist() == ["1_0_6_1_0_1_-1_3"]


def test_dns_unmeasured_frame_len_is_its_own_token():
    """Zeek logs no frame length: the field is -1 ("not measured"), which no measured length bins to."""
    rows = [dict(frame_len=None), dict(frame_len=0), dict(frame_len=1), dict(frame_len=-1)]
    out = dns_rule.words(dns_rows(rows), user_domain="apache", top_sites=frozenset())
    # Spot's golden 2_7_11_2_10_1_1_0 with the frame-length field replaced: -1, L(0) = 0, L(1) = 0; -1 is invalid.
    assert out["word"].to_pylist() == ["2_-1_11_2_10_1_1_0", "2_0_11_2_10_1_1_0", "2_0_11_2_10_1_1_0", None]


def test_dns_validity_filter_and_word_error():
    rows = [
        {},
        dict(frame_time=None), dict(frame_time=""), dict(frame_time="-"),
        dict(unix_tstamp=-1), dict(unix_tstamp=None), dict(frame_len=-1),
        dict(dns_qry_name=None), dict(dns_qry_name=""), dict(dns_qry_name="-"), dict(dns_qry_name="(empty)"),
        dict(ip_dst=None), dict(ip_dst=""), dict(ip_dst="-"),
        dict(dns_qry_class="-", dns_qry_type=None, dns_qry_rcode=-1),   # no class, type or rcode >= 0: invalid
        dict(dns_qry_class=None, dns_qry_type=None, dns_qry_rcode=0),   # rcode 0 alone: valid
        dict(dns_qry_class=None, dns_qry_type=28, dns_qry_rcode=None),  # type alone: valid, rcode -1
        dict(frame_time="May 12 2015"),                                  # no 4th token
        dict(frame_time="May 12 2015 xx:32:45"),                         # hour not an integer
    ]
    out = dns_rule.words(dns_rows(rows), user_domain="apache", top_sites=frozenset())
    assert out["word"].to_pylist() == (
        ["2_7_11_2_10_1_1_0"] + [None] * 14 + ["2_7_11_2_10_1_-1_0", "2_7_11_2_10_1_28_-1", WORD_ERROR, WORD_ERROR]
    )


# ----- proxy words (§3.4)

def test_proxy_goldens():
    out = proxy_rule.words(golden_proxy_table(), safe_domain="intel", top_sites=frozenset({"bronto"}))
    assert out["word"].to_pylist() == [row[-1] for row in PROXY_GOLDEN]


def test_proxy_empty_safe_domain_means_no_class_two():
    out = proxy_rule.words(proxy_rows([{}, dict(host=".com")]), top_sites=frozenset())
    assert [w.split("_")[0] for w in out["word"].to_pylist()] == ["0", "0"]


def test_proxy_user_agent_counts_are_day_level():
    day = golden_proxy_table()
    counts = proxy_rule.count_user_agents(day)
    assert dict(zip(counts["useragent"].to_pylist(), counts["ua_count"].to_pylist())) == {"Mozilla/5.0": 1, "Safari/537.36": 9}
    batch = day.slice(9, 1)  # one row of the day, worded with the day's counts
    out = proxy_rule.words(batch, ua_counts=counts, safe_domain="intel", top_sites=frozenset({"bronto"}))
    assert out["word"].to_pylist() == ["1_23_GET_17_text_3_6_302"]
    alone = proxy_rule.words(batch, safe_domain="intel", top_sites=frozenset({"bronto"}))  # counted in the batch: 1 -> L 0
    assert alone["word"].to_pylist() == ["1_23_GET_17_text_0_6_302"]


def test_proxy_validity_fills_and_word_error():
    rows = [
        *(dict([(name, None)]) for name in ("p_date", "p_time", "clientip", "fulluri")),
        dict(host=None),  # a blank Host is worded: class 0, the rest as usual
        dict(useragent=None, resconttype=None, respcode=None, reqmethod=None),
        dict(resconttype="/"), dict(resconttype="/plain"), dict(resconttype=""),
        dict(p_time="x:00:00"),
    ]
    out = proxy_rule.words(proxy_rows(rows), safe_domain="intel", top_sites=frozenset())
    assert out["word"].to_pylist() == [None] * 4 + [
        "0_0_PUT_4_text_2_1_202",  # 5 valid rows share Mozilla/5.0 -> L(5) = 2
        "2_0_null_4_-_0_1_unknown_response_code",
        "2_0_PUT_4_unknown_content_type_2_1_202",
        "2_0_PUT_4__2_1_202",
        "2_0_PUT_4__2_1_202",
        WORD_ERROR,
    ]
    missing = proxy_rule.words(proxy_rows([{}]), ua_counts=pa.table({"useragent": ["other"], "ua_count": [3]}), safe_domain="intel")
    assert missing["word"].to_pylist() == [WORD_ERROR]  # Spot's map lookup threw


def test_proxy_blank_host_words_by_hand():
    """A request without Host (path only) and a response Zeek saw without its request (nothing but the reply)."""
    rows = [dict(host=None, fulluri="/index.html"), dict(host=None, fulluri=None, reqmethod=None, respcode="200")]
    out = proxy_rule.words(proxy_rows(rows), safe_domain="intel", top_sites=frozenset({"intel"}))
    # "/index.html": 11 distinct characters -> entropy log2(11) = 3.46 -> first cut >= it is 3.6, index 12;
    # length 11 -> L 3. No URI: entropy 0 -> index 0, length 0 -> L 0. Two rows of Mozilla/5.0 -> L(2) = 1.
    assert out["word"].to_pylist() == ["0_0_PUT_12_text_1_3_202", "0_0_null_0_text_1_0_200"]


# ----- rows without a word, accounted for

def test_accounts_count_each_invalid_row_once_under_its_first_reason():
    dns = dns_rows([
        {}, dict(frame_len=None), dict(frame_len=None, ip_dst="-"),
        dict(frame_time=None), dict(frame_time=""), dict(frame_time="-"),
        dict(unix_tstamp=-1), dict(unix_tstamp=None), dict(frame_len=-1),
        dict(dns_qry_name=None), dict(dns_qry_name="(empty)"), dict(ip_dst=""),
        dict(frame_time=None, ip_dst=None),  # fails two checks: counted under the first
        dict(dns_qry_class="-", dns_qry_type=None, dns_qry_rcode=-1),
    ])
    assert count_accounts(dns, "dns") == {
        "invalid_rows": {"no frame_time": 4, "unix_tstamp missing or < 0": 2, "frame_len < 0": 1,
                         "no dns_qry_name": 2, "no ip_dst": 2, "no class, type or rcode": 1},
        "filled_rows": {"frame_len unknown": 1},  # the second row; the third has no word
    }
    proxy = proxy_rows([{}, dict(host=None), dict(host=None, fulluri=None), dict(fulluri=None),
                        dict(clientip=None, host=None), dict(p_date=None)])
    assert count_accounts(proxy, "proxy") == {
        "invalid_rows": {"no p_date": 1, "no p_time": 0, "no clientip": 1, "host without fulluri": 1},
        "filled_rows": {"blank host": 2},
    }
    flows = flow_rows([dict(sport=1, dport=2), dict(sport=-1, dport=2), dict(trhour=24, sport=1, dport=None)])
    got = count_accounts(flows, "flow")
    assert got["filled_rows"] == {} and sum(got["invalid_rows"].values()) == 2
    assert (got["invalid_rows"]["trhour not 0-23"], got["invalid_rows"]["sport missing or < 0"]) == (1, 1)


def _zeek_rows(path) -> list[dict]:
    """A Zeek ASCII log's rows as {field: value}, split by hand (no code of ours)."""
    lines = path.read_text().splitlines()
    fields = next(line for line in lines if line.startswith("#fields")).split("\t")[1:]
    return [dict(zip(fields, line.split("\t"))) for line in lines if line and not line.startswith("#")]


def test_zeek_dns_and_http_rows_are_worded_or_counted(shared_datasets):
    """Real Zeek logs (CTU normal-43): every lookup is worded (frame_len unknown) or counted, and so is
    every request, a blank Host included; the expected counts come from the logs' own fields."""
    from spot_assets.ingest import formats
    from resources.tools import Tools

    folder = shared_datasets / "zeek-labeled" / "011-ctu-normal-43-day1"
    cases = [("dns", "dns.log.labeled", dns_rule.words, "query", "no dns_qry_name", "frame_len unknown"),
             ("proxy", "http.log.labeled", proxy_rule.words, "host", None, "blank host")]
    for data_type, name, words, field, reason, fill in cases:
        raw = _zeek_rows(folder / name)
        events = formats.decode_file(data_type, folder / name, Tools()).events
        blank = sum(row[field] in ("-", "(empty)", "") for row in raw)
        accounts = count_accounts(events, data_type)
        worded = int(words(events)["word"].is_valid().to_numpy(zero_copy_only=False).sum())
        assert events.num_rows == len(raw) and worded + sum(accounts["invalid_rows"].values()) == len(raw), data_type
        if data_type == "dns":  # no name: no word; every named lookup worded without a frame length
            assert accounts["invalid_rows"][reason] == blank > 0 and accounts["filled_rows"][fill] == len(raw) - blank
        else:  # a blank Host is worded, and counted as such
            assert accounts["filled_rows"][fill] == blank > 0 and worded == len(raw)


# ----- corpus (§3.2: both roles summed)

def test_flow_corpus_sums_both_roles_and_skips_invalid():
    rows = [
        dict(sip="A", dip="B", sport=80, dport=80),  # 111111 both ways
        dict(sip="B", dip="A", sport=80, dport=80),
        dict(sip="A", dip="B", sport=2132, dport=23),
        dict(sip="A", dip="B", sport=-1, dport=23),  # invalid
    ]
    got = corpus(flow_rule.words(flow_rows(rows)), "flow").to_pylist()
    assert got == [
        {"ip": "A", "word": "111111_UDP_12_8_2", "count": 2},
        {"ip": "A", "word": "23_UDP_12_8_2", "count": 1},
        {"ip": "B", "word": "-1_23_UDP_12_8_2", "count": 1},
        {"ip": "B", "word": "111111_UDP_12_8_2", "count": 2},
    ]


def test_corpus_skips_word_error():
    out = dns_rule.words(dns_rows([{}, {}, dict(frame_time="bad")]), top_sites=frozenset())
    assert corpus(out, "dns").to_pylist() == [{"ip": "122.52.206.191", "word": "0_7_11_2_10_1_1_0", "count": 2}]


# ----- Spark: the same functions through mapInArrow

def test_spark_words_equal_pandas_and_corpus(spark):
    from spot_assets.ml.words.spark import spark_accounts, spark_corpus, spark_words

    sites = frozenset({"bronto", "google"})
    flows = flow_rows([row for row, _, _ in FLOW_GOLDEN] + [dict(sport=-1, dport=5), dict(sip="10.0.2.115", dip="10.0.2.115")])
    dnss = dns_rows([{}, dict(dns_qry_name="www.google.com"), dict(frame_time="bad"), dict(ip_dst="-"), dict(dns_qry_type=None),
                     dict(frame_len=None)])
    proxies = pa.concat_tables([golden_proxy_table(), proxy_rows([dict(clientip=None), dict(p_time="?"), dict(useragent=None),
                                                                  dict(host=None, fulluri=None), dict(fulluri=None)])])
    cases = {
        "flow": (flows, {}, lambda t: flow_rule.words(t)),
        "dns": (dnss, {"user_domain": "apache"}, lambda t: dns_rule.words(t, user_domain="apache", top_sites=sites)),
        "proxy": (proxies, {"safe_domain": "intel"}, lambda t: proxy_rule.words(t, safe_domain="intel", top_sites=sites)),
    }
    for data_type, (table, params, local) in cases.items():
        table = table.append_column("record", pa.array(range(table.num_rows), pa.int64()))
        frame = spark.createDataFrame(table).repartition(3)  # several batches: the proxy count must stay day-level
        worded = spark_words(frame, data_type, top_sites=sites, **params)
        expected = local(table).to_pandas()
        got = worded.toPandas().sort_values("record").reset_index(drop=True)
        assert list(got.columns) == list(expected.columns), data_type
        pd.testing.assert_frame_equal(got, expected, check_dtype=False, obj=data_type)

        want = corpus(local(table), data_type).to_pandas()
        spark_counts = spark_corpus(worded, data_type).toPandas().sort_values(["ip", "word"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(spark_counts, want, check_dtype=False, obj=f"{data_type} corpus")
        assert want["count"].sum() > 0
        assert spark_accounts(frame, data_type) == count_accounts(table, data_type), data_type
