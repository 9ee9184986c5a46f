"""A corpus of malformed inputs made from the real dataset files, one damaged copy per (file, damage),
each with what an honest decoder must still deliver.

Damage, where it applies to the file's kind:

* ``cut-NN%``: the file cut NN% of the way through. A text file is cut inside a data line, just
  before a separator, so that line has too few fields; a binary file at that byte.
* ``cut-1-byte`` and, for binary files, ``cut-last-byte``.
* ``flip``: bytes overwritten with ``\\xff\\xfe\\x01`` (invalid UTF-8 and a control character): at the
  start of a data line of a text file (its time field), at seeded places of a binary file.
* ``wrong-header``: the first line (text) or the first 4 bytes (binary) replaced by a PNG signature.
* ``mixed-encodings``: a Latin-1 ``é`` in one data line and a UTF-8 one in the next (text).
* ``long-line``: a 10 MB line inserted among the data lines (text).
* ``one-bad-line``: a data line replaced by one of the wrong shape (text).
* ``empty``: no bytes. ``gzip-cut``: the file gzipped and cut in half.

``good`` is how many rows must survive, counted without the code under test: the data lines the
damage did not touch (text), what nfdump or tshark still reads from the damaged file (binary), 0
where the format's documented rule quarantines the whole file (no header, a cut gzip stream).
``bad_lines`` are the physical line numbers that must come out as rejects; ``must_fail`` says the
damage is one a decoder can always see (so silence would be a failure).
"""

from __future__ import annotations

import gzip
import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tests.counts import tshark_export_records
from tests.ingest.test_dns_formats import CLEAN_FILTER, tshark_count

LONG_LINE_BYTES = 10 << 20
FLIP = b"\xff\xfe\x01"
FLIPS = 4  # places flipped in a binary file
PNG = b"\x89PNG\r\n\x1a\n"

# (data type, dataset file, kind): text kinds name their field separator and whether a header line
# that is not a ``#`` line comes first; binary kinds name the tool that counts their rows.
SOURCES = [
    ("flow", "nfcapd-files/chrispassas-nfcapd.sample", "nfcapd"),
    ("flow", "nfcapd-files/slips-test1-malicious.nfcapd", "nfcapd"),
    ("flow", "flow-export-pcaps/akvorado-nfv5.pcap", "netflow"),
    ("dns", "dns-pcaps/nxdomain/slips-test-cc-capture-2.pcap", "dns"),
    ("flow", "derived-nfdump-csv/slips-test1-malicious.nfcapd.csv", "csv"),
    ("flow", "slips-samples/test10-mixed-zeek-dir/conn.log", "tsv"),
    ("flow", "iot23-labeled-conn/CTU-Honeypot-Capture-4-1/conn.log.labeled", "tsv"),
    ("flow", "iot23-labeled-conn/CTU-IoT-Malware-Capture-44-1/conn.log.labeled.csv", "csv"),
    ("flow", "slips-samples/test9-mixed-zeek-dir/conn.log", "json"),
    ("dns", "slips-samples/test10-mixed-zeek-dir/dns.log", "tsv"),
    ("proxy", "proxy-logs/bluecoat-sgos-sample.log", "space"),
    ("proxy", "proxy-logs/squid-access-netdata-testdata.log", "space"),
    ("proxy", "proxy-logs/zeek-http-slips-test9.log", "json"),
]
SEPARATORS = {"csv": b",", "tsv": b"\t", "space": b" ", "json": b","}
# Lines of a source that are bad on purpose (its README): netdata's Squid test log has 16 of them.
KNOWN_BAD = b"Unmatched!"
BINARY = {"nfcapd", "netflow", "dns"}


@dataclass
class Case:
    name: str  # "<folder>/<source file>:<damage>"
    data_type: str
    path: Path  # the damaged file
    damage: str
    good: int  # rows that must survive
    bad_lines: list[int] = field(default_factory=list)
    must_fail: bool = False  # a DecodeError or a reject is required


