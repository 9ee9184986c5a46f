"""Which word goes to which IP's document, and the (ip, word, count) corpus LDA is fit on.

Each type's word rule names its documents (``DOCUMENTS``: (ip column, word column) pairs). Flow gives
its src word to ``sip``'s document and its dst word to ``dip``'s, and counts are summed per (ip,
word) over both roles (spec §3.2); DNS words go to ``ip_dst``, proxy words to ``clientip``. Invalid
rows (no word) and ``word_error`` words are left out, as Spot filtered ``WordError`` before counting.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from spot_assets.datatypes import DATA_TYPES
from spot_assets.ml.words import common

# As Spark writes it too: a count is never null.
CORPUS = pa.schema([("ip", pa.string()), ("word", pa.string()), pa.field("count", pa.int64(), nullable=False)])


def corpus(worded: pa.Table | pd.DataFrame, data_type: str) -> pa.Table:
    """(ip, word, count) of a worded table, sorted by ip then word."""
    table = common.to_table(worded)
    pairs = pa.concat_tables(
        pa.table({"ip": pc.cast(table[ip], pa.string()), "word": pc.cast(table[word], pa.string())})
        for ip, word in DATA_TYPES[data_type].word_rule.DOCUMENTS
    )
    pairs = pairs.filter(pc.and_(pc.is_valid(pairs["word"]), pc.not_equal(pairs["word"], common.WORD_ERROR)))
    counts = pairs.group_by(["ip", "word"]).aggregate([("word", "count")]).sort_by([("ip", "ascending"), ("word", "ascending")])
    return pa.table([counts["ip"], counts["word"], counts["word_count"]], schema=CORPUS)
