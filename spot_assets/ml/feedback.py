"""Analysts' feedback in the model (spec §3.6): the events rated 3 (low risk) on a day and the days
before it go back into the corpus, each word counted DUPFACTOR times, so the next fit learns them as
ordinary.

A rating selects the events that match every one of its values exactly (the key columns the analyst
chose: ``DataType.rating_keys``); they are read from the rated day's words table as it is, with the
selection pushed down to the Parquet reader, so only the rated events are read whatever the engine.
"""

from __future__ import annotations

import functools
import operator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from resources.lake import LakeResource
from resources.store import Rating
from spot_assets.datatypes import DATA_TYPES
from spot_assets.ml.words import corpus


def selection(ratings: list[Rating]) -> ds.Expression:
    """The events any of ``ratings`` selects: every exact match of all of a rating's values."""
    def one(rating: Rating) -> ds.Expression:
        return functools.reduce(operator.and_, (ds.field(column) == value for column, value in rating.selector.items()),
                                ds.scalar(True))
    return functools.reduce(operator.or_, map(one, ratings), ds.scalar(False))


def feedback_corpus(lake: LakeResource, data_type: str, ratings: list[Rating], dupfactor: int) -> pa.Table | None:
    """(ip, word, count) of the events analysts rated 3, each counted ``dupfactor`` times; None when
    no rated event was found.

    Counting a word ``dupfactor`` times is what Spot's replication of feedback rows did to the corpus,
    without materializing the copies.
    """
    words = DATA_TYPES[data_type].table("words")
    parts = []
    for day in sorted({r.day for r in ratings}):
        if not lake.day_files(words, day):
            continue
        chosen = lake.read_day(words, day, filter=selection([r for r in ratings if r.day == day]))
        counted = corpus(chosen, data_type)
        parts.append(counted.set_column(2, counted.schema.field("count"), pc.multiply(counted["count"], dupfactor)))
    found = pa.concat_tables(parts) if parts else None
    return found if found is not None and found.num_rows else None
