"""Flow formats on nfdump: nfcapd files, nfdump's CSV and pcaps of NetFlow exports.

Fixtures are made with the real tools: a generated packet capture goes through ``nfpcapd`` (nfcapd
files with packet times to the ms), ``nfdump -o csv`` writes the CSV, ``nfreplay`` emits the NetFlow
v9 exports. Expected values come from what the capture holds and from nfdump's own ``-I`` counts.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import struct
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pytest

from resources.tools import Tools

from spot_assets.ingest.formats import DecodeError, Rejects, decode_file, detect
from spot_assets.ingest.formats import netflow_export
from spot_assets.ingest.formats import nfdump as nf
from spot_assets.simulation.pcap import ipv4_frame, tcp_frame, udp_frame, write_pcap

pytestmark = pytest.mark.skipif(not shutil.which("nfpcapd"), reason="nfdump's tools (nfdump, nfpcapd, nfcapd) are not installed")

TOOLS = Tools()
T0 = 1_700_000_000.123  # 2023-11-14 22:13:20.123 UTC
LONG_V6 = "2001:db8:1234:5678:9abc:def0:1234:5678"
FILLER_FIRST, FILLER_LATER = 150, 40  # UDP flows before / after the 22:15 file boundary


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(round(seconds, 3), tz=timezone.utc)


def udp6_frame(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, len(udp), 17, 64,
                      ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed)
    return b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x86\xdd" + ip6 + udp


def nfdump_flows(path: Path) -> int:
    """nfdump's own count of the flows in a file (`nfdump -I`)."""
    info = subprocess.run(["nfdump", "-I", "-r", str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Flows:")))


def rows(decoded) -> list[dict]:
    """The rows of a `Decoded` or of an events table."""
    return (decoded if isinstance(decoded, pa.Table) else decoded.events).to_pylist()


def one(decoded, **match) -> dict:
    found = [r for r in rows(decoded) if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, found)
    return found[0]


# --- fixtures --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("flow")


@pytest.fixture(scope="module")
def nfcapd_files(work) -> list[Path]:
    """nfpcapd's files for a capture of known flows (nfpcapd spreads them over two files)."""
    packets = [
        (T0, tcp_frame("10.0.0.1", "192.168.1.2", 40000, 443, b"x" * 100, flags="S")),
        (T0 + 0.5, tcp_frame("10.0.0.1", "192.168.1.2", 40000, 443, b"y" * 50, flags="A")),
        (T0 + 1.25, udp_frame("10.0.0.3", "8.8.8.8", 5353, 53, b"q" * 30)),
        (T0 + 1.5, ipv4_frame("10.0.0.4", "10.0.0.5", 1, struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"p" * 20)),
        (T0 + 1.8, udp6_frame(LONG_V6, "fe80::1", 1234, 53, b"a" * 10)),
    ]
    packets += [(T0 + 2 + i * 0.01, udp_frame(f"10.1.0.{i + 1}", "172.16.0.1", 1000 + i, 9999, b"z" * i))
                for i in range(FILLER_FIRST)]
    packets += [(T0 + 120 + i * 0.01, udp_frame(f"10.2.0.{i + 1}", "172.16.0.1", 2000 + i, 9999, b"w" * i))
                for i in range(FILLER_LATER)]
    write_pcap(work / "traffic.pcap", packets)
    out = work / "nfpcapd"
    out.mkdir()
    subprocess.run(["nfpcapd", "-r", str(work / "traffic.pcap"), "-w", str(out)], check=True, capture_output=True)
    files = sorted(out.glob("nfcapd.*"))
    assert len(files) == 2
    return files


@pytest.fixture(scope="module")
def first_file(nfcapd_files) -> Path:
    """The file holding the hand-made flows (nfpcapd files a flow when it expires it)."""
    return max(nfcapd_files, key=nfdump_flows)


@pytest.fixture(scope="module")
def decoded_first(first_file):
    return decode_file("flow", first_file, TOOLS)


@pytest.fixture(scope="module")
def stock_csv(work, first_file) -> Path:
    path = work / "stock.csv"
    with open(path, "wb") as out:
        subprocess.run(["nfdump", "-r", str(first_file), "-o", "csv"], stdout=out, check=True)
    return path


SPOT27 = """tr,try,trm,trd,trh,trm,trs,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,dtos,dir,ra
2016-07-08 06:58:45,2016,7,8,6,58,45,1.250,10.0.0.1,192.168.1.2,40000,443,TCP,.A..S.,0,0,12,3400,0,0,3,4,65001,65002,0,1,172.16.1.1
2016-07-08 06:59:01,2016,7,8,6,59,1,0.000,10.0.0.3,8.8.8.8,5353,53,UDP,......,0,0,1,58,0,0,0,0,0,0,0,0,172.16.1.1
2016-07-08 07:00:00,2016,7,8,7,0,0,0.004,2001:db8::1,2001:db8::2,0,0,ICMP6,......,0,0,2,208,0,0,0,0,0,0,0,0,172.16.1.2
"""


# --- nfcapd ---------------------------------------------------------------------------------------

def test_nfcapd_flow_counts_match_nfdump(nfcapd_files):
    for path in nfcapd_files:
        decoded = decode_file("flow", path, TOOLS)
        assert decoded.events.num_rows == nfdump_flows(path) > 0
        assert decoded.rejects.num_rows == 0
    assert sum(nfdump_flows(path) for path in nfcapd_files) == 4 + FILLER_FIRST + FILLER_LATER  # TCP, DNS, ICMP and IPv6 flows + fillers


@pytest.fixture(scope="module")
def all_events(nfcapd_files) -> pa.Table:
    return pa.concat_tables([decode_file("flow", path, TOOLS).events for path in nfcapd_files])


def test_nfcapd_fields_are_what_the_capture_holds(all_events):
    tcp = one(all_events, sip="10.0.0.1")
    assert (tcp["dip"], tcp["sport"], tcp["dport"], tcp["proto"]) == ("192.168.1.2", 40000, 443, "TCP")
    assert (tcp["ipkt"], tcp["ibyt"], tcp["opkt"], tcp["obyt"]) == (2, 20 + 20 + 100 + 20 + 20 + 50, 0, 0)
    assert tcp["flag"] == "...A..S."
    assert tcp["ts"] == utc(T0)
    assert tcp["tdur"] == pytest.approx(0.5)
    # treceived is the flow's first-seen time (documented rule), at Spot's second resolution.
    assert tcp["treceived"] == "2023-11-14 22:13:20"
    assert (tcp["tryear"], tcp["trmonth"], tcp["trday"], tcp["trhour"], tcp["trminute"], tcp["trsec"]) == (2023, 11, 14, 22, 13, 20)
    assert tcp["dir"] == 0 and tcp["rip"] == "0.0.0.0" and tcp["uid"] is None

    dns = one(all_events, sip="10.0.0.3")
    assert (dns["dip"], dns["sport"], dns["dport"], dns["proto"], dns["ipkt"], dns["ibyt"]) == ("8.8.8.8", 5353, 53, "UDP", 1, 58)
    assert dns["ts"] == utc(T0 + 1.25)
    icmp = one(all_events, sip="10.0.0.4")
    assert (icmp["proto"], icmp["sport"], icmp["dport"]) == ("ICMP", 0, 8 * 256)  # echo request, as nfdump's csv
    v6 = one(all_events, sip=LONG_V6)  # nfdump shortens it without -6: the format re-reads with -6
    assert (v6["dip"], v6["dport"], v6["ts"]) == ("fe80::1", 53, utc(T0 + 1.8))


def test_nfcapd_record_is_nfdumps_output_order(first_file, decoded_first):
    printed = subprocess.run(["nfdump", "-r", str(first_file), "-q", "-N", "-6", "-o", "fmt:%sa,%sp"],
                             capture_output=True, text=True, check=True).stdout.splitlines()
    expected = [(sa.strip(), int(sp)) for sa, sp in (line.split(",") for line in printed)]
    got = [(r["sip"], r["sport"]) for r in sorted(rows(decoded_first), key=lambda r: r["record"])]
    assert got == expected
    assert sorted(r["record"] for r in rows(decoded_first)) == list(range(1, len(expected) + 1))


def test_nfcapd_sniffing(work, first_file, stock_csv):
    assert detect("flow", first_file).name == "nfcapd"
    renamed = work / "renamed.bin"
    shutil.copy(first_file, renamed)
    assert detect("flow", renamed).name == "nfcapd"  # by nfcapd's magic
    in_progress = work / "nfcapd.current.4242"
    shutil.copy(first_file, in_progress)
    assert not nf.sniff_nfcapd(in_progress, first_file.read_bytes()[:4096])
    with pytest.raises(DecodeError):
        detect("flow", in_progress)
    assert detect("flow", stock_csv).name == "nfdump_csv"


def test_truncated_nfcapd_is_a_decode_error_with_nfdumps_words(work, first_file):
    data = first_file.read_bytes()
    cut = work / "nfcapd.202311142210.cut"
    cut.write_bytes(data[: len(data) // 2])
    complaint = subprocess.run(["nfdump", "-r", str(cut), "-q", "-o", "fmt:%sa"], capture_output=True, text=True).stderr
    assert complaint  # nfdump 1.7.1 exits 0 here; stderr is where it says what is wrong
    with pytest.raises(DecodeError) as error:
        decode_file("flow", cut, TOOLS)
    assert str(cut) in str(error.value)
    assert complaint.splitlines()[0] in str(error.value)


def test_garbage_named_nfcapd_is_a_decode_error(work):
    garbage = work / "nfcapd.x"
    garbage.write_bytes(bytes(range(256)) * 20)
    assert detect("flow", garbage).name == "nfcapd"
    with pytest.raises(DecodeError, match="bad magic") as error:
        decode_file("flow", garbage, TOOLS)
    assert error.value.path == str(garbage)


def test_empty_nfcapd_file_has_no_rows(work):
    folder = work / "empty"
    folder.mkdir()
    with netflow_export.Collector(TOOLS, folder) as collector:
        files = collector.finish()
    assert len(files) == 1 and nfdump_flows(files[0]) == 0
    decoded = decode_file("flow", files[0], TOOLS)
    assert decoded.events.num_rows == 0 and decoded.rejects.num_rows == 0


# --- nfdump_csv -----------------------------------------------------------------------------------

def test_stock_csv_rows_and_summary(stock_csv, first_file, decoded_first):
    text = stock_csv.read_text().splitlines()
    assert "Summary" in text  # nfdump's trailer is there, and must be neither rows nor rejects
    decoded = decode_file("flow", stock_csv, TOOLS)
    assert decoded.events.num_rows == nfdump_flows(first_file)
    assert decoded.rejects.num_rows == 0
    assert sorted(r["record"] for r in rows(decoded)) == list(range(2, nfdump_flows(first_file) + 2))
    tcp = one(decoded, sip="10.0.0.1")
    assert (tcp["dip"], tcp["sport"], tcp["dport"], tcp["proto"], tcp["ipkt"], tcp["ibyt"], tcp["flag"]) == (
        "192.168.1.2", 40000, 443, "TCP", 2, 230, "...A..S.")
    assert tcp["ts"] == utc(int(T0))  # stock csv prints whole seconds
    assert tcp["treceived"] == "2023-11-14 22:13:20"
    assert text[tcp["record"] - 1].startswith("2023-11-14 22:13:20,2023-11-14 22:13:20,0.500,10.0.0.1,")


def test_csv_bad_lines_are_rejects_with_their_line_numbers(work, stock_csv, first_file):
    lines = stock_csv.read_text().splitlines(keepends=True)
    bad_value = lines[10].split(",")
    bad_value[5] = "notaport"
    lines.insert(20, "garbage in the middle\n")  # becomes line 21
    lines.insert(40, ",".join(bad_value))  # becomes line 41
    path = work / "bad.csv"
    path.write_text("".join(lines))
    decoded = decode_file("flow", path, TOOLS)
    assert decoded.events.num_rows == nfdump_flows(first_file)
    rejects = decoded.rejects.to_pylist()
    assert [r["record"] for r in rejects] == [21, 41]
    assert rejects[0]["raw"] == "garbage in the middle"
    assert rejects[1]["raw"] == ",".join(bad_value).rstrip("\n") and "notaport" in rejects[1]["reason"]


def test_spot27_csv(work):
    path = work / "spot27.csv"
    path.write_text(SPOT27)
    assert detect("flow", path).name == "nfdump_csv"
    decoded = decode_file("flow", path, TOOLS)
    assert decoded.events.num_rows == 3 and decoded.rejects.num_rows == 0
    first = one(decoded, record=2)
    assert first["ts"] == datetime(2016, 7, 8, 6, 58, 45, tzinfo=timezone.utc)
    assert first["treceived"] == "2016-07-08 06:58:45"
    assert (first["tdur"], first["sip"], first["dport"], first["proto"], first["flag"]) == (1.25, "10.0.0.1", 443, "TCP", ".A..S.")
    assert (first["ipkt"], first["ibyt"], first["input"], first["output"], first["sas"], first["das"]) == (12, 3400, 3, 4, 65001, 65002)
    assert (first["dir"], first["rip"]) == (1, "172.16.1.1")
    assert one(decoded, record=4)["sip"] == "2001:db8::1"


# --- netflow_pcap ---------------------------------------------------------------------------------

COLLECTOR = "198.51.100.1"


def v5_datagram(flows: list[dict], uptime: int, unix_secs: int, sequence: int) -> bytes:
    """A NetFlow v5 export datagram (Cisco's fixed 24-byte header and 48-byte records)."""
    out = struct.pack("!HHIIIIBBH", 5, len(flows), uptime, unix_secs, 0, sequence, 0, 0, 0)
    for f in flows:
        out += struct.pack(
            "!4s4s4sHHIIIIHHBBBBHHBBH", ipaddress.IPv4Address(f["sip"]).packed, ipaddress.IPv4Address(f["dip"]).packed,
            bytes(4), f["input"], f["output"], f["ipkt"], f["ibyt"], f["first"], f["last"], f["sport"], f["dport"],
            0, f["flags"], f["proto"], f["tos"], f["sas"], f["das"], 0, 0, 0)
    return out


V5_FLOWS = {  # exporter -> its flows; first/last are ms of the exporter's uptime (100 s at export)
    "192.0.2.10": [
        dict(sip="10.9.0.1", dip="10.9.0.2", sport=1111, dport=80, proto=6, flags=0x1B, ipkt=10, ibyt=5000,
             first=40_500, last=41_000, input=3, output=4, sas=65001, das=65002, tos=16),
        dict(sip="10.9.0.3", dip="10.9.0.4", sport=2222, dport=53, proto=17, flags=0, ipkt=1, ibyt=80,
             first=50_000, last=50_000, input=1, output=2, sas=0, das=0, tos=0),
        dict(sip="10.9.0.5", dip="10.9.0.6", sport=0, dport=2048, proto=1, flags=0, ipkt=3, ibyt=252,
             first=60_000, last=62_000, input=1, output=2, sas=0, das=0, tos=0),
    ],
    "192.0.2.20": [
        dict(sip="10.8.0.1", dip="10.8.0.2", sport=3333, dport=443, proto=6, flags=0x12, ipkt=2, ibyt=120,
             first=99_000, last=99_500, input=7, output=8, sas=0, das=0, tos=0),
        dict(sip="10.8.0.3", dip="10.8.0.4", sport=0, dport=0, proto=253, flags=0, ipkt=1, ibyt=40,
             first=99_900, last=99_900, input=7, output=8, sas=0, das=0, tos=0),
    ],
}
V5_EXPORT_SECS = 1_700_000_100  # unix time of the export; the exporter booted 100 s before


@pytest.fixture(scope="module")
def v5_pcap(work) -> Path:
    packets = [(V5_EXPORT_SECS + 0.001 * i, udp_frame(exporter, COLLECTOR, 50000 + i, 2055,
                                                       v5_datagram(flows, 100_000, V5_EXPORT_SECS, 0)))
               for i, (exporter, flows) in enumerate(V5_FLOWS.items())]
    packets.insert(1, (V5_EXPORT_SECS, udp_frame("10.0.0.3", "8.8.8.8", 5353, 53, b"q" * 30)))  # not an export
    path = work / "v5.pcap"
    write_pcap(path, packets)
    return path


def test_netflow_v5_pcap(v5_pcap):
    assert detect("flow", v5_pcap).name == "netflow_pcap"
    decoded = decode_file("flow", v5_pcap, TOOLS)
    assert decoded.events.num_rows == sum(len(f) for f in V5_FLOWS.values())
    assert decoded.rejects.num_rows == 0
    assert sorted(r["record"] for r in rows(decoded)) == [1, 2, 3, 4, 5]
    for exporter, flows in V5_FLOWS.items():
        for f in flows:
            row = one(decoded, sip=f["sip"])
            assert row["rip"] == exporter  # not the loopback address it was replayed from
            assert (row["dip"], row["sport"], row["dport"], row["ipkt"], row["ibyt"]) == (
                f["dip"], f["sport"], f["dport"], f["ipkt"], f["ibyt"])
            assert (row["input"], row["output"], row["sas"], row["das"], row["stos"]) == (
                f["input"], f["output"], f["sas"], f["das"], f["tos"])
            assert row["ts"] == utc(V5_EXPORT_SECS - 100 + f["first"] / 1000)
            assert row["tdur"] == pytest.approx((f["last"] - f["first"]) / 1000)
    first = one(decoded, sip="10.9.0.1")
    assert (first["proto"], first["flag"], first["treceived"]) == ("TCP", "...AP.SF", "2023-11-14 22:14:00")
    assert one(decoded, sip="10.9.0.5")["proto"] == "ICMP"
    assert one(decoded, sip="10.8.0.3")["proto"] == "253"  # no name in the table: its decimal text


def test_netflow_pcapng(work, v5_pcap):
    pcapng = work / "v5.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(v5_pcap), str(pcapng)], check=True, capture_output=True)
    assert detect("flow", pcapng).name == "netflow_pcap"
    decoded = decode_file("flow", pcapng, TOOLS)
    assert sorted(r["sip"] for r in rows(decoded)) == sorted(f["sip"] for flows in V5_FLOWS.values() for f in flows)


def test_netflow_pcap_cut_export_is_a_reject(work):
    good = udp_frame("192.0.2.20", COLLECTOR, 50001, 2055, v5_datagram(V5_FLOWS["192.0.2.20"], 100_000, V5_EXPORT_SECS, 0))
    cut = udp_frame("192.0.2.10", COLLECTOR, 50000, 2055, v5_datagram(V5_FLOWS["192.0.2.10"], 100_000, V5_EXPORT_SECS, 0))
    path = work / "snapped.pcap"
    with open(path, "wb") as out:  # the second packet was captured with a 100-byte snap length
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 100, 1))
        out.write(struct.pack("<IIII", V5_EXPORT_SECS, 0, len(good), len(good)) + good)
        out.write(struct.pack("<IIII", V5_EXPORT_SECS, 1, 100, len(cut)) + cut[:100])
    decoded = decode_file("flow", path, TOOLS, "netflow_pcap")
    assert [r["sip"] for r in rows(decoded)] == [f["sip"] for f in V5_FLOWS["192.0.2.20"]]
    [reject] = decoded.rejects.to_pylist()
    assert reject["record"] == 2 and "cut by the capture" in reject["reason"]


@pytest.fixture(scope="module")
def v9_pcap(work, first_file) -> Path:
    """nfreplay's NetFlow v9 export of the first nfcapd file, received here and written as a capture."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(0.5)
        subprocess.run(["nfreplay", "-r", str(first_file), "-H", "127.0.0.1", "-p", str(receiver.getsockname()[1]), "-v", "9"],
                       check=True, capture_output=True)
        datagrams = []
        while True:
            try:
                datagrams.append(receiver.recv(65535))
            except socket.timeout:
                break
    path = work / "v9.pcap"
    write_pcap(path, [(T0 + 300 + i * 0.001, udp_frame("192.0.2.30", COLLECTOR, 40000, 2055, d))
                      for i, d in enumerate(datagrams)])
    return path


def test_netflow_v9_pcap_matches_the_replayed_file(work, v9_pcap, first_file, decoded_first):
    folder = work / "v9-collected"
    folder.mkdir()
    rejects = Rejects()
    files, _ = netflow_export.collect_exports(v9_pcap, TOOLS, folder, rejects)
    assert sum(nfdump_flows(f) for f in files) == nfdump_flows(first_file)

    decoded = decode_file("flow", v9_pcap, TOOLS)
    assert decoded.events.num_rows == nfdump_flows(first_file) and decoded.rejects.num_rows == 0
    assert sorted(r["record"] for r in rows(decoded)) == list(range(1, decoded.events.num_rows + 1))
    fields = ("ts", "sip", "dip", "sport", "dport", "proto", "ipkt", "ibyt")
    assert sorted(tuple(r[k] for k in fields) for r in rows(decoded)) == sorted(
        tuple(r[k] for k in fields) for r in rows(decoded_first))
    assert {r["rip"] for r in rows(decoded)} == {"192.0.2.30"}


def test_traffic_pcap_is_not_an_export_pcap(work, nfcapd_files):
    with pytest.raises(DecodeError):
        detect("flow", work / "traffic.pcap")
