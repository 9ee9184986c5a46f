"""An event's current severity: what analysts said about it, from the ratings of the analyst store.

A rating selects events by exact values of some key columns (``DataType.rating_keys``); the
event's severity is the one of the latest rating (by ``created_at``, then list order) whose values all
equal the event's, or null when no rating selects it. Pass the ratings of the events' day
(``AnalystStore.ratings(type, [day])``): a rating applies to the events of its own day.

Vectorized as one hash join per set of selected columns (a flow has at most 15), so it serves the
enrichment asset and the dashboard alike, whatever the number of events or ratings. The ``severity``
column of ``<type>_enriched`` is this function's answer when the day was materialized; a reader that
needs the answer of now calls it again on that table, with ``columns=DataType.enriched_names`` (the
flow table spells ``sip``/``dip`` as Spot's ``srcip``/``dstip``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Mapping, Sequence

import numpy as np
import pyarrow as pa

from resources.store import Rating

def severity_of(events: pa.Table, ratings: Sequence[Rating], columns: Mapping[str, str] | None = None) -> pa.Array:
    """Each event's current severity (1/2/3) or null; ``columns`` maps a rating key to the table's column
    when the table names it differently."""
    column = lambda key: (columns or {}).get(key, key)  # noqa: E731
    n = events.num_rows
    order = sorted(range(len(ratings)), key=lambda i: ratings[i].created_at)  # stable: ties keep list order
    by_keys: dict[tuple, list[int]] = defaultdict(list)  # selected keys -> positions in ``order``
    for rank, i in enumerate(order):
        by_keys[tuple(sorted(ratings[i].selector))].append(rank)
    latest = np.full(n, -1, dtype=np.int64)  # per event: position in ``order`` of its latest matching rating
    for keys, ranks in by_keys.items():
        left = pa.table({**{c: events[column(c)] for c in keys}, "__row": pa.array(np.arange(n))})
        right = pa.table({
            **{c: pa.array([ratings[order[r]].selector[c] for r in ranks]).cast(events.schema.field(column(c)).type)
               for c in keys},
            "__rank": pa.array(ranks, pa.int64()),
        })
        matched = left.join(right, keys=list(keys), join_type="inner")
        np.maximum.at(latest, matched["__row"].to_numpy(), matched["__rank"].to_numpy())
    severities = np.array([ratings[i].severity for i in order] or [0], dtype=np.int32)
    return pa.array(severities[np.maximum(latest, 0)], pa.int32(), mask=latest < 0)
