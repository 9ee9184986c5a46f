"""DNS messages of a simulated day, built once per distinct question and answer.

A day holds hundreds of thousands of lookups but far fewer distinct (name, type, rcode, answer)
combinations: each is packed once by `dnsmsg` (dpkt) and every lookup refers to it by index; the
pcap writer then varies only the transaction id per packet (see `pcap.udp_packets`).

Answers are written ``TYPE value`` items joined by ``|``: ``A 1.2.3.4``, ``AAAA 2001:db8::1``,
``CNAME name``, ``PTR name``, ``TXT text``, ``NULL <hex>``, ``SRV priority weight port target``.
"""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa

from spot_assets.simulation import dnsmsg

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "NULL": 10, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33}
TTL = 300


def _name_bytes(name: str) -> bytes:
    return b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")) + b"\x00"


def _record(qname: str, item: str) -> tuple[str, int, object]:
    rtype, _, value = item.partition(" ")
    if rtype == "NULL":
        return qname, TYPES["NULL"], bytes.fromhex(value)
    if rtype == "SRV":
        priority, weight, port, target = value.split()
        return qname, TYPES["SRV"], struct.pack("!HHH", int(priority), int(weight), int(port)) + _name_bytes(target)
    return qname, rtype, value


class MessageBook:
    """Query and response bytes (transaction id 0) of each distinct lookup."""

    def __init__(self) -> None:
        self.queries: list[bytes] = []
        self.responses: list[bytes] = []

    def add(self, lookups: pa.Table) -> np.ndarray:
        """The message index of each lookup (a table with qname, qtype, rcode and answer)."""
        keys = pa.table({c: lookups[c] for c in ("qname", "qtype", "rcode", "answer")})
        unique = keys.group_by(list(keys.column_names), use_threads=False).aggregate([])
        first = len(self.queries)
        for qname, qtype, rcode, answer in zip(*(unique[c].to_pylist() for c in keys.column_names)):
            answers = [_record(qname, item) for item in answer.split("|")] if answer else []
            self.queries.append(dnsmsg.query(qname, qtype))
            self.responses.append(dnsmsg.response(qname, qtype, rcode, answers))
        index = pa.table({**{c: unique[c] for c in keys.column_names},
                          "message": pa.array(np.arange(first, first + unique.num_rows))})
        joined = keys.append_column("row", pa.array(np.arange(keys.num_rows))).join(
            index, list(keys.column_names), use_threads=False)
        out = np.empty(keys.num_rows, np.int64)
        out[joined["row"].to_numpy()] = joined["message"].to_numpy()
        return out

    def lengths(self, messages: np.ndarray, response: bool) -> np.ndarray:
        sizes = np.fromiter(map(len, self.responses if response else self.queries), np.int64)
        return sizes[messages]

