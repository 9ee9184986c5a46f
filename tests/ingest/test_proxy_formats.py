"""Blue Coat ELFF and Squid access logs: fixtures written here, golden values worked out by hand
from the fixture text (epochs checked with ``date -u``), never taken from the decoder."""

from __future__ import annotations

import gzip
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from resources.tools import Tools

from spot_assets.ingest.formats import DecodeError, decode_file, detect, get
from spot_assets.ingest.formats.textlog import GZIP_MAGIC

TOOLS = Tools()
PROXY_FORMATS = ("elff", "squid", "squid_combined")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def data_line_count(text: str) -> int:
    return sum(1 for line in text.split("\n") if line.strip() and not line.startswith("#"))


def write(tmp_path: Path, name: str, text: str, compress: bool = False) -> Path:
    path = tmp_path / name
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def by_record(decoded) -> dict[int, dict]:
    return {row["record"]: row for row in decoded.events.to_pylist()}


# ----- Blue Coat ELFF

SPOT_ORDER = (
    "date time time-taken c-ip cs-username cs-auth-group x-exception-id sc-filter-result cs-categories cs(Referer) "
    "sc-status s-action cs-method rs(Content-Type) cs-uri-scheme cs-host cs-uri-port cs-uri-path cs-uri-query "
    "cs-uri-extension cs(User-Agent) s-ip sc-bytes cs-bytes x-virus-id x-bluecoat-application-name "
    "x-bluecoat-application-operation"
)

# Line numbers matter: they are the records. Line 6 is blank, 8 is a directive mid-file, 9 has too
# few tokens, 10 a date that does not exist, 11 double spaces and a W3C "" escape, 12 re-declares
# the fields in another order, 14 has a non-numeric sc-bytes.
ELFF = "\n".join(
    [
        "#Software: SGOS 6.7.5.3 (ProxySG)",
        "#Version: 1.0",
        "#Date: 2024-03-05 10:00:00",
        f"#Fields: {SPOT_ORDER}",
        '2024-03-05 10:00:01 125 10.0.0.5 alice "CORP\\staff" - OBSERVED "Technology/Internet" - 200 TCP_MISS GET '
        'text/html;%20charset=utf-8 http www.example.com 80 / - - "Mozilla/5.0 (Windows NT 10.0; Win64; x64)" '
        '192.168.1.1 5120 410 - "none" "none"',
        "",
        '2024-03-05 10:00:02 15 10.0.0.6 - - - PROXIED "News;Media" http://ref.example.org/a 304 TCP_HIT GET '
        'image/gif http cdn.example.net 80 /img/logo.gif ?v=2 gif "curl/8.0" 192.168.1.1 310 220 - "none" "none"',
        "#Remark: policy reloaded",
        '2024-03-05 10:00:03 15 10.0.0.6 - - - OBSERVED "News"',
        '2024-02-30 10:00:04 15 10.0.0.6 - - - OBSERVED "News" - 304 TCP_HIT GET image/gif http cdn.example.net 80 '
        '/x - - "curl/8.0" 192.168.1.1 310 220 - "none" "none"',
        '2024-03-05 10:00:05  7  10.0.0.8 - - - OBSERVED "Search Engines" - 200 TCP_NC_MISS GET text/html https '
        'www.example.org 443 /index.html ?q=a%20b html "Agent ""quoted"" name" 192.168.1.1 700 300 - "none" "none"',
        "#Fields: c-ip date time cs-method cs-host cs-uri-path cs-uri-query sc-status sc-bytes time-taken "
        "cs(User-Agent)",
        '10.0.0.9 2024-03-05 10:05:00 POST api.example.com /v1/upload ?id=42 201 99 3000 "Python-urllib/3.11"',
        '10.0.0.9 2024-03-05 10:05:01 GET api.example.com /v1/x - 200 x12 3000 "Python-urllib/3.11"',
        "10.0.0.10 2024-03-05 10:05:02 GET a.example - - 200 0 1 -",
    ]
) + "\n"


