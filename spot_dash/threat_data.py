"""What the Threat investigation and Storyboard pages show, as pure functions of the lake and the
analyst store (no Dash here, no Spark: the expanded searches are the OA's DuckDB/pyarrow reads).

* **High-risk items**: the anchors of the day's current ratings of 1 (spec §5.3), the values of the
  type's anchor keys (``DataType.anchors``): flow, every IP a rating selects (source or destination);
  DNS, client IPs and query names; proxy, full URIs. A rating that selects none of these (a port alone,
  a proxy client alone) names no anchor and is not listed.
* **Expanded search** of one anchor, as the tables the page shows (each type's ``search`` in its view:
  flow, peers per class and the top ``n`` by connections and by bytes; DNS, the names a client queried
  or the clients of a name, the top ``n``; proxy, the requests, the top ``n`` clients and the URIs it
  referred).
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

from resources.lake import LakeResource
from resources.store import HIGH, Rating, Threat
from spot_assets.datatypes import DATA_TYPES
from spot_assets.oa import investigate
from spot_assets.oa.storyboard import anchor_id
from spot_dash.inputs import Invalid, clean_text, is_ip, parse_ip
from spot_dash.views import view

DEFAULT_TOP_N = investigate.TOP_N
MAX_TOP_N = 500
MAX_TITLE = 200
MAX_DESCRIPTION = 5000
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

KIND_LABELS = {"ip": "IP", "client": "client IP", "query": "query name", "uri": "URI"}
ADDRESS_KINDS = {"ip", "client"}


# ----- validation


def parse_anchor(data_type: str, text: str | None) -> str:
    """An anchor's form, by the type's anchor kinds: an IP (flow), an IP or a query name (DNS), a URI (proxy)."""
    kinds = list(DATA_TYPES[data_type].anchors.values())
    names = [k for k in kinds if k not in ADDRESS_KINDS]
    if not names or (len(names) < len(kinds) and is_ip(str(text or ""))):
        return parse_ip(text)
    value = clean_text(text, KIND_LABELS[names[0]])
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
        for key, kind in DATA_TYPES[data_type].anchors.items():
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


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def expanded_search(lake: LakeResource, data_type: str, day: dt.date, anchor: str, top_n: int) -> Search:
    """The type's expanded search (``search`` of its view, ``spot_dash/views/<type>.py``)."""
    return view(data_type).search(lake, day, anchor, top_n)


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
            names = tuple(n for n in DATA_TYPES[data_type].artifacts if n in (entry.get("artifacts") or {}))
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
    if name not in threat.artifacts or name not in DATA_TYPES[data_type].artifacts:
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

