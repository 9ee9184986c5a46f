"""The DNS pcap format: both engines against tshark itself, on captures generated here.

Expected values come from what the fixtures were built with and from tshark's own output
(``tshark -Y ... | wc -l`` style counts, run here independently of the code under test). Every
fixture is also decoded by both engines, whose tables must be equal.
"""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pytest

from resources.tools import Tools
from spot_assets.datatypes import DATA_TYPES
from spot_assets.ingest.formats import DecodeError, decode_file, detect
from spot_assets.ingest.formats import dns_native, dns_pcap
from spot_assets.simulation import dnsmsg
from spot_assets.simulation.pcap import (
    LINKTYPE_LINUX_SLL,
    ipv4_frame,
    sll,
    tcp_frame,
    udp_frame,
    vlan,
    write_pcap,
)

pytestmark = pytest.mark.skipif(not shutil.which("tshark"), reason="tshark (and editcap) are not installed")

NATIVE, TSHARK = Tools(dns_engine="native"), Tools(dns_engine="tshark")
T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
CLIENT, SERVER = "10.0.0.5", "10.0.0.53"
CLIENT6, SERVER6 = "2001:db8::5", "2001:db8::53"
# The documented rules: every packet on its own (as the engines run tshark), and as display filters
NO_REASSEMBLY = ("ip.defragment:FALSE", "ipv6.defragment:FALSE", "tcp.desegment_tcp_streams:FALSE", "tcp.analyze_sequence_numbers:FALSE")
# The documented rules, as tshark display filters: responses over port 53 in the frame's only IP
# header; rejects are what tshark marks malformed, cut or unreassembled, or names it cannot print.
RESPONSES = "dns.flags.response == 1 && (udp.port == 53 || tcp.port == 53) && !(ip && ipv6) && !(count(ip) > 1) && !(count(ipv6) > 1)"
BAD = '_ws.malformed || _ws.short || _ws.unreassembled || (dns.qry.name matches "^<.+>$" && dns.qry.name != "<Root>")'
CLEAN_FILTER = f"{RESPONSES} && !({BAD})"
BAD_FILTER = f"{RESPONSES} && ({BAD})"


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def tshark_count(path: Path, display_filter: str) -> int:
    """How many frames tshark itself shows under a display filter (one frame number a line)."""
    out = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-Y", display_filter, "-T", "fields", "-e", "frame.number"]
        + [arg for pref in NO_REASSEMBLY for arg in ("-o", pref)],
        capture_output=True,
    ).stdout
    return out.count(b"\n")


def decode(path: Path, tools: Tools):
    return dns_pcap.decode(path, tools)


def both(path: Path, **tools):
    """Native and tshark decodes of a capture, asserted equal."""
    native = decode(path, Tools(dns_engine="native", **tools))
    tshark = decode(path, Tools(dns_engine="tshark", **tools))
    assert native.events.equals(tshark.events), _difference(native.events, tshark.events)
    assert native.rejects.equals(tshark.rejects), (native.rejects.to_pylist(), tshark.rejects.to_pylist())
    return native


def _difference(a: pa.Table, b: pa.Table) -> list:
    x, y = {r["record"]: r for r in a.to_pylist()}, {r["record"]: r for r in b.to_pylist()}
    return [(k, x.get(k), y.get(k)) for k in sorted(set(x) | set(y)) if x.get(k) != y.get(k)][:5]


def by_record(decoded) -> dict[int, dict]:
    return {r["record"]: r for r in decoded.events.to_pylist()}


# --- fixtures -------------------------------------------------------------------------------------

