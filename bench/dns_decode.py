"""Benchmark: DNS pcap decoding, native engine vs tshark, speed and peak memory by capture size.

    python bench/dns_decode.py [--sizes 100000,400000,1600000] [--workdir DIR]

For each size, a capture of half queries and half responses is generated (a few hundred distinct
frames built once with dnsmsg, then only timestamps and transaction ids vary), and each of these
runs in a fresh process so that its peak RSS is its own:

* ``tshark fields``: the plain tshark command of the tshark engine, output to /dev/null (baseline);
* ``engine=tshark``: the tshark engine's decode (chunked by editcap past ``tshark_chunk_packets``);
* ``engine=native``: the native engine's decode.

Printed: packets/s, rows and the size of the events table returned, peak RSS (the Python process,
and its largest child for tshark), and the speed ratio native / engine=tshark (goal: at least 1.5).
Flat memory: the peak RSS grows with the table returned (plus the slack Arrow's allocator keeps),
not with the packets read.
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from spot_assets.simulation import dnsmsg, pcap

SIZES = (100_000, 400_000, 1_600_000)
DISTINCT = 300
DNS_ID_AT = 14 + 20 + 8  # Ethernet + IPv4 + UDP headers before the DNS transaction id


def _pairs(rng: random.Random) -> list[tuple[bytes, bytes]]:
    """Query/response frames of the usual kinds: A, AAAA, CNAME then A, TXT, NXDOMAIN."""
    pairs = []
    for i in range(DISTINCT):
        name = f"host{i}.{rng.choice(['example.com', 'cdn.example.net', 'corp.internal', 'x7kq2m.biz'])}"
        kind = i % 5
        if kind == 0:
            qtype, rcode, answers = "A", 0, [(name, "A", f"93.184.{i % 256}.{rng.randrange(256)}")]
        elif kind == 1:
            qtype, rcode, answers = "AAAA", 0, [(name, "AAAA", f"2001:db8::{i:x}")]
        elif kind == 2:
            qtype, rcode = "A", 0
            answers = [(name, "CNAME", f"edge{i}.cdn.example.org"), (f"edge{i}.cdn.example.org", "A", f"203.0.113.{i % 256}")]
        elif kind == 3:
            qtype, rcode, answers = "TXT", 0, [(name, "TXT", ["v=spf1 include:_spf.example.com ~all"])]
        else:
            qtype, rcode, answers = "A", "NXDOMAIN", []
        client = f"10.{i % 4}.{(i // 4) % 256}.{1 + i % 250}"
        pairs.append(
            dnsmsg.exchange(client, "192.0.2.53", 30000 + i, dnsmsg.query(name, qtype), dnsmsg.response(name, qtype, rcode, answers))
        )
    return pairs


def generate(path: Path, packets: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    pairs = _pairs(rng)
    header = struct.Struct("<IIII")
    t0 = 1_700_000_000
    with open(path, "wb") as out:
        pcap.write_header(out)
        chunk = []
        for n in range(packets // 2):
            query, response = pairs[n % DISTINCT]
            qid = struct.pack("!H", n & 0xFFFF)
            usec = n * 997
            for frame, extra in ((query, 0), (response, 1500)):
                sec, frac = divmod(usec + extra, 1_000_000)
                chunk.append(header.pack(t0 + sec, frac, len(frame), len(frame)))
                chunk.append(frame[:DNS_ID_AT] + qid + frame[DNS_ID_AT + 2:])
            if len(chunk) >= 200_000:
                out.write(b"".join(chunk))
                chunk = []
        out.write(b"".join(chunk))


_RUNNER = """
import json, resource, subprocess, sys, time
from pathlib import Path
what, path = sys.argv[1], Path(sys.argv[2])
start = time.perf_counter()
if what == "fields":
    from spot_assets.ingest.formats import dns_tshark
    from resources.tools import Tools
    subprocess.run(dns_tshark.command(Tools(), path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    rows, table_mb = None, None
else:
    from spot_assets.ingest.formats import dns_pcap
    from resources.tools import Tools
    events = dns_pcap.decode(path, Tools(dns_engine=what)).events
    rows, table_mb = events.num_rows, events.nbytes / 2**20
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "rows": rows, "table_mb": table_mb,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def measure(what: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _RUNNER, what, str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        print(f"{'packets':>9} {'run':<14} {'seconds':>8} {'packets/s':>10} {'rows':>8} {'table MB':>8} {'rss MB':>7} {'child MB':>8}")
        for size in sizes:
            path = Path(tmp) / f"dns_{size}.pcap"
            started = time.perf_counter()
            generate(path, size)
            print(f"{size:>9} {'generate':<14} {time.perf_counter() - started:8.2f} {'':>10} {'':>8} "
                  f"{path.stat().st_size / 2**20:6.0f}M file")
            results = {}
            for what, label in (("fields", "tshark fields"), ("tshark", "engine=tshark"), ("native", "engine=native")):
                r = results[what] = measure(what, path)
                rows = "" if r["rows"] is None else r["rows"]
                table = "" if r["table_mb"] is None else f"{r['table_mb']:.0f}"
                print(f"{size:>9} {label:<14} {r['seconds']:8.2f} {size / r['seconds']:10.0f} {rows:>8} {table:>8} "
                      f"{r['rss_mb']:7.0f} {r['child_rss_mb']:8.0f}")
            ratio = results["tshark"]["seconds"] / results["native"]["seconds"]
            print(f"{size:>9} native / engine=tshark speed: {ratio:.2f}x; "
                  f"native / tshark fields: {results['fields']['seconds'] / results['native']['seconds']:.2f}x")
            path.unlink()


if __name__ == "__main__":
    main()