def test_elff_header_driven(tmp_path):
    path = write(tmp_path, "SG_main__20240305100000.log", ELFF)
    assert detect("proxy", path).name == "elff"
    decoded = decode_file("proxy", path, TOOLS)
    rows, rejects = by_record(decoded), decoded.rejects.to_pylist()

    assert [r["record"] for r in rejects] == [9, 10, 14]
    assert "9 fields where #Fields declares 27" in rejects[0]["reason"]
    assert "2024-02-30 10:00:04" in rejects[1]["reason"]
    assert "x12" in rejects[2]["reason"]
    assert sorted(rows) == [5, 7, 11, 13, 15]
    assert len(rows) == data_line_count(ELFF) - len(rejects)

    first = rows[5]
    assert first["ts"] == utc(2024, 3, 5, 10, 0, 1)
    assert (first["p_date"], first["p_time"]) == ("2024-03-05", "10:00:01")
    assert first["useragent"] == "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
    assert first["authgroup"] == "CORP\\staff"
    assert first["webcat"] == "Technology/Internet"
    assert (first["duration"], first["scbytes"], first["csbytes"]) == (125, 5120, 410)
    assert (first["uripath"], first["uriquery"], first["referer"], first["exceptionid"]) == ("/", None, None, None)
    assert first["fulluri"] == "www.example.com"  # path "/" and query "-" vanish (Spot's rule)
    assert (first["clientip"], first["username"], first["respcode"], first["action"]) == (
        "10.0.0.5", "alice", "200", "TCP_MISS")
    assert (first["serverip"], first["bcappname"], first["resconttype"]) == (
        "192.168.1.1", "none", "text/html;%20charset=utf-8")

    assert rows[7]["fulluri"] == "cdn.example.net/img/logo.gif?v=2"
    assert (rows[7]["referer"], rows[7]["uriextension"], rows[7]["duration"]) == ("http://ref.example.org/a", "gif", 15)

    spaced = rows[11]
    assert spaced["useragent"] == 'Agent "quoted" name'
    assert (spaced["duration"], spaced["clientip"], spaced["urischeme"], spaced["uriport"]) == (
        7, "10.0.0.8", "https", "443")
    assert spaced["fulluri"] == "www.example.org/index.html?q=a%20b"

    # Read with the second #Fields line: another order, fewer fields, the rest null.
    post = rows[13]
    assert post["ts"] == utc(2024, 3, 5, 10, 5, 0)
    assert (post["clientip"], post["reqmethod"], post["respcode"], post["duration"], post["scbytes"]) == (
        "10.0.0.9", "POST", "201", 3000, 99)
    assert post["fulluri"] == "api.example.com/v1/upload?id=42"
    assert (post["csbytes"], post["webcat"], post["serverip"], post["useragent"]) == (
        None, None, None, "Python-urllib/3.11")
    assert (rows[15]["fulluri"], rows[15]["uripath"], rows[15]["useragent"], rows[15]["scbytes"]) == (
        "a.example", None, None, 0)


def test_elff_without_fields_line_uses_spots_order(tmp_path):
    line = (
        '2024-03-05 23:59:59 42 172.16.0.3 bob - - OBSERVED "Business" - 403 TCP_DENIED GET text/html http '
        'blocked.example 80 /malware.exe - exe "Wget/1.21" 10.1.1.1 1500 90 EICAR "none" "none"'
    )
    text = f"{line}\n{line.replace('23:59:59', '23:59:60')}\n"
    path = write(tmp_path, "noheader.log", text)
    assert detect("proxy", path).name == "elff"
    decoded = decode_file("proxy", path, TOOLS)
    (row,) = decoded.events.to_pylist()
    assert row["ts"] == utc(2024, 3, 5, 23, 59, 59)
    assert (row["clientip"], row["username"], row["host"], row["respcode"], row["action"]) == (
        "172.16.0.3", "bob", "blocked.example", "403", "TCP_DENIED")
    assert (row["duration"], row["scbytes"], row["csbytes"], row["virusid"]) == (42, 1500, 90, "EICAR")
    assert row["fulluri"] == "blocked.example/malware.exe"
    assert decoded.rejects["record"].to_pylist() == [2]  # 23:59:60 does not exist


