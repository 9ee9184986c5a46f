"""What the dashboard shows, as pure functions of the lake and the analyst's ratings (no Dash here).

Every function reads Parquet through ``LakeResource`` with filter push-down and touches only what it
needs: the suspicious list of one day (250 rows), one hour's files for a row's details, one IP's
connections for a chord diagram (the OA's ``read_matching``: DuckDB with bound parameters on a local
lake, pyarrow elsewhere). Nothing here starts Spark, so a request never waits for a JVM.

Text that arrives from a request (dates, IPs, filters, scoring values) goes through ``parse_*`` first:
it only ever becomes a typed value compared inside pyarrow (never a path or a query string).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import ipaddress
import io
import re
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from resources.lake import LakeResource
from resources.store import RATING_KEYS, Rating
from spot_assets import schemas
from spot_assets.export import neutralise_formulas
from spot_assets.oa.investigate import read_matching
from spot_assets.oa.severity import severity_of

TYPES = schemas.TYPES
MAX_ROWS = 250  # Spot's MAX_SUSPICIOUS_ROWS
MAX_TEXT = 512
MAX_RANGE_DAYS = 92
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

# Context columns the OA enrichment adds (Spot's names, spec §4.2-4.4); each is shown only when present.
REPUTATION = {"flow": ("src_rep", "dst_rep"), "dns": ("query_rep",), "proxy": ("uri_rep",)}
GEO = {"flow": ("src_geoloc", "dst_geoloc"), "dns": ("client_geoloc",), "proxy": ("client_geoloc",)}
INTERNAL = {"flow": ("srcip_internal", "dstip_internal")}


class Invalid(ValueError):
    """Input from a request that is not what the field takes; the message is shown to the analyst."""


# ----- validation of request input


def parse_day(text: str | None) -> dt.date:
    if not isinstance(text, str) or not _DAY.fullmatch(text.strip()):
        raise Invalid(f"not a date (YYYY-MM-DD): {str(text)[:40]!r}")
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(f"not a date: {text.strip()!r}") from None
    if not 1970 <= day.year <= 2199:
        raise Invalid(f"date out of range: {day}")
    return day


def parse_range(start: str | None, end: str | None, default_end: dt.date) -> tuple[dt.date, dt.date]:
    """Spot's ingest-summary period: 7 days ending at ``end``; one bound alone gives the other; swapped if reversed."""
    end_day = parse_day(end) if end else None
    start_day = parse_day(start) if start else None
    if end_day is None:
        end_day = start_day + dt.timedelta(days=7) if start_day else default_end
    if start_day is None:
        start_day = end_day - dt.timedelta(days=7)
    start_day, end_day = sorted((start_day, end_day))
    if (end_day - start_day).days > MAX_RANGE_DAYS:
        raise Invalid(f"a period of at most {MAX_RANGE_DAYS} days")
    return start_day, end_day


def parse_ip(text: str | None) -> str:
    try:
        return str(ipaddress.ip_address(str(text).strip()))
    except ValueError:
        raise Invalid(f"not an IP address: {str(text)[:60]!r}") from None


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
        return True
    except ValueError:
        return False


def clean_text(text: str | None, what: str = "text") -> str:
    """Free text (a domain, a URI): bounded, printable, stripped."""
    value = str(text or "").strip()
    if len(value) > MAX_TEXT:
        raise Invalid(f"{what} longer than {MAX_TEXT} characters")
    if _CONTROL.search(value):
        raise Invalid(f"{what} contains control characters")
    return value


def parse_port(text) -> int:
    try:
        port = int(str(text).strip())
    except ValueError:
        raise Invalid(f"not a port: {str(text)[:20]!r}") from None
    if not 0 <= port <= 65535:
        raise Invalid(f"port out of range: {port}")
    return port


def parse_type(text: str | None) -> str:
    if text not in TYPES:
        raise Invalid(f"unknown data type: {str(text)[:20]!r} (flow, dns or proxy)")
    return text


@dataclasses.dataclass(frozen=True)
class Filter:
    kind: str  # "ip" or "text"
    value: str


