"""Landing: which files are complete, the day a file belongs to (its format's first event), the move."""

import datetime as dt
import gzip
import hashlib
import os
import subprocess
import time

import pytest

from resources.lake import LakeResource
from resources.landing import complete_files, is_complete
from resources.tools import Tools
from spot_assets.ingest import manifest
from spot_assets.ingest.formats import DecodeError, first_event_time
from spot_assets.ingest.landing import Unplaceable, day_of, land
from spot_assets.partitions import daily
from spot_assets.simulation.pcap import udp_frame, write_pcap

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
T0 = dt.datetime(2024, 5, 6, 23, 59, 58, tzinfo=UTC).timestamp()
PARTITIONS = daily(dt.date(2015, 1, 1))
CONN_FIELDS = ("ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes resp_bytes "
               "conn_state local_orig local_resp missed_bytes history orig_pkts orig_ip_bytes resp_pkts "
               "resp_ip_bytes tunnel_parents").split()


def ms(epoch_ms: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=epoch_ms)


def zeek_conn(rows: list[list[str]], fields=CONN_FIELDS) -> str:
    """A conn.log as Zeek writes it: header block, tab-separated rows, #close."""
    header = ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-", "#path\tconn",
              "#open\t2024-04-19-00-00-00", "#fields\t" + "\t".join(fields),
              "#types\t" + "\t".join(["string"] * len(fields))]
    return "\n".join(header + ["\t".join(r) for r in rows] + ["#close\t2024-04-19-01-00-00"]) + "\n"


CONN_ROW = ["-", "C1", "10.0.0.1", "5353", "10.0.0.2", "53", "udp", "dns", "-", "-", "-", "S0", "-", "-", "0", "D",
            "1", "73", "0", "0", "(empty)"]


def test_nfcapd_name_gives_the_time(tmp_path):
    path = tmp_path / "nfcapd.202405062355"
    path.write_bytes(b"")
    assert first_event_time("flow", path, Tools()) == dt.datetime(2024, 5, 6, 23, 55, tzinfo=UTC)


def test_pcap_and_pcapng_first_packet(tmp_path):
    pcap = tmp_path / "a.pcap"
    write_pcap(pcap, [(T0, udp_frame("10.0.0.1", "10.0.0.2", 1, 53)), (T0 + 5, udp_frame("10.0.0.1", "10.0.0.2", 1, 53))])
    assert first_event_time("dns", pcap, Tools()) == dt.datetime(2024, 5, 6, 23, 59, 58, tzinfo=UTC)
    pcapng = tmp_path / "a.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(pcap), str(pcapng)], check=True, capture_output=True)
    assert first_event_time("dns", pcapng, Tools()) == dt.datetime(2024, 5, 6, 23, 59, 58, tzinfo=UTC)


# The earliest time of each file, read with sort/cut on the file itself (the files are under the probe's 256 KiB);
# gzipped too where the format reads gzip (nfdump's CSV is read plain only).
@pytest.mark.parametrize("data_type, name, expected, gzip_too", [
    ("proxy", "proxy-logs/bluecoat-sgos-sample.log", dt.datetime(2005, 5, 4, 17, 16, 12, tzinfo=UTC), True),
    ("proxy", "proxy-logs/squid-access-netdata-testdata.log", ms(1576177221686), True),  # starts with an "Unmatched!" line
    ("flow", "derived-nfdump-csv/slips-test1-malicious.nfcapd.csv", dt.datetime(2018, 1, 12, 15, 37, 30, tzinfo=UTC), False),
    ("flow", "iot23-labeled-conn/CTU-Honeypot-Capture-4-1/conn.log.labeled", ms(1540469197400), True),  # not in file order
    ("flow", "iot23-labeled-conn/CTU-Honeypot-Capture-7-1/conn.log.labeled.csv", ms(1562159819172), True),
    ("proxy", "zeek-labeled/011-ctu-normal-43-day1/http.log.labeled", ms(1655089738193), True),
    ("flow", "slips-samples/port-scans-horizontal/conn.log", ms(928943), True),  # a VM whose clock started at 1970
])
def test_real_logs_first_event_by_their_format(shared_datasets, tmp_path, data_type, name, expected, gzip_too):
    source = shared_datasets / name
    assert first_event_time(data_type, source, Tools()) == expected
    if not gzip_too:
        return
    gz = tmp_path / (source.name + ".gz")
    gz.write_bytes(gzip.compress(source.read_bytes()))
    assert first_event_time(data_type, gz, Tools()) == expected


def test_zeek_cluster_log_and_unset_clock(tmp_path):
    """A cluster log's first column is `_node_name`, not the time; a VM without a clock writes 19.379652."""
    cluster = tmp_path / "conn.00:00:00-01:00:00.log"
    cluster.write_text(zeek_conn([["worker-1", "1713485000.5", *CONN_ROW[1:]]], ["_node_name", *CONN_FIELDS]))
    assert first_event_time("flow", cluster, Tools()) == dt.datetime(2024, 4, 19, 0, 3, 20, 500000, tzinfo=UTC)
    vm = tmp_path / "conn.log"
    vm.write_text(zeek_conn([["19.379652", *CONN_ROW[1:]], ["17.5", *CONN_ROW[1:]]]))
    assert first_event_time("flow", vm, Tools()) == ms(17500)


