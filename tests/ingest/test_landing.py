import datetime as dt
import gzip
import os
import subprocess
import time

import pytest

from resources.lake import LakeResource
from spot_assets.ingest import manifest
from spot_assets.ingest.landing import complete_files, day_of, is_complete, land, probe_first_time
from spot_assets.simulation.pcap import udp_frame, write_pcap

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 6, 23, 59, 58, tzinfo=UTC).timestamp()


def test_nfcapd_name_gives_the_time(tmp_path):
    path = tmp_path / "nfcapd.202405062355"
    path.write_bytes(b"")
    assert probe_first_time(path) == dt.datetime(2024, 5, 6, 23, 55, tzinfo=UTC)


def test_pcap_and_pcapng_first_packet(tmp_path):
    pcap = tmp_path / "a.pcap"
    write_pcap(pcap, [(T0, udp_frame("10.0.0.1", "10.0.0.2", 1, 53)), (T0 + 5, udp_frame("10.0.0.1", "10.0.0.2", 1, 53))])
    assert probe_first_time(pcap) == dt.datetime(2024, 5, 6, 23, 59, 58, tzinfo=UTC)
    pcapng = tmp_path / "a.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(pcap), str(pcapng)], check=True, capture_output=True)
    assert probe_first_time(pcapng) == dt.datetime(2024, 5, 6, 23, 59, 58, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("#Software: SGOS\n#Fields: date time c-ip\n2024-05-06 23:10:01 10.1.1.1\n", dt.datetime(2024, 5, 6, 23, 10, 1, tzinfo=UTC)),
    ("1715036400.123    45 10.1.1.1 TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 text/html\n", dt.datetime(2024, 5, 6, 23, 0, tzinfo=UTC)),
    ("#separator \\x09\n#fields\tts\tuid\n1715036400.5\tCx1\n", dt.datetime(2024, 5, 6, 23, 0, tzinfo=UTC)),
    ("ts,uid,id.orig_h\n1715036400.000001,C1,10.0.0.1\n", dt.datetime(2024, 5, 6, 23, 0, tzinfo=UTC)),
])
def test_text_logs_first_event(tmp_path, text, expected):
    path = tmp_path / "x.log"
    path.write_text(text)
    assert probe_first_time(path) == expected
    gz = tmp_path / "x.log.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    assert probe_first_time(gz) == expected


def test_garbage_has_no_time_and_belongs_to_today(tmp_path):
    path = tmp_path / "junk.log"
    path.write_bytes(os.urandom(4096).replace(b"\n", b"x"))
    assert probe_first_time(path) is None
    assert day_of(path) == dt.datetime.now(UTC).date()


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