def parse_filter(data_type: str, text: str | None) -> Filter | None:
    """Spot's filter box: an IP for every type; otherwise a query-name (DNS) or URI (proxy) substring."""
    value = clean_text(text, "filter")
    if not value:
        return None
    if is_ip(value):
        return Filter("ip", parse_ip(value))
    if data_type == "flow":
        raise Invalid("flows are filtered by an IP address")
    return Filter("text", value)


# ----- the suspicious list


def latest_day(lake: LakeResource, tables: list[str]) -> dt.date | None:
    days = [d for t in tables for d in lake.days(t)]
    return max(days) if days else None


def suspicious_tables(data_type: str) -> list[str]:
    return [f"{data_type}_enriched", f"{data_type}_suspicious"]


@dataclasses.dataclass
class SuspiciousView:
    """The day's list after scored rows left it and the filter applied; the counts explain an empty list."""

    rows: pa.Table
    source: str  # the table read: <type>_enriched, else <type>_suspicious
    listed: int  # rows the ML run listed
    scored: int  # of which analysts have rated
    has_reputation: bool
    has_geo: bool

    @property
    def columns(self) -> set[str]:
        return set(self.rows.column_names)


# The enriched table keeps Spot's *_scores column names (spec §2.3); the page speaks the events' names.
SPOT_NAMES = {"srcip": "sip", "dstip": "dip", "ml_score": "score", "tstart": "treceived", "tdate": "p_date",
              "time": "p_time"}


def _events_names(table: pa.Table) -> pa.Table:
    return table.rename_columns([SPOT_NAMES.get(c, c) if SPOT_NAMES.get(c) not in table.column_names else c
                                 for c in table.column_names])


def _has_values(table: pa.Table, columns) -> bool:
    """A context column counts when it holds something: the enrichment writes nulls when unconfigured."""
    for c in columns:
        if c in table.column_names and table.num_rows:
            values = pc.cast(table[c], pa.string())
            if pc.any(pc.fill_null(pc.greater(pc.utf8_length(values), 0), False)).as_py():
                return True
    return False


def _with_rank(table: pa.Table) -> pa.Table:
    """Spot's rank: the 0-based position in the ML output (ascending score), kept through exclusion."""
    if "rank" in table.column_names:
        return table
    return table.append_column("rank", pa.array(np.arange(table.num_rows), pa.int64()))


def row_ids(table: pa.Table) -> pa.Array:
    """A stable id per event: its provenance (raw file and record), so a selection survives a reload."""
    return pc.binary_join_element_wise(pc.cast(table["source_file"], pa.string()),
                                       pc.cast(table["record"], pa.string()), ":")


def scored_mask(table: pa.Table, ratings: list[Rating]) -> np.ndarray:
    """True for every row a current rating selects (all of its values equal): the OA rule (``severity_of``)."""
    if not ratings or table.num_rows == 0:
        return np.zeros(table.num_rows, dtype=bool)
    return np.asarray(pc.is_valid(severity_of(table, ratings)).to_numpy(zero_copy_only=False), dtype=bool)


def filter_mask(table: pa.Table, data_type: str, flt: Filter | None) -> pa.Array | None:
    if flt is None:
        return None
    if flt.kind == "ip":
        columns = {"flow": ("sip", "dip"), "dns": ("ip_dst",), "proxy": ("clientip",)}[data_type]
        return functools.reduce(pc.or_, (pc.fill_null(pc.equal(table[c], flt.value), False) for c in columns))
    column = {"dns": "dns_qry_name", "proxy": "fulluri"}[data_type]
    return pc.fill_null(pc.match_substring(table[column], flt.value, ignore_case=True), False)


def suspicious_view(lake: LakeResource, ratings: list[Rating], data_type: str, day: dt.date,
                    flt: Filter | None = None, limit: int = MAX_ROWS) -> SuspiciousView | None:
    """The day's suspicious list: the enriched table when OA has run, the ML output otherwise; None
    when neither has the day."""
    for source in suspicious_tables(data_type):
        if lake.day_files(source, day):
            break
    else:
        return None
    table = _with_rank(_events_names(lake.read_day(source, day)))
    listed = table.num_rows
    scored = scored_mask(table, ratings)
    keep = pa.array(~scored)
    wanted = filter_mask(table, data_type, flt)
    if wanted is not None:
        keep = pc.and_(keep, wanted)
    rows = table.filter(keep).slice(0, limit)
    return SuspiciousView(
        rows=rows, source=source, listed=listed, scored=int(scored.sum()),
        has_reputation=_has_values(table, REPUTATION[data_type]), has_geo=_has_values(table, GEO[data_type]),
    )