def test_elff_aliases_cs_uri_and_timestamp(tmp_path):
    text = "\n".join(
        [
            "#Software: SGOS 4.2.1",
            "#Fields: timestamp time-taken c-ip sc-status s-action sc-bytes cs-method cs-uri cs-username "
            "s-hierarchy s-supplier-name rs(Content-Type) cs(User-Agent) sc-filter-result sc-filter-category "
            "x-virus-id s-ip s-sitename",
            '1709632801.250 40 10.0.0.5 200 TCP_NC_MISS 1024 GET http://www.example.com:8080/a/b.php?x=1 george '
            'DIRECT 93.184.216.34 text/html "Mozilla/4.0 (compatible)" PROXIED "Search Engines" - 192.168.1.1 '
            "SG-HTTP-Service",
            "1709632802 10 10.0.0.6 200 TCP_TUNNELED 77 CONNECT tcp://secure.example.com:443/ - DIRECT "
            "93.184.216.35 - - OBSERVED none - 192.168.1.1 SG-HTTP-Service",
            "#Fields: c-ip cs-host",
            "10.0.0.7 www.example.com",
        ]
    ) + "\n"
    decoded = decode_file("proxy", write(tmp_path, "sgos4.log", text), TOOLS)
    rows = by_record(decoded)
    row = rows[3]
    assert row["ts"] == utc(2024, 3, 5, 10, 0, 1, 250_000)
    assert (row["p_date"], row["p_time"]) == ("2024-03-05", "10:00:01")
    assert (row["urischeme"], row["host"], row["uriport"], row["uripath"], row["uriquery"], row["uriextension"]) == (
        "http", "www.example.com", "8080", "/a/b.php", "?x=1", "php")
    assert row["fulluri"] == "www.example.com/a/b.php?x=1"
    assert (row["webcat"], row["username"], row["serverip"], row["filterresult"]) == (
        "Search Engines", "george", "192.168.1.1", "PROXIED")
    tunnel = rows[4]
    assert tunnel["ts"] == utc(2024, 3, 5, 10, 0, 2)
    assert (tunnel["host"], tunnel["uriport"], tunnel["fulluri"], tunnel["username"]) == (
        "secure.example.com", "443", "secure.example.com", None)
    (reject,) = decoded.rejects.to_pylist()
    assert reject["record"] == 6 and "line 5" in reject["reason"] and "date" in reject["reason"]


def test_elff_stray_quote_does_not_swallow_the_next_line(tmp_path):
    # Line 2 has two quotes (an even count), but the second opens a string that does not close on
    # that line; a CSV reader would run on into line 3. Line 5 has a quote inside a token, which is text.
    text = (
        "#Fields: date time c-ip cs-username cs(User-Agent) sc-bytes\n"
        '2024-03-05 10:00:01 10.0.0.1 a"b "Mozilla 1\n'
        '2024-03-05 10:00:02 10.0.0.2 bob "curl/8.0" 2\n'
        '2024-03-05 10:00:03 10.0.0.3 carol "unterminated 3\n'
        '2024-03-05 10:00:04 10.0.0.4 d"q"x "Wget 1.21" 4\n'
    )
    decoded = decode_file("proxy", write(tmp_path, "quotes.log", text), TOOLS, "elff")
    rows = by_record(decoded)
    assert sorted(rows) == [3, 5]
    assert (rows[3]["username"], rows[3]["useragent"], rows[3]["scbytes"]) == ("bob", "curl/8.0", 2)
    assert (rows[5]["username"], rows[5]["useragent"], rows[5]["scbytes"]) == ('d"q"x', "Wget 1.21", 4)
    assert decoded.rejects["record"].to_pylist() == [2, 4]
    assert set(decoded.rejects["reason"].to_pylist()) == {"a double-quoted field is not closed"}


def test_elff_gzip_is_transparent(tmp_path):
    plain = decode_file("proxy", write(tmp_path, "plain.log", ELFF), TOOLS)
    for name in ("main.log.gz", "gzipped-but-named.log"):
        path = write(tmp_path, name, ELFF, compress=True)
        assert path.read_bytes()[:2] == GZIP_MAGIC
        assert detect("proxy", path).name == "elff"
        decoded = decode_file("proxy", path, TOOLS)
        assert decoded.events.equals(plain.events)
        assert decoded.rejects.equals(plain.rejects)


def test_crlf_line_ends_read_like_lf(tmp_path):
    plain = decode_file("proxy", write(tmp_path, "lf.log", ELFF), TOOLS)
    crlf = decode_file("proxy", write(tmp_path, "crlf.log", ELFF.replace("\n", "\r\n")), TOOLS)
    assert crlf.events.equals(plain.events)
    assert crlf.rejects["record"].equals(plain.rejects["record"])


def test_latin1_bytes_keep_their_line(tmp_path):
    line = (
        '2024-03-05 10:00:01 1 10.0.0.5 - - - OBSERVED "News" - 200 TCP_MISS GET text/html http www.example.com 80 '
        '/caf\xe9 - - "Agent \xe9" 192.168.1.1 1 1 - "none" "none"\n'
    )
    path = tmp_path / "latin1.log"
    path.write_bytes(f"#Fields: {SPOT_ORDER}\n".encode() + line.encode("latin-1"))
    (row,) = decode_file("proxy", path, TOOLS).events.to_pylist()
    assert (row["uripath"], row["useragent"]) == ("/caf\\xe9", "Agent \\xe9")