# (what, frame); responses are the even ones of each exchange, numbered from 1 in the capture.
def _exchanges() -> list[tuple[str, bytes]]:
    cases = [
        ("a", CLIENT, SERVER, "www.example.com", "A", 0, [("www.example.com", "A", "93.184.216.34")], {}),
        ("aaaa", CLIENT, SERVER, "v6.example.com", "AAAA", 0, [("v6.example.com", "AAAA", "2001:db8::1")], {}),
        ("txt", CLIENT, SERVER, "example.com", "TXT", 0, [("example.com", "TXT", ["v=spf1 -all"])], {}),
        ("nxdomain", CLIENT, SERVER, "xkq3zv9w.biz", "A", "NXDOMAIN", [], {}),
        ("cname", CLIENT, SERVER, "www.shop.example", "A", 0,
         [("www.shop.example", "CNAME", "edge.cdn.example.net"), ("edge.cdn.example.net", "A", "203.0.113.7")], {}),
        ("ipv6", CLIENT6, SERVER6, "mail.example.org", "MX", 0, [("mail.example.org", "MX", (10, "mx.example.org"))], {}),
        ("tcp", CLIENT, SERVER, "big.example.com", "A", 0, [("big.example.com", "A", "198.51.100.9")], {"tcp": True}),
    ]
    frames = []
    for i, (what, client, server, name, qtype, rcode, answers, extra) in enumerate(cases):
        query, response = dnsmsg.exchange(
            client, server, 40000 + i, dnsmsg.query(name, qtype, qid=i), dnsmsg.response(name, qtype, rcode, answers, qid=i), **extra
        )
        frames += [(f"{what} query", query), (what, response)]
    return frames


def mixed_frames() -> list[tuple[str, bytes]]:
    """Ordinary responses, what is not a row, and one malformed response."""
    frames = _exchanges()
    tagged = dnsmsg.response("tagged.example", "A", 0, [("tagged.example", "A", "10.9.8.7")])
    frames.append(("vlan", vlan(udp_frame(SERVER, CLIENT, 53, 41000, tagged), 42)))
    mdns = dnsmsg.response("printer.local", "A", 0, [("printer.local", "A", "192.168.1.20")])
    frames.append(("mdns", udp_frame("192.168.1.20", "224.0.0.251", 5353, 5353, mdns)))
    cut = dnsmsg.response("cut.example", "A", 0, [("cut.example", "A", "10.1.1.1")])[:-3]
    frames.append(("malformed", udp_frame(SERVER, CLIENT, 53, 40100, cut)))
    frames.append(("not dns", udp_frame(CLIENT, "10.0.0.9", 5000, 6000, b"x" * 40)))
    return frames


def write(path: Path, frames: list[tuple[str, bytes]], **options) -> dict[str, int]:
    """Writes the frames 1 ms apart; returns the record number of each by name."""
    write_pcap(path, [(T0 + i / 1000, frame) for i, (_, frame) in enumerate(frames)], **options)
    return {what: i + 1 for i, (what, _) in enumerate(frames)}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> tuple[Path, dict[str, int], list[tuple[str, bytes]]]:
    path = tmp_path_factory.mktemp("dns") / "mixed.pcap"
    frames = mixed_frames()
    return path, write(path, frames), frames


def _hdr(flags=0x8180, qd=1, an=0, ns=0, ar=0, qid=7) -> bytes:
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def _q(*labels: bytes, qtype=1) -> bytes:
    return b"".join(bytes([len(x)]) + x for x in labels) + b"\x00" + struct.pack("!HH", qtype, 1)


