"""Scoring an event: how probable its word is in its IP's document under the day's topic model.

    score(ip, word) = Σ_t θ_ip[t] · P(word | t)          (spec §3.5)

A word the model never saw scores 0 (the most suspicious); an event whose word could not be built
(``word_error``) scores -1 and is never suspicious. Flow events take the lower of their source and
destination scores (``lowest``). Vectorized: IPs and words are looked up in Arrow (a hash of the model's keys,
no conversion of the event columns to Python objects) and the dot products are computed in chunks
small enough to stay in cache; no Python loop per event.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spot_assets.ml.model import TopicModel
from spot_assets.ml.words import WORD_ERROR

CHUNK = 200_000


def _strings(values) -> pa.Array | pa.ChunkedArray:
    return values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, pa.string())


def _positions(values, keys: pa.Array) -> np.ndarray:
    """Each value's row in the model, -1 where the model does not know it."""
    return pc.fill_null(pc.index_in(values, value_set=keys), -1).to_numpy(zero_copy_only=False)


def score(model: TopicModel, ips, words) -> np.ndarray:
    ips, words = _strings(ips), _strings(words)
    doc = _positions(ips, model.doc_keys)
    word = _positions(words, model.word_keys)
    out = np.zeros(len(doc), dtype=np.float64)
    known = np.flatnonzero((doc >= 0) & (word >= 0))
    for start in range(0, len(known), CHUNK):
        rows = known[start:start + CHUNK]
        out[rows] = np.einsum("ij,ij->i", model.theta[doc[rows]], model.phi[word[rows]])
    out[pc.fill_null(pc.equal(words, WORD_ERROR), False).to_numpy(zero_copy_only=False)] = -1.0
    return out


def lowest(sides: list[np.ndarray]) -> np.ndarray:
    """An event in several documents (flow: its source's and its destination's) scores the lowest of
    its words (spec §3.5); a ``word_error`` on any side scores -1."""
    low = np.minimum.reduce(sides)
    return np.where(np.logical_or.reduce([side < 0 for side in sides]), -1.0, low)


def flow_scores(model: TopicModel, sip, src_word, dip, dst_word) -> np.ndarray:
    return lowest([score(model, sip, src_word), score(model, dip, dst_word)])


def event_scores(model: TopicModel, table: pa.Table, documents: tuple[tuple[str, str], ...]) -> np.ndarray:
    """The score of every worded event of ``table``, whose (ip, word) columns are ``documents`` (the
    type's ``word_rule.DOCUMENTS``)."""
    return lowest([score(model, table[ip], table[word]) for ip, word in documents])
