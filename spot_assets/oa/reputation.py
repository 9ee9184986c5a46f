"""Reputation plug-ins (Spot's ``oa/components/reputation``, spec §4.5) and the columns they fill.

A provider is anything with a ``name`` and ``check(kind, values)``: given IPs, domains or URLs
(``kind`` "ip", "domain" or "url") it returns a ``Reputation`` for the values it has a verdict on and
leaves the others out. Levels are Spot's: -1 unverified, 0 none, 1 low, 2 medium, 3 high.

Built in:

* ``ThreatIntelList``: local files (``[context] threat_intel``), one indicator a line, CSV
  ``indicator[,label[,source[,level]]]``; a plain list of indicators is the one-column case. An indicator
  is an IP, a CIDR, a URL (has ``://``) or a domain (which also covers its subdomains; a leading ``*.``
  is accepted). Label defaults to ``listed``, source to the file's stem, level to 3 (high: it is on a
  threat list); level is -1..3 or a level name. A first line whose indicator is ``indicator``, ``ioc`` or
  ``value`` is a header. A URL is listed when its normalized form is (scheme and host lower-cased,
  fragment dropped, empty path as ``/``, ``http://`` assumed when there is no scheme) or when its host is
  a listed domain or IP. Several entries for a value: the highest level wins, then the most specific
  entry (address before block, longer domain before shorter, URL before its host), then file order.
* ``HttpProvider``: ``[[context.http_reputation]]`` services, off unless ``enabled``. One GET per value on
  ``url`` (``{kind}`` and ``{value}``, URL-encoded, substituted), answer JSON
  ``{"level": -1..3, "label": "...", "categories": [...]}``; 404 means no verdict (level 0). Verdicts
  are cached on disk for ``cache_ttl`` seconds. A service that cannot be reached is reported once, in a
  warning that names it, and the values not yet checked stay unverified (-1); it never raises.

``reputation_columns`` asks every provider about the distinct values of a column and gives each row
Spot's string (``source:LABEL:level[:cat;cat]`` per verdict, joined by ``::`` in provider order, as the
UI's ``parseReputation`` reads it) and the highest level (null when no provider had a verdict). Spot
kept one service's string per IP for flows and joined all of them for DNS and proxy; all are joined
here for every type. A provider that raises is logged and its values marked unverified: reputation
never fails a run.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, NamedTuple, Protocol

import pyarrow as pa

from spot_assets.oa.context import Blocks, parse_address
from spot_assets.oa.distinct import per_distinct
from spot_assets.oa.files import BadLines, Log, rows

Kind = Literal["ip", "domain", "url"]
UNVERIFIED, NONE, LOW, MEDIUM, HIGH = -1, 0, 1, 2, 3
LEVELS = {"unverified": UNVERIFIED, "none": NONE, "low": LOW, "medium": MEDIUM, "high": HIGH}


@dataclass(frozen=True)
class Reputation:
    level: int
    label: str
    categories: tuple[str, ...] = ()
    source: str = ""

    def spot_string(self) -> str:
        """``source:LABEL:level[:cat;cat]``, with the separators Spot's UI splits on taken out of the parts."""
        clean = lambda s: re.sub(r"[:;]", "_", str(s))  # noqa: E731
        text = f"{clean(self.source)}:{clean(self.label)}:{self.level}"
        return f"{text}:{';'.join(clean(c) for c in self.categories)}" if self.categories else text


class ReputationProvider(Protocol):
    name: str

    def check(self, kind: Kind, values: list[str]) -> dict[str, Reputation]: ...


# ----- the local threat-intelligence list


def _domain(text: str) -> str:
    return text.strip().lower().removeprefix("*.").strip(".")


def normalize_url(text: str) -> str:
    parts = urllib.parse.urlsplit(text.strip() if "://" in text else "http://" + text.strip())
    return urllib.parse.urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


class _Entry(NamedTuple):
    reputation: Reputation
    order: int  # position over all lists: the last tie-breaker

    @property
    def level(self) -> int:
        return self.reputation.level


_DOMAIN = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$")
_HEADERS = {"indicator", "ioc", "value"}