@pytest.mark.parametrize("fmt", PROXY_FORMATS)
def test_garbage_is_a_decode_error(tmp_path, fmt):
    junk = tmp_path / "access.log"
    junk.write_bytes(os.urandom(3000) + b"\x00" + os.urandom(3000))
    with pytest.raises(DecodeError, match="access.log"):
        decode_file("proxy", junk, TOOLS, fmt)
    with pytest.raises(DecodeError):
        detect("proxy", junk)
    truncated = tmp_path / "cut.log.gz"
    truncated.write_bytes(gzip.compress((ELFF * 200).encode())[:1500])
    with pytest.raises(DecodeError, match="gzip"):
        decode_file("proxy", truncated, TOOLS, fmt)


def test_a_file_of_which_no_line_decodes_is_a_decode_error(tmp_path):
    path = write(tmp_path, "notes.log", "2024-03-05 10:00:00 this is prose, not a log\n")
    with pytest.raises(DecodeError, match="none of its 1 data lines"):
        decode_file("proxy", path, TOOLS, "elff")


def test_header_only_and_empty_files_have_no_rows(tmp_path):
    for text in ("", "#Software: SGOS 6.7\n#Fields: date time c-ip\n"):
        decoded = decode_file("proxy", write(tmp_path, "h.log", text), TOOLS, "elff")
        assert decoded.events.num_rows == 0 and decoded.rejects.num_rows == 0


# ----- Squid

# 1709632800 is 2024-03-05 10:00:00 UTC (date -u -d @1709632800).
SQUID = "\n".join(
    [
        "1709632801.123    125 10.0.0.5 TCP_MISS/200 5120 GET http://www.example.com/ - "
        "HIER_DIRECT/93.184.216.34 text/html",
        "1709632802.004      8 10.0.0.6 TCP_HIT/304 310 GET http://cdn.example.net:8080/img/logo.gif?v=2 alice "
        "HIER_NONE/- image/gif",
        "1709632803.500  60000 10.0.0.7 TCP_TUNNEL/200 9000 CONNECT secure.example.com:443 - "
        "HIER_DIRECT/2606:2800:220:1::1 -",
        "",
        "1709632804.000      0 10.0.0.8 NONE_NONE/400 3900 NONE error:invalid-request - HIER_NONE/- text/html",
        "1709632805.000     12 10.0.0.8 TCP_MISS/200 100 GET http://a.example/",
        "1709632806.x       12 10.0.0.8 TCP_MISS/200 100 GET http://a.example/ - HIER_DIRECT/1.2.3.4 text/html",
        "1709632807.000     12 10.0.0.8 TCP_MISS 100 GET http://a.example/ - HIER_DIRECT/1.2.3.4 text/html",
        "1709632808.000 99999999999 10.0.0.8 TCP_MISS/200 100 GET http://a.example/ - HIER_DIRECT/1.2.3.4 text/html",
        "1709632809.999     31 10.0.0.9 TCP_REFRESH_MODIFIED/200 2048 GET https://www.example.org/a/b?c=d - "
        "FIRSTUP_PARENT/parent.corp application/json",
    ]
) + "\n"


def test_squid_native(tmp_path):
    path = write(tmp_path, "access.log", SQUID)
    assert detect("proxy", path).name == "squid"
    decoded = decode_file("proxy", path, TOOLS)
    rows, rejects = by_record(decoded), decoded.rejects.to_pylist()
    assert [r["record"] for r in rejects] == [6, 7, 8, 9]
    assert "7 fields" in rejects[0]["reason"]
    assert "1709632806.x" in rejects[1]["reason"]
    assert "TCP_MISS" in rejects[2]["reason"]
    assert "99999999999" in rejects[3]["reason"]
    assert sorted(rows) == [1, 2, 3, 5, 10]
    assert len(rows) == data_line_count(SQUID) - len(rejects)

    get_ = rows[1]
    assert get_["ts"] == utc(2024, 3, 5, 10, 0, 1, 123_000)
    assert (get_["p_date"], get_["p_time"]) == ("2024-03-05", "10:00:01")
    assert (get_["duration"], get_["clientip"], get_["action"], get_["respcode"], get_["scbytes"]) == (
        125, "10.0.0.5", "TCP_MISS", "200", 5120)
    assert (get_["host"], get_["urischeme"], get_["uriport"], get_["uripath"], get_["uriquery"]) == (
        "www.example.com", "http", "80", "/", None)
    assert (get_["fulluri"], get_["serverip"], get_["resconttype"], get_["username"]) == (
        "www.example.com", "93.184.216.34", "text/html", None)
    assert (get_["useragent"], get_["referer"], get_["csbytes"]) == (None, None, None)

    hit = rows[2]
    assert hit["ts"] == utc(2024, 3, 5, 10, 0, 2, 4_000)
    assert (hit["uriport"], hit["fulluri"], hit["uriextension"], hit["username"], hit["serverip"]) == (
        "8080", "cdn.example.net/img/logo.gif?v=2", "gif", "alice", None)

    tunnel = rows[3]
    assert (tunnel["reqmethod"], tunnel["host"], tunnel["uriport"], tunnel["urischeme"], tunnel["uripath"]) == (
        "CONNECT", "secure.example.com", "443", None, None)
    assert (tunnel["fulluri"], tunnel["serverip"], tunnel["resconttype"], tunnel["duration"]) == (
        "secure.example.com", "2606:2800:220:1::1", None, 60000)

    assert (rows[5]["host"], rows[5]["uripath"], rows[5]["respcode"]) == (None, "error:invalid-request", "400")
    last = rows[10]
    assert last["ts"] == utc(2024, 3, 5, 10, 0, 9, 999_000)
    assert (last["uriport"], last["fulluri"], last["serverip"]) == ("443", "www.example.org/a/b?c=d", None)


