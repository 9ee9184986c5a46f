"""What each data type is, in one place: the spec the detectors (and, over time, every other stage) ask.

A data type names its decoded event table, the event columns that identify the *entity* a finding
or a priority row is about, and how that entity reads to an analyst. The detectors and the priority
list are written once against this spec, never once per type.

Entity columns are matched exactly against events; a null entity column means "any value", so one
finding can cover one pair (``sip``, ``dip``, ``dport``), one source on one port (a horizontal scan:
``sip``, ``dport``) or one source towards one host on any port (a vertical scan: ``sip``, ``dip``).
DNS entities use the client (``ip_dst``, the address the response went to) and the registered
domain of the queried name (``domain``, derived from ``dns_qry_name`` with the Public Suffix List),
because tunnels and DGAs are properties of a domain, not of one name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from spot_assets import schemas
from spot_assets.oa.domains import registrable


@dataclass(frozen=True)
class DataType:
    name: str
    events: pa.Schema
    # (column, type) pairs that identify an entity; each may be null (= any) in a finding
    entity: tuple[tuple[str, pa.DataType], ...]
    # how an entity reads: a format string over the entity columns, a null shown as "*"
    entity_label: str
    # what each entity column holds: "ip", "domain" (a name: filtered by text, checked against domain
    # lists) or "port"
    kinds: dict[str, str] = field(default_factory=dict)
    # entity columns that are not event columns, derived from an events frame
    derived: dict[str, Callable[[pd.DataFrame], pd.Series]] = field(default_factory=dict)
    # where a reply event holds each entity column: a flow's answer travels dip → sip from port dport,
    # and a row about a conversation covers both directions of it
    reply: dict[str, str] = field(default_factory=dict)

    def table(self, stage: str) -> str:
        """The lake and asset name of this type's ``stage`` table (``flow_findings``...)."""
        return f"{self.name}_{stage}"

    @property
    def entity_columns(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.entity)

    @property
    def entity_sources(self) -> tuple[str, ...]:
        """The event columns entities are built from (a derived column's source in its place)."""
        return tuple(dict.fromkeys([*(DERIVED_FROM.get(c, c) for c in self.entity_columns), *self.reply.values()]))

    def of_kind(self, kind: str) -> tuple[str, ...]:
        return tuple(c for c in self.entity_columns if self.kinds.get(c) == kind)

    def with_entity(self, events: pd.DataFrame) -> pd.DataFrame:
        """``events`` with every entity column present: what findings and priority rows are matched on."""
        return events.assign(**{name: rule(events) for name, rule in self.derived.items()})

    def label(self, values: dict) -> str:
        return self.entity_label.format(**{k: "*" if values.get(k) is None else values[k]
                                           for k in self.entity_columns})


def registered_domain(events: pd.DataFrame) -> pd.Series:
    """The registered domain of each query name (the name itself, normalised, when it has none: an IP, a
    bare label), decided once per distinct name."""
    names = events["dns_qry_name"]
    distinct = names.dropna().unique()
    return names.map({n: registrable(n) or n.strip().lower().rstrip(".") for n in distinct})


def request_host(events: pd.DataFrame) -> pd.Series:
    """The Host a request named, "" when it named none (a blank Host is itself an indicator)."""
    host = events["host"].fillna("")
    return host.where(host != "-", "")


# the event column each derived entity column is computed from
DERIVED_FROM = {"domain": "dns_qry_name", "host": "host"}

FLOW = DataType("flow", schemas.FLOW_EVENTS,
                (("sip", pa.string()), ("dip", pa.string()), ("dport", pa.int32())), "{sip} → {dip}:{dport}",
                {"sip": "ip", "dip": "ip", "dport": "port"}, reply={"sip": "dip", "dip": "sip", "dport": "sport"})
DNS = DataType("dns", schemas.DNS_EVENTS, (("ip_dst", pa.string()), ("domain", pa.string())), "{ip_dst} → {domain}",
               {"ip_dst": "ip", "domain": "domain"}, {"domain": registered_domain})
PROXY = DataType("proxy", schemas.PROXY_EVENTS, (("clientip", pa.string()), ("host", pa.string())),
                 "{clientip} → {host}", {"clientip": "ip", "host": "domain"}, {"host": request_host})

DATA_TYPES = {t.name: t for t in (FLOW, DNS, PROXY)}
