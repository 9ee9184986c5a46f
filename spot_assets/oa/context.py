"""Where an address is: inside the network or not, what the network calls it, where it is on the map.

Addresses are IPv4 or IPv6, compared as 16-byte big-endian keys (an IPv4 address as its IPv4-mapped IPv6
address), so one numpy comparison serves both families.

**Address blocks** (``[context] ip_ranges``, Spot's ``ipranges.csv``; ``[context] network_context``,
Spot's ``networkcontext_1.csv``, spec §4.2 step 2 and §4.6) share one format, a block then a label::

    10.0.0.0/8,Corporate LAN                 a CIDR
    192.168.1.10-192.168.1.20,Printers       a range ip1-ip2 in one field
    172.16.0.1,172.16.0.255,DMZ              Spot's ipranges.csv: start,end[,label]
    10.1.2.3,Domain controller               one address

The first block in file order that holds an address gives its label (Spot's network-context rule): put
specific blocks before the wide ones. An address in any block of ``ip_ranges`` is internal (1, else 0,
Spot's ``srcip_internal``); without an ``ip_ranges`` file the flag is null, where Spot wrote 0: not
knowing is not the same as external. A first line that is not a block is a header (Spot skipped one);
any later one is skipped with a warning. Blocks are matched by brute force (distinct addresses x blocks,
in numpy): these files list an organisation's networks, hundreds of lines, not millions.

**iploc** (``[context] iploc``, Spot's ``iploc.csv``, spec §4.2 step 3): quoted CSV, no header, IPv4 only,
``start, end`` (integers a·2²⁴+b·2¹⁶+c·2⁸+d), country code, country, state, city, latitude, longitude,
owner, domain. Sorted by start and searched with ``searchsorted`` (Spot bisected it the same way); where
rows overlap, the one with the greatest start at or below the address is tried. Spot's ``geoloc`` string
is ``"<state>;<city> <owner>"`` and its ``domain`` the last field.

**MaxMind DB** (``[context] mmdb``, e.g. GeoLite2-City or an ASN database), read with MaxMind's own
``maxminddb`` reader. It is asked first; iploc answers for the addresses it does not know. Its geoloc
string is built the same way from the first subdivision, the city and the organisation (ASN or ISP).

An address nothing knows, or a value that is not an address, gets null in every column.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

import maxminddb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from spot_assets.oa.distinct import per_distinct
from spot_assets.oa.files import BadLines, Log, rows

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_V4_MAPPED = 0xFFFF << 32
_MAX_CELLS = 4_000_000  # addresses x blocks compared at once

GEO = {"geoloc": pa.string(), "domain": pa.string(), "country": pa.string(), "city": pa.string(),
       "lat": pa.float64(), "lon": pa.float64()}
# What ``AddressContext.columns`` returns for each address.
ADDRESS = {"internal": pa.int32(), "range": pa.string(), "context": pa.string(), **GEO}


def parse_address(text: str | None) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except (ValueError, AttributeError):
        return None


def address_keys(addresses: list[Address]) -> np.ndarray:
    return np.array([(int(a) + _V4_MAPPED if a.version == 4 else int(a)).to_bytes(16, "big") for a in addresses],
                    dtype="S16")


def _nullable_index(index: np.ndarray) -> pa.Array:
    """Row indices with -1 (no match) as null, so ``take`` yields null there."""
    return pa.array(index, pa.int64(), mask=index < 0)


def _valid(addresses: list[Address | None]) -> tuple[np.ndarray, list[Address]]:
    positions = np.array([i for i, a in enumerate(addresses) if a is not None], dtype=np.int64)
    return positions, [addresses[i] for i in positions]


# ----- address blocks


@dataclass(frozen=True)
class Blocks:
    """Labelled address blocks in file order."""

    starts: np.ndarray
    ends: np.ndarray
    labels: pa.Array

    @classmethod
    def build(cls, entries: list[tuple[Address, Address, str | None]]) -> Blocks:
        return cls(address_keys([e[0] for e in entries]), address_keys([e[1] for e in entries]),
                   pa.array([e[2] for e in entries], pa.string()))

    def first_match(self, addresses: list[Address | None]) -> pa.Array:
        """Index of the first block holding each address; null for none (or no address)."""
        out = np.full(len(addresses), -1, dtype=np.int64)
        positions, valid = _valid(addresses)
        if len(self.starts) and valid:
            keys = address_keys(valid)
            step = max(1, _MAX_CELLS // len(self.starts))
            for i in range(0, len(keys), step):
                chunk = keys[i:i + step, None]
                hit = (self.starts <= chunk) & (chunk <= self.ends)
                out[positions[i:i + step]] = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
        return _nullable_index(out)


def _block(fields: list[str]) -> tuple[Address, Address, str | None]:
    first, rest = fields[0], fields[1:]
    if "/" in first:
        network = ipaddress.ip_network(first, strict=False)
        start, end = network[0], network[-1]
    elif "-" in first:
        low, high = first.split("-", 1)
        start, end = ipaddress.ip_address(low.strip()), ipaddress.ip_address(high.strip())
    else:
        start = end = ipaddress.ip_address(first)
        if rest and (second := parse_address(rest[0])) is not None:
            end, rest = second, rest[1:]
    if start.version != end.version or start > end:
        raise ValueError(f"{start} to {end} is not a range")
    return start, end, (rest[0] or None) if rest else None


def load_blocks(path: Path, log: Log) -> Blocks:
    entries, bad = [], BadLines(path, log)
    for n, (line, fields) in enumerate(rows(path)):
        try:
            entries.append(_block(fields))
        except ValueError as e:
            if n:  # the first line may be a header
                bad.add(line, f"not an address block ({e})")
    bad.close()
    return Blocks.build(entries)


# ----- geolocation


IPLOC_COLUMNS = ("start", "end", "country_code", "country", "state", "city", "lat", "lon", "owner", "domain")
_IPV4_MAX = 2**32 - 1


def _numbers(values: pa.Array, pattern: str, to: pa.DataType) -> pa.Array:
    """``values`` that match ``pattern`` as numbers; others null (a bad coordinate does not lose the row)."""
    return pc.if_else(pc.match_substring_regex(values, pattern), values, pa.scalar(None, pa.string())).cast(to)


def _geoloc(state: pa.Array, city: pa.Array, owner: pa.Array) -> pa.Array:
    blank = lambda a: pc.fill_null(a, "")  # noqa: E731
    return pc.binary_join_element_wise(pc.binary_join_element_wise(blank(state), blank(city), ";"), blank(owner), " ")


@dataclass(frozen=True)
class IpLoc:
    starts: np.ndarray  # uint64, ascending
    ends: np.ndarray
    table: pa.Table  # iploc's text columns, in the order of ``starts``

    def locate(self, addresses: list[Address | None]) -> dict[str, pa.Array]:
        out = np.full(len(addresses), -1, dtype=np.int64)
        positions, valid = _valid(addresses)
        v4 = [(p, int(a)) for p, a in zip(positions, valid) if a.version == 4]
        if v4 and len(self.starts):
            where, values = np.array([p for p, _ in v4]), np.array([v for _, v in v4], dtype=np.uint64)
            row = np.searchsorted(self.starts, values, side="right") - 1
            hit = (row >= 0) & (values <= self.ends[np.maximum(row, 0)])
            out[where] = np.where(hit, row, -1)
        found = self.table.take(_nullable_index(out))
        return {
            "geoloc": pc.if_else(pc.is_valid(found["start"]), _geoloc(found["state"], found["city"], found["owner"]),
                                 pa.scalar(None, pa.string())),
            "domain": found["domain"], "country": found["country"], "city": found["city"],
            "lat": _numbers(pc.utf8_trim_whitespace(found["lat"]), r"^-?\d+(\.\d+)?$", pa.float64()),
            "lon": _numbers(pc.utf8_trim_whitespace(found["lon"]), r"^-?\d+(\.\d+)?$", pa.float64()),
        }


def load_iploc(path: Path, log: Log) -> IpLoc:
    """Spot's iploc.csv read with pyarrow (it can hold millions of ranges); bad lines warned with their number."""
    bad, skipped = BadLines(path, log), []

    def invalid(row) -> str:
        skipped.append(row.number)
        bad.add(row.number, f"{row.actual_columns} fields where iploc has {len(IPLOC_COLUMNS)}")
        return "skip"

    columns = list(IPLOC_COLUMNS)
    table = pv.read_csv(path, read_options=pv.ReadOptions(column_names=columns, use_threads=False),
                        parse_options=pv.ParseOptions(invalid_row_handler=invalid, ignore_empty_lines=False),
                        convert_options=pv.ConvertOptions(column_types=dict.fromkeys(columns, pa.string())))
    table = table.combine_chunks()
    # An empty line reads as a row of empty fields (kept so that row i is line lines[i]).
    lines = np.setdiff1d(np.arange(1, table.num_rows + len(skipped) + 1), skipped)
    start, end = (_numbers(table[c], r"^\d{1,10}$", pa.uint64()) for c in ("start", "end"))
    ok = pc.fill_null(pc.and_(pc.less_equal(start, end), pc.less_equal(end, _IPV4_MAX)), False).to_numpy(
        zero_copy_only=False)
    blank = pc.and_(pc.equal(table["start"], ""), pc.equal(table["end"], "")).to_numpy(zero_copy_only=False)
    for line in lines[~ok & ~blank]:
        if line != 1:  # the first line may be a header
            bad.add(int(line), "range start and end must be integers a*2^24+b*2^16+c*2^8+d with start <= end")
    bad.close()
    keep = pa.array(ok)
    table, start, end = table.filter(keep), start.filter(keep), end.filter(keep)
    order = pc.sort_indices(start)
    return IpLoc(start.take(order).to_numpy(), end.take(order).to_numpy(), table.take(order))