# ----- reputation and network context


def parse_reputation(text: str | None) -> tuple[int, list[tuple[str, str]]]:
    """Spot's reputation string ``svc:LABEL:value[:categories]::svc2:…`` as (highest value, [(service, label)]).

    Values: -1 unverified, 0 none, 1 low, 2 medium, 3 high (spec §4.5); no string is -1 with no service.
    """
    level, services = -1, []
    for part in (text or "").split("::"):
        fields = part.split(":")
        if len(fields) < 3:
            continue
        try:
            value = int(fields[2])
        except ValueError:
            continue
        level = max(level, value)
        services.append((fields[0], fields[1]))
    return level, services


# Without the enrichment's configured ranges, these are internal: RFC 1918, shared (CGNAT), loopback,
# link-local and IPv6 unique-local. (Python's ``is_private`` also counts documentation ranges.)
INTERNAL_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "::1/128", "fc00::/7", "fe80::/10"))


def internal_flags(table: pa.Table, column: str, flag_column: str | None) -> np.ndarray:
    """Whether each IP is internal: the enrichment's flag (the configured ranges) where it has one,
    else ``INTERNAL_NETWORKS``, which is right for most networks."""
    guess = np.array([_private(ip) for ip in table[column].to_pylist()], dtype=bool)
    if not flag_column or flag_column not in table.column_names:
        return guess
    flags = table[flag_column].to_pylist()
    return np.array([bool(f) if f is not None else g for f, g in zip(flags, guess)], dtype=bool)


@functools.lru_cache(maxsize=65536)
def _private(ip: str | None) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except (ValueError, TypeError):
        return False
    return any(address in network for network in INTERNAL_NETWORKS if network.version == address.version)


# Second-level labels under a country code that are not the registrant's own (bbc.co.uk, abc.net.au).
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "gov", "ac", "edu", "or", "ne", "go", "gob", "mil"})


@functools.lru_cache(maxsize=65536)
def registered_domain(name: str | None) -> str:
    """The domain a query name belongs to, for the DNS network view when the enrichment's ``tld`` is
    absent: the last two labels, three under a country code's second level (``mail.google.co.uk`` →
    ``google.co.uk``). A display rule (the word rules keep Spot's own domain parsing)."""
    labels = (name or "").rstrip(".").split(".")
    if len(labels) <= 2:
        return ".".join(labels)
    keep = 3 if len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


# ----- the network view


def node_id(kind: str, value: str) -> str:
    """Cytoscape ids that are safe inside a selector whatever the value holds (quotes, dots, slashes)."""
    return kind[0] + hashlib.blake2s(f"{kind}\0{value}".encode(), digest_size=8).hexdigest()


def _edge_weight(scores: np.ndarray) -> np.ndarray:
    """Spot's link value: -ln(score), so a rarer event draws a heavier link (0 scores cap at 30)."""
    with np.errstate(divide="ignore"):
        return np.minimum(-np.log(np.clip(scores, 0, None)), 30.0)


def _scores(table: pa.Table) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.cast(table["score"], pa.float64()), 1.0).to_numpy(zero_copy_only=False))


def _graph(pairs: list[tuple[str, str, str, str]], weights: np.ndarray, info: dict[str, dict]) -> list[dict]:
    """Nodes with their number of rows (hits) and edges per unordered pair with the max weight.
    ``pairs`` holds (kind_a, value_a, kind_b, value_b) per row."""
    hits: dict[tuple[str, str], int] = defaultdict(int)
    edges: dict[tuple, float] = {}
    for (ka, a, kb, b), w in zip(pairs, weights):
        hits[(ka, a)] += 1
        hits[(kb, b)] += 1
        key = tuple(sorted([(ka, a), (kb, b)]))
        edges[key] = max(edges.get(key, 0.0), float(w))
    elements = [{"data": {"id": node_id(k, v), "label": v, "kind": k, "hits": n, **info.get(v, {})},
                 "classes": k} for (k, v), n in hits.items()]
    for (a, b), w in edges.items():
        source, target = node_id(*a), node_id(*b)
        elements.append({"data": {"id": edge_id(source, target), "source": source, "target": target,
                                  "weight": round(w, 3)}})
    return elements