def odd_frames() -> list[tuple[str, bytes]]:
    """Packets at the edges: tshark is the reference for each, and the native engine must agree."""
    ok = dnsmsg.response("odd.example", "A", 0, [("odd.example", "A", "10.2.3.4")])
    rr_a = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x0a\x00\x00\x01"
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 12) + struct.pack("!HH", 10, 8) + b"cookie!!"
    rrsig = b"\xc0\x0c" + struct.pack("!HHIH", 46, 1, 60, 3) + b"\x01\x02\x03"
    https = b"\xc0\x0c" + struct.pack("!HHIH", 65, 1, 60, 3) + b"\x00\x01\x00"
    big = dnsmsg.response("big.example", "TXT", 0, [("big.example", "TXT", ["x" * 200] * 8)])
    datagram = udp_frame(SERVER, CLIENT, 53, 40000, big)[14:][20:]
    ip_fragment = bytearray(ipv4_frame(SERVER, CLIENT, 17, datagram[:1480]))
    ip_fragment[20] = 0x20  # more fragments follow
    mpls = ipv4_frame(SERVER, CLIENT, 17, struct.pack("!HHHH", 53, 40000, 8 + len(ok), 0) + ok)
    mpls = mpls[:12] + b"\x88\x47" + b"\x00\x01\x41\x40" + mpls[14:]
    tunnel = ipv4_frame("192.0.2.1", "192.0.2.2", 4, udp_frame(SERVER, CLIENT, 53, 40000, ok)[14:])
    icmp_quote = ipv4_frame(CLIENT, SERVER, 1, b"\x03\x03\x00\x00\x00\x00\x00\x00" + udp_frame(SERVER, CLIENT, 53, 40000, ok)[14:])
    two_messages = dnsmsg.tcp_message(ok) * 2
    return [
        ("tab in label", udp_frame(SERVER, CLIENT, 53, 40000, _hdr() + _q(b"a\tb", b"com"))),
        ("utf-8 label", udp_frame(SERVER, CLIENT, 53, 40000, _hdr() + _q("é".encode(), b"com"))),
        ("printable specials", udp_frame(SERVER, CLIENT, 53, 40000, _hdr() + _q(b"a b\\c,d\"e", b"com"))),
        ("root", udp_frame(SERVER, CLIENT, 53, 40000, _hdr() + _q(qtype=2))),
        ("no question", udp_frame(SERVER, CLIENT, 53, 40000, _hdr(flags=0x8182, qd=0))),
        ("pointer loop", udp_frame(SERVER, CLIENT, 53, 40000, _hdr() + b"\xc0\x0c" + struct.pack("!HH", 1, 1))),
        ("name too long", udp_frame(SERVER, CLIENT, 53, 40000, _hdr() + _q(*[b"a" * 63] * 5))),
        ("short header", udp_frame(SERVER, CLIENT, 53, 40000, b"\x00\x07\x81\x80\x00")),
        ("garbage", udp_frame(SERVER, CLIENT, 53, 40000, b"\x00\x07\x81\x80" + bytes(range(60)))),
        ("a in additional", udp_frame(SERVER, CLIENT, 53, 40000, _hdr(ar=1) + _q(b"x", b"com") + rr_a)),
        ("edns cookie", udp_frame(SERVER, CLIENT, 53, 40000, _hdr(ar=1) + _q(b"e", b"com") + opt)),
        ("bad rrsig", udp_frame(SERVER, CLIENT, 53, 40000, _hdr(an=1) + _q(b"s", b"com") + rrsig)),
        ("https", udp_frame(SERVER, CLIENT, 53, 40000, _hdr(an=1) + _q(b"h", b"com", qtype=65) + https)),
        ("trailing bytes", udp_frame(SERVER, CLIENT, 53, 40000, ok + b"junk")),
        ("ip fragment", bytes(ip_fragment)),
        ("mpls", mpls),
        ("ip in ip", tunnel),
        ("icmp quote", icmp_quote),
        ("lower port first", udp_frame(SERVER, CLIENT, 53, 7, ok)),
        ("both ports 53", udp_frame(SERVER, CLIENT, 53, 53, ok)),
        ("ethernet padding", udp_frame(SERVER, CLIENT, 53, 40000, ok) + b"\x00" * 6),
        ("tcp two messages", tcp_frame(SERVER, CLIENT, 53, 40000, two_messages, flags="PA")),
        ("tcp first segment", tcp_frame(SERVER, CLIENT, 53, 40000, dnsmsg.tcp_message(ok)[:30], flags="PA")),
        ("tcp handshake", tcp_frame(SERVER, CLIENT, 53, 40000, b"", flags="SA")),
        ("tcp v6", tcp_frame(SERVER6, CLIENT6, 53, 40000, dnsmsg.tcp_message(ok), flags="PA")),
        ("qinq", vlan(vlan(udp_frame(SERVER, CLIENT, 53, 40000, ok), 5), 6, 0x88A8)),
    ]