@dataclass
class _Spec:
    """A case before it is written: its bytes and, for binary files, its good rows are made on demand
    (a sample pays only for the cases it keeps)."""

    data_type: str
    source: Path
    kind: str
    damage: str
    data: Callable[[], bytes]
    good: int | None  # None: counted on the damaged file by the format's own tool
    bad_lines: list[int]
    must_fail: bool

    def write(self, work: Path) -> Case:
        path = work / self.source.parent.name / self.damage / self.source.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.data())
        good = self.good
        if good is None:
            good = _binary_rows(self.kind, path)
            if self.damage == "flip":  # each flipped place may spoil the record it falls in: a reject, not a loss
                good = max(0, good - FLIPS)
        name = f"{self.source.parent.name}/{self.source.name}:{self.damage}"
        return Case(name, self.data_type, path, self.damage, good, self.bad_lines, self.must_fail)


def corpus(datasets: Path, work: Path, sample: int | None = None, seed: int = 7,
           damages: set[str] | None = None) -> list[Case]:
    """The damaged copies (of the ``damages`` kinds, default all), written under ``work``; ``sample``
    keeps that many, chosen with ``seed`` among all but the 10 MB lines, of which one is always kept."""
    specs = []
    for data_type, relative, kind in SOURCES:
        source = datasets / relative
        if source.is_file():
            specs += (_binary_specs if kind in BINARY else _text_specs)(data_type, source, kind)
    specs = [s for s in specs if damages is None or s.damage in damages]
    if sample is not None:
        long_lines = [s for s in specs if s.damage == "long-line"]
        rest = [s for s in specs if s.damage != "long-line"]
        specs = random.Random(seed).sample(rest, min(sample, len(rest))) + long_lines[:1]
    return [spec.write(work) for spec in specs]