def edge_id(a: str, b: str) -> str:
    return "e" + "".join(sorted((a, b)))


def flow_elements(table: pa.Table) -> list[dict]:
    sip, dip = table["sip"].to_pylist(), table["dip"].to_pylist()
    src_in = internal_flags(table, "sip", INTERNAL["flow"][0])
    dst_in = internal_flags(table, "dip", INTERNAL["flow"][1])
    kind = lambda internal: "internal" if internal else "external"  # noqa: E731
    pairs = [(kind(a_in), a, kind(b_in), b) for a, b, a_in, b_in in zip(sip, dip, src_in, dst_in)]
    info = {}
    for side, ips, flags in (("src", sip, src_in), ("dst", dip, dst_in)):
        geo = _column(table, f"{side}_geoloc")
        rep = _column(table, f"{side}_rep")
        for i, ip in enumerate(ips):
            info.setdefault(ip, {"tip": address_info(ip, bool(flags[i]), geo[i], rep[i])})
    return _graph(pairs, _edge_weight(_scores(table)), info)


def address_info(ip: str, internal: bool, geo: str | None, rep: str | None) -> str:
    lines = [f"{ip} ({'internal' if internal else 'external'})"]
    if geo:
        lines.append(geo)
    level, services = parse_reputation(rep)
    if services:
        lines.append("reputation: " + ", ".join(f"{s} {label}" for s, label in services))
    return "\n".join(lines)


def _column(table: pa.Table, name: str) -> list:
    return table[name].to_pylist() if name in table.column_names else [None] * table.num_rows


def dns_domains(table: pa.Table) -> list[str]:
    if "tld" in table.column_names:
        tld = table["tld"].to_pylist()
        names = table["dns_qry_name"].to_pylist()
        return [t or registered_domain(n) for t, n in zip(tld, names)]
    return [registered_domain(n) for n in table["dns_qry_name"].to_pylist()]


def dns_elements(table: pa.Table) -> list[dict]:
    domains = dns_domains(table)
    clients = table["ip_dst"].to_pylist()
    weights = _edge_weight(_scores(table))
    long_names = np.asarray(pc.fill_null(pc.greater(pc.utf8_length(table["dns_qry_name"]), 64), False))
    weights = np.where(long_names, 30.0, weights)  # Spot: names longer than 64 characters draw the heaviest link
    info = {d: {"tip": f"{d} (domain)"} for d in domains}
    info.update({c: {"tip": f"{c} (client)\nclick: its queries in Details"} for c in clients})
    return _graph([("domain", d, "client", c) for d, c in zip(domains, clients)], weights, info)


PROXY_LEVELS = ("method", "host", "path", "client")


def proxy_chain(row: dict) -> list[str]:
    """The node ids from the root to a request's client: root → method → host → path → client IP."""
    keys = [row.get("reqmethod") or "-", row.get("host") or "-", row.get("uripath") or "/", row.get("clientip") or "-"]
    return [node_id("root", "Proxy")] + [node_id(level, "\0".join(keys[:i + 1])) for i, level in enumerate(PROXY_LEVELS)]


def proxy_tree(table: pa.Table) -> dict[str, dict]:
    """Spot's hierarchy as nodes by id, each with its parent, its number of records below and the
    highest reputation among them. Rows with host ``-`` are skipped, as Spot did."""
    root = node_id("root", "Proxy")
    rows = table.select([c for c in ("reqmethod", "host", "uripath", "clientip", "fulluri", "uri_rep")
                         if c in table.column_names]).to_pylist()
    nodes = {root: {"id": root, "label": "Proxy", "kind": "root", "hits": 0, "level": -1, "parent_id": None,
                    "tip": "Proxy: every request\nclick: expand or collapse everything"}}
    for row in rows:
        if row.get("host") in (None, "-"):
            continue
        level, _ = parse_reputation(row.get("uri_rep"))
        chain = proxy_chain(row)
        labels = [row.get("reqmethod") or "-", row["host"], row.get("uripath") or "/", row.get("clientip") or "-"]
        nodes[root]["hits"] += 1
        nodes[root]["level"] = max(nodes[root]["level"], level)
        for depth, (nid, label) in enumerate(zip(chain[1:], labels)):
            kind = PROXY_LEVELS[depth]
            tip = f"{kind}: {label}" + (f"\nURI: {row.get('fulluri') or ''}" if kind == "client" else "\nclick: expand or collapse")
            node = nodes.setdefault(nid, {"id": nid, "label": label, "kind": kind, "hits": 0, "level": -1,
                                          "parent_id": chain[depth], "tip": tip})
            node["hits"] += 1
            node["level"] = max(node["level"], level)
    return nodes