def fuzz_frames(count: int, seed: int) -> list[tuple[str, bytes]]:
    """Responses with random bytes changed or cut off, and random record layouts."""
    rng = random.Random(seed)
    frames = []
    for i in range(count):
        name = rng.choice(["www.example.com", "a.b.example.org", "x.co"])
        answers = [(name, rng.choice(["A", "AAAA", "CNAME", "TXT", "MX"]), None) for _ in range(rng.randint(0, 3))]
        values = {"A": "10.0.0.1", "AAAA": "::1", "CNAME": "c.example.net", "TXT": ["t"], "MX": (5, "mx.example.com")}
        msg = bytearray(dnsmsg.response(name, "A", rng.choice([0, 3]), [(n, t, values[t]) for n, t, _ in answers], qid=i))
        kind = rng.random()
        if kind < 0.3:
            for _ in range(rng.randint(1, 3)):
                msg[rng.randrange(len(msg))] = rng.randrange(256)
            msg[2] |= 0x80
        elif kind < 0.5:
            msg = msg[: rng.randrange(3, len(msg) + 1)]
        elif kind < 0.6:
            at = rng.choice([4, 6, 8, 10])
            msg[at:at + 2] = struct.pack("!H", rng.randrange(5))
        client, server = rng.choice([(CLIENT, SERVER), (CLIENT6, SERVER6)])
        frames.append((f"fuzz {i}", udp_frame(server, client, 53, 40000 + i % 1000, bytes(msg))))
    return frames


# --- row counts and values --------------------------------------------------------------------------


def test_rows_are_what_tshark_counts(mixed):
    path, _, _ = mixed
    decoded = both(path)
    assert decoded.events.num_rows == tshark_count(path, CLEAN_FILTER) == 8
    assert decoded.rejects.num_rows == tshark_count(path, BAD_FILTER) == 1
    # Spot's plain filter also shows the mDNS response, which is not DNS resolution.
    assert tshark_count(path, "dns.flags.response == 1") == 8 + 1 + 1


def test_values_are_those_generated(mixed):
    path, record, frames = mixed
    rows = by_record(decode(path, NATIVE))
    a = rows[record["a"]]
    assert a == {
        "ts": utc(T0 + (record["a"] - 1) / 1000),
        "frame_len": len(frames[record["a"] - 1][1]),
        "ip_dst": CLIENT,
        "ip_src": SERVER,
        "dns_qry_name": "www.example.com",
        "dns_qry_class": "0x0001",
        "dns_qry_type": 1,
        "dns_qry_rcode": 0,
        "dns_a": "93.184.216.34",
        "record": record["a"],
    }
    nx = rows[record["nxdomain"]]
    assert (nx["dns_qry_name"], nx["dns_qry_type"], nx["dns_qry_rcode"], nx["dns_a"]) == ("xkq3zv9w.biz", 1, 3, None)
    assert rows[record["cname"]]["dns_a"] == "203.0.113.7"
    assert rows[record["cname"]]["dns_qry_name"] == "www.shop.example"
    assert (rows[record["aaaa"]]["dns_qry_type"], rows[record["aaaa"]]["dns_a"]) == (28, None)
    assert rows[record["txt"]]["dns_qry_type"] == 16
    v6 = rows[record["ipv6"]]
    assert (v6["ip_src"], v6["ip_dst"], v6["dns_qry_type"]) == (SERVER6, CLIENT6, 15)
    assert rows[record["tcp"]]["dns_a"] == "198.51.100.9"
    assert rows[record["vlan"]]["dns_a"] == "10.9.8.7"
    assert not {record[w] for w in ("a query", "mdns", "not dns", "malformed")} & set(rows)


