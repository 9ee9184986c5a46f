"""Independent counts of what a dataset file holds, from other tools' own output (nfdump, tshark,
capinfos) or from its lines: the expected values of the dataset and robustness tests."""

from __future__ import annotations

import gzip
import re
import subprocess
from pathlib import Path

from tests.ingest.test_dns_formats import NO_REASSEMBLY


def text_lines(path: Path) -> list[bytes]:
    """The file's non-blank lines (gunzipped when gzip), from the bytes."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return [line for line in raw.split(b"\n") if line.strip()]


def zeek_records(path: Path) -> int:
    """Records of a Zeek log: every line of a JSON log; the lines that are not ``#`` header lines of an
    ASCII log; the lines after the header of a CSV."""
    lines = text_lines(path)
    if lines[0].lstrip().startswith(b"{"):
        return len(lines)
    data = [line for line in lines if not line.lstrip().startswith(b"#")]
    return len(data) - (not lines[0].lstrip().startswith(b"#"))


def nfdump_stat(path: Path) -> dict[str, int]:
    """``nfdump -I``'s own numbers for a file (Flows, First, Last, ...)."""
    out = subprocess.run(["nfdump", "-I", "-r", str(path)], capture_output=True, text=True, check=True).stdout
    return {key: int(value) for key, value in re.findall(r"^(\w+): (\d+)$", out, re.M)}


def nfdump_stderr(path: Path) -> str:
    """What nfdump says while reading every record of the file (a filter that prints none)."""
    return subprocess.run(["nfdump", "-r", str(path), "-q", "not any"], capture_output=True, text=True).stderr


def export_port(path: Path) -> int:
    """The collector port of each akvorado capture (the folder's README)."""
    for marker, port in (("nfv5", 9990), ("ipfixprobe", 4739), ("samplingrate", 8096)):
        if marker in path.name:
            return port
    return 2055


def tshark_export_records(path: Path) -> tuple[int, int]:
    """(flow records, data sets without a template) as tshark decodes the capture: the records of data
    sets of flow templates (an options template's records describe the exporter, not flows), plus
    NetFlow v5's records (``pdu i/n``)."""
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-d", f"udp.port=={export_port(path)},cflow", "-V"],
                         capture_output=True, text=True).stdout
    options, current, flows, orphans = set(), None, 0, 0
    for line in map(str.strip, out.splitlines()):
        orphans += bool(re.fullmatch(r"Data \(\d+ bytes\), no template found", line))
        if match := re.match(r"Options Template \(Id = (\d+)\)", line):
            options.add(match[1])
        elif match := re.match(r"FlowSet Id: \(Data\) \((\d+)\)", line):
            current = match[1]
        elif re.fullmatch(r"pdu \d+/\d+", line) or (re.fullmatch(r"Flow \d+", line) and current not in options):
            flows += 1
    return flows, orphans


def tshark_frame_counts(paths: list[Path], display_filter: str, work: Path) -> dict[Path, int]:
    """How many frames of each capture tshark shows under a display filter. The captures are read as
    one (mergecap -a, capinfos for where each starts): tshark starts once instead of once a file, and
    with reassembly off (``NO_REASSEMBLY``) no packet depends on the ones before it."""
    merged = work / "all.pcapng"
    subprocess.run(["mergecap", "-a", "-F", "pcapng", "-w", str(merged), *map(str, paths)], check=True)
    info = subprocess.run(["capinfos", "-c", "-M", "-T", *map(str, paths)], capture_output=True, text=True,
                          check=True).stdout
    sizes = [int(line.rsplit("\t", 1)[1]) for line in info.strip().splitlines()[1:]]
    prefs = [arg for pref in NO_REASSEMBLY for arg in ("-o", pref)]
    out = subprocess.run(["tshark", "-n", "-r", str(merged), "-Y", display_filter, "-T", "fields", "-e", "frame.number",
                          *prefs], capture_output=True, text=True).stdout
    frames = [int(n) for n in out.split()]
    counts, start = {}, 0
    for path, size in zip(paths, sizes, strict=True):
        counts[path] = sum(start < n <= start + size for n in frames)
        start += size
    return counts