def _ancestors(tree: dict[str, dict], nid: str) -> list[str]:
    out, parent = [], tree[nid]["parent_id"]
    while parent is not None:
        out.append(parent)
        parent = tree[parent]["parent_id"]
    return out


def toggle(tree: dict[str, dict], expanded: set[str], nid: str) -> set[str]:
    """Spot's clicks: the root expands everything or, when everything is open, collapses everything;
    another node opens its children, or closes them and everything below them."""
    if nid not in tree:
        return expanded
    if tree[nid]["kind"] == "root":
        everything = {n for n, d in tree.items() if d["kind"] not in ("root", "client")}
        return set() if everything <= expanded else everything
    if nid in expanded:
        return {n for n in expanded if n != nid and nid not in _ancestors(tree, n)}
    return expanded | {nid} | {a for a in _ancestors(tree, nid) if tree[a]["kind"] != "root"}


def proxy_elements(tree: dict[str, dict], expanded: set[str] | frozenset = frozenset()) -> list[dict]:
    """The nodes whose ancestors are all expanded (the root always is: methods show first), classed by
    kind and reputation (rep0 none known .. rep4 high)."""
    root = node_id("root", "Proxy")
    opened = set(expanded) | {root}
    visible = [n for n in tree if all(a in opened for a in _ancestors(tree, n))]
    shown = set(visible)
    elements = [{"data": {k: v for k, v in tree[n].items() if k != "parent_id"},
                 "classes": f"{tree[n]['kind']} rep{tree[n]['level'] + 1}" + (" expanded" if n in expanded else "")}
                for n in visible]
    elements += [{"data": {"id": edge_id(tree[n]["parent_id"], n), "source": tree[n]["parent_id"], "target": n}}
                 for n in visible if tree[n]["parent_id"] in shown]
    return elements


def network_elements(table: pa.Table, data_type: str, expanded: set[str] | frozenset = frozenset()) -> list[dict]:
    if data_type == "flow":
        return flow_elements(table)
    if data_type == "dns":
        return dns_elements(table)
    return proxy_elements(proxy_tree(table), expanded)


def row_elements(row: dict, data_type: str) -> list[str]:
    """The network-view ids a grid row stands for (its nodes and its edge), to highlight them."""
    if data_type == "proxy":
        return proxy_chain(row)
    if data_type == "flow":
        kinds = ["internal" if _row_internal(row, s) else "external" for s in ("src", "dst")]
        a, b = node_id(kinds[0], row["sip"]), node_id(kinds[1], row["dip"])
    else:
        domain = row.get("tld") or registered_domain(row["dns_qry_name"])
        a, b = node_id("domain", domain), node_id("client", row["ip_dst"])
    return [a, b, edge_id(a, b)]


def _row_internal(row: dict, side: str) -> bool:
    flag = row.get(f"{side}ip_internal")  # as internal_flags decides
    return bool(flag) if flag is not None else _private(row["sip" if side == "src" else "dip"])


# ----- details (events of the day, read with push-down)


def _hour_events(lake: LakeResource, data_type: str, when: dt.datetime, filter: ds.Expression,
                 columns: list[str] | None = None) -> pa.Table:
    """Events of the hour folder that holds ``when`` (rows are stored under their own hour)."""
    folder = lake.table_dir(f"{data_type}_events", when.date(), when.hour)
    files = [f for f in lake.listdir(folder) if f.endswith(".parquet")]
    schema = schemas.EVENTS[data_type]
    if not files:
        return schema.empty_table().select(columns) if columns else schema.empty_table()
    return ds.dataset(files, schema=schema, filesystem=lake.fs, format="parquet").to_table(columns=columns, filter=filter)


