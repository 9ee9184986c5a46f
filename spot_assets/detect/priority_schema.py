"""The priority list's table: one row per entity, ranked, with every reason it is there."""

from __future__ import annotations

import pyarrow as pa

from spot_assets.datatypes import DataType


def priority_schema(data_type: DataType) -> pa.Schema:
    return pa.schema([
        pa.field("day", pa.date32(), nullable=False),
        pa.field("rank", pa.int32(), nullable=False),  # 1 = read first
        pa.field("score", pa.float64(), nullable=False),  # fused, in [0, 1]
        pa.field("entity", pa.string(), nullable=False),
        *[pa.field(name, typ) for name, typ in data_type.entity],  # null = any
        pa.field("reasons", pa.string(), nullable=False),  # "; "-joined, strongest first
        pa.field("detectors", pa.list_(pa.string()), nullable=False),  # contributing sources: detector names, "lda", "intel"
        pa.field("lda_score", pa.float64()),  # Spot's score of the entity's least probable event, if any
        pa.field("events", pa.int64(), nullable=False),
        pa.field("feedback", pa.string()),  # "raised by ana (2024-07-08)" when an analyst's rating of 1 lifted it
    ])
