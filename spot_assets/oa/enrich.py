"""A day's suspicious events with what an analyst needs beside them: Spot's ``*_scores`` tables (spec §2.3,
§4.2-4.4) and more, as the daily lake tables ``<type>_enriched``.

Every table starts with Spot's columns in Spot's order, then adds, after them (the schema and columns of
each type are its OA module's ``ENRICHED`` and ``enriched_columns``, ``spot_assets/oa/<type>.py``; event
columns Spot spelled otherwise, such as ``srcip`` for ``sip``, are the type's ``DataType.enriched_names``):

* ``severity``: the analysts' current severity of the event (1 high, 2 medium, 3 low; null = unrated), from
  the store's ratings (``severity.py``); ``rank``: 0-based position by ascending score (Spot's flow rank;
  ties by event time, then provenance), for every type.
* ``*_rep_level``: the highest reputation level of Spot's ``*_rep`` string (-1..3, null = no verdict),
  for the UI's shield (``reputation.py``).
* per address (prefix ``src_``/``dst_`` for flows, ``client_`` for the DNS client ``ip_dst`` and the proxy
  ``clientip``): ``_range`` (label of its ip_ranges block), ``_context`` (network-context name; Spot's
  ``network_context`` column for DNS and proxy), ``_country``, ``_city``, ``_lat``, ``_lon`` (for the globe),
  and for DNS and proxy also ``_internal``, ``_geoloc`` and ``_domain`` as flows have them (``context.py``).
* the event's word column(s) and its provenance: ``ts``, ``source_file``, ``record``, ``uid``.

flow: ``tstart`` (= treceived), srcip, dstip, sport, dport, proto, ipkt, ibyt, opkt, obyt, ml_score, rank,
srcip_internal, dstip_internal, src_geoloc, dst_geoloc, src_domain, dst_domain, src_rep, dst_rep; then
``protocol_name`` (IANA) and ``service`` (well-known name of dport, else sport; ``services.py``).

dns: frame_time, unix_tstamp, frame_len, ip_dst, dns_qry_name, dns_qry_class, dns_qry_type, dns_qry_rcode,
ml_score, tld, query_rep, hh, dns_qry_class_name, dns_qry_type_name, dns_qry_rcode_name, network_context;
then ``registrable_domain``, ``domain``, ``subdomain``, ``public_suffix`` of the query name
(``domains.py``; ``tld`` keeps Spot's meaning, the registered domain). ``hh`` is the UTC hour of ``ts``.

proxy: tdate (= p_date), time (= p_time), clientip, host, reqmethod, useragent, resconttype, duration,
username, webcat, referer, respcode, uriport, uripath, uriquery, serverip, scbytes, csbytes, fulluri, word,
ml_score, uri_rep, respcode_name, network_context; then ``uri_hash`` = md5 hex of fulluri and the host's
domain parts (``host_registrable_domain``, ...). Spot's CSV era keyed edges by md5(clientip + fulluri) +
hour; 1.0 keyed a proxy threat by md5(fulluri) (``incident-progression-<md5>.json``), as the analyst store
keys proxy threats by URI, so the hash is of the URI alone: one id per URI, stable across days.

Where Spot wrote ``""`` or 0 for "no context file" (geoloc, reputation, internal flags, network context),
these tables hold null: unknown is not "external" nor "no reputation". Counts keep the events' 64-bit
types where Spot's DDL said INT. Reputation is asked about flow IPs (source and destination together),
DNS query names (as domains) and proxy full URIs (as URLs), as Spot did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from resources.config import ContextConfig
from resources.store import Rating
from spot_assets import schemas
from spot_assets.datatypes import DATA_TYPES, FLOW
from spot_assets.oa.context import AddressContext, MmdbGeo, load_blocks, load_iploc
from spot_assets.oa.files import Log, configured
from spot_assets.oa.reputation import HttpProvider, ReputationProvider, ThreatIntelList
from spot_assets.oa.severity import severity_of

S, I32, I64, F64 = pa.string(), pa.int32(), pa.int64(), pa.float64()
SCORED = [("severity", I32), ("rank", I32)]
TRACE = [f for f in FLOW.events if f.name in ("ts", "source_file", "record", "uid")]


def geo_fields(prefix: str) -> list[tuple[str, pa.DataType]]:
    return [(f"{prefix}_country", S), (f"{prefix}_city", S), (f"{prefix}_lat", F64), (f"{prefix}_lon", F64)]


# Spot's flow table already has internal, geoloc and domain of both ends; DNS and proxy had none of them.
CLIENT_PLACE = [("client_internal", I32), ("client_geoloc", S), ("client_domain", S), ("client_range", S),
                *geo_fields("client")]


def enriched_schema(data_type: str) -> pa.Schema:
    """What ``<type>_enriched`` holds (``ENRICHED`` of the type's OA module)."""
    return DATA_TYPES[data_type].oa.ENRICHED


def suspicious_schema(data_type: str) -> pa.Schema:
    """What ``<type>_suspicious`` holds: the ML columns, the word(s) and the score."""
    spec = DATA_TYPES[data_type]
    return pa.schema([*(spec.events.field(c) for c in spec.ml_columns),
                      *((w, S) for w in spec.word_rule.WORD_COLUMNS), ("score", F64)])


# ----- context


@dataclass
class Context:
    addresses: AddressContext = field(default_factory=AddressContext)
    providers: list[ReputationProvider] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # setting -> file in use, for run metadata

    def close(self) -> None:
        self.addresses.close()


def load_context(cfg: ContextConfig, cache_dir: Path, log: Log) -> Context:
    """Every configured context source that can be read; each one that cannot is a warning, never an error."""
    ctx = Context()

    def load(key: str, what: str, loader):
        path = configured(getattr(cfg, key), what, log)
        if path is None:
            return None
        try:
            loaded = loader(path, log)
        except Exception as e:  # a broken context file empties its columns, it does not stop the run
            log.warning(f"{what} file {path} could not be read ({type(e).__name__}: {e}); its columns stay empty")
            return None
        ctx.sources[key] = str(path)
        return loaded

    ctx.addresses.ranges = load("ip_ranges", "ip ranges", load_blocks)
    ctx.addresses.names = load("network_context", "network context", load_blocks)
    ctx.addresses.iploc = load("iploc", "iploc", load_iploc)
    ctx.addresses.mmdb = load("mmdb", "MaxMind DB", lambda path, _: MmdbGeo(path))
    lists = [p for p in (configured(f, "threat intelligence", log) for f in cfg.threat_intel) if p is not None]
    if lists:
        ctx.providers.append(ThreatIntelList(lists, log))
        ctx.sources["threat_intel"] = ", ".join(map(str, lists))
    for service in cfg.http_reputation:
        if service.enabled:
            ctx.providers.append(HttpProvider(service.name, service.url, log, kinds=tuple(service.kinds),
                                              timeout=service.timeout, cache_ttl=service.cache_ttl,
                                              headers=service.headers, cache_dir=cache_dir))
            ctx.sources[f"http_reputation.{service.name}"] = service.url
    return ctx


# ----- the tables


def integers(values: pa.ChunkedArray) -> pa.Array:
    """Digits as int32, anything else (``-``, empty) as null: proxy logs write codes and ports as text."""
    text = pc.utf8_trim_whitespace(values.combine_chunks())
    return pc.if_else(pc.match_substring_regex(text, r"^\d{1,9}$"), text, pa.scalar(None, S)).cast(I32)


def prefixed(columns: dict[str, pa.Array], prefix: str) -> dict[str, pa.Array]:
    return {f"{prefix}_{name}": column for name, column in columns.items()}


def client_place(t: pa.Table, column: str, ctx: Context) -> dict[str, pa.Array]:
    """The ``client_*`` columns of DNS and proxy, with Spot's ``network_context`` name for its context."""
    place = prefixed(ctx.addresses.columns(t[column]), "client")
    place["network_context"] = place.pop("client_context")
    return place


def enrich(data_type: str, suspicious: pa.Table, ratings: list[Rating], ctx: Context, log: Log) -> pa.Table:
    """``<type>_enriched`` rows of a day from its ``<type>_suspicious`` rows and its ratings."""
    t = schemas.conform(suspicious, suspicious_schema(data_type))
    t = t.sort_by([("score", "ascending"), ("ts", "ascending"), ("source_file", "ascending"), ("record", "ascending")])
    spec = DATA_TYPES[data_type]
    columns = {name: t[name] for name in t.column_names}
    columns.update(spec.oa.enriched_columns(t, ctx, log))
    columns.update({enriched: t[name] for name, enriched in spec.enriched_names.items()})
    columns.update(rank=pa.array(np.arange(t.num_rows), I32), severity=severity_of(t, ratings))
    schema = enriched_schema(data_type)
    return schemas.conform(pa.table({f.name: columns[f.name] for f in schema}), schema)

