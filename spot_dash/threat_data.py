"""What the Threat investigation and Storyboard pages show, as pure functions of the lake and the
analyst store (no Dash here, no Spark: the expanded searches are the OA's DuckDB/pyarrow reads).

* **High-risk items**: the anchors of the day's current ratings of 1 (spec §5.3): flow, every IP a
  rating selects (source or destination); DNS, client IPs and query names; proxy, full URIs. A rating
  that selects none of these (a port alone, a proxy client alone) names no anchor and is not listed.
* **Expanded search** of one anchor, as the tables the page shows (flow: peers per class and the top
  ``n`` by connections and by bytes; DNS: the names a client queried or the clients of a name, the top
  ``n``; proxy: the requests, the top ``n`` clients and the URIs it referred).
* **Storyboard**: the day's threats from the store joined to the artifacts the ``<type>_storyboard``
  asset wrote (``spot_assets/oa/storyboard.py``). A threat is *building* until its artifacts are
  there, *updating* while they are older than its last edit, else *ready*.

Whatever a request sends (anchor, n, title, description, a threat id) is validated here first; an
anchor must also be one of the day's high-risk items before anything is searched or saved, and
artifact paths are built from the anchor's own id, never from request text.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re

import pyarrow as pa
import pyarrow.compute as pc

from resources.lake import LakeResource
from resources.store import HIGH, Rating, Threat
from spot_assets.oa import investigate
from spot_assets.oa.storyboard import ARTIFACTS, anchor_id
from spot_dash.data import Invalid, clean_text, is_ip, parse_ip

DEFAULT_TOP_N = investigate.TOP_N
MAX_TOP_N = 500
MAX_TITLE = 200
MAX_DESCRIPTION = 5000
SEARCH_ROWS = 1000  # rows of a raw-request table sent to the browser
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# The rating keys that name an anchor, and what kind of anchor each is.
ANCHOR_KEYS = {"flow": (("sip", "ip"), ("dip", "ip")), "dns": (("ip_dst", "client"), ("dns_qry_name", "query")),
               "proxy": (("fulluri", "uri"),)}
KIND_LABELS = {"ip": "IP", "client": "client IP", "query": "query name", "uri": "URI"}


# ----- validation


def parse_anchor(data_type: str, text: str | None) -> str:
    """An anchor's form: an IP (flow), an IP or a query name (DNS), a URI (proxy)."""
    if data_type == "flow":
        return parse_ip(text)
    if data_type == "dns" and is_ip(str(text or "")):
        return parse_ip(text)
    value = clean_text(text, "query name" if data_type == "dns" else "URI")
    if not value:
        raise Invalid("pick an item of the list")
    return value


def parse_top_n(value) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = "" if value is None or isinstance(value, bool) else str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_TOP_N:
        raise Invalid(f"top n is a whole number from 1 to {MAX_TOP_N}")
    return int(text)


def parse_summary(title: str | None, description: str | None) -> tuple[str, str]:
    """A threat's title (one line) and description (lines allowed), both required and bounded."""
    title = clean_text(title, "the title")
    if not title:
        raise Invalid("give the threat a title")
    if len(title) > MAX_TITLE:
        raise Invalid(f"a title of at most {MAX_TITLE} characters")
    text = str(description or "").replace("\r\n", "\n").strip()
    if not text:
        raise Invalid("describe the threat: what happened, what it affects, what to do")
    if len(text) > MAX_DESCRIPTION:
        raise Invalid(f"a description of at most {MAX_DESCRIPTION} characters")
    if _CONTROL_BUT_LINES.search(text):
        raise Invalid("the description contains control characters")
    return title, text


# ----- high-risk items


@dataclasses.dataclass(frozen=True)
class HighRisk:
    anchor: str
    kind: str  # ip, client, query or uri
    threat: str | None  # the title of the threat saved for it, if any


def _order(item: HighRisk) -> tuple:
    try:
        address = ipaddress.ip_address(item.anchor)
        return (0, address.version, int(address), "")
    except ValueError:
        return (1, 0, 0, item.anchor)


def high_risk(ratings: list[Rating], threats: list[Threat], data_type: str) -> list[HighRisk]:
    """The anchors of the current ratings of 1, addresses first (in numeric order), then names."""
    kinds: dict[str, str] = {}
    for rating in ratings:
        if rating.severity != HIGH:
            continue
        for key, kind in ANCHOR_KEYS[data_type]:
            value = rating.selector.get(key)
            if value:
                kinds.setdefault(str(value), kind)
    saved = {t.anchor: t.title for t in threats}
    return sorted((HighRisk(a, k, saved.get(a)) for a, k in kinds.items()), key=_order)


