"""Every event worded or accounted for: why a row got no word, and which rows were worded with a fill.

A row the word rules cannot use stays in ``<type>_events`` (the behaviour detectors read it there)
and is left out of the words and the model; the words asset reports how many such rows there were
per reason (the first check of the type's list the row fails, so the counts add up to the invalid
rows), and how many valid rows were worded with a fill for an absent field (a DNS frame length
never measured, a blank proxy Host). The checks and fills are the word modules' own, so the counts
describe exactly the rule that worded the day.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from spot_assets.datatypes import DATA_TYPES
from spot_assets.ml.words import common


def row_accounts(table: pa.Table, data_type: str) -> pa.Array:
    """Per row: the reason it has no word, else the fill its word used, else null."""
    rule = DATA_TYPES[data_type].word_rule
    c = common.columns(table, rule.MODEL_COLUMNS)
    return common.account(rule.checks(c), rule.fills(c))


def reasons(data_type: str) -> tuple[list[str], list[str]]:
    """(the reasons a row can be invalid, the fills a word can use), in the rule's order."""
    rule = DATA_TYPES[data_type].word_rule
    c = common.columns(pa.schema(rule.MODEL_COLUMNS).empty_table(), rule.MODEL_COLUMNS)
    return list(rule.checks(c)), list(rule.fills(c))


def summary(counts: dict[str | None, int], data_type: str) -> dict[str, dict[str, int]]:
    """``invalid_rows`` and ``filled_rows``, every reason and fill of the type listed (0 when none),
    from the number of rows per account (as ``count_accounts`` or a Spark ``groupBy`` gives it)."""
    invalid, filled = reasons(data_type)
    return {"invalid_rows": {r: int(counts.get(r, 0)) for r in invalid},
            "filled_rows": {f: int(counts.get(f, 0)) for f in filled}}


def count_accounts(data: pa.Table, data_type: str) -> dict[str, dict[str, int]]:
    """``summary`` of a table of events."""
    accounts = row_accounts(common.to_table(data), data_type)
    counts = pc.value_counts(accounts).to_pylist()
    return summary({c["values"]: c["counts"] for c in counts}, data_type)
