"""What happened on a simulated day, before any capture is written: connections, DNS lookups, web requests.

Background traffic and every scenario produce these three tables; the writers turn them into the
captures (connections and lookups into flows, lookups into DNS packets, requests into proxy log
lines) and the labels. A ``scenario`` column carries the scenario id of every row an attack made
(null for background), so each event a capture holds can be labeled.

Connections: ``ts_ms`` is the first packet of the forward (initiator's) flow, on a millisecond;
``sport`` -1 asks for an ephemeral port (assigned by `flows.assign_ports`). The reverse flow (if
``rev_pkts`` > 0) starts ``rtt_ms`` later. ``probe`` marks a TCP probe instead of a session: the
forward flow is a SYN (then an RST when ``probe`` is `PROBE_OPEN`) and the reply a SYN-ACK for an
open port or an RST-ACK for a closed one.
Lookups: the query leaves at ``ts_ms`` and the response comes back ``delay_ms`` later; ``answer``
is what the response holds, as ``TYPE value`` items joined by ``|`` (see `dns.MessageBook`).
Requests: one proxy log line each, at ``ts_ms``; "" stands for an absent value.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

PROBE_NONE, PROBE_CLOSED, PROBE_OPEN = 0, 1, 2

CONNECTIONS = pa.schema([
    ("ts_ms", pa.int64()), ("src", pa.uint32()), ("dst", pa.uint32()), ("sport", pa.int32()), ("dport", pa.int32()),
    ("proto", pa.uint8()), ("dur_ms", pa.int64()), ("fwd_pkts", pa.int64()), ("fwd_bytes", pa.int64()),
    ("rev_pkts", pa.int64()), ("rev_bytes", pa.int64()), ("rtt_ms", pa.int32()), ("probe", pa.uint8()),
    ("scenario", pa.string()),
])

LOOKUPS = pa.schema([
    ("ts_ms", pa.int64()), ("delay_ms", pa.int32()), ("client", pa.uint32()), ("resolver", pa.uint32()),
    ("cport", pa.int32()), ("qname", pa.string()), ("qtype", pa.int32()), ("rcode", pa.int32()),
    ("answer", pa.string()), ("scenario", pa.string()),
])

REQUESTS = pa.schema([
    ("ts_ms", pa.int64()), ("time_taken", pa.int32()), ("client", pa.uint32()), ("server", pa.uint32()),
    ("username", pa.string()), ("method", pa.string()), ("scheme", pa.string()), ("host", pa.string()),
    ("port", pa.int32()), ("path", pa.string()), ("query", pa.string()), ("extension", pa.string()),
    ("ctype", pa.string()), ("status", pa.int32()), ("action", pa.string()), ("filter", pa.string()),
    ("category", pa.string()), ("referer", pa.string()), ("agent", pa.string()), ("sc_bytes", pa.int64()),
    ("cs_bytes", pa.int64()), ("scenario", pa.string()),
])


def table(columns: dict, schema: pa.Schema) -> pa.Table:
    """A table of ``schema`` from columns (arrays, lists or scalars to repeat); missing scenario is null."""
    n = max((len(v) for v in columns.values() if not isinstance(v, (str, int, float, type(None)))), default=0)
    arrays = []
    for field in schema:
        value = columns.get(field.name)
        if value is None or isinstance(value, (str, int, float)):
            arrays.append(pa.array([value] * n, field.type))
        else:
            arrays.append(pa.array(value, field.type) if not isinstance(value, (pa.Array, pa.ChunkedArray))
                          else value.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


@dataclass
class Activity:
    connections: pa.Table
    lookups: pa.Table
    requests: pa.Table

    @classmethod
    def empty(cls) -> "Activity":
        return cls(CONNECTIONS.empty_table(), LOOKUPS.empty_table(), REQUESTS.empty_table())

    def __add__(self, other: "Activity") -> "Activity":
        return Activity(
            pa.concat_tables([self.connections, other.connections]),
            pa.concat_tables([self.lookups, other.lookups]),
            pa.concat_tables([self.requests, other.requests]),
        )

    def flow_count(self) -> int:
        """Flows these make: each connection one or two, each UDP lookup two (query and response)."""
        rev = self.connections["rev_pkts"].to_numpy()
        return int(len(rev) + (rev > 0).sum() + 2 * self.lookups.num_rows)