def _ts(row: dict) -> dt.datetime:
    ts = row["ts"]
    if isinstance(ts, str):
        ts = dt.datetime.fromisoformat(ts)
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)


DETAIL_COLUMNS = {
    "flow": ["ts", "sip", "dip", "sport", "dport", "proto", "flag", "stos", "ibyt", "ipkt", "obyt", "opkt", "rip",
             "input", "output"],
    "dns": ["ts", "frame_len", "ip_dst", "ip_src", "dns_qry_name", "dns_qry_class", "dns_qry_type", "dns_qry_rcode",
            "dns_a"],
    "proxy": ["ts", "clientip", "host", "webcat", "respcode", "reqmethod", "useragent", "resconttype", "referer",
              "uriport", "serverip", "scbytes", "csbytes", "fulluri"],
}


def details(lake: LakeResource, data_type: str, row: dict) -> pa.Table:
    """Spot's edge details of a suspicious row: flow, the pair's connections (both ways) in the same
    minute; DNS, the same query's records in the same hour; proxy, the same URI from the same client
    in the same hour."""
    when = _ts(row)
    field = ds.field
    if data_type == "flow":
        minute = when.replace(second=0, microsecond=0)
        a, b = row["sip"], row["dip"]
        pair = (((field("sip") == a) & (field("dip") == b)) | ((field("sip") == b) & (field("dip") == a)))
        window = (field("ts") >= pa.scalar(minute, schemas.TS)) & (field("ts") < pa.scalar(minute + dt.timedelta(minutes=1), schemas.TS))
        match = pair & window
    elif data_type == "dns":
        match = field("dns_qry_name") == row["dns_qry_name"]
    else:
        match = (field("fulluri") == row["fulluri"]) & (field("clientip") == row["clientip"])
    table = _hour_events(lake, data_type, when, match, DETAIL_COLUMNS[data_type])
    return table.sort_by("ts").slice(0, MAX_ROWS)


@dataclasses.dataclass(frozen=True)
class Chord:
    """Bytes between one IP and its peers: ``matrix[i][j]`` = input bytes from ``labels[i]`` to ``labels[j]``."""

    ip: str
    labels: list[str]
    matrix: np.ndarray


def flow_chord(lake: LakeResource, day: dt.date, ip: str, top: int = 12) -> Chord:
    """One IP's connections that day, summed per direction; peers past the ``top`` busiest become "other"."""
    table = read_matching(lake, "flow", day, ["sip", "dip", "ibyt"], {"sip": ip, "dip": ip})
    sums = table.group_by(["sip", "dip"]).aggregate([("ibyt", "sum")])
    sip, dip = sums["sip"].to_pylist(), sums["dip"].to_pylist()
    byt = np.nan_to_num(np.asarray(sums["ibyt_sum"].to_numpy(zero_copy_only=False), dtype=float))
    peers: dict[str, float] = defaultdict(float)
    for s, d, b in zip(sip, dip, byt):
        peers[d if s == ip else s] += b
    ranked = sorted(peers, key=lambda p: (-peers[p], p))
    kept = [p for p in ranked if p != ip][:top]
    other = len(ranked) - len(kept) - (ip in peers) > 0
    labels = [ip, *kept] + (["other"] if other else [])
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)))
    for s, d, b in zip(sip, dip, byt):
        i, j = index.get(s, index.get("other")), index.get(d, index.get("other"))
        if i is not None and j is not None:
            matrix[i, j] += b
    return Chord(ip, labels, matrix)


def dns_tree(lake: LakeResource, day: dt.date, ip: str, limit: int = MAX_ROWS) -> pa.Table:
    """A client's queries and their answers that day, counted, the most frequent first (Spot's dendrogram)."""
    table = read_matching(lake, "dns", day, ["dns_qry_name", "dns_a"], {"ip_dst": ip})
    table = table.set_column(1, "dns_a", pc.fill_null(table["dns_a"], ""))
    counts = table.group_by(["dns_qry_name", "dns_a"]).aggregate([("dns_a", "count")])
    return counts.sort_by([("dns_a_count", "descending"), ("dns_qry_name", "ascending")]).slice(0, limit)


# ----- ingest summary


