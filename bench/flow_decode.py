"""Flow decode benchmark: nfdump's own fmt output rate against the ``nfcapd`` format's.

    python bench/flow_decode.py [--flows N] [--repeat R] [--keep DIR] [--against FILE]

Builds N single-packet flows (distinct 5-tuples) as a pcap with numpy, turns it into nfcapd files
with ``nfpcapd -t 60`` (one file per minute of traffic), and replays every file as NetFlow v9 with
``nfreplay`` into a fresh local ``nfcapd``, so the measured files are what a collector writes. Then:

  (a) baseline: ``nfdump -r FILE -q -N -o <the format's fmt> > /dev/null``, serially (the
      addresses are IPv4, so the format does not add ``-6``);
  (b) ``decode_file("flow", FILE, Tools())`` serially;
  (c) the same over a ``ProcessPoolExecutor(2)``, as the ingest runs it (workers return row counts);
  (d) with ``--against FILE``: (b) again with FILE, another copy of ``spot_assets/ingest/formats/nfdump.py``
      (say ``git show HEAD:spot_assets/ingest/formats/nfdump.py > /tmp/nfdump-head.py``), decoding the
      nfcapd files. It runs in the same rounds as (b): on a shared machine the load changes from one
      minute to the next, so figures from separate runs of the bench do not compare two versions.

``--keep DIR`` keeps the collected files in DIR and reuses them when DIR already holds N flows (the
generation takes longer than the measurement). The runs take turns, R rounds, and each one's best
is reported (the machine may be shared), with the load average around the runs.

Reading the figures on a busy machine: (b) runs nfdump, pyarrow's reader thread (reading the pipe and
parsing) and the converting main thread side by side: it needs cores to spare to keep nfdump's pace.
When every core is busy, Linux's autogroup scheduler (``/proc/sys/kernel/sched_autogroup_enabled``)
gives a session one share of CPU however many threads or processes it runs: then (b)/(a) tends to
CPU (a)/(b), the reciprocal of the printed CPU ratio, and (c) gains nothing over (b).
Peak RSS is the kernel's high-water mark of the process's own memory (VmHWM): our process for (b),
the larger worker for (c), nfdump's from GNU time when installed. getrusage's ru_maxrss is not used:
Linux charges a forked child the parent's RSS at fork and at exec, which here is the pcap generator.
Goal: (b)/(a) >= 0.8.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import multiprocessing
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from resources.tools import Tools
from spot_assets.ingest.formats import FORMATS, decode_file
from spot_assets.ingest.formats.netflow_export import Collector
from spot_assets.ingest.formats.nfdump import NFDUMP_FMT

SPAWN = multiprocessing.get_context("spawn")
FRAME = 60  # Ethernet + IPv4 + TCP/UDP + padding
T0 = 1_700_000_000.0


def write_pcap(path: Path, flows: int, span: float, seed: int = 1) -> None:
    """One packet per flow, 70 % TCP, every source address distinct, in time order."""
    rng = np.random.default_rng(seed)
    tcp = rng.random(flows) < 0.7
    records = np.zeros((flows, 16 + FRAME), np.uint8)
    ts = T0 + np.sort(rng.random(flows)) * span
    secs = ts.astype(np.uint32)
    header = records[:, :16].view("<u4")
    header[:, 0], header[:, 1] = secs, ((ts - secs) * 1e6).astype(np.uint32)
    header[:, 2] = header[:, 3] = FRAME
    frame = records[:, 16:]
    frame[:, :14] = np.frombuffer(b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", np.uint8)
    ip = frame[:, 14:34]
    ip[:, 0], ip[:, 3], ip[:, 6], ip[:, 8] = 0x45, FRAME - 14, 0x40, 64
    ip[:, 9] = np.where(tcp, 6, 17)
    src = (np.uint32(10) << 24) | np.arange(flows, dtype=np.uint32)
    dst = (np.uint32(0xC0A8) << 16) | rng.integers(0, 1 << 16, flows, dtype=np.uint32)
    ip[:, 12:16] = src.astype(">u4").view(np.uint8).reshape(flows, 4)
    ip[:, 16:20] = dst.astype(">u4").view(np.uint8).reshape(flows, 4)
    words = ip.astype(np.uint32)
    total = (words[:, 0::2] << 8 | words[:, 1::2]).sum(axis=1)
    total = (total >> 16) + (total & 0xFFFF)
    checksum = ~(total + (total >> 16)) & 0xFFFF
    ip[:, 10], ip[:, 11] = checksum >> 8, checksum & 0xFF
    l4 = frame[:, 34:]
    l4[:, 0:2] = rng.integers(1024, 1 << 16, flows).astype(">u2").view(np.uint8).reshape(flows, 2)
    l4[:, 2:4] = rng.choice(np.array([22, 53, 80, 443, 8080]), flows).astype(">u2").view(np.uint8).reshape(flows, 2)
    l4[tcp, 12], l4[tcp, 13], l4[tcp, 14], l4[tcp, 15] = 0x50, 0x18, 0xFF, 0xFF  # ACK|PSH
    l4[~tcp, 5] = FRAME - 34  # UDP length
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        out.write(records.tobytes())


def flow_count(files: list[Path]) -> int:
    """What nfdump itself counts (its -I `Flows:` line)."""
    total = 0
    for f in files:
        info = subprocess.run(["nfdump", "-I", "-r", str(f)], capture_output=True, text=True, check=True).stdout
        total += int(next(line.split()[1] for line in info.splitlines() if line.startswith("Flows:")))
    return total


def make_collector_files(work: Path, flows: int) -> list[Path]:
    pcap, captured, collected = work / "flows.pcap", work / "nfpcapd", work / "collected"
    kept = sorted(collected.glob("nfcapd.*"))
    if kept and flow_count(kept) == flows:
        return kept
    for stale in (captured, collected):
        shutil.rmtree(stale, ignore_errors=True)
    captured.mkdir()
    collected.mkdir()
    write_pcap(pcap, flows, span=min(600.0, max(60.0, flows / 1500)))
    subprocess.run(["nfpcapd", "-r", str(pcap), "-w", str(captured), "-t", "60"], check=True, capture_output=True)
    pcap.unlink()
    files = []
    for n, source in enumerate(sorted(captured.glob("nfcapd.*")), start=1):
        folder = collected / f"c{n}"
        folder.mkdir()
        with Collector(Tools(), folder) as collector:
            subprocess.run(["nfreplay", "-r", str(source), "-H", "127.0.0.1", "-p", str(collector.port), "-v", "9"],
                           check=True, capture_output=True)
            produced = collector.finish()
        for k, part in enumerate(produced):
            files.append(part.rename(collected / f"nfcapd.{n:03d}{k}"))
    replayed = flow_count(files)
    if replayed != flows:
        sys.exit(f"replay lost flows: nfpcapd wrote {flows}, the collector {replayed}")
    return files


@dataclass(order=True)
class Run:
    seconds: float  # wall time
    rows: int
    cpu: float  # user + system seconds of the process and the nfdump it ran
    peak_mb: float | None  # VmHWM


def peak_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def cpu_seconds(*who: int) -> float:
    return sum(resource.getrusage(w).ru_utime + resource.getrusage(w).ru_stime for w in who)


def nfdump_peak_mb(path: Path) -> float | None:
    if not Path("/usr/bin/time").exists():
        return None
    run = subprocess.run(["/usr/bin/time", "-f", "%M", "nfdump", "-r", str(path), "-q", "-N", "-o", NFDUMP_FMT],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    return int(run.stderr.split()[-1]) / 1024


def baseline(files: list[Path]) -> Run:
    cpu, started = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
    for f in files:
        subprocess.run(["nfdump", "-r", str(f), "-q", "-N", "-o", NFDUMP_FMT], stdout=subprocess.DEVNULL, check=True)
    return Run(time.perf_counter() - started, 0, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu,
               nfdump_peak_mb(max(files, key=lambda f: f.stat().st_size)))


def decode_one(path: Path) -> Run:
    both = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    cpu, started = cpu_seconds(*both), time.perf_counter()
    decoded = decode_file("flow", path, Tools())
    return Run(time.perf_counter() - started, decoded.events.num_rows + decoded.rejects.num_rows,
               cpu_seconds(*both) - cpu, peak_mb())


def total(runs: list[Run], seconds: float) -> Run:
    return Run(seconds, sum(r.rows for r in runs), sum(r.cpu for r in runs), max(r.peak_mb for r in runs))


def use_module(path: Path) -> None:
    """Decode nfcapd files, in this process, with the copy of the format's module at ``path``."""
    spec = importlib.util.spec_from_file_location("nfdump_against", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their class's module up while it loads
    spec.loader.exec_module(module)
    FORMATS["flow"]["nfcapd"] = dataclasses.replace(FORMATS["flow"]["nfcapd"], decode=module.decode_nfcapd)


def decode_serial(files: list[Path], module: Path | None = None) -> Run:
    if module:
        use_module(module)
    started = time.perf_counter()
    runs = [decode_one(f) for f in files]
    return total(runs, time.perf_counter() - started)


def decode_parallel(files: list[Path]) -> Run:
    with ProcessPoolExecutor(2, mp_context=SPAWN) as pool:
        list(pool.map(time.sleep, [0.2, 0.2]))  # both workers up and imported before the clock starts
        started = time.perf_counter()
        runs = list(pool.map(decode_one, files))
        return total(runs, time.perf_counter() - started)


def fresh(function, *args):
    """Run in a newly spawned process, away from the generator's memory and CPU accounting."""
    with ProcessPoolExecutor(1, mp_context=SPAWN) as pool:
        return pool.submit(function, *args).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="folder to keep the collected files in and reuse them from")
    parser.add_argument("--against", type=Path, help="another copy of nfdump.py to time as (d), alongside (b)")
    args = parser.parse_args()
    with contextlib.nullcontext(args.keep) if args.keep else tempfile.TemporaryDirectory(prefix="flow-bench-") as tmp:
        Path(tmp).mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        files = make_collector_files(Path(tmp), args.flows)
        size = sum(f.stat().st_size for f in files) / 1e6
        print(f"{args.flows:,} flows replayed (NetFlow v9) into {len(files)} nfcapd files, {size:.0f} MB, "
              f"in {time.perf_counter() - started:.1f} s")

        load = os.getloadavg()[0]
        runs: dict[str, list[Run]] = {"a": [], "b": [], "c": [], **({"d": []} if args.against else {})}
        for _ in range(args.repeat):
            runs["a"].append(fresh(baseline, files))
            runs["b"].append(fresh(decode_serial, files))
            if args.against:
                runs["d"].append(fresh(decode_serial, files, args.against.resolve()))
            runs["c"].append(decode_parallel(files))
        for k in runs.keys() - {"a"}:
            for run in runs[k]:
                if run.rows != args.flows:
                    sys.exit(f"({k}) decoded {run.rows} rows, expected {args.flows}")
        best = {k: min(v) for k, v in runs.items()}
        rate = {k: args.flows / run.seconds for k, run in best.items()}
        labels = {"a": "nfdump fmt > /dev/null, serial", "b": "decode_file, serial", "c": "decode_file, 2 processes",
                  "d": "decode_file --against, serial"}
        peaks = {"a": "nfdump", "b": "process", "c": "worker", "d": "process"}
        for k, run in best.items():
            walls = " ".join(f"{r.seconds:.2f}" for r in runs[k])
            peak = f"{peaks[k]} peak RSS {run.peak_mb:.0f} MB" if run.peak_mb else ""
            print(f"({k}) {labels[k]:<31}: {run.seconds:5.2f} s {rate[k]:>9,.0f} flows/s  CPU {run.cpu:5.2f} s  "
                  f"{peak}  (wall of each run: {walls})")
        print(f"(b)/(a) = {rate['b'] / rate['a']:.2f}   (c)/(a) = {rate['c'] / rate['a']:.2f}   "
              f"CPU (b)/(a) = {best['b'].cpu / best['a'].cpu:.2f}   (goal: (b)/(a) >= 0.8)")
        if args.against:
            print(f"(d)/(a) = {rate['d'] / rate['a']:.2f}   CPU (d)/(a) = {best['d'].cpu / best['a'].cpu:.2f}   "
                  f"(b)/(d) = {rate['b'] / rate['d']:.2f}   CPU (b)/(d) = {best['b'].cpu / best['d'].cpu:.2f}   "
                  f"(d: {args.against})")
        print(f"load average (1 min) {load:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
