"""A fitted topic model as the rest of the graph sees it: θ per document (IP), φ per word, stored in
the lake per type and day beside its parameters, so scoring, backfills and audits read the very
model a day was scored with.

Several fits of the same corpus with different seeds (``[ml] seeds``) are stored as one model
(``combine``) whose scores are the mean of theirs.

Spot's PRECISION: a model stored with 32 bits is loaded and scored with 32 bits, which halves it in
the lake and in the copy every scoring task holds; its scores differ from the 64-bit ones from the
seventh significant digit on.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from resources.lake import LakeResource
from spot_assets.datatypes import DATA_TYPES

FLOATS = {32: pa.float32(), 64: pa.float64()}


class TopicModel:
    """θ (documents × topics) and φ (words × topics, each topic column summing to 1), with lookups."""

    def __init__(self, docs, theta: np.ndarray, words, phi: np.ndarray):
        self.docs = pd.Index(docs)
        self.words = pd.Index(words)
        # The same keys as Arrow arrays: scoring looks events up in them without leaving Arrow.
        self.doc_keys = pa.array(self.docs.astype(str).to_numpy(), pa.string())
        self.word_keys = pa.array(self.words.astype(str).to_numpy(), pa.string())
        theta, phi = np.asarray(theta), np.asarray(phi)
        dtype = np.result_type(theta.dtype, phi.dtype, np.float32)  # float32 only if both are
        self.theta = np.ascontiguousarray(theta, dtype=dtype)
        self.phi = np.ascontiguousarray(phi, dtype=dtype)
        if self.theta.shape != (len(self.docs), self.phi.shape[1]) or self.phi.shape[0] != len(self.words):
            raise ValueError(f"θ {self.theta.shape} and φ {self.phi.shape} do not fit {len(self.docs)} docs, "
                             f"{len(self.words)} words")

    @property
    def topics(self) -> int:
        return self.phi.shape[1]


def combine(models: list[TopicModel]) -> TopicModel:
    """One model whose score of every (ip, word) is the mean of the ``models``' scores.

    Σ_t θ[t]·φ[t] over the topics of all models side by side, each θ scaled by 1/n, is the mean of
    the n dot products, so the result is an ordinary model of n·k topics: stored, loaded and scored
    as one (θ rows still sum to 1, φ columns are each one model's topic). Documents and words are
    those of the first model; the others are aligned to them (a document or word one model lacks
    scores 0 in it).
    """
    if len(models) == 1:
        return models[0]
    first = models[0]

    def aligned(keys: pd.Index, own: pd.Index, matrix: np.ndarray) -> np.ndarray:
        at = own.get_indexer(keys)
        return np.where((at >= 0)[:, None], matrix[at], 0.0)

    theta = np.hstack([aligned(first.docs, m.docs, m.theta) for m in models]) / len(models)
    phi = np.hstack([aligned(first.words, m.words, m.phi) for m in models])
    return TopicModel(first.docs, theta, first.words, phi)


def _matrix(column: pa.ChunkedArray, width: int) -> np.ndarray:
    flat = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return flat.reshape(len(column), width) if len(column) else np.zeros((0, width))


def _table(key: str, keys: pd.Index, matrix: np.ndarray, precision: int) -> pa.Table:
    values = pa.array(np.ascontiguousarray(matrix).ravel(), pa.float64()).cast(FLOATS[precision])
    topics = pa.FixedSizeListArray.from_arrays(values, matrix.shape[1]).cast(pa.list_(FLOATS[precision]))
    return pa.table({key: pa.array(keys.astype(str).to_numpy(), pa.string()), "topics": topics})


def save(lake: LakeResource, data_type: str, day: dt.date, model: TopicModel, precision: int = 64) -> None:
    lake.replace_day(DATA_TYPES[data_type].table("theta"), day, _table("ip", model.docs, model.theta, precision))
    lake.replace_day(DATA_TYPES[data_type].table("phi"), day, _table("word", model.words, model.phi, precision))


def load(lake: LakeResource, data_type: str, day: dt.date) -> TopicModel:
    """The day's model, in the precision it was stored with."""
    try:
        theta = lake.read_day(DATA_TYPES[data_type].table("theta"), day)
        phi = lake.read_day(DATA_TYPES[data_type].table("phi"), day)
    except FileNotFoundError:
        phi = None
    if phi is None or phi.num_rows == 0:
        raise FileNotFoundError(f"no {data_type} model for {day}: materialize {data_type}_model first")
    k = len(phi["topics"][0])
    return TopicModel(theta["ip"].to_numpy(zero_copy_only=False), _matrix(theta["topics"], k),
                      phi["word"].to_numpy(zero_copy_only=False), _matrix(phi["topics"], k))
