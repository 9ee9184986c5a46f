"""IANA names of DNS classes, types and rcodes and of HTTP status codes (Spot's ``iana_transform.py``).

The tables are shipped in ``data/`` (each file's header gives its registry) and looked up with
``index_in``. As in Spot, a value the table does not have is named ``Unknown (<value>)`` and a missing
value has no name (null). A DNS class is found from its decimal text or its hex text of any width
(tshark's ``0x0001``, Spot's ``0x00000001``); types and rcodes by number (Spot's -1 is ``UNKNOWN``);
HTTP codes by their text.
"""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from spot_assets.oa.files import shipped


@lru_cache(maxsize=None)
def _table(name: str, key: str, value: str) -> tuple[pa.Array, pa.Array]:
    records = shipped(name)
    return pa.array([r[key] for r in records]), pa.array([r[value] for r in records])


def _lookup(text: pa.Array, keys: pa.Array, names: pa.Array, shown: pa.Array | None = None) -> pa.Array:
    """The name of each key text; ``Unknown (<shown>)`` where the table lacks it, null where it is null."""
    shown = text if shown is None else shown
    found = pc.take(names, pc.index_in(text, value_set=keys))
    return pc.if_else(pc.is_null(found), pc.binary_join_element_wise("Unknown (", shown, ")", ""), found)


def _text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return pc.utf8_trim_whitespace(values.cast(pa.string()))


def dns_class_names(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    decimal, names = _table("dns-qclass.csv", "Decimal", "Name")
    # Both spellings of every class: "1" and "0x1" (hex without leading zeros, lower case).
    hexes = pa.array([f"0x{int(d):x}" for d in decimal.to_pylist()])
    text = _text(values)
    lower = pc.utf8_lower(text)
    digits = pc.utf8_ltrim(pc.utf8_slice_codeunits(lower, 2), "0")
    hex_key = pc.binary_join_element_wise("0x", pc.if_else(pc.equal(digits, ""), "0", digits), "")
    key = pc.if_else(pc.starts_with(lower, "0x"), hex_key, lower)
    return _lookup(key, pa.concat_arrays([decimal, hexes]), pa.concat_arrays([names, names]), shown=text)


def dns_type_names(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return _lookup(_text(values), *_table("dns-qtype.csv", "Value", "TYPE"))


def dns_rcode_names(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return _lookup(_text(values), *_table("dns-rcode.csv", "RCODE", "Name"))


def http_status_names(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return _lookup(_text(values), *_table("http-status.csv", "CODE", "DESCRIPTION"))
