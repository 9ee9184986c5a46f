"""Proxy words (``ProxyWordCreation.scala``, spec §3.4): one word per request, for the document of
``clientip``.

``topDomain(host) _ hour(p_time) _ reqmethod _ B(entropy(fulluri)) _ content type before the first
'/' _ L(uaCount) _ L(len(fulluri)) _ respcode``, ``L = floor(log2)``, ``B`` the entropy-cut index.

Choices where the documentation and the code disagree (§9), all following the code: eight fields
(the URI length included); the user-agent bin is ``floor(log2 count)``; the own-domain class (2)
is the configurable ``safe_domain`` (``SpotConfig().proxy.safe_domain``) where Spot hard-coded
``intel``, and an empty ``safe_domain`` means no class 2 (Spot's DNS rule for its user domain;
an empty string would otherwise match hosts such as ``.com``).

``uaCount`` is how many valid rows of the data set being worded have the same user agent, so it is
a day-level aggregate: ``words(day)`` counts over the table it is given, and
``words(batch, ua_counts=...)`` takes counts made over the whole set (``count_user_agents(day)``,
or a Spark ``groupBy``). Spot counted over the training set (day + feedback copies) when training and
over the day when scoring; pass the counts that match the set being worded. A user agent missing
from the counts makes the word ``word_error`` (Spot's map lookup threw).

Valid rows (``filterRecords``, but for a blank Host): p_date, p_time and clientip not null, and
fulluri not null where host is not null. Then a null useragent or resconttype becomes ``-``.

A blank Host is worded, where Spot's filter dropped the row: host ``""`` (domain class 0: neither a
top site nor the own domain) and fulluri as Spot's rule builds it without a host (path and query;
``""``, length 0, entropy 0, when both are trivial). A request without a Host header, or a response
Zeek saw without its request (method, host and URI unset), is itself unusual, and the word keeps
it in its client's document instead of out of sight; every other field is measured as usual. Such
rows are counted as ``blank host`` in the words asset.

Other rules as the code has them: a content type of only slashes is ``unknown_content_type``
(Java's split leaves nothing); a null respcode is ``unknown_response_code``; a null reqmethod is
printed ``null``; an hour (``p_time`` up to its first ``:``) that is not an integer makes the word
``word_error``.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from spot_assets.ml.words import common
from spot_assets.ml.words.domains import domain_class, load_top_sites, split_domains

WORD_COLUMNS = ("word",)
DOCUMENTS = (("clientip", "word"),)
REQUIRED = ("p_date", "p_time", "clientip")
BLANK_HOST = "blank host"  # the fill's name in the words asset's accounts
NO_VALUE = "-"  # Spot's fill for a null useragent or resconttype

MODEL_COLUMNS = {
    "p_date": pa.string(), "p_time": pa.string(), "clientip": pa.string(), "host": pa.string(),
    "reqmethod": pa.string(), "useragent": pa.string(), "resconttype": pa.string(),
    "respcode": pa.string(), "fulluri": pa.string(),
}
COUNTS = pa.schema([("useragent", pa.string()), ("ua_count", pa.int64())])


def checks(c: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """What a valid row passes, by the reason a row failing it is invalid (null fails)."""
    return {
        **{f"no {name}": pc.is_valid(c[name]) for name in REQUIRED},
        "host without fulluri": pc.or_(pc.is_null(c["host"]), pc.is_valid(c["fulluri"])),
    }


def fills(c: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """Valid rows worded with a fill for an absent field (module docstring)."""
    return {BLANK_HOST: pc.is_null(c["host"])}


def valid(c: dict[str, pa.Array]) -> pa.Array:
    return common.all_of(checks(c))


def valid_agents(table: pa.Table) -> pa.Array:
    """The user agent of every valid row, a null one as ``-``: what ``uaCount`` counts."""
    c = common.columns(table, MODEL_COLUMNS)
    return pc.filter(pc.fill_null(c["useragent"], NO_VALUE), valid(c))


def count_user_agents(data: pa.Table | pd.DataFrame) -> pa.Table:
    """(useragent, ua_count) over the valid rows, a null user agent counted as ``-``."""
    agents = valid_agents(common.to_table(data))
    counts = pa.table({"useragent": agents}).group_by("useragent").aggregate([("useragent", "count")])
    return pa.table([counts["useragent"], counts["useragent_count"]], schema=COUNTS)


# The keyword of ``words`` that takes counts over the whole day: (the values counted, one per valid row;
# the counts' schema, value then count). An engine that words a day in pieces counts these first.
DAY_COUNTS = {"ua_counts": (valid_agents, COUNTS)}


def _content_type(values: pa.Array) -> pa.Array:
    values = pc.fill_null(values, NO_VALUE)
    only_slashes = pc.match_substring_regex(values, r"^/+$")
    head = pc.struct_field(pc.extract_regex(values, r"^(?P<head>[^/]*)"), "head")
    return pc.if_else(only_slashes, "unknown_content_type", head)


def _word_columns(
    c: dict[str, pa.Array], ua_count: pa.Array, safe_domain: str, top_sites: frozenset[str]
) -> dict[str, pa.Array]:
    """Words given each row's user-agent count (null where the agent is not in the counts)."""
    uri = pc.fill_null(c["fulluri"], "")
    uri_length, uri_entropy = common.length_and_entropy(uri)
    hour = common.leading_int(c["p_time"], r"^(?P<value>[^:]*)")
    word = common.join_words(
        common.text(domain_class(split_domains(pc.fill_null(c["host"], ""))["domain"], safe_domain, top_sites)),
        common.text(hour),
        pc.fill_null(c["reqmethod"], "null"),
        common.text(common.entropy_bin(uri_entropy)),
        _content_type(c["resconttype"]),
        common.text(common.log2_floor(pc.fill_null(ua_count, 0).to_numpy(zero_copy_only=False))),
        common.text(common.log2_floor(uri_length)),
        pc.fill_null(c["respcode"], "unknown_response_code"),
    )
    return {"word": common.finish(word, valid(c), pc.or_kleene(pc.is_null(hour), pc.is_null(ua_count)))}


def words(
    data: pa.Table | pd.DataFrame,
    *,
    user_domain: str = "",
    safe_domain: str = "",
    top_sites: frozenset[str] | None = None,
    ua_counts: pa.Table | pd.DataFrame | None = None,
) -> pa.Table | pd.DataFrame:
    """The events with ``word`` (for ``clientip``'s document) appended; null for invalid rows.

    ``ua_counts`` is (useragent, ua_count) over the whole data set; None counts over ``data``.
    ``user_domain`` is the DNS rule's, accepted so that every rule is called alike.
    """
    table = common.to_table(data)
    counts = count_user_agents(table) if ua_counts is None else common.to_table(ua_counts)
    c = common.columns(table, MODEL_COLUMNS)
    agents = pc.fill_null(c["useragent"], NO_VALUE)
    at = pc.index_in(agents, value_set=pc.cast(counts["useragent"], pa.string()).combine_chunks())
    ua_count = pc.take(pc.cast(counts["ua_count"], pa.int64()).combine_chunks(), at)
    sites = load_top_sites() if top_sites is None else frozenset(top_sites)
    return common.like(data, common.with_words(table, _word_columns(c, ua_count, safe_domain, sites)))
