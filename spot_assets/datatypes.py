"""What each data type is, in one place: the spec every stage asks instead of branching on a type's name.

A data type names its decoded event table and its tables per stage, the columns Spot's scoring carries
and analysts rate on, and where its rules live: the word rule (``spot_assets/ml/words/<name>.py``) and
the behaviour detectors (``spot_assets/detect/<name>.py``) are found by the type's name, as are what the
OA adds to it (``spot_assets/oa/<name>.py``: enriched columns, details, storyboard) and how the dashboard
shows it (``spot_dash/views/<name>.py``), so adding a type is a spec entry and those modules, never a
branch elsewhere. What several stages share about a type is a field here: where the enrichment puts an
address's place, internal flag and reputation, the column the filter box searches, the keys quick
scoring and threat anchors use, the storyboard's artifacts.

It also names the event columns that identify the *entity* a finding
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

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

import pandas as pd
import pyarrow as pa

from spot_assets import schemas
from spot_assets.oa.domains import registrable


# The event columns that travel with an event through words, scores and the suspicious list: Spot's ML
# output columns (spec §3.7) plus the event time and provenance, so any score can be traced back.
_TRACE = ("ts", "source_file", "record", "uid")


@dataclass(frozen=True)
class DataType:
    name: str
    title: str  # how the dashboard names the type
    events: pa.Schema
    ml_columns: tuple[str, ...]
    # the key columns a rating can select on: the columns of Spot's score mutations (spec §4.6)
    rating_keys: tuple[str, ...]
    # the columns that tell one event from another when labels are joined back (``spot evaluate``)
    event_keys: tuple[str, ...]
    # event columns the enriched table spells with Spot's *_scores names (spec §2.3)
    enriched_names: dict[str, str]
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
    # what the enrichment adds about each address column: the prefix of its ``_geoloc`` and ``_domain``
    # columns, and its internal flag (Spot's flow table spells it ``srcip_internal``)
    places: dict[str, str] = field(default_factory=dict)
    internal: dict[str, str] = field(default_factory=dict)
    # the event column each reputation column of the enrichment is about (Spot's ``*_rep``)
    reputation: dict[str, str] = field(default_factory=dict)
    # what the kind of each rating key is, beyond the entity columns ("ip", "port", text otherwise)
    key_kinds: dict[str, str] = field(default_factory=dict)
    # the event column a text filter (anything but an IP) matches as a substring; None: IPs only
    text_filter: str | None = None
    # the rating keys a quick-scoring value stands for, one rating each (a flow IP as source and as
    # destination)
    quick_keys: tuple[str, ...] = ()
    # the rating keys that name a threat's anchor, and what that anchor is ("ip", "client", "query", "uri")
    anchors: dict[str, str] = field(default_factory=dict)
    # the storyboard's artifacts of a saved threat (``spot_assets/oa/schemas/<type>_<name>.json``), in order
    artifacts: tuple[str, ...] = ("dendro", "timeline")
    # whether its storyboard places addresses (network context, a map): the asset loads the context
    places_addresses: bool = False

    @property
    def decoded(self) -> pa.Schema:
        """What a decoder returns: the events before the ingest stamps the file id on them."""
        return pa.schema([f for f in self.events if f.name != "source_file"])

    def table(self, stage: str) -> str:
        """The lake and asset name of this type's ``stage`` table (``flow_findings``...)."""
        return f"{self.name}_{stage}"

    @property
    def word_rule(self) -> ModuleType:
        """Spot's word rule of the type (its ``DOCUMENTS``, ``WORD_COLUMNS``, ``MODEL_COLUMNS``...)."""
        return importlib.import_module(f"spot_assets.ml.words.{self.name}")

    @property
    def detectors(self) -> tuple:
        """The behaviour detectors of the type, in the order their findings are listed."""
        return importlib.import_module(f"spot_assets.detect.{self.name}").DETECTORS

    @property
    def time_columns(self) -> Callable[[pa.Array], dict[str, pa.Array]]:
        """Spot's time columns of the type from ``ts``: ``<name>_columns`` of ``spot_assets/ingest/timecols.py``."""
        return getattr(importlib.import_module("spot_assets.ingest.timecols"), f"{self.name}_columns")

    @property
    def entity_columns(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.entity)

    @property
    def entity_sources(self) -> tuple[str, ...]:
        """The event columns entities are built from (a derived column's source in its place)."""
        return tuple(dict.fromkeys([*(DERIVED_FROM.get(c, c) for c in self.entity_columns), *self.reply.values()]))

    @property
    def oa(self) -> ModuleType:
        """What the OA adds to the type (``spot_assets/oa/<name>.py``): enriched columns, details, storyboard."""
        return importlib.import_module(f"spot_assets.oa.{self.name}")

    def of_kind(self, kind: str) -> tuple[str, ...]:
        return tuple(c for c in self.entity_columns if self.kinds.get(c) == kind)

    def kind_of(self, column: str) -> str:
        """What an entity column or a rating key holds: "ip", "port", "domain" or "text"."""
        return self.kinds.get(column) or self.key_kinds.get(column, "text")

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

