"""Flow words (``FlowWordCreator.scala``, spec §3.2): one word for the source IP's document and one
for the destination IP's.

``base = port_proto_hour_ceil(log2(ibyt+1))_ceil(log2(ipkt+1))``; the port token and which side
gets the ``-1_`` owner marker follow the table of §3.2, checked in Spot's order (both ports 0;
only dport 0; only sport 0; both <= 1024; sport <= 1024 < dport; dport <= 1024 < sport; both
> 1024). The byte and packet bins are the code's ``ceil(log2(x + 1))`` (= floor(log2 x) + 1), not
the website's ``ceil(log2 x) + 1``: ports 1066 -> 301, 1026 bytes, 10 packets at 03h over TCP is
``301_TCP_3_11_4``, not ``301_TCP_3_12_5`` (§9).

Valid rows (``filterRecords``): trhour in [0, 23], trminute and trsec in [0, 59], treceived, sip
and dip present, sport, dport, ibyt, ipkt >= 0; a null in any of these makes the row invalid, as
SQL's three-valued filter did. Every other row is invalid, which fixes Spot's
``filterInvalidRecords``: its ``&&``/``||`` precedence let a row with hour 25 be neither valid nor
invalid. A null ``proto`` is printed ``null``, as ``mkString`` printed it. Nothing in the rule can
throw for a valid row, so flow never yields ``word_error``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from spot_assets.ml.words import common

WORD_COLUMNS = ("src_word", "dst_word")
DOCUMENTS = (("sip", "src_word"), ("dip", "dst_word"))
DAY_COUNTS: dict = {}  # no day-level aggregate (see ``proxy.DAY_COUNTS``)

MODEL_COLUMNS = {
    "treceived": pa.string(), "trhour": pa.int64(), "trminute": pa.int64(), "trsec": pa.int64(),
    "sip": pa.string(), "dip": pa.string(), "sport": pa.int64(), "dport": pa.int64(),
    "proto": pa.string(), "ibyt": pa.int64(), "ipkt": pa.int64(),
}

LOW_TO_LOW, HIGH_TO_HIGH = 111111, 333333


def _between(values: pa.Array, low: int, high: int) -> pa.Array:
    return pc.and_kleene(pc.greater_equal(values, low), pc.less_equal(values, high))


def checks(c: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """What a valid row passes, by the reason a row failing it is invalid (null fails)."""
    return {
        "trhour not 0-23": _between(c["trhour"], 0, 23),
        "trminute not 0-59": _between(c["trminute"], 0, 59),
        "trsec not 0-59": _between(c["trsec"], 0, 59),
        **{f"no {name}": pc.is_valid(c[name]) for name in ("treceived", "sip", "dip")},
        **{f"{name} missing or < 0": pc.greater_equal(c[name], 0) for name in ("sport", "dport", "ibyt", "ipkt")},
    }


def fills(c: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """Flow words take every field as it is: no fills."""
    return {}


def valid(c: dict[str, pa.Array]) -> pa.Array:
    return common.all_of(checks(c))


def _number(values: pa.Array) -> np.ndarray:
    return pc.fill_null(values, 0).to_numpy(zero_copy_only=False)


def _word_columns(c: dict[str, pa.Array]) -> dict[str, pa.Array]:
    sport, dport = _number(c["sport"]), _number(c["dport"])
    # ibyt + 1 in 64-bit integers first, as Scala added before converting to double.
    byte_bin = common.log2_ceil(_number(c["ibyt"]) + 1)
    packet_bin = common.log2_ceil(_number(c["ipkt"]) + 1)

    low_s, low_d = sport <= 1024, dport <= 1024
    cases = [
        (sport == 0) & (dport == 0),
        (dport == 0) & (sport > 0),
        (sport == 0) & (dport > 0),
        low_s & low_d,
        low_s & ~low_d,
        ~low_s & low_d,
    ]
    port = np.select(cases, [0, sport, dport, LOW_TO_LOW, sport, dport], HIGH_TO_HIGH)
    src_owns = np.select(cases, [False, True, False, False, True, False], False)
    dst_owns = np.select(cases, [False, False, True, False, False, True], False)

    proto = pc.fill_null(c["proto"], "null")
    base = common.join_words(common.text(port), proto, common.text(c["trhour"]), common.text(byte_bin), common.text(packet_bin))
    marked = pc.binary_join_element_wise("-1", base, "_")
    ok = valid(c)
    return {
        "src_word": common.finish(pc.if_else(pa.array(src_owns), marked, base), ok),
        "dst_word": common.finish(pc.if_else(pa.array(dst_owns), marked, base), ok),
    }


def words(
    data: pa.Table | pd.DataFrame,
    *,
    user_domain: str = "",
    safe_domain: str = "",
    top_sites: frozenset[str] | None = None,
    ua_counts: pa.Table | pd.DataFrame | None = None,
) -> pa.Table | pd.DataFrame:
    """The events with ``src_word`` (for ``sip``'s document) and ``dst_word`` (for ``dip``'s)
    appended; null for invalid rows. The flow rule reads none of the settings the DNS and proxy
    rules take; it accepts them so that every rule is called alike."""
    table = common.to_table(data)
    return common.like(data, common.with_words(table, _word_columns(common.columns(table, MODEL_COLUMNS))))
