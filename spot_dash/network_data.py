"""The network view's elements (cytoscape nodes and edges) as pure functions of a list: the shared
graph rules here, what each type draws in its view module (``spot_dash/views/<type>.py``).

Nodes carry their number of rows (``hits``) and edges the heaviest of their rows' weights; ids are
hex digests, safe inside a cytoscape selector whatever the value holds.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spot_dash.views import view


def node_id(kind: str, value: str) -> str:
    """Cytoscape ids that are safe inside a selector whatever the value holds (quotes, dots, slashes)."""
    return kind[0] + hashlib.blake2s(f"{kind}\0{value}".encode(), digest_size=8).hexdigest()


def edge_id(a: str, b: str) -> str:
    return "e" + "".join(sorted((a, b)))


def edge_weight(scores: np.ndarray) -> np.ndarray:
    """Spot's link value: -ln(score), so a rarer event draws a heavier link (0 scores cap at 30)."""
    with np.errstate(divide="ignore"):
        return np.minimum(-np.log(np.clip(scores, 0, None)), 30.0)


def scores(table: pa.Table) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.cast(table["score"], pa.float64()), 1.0).to_numpy(zero_copy_only=False))


def graph(pairs: list[tuple[str, str, str, str]], weights: np.ndarray, info: dict[str, dict]) -> list[dict]:
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


def network_elements(table: pa.Table, data_type: str, expanded: set[str] | frozenset = frozenset()) -> list[dict]:
    """The view of a list; ``expanded``: the open nodes of a tree view (proxy)."""
    return view(data_type).elements(table, expanded)


def row_elements(row: dict, data_type: str) -> list[str]:
    """The network-view ids a grid row stands for (its nodes and its edge), to highlight them."""
    return view(data_type).row_elements(row)
