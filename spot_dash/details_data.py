"""What the Details panel shows, read from what the graph materialized (``<type>_details``,
``dns_dendro``; ``spot_assets/oa/details.py``) or, for what it does not hold, computed by the same OA
functions for the one row or IP asked about: a row's details, a DNS client's queries and answers, and
an IP's bytes with its peers (the chord diagram).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from resources.lake import LakeResource
from spot_assets.datatypes import DNS, FLOW
from spot_assets.oa.details import LIMIT, row_details
from spot_assets.oa.investigate import read_matching
from spot_dash.views import view


def details(lake: LakeResource, data_type: str, row: dict) -> pa.Table:
    """Spot's edge details of a suspicious row (``row_details``), in the columns the page shows."""
    return row_details(lake, data_type, row).select(view(data_type).DETAIL_COLUMNS)


@dataclasses.dataclass(frozen=True)
class Chord:
    """Bytes between one IP and its peers: ``matrix[i][j]`` = input bytes from ``labels[i]`` to ``labels[j]``."""

    ip: str
    labels: list[str]
    matrix: np.ndarray


def flow_chord(lake: LakeResource, day: dt.date, ip: str, top: int = 12) -> Chord:
    """One IP's bytes with every peer that day, per direction (the OA's ``chord_sums``; its
    ``flow_chords`` table holds only the suspicious peers of IPs with several, so it is not read
    here); peers past the ``top`` busiest become "other"."""
    events = read_matching(lake, FLOW.name, day, ["sip", "dip", "ibyt", "ipkt"], {"sip": ip, "dip": ip})
    peers = pa.concat_arrays([events["sip"].combine_chunks(), events["dip"].combine_chunks()]).unique()
    sums = FLOW.oa.chord_sums(events, pa.table({"ip_threat": pa.array([ip] * len(peers), pa.string()), "peer": peers}))
    sip, dip = sums["sip"].to_pylist(), sums["dip"].to_pylist()
    byt = np.nan_to_num(np.asarray(sums["ibyt"].to_numpy(zero_copy_only=False), dtype=float))
    totals: dict[str, float] = {}
    for s, d, b in zip(sip, dip, byt):
        peer = d if s == ip else s
        totals[peer] = totals.get(peer, 0.0) + b
    ranked = sorted(totals, key=lambda p: (-totals[p], p))
    kept = [p for p in ranked if p != ip][:top]
    other = len(ranked) - len(kept) - (ip in totals) > 0
    labels = [ip, *kept] + (["other"] if other else [])
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)))
    for s, d, b in zip(sip, dip, byt):
        i, j = index.get(s, index.get("other")), index.get(d, index.get("other"))
        if i is not None and j is not None:
            matrix[i, j] += b
    return Chord(ip, labels, matrix)


def dns_tree(lake: LakeResource, day: dt.date, ip: str, limit: int = LIMIT) -> pa.Table:
    """A client's queries and their answers that day, counted (``queries``), the most frequent first
    (Spot's ``dns_dendro``): read for a suspicious client, computed the same way for another."""
    table = DNS.table("dendro")
    found = lake.read_day(table, day, filter=ds.field("ip_dst") == ip) if lake.day_files(table, day) else None
    if found is None or found.num_rows == 0:
        found = DNS.oa.dendro(lake, day, pa.array([ip], pa.string()))
    return found.sort_by([("queries", "descending"), ("dns_qry_name", "ascending"),
                          ("dns_a", "ascending")]).slice(0, limit)