def test_malformed_response_is_a_reject(mixed):
    path, record, _ = mixed
    rejects = decode(path, NATIVE).rejects.to_pylist()
    assert [r["record"] for r in rejects] == [record["malformed"]]
    assert "Malformed Packet" in rejects[0]["reason"]


def test_decode_file_gives_the_dns_schema(mixed):
    path, record, _ = mixed
    assert detect("dns", path).name == "pcap"
    decoded = decode_file("dns", path, NATIVE)
    assert decoded.events.schema == DATA_TYPES["dns"].decoded
    a = next(r for r in decoded.events.to_pylist() if r["record"] == record["a"])
    assert a["frame_time"] == "Nov 14 2023 22:13:20.001 UTC"
    assert a["unix_tstamp"] == int(T0) and a["uid"] is None


def test_ordinary_traffic_is_decoded_without_tshark(tmp_path, monkeypatch):
    """The speed of the native engine: A, AAAA, TXT, NXDOMAIN, CNAME, IPv6, TCP, VLAN and SLL need no tshark."""
    frames = [f for f in mixed_frames() if f[0] not in ("malformed", "mdns")]
    write(tmp_path / "eth.pcap", frames)
    write(tmp_path / "sll.pcap", [(w, sll(f)) for w, f in frames], linktype=LINKTYPE_LINUX_SLL)
    expected = by_record(decode(tmp_path / "eth.pcap", TSHARK))

    def no_tshark(*args, **kwargs):
        raise AssertionError("the native engine called tshark")

    monkeypatch.setattr(dns_native.dns_tshark, "run", no_tshark)
    for name in ("eth.pcap", "sll.pcap"):
        rows = by_record(decode(tmp_path / name, NATIVE))
        assert rows.keys() == expected.keys()
        for number, row in rows.items():  # SLL frames are 2 bytes longer
            assert {**row, "frame_len": 0} == {**expected[number], "frame_len": 0}


# --- native == tshark -------------------------------------------------------------------------------


def test_engines_agree_on_odd_packets(tmp_path):
    path = tmp_path / "odd.pcap"
    record = write(path, odd_frames())
    decoded = both(path)
    rows, rejects = by_record(decoded), {r["record"]: r["reason"] for r in decoded.rejects.to_pylist()}
    assert rows[record["tab in label"]]["dns_qry_name"] == "a\\tb.com"  # tshark escapes control bytes
    assert rows[record["utf-8 label"]]["dns_qry_name"] == "é.com"
    assert rows[record["printable specials"]]["dns_qry_name"] == 'a b\\c,d"e.com'
    assert rows[record["root"]]["dns_qry_name"] == "<Root>"
    assert rows[record["no question"]]["dns_qry_name"] is None
    assert rows[record["a in additional"]]["dns_a"] == "10.0.0.1"
    assert rows[record["edns cookie"]]["dns_qry_name"] == "e.com"
    assert "pointer that loops" in rejects[record["pointer loop"]]
    assert "Name too long" in rejects[record["name too long"]]
    split = {record["ip fragment"], record["tcp first segment"]}  # neither engine reassembles
    assert {record["garbage"], record["short header"], record["bad rrsig"], *split} <= rejects.keys()
    assert record["mpls"] in rows  # delegated to tshark, which reads MPLS
    assert not {record[w] for w in ("ip in ip", "icmp quote", "tcp handshake")} & (rows.keys() | rejects.keys())
    for what in ("trailing bytes", "both ports 53", "ethernet padding", "tcp two messages", "tcp v6", "qinq", "https"):
        assert record[what] in rows, what


def test_engines_agree_on_other_link_types(tmp_path):
    frames = odd_frames() + mixed_frames()
    write(tmp_path / "sll.pcap", [(w, sll(f)) for w, f in frames], linktype=LINKTYPE_LINUX_SLL)
    write(tmp_path / "raw.pcap", [(w, f[14:]) for w, f in frames if f[12:14] in (b"\x08\x00", b"\x86\xdd")], linktype=101)
    for name in ("sll.pcap", "raw.pcap"):
        assert both(tmp_path / name).events.num_rows == tshark_count(tmp_path / name, CLEAN_FILTER) >= 20