class MmdbGeo:
    """A MaxMind DB (City, Country, ASN or ISP layouts), opened once for a run."""

    def __init__(self, path: Path):
        self._reader = maxminddb.open_database(str(path))

    def close(self) -> None:
        self._reader.close()

    @staticmethod
    def _record(record: dict) -> dict:
        name = lambda d: ((d or {}).get("names") or {}).get("en")  # noqa: E731
        traits, location = record.get("traits") or {}, record.get("location") or {}
        state = name((record.get("subdivisions") or [None])[0])
        city = name(record.get("city"))
        owner = (record.get("autonomous_system_organization") or traits.get("autonomous_system_organization")
                 or traits.get("organization") or traits.get("isp") or record.get("isp") or record.get("organization"))
        return {"geoloc": f"{state or ''};{city or ''} {owner or ''}", "domain": traits.get("domain"),
                "country": name(record.get("country") or record.get("registered_country")), "city": city,
                "lat": location.get("latitude"), "lon": location.get("longitude")}

    def locate(self, addresses: list[Address | None]) -> tuple[pa.Array, dict[str, pa.Array]]:
        """(found, geo columns) for each address."""
        records = [self._reader.get(a) if a is not None else None for a in addresses]
        found = [isinstance(r, dict) for r in records]
        geo = [self._record(r) if f else {} for r, f in zip(records, found)]
        return pa.array(found, pa.bool_()), {c: pa.array([g.get(c) for g in geo], t) for c, t in GEO.items()}