FLOW = DataType(
    "flow", "Flows", schemas.FLOW_EVENTS,
    ml_columns=("treceived", "tryear", "trmonth", "trday", "trhour", "trminute", "trsec", "tdur", "sip", "dip", "sport",
                "dport", "proto", "ipkt", "ibyt", "opkt", "obyt", *_TRACE),
    rating_keys=("sip", "dip", "sport", "dport"),
    event_keys=("ts", "sip", "dip", "sport", "dport", "proto"),
    enriched_names={"treceived": "tstart", "sip": "srcip", "dip": "dstip", "score": "ml_score"},
    entity=(("sip", pa.string()), ("dip", pa.string()), ("dport", pa.int32())), entity_label="{sip} → {dip}:{dport}",
    kinds={"sip": "ip", "dip": "ip", "dport": "port"}, reply={"sip": "dip", "dip": "sip", "dport": "sport"},
    places={"sip": "src", "dip": "dst"}, internal={"sip": "srcip_internal", "dip": "dstip_internal"},
    reputation={"src_rep": "sip", "dst_rep": "dip"}, key_kinds={"sport": "port"}, quick_keys=("sip", "dip"),
    anchors={"sip": "ip", "dip": "ip"}, artifacts=("dendro", "impact", "globe", "timeline"), places_addresses=True)
DNS = DataType(
    "dns", "DNS", schemas.DNS_EVENTS,
    ml_columns=("frame_time", "unix_tstamp", "frame_len", "ip_dst", "dns_qry_name", "dns_qry_class", "dns_qry_type",
                "dns_qry_rcode", *_TRACE),
    rating_keys=("ip_dst", "dns_qry_name"),
    event_keys=("ts", "ip_dst", "dns_qry_name"),
    enriched_names={"score": "ml_score"},
    entity=(("ip_dst", pa.string()), ("domain", pa.string())), entity_label="{ip_dst} → {domain}",
    kinds={"ip_dst": "ip", "domain": "domain"}, derived={"domain": registered_domain},
    places={"ip_dst": "client"}, internal={"ip_dst": "client_internal"}, reputation={"query_rep": "dns_qry_name"},
    text_filter="dns_qry_name", quick_keys=("dns_qry_name",), anchors={"ip_dst": "client", "dns_qry_name": "query"})
PROXY = DataType(
    "proxy", "Proxy", schemas.PROXY_EVENTS,
    ml_columns=("p_date", "p_time", "clientip", "host", "reqmethod", "useragent", "resconttype", "duration", "username",
                "webcat", "referer", "respcode", "uriport", "uripath", "uriquery", "serverip", "scbytes", "csbytes",
                "fulluri", *_TRACE),
    rating_keys=("clientip", "fulluri"),
    event_keys=("ts", "clientip", "host", "uripath", "uriquery"),
    enriched_names={"p_date": "tdate", "p_time": "time", "score": "ml_score"},
    entity=(("clientip", pa.string()), ("host", pa.string())), entity_label="{clientip} → {host}",
    kinds={"clientip": "ip", "host": "domain"}, derived={"host": request_host},
    places={"clientip": "client"}, internal={"clientip": "client_internal"}, reputation={"uri_rep": "fulluri"},
    text_filter="fulluri", quick_keys=("fulluri",), anchors={"fulluri": "uri"})

DATA_TYPES = {t.name: t for t in (FLOW, DNS, PROXY)}