def _gzip_cut(data: bytes) -> bytes:
    packed = gzip.compress(data, mtime=0)
    return packed[: len(packed) // 2]


# --- text ------------------------------------------------------------------------------------------

def _data_lines(lines: list[bytes], kind: str) -> list[int]:
    """0-based indexes of the good data lines: not blank, not a ``#`` line, not a CSV's header line,
    not a line that is bad on purpose."""
    data = [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith(b"#")]
    return [i for i in (data[1:] if kind == "csv" else data) if not lines[i].startswith(KNOWN_BAD)]


def _text_specs(data_type: str, source: Path, kind: str) -> list[_Spec]:
    raw = source.read_bytes()
    lines = raw.split(b"\n")
    data = _data_lines(lines, kind)
    n = len(data)
    # Its first line says how to read the others (a CSV header, Zeek's #separator); ELFF's first line
    # is a comment (#Software), its #Fields line comes later.
    headed = kind in ("csv", "tsv")
    specs = []

    def spec(damage: str, new_lines: Callable[[], list[bytes]], good: int, bad: list[int], must_fail: bool) -> None:
        specs.append(_Spec(data_type, source, kind, damage, lambda: b"\n".join(new_lines()), good, bad, must_fail))

    for share in (25, 50, 90):
        k = data[n * share // 100]
        cut = lines[k].find(SEPARATORS[kind], len(lines[k]) // 2)
        cut = cut if cut > 0 else len(lines[k]) // 2
        spec(f"cut-{share}%", lambda k=k, cut=cut: [*lines[:k], lines[k][:cut]], data.index(k), [k + 1], True)
    k, i = data[n // 2], data[n // 3]
    spec("flip", lambda: [*lines[:k], FLIP + lines[k][len(FLIP):], *lines[k + 1:]], n - 1, [k + 1], True)
    spec("one-bad-line", lambda: [*lines[:k], b"this line is not a log record", *lines[k + 1:]], n - 1, [k + 1], True)
    spec("mixed-encodings", lambda: [*lines[:i], _accented(lines[i], b"\xe9"), _accented(lines[i + 1], "é".encode()),
                                     *lines[i + 2:]], n - 2, [], False)
    spec("long-line", lambda: [*lines[:k], b"x" * LONG_LINE_BYTES, *lines[k:]], n, [k + 1], True)
    spec("wrong-header", lambda: [PNG, *lines[1:]], 0 if headed else n - (0 in data), [] if headed else [1], True)
    for damage, data_of in (("cut-1-byte", lambda: raw[:1]), ("empty", lambda: b""),
                            ("gzip-cut", lambda: _gzip_cut(raw))):
        specs.append(_Spec(data_type, source, kind, damage, data_of, 0, [], True))
    return specs


def _accented(line: bytes, accent: bytes) -> bytes:
    """The line with the last letter of its first half replaced by an accented one."""
    for i in range(len(line) // 2, 0, -1):
        if line[i:i + 1].isalpha():
            return line[:i] + accent + line[i + 1:]
    return line


# --- binary ----------------------------------------------------------------------------------------

def _binary_specs(data_type: str, source: Path, kind: str) -> list[_Spec]:
    raw = source.read_bytes()

    def flipped() -> bytes:
        data = bytearray(raw)
        for at in sorted(random.Random(source.name).sample(range(len(raw) // 2, len(raw) - len(FLIP)), FLIPS)):
            data[at:at + len(FLIP)] = FLIP
        return bytes(data)

    readable = {  # damage -> its bytes, for the damage a tool may still read in part
        "cut-1-byte": lambda: raw[:1], "cut-25%": lambda: raw[: len(raw) // 4],
        "cut-50%": lambda: raw[: len(raw) // 2], "cut-last-byte": lambda: raw[:-1], "flip": flipped,
    }
    unreadable = {"wrong-header": lambda: PNG[:4] + raw[4:], "empty": lambda: b"", "gzip-cut": lambda: _gzip_cut(raw)}
    return ([_Spec(data_type, source, kind, d, make, None, [], d != "flip") for d, make in readable.items()]
            + [_Spec(data_type, source, kind, d, make, 0, [], True) for d, make in unreadable.items()])


def _binary_rows(kind: str, path: Path) -> int:
    """Rows the damaged file still holds by the format's own tool: nfdump's flows when it reads the file
    without complaint, tshark's DNS responses or NetFlow records up to where it stops."""
    if kind == "nfcapd":
        done = subprocess.run(["nfdump", "-r", str(path), "-q", "-o", "csv"], capture_output=True, text=True)
        complaints = [line for line in done.stderr.splitlines() if line.strip() and "Skip unknown record" not in line]
        if done.returncode or complaints:
            return 0
        return sum(bool(line.strip()) and line != "No matching flows" for line in done.stdout.splitlines())
    if kind == "dns":
        return tshark_count(path, CLEAN_FILTER)
    return tshark_export_records(path)[0]


# --- what the decoder made of a case ----------------------------------------------------------------

@dataclass
class Result:
    case: Case
    rows: int = 0
    reject_lines: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    error: str | None = None  # the DecodeError's text
    crash: str | None = None  # any other exception

    @property
    def clear(self) -> bool:
        """Ended in a DecodeError naming the file or in rejects, each with a reason."""
        if self.error is not None:
            return self.case.path.name in self.error
        return bool(self.reasons) and all(self.reasons)

    @property
    def lost(self) -> int:
        """Good rows the decoder did not deliver."""
        return max(0, self.case.good - self.rows)

    def problems(self) -> list[str]:
        """What an honest decoder would not have done with this case."""
        found = []
        if self.crash:
            found.append(f"crashed: {self.crash}")
        if self.lost:
            found.append(f"lost {self.lost} of {self.case.good} good rows ({self.error or 'decoded'})")
        if self.case.must_fail and not self.clear:
            found.append(f"no clear error: {self.error or 'decoded without a reject'}")
        missed = sorted(set(self.case.bad_lines) - set(self.reject_lines)) if self.error is None else []
        if missed:
            found.append(f"damaged line(s) {missed} not rejected")
        if self.reasons and not all(self.reasons):
            found.append("a reject without a reason")
        return [f"{self.case.name}: {p}" for p in found]


def run(case: Case, tools) -> Result:
    """Decode the case as a landed file is decoded (format detected) through the public entry point."""
    from spot_assets.ingest.formats import DecodeError, decode_file

    result = Result(case)
    try:
        decoded = decode_file(case.data_type, case.path, tools)
    except DecodeError as error:
        result.error = str(error)
    except Exception as error:  # noqa: BLE001 - counting crashes is the point
        result.crash = f"{type(error).__name__}: {error}"[:300]
    else:
        result.rows = decoded.events.num_rows
        result.reject_lines = decoded.rejects["record"].to_pylist()
        result.reasons = decoded.rejects["reason"].to_pylist()
    return result