def ingest_series(lake: LakeResource, data_type: str, start: dt.date, end: dt.date) -> pa.Table:
    """Events per minute over [start, end] (the ingest asset's summary), every minute from the first
    to the last with data present (a minute without events is 0, not a line drawn across it)."""
    table = f"{data_type}_ingest_summary"
    days = [d for d in lake.days(table) if start <= d <= end]
    parts = [lake.read_day(table, d, schemas.INGEST_SUMMARY, columns=["minute", "total"]) for d in days]
    if not parts or not sum(p.num_rows for p in parts):
        return schemas.INGEST_SUMMARY.empty_table().select(["minute", "total"])
    got = pa.concat_tables(parts).group_by("minute").aggregate([("total", "sum")])
    minutes = got["minute"].cast(pa.int64()).to_numpy()  # ms since the epoch
    first = minutes.min()
    slots = (minutes - first) // 60_000
    totals = np.zeros(int(slots.max()) + 1, dtype=np.int64)
    np.add.at(totals, slots, got["total_sum"].to_numpy())
    axis = pa.array(first + np.arange(len(totals), dtype=np.int64) * 60_000).cast(schemas.TS)
    return pa.table({"minute": axis, "total": totals})


# ----- scoring


@dataclasses.dataclass(frozen=True)
class Criterion:
    selector: dict
    severity: int


def criteria(data_type: str, chosen: dict, quick: str | None, severity: int) -> list[Criterion]:
    """What one press of Score means (spec §5.2): the chosen key values ("all" = unset); a quick IP (flow)
    scores it as source and as destination; a quick name (DNS) or URI (proxy) replaces the chosen one."""
    if severity not in (1, 2, 3):
        raise Invalid("a rating is 1, 2 or 3")
    keys = RATING_KEYS[data_type]
    selector = {}
    for key, value in chosen.items():
        if key not in keys:
            raise Invalid(f"{data_type} is scored by {', '.join(keys)}")
        if value in (None, "", "all"):
            continue
        selector[key] = _key_value(key, value)
    quick = clean_text(quick, "quick scoring value")
    if quick and data_type == "flow":
        ip = parse_ip(quick)
        selectors = [{**selector, "sip": ip}, {**selector, "dip": ip}]
    elif quick:
        selectors = [{**selector, "dns_qry_name" if data_type == "dns" else "fulluri": quick}]
    else:
        selectors = [selector]
    if not selectors[0]:
        raise Invalid("choose at least one value to score (or type one in quick scoring)")
    return [Criterion(s, severity) for s in selectors]


def _key_value(key: str, value):
    if key in ("sport", "dport"):
        return parse_port(value)
    if key in ("sip", "dip", "ip_dst", "clientip"):
        return parse_ip(value)
    return clean_text(value, key)


def matching_rows(table: pa.Table, selectors: list[dict]) -> int:
    ratings = [Rating("", dt.date.min, s, 0, "", dt.datetime.min) for s in selectors]
    return int(scored_mask(table, ratings).sum())


def key_options(table: pa.Table, data_type: str) -> dict[str, list]:
    """The distinct values of each key column in the current list, for the scoring combo boxes."""
    return {k: sorted(v for v in pc.unique(table[k]).to_pylist() if v is not None) for k in RATING_KEYS[data_type]}


# ----- exports


def csv_bytes(table: pa.Table) -> bytes:
    """CSV with every text cell that a spreadsheet would run as a formula prefixed with a quote."""
    columns = [pc.strftime(c, "%Y-%m-%d %H:%M:%S") if pa.types.is_timestamp(c.type) else c for c in table.columns]
    out = io.BytesIO()
    pacsv.write_csv(neutralise_formulas(pa.Table.from_arrays(columns, names=table.column_names)), out)
    return out.getvalue()


# ----- what the Suspicious page needs at once (and what the benchmark times)


@dataclasses.dataclass
class PageData:
    view: SuspiciousView
    elements: list[dict]
    first_details: pa.Table | None


def page_data(lake: LakeResource, ratings: list[Rating], data_type: str, day: dt.date,
              flt: Filter | None = None) -> PageData | None:
    view = suspicious_view(lake, ratings, data_type, day, flt)
    if view is None:
        return None
    first = view.rows.slice(0, 1).to_pylist()
    return PageData(view, network_elements(view.rows, data_type),
                    details(lake, data_type, first[0]) if first else None)
