"""DNS words (``DNSWordCreation.scala``, spec §3.3): one word per query, for the document of the
client ``ip_dst``.

``topDomain _ L(frame_len) _ hour _ L(len(subdomain)) _ B(entropy(subdomain)) _ L(labels) _
qtype _ rcode`` with ``L = floor(log2)`` (0 for 0) and ``B`` the entropy-cut index; domain
parsing and the top-sites set are in ``domains``.

Choices where the documentation and the code disagree (§9), all following the code:
``L`` is ``floor(log2 x)`` (213 -> 7), not the website's (0, 1, 2, 4, ...) cut index; the fifth
field counts the labels of the whole name (``abcdefg.apache.com`` -> 3), not the periods of the
subdomain; the user domain is checked before the top-sites list (a user domain that is also a top
site is class 2). The hour is the 4th space-separated token of ``frame_time`` up to its first
``:``, read as an integer (``Jul 08 2016 06:58:45.765 UTC`` -> 6); a ``frame_time`` without that
token or with a non-integer hour makes the row's word ``word_error``, the only way this rule
fails.

Valid rows (``filterRecords``): ``frame_time`` not null/""/"-", ``unix_tstamp`` >= 0,
``frame_len`` >= 0 or null (below), ``dns_qry_name`` not null/""/"-"/"(empty)", ``ip_dst`` not
null/""/"-", and a class not null/""/"-" or a non-null type or an rcode >= 0 (the code's test; the
spec's prose says "present"). Then nulls are filled as Spot did: class ``unknown``, type and rcode -1.

A null ``frame_len`` (Zeek's dns.log, which logs no packet sizes) is worded with ``-1`` in the
frame-length field, where Spot required a length and so could never word a Zeek lookup. ``-1``
says "not measured", as Spot's own ``-1`` for a missing type or rcode does, and no measured length
bins to it (``L`` is >= 0). An estimate was rejected: from the question and answers Zeek logs, a
response's size is only a guess bounded below (no authority or additional records, no EDNS
option, name compression unknown), and it would fall short exactly where size is the signal (EDNS-padded,
DNSSEC-signed, many-record answers), while looking like a measurement beside pcap words. The
other seven fields, which carry the tunnel signals (subdomain length and entropy, labels, type),
are measured as usual. Such rows are counted as ``frame_len unknown`` in the words asset.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from spot_assets.ml.words import common
from spot_assets.ml.words.domains import NONE, domain_class, load_top_sites, split_domains

WORD_COLUMNS = ("word",)
DOCUMENTS = (("ip_dst", "word"),)
DAY_COUNTS: dict = {}  # no day-level aggregate (see ``proxy.DAY_COUNTS``)

MODEL_COLUMNS = {
    "frame_time": pa.string(), "unix_tstamp": pa.int64(), "frame_len": pa.int64(), "ip_dst": pa.string(),
    "dns_qry_name": pa.string(), "dns_qry_class": pa.string(), "dns_qry_type": pa.int64(), "dns_qry_rcode": pa.int64(),
}
UNKNOWN_FRAME_LEN = "frame_len unknown"  # the fill's name in the words asset's accounts
UNMEASURED = "-1"  # the frame-length field of a row whose frame was never measured (Spot's fill for type, rcode)
# Up to the first ':' of the 4th token of Java's split(" +").
_HOUR = r"^(?:[^ ]* +){3}(?P<value>[^ :]*)"


def _present(values: pa.Array, *absent: str) -> pa.Array:
    valid = pc.is_valid(values)
    for marker in absent:
        valid = pc.and_kleene(valid, pc.not_equal(values, marker))
    return valid


def checks(c: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """What a valid row passes, by the reason a row failing it is invalid (null fails)."""
    return {
        "no frame_time": _present(c["frame_time"], "", "-"),
        "unix_tstamp missing or < 0": pc.greater_equal(c["unix_tstamp"], 0),
        "frame_len < 0": pc.or_kleene(pc.is_null(c["frame_len"]), pc.greater_equal(c["frame_len"], 0)),
        "no dns_qry_name": _present(c["dns_qry_name"], "", "-", "(empty)"),
        "no ip_dst": _present(c["ip_dst"], "", "-"),
        "no class, type or rcode": pc.or_kleene(
            pc.or_kleene(_present(c["dns_qry_class"], "", "-"), pc.is_valid(c["dns_qry_type"])),
            pc.greater_equal(c["dns_qry_rcode"], 0)),
    }


def fills(c: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """Valid rows worded with a token for an unmeasured field (module docstring)."""
    return {UNKNOWN_FRAME_LEN: pc.is_null(c["frame_len"])}


def valid(c: dict[str, pa.Array]) -> pa.Array:
    return common.all_of(checks(c))


def frame_len_bin(frame_len: pa.Array) -> pa.Array:
    """``L(frame_len)``, and ``-1`` for a frame length never measured (module docstring)."""
    measured = common.text(common.log2_floor(pc.fill_null(frame_len, 0).to_numpy(zero_copy_only=False)))
    return pc.if_else(pc.is_null(frame_len), UNMEASURED, measured)


def _word_columns(c: dict[str, pa.Array], user_domain: str, top_sites: frozenset[str]) -> dict[str, pa.Array]:
    names = split_domains(c["dns_qry_name"])
    subdomain = pc.if_else(pc.equal(names["subdomain"], NONE), "", names["subdomain"])
    sub_length, sub_entropy = common.length_and_entropy(subdomain)
    hour = common.leading_int(c["frame_time"], _HOUR)
    word = common.join_words(
        common.text(domain_class(names["domain"], user_domain, top_sites)),
        frame_len_bin(c["frame_len"]),
        common.text(hour),
        common.text(common.log2_floor(sub_length)),
        common.text(common.entropy_bin(sub_entropy)),
        common.text(common.log2_floor(names["num_parts"])),
        common.text(pc.fill_null(c["dns_qry_type"], -1)),
        common.text(pc.fill_null(c["dns_qry_rcode"], -1)),
    )
    return {"word": common.finish(word, valid(c), pc.is_null(hour))}


def words(
    data: pa.Table | pd.DataFrame,
    *,
    user_domain: str = "",
    safe_domain: str = "",
    top_sites: frozenset[str] | None = None,
    ua_counts: pa.Table | pd.DataFrame | None = None,
) -> pa.Table | pd.DataFrame:
    """The events with ``word`` (for ``ip_dst``'s document) appended; null for invalid rows.

    ``user_domain`` is ``SpotConfig().dns.user_domain``; ``top_sites`` defaults to the shipped list.
    ``safe_domain`` and ``ua_counts`` are the proxy rule's, accepted so that every rule is called alike.
    """
    table = common.to_table(data)
    sites = load_top_sites() if top_sites is None else frozenset(top_sites)
    words = _word_columns(common.columns(table, MODEL_COLUMNS), user_domain, sites)
    return common.like(data, common.with_words(table, words))
