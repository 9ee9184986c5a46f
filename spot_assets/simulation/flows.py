"""Connections and lookups as unidirectional flows, flows as packets, packets as nfcapd files by nfpcapd.

How a generated flow survives nfpcapd 1.7.1 unchanged (measured on 1.7.1; the merge is a test):

* nfpcapd keys flows by 5-tuple and ends them only by its timeouts (a TCP FIN or RST does not end
  a flow; a later packet of the same 5-tuple would join it). So every non-DNS flow of a day gets a
  5-tuple of its own (`assign_ports` hands out ephemeral ports by rank within each client, server,
  port and protocol; `flows` checks uniqueness and fails loudly rather than merge flows).
* Its active timeout is at most 3600 s and its inactive one is set to 120 s: a flow lasts at most
  `MAX_FLOW_MS` and its packets are never more than `MAX_GAP_MS` apart, so nfpcapd neither cuts nor
  expires a flow midway.
* UDP with port 53 on either side is flushed per packet: a lookup is two one-packet flows.
* Packet times are kept to the millisecond, truncated: every flow starts on a whole millisecond.
* Bytes are the IPv4 total lengths: packets are written headers-only (54 captured bytes) with the
  real wire and IP lengths, so a 1 MB flow does not take 1 MB of pcap. A flow's bytes are spread
  evenly over its packets (each between 40 and 65535 bytes). Bulk flows past `GRO_AFTER` packets
  are captured as with generic receive offload (`GRO_SEGMENTS` segments a packet).

No packet of a day runs past its midnight, so one day's nfcapd files never share a name with the next's.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from spot_assets.simulation import activity, pcap
from spot_assets.simulation.activity import Activity
from spot_assets.simulation.network import Organisation

NFPCAPD_ACTIVE_S, NFPCAPD_INACTIVE_S = 3600, 120
MAX_FLOW_MS = 3_300_000
MAX_GAP_MS = 60_000
MAX_IP_LEN = 65_535
# Past its first GRO_AFTER packets a bulk flow is captured as a host with generic receive offload
# sees it: GRO_SEGMENTS segments to a packet. It bounds the packets a big day makes.
GRO_AFTER, GRO_SEGMENTS = 64, 45
ROTATE_S = 3600  # one nfcapd file per hour of traffic
NODE_CACHE = 524_288  # nfpcapd's default flow cache; raised for days with more flows open at once
BATCH_FLOWS = 50_000

# TCP flag bits: first, middle and last packet of each kind of flow.
F, S, R, P, A = 0x01, 0x02, 0x04, 0x08, 0x10
SESSION_FWD, SESSION_REV = (S, P | A, F | A), (S | A, P | A, F | A)
PROBE_FWD, CLOSED_REV, OPEN_FWD, OPEN_REV = (S, S, S), (R | A,) * 3, (S, S, R), (S | A,) * 3


@dataclass
class Flows:
    """Unidirectional flows in time order; ``scenario`` as in `activity`, ``dns`` marks lookup packets."""

    ts_ms: np.ndarray
    sip: np.ndarray
    dip: np.ndarray
    sport: np.ndarray
    dport: np.ndarray
    proto: np.ndarray
    pkts: np.ndarray
    bytes: np.ndarray
    dur_ms: np.ndarray
    flags: np.ndarray  # (n, 3): first, middle, last packet's TCP flags
    dns: np.ndarray
    scenario: pa.Array

    def __len__(self) -> int:
        return len(self.ts_ms)

    def take(self, index: np.ndarray) -> "Flows":
        return Flows(**{k: (v.take(pa.array(index)) if isinstance(v, pa.Array) else v[index])
                        for k, v in self.__dict__.items()})


def assign_ports(connections: pa.Table, org: Organisation) -> pa.Table:
    """Ephemeral source ports for the connections that ask for one (``sport`` -1).

    Within each (client, server, port, protocol), connections in time order take consecutive ports
    from a start that depends on the group, inside the client OS's ephemeral range: distinct as long
    as a group has fewer connections in a day than the range has ports (else the whole unprivileged
    range is used, else it is an error).
    """
    col = {c: connections[c].to_numpy() for c in ("ts_ms", "src", "dst", "sport", "dport", "proto")}
    need = np.flatnonzero(col["sport"] < 0)
    if not len(need):
        return connections
    src, dst = col["src"][need].astype(np.int64), col["dst"][need].astype(np.int64)
    dport, proto = col["dport"][need].astype(np.int64), col["proto"][need].astype(np.int64)
    order = np.lexsort((col["ts_ms"][need], proto, dport, dst, src))
    key = np.stack([src, dst, dport, proto])[:, order]
    new_group = np.ones(len(order), bool)
    new_group[1:] = (key[:, 1:] != key[:, :-1]).any(axis=0)
    starts = np.flatnonzero(new_group)
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.append(starts, len(order))))
    lo, hi = org.ephemeral_range(org.host_of(key[0]))
    size = hi - lo + 1
    wide = np.repeat(np.maximum.reduceat(rank, starts), np.diff(np.append(starts, len(order)))) >= size
    lo, size = np.where(wide, 1024, lo), np.where(wide, 65536 - 1024, size)
    if (rank >= size).any():
        raise ValueError("more connections in one day between one client and one server port than there are ports")
    offset = (key[0] * 2_654_435_761 + key[1] * 40_503 + key[2] * 97) % size
    sport = col["sport"].copy()
    sport[need[order]] = lo + (offset + rank) % size
    return connections.set_column(connections.schema.get_field_index("sport"), "sport",
                                  pa.array(sport, pa.int32()))


def flows(act: Activity, query_len: np.ndarray, response_len: np.ndarray, day_end_ms: int) -> Flows:
    """The day's flows: each connection's forward and reverse flow, each lookup's query and response.

    ``query_len``/``response_len``: DNS message sizes of the lookups (their UDP payloads).
    """
    c = {k: act.connections[k].to_numpy() for k in act.connections.column_names if k != "scenario"}
    rev = c["rev_pkts"] > 0
    tcp = c["proto"] == pcap.TCP
    fwd_flags = _flags_by_kind(tcp, c["probe"], forward=True)
    rev_flags = _flags_by_kind(tcp, c["probe"], forward=False)
    lk = {k: act.lookups[k].to_numpy() for k in ("ts_ms", "delay_ms", "client", "resolver", "cport")}
    n_look = act.lookups.num_rows
    parts = [
        (c["ts_ms"], c["src"], c["dst"], c["sport"], c["dport"], c["proto"], c["fwd_pkts"], c["fwd_bytes"],
         c["dur_ms"], fwd_flags, np.zeros(len(tcp), bool), act.connections["scenario"]),
        (c["ts_ms"][rev] + c["rtt_ms"][rev], c["dst"][rev], c["src"][rev], c["dport"][rev], c["sport"][rev],
         c["proto"][rev], c["rev_pkts"][rev], c["rev_bytes"][rev], np.maximum(c["dur_ms"][rev] - c["rtt_ms"][rev], 0),
         rev_flags[rev], np.zeros(int(rev.sum()), bool), act.connections["scenario"].filter(pa.array(rev))),
        (lk["ts_ms"], lk["client"], lk["resolver"], lk["cport"], np.full(n_look, 53), np.full(n_look, pcap.UDP),
         np.ones(n_look, np.int64), 28 + query_len, np.zeros(n_look, np.int64), np.zeros((n_look, 3), np.int64),
         np.ones(n_look, bool), act.lookups["scenario"]),
        (lk["ts_ms"] + lk["delay_ms"], lk["resolver"], lk["client"], np.full(n_look, 53), lk["cport"],
         np.full(n_look, pcap.UDP), np.ones(n_look, np.int64), 28 + response_len, np.zeros(n_look, np.int64),
         np.zeros((n_look, 3), np.int64), np.ones(n_look, bool), act.lookups["scenario"]),
    ]
    names = ("ts_ms", "sip", "dip", "sport", "dport", "proto", "pkts", "bytes", "dur_ms", "flags", "dns", "scenario")
    merged = {}
    for i, name in enumerate(names):
        values = [p[i] for p in parts]
        merged[name] = (pa.concat_arrays([v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v for v in values])
                        if name == "scenario" else np.concatenate(values))
    for name, dtype in (("ts_ms", np.int64), ("sip", np.uint32), ("dip", np.uint32), ("sport", np.int64),
                        ("dport", np.int64), ("proto", np.uint8), ("pkts", np.int64), ("bytes", np.int64),
                        ("dur_ms", np.int64)):
        merged[name] = merged[name].astype(dtype)
    out = Flows(**merged)
    _normalise(out, day_end_ms)
    _check_unique(out)
    return out.take(np.argsort(out.ts_ms, kind="stable"))


def _flags_by_kind(tcp: np.ndarray, probe: np.ndarray, forward: bool) -> np.ndarray:
    table = {activity.PROBE_NONE: SESSION_FWD if forward else SESSION_REV,
             activity.PROBE_CLOSED: PROBE_FWD if forward else CLOSED_REV,
             activity.PROBE_OPEN: OPEN_FWD if forward else OPEN_REV}
    flags = np.zeros((len(tcp), 3), np.int64)
    for kind, values in table.items():
        flags[tcp & (probe == kind)] = values
    return flags


def _normalise(f: Flows, day_end_ms: int) -> None:
    """Packets, bytes and duration that nfpcapd reproduces exactly (module docstring)."""
    bulk = f.pkts > GRO_AFTER
    f.pkts = np.where(bulk, GRO_AFTER + -(-(f.pkts - GRO_AFTER) // GRO_SEGMENTS), f.pkts)
    f.pkts = np.maximum(np.maximum(f.pkts, 1), -(-f.bytes // MAX_IP_LEN))
    f.bytes = np.maximum(f.bytes, pcap.MIN_IP_LEN * f.pkts)
    f.dur_ms = np.clip(f.dur_ms, 0, np.minimum(MAX_FLOW_MS, (f.pkts - 1) * MAX_GAP_MS))
    f.dur_ms = np.minimum(f.dur_ms, np.maximum(day_end_ms - 1 - f.ts_ms, 0))
    if (f.ts_ms >= day_end_ms).any():
        raise ValueError("a flow starts after the end of its day")


def _check_unique(f: Flows) -> None:
    keyed = np.flatnonzero(~f.dns)
    key = np.stack([f.sip[keyed].astype(np.int64), f.dip[keyed].astype(np.int64), f.sport[keyed], f.dport[keyed],
                    f.proto[keyed].astype(np.int64)])
    order = np.lexsort(key[::-1])
    same = (key[:, order][:, 1:] == key[:, order][:, :-1]).all(axis=0)
    if same.any():
        i = keyed[order[np.flatnonzero(same)[0]]]
        raise RuntimeError(f"two flows share the 5-tuple {f.sip[i]}:{f.sport[i]} -> {f.dip[i]}:{f.dport[i]}/{f.proto[i]}; "
                           "nfpcapd would merge them")


# ----- packets and nfpcapd


def packets(f: Flows) -> tuple[np.ndarray, np.ndarray]:
    """Microsecond times and `pcap.FLOW_PACKET` records of every packet of the flows (unsorted)."""
    k = f.pkts
    flow, j = _repeat(k)
    steps = np.maximum(k - 1, 1)[flow]
    ts_us = f.ts_ms[flow] * 1000 + (f.dur_ms[flow] * 1000 * j) // steps
    base, extra = np.divmod(f.bytes, k)
    ip_len = base[flow] + (j < extra[flow])
    position = np.where(j == 0, 0, np.where(j == k[flow] - 1, 2, 1))
    flags = f.flags[flow, position]
    return ts_us, pcap.flow_packets(ts_us, f.sip[flow], f.dip[flow], f.proto[flow], f.sport[flow], f.dport[flow],
                                    ip_len, flags)


def _repeat(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    group = np.repeat(np.arange(len(counts)), counts)
    return group, np.arange(len(group)) - np.repeat(np.cumsum(counts) - counts, counts)


def write_pcap(path: Path, f: Flows) -> int:
    """All packets of the flows (in time order) into a headers-only pcap; returns the packet count.

    Flows are expanded a batch at a time; packets later than the next batch's first flow wait in
    ``pending``, so memory holds a batch and the packets of its long flows, not the whole day.
    """
    count = 0
    # Records travel as rows of bytes: concatenating structured arrays would make their
    # big-endian (network order) fields native.
    width = pcap.FLOW_PACKET.itemsize
    pending_ts, pending = np.empty(0, np.int64), np.empty((0, width), np.uint8)
    with open(path, "wb") as out:
        pcap.write_header(out, snaplen=pcap.FLOW_SNAPLEN)
        for start in range(0, len(f), BATCH_FLOWS):
            stop = min(start + BATCH_FLOWS, len(f))
            ts, records = packets(f.take(np.arange(start, stop)))
            rows = records.view(np.uint8).reshape(-1, width)
            ts, records = np.concatenate([pending_ts, ts]), np.concatenate([pending, rows])
            order = np.argsort(ts, kind="stable")
            ts, records = ts[order], records[order]
            boundary = f.ts_ms[stop] * 1000 if stop < len(f) else np.iinfo(np.int64).max
            ready = int(np.searchsorted(ts, boundary))
            pcap.write_records(out, records[:ready])
            count += ready
            pending_ts, pending = ts[ready:], records[ready:]
    return count


def node_cache(f: Flows) -> int:
    """Flows nfpcapd holds at once at the busiest moment (each until its inactive timeout), doubled."""
    keyed = ~f.dns
    starts = f.ts_ms[keyed]
    ends = starts + f.dur_ms[keyed] + NFPCAPD_INACTIVE_S * 1000
    events = np.concatenate([np.ones(len(starts), np.int64), -np.ones(len(ends), np.int64)])
    order = np.argsort(np.concatenate([starts, ends]), kind="stable")
    peak = int(np.cumsum(events[order]).max()) if len(order) else 0
    return max(NODE_CACHE, 2 * peak)


def run_nfpcapd(pcap_path: Path, out_dir: Path, nodes: int, nfpcapd: str = "nfpcapd") -> list[Path]:
    """nfcapd files (one per hour of traffic) made by nfpcapd from the pcap, in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [nfpcapd, "-r", str(pcap_path), "-w", str(out_dir), "-t", str(ROTATE_S),
           "-e", f"{NFPCAPD_ACTIVE_S},{NFPCAPD_INACTIVE_S}", "-B", str(nodes)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ | {"TZ": "UTC"})
    if done.returncode != 0:
        raise RuntimeError(f"nfpcapd failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-500:]}")
    return sorted(p for p in out_dir.iterdir() if p.name.startswith("nfcapd.") and p.name[7:].isdigit())


def nfcapd_files(f: Flows, work: Path, nfpcapd: str = "nfpcapd") -> list[Path]:
    """The flows as nfcapd files in ``work/nfcapd`` (the pcap in between is deleted)."""
    pcap_path = work / "flows.pcap"
    try:
        write_pcap(pcap_path, f)
        return run_nfpcapd(pcap_path, work / "nfcapd", node_cache(f), nfpcapd)
    finally:
        pcap_path.unlink(missing_ok=True)

