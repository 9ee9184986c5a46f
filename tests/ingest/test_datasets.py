"""Every shared public dataset folder that holds one of the ingest's data types, decoded through the
public entry point (`formats.decode_file`, format detected as for a landed file) and counted against
another tool's own count: ``nfdump -I`` for nfcapd files, tshark for captures (DNS responses under
the documented rule, NetFlow/IPFIX records), line counts for text logs and CSV.

A folder that is absent skips its test (a fresh clone has none of them); a folder that is present is
read whole, so a file the ingest cannot take fails the test instead of being passed over.
"""

from __future__ import annotations

import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.compute as pc
import pytest

from resources.lake import LakeResource
from resources.tools import Tools
from spot_assets.datatypes import DATA_TYPES
from spot_assets.ingest.decode import ingest_file
from spot_assets.ingest.formats import DecodeError, decode_file, detect
from spot_assets.ingest.landing import land
from spot_assets.ingest.manifest import DECODED, QUARANTINED
from tests.counts import (nfdump_stat, nfdump_stderr, text_lines, tshark_export_records, tshark_frame_counts,
                          zeek_records)
from tests.ingest.test_dns_formats import BAD_FILTER, CLEAN_FILTER

TOOLS = Tools()
ZEEK_TYPES = {"conn": "flow", "dns": "dns", "http": "proxy"}  # the log a file name starts with -> data type


def folder(shared_datasets: Path, name: str) -> Path:
    root = shared_datasets / name
    if not root.is_dir():
        pytest.skip(f"{root} is not in the shared datasets")
    return root


def files(root: Path, pattern: str = "*") -> list[Path]:
    found = sorted(p for p in root.rglob(pattern) if p.is_file() and p.suffix.lower() not in (".md", ".txt"))
    assert found, f"no {pattern} file under {root}"
    return found


# --- nfcapd files and the CSV nfdump wrote from them ----------------------------------------------------

def test_nfcapd_files(shared_datasets):
    """Rows = nfdump's flow count, at the flows' own times (the NSEL file's event time is 1970, its
    flows are of 2018-01-12); nfdump's "Skip unknown record type" lines are warnings, not failures."""
    root = folder(shared_datasets, "nfcapd-files")
    readable = [p for p in files(root) if "corrupt" not in p.relative_to(root).parts]
    assert {p.name for p in readable} >= {"chrispassas-nfcapd-empty", "slips-test1-malicious.nfcapd"}
    for path in readable:
        assert detect("flow", path).name == "nfcapd", path
        decoded = decode_file("flow", path, TOOLS)
        stat = nfdump_stat(path)
        assert (decoded.events.num_rows, decoded.rejects.num_rows) == (stat["Flows"], 0), path
        if decoded.events.num_rows:
            first, last = pc.min_max(decoded.events["ts"]).values()
            assert stat["First"] <= first.as_py().timestamp() < last.as_py().timestamp() < stat["Last"] + 1, path
        skipped = sorted(set(re.findall(r"Skip unknown record type (\d+)", nfdump_stderr(path))))
        assert [w.rsplit(" ", 1)[1] for w in decoded.warnings] == skipped, path
        # A duration fits in the file's span (nfdump wraps a record that ends before it starts to ~1.8e16 s).
        assert (pc.max(decoded.events["tdur"]).as_py() or 0) <= stat["Last"] - stat["First"] + 1, path


def test_corrupt_nfcapd_files_fail_with_nfdumps_reason(shared_datasets):
    for path in files(folder(shared_datasets, "nfcapd-files") / "corrupt"):
        said = nfdump_stderr(path).strip().splitlines()[0]
        with pytest.raises(DecodeError) as error:
            decode_file("flow", path, TOOLS)
        assert said in error.value.reason and path.name in str(error.value)


def test_landed_nfcapd_files_carry_their_warning_or_quarantine_reason(shared_datasets, tmp_path):
    """Through the ingest itself: the empty 1.6-layout file is decoded with nfdump's note in its
    manifest entry; the corrupt file is quarantined with nfdump's reason, named."""
    root = folder(shared_datasets, "nfcapd-files")
    lake, day = LakeResource(root=str(tmp_path / "lake")), dt.date(2024, 1, 1)
    empty = ingest_file(lake.root, land(lake, "flow", root / "chrispassas-nfcapd-empty", day, remove=False), TOOLS)
    assert (empty.status, empty.rows, empty.rejects) == (DECODED, 0, 0)
    assert empty.warnings == ["chrispassas-nfcapd-empty: nfdump skipped 1 record(s) of unknown type 9"]
    corrupt = root / "corrupt" / "chrispassas-nfcapd-corrupt"
    entry = ingest_file(lake.root, land(lake, "flow", corrupt, day, remove=False), TOOLS)
    assert entry.status == QUARANTINED and entry.error.startswith("chrispassas-nfcapd-corrupt: nfdump failed")
    assert "Corrupt data file" in entry.error and "/quarantine/" in entry.path


def test_derived_nfdump_csv(shared_datasets):
    """Every row line (nfdump's rows start with their date) is a row; each file holds the first 5,000
    flows of its nfcapd file (``-c 5000``), as nfdump counts them."""
    root = folder(shared_datasets, "derived-nfdump-csv")
    nfcapd = shared_datasets / "nfcapd-files"
    for path in files(root, "*.csv"):
        assert detect("flow", path).name == "nfdump_csv", path
        decoded = decode_file("flow", path, TOOLS)
        rows = sum(bool(re.match(rb"\d{4}-\d\d-\d\d ", line)) for line in text_lines(path))
        assert (decoded.events.num_rows, decoded.rejects.num_rows) == (rows, 0), path
        source = nfcapd / path.stem
        if source.is_file():
            assert rows == min(5000, nfdump_stat(source)["Flows"]), path