# ----- everything about an address


@dataclass
class AddressContext:
    ranges: Blocks | None = None
    names: Blocks | None = None
    iploc: IpLoc | None = None
    mmdb: MmdbGeo | None = None

    def close(self) -> None:
        if self.mmdb is not None:
            self.mmdb.close()

    def columns(self, ips: pa.Array | pa.ChunkedArray) -> dict[str, pa.Array]:
        """The ``ADDRESS`` columns of each IP."""
        return per_distinct(ips, self._distinct)

    def _distinct(self, values: list[str]) -> dict[str, pa.Array]:
        addresses = [parse_address(v) for v in values]
        n = len(addresses)
        out = {c: pa.nulls(n, t) for c, t in ADDRESS.items()}
        if self.ranges is not None:
            index = self.ranges.first_match(addresses)
            parsed = pa.array([a is not None for a in addresses])
            out["internal"] = pc.if_else(parsed, pc.is_valid(index).cast(pa.int32()), pa.scalar(None, pa.int32()))
            out["range"] = self.ranges.labels.take(index)
        if self.names is not None:
            out["context"] = self.names.labels.take(self.names.first_match(addresses))
        if self.iploc is not None:
            out.update(self.iploc.locate(addresses))
        if self.mmdb is not None:
            found, geo = self.mmdb.locate(addresses)
            out.update({c: pc.if_else(found, geo[c], out[c]) for c in GEO})
        return out