def test_squid_gzip(tmp_path):
    plain = decode_file("proxy", write(tmp_path, "access.log", SQUID), TOOLS)
    path = write(tmp_path, "access.log.1.gz", SQUID, compress=True)
    assert detect("proxy", path).name == "squid"
    assert decode_file("proxy", path, TOOLS).events.equals(plain.events)


SQUID_COMBINED = "\n".join(
    [
        '10.0.0.5 - alice [05/Mar/2024:11:00:01 +0100] "GET http://www.example.com/a.html?x=1 HTTP/1.1" 200 5120 '
        '"http://ref.example.org/" "Mozilla/5.0 (X11; Linux x86_64)" TCP_MISS:HIER_DIRECT',
        '10.0.0.6 - - [05/Mar/2024:04:00:02 -0500] "CONNECT secure.example.com:443 HTTP/1.1" 200 9000 "-" '
        '"curl/8.0" TCP_TUNNEL:HIER_DIRECT',
        '10.0.0.6 - - [31/Feb/2024:04:00:02 -0500] "GET http://x.example/ HTTP/1.1" 200 9 "-" "curl/8.0" '
        "TCP_MISS:HIER_DIRECT",
        "10.0.0.6 - - garbage",
    ]
) + "\n"


def test_squid_combined(tmp_path):
    path = write(tmp_path, "combined.log", SQUID_COMBINED)
    assert detect("proxy", path).name == "squid_combined"
    decoded = decode_file("proxy", path, TOOLS)
    rows = by_record(decoded)
    assert sorted(rows) == [1, 2]
    assert decoded.rejects["record"].to_pylist() == [3, 4]
    first = rows[1]
    assert first["ts"] == utc(2024, 3, 5, 10, 0, 1)  # 11:00:01 +0100
    assert (first["p_date"], first["p_time"]) == ("2024-03-05", "10:00:01")
    assert (first["useragent"], first["referer"], first["username"], first["action"]) == (
        "Mozilla/5.0 (X11; Linux x86_64)", "http://ref.example.org/", "alice", "TCP_MISS")
    assert (first["fulluri"], first["scbytes"], first["duration"]) == ("www.example.com/a.html?x=1", 5120, None)
    assert rows[2]["ts"] == utc(2024, 3, 5, 9, 0, 2)  # 04:00:02 -0500
    assert (rows[2]["referer"], rows[2]["host"], rows[2]["uriport"]) == (None, "secure.example.com", "443")


def test_sniffers_keep_to_their_format(tmp_path):
    fixtures = {"elff": ELFF, "squid": SQUID, "squid_combined": SQUID_COMBINED}
    for name, text in fixtures.items():
        path = write(tmp_path, f"{name}.log", text)
        head = path.read_bytes()[:4096]
        assert [fmt for fmt in PROXY_FORMATS if get("proxy", fmt).sniff(path, head)] == [name]


def test_fulluri_rule_shared_by_every_proxy_format():
    import pyarrow as pa

    from spot_assets.ingest.formats import textlog

    host = pa.array(["h.com", "h.com", "h.com", None, "h.com", None])
    path = pa.array(["/", "/a", None, "/p", "-", "/"])
    query = pa.array(["?x=1", "?", None, "?q", "-", None])
    assert textlog.fulluri(host, path, query).to_pylist() == ["h.com?x=1", "h.com/a", "h.com", "/p?q", "h.com", None]