# --- NetFlow/IPFIX export captures ------------------------------------------------------------------

def test_flow_export_pcaps(shared_datasets):
    """Flows = tshark's records; a data set that comes before its template (what a collector sees
    until the template arrives) is a reject with its packet and the reason, not silence."""
    root = folder(shared_datasets, "flow-export-pcaps")
    paths = files(root, "*.pcap")
    assert any(p.parent.name == "merged" for p in paths) and any(p.name == "akvorado-nfv5.pcap" for p in paths)
    with ThreadPoolExecutor(4) as pool:  # tshark's start dominates on these small captures
        expected = dict(zip(paths, pool.map(tshark_export_records, paths)))
    for path in paths:
        assert detect("flow", path).name == "netflow_pcap", path
        decoded = decode_file("flow", path, TOOLS)
        flows, orphans = expected[path]
        assert (decoded.events.num_rows, decoded.rejects.num_rows) == (flows, orphans), path
        for reason in decoded.rejects["reason"].to_pylist():
            assert re.match(r"packet \d+: (NetFlow v9|IPFIX) data set for template \d+ .* before any template", reason)
    assert expected[root / "akvorado-nfv5.pcap"] == (29, 0)
    assert expected[root / "akvorado-data.pcap"] == (0, 1)  # NetFlow v9 data, its template not yet seen


def test_landed_export_capture_without_template_names_file_in_rejects(shared_datasets, tmp_path):
    path = folder(shared_datasets, "flow-export-pcaps") / "akvorado-data.pcap"
    lake, day = LakeResource(root=str(tmp_path / "lake")), dt.date(2022, 3, 14)
    entry = ingest_file(lake.root, land(lake, "flow", path, day, remove=False), TOOLS)
    assert (entry.status, entry.rows, entry.rejects) == (DECODED, 0, 1)
    rejects = lake.read_day(DATA_TYPES["flow"].table("rejects"), day).to_pylist()
    assert [(r["file_name"], r["record"]) for r in rejects] == [("akvorado-data.pcap", 1)]
    assert "NetFlow v9 data set for template 260" in rejects[0]["reason"]


# --- DNS captures ----------------------------------------------------------------------------------

def test_dns_pcaps(shared_datasets, tmp_path):
    """Rows and rejects = tshark's responses under the documented rule (module dns_pcap), per capture
    of every folder. Zeek's malformed traces end in rejects where tshark finds them malformed; the
    others are malformed only in records Spot does not read, and are rows. Nothing raises."""
    root = folder(shared_datasets, "dns-pcaps")
    paths = files(root, "*.pcap")
    assert {p.parent.name for p in paths} >= {"tunnel", "benign", "nxdomain", "mixed", "malformed"}
    clean = tshark_frame_counts(paths, CLEAN_FILTER, tmp_path)
    bad = tshark_frame_counts(paths, BAD_FILTER, tmp_path)
    nxdomain = tshark_frame_counts([p for p in paths if p.parent.name == "nxdomain"],
                                   f"{CLEAN_FILTER} && dns.flags.rcode == 3", tmp_path)
    for path in paths:
        decoded = decode_file("dns", path, TOOLS)
        assert (decoded.events.num_rows, decoded.rejects.num_rows) == (clean[path], bad[path]), path
        assert all(decoded.rejects["reason"].to_pylist()), path
        if path in nxdomain:
            assert pc.sum(pc.equal(decoded.events["dns_qry_rcode"], 3)).as_py() == nxdomain[path], path
    malformed = [p for p in paths if p.parent.name == "malformed"]
    assert sum(bad[p] > 0 for p in malformed) >= 3, "Zeek's malformed traces: tshark flags at least three"


# --- proxy logs ------------------------------------------------------------------------------------

def test_proxy_logs(shared_datasets):
    """Every data line is a row or a reject; the Squid log's rejects are exactly its "Unmatched!" lines
    (netdata's deliberate garbage), with their line numbers."""
    root = folder(shared_datasets, "proxy-logs")
    formats_seen = set()
    for path in files(root):
        fmt = detect("proxy", path).name
        formats_seen.add(fmt)
        decoded = decode_file("proxy", path, TOOLS)
        lines = text_lines(path)
        if fmt == "zeek_http":
            expected = zeek_records(path)
        else:
            expected = sum(not line.startswith(b"#") for line in lines)
        assert decoded.events.num_rows + decoded.rejects.num_rows == expected, path
        garbage = [n for n, line in enumerate(path.read_bytes().split(b"\n"), 1) if line.startswith(b"Unmatched!")]
        assert decoded.rejects["record"].to_pylist() == garbage, path
    assert formats_seen == {"elff", "squid", "zeek_http"}


# --- Zeek logs -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["slips-samples", "zeek-logs", "zeek-labeled", "iot23-labeled-conn"])
def test_zeek_log_folders(shared_datasets, name):
    """Each conn/dns/http log (TSV, JSON lines, labeled TSV, IoT-23's TSV with its three-space last
    field and its CSV) decodes as its data type, every record a row; other logs (ssl) are none of the
    types and are refused, not half-read."""
    root = folder(shared_datasets, name)
    for path in files(root):
        log = path.name.split(".", 1)[0]
        if log not in ZEEK_TYPES:
            for data_type in ("flow", "dns", "proxy"):
                with pytest.raises(DecodeError):
                    detect(data_type, path)
            continue
        decoded = decode_file(ZEEK_TYPES[log], path, TOOLS)
        assert (decoded.events.num_rows, decoded.rejects.num_rows) == (zeek_records(path), 0), path
        key = {"flow": "sip", "dns": "ip_dst", "proxy": "clientip"}[ZEEK_TYPES[log]]
        assert decoded.events[key].null_count == 0, path