class ThreatIntelList:
    """Threat-intelligence files as one provider (see the module docstring for the format and rules)."""

    name = "threat_intel"

    def __init__(self, paths: list[Path], log: Log):
        self.domains: dict[str, _Entry] = {}  # domain -> best entry
        self.urls: dict[str, _Entry] = {}
        blocks: list[tuple] = []  # (start, end, entry) of IPs and CIDRs
        order = 0
        for path in paths:
            bad = BadLines(path, log)
            for n, (line, fields) in enumerate(rows(path)):
                if n == 0 and fields[0].lower() in _HEADERS:
                    continue
                try:
                    self._add(*self._entry(fields, path.stem, order), blocks)
                except ValueError as e:
                    bad.add(line, str(e))
                    continue
                order += 1
            bad.close()
        # Sorted so that the first block holding an address is the best one: level, then size, then order.
        blocks.sort(key=lambda b: (-b[2].level, int(b[1]) - int(b[0]), b[2].order))
        self._block_entries = [b[2] for b in blocks]
        self._blocks = Blocks.build([(b[0], b[1], None) for b in blocks])

    @staticmethod
    def _entry(fields: list[str], stem: str, order: int) -> tuple[str, _Entry]:
        indicator, label, source, level = (fields + ["", "", "", ""])[:4]
        if not indicator:
            raise ValueError("no indicator")
        if level:
            level = LEVELS.get(level.lower(), level)
            try:
                level = int(level)
            except ValueError:
                raise ValueError(f"level {level!r} is neither -1..3 nor a level name") from None
            if level not in LEVELS.values():
                raise ValueError(f"level {level} is not in -1..3")
        else:
            level = HIGH
        return indicator, _Entry(Reputation(level, label or "listed", (), source or stem), order)

    def _add(self, indicator: str, entry: _Entry, blocks: list) -> None:
        def keep(table: dict, key: str) -> None:
            if key not in table or entry.level > table[key].level:  # equal level: the earlier line stays
                table[key] = entry

        if "://" in indicator:
            keep(self.urls, normalize_url(indicator))
        elif "/" in indicator:
            network = ipaddress.ip_network(indicator, strict=False)  # ValueError: a bad line
            blocks.append((network[0], network[-1], entry))
        elif (address := parse_address(indicator)) is not None:
            blocks.append((address, address, entry))
        elif _DOMAIN.match(_domain(indicator)):
            keep(self.domains, _domain(indicator))
        else:
            raise ValueError(f"{indicator!r} is not an IP, CIDR, domain or URL")

    def _ips(self, values: list[str]) -> list[_Entry | None]:
        found = self._blocks.first_match([parse_address(v) for v in values]).to_pylist()
        return [None if i is None else self._block_entries[i] for i in found]

    def _domain_entry(self, name: str) -> _Entry | None:
        """The best entry for the name or one of its parents (longer first on equal level)."""
        labels, best = _domain(name).split("."), None
        for i in range(len(labels)):
            entry = self.domains.get(".".join(labels[i:]))
            if entry is not None and (best is None or entry.level > best.level):
                best = entry
        return best

    def _url(self, value: str) -> _Entry | None:
        host = urllib.parse.urlsplit(normalize_url(value)).hostname or ""
        by_host = self._ips([host])[0] if parse_address(host) else self._domain_entry(host)
        candidates = [self.urls.get(normalize_url(value)), by_host]
        found = [c for c in candidates if c is not None]
        return max(found, key=lambda e: e.level) if found else None  # max keeps the first (the URL) on a tie

    def check(self, kind: Kind, values: list[str]) -> dict[str, Reputation]:
        if kind == "ip":
            entries = self._ips(values)
        else:
            entries = [(self._domain_entry if kind == "domain" else self._url)(v) for v in values]
        return {v: e.reputation for v, e in zip(values, entries) if e is not None}


# ----- HTTP services


class _Unreachable(Exception):
    pass