def chosen_item(items: list[HighRisk], data_type: str, text: str | None) -> HighRisk:
    """The item a request names, validated and required to be one of the day's high-risk items."""
    anchor = parse_anchor(data_type, text)
    for item in items:
        if item.anchor == anchor:
            return item
    raise Invalid(f"{anchor[:80]} is not rated 1 (high risk) on this day")


# ----- expanded search


@dataclasses.dataclass(frozen=True)
class SearchTable:
    key: str
    label: str
    table: pa.Table
    empty: str  # what an empty table means
    note: str = ""  # what the table leaves out, when it does


@dataclasses.dataclass(frozen=True)
class Search:
    anchor: str
    summary: str  # what was found, in one line
    tables: list[SearchTable]

    @property
    def empty(self) -> bool:
        return all(t.table.num_rows == 0 for t in self.tables)


PEER_COLUMNS = ["peer", "direction", "conns", "in_conns", "out_conns", "dports", "maxbytes", "avgbytes", "bytes",
                "maxpkts", "first_seen", "last_seen"]
CLASS_LABELS = {investigate.INBOUND: "Inbound", investigate.OUTBOUND: "Outbound", investigate.TWO_WAY: "Two-way"}


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def flow_search(lake: LakeResource, day: dt.date, ip: str, top_n: int) -> Search:
    found = investigate.flow_expanded_search(lake, day, ip, top_n)
    classes = found.classes
    counts = pc.value_counts(found.peers["direction"]).to_pylist() if found.peers.num_rows else []
    per_class = {c["values"]: c["counts"] for c in counts}
    tables = [SearchTable(d, f"{CLASS_LABELS[d]} ({per_class.get(d, 0):,})", classes[d].select(PEER_COLUMNS),
                          f"No {CLASS_LABELS[d].lower()} peers", f"top {top_n} by connections and top {top_n} by bytes of {per_class.get(d, 0):,}"
                          if per_class.get(d, 0) > classes[d].num_rows else "")
              for d in investigate.DIRECTIONS]
    tables += [SearchTable("connections", f"Top {top_n} by connections", found.by_connections.select(PEER_COLUMNS),
                           "No peers"),
               SearchTable("bytes", f"Top {top_n} by bytes", found.by_bytes.select(PEER_COLUMNS), "No peers")]
    summary = (f"{_plural(found.rows.num_rows, 'flow')} with {_plural(found.peers.num_rows, 'peer')}: "
               + ", ".join(f"{per_class.get(d, 0):,} {CLASS_LABELS[d].lower()}" for d in investigate.DIRECTIONS))
    return Search(ip, summary, tables)


def dns_search(lake: LakeResource, day: dt.date, anchor: str, top_n: int) -> Search:
    client = is_ip(anchor)
    found = investigate.dns_expanded_search(lake, day, **({"ip": anchor} if client else {"domain": anchor}),
                                            top_n=None)
    queries = int(pc.sum(found["total"]).as_py() or 0)
    if client:
        table, key, label = found.select(["dns_qry_name", "total"]), "names", "Names queried"
        summary = f"{anchor} made {_plural(queries, 'query', 'queries')} for {_plural(found.num_rows, 'name')}"
    else:
        table, key, label = found.select(["ip_dst", "total"]), "clients", "Clients"
        summary = f"{_plural(found.num_rows, 'client')} queried {anchor} {_plural(queries, 'time')}"
    note = f"top {top_n} of {found.num_rows:,}" if found.num_rows > top_n else ""
    return Search(anchor, summary, [SearchTable(key, f"{label} (top {top_n})", table.slice(0, top_n), "No queries", note)])


def _capped(table: pa.Table) -> tuple[pa.Table, str]:
    if table.num_rows <= SEARCH_ROWS:
        return table, ""
    return table.slice(0, SEARCH_ROWS), f"the first {SEARCH_ROWS:,} of {table.num_rows:,}"


