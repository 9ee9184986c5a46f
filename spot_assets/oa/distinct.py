"""Per-distinct-value computation, for enrichment steps that are Python per value by nature.

Parsing an address, walking the public-suffix list, hashing a URI or asking a reputation service happen
once per distinct value, then the results are spread back to the rows with one ``take``. The enriched
tables hold at most ``max_results`` events per day and far fewer distinct values than that.
"""

from __future__ import annotations

from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc


def per_distinct(values: pa.Array | pa.ChunkedArray,
                 compute: Callable[[list], dict[str, pa.Array]]) -> dict[str, pa.Array]:
    """``compute`` gets the distinct non-null values and returns columns aligned with them; each row gets
    the entries of its value (a null value gets nulls)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    distinct = pc.unique(pc.drop_null(values))
    index = pc.index_in(values, value_set=distinct)
    return {name: pc.take(column, index) for name, column in compute(distinct.to_pylist()).items()}
