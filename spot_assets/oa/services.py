"""Protocol names and well-known service names of flows, from tables shipped in ``data/``.

``socket.getservbyport`` and ``getprotobynumber`` read ``/etc/services`` and ``/etc/protocols``, which
minimal images lack, so the IANA registries' common entries are shipped instead (provenance in each
file's header).

* ``protocol_names``: the IANA protocol name (``Transmission Control``) of a flow's ``proto``, which may
  be a number, an IANA keyword or nfdump's name for it (``ICMP6``); unknown -> ``Unknown (<proto>)``.
* ``flow_services``: the registered service name of the destination port for the flow's transport,
  else of the source port (nfdump may record a flow in either direction), else null: an ephemeral port
  has no service. The table lists TCP and UDP ports; other transports have no service name.
"""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from spot_assets.oa.files import shipped


@lru_cache(maxsize=1)
def _protocols() -> tuple[pa.Array, pa.Array, pa.Array]:
    """(text key, IANA keyword, IANA name): each number, keyword and alias, aliases first so they win."""
    records = shipped("protocols.csv")
    entries = [(a.strip().lower(), r) for r in records for a in r["Aliases"].split(";") if a.strip()]
    entries += [(r["Keyword"].lower(), r) for r in records] + [(r["Decimal"], r) for r in records]
    return (pa.array([k for k, _ in entries]), pa.array([r["Keyword"] for _, r in entries]),
            pa.array([r["Protocol"] for _, r in entries]))


@lru_cache(maxsize=1)
def _services() -> tuple[pa.Array, pa.Array]:
    records = shipped("services.csv")
    return pa.array([f"{r['Port']}/{r['Protocol']}" for r in records]), pa.array([r["Service"] for r in records])


def _protocol_index(proto: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    text = pc.utf8_trim_whitespace(proto.cast(pa.string()))
    keys, _, _ = _protocols()
    return text, pc.index_in(pc.utf8_lower(text), value_set=keys)


def protocol_names(proto: pa.Array | pa.ChunkedArray) -> pa.Array:
    text, index = _protocol_index(proto)
    found = pc.take(_protocols()[2], index)
    return pc.if_else(pc.is_null(found), pc.binary_join_element_wise("Unknown (", text, ")", ""), found)


def _service(port: pa.Array | pa.ChunkedArray, transport: pa.Array) -> pa.Array:
    keys, names = _services()
    return pc.take(names, pc.index_in(pc.binary_join_element_wise(port.cast(pa.string()), transport, "/"),
                                      value_set=keys))


def flow_services(sport: pa.Array | pa.ChunkedArray, dport: pa.Array | pa.ChunkedArray,
                  proto: pa.Array | pa.ChunkedArray) -> pa.Array:
    _, index = _protocol_index(proto)
    transport = pc.utf8_lower(pc.take(_protocols()[1], index))
    return pc.coalesce(_service(dport, transport), _service(sport, transport))