class HttpProvider:
    """A reputation web service (see the module docstring for the request and answer)."""

    def __init__(self, name: str, url: str, log: Log, kinds: tuple[str, ...] = ("ip", "domain", "url"),
                 timeout: float = 5.0, cache_ttl: float = 86400, headers: dict[str, str] | None = None,
                 cache_dir: Path | None = None):
        self.name, self.url, self.log, self.kinds = name, url, log, tuple(kinds)
        self.timeout, self.cache_ttl = timeout, cache_ttl
        # A header value "$NAME" is read from the environment, so secrets stay out of spot.toml.
        self.headers = {k: os.environ.get(v[1:], "") if v.startswith("$") else v for k, v in (headers or {}).items()}
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        self.cache_file = cache_dir / f"{safe}.json" if cache_dir and cache_ttl > 0 else None

    def _unverified(self, label: str = "UNVERIFIED") -> Reputation:
        return Reputation(UNVERIFIED, label, (), self.name)

    def _load_cache(self) -> dict:
        if self.cache_file is None or not self.cache_file.exists():
            return {}
        try:
            return json.loads(self.cache_file.read_text())
        except (OSError, ValueError) as e:
            self.log.warning(f"reputation cache {self.cache_file} unreadable ({e}); starting a new one")
            return {}

    def _save_cache(self, cache: dict) -> None:
        if self.cache_file is None:
            return
        now = time.time()
        fresh = {k: v for k, v in cache.items() if now - v["at"] < self.cache_ttl}
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_file.with_suffix(f".tmp-{os.getpid()}")
            tmp.write_text(json.dumps(fresh))
            tmp.replace(self.cache_file)
        except OSError as e:
            self.log.warning(f"reputation cache {self.cache_file} not written ({e})")

    def _query(self, kind: str, value: str) -> Reputation:
        url = self.url.format(kind=kind, value=urllib.parse.quote(value, safe=""))
        request = urllib.request.Request(url, headers={"Accept": "application/json", **self.headers})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return Reputation(NONE, "NONE", (), self.name)
            raise ValueError(f"HTTP {e.code}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            raise _Unreachable(getattr(e, "reason", e)) from None
        level = int(answer["level"])
        if level not in LEVELS.values():
            raise ValueError(f"level {level} is not in -1..3")
        return Reputation(level, str(answer.get("label") or level), tuple(map(str, answer.get("categories") or ())),
                          self.name)

    def check(self, kind: Kind, values: list[str]) -> dict[str, Reputation]:
        if kind not in self.kinds or not values:
            return {}
        cache, now, out, pending = self._load_cache(), time.time(), {}, []
        for value in values:
            hit = cache.get(f"{kind}\t{value}")
            if hit is not None and now - hit["at"] < self.cache_ttl:
                rep = hit["reputation"]
                out[value] = Reputation(rep["level"], rep["label"], tuple(rep["categories"]), rep["source"])
            else:
                pending.append(value)
        failures = []
        for i, value in enumerate(pending):
            try:
                rep = self._query(kind, value)
            except _Unreachable as e:
                host = urllib.parse.urlsplit(self.url).netloc
                self.log.warning(f"reputation service {self.name!r} unreachable at {host} ({e}); "
                                 f"{len(pending) - i} {kind} values left unverified")
                out.update({v: self._unverified() for v in pending[i:]})
                break
            except (ValueError, KeyError, TypeError) as e:
                failures.append(f"{value}: {e}")
                out[value] = self._unverified()
                continue
            out[value] = rep
            cache[f"{kind}\t{value}"] = {"at": now, "reputation": asdict(rep)}
        if failures:
            self.log.warning(f"reputation service {self.name!r} gave no usable answer for {len(failures)} {kind} "
                             f"values (first: {failures[0]}); they are unverified")
        self._save_cache(cache)
        return out


# ----- columns


def reputation_columns(kind: Kind, values: pa.Array | pa.ChunkedArray, providers: list[ReputationProvider],
                       log: Log) -> tuple[pa.Array, pa.Array]:
    """(Spot's reputation string, highest level) of each value; both null where no provider had a verdict."""

    def compute(distinct: list[str]) -> dict[str, pa.Array]:
        verdicts: dict[str, list[Reputation]] = {v: [] for v in distinct}
        for provider in providers:
            try:
                found = provider.check(kind, distinct)
            except Exception as e:  # a plug-in's failure must not fail the run
                log.warning(f"reputation provider {provider.name!r} failed ({type(e).__name__}: {e}); "
                            f"{len(distinct)} {kind} values left unverified")
                found = {v: Reputation(UNVERIFIED, "UNVERIFIED", (), provider.name) for v in distinct}
            for value, rep in found.items():
                verdicts[value].append(rep)
        strings = ["::".join(r.spot_string() for r in reps) or None for reps in verdicts.values()]
        levels = [max((r.level for r in reps), default=None) for reps in verdicts.values()]
        return {"rep": pa.array(strings, pa.string()), "level": pa.array(levels, pa.int32())}

    out = per_distinct(values, compute)
    return out["rep"], out["level"]

