"""Registrable domain, domain label, subdomain and public suffix of DNS query names and proxy hosts.

The Public Suffix List comes from ``publicsuffixlist``, which bundles a dated copy of the list and never
fetches one, so a run is offline and repeatable; upgrading the package updates the list. Both of the
list's sections are used (ICANN and private), so ``foo.blogspot.com`` is registered by its own owner,
and a last label the list does not know is a suffix of its own (the list's ``*`` rule: ``host.lan`` is
registrable under ``lan``).

``a.b.example.co.uk`` gives registrable domain ``example.co.uk``, domain ``example``, subdomain ``a.b``
and public suffix ``co.uk``. A name that is itself a public suffix (``co.uk``) has only the suffix; a
registrable name has no subdomain (null). Names are lower-cased and a trailing dot dropped; a proxy
host's ``:port`` is dropped; an IP address has no domain parts (all null).

Spot's ``dns_scores.tld`` held what python ``tld`` 0.7.6 returned, which was the registered domain
(spec §4.3): the enriched DNS table keeps ``tld`` with that meaning, beside the explicit columns.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pyarrow as pa
from publicsuffixlist import PublicSuffixList

from spot_assets.oa.context import parse_address
from spot_assets.oa.distinct import per_distinct

PARTS = ("registrable_domain", "domain", "subdomain", "public_suffix")
_PORT = re.compile(r":\d*$")


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


_MAYBE_ADDRESS = re.compile(r"^[\d.]+$|:")  # only these need the (slow, raising) address parser


def _name(value: str) -> str | None:
    name = _PORT.sub("", value.strip().lower()).rstrip(".")
    if not name or name.startswith("["):
        return None
    return None if _MAYBE_ADDRESS.search(name) and parse_address(name) is not None else name


def registrable(value: str) -> str | None:
    """The registrable domain of one name alone: what detection groups a day's names by."""
    name = _name(value)
    return None if name is None or ".." in name else _psl().privatesuffix(name)


def split_name(value: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(registrable domain, domain label, subdomain, public suffix) of one name."""
    name = _name(value)
    if name is None or ".." in name:
        return None, None, None, None
    suffix, domain = _psl().publicsuffix(name), registrable(name)
    if domain is None:
        return None, None, None, suffix
    subdomain = name[: -len(domain) - 1] or None
    return domain, domain[: -len(suffix) - 1], subdomain, suffix


def domain_parts(names: pa.Array | pa.ChunkedArray) -> dict[str, pa.Array]:
    """The ``PARTS`` columns of each name."""
    def compute(distinct: list[str]) -> dict[str, pa.Array]:
        split = list(zip(*map(split_name, distinct))) or [()] * len(PARTS)
        return {part: pa.array(values, pa.string()) for part, values in zip(PARTS, split)}

    return per_distinct(names, compute)


def listed_suffix(suffix: str) -> bool:
    """Whether a public suffix is on the list itself, not the ``*`` rule's stand-in for an unknown label (``lan``)."""
    return _psl().publicsuffix(suffix, accept_unknown=False) is not None
