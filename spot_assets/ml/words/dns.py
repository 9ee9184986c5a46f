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
``frame_len`` >= 0, ``dns_qry_name`` not null/""/"-"/"(empty)", ``ip_dst`` not null/""/"-", and
a class not null/""/"-" or a non-null type or an rcode >= 0 (the code's test; the spec's prose
says "present"). Then nulls are filled as Spot did: class ``unknown``, type and rcode -1.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from spot_assets.ml.words import common
from spot_assets.ml.words.domains import NONE, domain_class, load_top_sites, split_domains

WORD_COLUMNS = ("word",)
DOCUMENTS = (("ip_dst", "word"),)

MODEL_COLUMNS = {
    "frame_time": pa.string(), "unix_tstamp": pa.int64(), "frame_len": pa.int64(), "ip_dst": pa.string(),
    "dns_qry_name": pa.string(), "dns_qry_class": pa.string(), "dns_qry_type": pa.int64(), "dns_qry_rcode": pa.int64(),
}
# Up to the first ':' of the 4th token of Java's split(" +").
_HOUR = r"^(?:[^ ]* +){3}(?P<value>[^ :]*)"


def _present(values: pa.Array, *absent: str) -> pa.Array:
    valid = pc.is_valid(values)
    for marker in absent:
        valid = pc.and_kleene(valid, pc.not_equal(values, marker))
    return valid


def dns_valid(c: dict[str, pa.Array]) -> pa.Array:
    checks = [
        _present(c["frame_time"], "", "-"),
        pc.greater_equal(c["unix_tstamp"], 0),
        pc.greater_equal(c["frame_len"], 0),
        _present(c["dns_qry_name"], "", "-", "(empty)"),
        _present(c["ip_dst"], "", "-"),
        pc.or_kleene(pc.or_kleene(_present(c["dns_qry_class"], "", "-"), pc.is_valid(c["dns_qry_type"])),
               pc.greater_equal(c["dns_qry_rcode"], 0)),
    ]
    return common.all_of(checks)


def dns_word_columns(c: dict[str, pa.Array], user_domain: str, top_sites: frozenset[str]) -> dict[str, pa.Array]:
    names = split_domains(c["dns_qry_name"])
    subdomain = pc.if_else(pc.equal(names["subdomain"], NONE), "", names["subdomain"])
    sub_length, sub_entropy = common.length_and_entropy(subdomain)
    hour = common.leading_int(c["frame_time"], _HOUR)
    word = common.join_words(
        common.text(domain_class(names["domain"], user_domain, top_sites)),
        common.text(common.log2_floor(pc.fill_null(c["frame_len"], 0).to_numpy(zero_copy_only=False))),
        common.text(hour),
        common.text(common.log2_floor(sub_length)),
        common.text(common.entropy_bin(sub_entropy)),
        common.text(common.log2_floor(names["num_parts"])),
        common.text(pc.fill_null(c["dns_qry_type"], -1)),
        common.text(pc.fill_null(c["dns_qry_rcode"], -1)),
    )
    return {"word": common.finish(word, dns_valid(c), pc.is_null(hour))}


def dns_words(
    data: pa.Table | pd.DataFrame, *, user_domain: str = "", top_sites: frozenset[str] | None = None
) -> pa.Table | pd.DataFrame:
    """The events with ``word`` (for ``ip_dst``'s document) appended; null for invalid rows.

    ``user_domain`` is ``SpotConfig().dns.user_domain``; ``top_sites`` defaults to the shipped list.
    """
    table = common.to_table(data)
    sites = load_top_sites() if top_sites is None else frozenset(top_sites)
    words = dns_word_columns(common.columns(table, MODEL_COLUMNS), user_domain, sites)
    return common.like(data, common.with_words(table, words))