def test_a_file_without_time_or_outside_the_partitions_has_no_day(tmp_path):
    junk = tmp_path / "junk.log"
    junk.write_bytes(os.urandom(4096).replace(b"\n", b"x"))
    with pytest.raises(Unplaceable, match=f"^{junk}: not a flow format"):
        day_of("flow", junk, Tools(), PARTITIONS)
    empty = tmp_path / "conn.log"
    empty.write_text(zeek_conn([]))  # a header and #close, no entry
    with pytest.raises(DecodeError, match="no event time"):
        first_event_time("flow", empty, Tools())
    with pytest.raises(Unplaceable, match=f"^{empty}: no event time .*no day"):
        day_of("flow", empty, Tools(), PARTITIONS)

    vm = tmp_path / "vm-conn.log"
    vm.write_text(zeek_conn([["19.379652", *CONN_ROW[1:]]]))
    with pytest.raises(Unplaceable) as refused:
        day_of("flow", vm, Tools(), PARTITIONS)
    assert str(refused.value) == (
        f"{vm}: its first event is at 1970-01-01 00:00:19 UTC (1970: the capturing machine's clock was not set), "
        "before the first partition 2015-01-01: set ingest.start_date to 1970-01-01 or earlier in spot.toml "
        "to ingest it")
    assert day_of("flow", vm, Tools(), daily(dt.date(1970, 1, 1))) == dt.date(1970, 1, 1)
    future = tmp_path / "future-conn.log"
    future.write_text(zeek_conn([[str(time.time() + 3 * 86400), *CONN_ROW[1:]]]))
    with pytest.raises(Unplaceable, match="after the last partition .*clock"):
        day_of("flow", future, Tools(), PARTITIONS)


def test_only_complete_files_are_taken(tmp_path):
    for name in ("nfcapd.202405062355", "nfcapd.current.1234", ".hidden.pcap", "big.pcap.part", "x.log.tmp"):
        (tmp_path / name).write_bytes(b"x")
    fresh = tmp_path / "fresh.pcap"
    fresh.write_bytes(b"x")
    old = time.time() - 60
    for p in tmp_path.iterdir():
        if p != fresh:
            os.utime(p, (old, old))
    assert [p.name for p in complete_files(tmp_path, settle_seconds=10)] == ["nfcapd.202405062355"]
    assert is_complete(fresh, settle_seconds=0)


def test_land_copies_bytes_records_and_refuses_duplicates(tmp_path):
    lake = LakeResource(root=str(tmp_path / "lake"))
    src = tmp_path / "nfcapd.202405062355"
    src.write_bytes(b"\x0c\xa5 some bytes")
    day = dt.date(2024, 5, 6)
    entry = land(lake, "flow", src, day, remove=False)
    assert entry.status == manifest.LANDED and entry.file_id == entry.sha256[:16]
    assert entry.path.endswith(f"raw/flow/y=2024/m=05/d=06/{entry.file_id}__nfcapd.202405062355")
    assert open(entry.path, "rb").read() == src.read_bytes()
    assert manifest.entries(lake, "flow", day) == [entry]

    copy = tmp_path / "copy-of-it"
    copy.write_bytes(src.read_bytes())
    again = land(lake, "flow", copy, dt.date(2024, 5, 9))
    assert again.status == manifest.DUPLICATE and again.duplicate_of == "nfcapd.202405062355"
    assert not copy.exists()  # taken from landing, recorded, not ingested twice
    statuses = sorted(e.status for e in manifest.entries(lake, "flow", day))
    assert statuses == ["duplicate", "landed"]


def test_compressed_files_and_colons_are_stored_byte_for_byte(tmp_path):
    """A rotated Zeek log keeps its gzip bytes (a stream that gzips by the name's suffix once stored it
    gzipped twice) and its `:` through the raw zone and the manifest."""
    lake = LakeResource(root=str(tmp_path / "lake"))
    src = tmp_path / "conn.00:00:00-01:00:00.log.gz"
    src.write_bytes(gzip.compress(zeek_conn([["1713485000.5", *CONN_ROW[1:]]]).encode()))
    day = dt.date(2024, 4, 19)
    entry = land(lake, "flow", src, day, remove=False, name="2024-04-19/" + src.name)
    assert entry.path.endswith(f"/d=19/{entry.file_id}__conn.00:00:00-01:00:00.log.gz")
    assert hashlib.sha256(open(entry.path, "rb").read()).hexdigest() == hashlib.sha256(src.read_bytes()).hexdigest()
    [recorded] = manifest.entries(lake, "flow", day)
    assert recorded.name == "2024-04-19/conn.00:00:00-01:00:00.log.gz" and recorded.path == entry.path
    with lake.local_copy(entry.path) as local, gzip.open(local) as f:
        assert f.read().decode() == gzip.decompress(src.read_bytes()).decode()
