"""A fitted topic model as the rest of the graph sees it: θ per document (IP), φ per word, stored in
the lake per type and day beside its parameters, so scoring, backfills and audits read the very
model a day was scored with."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from resources.lake import LakeResource

THETA = pa.schema([("ip", pa.string()), ("topics", pa.list_(pa.float64()))])
PHI = pa.schema([("word", pa.string()), ("topics", pa.list_(pa.float64()))])


class TopicModel:
    """θ (documents × topics) and φ (words × topics, each topic column summing to 1), with lookups."""

    def __init__(self, docs, theta: np.ndarray, words, phi: np.ndarray):
        self.docs = pd.Index(docs)
        self.words = pd.Index(words)
        # The same keys as Arrow arrays: scoring looks events up in them without leaving Arrow.
        self.doc_keys = pa.array(self.docs.astype(str).to_numpy(), pa.string())
        self.word_keys = pa.array(self.words.astype(str).to_numpy(), pa.string())
        self.theta = np.ascontiguousarray(theta, dtype=np.float64)
        self.phi = np.ascontiguousarray(phi, dtype=np.float64)
        if self.theta.shape != (len(self.docs), self.phi.shape[1]) or self.phi.shape[0] != len(self.words):
            raise ValueError(f"θ {self.theta.shape} and φ {self.phi.shape} do not fit {len(self.docs)} docs, "
                             f"{len(self.words)} words")

    @property
    def topics(self) -> int:
        return self.phi.shape[1]


def _matrix(column: pa.ChunkedArray, width: int) -> np.ndarray:
    flat = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return flat.reshape(len(column), width) if len(column) else np.zeros((0, width))


def save(lake: LakeResource, data_type: str, day: dt.date, model: TopicModel) -> None:
    theta = pa.table({"ip": pa.array(model.docs.astype(str)), "topics": pa.array(list(model.theta))}, schema=THETA)
    phi = pa.table({"word": pa.array(model.words.astype(str)), "topics": pa.array(list(model.phi))}, schema=PHI)
    lake.replace_day(f"{data_type}_theta", day, theta)
    lake.replace_day(f"{data_type}_phi", day, phi)


def load(lake: LakeResource, data_type: str, day: dt.date) -> TopicModel:
    theta = lake.read_day(f"{data_type}_theta", day, THETA)
    phi = lake.read_day(f"{data_type}_phi", day, PHI)
    if phi.num_rows == 0:
        raise FileNotFoundError(f"no {data_type} model for {day}: materialize {data_type}_model first")
    k = len(phi["topics"][0])
    return TopicModel(theta["ip"].to_numpy(zero_copy_only=False), _matrix(theta["topics"], k),
                      phi["word"].to_numpy(zero_copy_only=False), _matrix(phi["topics"], k))