def proxy_search(lake: LakeResource, day: dt.date, uri: str, top_n: int) -> Search:
    found = investigate.proxy_expanded_search(lake, day, uri)
    requests = found.requests
    clients = requests.group_by("clientip", use_threads=False).aggregate([
        ([], "count_all"), ("ts", "min"), ("ts", "max"), ("csbytes", "sum"), ("scbytes", "sum")])
    clients = clients.rename_columns(["clientip", "requests", "first_seen", "last_seen", "csbytes", "scbytes"])
    clients = clients.sort_by([("requests", "descending"), ("clientip", "ascending")])
    referred = found.referred.group_by("fulluri", use_threads=False).aggregate([
        ([], "count_all"), ("clientip", "count_distinct"), ("ts", "min")])
    referred = referred.rename_columns(["fulluri", "requests", "clients", "first_seen"]).sort_by(
        [("requests", "descending"), ("fulluri", "ascending")])
    shown, note = _capped(requests.select(["ts", "clientip", "reqmethod", "respcode", "resconttype", "referer",
                                           "useragent", "csbytes", "scbytes", "duration"]))
    tables = [SearchTable("requests", f"Requests ({requests.num_rows:,})", shown, "No requests for it", note),
              SearchTable("clients", f"Top {top_n} clients", clients.slice(0, top_n), "No clients",
                          f"top {top_n} of {clients.num_rows:,}" if clients.num_rows > top_n else ""),
              SearchTable("referred", f"Referred URIs ({referred.num_rows:,})", referred,
                          "No request had it as its referer")]
    summary = (f"{_plural(requests.num_rows, 'request')} from {_plural(clients.num_rows, 'client')}; it was the "
               f"referer of {_plural(found.referred.num_rows, 'request')} for {_plural(referred.num_rows, 'URI')}")
    return Search(uri, summary, tables)


SEARCHES = {"flow": flow_search, "dns": dns_search, "proxy": proxy_search}


def expanded_search(lake: LakeResource, data_type: str, day: dt.date, anchor: str, top_n: int) -> Search:
    return SEARCHES[data_type](lake, day, anchor, top_n)


# ----- storyboard

READY, BUILDING, UPDATING = "ready", "building", "updating"


@dataclasses.dataclass(frozen=True)
class StoryThreat:
    id: str  # anchor_id(anchor): the artifacts' folder, and the page's handle on the threat
    anchor: str
    title: str
    description: str
    analyst: str
    updated_at: dt.datetime
    state: str  # ready, building or updating
    artifacts: tuple[str, ...]  # the artifacts written for it (a globe only where addresses have places)


def _built_at(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def briefing(lake: LakeResource, data_type: str, day: dt.date) -> dict:
    """The day's ``briefing.json``; an empty one when no storyboard was built (or it cannot be read)."""
    try:
        found = lake.read_json(f"{lake.storyboard_dir(data_type, day)}/briefing.json")
    except ValueError:
        found = None
    return found if isinstance(found, dict) and isinstance(found.get("threats"), list) else {"threats": []}


def story_threats(lake: LakeResource, threats: list[Threat], data_type: str, day: dt.date) -> list[StoryThreat]:
    """The store's threats of the day (the truth for titles and texts), each with its build state."""
    built = {t.get("anchor"): t for t in briefing(lake, data_type, day)["threats"] if isinstance(t, dict)}
    out = []
    for threat in threats:
        entry = built.get(threat.anchor)
        stamp = _built_at(entry.get("updated_at")) if entry else None
        if entry is None or stamp is None:
            state, names = BUILDING, ()
        else:
            # the briefing keeps whole seconds
            state = READY if stamp >= threat.updated_at.replace(microsecond=0) else UPDATING
            names = tuple(n for n in ARTIFACTS[data_type] if n in (entry.get("artifacts") or {}))
        out.append(StoryThreat(anchor_id(threat.anchor), threat.anchor, threat.title, threat.description,
                               threat.analyst, threat.updated_at, state, names))
    return out


def chosen_threat(threats: list[StoryThreat], threat_id: str | None) -> StoryThreat | None:
    """The threat a request names by id (one of the day's), else the first; None when there are none."""
    for threat in threats:
        if threat.id == threat_id:
            return threat
    return threats[0] if threats else None


def artifact(lake: LakeResource, data_type: str, day: dt.date, threat: StoryThreat, name: str) -> dict | None:
    """One artifact of a built threat; None when it was not written (or cannot be read)."""
    if name not in threat.artifacts or name not in ARTIFACTS[data_type]:
        return None
    try:
        found = lake.read_json(f"{lake.storyboard_dir(data_type, day)}/{threat.id}/{name}.json")
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def states(threats: list[StoryThreat]) -> dict[str, str]:
    """What the page polls for: each threat's state and version (an edit changes it)."""
    return {t.id: f"{t.state}@{t.updated_at.isoformat()}" for t in threats}


def building(threats: list[StoryThreat]) -> bool:
    return any(t.state != READY for t in threats)

