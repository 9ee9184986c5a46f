"""Scoring an event: how probable its word is in its IP's document under the day's topic model.

    score(ip, word) = Σ_t θ_ip[t] · P(word | t)          (spec §3.5)

A word the model never saw scores 0 (the most suspicious); an event whose word could not be built
(``word_error``) scores -1 and is never suspicious. Flow events take the lower of their source and
destination scores. Vectorized: indices are looked up with pandas' hash index and the dot products
are computed in chunks small enough to stay in cache; no Python loop per event.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spot_assets.ml.model import TopicModel
from spot_assets.ml.words import WORD_ERROR

CHUNK = 200_000


def score(model: TopicModel, ips, words) -> np.ndarray:
    doc = model.docs.get_indexer(ips)
    word = model.words.get_indexer(words)
    out = np.zeros(len(doc), dtype=np.float64)
    known = np.flatnonzero((doc >= 0) & (word >= 0))
    for start in range(0, len(known), CHUNK):
        rows = known[start:start + CHUNK]
        out[rows] = np.einsum("ij,ij->i", model.theta[doc[rows]], model.phi[word[rows]])
    out[np.asarray(pd.Series(words).eq(WORD_ERROR))] = -1.0
    return out


def flow_scores(model: TopicModel, sip, src_word, dip, dst_word) -> np.ndarray:
    """The lower of the two sides (spec §3.5); a ``word_error`` on either side scores -1."""
    src = score(model, sip, src_word)
    dst = score(model, dip, dst_word)
    return np.where((src < 0) | (dst < 0), -1.0, np.minimum(src, dst))