def test_engines_agree_on_fuzzed_responses(tmp_path):
    path = tmp_path / "fuzz.pcap"
    write(path, fuzz_frames(600, seed=1))
    decoded = both(path)
    assert decoded.events.num_rows + decoded.rejects.num_rows == tshark_count(path, "dns.flags.response == 1")


def test_snap_length_cut_is_tsharks_reject(tmp_path):
    path = tmp_path / "snap.pcap"
    record = write(path, mixed_frames(), snaplen=90)
    decoded = both(path)
    assert decoded.rejects.num_rows == tshark_count(path, BAD_FILTER) > 0
    assert record["cname"] in {r["record"] for r in decoded.rejects.to_pylist()}


def test_pcapng_equals_pcap(tmp_path, mixed):
    path, _, _ = mixed
    ng = tmp_path / "mixed.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(path), str(ng)], check=True, capture_output=True)
    assert ng.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    assert detect("dns", ng).name == "pcap"
    assert both(ng).events.equals(decode(path, TSHARK).events)


def test_nanosecond_pcap(tmp_path, mixed):
    path, _, _ = mixed
    ns = tmp_path / "mixed.ns"
    subprocess.run(["editcap", "-F", "nsecpcap", str(path), str(ns)], check=True, capture_output=True)
    assert both(ns).events.equals(decode(path, TSHARK).events)


# --- chunks, truncation, unreadable files -------------------------------------------------------------


def test_chunked_tshark_equals_unchunked(tmp_path, mixed):
    path, _, _ = mixed
    odd = tmp_path / "odd.pcap"
    write(odd, odd_frames())
    for capture in (path, odd):
        whole = decode(capture, TSHARK)
        for engine in ("tshark", "native"):  # native: the packets it leaves to tshark are chunked too
            chunked = decode(capture, Tools(dns_engine=engine, tshark_chunk_packets=3))
            assert chunked.events.equals(whole.events) and chunked.rejects.equals(whole.rejects)


def test_truncated_last_packet_keeps_the_rest(tmp_path, mixed):
    path, record, frames = mixed
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(path.read_bytes()[:-10])  # inside the last packet
    whole = by_record(decode(path, TSHARK))
    for tools in (NATIVE, TSHARK, Tools(dns_engine="tshark", tshark_chunk_packets=4)):
        decoded = decode(cut, tools)
        assert by_record(decoded) == whole  # the cut packet was not a row
        rejects = decoded.rejects.to_pylist()
        assert rejects[-1]["record"] == len(frames)
        assert rejects[-1]["reason"].startswith("capture truncated: ")
        assert len([r for r in rejects if r["reason"].startswith("capture truncated")]) == 1


@pytest.mark.parametrize(
    "content, message",
    [
        (bytes(random.Random(3).randrange(256) for _ in range(2000)), "magic"),
        (b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00", "header cut short"),
        (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a", "section header cut short"),
        (b"", "magic"),
    ],
)
def test_unreadable_capture_is_a_decode_error(tmp_path, content, message):
    path = tmp_path / "bad.pcap"
    path.write_bytes(content)
    for tools in (NATIVE, TSHARK):
        with pytest.raises(DecodeError, match=message) as error:
            decode(path, tools)
        assert error.value.path == str(path)
    with pytest.raises(DecodeError, match="bad.pcap"):
        decode_file("dns", path, NATIVE)


def test_corrupt_record_is_a_decode_error(tmp_path, mixed):
    path, _, _ = mixed
    bad = tmp_path / "corrupt.pcap"
    data = bytearray(path.read_bytes())
    data[24 + 8:24 + 12] = struct.pack("<I", 10_000_000)  # first record claims 10 MB captured
    bad.write_bytes(bytes(data))
    for tools in (NATIVE, TSHARK):
        with pytest.raises(DecodeError, match="corrupt|claims"):
            decode(bad, tools)
